"""moto's region lists, answered from a small cache per botocore version instead of botocore's endpoint data.

moto asks botocore which regions each service has: ``moto.ec2`` in its class body at import (EC2's
regions in three partitions), and every service on its first backend (``AccountSpecificBackend``'s
``_generate_regions``: each partition's regions of that service). botocore answers from its endpoint
data (``botocore/data/endpoints.json``, 1.2 MB of JSON) and each service's model, loaded to read the
service's endpoint prefix (EC2's is 4.5 MB): about 0.2 s of the lab's warm-up and tens of MB of
Python objects, for a few lists of region names.

:data:`PATCHES` makes ``AccountSpecificBackend.get_session()`` (the one boto3 session moto uses for
this, which :func:`ecslab.lab.moto.quick_imports` also hands to ``moto.ec2``'s import) a
:class:`RegionIndex`: the same answers, read from ``regions-<botocore version>.json`` in the user's
cache folder (:func:`cache_folder`). What the file lacks is asked of a real boto3 session (made once,
when first needed) and written back, so the first lab after an install of botocore pays what every
lab paid before, and the labs after it do not. The file is keyed by botocore's version and the size
and time of its endpoint data; it is written whole to a file of its own and renamed into place, so
two labs starting at once never read half a file (one of their writes is kept, the other's entries
are asked again next time). An unreadable or foreign file is ignored; a cache folder that cannot be
written leaves the lab as fast as before, not broken.

The same patch set gives moto one loader of botocore's service models for the lab's life, which
takes the list of services botocore knows from the same file (:func:`_shared_loader_class`): moto
made a new loader for each service and listed some 400 folders at each service's first request.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from ecslab.lab.moto.patching import PatchSet, declare

log = logging.getLogger("ecslab.lab")

CACHE_FORMAT = 1
"""Bumped when the file's layout changes: a file of another format is ignored."""


def cache_folder() -> Path:
    """The user's cache folder for ecslab: ``$XDG_CACHE_HOME/ecslab``, else ``~/.cache/ecslab`` (never the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ecslab"


def botocore_key() -> dict[str, Any] | None:
    """What the cached answers depend on: botocore's version and its endpoint data file's size and time.

    ``None`` (no cache) when ``AWS_DATA_PATH`` adds data folders of the user's own: botocore then
    reads endpoint data this key does not describe."""
    import botocore

    if os.environ.get("AWS_DATA_PATH"):
        return None
    endpoints = Path(botocore.__file__).parent / "data" / "endpoints.json"
    try:
        found = endpoints.stat()
    except OSError:
        return None
    return {"format": CACHE_FORMAT, "botocore": botocore.__version__, "endpoints": [found.st_size, found.st_mtime_ns]}


class RegionIndex:
    """What moto asks a boto3 session about regions, answered from a file when it can be, else by botocore."""

    def __init__(self, path: Path | None, key: dict[str, Any] | None) -> None:
        self.path = path
        """The cache file; ``None``: nothing is read or written (every answer comes from botocore)."""
        self.key = key
        self._lock = threading.Lock()
        self._session: Any = None
        self._partitions: list[str] | None = None
        self._regions: dict[str, list[str]] = {}
        self._services: list[str] | None = None
        self._loader: Any = None
        self.asked = 0
        """How many answers came from botocore (not the file) in this process: for tests and the benchmark."""
        self._read()

    @classmethod
    def for_this_machine(cls) -> RegionIndex:
        """The index of the installed botocore, its file in :func:`cache_folder`."""
        key = botocore_key()
        if key is None:
            return cls(None, None)
        return cls(cache_folder() / f"regions-{key['botocore']}.json", key)

    # -- what moto calls -------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        """Anything else moto might ask of "its session" goes to a real one (made once)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._botocore(), name)

    def get_available_partitions(self) -> list[str]:
        with self._lock:
            if self._partitions is None:
                self._partitions = list(self._botocore().get_available_partitions())
                self.asked += 1
                self._write()
            return list(self._partitions)

    def get_available_regions(
        self, service_name: str, partition_name: str = "aws", allow_non_regional: bool = False
    ) -> list[str]:
        entry = f"{partition_name} {service_name} {'all' if allow_non_regional else 'regional'}"
        with self._lock:
            found = self._regions.get(entry)
            if found is None:
                found = self._regions[entry] = list(
                    self._botocore().get_available_regions(
                        service_name, partition_name=partition_name, allow_non_regional=allow_non_regional
                    )
                )
                self.asked += 1
                self._write()
            return list(found)

    def known_services(self, list_them: Any) -> list[str]:
        """The services botocore has models of (``service-2``): from the file, else ``list_them()`` (and kept)."""
        with self._lock:
            if self._services is None:
                self._services = list(list_them())
                self.asked += 1
                self._write()
            return self._services

    def loader(self) -> Any:
        """One botocore loader for moto's service models (:func:`_create_loader`), made once."""
        with self._lock:
            if self._loader is None:
                self._loader = _shared_loader_class()(self)
            return self._loader

    # -- the file ----------------------------------------------------------

    def _botocore(self) -> Any:
        if self._session is None:
            from boto3.session import Session  # not ``boto3.Session``: quick_imports hands this index out for it

            self._session = Session()
        return self._session

    def _read(self) -> None:
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("key") != self.key:
            return
        partitions, regions, services = data.get("partitions"), data.get("regions"), data.get("services")
        if isinstance(services, list) and all(isinstance(name, str) for name in services):
            self._services = services
        if isinstance(partitions, list) and all(isinstance(name, str) for name in partitions):
            self._partitions = partitions
        if isinstance(regions, dict):
            self._regions = {
                entry: names
                for entry, names in regions.items()
                if isinstance(names, list) and all(isinstance(name, str) for name in names)
            }

    def _write(self) -> None:
        """Write every answer known (with the lock held): a file of its own, renamed into place."""
        if self.path is None:
            return
        data = {
            "key": self.key,
            "partitions": self._partitions,
            "regions": dict(sorted(self._regions.items())),
            "services": self._services,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w") as file:
                    json.dump(data, file)
                os.replace(name, self.path)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
        except OSError as error:  # a read-only home: the answers stay in memory for this lab
            log.warning("could not write moto's region cache %s: %s", self.path, error)
            self.path = None


PATCHES: PatchSet[RegionIndex] = declare(PatchSet("regions"))
"""Applied by the lab process before it imports moto's services (``ecslab.lab.server``), for the lab's life."""


@PATCHES.patch(
    "moto.core.base_backend:AccountSpecificBackend",
    "get_session",
    "(cls) -> boto3.session.Session",
    "moto's region lists from a cache per botocore version, not botocore's endpoint data and service models",
)
def _get_session(original: Any, index: RegionIndex) -> Any:
    def get_session(cls: type) -> RegionIndex:
        return index

    return classmethod(get_session)


def _shared_loader_class() -> type:
    """moto's loader, once per lab, with botocore's list of services from the index.

    moto makes a new loader for each service's model (``moto.core.utils._load_service_model``), and
    botocore's loader checks the name against every service it has first: some 400 folders listed
    (about 0.05 s) at each service's first request. One loader lists them once; the index keeps the
    list for the next lab. A name the kept list lacks is looked for afresh (a model added since)."""
    from moto.core.loaders import Loader

    class SharedLoader(Loader):
        def __init__(self, index: RegionIndex) -> None:
            super().__init__(extra_search_paths=[_moto_root()])
            self.index = index

        def list_available_services(self, type_name: str) -> list[str]:
            if type_name != "service-2":
                return list(super().list_available_services(type_name))
            return self.index.known_services(lambda: super(SharedLoader, self).list_available_services(type_name))

        def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
            if type_name == "service-2" and service_name not in self.list_available_services(type_name):
                return Loader(extra_search_paths=[_moto_root()]).load_service_model(service_name, type_name, api_version)
            return super().load_service_model(service_name, type_name, api_version)

    return SharedLoader


def _moto_root() -> str:
    from moto.core.loaders import moto_root

    return str(moto_root)


@PATCHES.patch(
    "moto.core.utils",
    "create_loader",
    "() -> 'Loader'",
    "one loader for moto's service models, the services it knows listed once (from the index), not at each service's first call",
)
def _create_loader(original: Any, index: RegionIndex) -> Any:
    def create_loader() -> Any:
        return index.loader()

    return create_loader
