"""The lab's adapters to moto: the only modules that touch moto's internals, one per AWS service.

Each adapter module (``ecs``, ``iam``, ...) declares its changes to moto as one
:class:`~ecslab.lab.moto.patching.PatchSet` (owner, attribute, expected signature, replacement),
registered with :func:`~ecslab.lab.moto.patching.declare`; the fillers apply it when they start
and remove it when they stop. ``tests/test_moto_patches.py`` checks every declared patch against
the installed moto, so an upgrade of moto fails in one place, naming what moved. A module added
to this package is found by :func:`~ecslab.lab.moto.patching.all_patch_sets` without a list to edit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def quick_imports(region: str) -> Iterator[None]:
    """Import moto's modules in this thread, inside the ``with``, with two of their import-time costs cut.

    - ``boto3.Session()`` gives moto's own cached session (``AccountSpecificBackend.get_session``): moto
      5.2.6's ``moto.ec2.models.availability_zones_and_regions`` makes three new sessions in its class
      body to list EC2's regions, each loading botocore's endpoint data afresh (about 0.5 s CPU here).
    - moto's EC2 instance-type offerings are read for ``region`` and ``us-east-1`` (moto's default
      for ``RunInstances``) only: ``moto.ec2.models.instance_types`` reads all 30 regions' files three
      ways each at import (90 files, about 65 MB of Python objects); the others load as empty lists,
      which :func:`ecslab.lab.moto.ec2.keep_instance_type_offerings` then drops.

    Other threads, and calls made after the ``with``, get moto's and boto3's own behaviour."""
    import boto3
    import moto.utilities.utils as moto_utils
    from moto.core.base_backend import AccountSpecificBackend

    importer = threading.get_ident()
    active = [True]
    original_session = boto3.Session
    original_load = moto_utils.load_resource
    kept = {region, "us-east-1"}

    def session(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not active or threading.get_ident() != importer:
            return original_session(*args, **kwargs)
        return AccountSpecificBackend.get_session()

    def load_resource(resource: str) -> Any:
        if active and threading.get_ident() == importer and "/instance_type_offerings/" in resource:
            if resource.rsplit("/", 1)[-1].split(".")[0] not in kept:
                return []
        return original_load(resource)

    boto3.Session = session
    moto_utils.load_resource = load_resource
    try:
        yield
    finally:
        active.clear()
        boto3.Session = original_session
        moto_utils.load_resource = original_load
