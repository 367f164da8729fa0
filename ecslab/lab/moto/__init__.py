"""The lab's adapters to moto: the only modules that touch moto's internals, one per AWS service.

Each adapter module (``ecs``, ``iam``, ...) declares its changes to moto as one
:class:`~ecslab.lab.moto.patching.PatchSet` (owner, attribute, expected signature, replacement),
registered with :func:`~ecslab.lab.moto.patching.declare`; the fillers apply it when they start
and remove it when they stop. ``tests/test_moto_patches.py`` checks every declared patch against
the installed moto, so an upgrade of moto fails in one place, naming what moved. A module added
to this package is found by :func:`~ecslab.lab.moto.patching.all_patch_sets` without a list to edit.
"""
