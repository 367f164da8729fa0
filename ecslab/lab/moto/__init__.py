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
def one_boto3_session() -> Iterator[None]:
    """While moto's modules are imported in this thread, ``boto3.Session()`` gives moto's own cached session.

    moto 5.2.6's ``moto.ec2.models.availability_zones_and_regions`` makes three new boto3 sessions in its
    class body to list EC2's regions; each loads botocore's endpoint data afresh (about 0.6 s of a
    1.2 s import on these machines). moto itself keeps one session for the same purpose at run time
    (``AccountSpecificBackend.get_session``); handing that one out makes the import load the data once,
    with the same regions. Other threads, and any call with arguments, get a new session as before."""
    import boto3
    from moto.core.base_backend import AccountSpecificBackend

    original = boto3.Session
    importer = threading.get_ident()

    def session(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs or threading.get_ident() != importer:
            return original(*args, **kwargs)
        return AccountSpecificBackend.get_session()

    boto3.Session = session
    try:
        yield
    finally:
        boto3.Session = original
