"""Private labs: a lab on its own state folder and its own ports, beside any other lab.

Who uses it: the unit tests (``tests/conftest.py``: ``isolated_config``, ``running_isolated_lab``,
``free_port``), the benchmarks (``benchmarks/``), and what runs many labs at once on one machine:
the grader (issue 13, one private lab per worker) and parallel nbval workers (issue 17). No
notebook uses it: a learner has one lab, the default one (``ecslab.connect()``).

Ports are chosen race-free across threads and processes. Binding port 0, closing the socket
and handing the number on (what the tests did) lets two processes get the same number. Here a
port is *reserved*: a lock file ``PORT.lock`` in a folder every process on the machine shares
(:data:`PORT_LOCKS`, ``/tmp/ecslab-ports``) is held with ``fcntl.flock`` until the port is
released or the process ends (the kernel drops the lock with the process, so a crash leaks
nothing). Ports come from :data:`PORT_RANGE`, below Linux's ephemeral range (32768-60999), so
the ports the kernel hands out for port 0 (a load balancer listener, a task's published port,
an outgoing connection) never fall on a reserved one. A program that does not take part may
still hold a port of the range: a reserved port is also checked by binding it, and
:class:`PrivateLab` starts the lab again on new ports when the lab reports one taken.

    with PrivateLab() as lab:          # own temp folder, three reserved ports; up now
        boto3.client("ecs", **lab.boto3_arguments()).list_clusters()
        subprocess.run(["aws", "ecs", "list-clusters"], env={**os.environ, **lab.env()})
    # down: lab process and registry stopped, its containers removed, ports released

Concurrency: :data:`_HELD` (ports this process holds, with their lock files) is guarded by
``_HELD_LOCK``; every function here takes it around each read or change of ``_HELD``. Across
processes, the lock files alone decide who holds a port.

Nothing happens on import: the lock folder is made at the first reservation.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import json
import os
import random
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ecslab.config import FAKE_CREDENTIALS, LabConfig
from ecslab.lab import manage

__all__ = [
    "OWNERS",
    "PORT_LOCKS",
    "PORT_RANGE",
    "DEFAULT_PORTS",
    "PortReservation",
    "PrivateLab",
    "lab_env",
    "private_config",
    "private_lab",
    "reap_orphaned_labs",
    "release_config",
    "remove_registry_names",
    "reserve_port",
    "reserve_ports",
]

PORT_LOCKS = Path(tempfile.gettempdir()) / "ecslab-ports"
"""The folder of ``PORT.lock`` files every process on this machine reserves ports in."""

OWNERS = Path(tempfile.gettempdir()) / "ecslab-private-labs"
"""One record per running :class:`PrivateLab` (its settings, the pid and start time of the process
that owns it), so that a lab whose owner died without stopping it can be found and stopped
(:func:`reap_orphaned_labs`)."""

PORT_RANGE = range(20000, 32000)
"""Where private labs' ports come from: below Linux's ephemeral range (32768-60999), which
the kernel draws from for port 0, and clear of the default lab's ports."""

DEFAULT_PORTS = frozenset({4566, 5050, 4567})
"""The default lab's ports (AWS API, registry, control API): never reserved."""

Say = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass
class PortReservation:
    """Ports held by this process: each one's lock file stays open and locked until :meth:`release`."""

    ports: tuple[int, ...]
    _files: tuple[int, ...]

    def release(self) -> None:
        """Let other processes have these ports again (the lock files are removed). Idempotent."""
        files, self._files = self._files, ()
        for port, descriptor in zip(self.ports, files, strict=False):
            with contextlib.suppress(OSError):
                (PORT_LOCKS / f"{port}.lock").unlink()  # while still locked: see _try_lock
            os.close(descriptor)


_HELD: dict[int, PortReservation] = {}
"""Reservations this process holds for the configs :func:`private_config` gave, by port."""
_HELD_LOCK = threading.Lock()
_RELEASE_AT_EXIT: list[bool] = []
"""Non-empty once :func:`_release_all` is registered with ``atexit`` (at the first reservation, not on import)."""


def _hold(reservation: PortReservation) -> None:
    """Keep ``reservation`` in :data:`_HELD`; its lock files go when the process exits normally."""
    with _HELD_LOCK:
        for port in reservation.ports:
            _HELD[port] = reservation
        if not _RELEASE_AT_EXIT:
            atexit.register(_release_all)
            _RELEASE_AT_EXIT.append(True)


def _release_all() -> None:
    """Release every port this process still holds: tidies the lock folder (a crash only leaves files behind)."""
    with _HELD_LOCK:
        held = {id(reservation): reservation for reservation in _HELD.values()}
        _HELD.clear()
    for reservation in held.values():
        reservation.release()


def _lock_folder() -> Path:
    try:
        PORT_LOCKS.mkdir(mode=0o1777, exist_ok=True)
        if PORT_LOCKS.stat().st_uid == os.getuid():
            PORT_LOCKS.chmod(0o1777)  # shared by every user's processes, as /tmp is (mkdir's mode meets the umask)
    except OSError as error:
        raise OSError(f"cannot use {PORT_LOCKS} to reserve ports: {error}") from error
    return PORT_LOCKS


def _try_lock(port: int) -> int | None:
    """The open, locked lock file of ``port``, or None when another holder has it."""
    path = _lock_folder() / f"{port}.lock"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        return None  # another user's file we may not open: theirs
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # the holder removes the file before it unlocks: a lock on a removed file is worth nothing
        if os.fstat(descriptor).st_ino != os.stat(path).st_ino:
            raise BlockingIOError(errno.EAGAIN, "lock file replaced")
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def _bindable(host: str, port: int) -> bool:
    return manage.port_is_free(host, port)


def reserve_ports(count: int, host: str = "127.0.0.1", attempts: int = 2000) -> PortReservation:
    """``count`` distinct ports from :data:`PORT_RANGE`, free now on ``host`` and held by this process
    until the reservation's :meth:`~PortReservation.release` (or the process's end)."""
    ports: list[int] = []
    files: list[int] = []
    candidates = [port for port in PORT_RANGE if port not in DEFAULT_PORTS]
    for port in random.sample(candidates, min(attempts, len(candidates))):
        if len(ports) == count:
            break
        descriptor = _try_lock(port)
        if descriptor is None:
            continue
        if not _bindable(host, port):
            os.close(descriptor)  # another program's: leave its file for the next to skip quickly
            continue
        ports.append(port)
        files.append(descriptor)
    reservation = PortReservation(tuple(ports), tuple(files))
    if len(ports) < count:
        reservation.release()
        raise OSError(f"found only {len(ports)} of {count} free ports in {PORT_RANGE.start}-{PORT_RANGE.stop - 1} on {host}")
    return reservation


def reserve_port(host: str = "127.0.0.1") -> int:
    """One free port on ``host``, reserved for the rest of this process's life."""
    reservation = reserve_ports(1, host)
    _hold(reservation)
    return reservation.ports[0]


def private_config(home: Path, host: str = "127.0.0.1") -> LabConfig:
    """Settings for a lab in ``home`` on three reserved ports (AWS API, registry, control API).

    The ports stay reserved until :func:`release_config` (after the lab is down) or the end of
    this process; starting and stopping the lab is the caller's (``manage.up``/``manage.down``),
    or use :class:`PrivateLab`, which does all of it."""
    reservation = reserve_ports(3, host)
    aws, registry, control = reservation.ports
    _hold(reservation)
    return LabConfig(home=Path(home), aws_port=aws, registry_port=registry, control_port=control, host=host)


def release_config(config: LabConfig) -> None:
    """Give back the ports :func:`private_config` reserved for ``config``; nothing for other ports."""
    with _HELD_LOCK:
        reservations = {
            id(held): held
            for port in (config.aws_port, config.registry_port, config.control_port)
            if (held := _HELD.pop(port, None)) is not None
        }
        for held in reservations.values():
            for port in held.ports:
                _HELD.pop(port, None)
    for held in reservations.values():
        held.release()


def lab_env(config: LabConfig) -> dict[str, str]:
    """The environment variables that point ecslab (``ECSLAB_*``), boto3 and the aws CLI
    (``AWS_ENDPOINT_URL``, fake credentials, region) and docker's names (``ECSLAB_REGISTRY``) at
    the lab ``config`` describes: what ``ecslab env`` prints, plus the ``ECSLAB_*`` settings."""
    return {
        "ECSLAB_HOME": str(config.home),
        "ECSLAB_AWS_PORT": str(config.aws_port),
        "ECSLAB_REGISTRY_PORT": str(config.registry_port),
        "ECSLAB_CONTROL_PORT": str(config.control_port),
        "ECSLAB_REGION": config.region,
        "AWS_ENDPOINT_URL": config.endpoint_url,
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_REGION": config.region,
        "ECSLAB_REGISTRY": config.registry_address,
    }


class PrivateLab:
    """A running lab of its own: ``with PrivateLab() as lab:`` starts it, leaving it stops it.

    ``home``: its state folder (a new temporary folder, removed at the end, when None). On entry
    three ports are reserved and the lab started (``manage.up``); when the lab finds a port taken
    by a program that does not reserve ports, it is started again on new ones, up to ``attempts``
    times. On exit the lab is stopped with every container it started (``manage.down``), the
    ports are released and a temporary home removed. ``say`` gets up/down's messages (none by default).
    """

    def __init__(self, home: Path | None = None, *, say: Say = _quiet, timeout: float = 60.0, attempts: int = 3) -> None:
        self._home = None if home is None else Path(home)
        self._say = say
        self._timeout = timeout
        self._attempts = attempts
        self._config: LabConfig | None = None
        self._temporary: Path | None = None
        self._record: Path | None = None

    @property
    def config(self) -> LabConfig:
        """The running lab's settings (folder, ports); only inside the ``with``."""
        if self._config is None:
            raise RuntimeError("the private lab is not running: use it inside `with PrivateLab() as lab:`")
        return self._config

    def env(self) -> dict[str, str]:
        """Environment variables aiming ecslab, boto3 and the aws CLI at this lab (see :func:`lab_env`)."""
        return lab_env(self.config)

    def boto3_arguments(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(NAME, ...)`` aimed at this lab."""
        return {
            "endpoint_url": self.config.endpoint_url,
            "region_name": self.config.region,
            "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }

    def start(self) -> LabConfig:
        """Reserve ports and start the lab; what ``with`` does on entry."""
        if self._config is not None:
            return self._config
        if self._home is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="ecslab-private-"))
            home = self._temporary / "lab"
        else:
            home = self._home
        with contextlib.suppress(Exception):  # tidying up after others never stops this lab from starting
            reap_orphaned_labs(self._say)
        for attempt in range(1, self._attempts + 1):
            config = private_config(home)
            try:
                manage.up(config, say=self._say, timeout=self._timeout)
            except manage.LabError:
                taken = [
                    port
                    for port in (config.aws_port, config.registry_port, config.control_port)
                    if not _bindable(config.host, port)
                ]
                with contextlib.suppress(manage.LabError):
                    manage.down(config, say=_quiet)
                release_config(config)
                if not taken or attempt == self._attempts:
                    self._remove_temporary()
                    raise
                self._say(f"Port(s) {taken} taken by another program; starting the private lab on other ports.")
                continue
            except BaseException:  # interrupted, or a test refusing labs: leave no process, port or folder behind
                with contextlib.suppress(Exception):
                    manage.down(config, say=_quiet)
                release_config(config)
                self._remove_temporary()
                raise
            self._config = config
            self._record = _record_owner(config, self._temporary)
            return config
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the lab, remove its containers, release its ports; what ``with`` does on exit. Idempotent."""
        config, self._config = self._config, None
        try:
            if config is not None:
                try:
                    manage.down(config, say=self._say)
                except Exception:
                    _remove_containers_patiently(config)  # e.g. the engine too busy to list them in down's 10 s
                    raise
                finally:
                    release_config(config)
                with contextlib.suppress(Exception):  # a busy engine leaves stale names, never a failed stop
                    remove_registry_names(config.registry_address, self._say)
                with contextlib.suppress(Exception):
                    remove_untagged_images(lambda home: home == str(config.home))
        finally:
            self._remove_temporary()
            record, self._record = self._record, None
            if record is not None:
                with contextlib.suppress(OSError):
                    record.unlink()

    def _remove_temporary(self) -> None:
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> PrivateLab:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()


def _record_owner(config: LabConfig, temporary: Path | None) -> Path | None:
    """Write this lab's record in :data:`OWNERS`: its settings and this process (pid and start time) as owner."""
    record = {
        "config": json.loads(config.to_json()),
        "owner_pid": os.getpid(),
        "owner_start": manage.process_start_time(os.getpid()),
        "temporary": None if temporary is None else str(temporary),
    }
    try:
        OWNERS.mkdir(mode=0o1777, exist_ok=True)
        if OWNERS.stat().st_uid == os.getuid():
            OWNERS.chmod(0o1777)
        path = OWNERS / f"{os.getpid()}-{config.control_port}.json"
        path.write_text(json.dumps(record))
    except OSError:
        return None  # no record: the lab still runs, it just cannot be reaped if this process dies
    return path


def _owner_alive(record: dict[str, object]) -> bool:
    pid, started = record.get("owner_pid"), record.get("owner_start")
    if not isinstance(pid, int) or not manage._pid_alive(pid):
        return False
    return started is None or manage.process_start_time(pid) == started  # a pid handed out again is another process


def reap_orphaned_labs(say: Say = _quiet) -> list[LabConfig]:
    """Stop every private lab whose owner process is gone (an xdist worker or a grading worker killed,
    a script interrupted by SIGKILL): its lab process, registry and containers, its registry names in
    the Docker engine, and its temporary folder. Labs of living owners, and of other users, are left
    alone; the lab process is signalled only when proven to be that lab (:func:`ecslab.lab.manage.down`).
    Returns the settings of the labs it stopped. :class:`PrivateLab` runs it before starting a lab."""
    reaped: list[LabConfig] = []
    try:
        records = sorted(OWNERS.glob("*.json"))
    except OSError:
        return reaped
    for path in records:
        try:
            record = json.loads(path.read_text())
            if _owner_alive(record):
                continue
            config = LabConfig.from_json(json.dumps(record["config"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            path.unlink()  # first: of two processes reaping at once, one stops the lab
        except OSError:
            continue
        say(f"Stopping the private lab in {config.home}: the process that started it ({record.get('owner_pid')}) is gone.")
        made = _missing_ancestor(config.home)  # its owner may have removed the folder already; down makes it again
        with contextlib.suppress(Exception):
            manage.down(config, say=_quiet)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        with contextlib.suppress(Exception):
            remove_registry_names(config.registry_address)
        temporary = record.get("temporary")
        if isinstance(temporary, str) and Path(temporary).name.startswith("ecslab-private-"):
            shutil.rmtree(temporary, ignore_errors=True)
        reaped.append(config)
    # untagged images of private labs that are gone, whoever stopped them: in the background, so that a
    # machine with hundreds of them does not hold up this start
    threading.Thread(target=_remove_gone_labs_images, name="ecslab-gone-labs-images", daemon=True).start()
    return reaped


def _remove_gone_labs_images() -> None:
    with contextlib.suppress(Exception):
        remove_untagged_images(_gone_private_lab)


def _missing_ancestor(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist (what making ``folder`` would create), or None."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def remove_registry_names(registry_address: str, warn: Say | None = None) -> None:
    """Untag every name the Docker engine keeps under a lab's registry (``localhost:PORT/...``), once that
    lab is down: with the lab gone they point nowhere and would only pile up in ``docker images``. An image
    keeps its other names (``ecslab-sample:v1``); one with none left goes. A name the engine refuses to
    remove is passed to ``warn`` (if given) and left; without an engine, nothing happens. The tests, the
    benchmarks and the grader all end their labs with it (:meth:`PrivateLab.stop` does)."""
    from docker.errors import APIError, NotFound

    from ecslab.engine import EngineError, docker_client

    try:
        docker = docker_client()
    except EngineError:
        return
    prefix = registry_address + "/"
    with contextlib.closing(docker):
        # the low-level list: images.list() inspects each image after listing, and fails when another
        # process removes one in between
        for image in docker.api.images():
            for reference in [*(image.get("RepoTags") or []), *(image.get("RepoDigests") or [])]:
                if not reference.startswith(prefix):
                    continue
                try:
                    docker.images.remove(reference)
                except NotFound:
                    continue  # went with a name removed before it
                except APIError as error:
                    if warn is not None:
                        warn(f"{reference} left in the Docker engine: {error}")


def remove_untagged_images(built_by: Callable[[str], bool]) -> int:
    """Remove the untagged images that labs built (label ``ecslab.lab``: the lab's state folder) when
    ``built_by(folder)`` says so; returns how many went. A private lab's images carry its own folder, so a
    name another lab builds later (``ecslab-sample:v1``) moves to a new image and leaves the old one
    untagged; without this they piled up in the engine (234 images, 10.5 GB, on this project's CI machine).
    An image a container still uses is left; without an engine, nothing happens."""
    from docker.errors import APIError, NotFound

    from ecslab.config import LAB_LABEL
    from ecslab.engine import EngineError, docker_client

    try:
        docker = docker_client()
    except EngineError:
        return 0
    removed = 0
    with contextlib.closing(docker):
        for image in docker.api.images(filters={"dangling": True, "label": LAB_LABEL}):
            if not built_by(str((image.get("Labels") or {}).get(LAB_LABEL, ""))):
                continue
            try:
                docker.api.remove_image(image["Id"])
            except (NotFound, APIError):
                continue  # gone already, or a container still uses it
            removed += 1
    return removed


def _gone_private_lab(home: str) -> bool:
    """A private lab's state folder (``/tmp/ecslab-private-XXXX/lab``) that no longer exists."""
    folder = Path(home)
    return folder.name == "lab" and folder.parent.name.startswith("ecslab-private-") and not folder.exists()


def _remove_containers_patiently(config: LabConfig, attempts: int = 3) -> None:
    """Remove the containers of the lab ``config`` describes, giving a busy Docker engine minutes, not
    seconds: a lab's tasks left running without their lab would hold memory and CPU until someone noticed."""
    from ecslab.engine import EngineError, docker_client

    for attempt in range(attempts):
        try:
            manage.remove_lab_containers(config, docker_client(timeout=120))
            return
        except EngineError:
            return  # no engine: nothing of the lab can run
        except Exception:
            if attempt == attempts - 1:
                raise


@contextlib.contextmanager
def private_lab(home: Path | None = None, *, say: Say = _quiet, timeout: float = 60.0) -> Iterator[PrivateLab]:
    """``with private_lab() as lab:``: the same as ``with PrivateLab(home) as lab:``."""
    with PrivateLab(home, say=say, timeout=timeout) as lab:
        yield lab
