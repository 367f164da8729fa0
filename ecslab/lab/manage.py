"""Start, stop, reset and inspect the lab: the work behind the ``ecslab`` command.

Every function takes the :class:`~ecslab.config.LabConfig` of the lab it acts on,
so tests can run a second lab in a folder of their own. ``up`` holds a file lock
while it works, so two notebooks connecting at once start one lab, not two.

What keeps the lab safe on a learner's laptop (issue 11), here and in
:mod:`ecslab.lab.server`:

- the state folder is 0700 and the control API's token lives in it (0600, new at every
  ``up``); :func:`control` is the one way to call the control API, and sends the token;
- a pid from ``lab.json`` is signalled only when it is proven to be this lab (its start
  time and command line, recorded by the lab itself; else the control API confirming
  its pid): a pid recycled by another program is never killed;
- ``up`` with no live lab first removes what a crashed lab left: its registry processes, and
  its containers (by label, with their anonymous volumes) before the new lab's fillers start;
- ``lab.log`` and ``registry.log`` are rotated (:func:`ecslab.lab.logfiles.rotate_log`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecslab import engine
from ecslab.config import FAKE_CREDENTIALS, LAB_SECONDS_PER_AWS_MINUTE, LabConfig
from ecslab.lab.logfiles import LOG_BACKUPS, LOG_LIMIT_BYTES, rotate_log  # noqa: F401 (part of manage's surface)

Say = Callable[[str], None]

TOKEN_HEADER = "X-Ecslab-Token"
"""The header that carries the control API's token (:func:`control`)."""


class LabError(RuntimeError):
    """The lab could not do what was asked; the message says what to do instead."""


@dataclass
class Check:
    """One line of ``ecslab doctor``."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


@dataclass
class LabStatus:
    running: bool
    config: LabConfig
    process: dict[str, Any] = field(default_factory=dict)
    docker: engine.EngineStatus | None = None
    containers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        aws = self.process.get("aws_api", {"url": self.config.endpoint_url, "ok": False})
        registry = self.process.get("registry", {"url": f"http://{self.config.host}:{self.config.registry_port}", "ok": False})
        return {
            "running": self.running,
            "home": str(self.config.home),
            "region": self.config.region,
            "pid": self.process.get("pid"),
            "started_at": self.process.get("started_at"),
            "aws_api": aws,
            "registry": registry,
            "control_url": self.config.control_url,
            "docker": None
            if self.docker is None
            else {"ok": self.docker.ok, "version": self.docker.version, "fix": self.docker.fix},
            "fillers": self.process.get("fillers", []),
            "load_balancers": self.process.get("load_balancers", []),
            "containers": self.containers,
            "deployment_clock": {"lab_seconds_per_aws_minute": LAB_SECONDS_PER_AWS_MINUTE},
            "task_addresses": self.process.get("task_addresses"),  # each Fargate task's public IP (ecslab.lab.task_network)
        }

    def render(self) -> str:
        """What ``ecslab status`` prints: what runs where."""
        if not self.running:
            return f"The lab is not running (state folder {self.config.home}). Start it with `ecslab up`."
        data = self.to_dict()
        docker = data["docker"] or {}
        lines = [
            f"ecslab lab running (pid {data['pid']}, since {data['started_at']}, state in {data['home']})",
            f"  AWS APIs (moto)   {data['aws_api']['url']}   region {data['region']}",
            f"  registry          {data['registry']['url']}   push to {self.config.registry_address}/NAME:TAG"
            + ("" if data["registry"].get("ok") else "   NOT ANSWERING"),
            f"  control API       {data['control_url']}",
            "  Docker engine     " + (f"{docker.get('version')}" if docker.get("ok") else f"NOT ANSWERING: {docker.get('fix')}"),
            f"  lab containers    {len(self.containers)}",
            f"  deployment clock  one AWS minute of bake time lasts {LAB_SECONDS_PER_AWS_MINUTE:g} s here "
            f"({60 / LAB_SECONDS_PER_AWS_MINUTE:g} times faster than AWS)",
            *([f"  task addresses    {data['task_addresses'].get('says')}"] if data.get("task_addresses") else []),
            'Use it from a shell with: eval "$(ecslab env)"',
        ]
        return "\n".join(lines)


# -- low-level helpers --------------------------------------------------------


def prepare_home(config: LabConfig) -> None:
    """Make the state folder (0700: it holds the control token) or say why it cannot be used."""
    home = config.home
    fix = "Point ECSLAB_HOME at a folder you own (it is made when missing), or unset it to use ~/.ecslab."
    if home.exists() and not home.is_dir():
        raise LabError(f"The lab's state folder {home} is a file, not a folder. {fix}")
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if home.stat().st_uid == os.geteuid() and home.stat().st_mode & 0o077:
            home.chmod(0o700)
    except OSError as error:
        raise LabError(f"Cannot make the lab's state folder {home}: {error.strerror or error}. {fix}") from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise LabError(f"Cannot write in the lab's state folder {home}. {fix}")


def new_token(config: LabConfig) -> str:
    """A fresh random control token in the state folder, readable by its owner only (0600)."""
    token = secrets.token_urlsafe(32)
    tmp = config.token_file.with_name(config.token_file.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token)
    tmp.replace(config.token_file)
    return token


def read_token(config: LabConfig) -> str:
    """The running lab's control token; :class:`LabError` saying why when it cannot be read."""
    try:
        return config.token_file.read_text().strip()
    except FileNotFoundError:
        raise LabError(
            f"The lab's control token {config.token_file} is missing: the lab was not started by this "
            "version of `ecslab up`. Run `ecslab down` then `ecslab up`."
        ) from None
    except OSError as error:
        raise LabError(
            f"Cannot read the lab's control token {config.token_file} ({error.strerror}): only the user "
            "who started the lab may control it. Run ecslab as that user, or start a lab of your own "
            "with another ECSLAB_HOME and ports."
        ) from None


def control(config: LabConfig, method: str, path: str, timeout: float = 10.0) -> dict[str, Any]:
    """Call the lab's control API with the lab's token: the one way every caller does it
    (the CLI, :func:`ecslab.connect`, :mod:`ecslab.ecs`, tests, benchmarks).

    Raises :class:`LabError` when the lab does not answer or refuses, with what to do."""
    request = urllib.request.Request(
        config.control_url + path,
        data=b"" if method == "POST" else None,
        method=method,
        headers={TOKEN_HEADER: read_token(config)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        try:
            message = str(json.loads(error.read()).get("error"))
        except (ValueError, AttributeError, OSError):
            message = error.reason
        raise LabError(f"The lab's control API answered {error.code} to {method} {path}: {message}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise LabError(
            f"The lab's control API at {config.control_url} did not answer {method} {path} ({reason}). "
            "Is the lab running? `ecslab status` says; `ecslab up` starts it."
        ) from None


def _status_report(config: LabConfig, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        return control(config, "GET", "/status", timeout=timeout)
    except LabError:
        return None


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone, once its other threads (and their sockets) are gone too
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ")[-1][:1] != "Z":
                return True
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return sys.platform != "linux"


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot, from /proc), or ``None`` where there is no /proc.

    With the pid, it names one process for good: a pid the kernel hands out again starts later."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
    except OSError:
        return None


def _proven(pid: int, started: Any, *marks: str) -> bool:
    """Whether ``pid`` runs a command line holding every one of ``marks`` and, when a start time was
    recorded (``started``), started then. Without /proc nothing is proven this way."""
    if pid <= 0 or not _pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    if not cmdline or (started is not None and process_start_time(pid) != started):
        return False
    joined = "\0".join(cmdline)
    return all(mark in joined for mark in marks)


def is_this_lab(config: LabConfig, state: dict[str, Any]) -> bool:
    """Whether ``state["pid"]`` is this lab's process. Where /proc answers, its command line (the lab
    server with this state folder) and start time decide; elsewhere the control API must answer
    with that pid."""
    pid = state.get("pid")
    if not isinstance(pid, int) or pid <= 0 or not _pid_alive(pid):
        return False
    if _cmdline(pid) is not None:
        return _proven(pid, state.get("pid_start"), "ecslab.lab.server", json.dumps(str(config.home))[1:-1])
    report = _status_report(config)
    return report is not None and report.get("pid") == pid


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise LabError(
            f"Not allowed to stop process {pid} (it belongs to another user). Run `ecslab down` as the "
            "user who started the lab, or give this lab its own ECSLAB_HOME and ports."
        ) from None


def stale_registries(config: LabConfig) -> list[int]:
    """Registry processes serving this lab's configuration (Linux; none found elsewhere)."""
    marker = str(config.home / "registry.yml")
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        cmdline = _cmdline(int(entry.name))
        if cmdline and "serve" in cmdline and marker in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ports(config: LabConfig) -> list[tuple[str, int, str]]:
    return [
        ("AWS API", config.aws_port, "ECSLAB_AWS_PORT"),
        ("registry", config.registry_port, "ECSLAB_REGISTRY_PORT"),
        ("control API", config.control_port, "ECSLAB_CONTROL_PORT"),
    ]


@contextlib.contextmanager
def _locked(config: LabConfig) -> Iterator[None]:
    prepare_home(config)
    with open(config.lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_state(config: LabConfig) -> dict[str, Any] | None:
    try:
        return dict(json.loads(config.state_file.read_text()))
    except (OSError, ValueError):
        return None


def _clear_stale_state(config: LabConfig, state: dict[str, Any] | None, say: Say) -> None:
    """A lab that died or hangs without ``down``: stop what is proven to be its (the lab process,
    its registries), forget its state, and say when the state named a process that is not the lab."""
    stopping: list[int] = []
    if state is not None:
        pid = state.get("pid")
        if isinstance(pid, int) and is_this_lab(config, state):
            stopping.append(pid)
        elif isinstance(pid, int) and _pid_alive(pid):
            say(f"The state file {config.state_file} was stale: its pid {pid} is now another program, left alone.")
        registry_pid = state.get("registry_pid")
        if isinstance(registry_pid, int) and _proven(
            registry_pid, state.get("registry_start"), str(config.home / "registry.yml")
        ):
            stopping.append(registry_pid)
    started_at: dict[int, int | None] = {}
    deadline = time.monotonic() + 5  # their ports must be free before a new lab binds them
    while True:
        for pid in [*stopping, *stale_registries(config)]:
            if pid not in started_at:
                started_at[pid] = process_start_time(pid)
                _signal(pid, signal.SIGTERM)
        if not any(_pid_alive(pid) for pid in started_at) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    stopping = list(started_at)
    for pid, started in started_at.items():
        if _pid_alive(pid) and process_start_time(pid) == started:  # still the same process, not a reused pid
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(_pid_alive(pid) for pid in stopping) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        config.state_file.unlink()


def _ready_report(config: LabConfig) -> dict[str, Any] | None:
    """The lab's ``/ready`` report (answered at once, while it warms up too), or ``None`` when this lab is not running."""
    state = _read_state(config)
    if state is None or not _pid_alive(state.get("pid")):
        return None
    try:
        report = control(config, "GET", "/ready", timeout=2.0)
    except LabError:
        return None
    return report if report.get("pid") == state.get("pid") else None


def process_status(config: LabConfig, warm_timeout: float = 30.0) -> dict[str, Any] | None:
    """The lab process's own report, or ``None`` when this lab is not running.

    A lab still warming up (the second after ``up``) answers once it is warm, within ``warm_timeout``;
    if it does not, its ``/ready`` report (no fillers) is returned."""
    ready = _ready_report(config)
    if ready is None:
        return None
    report = _status_report(config, timeout=warm_timeout)
    if report is None or report.get("pid") != ready.get("pid"):
        return ready
    return report


def is_running(config: LabConfig) -> bool:
    return _ready_report(config) is not None


# -- containers the lab owns ------------------------------------------------


def lab_containers(config: LabConfig, client: Any | None = None) -> list[Any]:
    from ecslab.config import LAB_LABEL

    if client is None:
        try:
            client = engine.docker_client(timeout=10)
        except engine.EngineError:
            return []
    return list(client.containers.list(all=True, filters={"label": f"{LAB_LABEL}={config.home}"}, ignore_removed=True))


def remove_lab_containers(config: LabConfig, client: Any | None = None) -> int:
    """Remove every container labelled as this lab's, with its anonymous volumes; returns how many."""
    containers = lab_containers(config, client)
    for container in containers:
        with contextlib.suppress(Exception):
            container.remove(v=True, force=True)
    return len(containers)


# -- the commands -------------------------------------------------------------


def status(config: LabConfig, with_docker: bool = True) -> LabStatus:
    report = process_status(config)
    result = LabStatus(running=report is not None, config=config, process=report or {})
    if with_docker:
        result.docker = engine.engine_status()
        if result.docker.ok:
            result.containers = [
                {"name": c.name, "status": c.status, "image": c.attrs["Config"]["Image"]} for c in lab_containers(config)
            ]
    return result


def ensure_engine(config: LabConfig, say: Say, install: bool = False) -> engine.EngineStatus:
    """Make sure a Docker engine answers where this machine allows it; report otherwise.

    Never raises: the AWS APIs are useful without an engine, and the status says what to do."""
    current = engine.engine_status()
    if current.ok:
        return current
    try:
        if install:
            say("Installing docker.io with apt-get ...")
            engine.install_docker()
        if engine.can_start_dockerd():
            say("Starting dockerd in the background ...")
            engine.start_dockerd(config.home / "dockerd.log")
    except (engine.EngineError, OSError, subprocess.CalledProcessError) as error:
        say(f"Could not get a Docker engine going: {error}")
    return engine.engine_status()


def up(config: LabConfig, say: Say = print, install_docker: bool = False, timeout: float = 60.0) -> LabStatus:
    """Start the lab in the background and return when its AWS endpoint, registry and control API answer. Idempotent.

    The lab then warms up by itself (moto and the fillers loaded, IAM built, seeded: about a second);
    AWS calls and :func:`status` made meanwhile wait for it. The returned status lists no fillers:
    :func:`status` does."""
    with _locked(config):
        if is_running(config):
            # the engine may have stopped under a running lab (inside the course image, or after a
            # restart): starting it where this machine allows is what `ecslab up` promises
            docker_status = ensure_engine(config, say, install=install_docker)
            say(
                "The lab is already running; nothing else to start."
                if docker_status.ok
                else f"The lab is running, but no Docker engine answers: {docker_status.fix}"
            )
            return status(config)
        state = _read_state(config)
        if state is not None:
            say("Found a lab that stopped without `ecslab down`; cleaning up after it.")
        _clear_stale_state(config, state, say)
        grace = time.monotonic() + (5 if state is not None else 0)  # a lab that just died may hold its ports a moment
        for what, port, variable in _ports(config):
            while not port_is_free(config.host, port) and time.monotonic() < grace:
                time.sleep(0.05)
            if not port_is_free(config.host, port):
                raise LabError(
                    f"Port {port} on {config.host} (the lab's {what}) is taken by another program. "
                    f"Stop that program, or give the lab another port: `export {variable}=<free port>` "
                    f"and run `ecslab up` again (`ecslab doctor` shows every port)."
                )
        # the lab starts (and warms up) while the engine is seen to; it starts its fillers, which use the
        # engine and must not meet a crashed lab's containers, only once told the engine is done with.
        # Not while installing Docker (minutes): AWS calls made meanwhile would wait for the lab that long.
        early = None if install_docker else _launch(config)
        process = early
        try:
            docker_status = ensure_engine(config, say, install=install_docker)
            if not docker_status.ok:
                say(
                    f"WARNING: no Docker engine answers. {docker_status.fix}\n"
                    "The AWS APIs will start; building and running containers will not work until it does."
                )
            else:
                removed = remove_lab_containers(config)  # a crashed lab's tasks: same seed, same names and ports
                if removed:
                    say(f"Removed {removed} container(s) a previous lab left running.")
            process = early or _launch(config)
            _engine_checked(process)
            report = _wait_ready(config, process, timeout)
        except BaseException:
            if process is not None and process.poll() is None:
                process.terminate()
            raise
        finally:
            if process is not None:
                _engine_checked(process)
    # what answers now (the lab warms up in the background; `status` waits for that): no container of its yet
    result = LabStatus(running=True, config=config, process=report, docker=docker_status)
    say(result.render())
    return result


ENGINE_CHECKED = "--engine-checked-on-stdin"
"""The lab process's flag: start the fillers once a line (or the end) comes on stdin, which :func:`up` sends
when the Docker engine is started and a crashed lab's containers are removed."""


def _launch(config: LabConfig) -> subprocess.Popen[bytes]:
    """Start the lab process (it binds its ports, starts the registry and warms up at once)."""
    prepare_home(config)
    new_token(config)  # before the lab starts: it reads the token from the file at start
    env = dict(os.environ)
    env.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
    env.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AmazonECSTaskExecutionRolePolicy and friends (notebook 07)
    env["MOTO_DISABLE_GLOBAL_CORS"] = "true"  # no Access-Control-Allow-Origin: * for web pages
    rotate_log(config.log_file)
    with open(config.log_file, "ab") as log:
        log.write(f"\n--- ecslab up at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "ecslab.lab.server", config.to_json(), ENGINE_CHECKED],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            start_new_session=True,
            env=env,
            cwd=str(config.home),
        )


def _engine_checked(process: subprocess.Popen[bytes]) -> None:
    """Tell the lab process the engine is seen to (a line on its stdin, then the end of it); again: nothing."""
    if process.stdin is None or process.stdin.closed:
        return
    with contextlib.suppress(OSError):  # the lab stopped: its start's error is what `up` reports
        process.stdin.write(b"engine checked\n")
    with contextlib.suppress(OSError):
        process.stdin.close()


def _wait_ready(config: LabConfig, process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The lab's ``/ready`` report once its AWS endpoint, registry and control API answer.

    The lab is then still warming up (moto's services, the fillers): its AWS endpoint holds each
    request until it is warm (about a second), and ``/status`` waits for it too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabError(f"The lab process stopped at start (exit {process.returncode}):\n{_log_tail(config)}")
        with contextlib.suppress(LabError):
            report = control(config, "GET", "/ready", timeout=1)
            if report.get("pid") == process.pid and report.get("registry", {}).get("ok") and _read_state(config):
                return report
        time.sleep(0.02)
    process.terminate()
    raise LabError(f"The lab did not become ready within {timeout:.0f} s:\n{_log_tail(config)}")


def _log_tail(config: LabConfig, lines: int = 15) -> str:
    try:
        return "\n".join(config.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def down(config: LabConfig, say: Say = print, timeout: float = 15.0) -> None:
    """Stop the lab and remove every container it started. Safe when nothing runs."""
    engine_client = _docker_client_in_background()  # made while the lab stops (importing docker takes a while)
    with _locked(config):
        state = _read_state(config)
        if state is None or not _pid_alive(state.get("pid")):
            say("The lab is not running; nothing to stop.")
        elif not is_this_lab(config, state):
            say(
                f"The state file {config.state_file} was stale: pid {state['pid']} is not this lab "
                "(another program has that pid now), so nothing was signalled."
            )
            state = {key: value for key, value in state.items() if key != "pid"}
        else:
            pid = state["pid"]
            with contextlib.suppress(LabError):
                control(config, "POST", "/shutdown", timeout=5)
            deadline = time.monotonic() + timeout
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid) and is_this_lab(config, state):
                _signal(pid, signal.SIGKILL)
            say(f"Stopped the lab (pid {pid}).")
        _clear_stale_state(config, state, say)
        client = engine_client.result()
        removed = remove_lab_containers(config, client) if client is not None else 0
        if removed:
            say(f"Removed {removed} lab container(s).")


def _docker_client_in_background() -> Future[Any]:
    """A Docker client made in another thread (``None`` when no engine answers), for :func:`down`."""
    future: Future[Any] = Future()

    def make() -> None:
        try:
            future.set_result(engine.docker_client(timeout=10))
        except engine.EngineError:
            future.set_result(None)
        except BaseException as error:
            future.set_exception(error)

    threading.Thread(target=make, name="docker-client", daemon=True).start()
    return future


def reset(config: LabConfig, say: Say = print) -> None:
    """Fresh AWS state and an empty registry; lab containers removed. The lab keeps running."""
    if not is_running(config):
        raise LabError("The lab is not running, so there is nothing to reset. Start it with `ecslab up`.")
    control(config, "POST", "/reset", timeout=60)  # first, so no service restarts what is removed next
    removed = remove_lab_containers(config)
    say(f"Reset the lab: fresh AWS state, empty registry, {removed} lab container(s) removed.")


def env_exports(config: LabConfig) -> str:
    """Shell exports that point plain boto3 and the aws CLI at the lab (``eval "$(ecslab env)"``)."""
    values = {
        "AWS_ENDPOINT_URL": config.endpoint_url,
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_REGION": config.region,
        "ECSLAB_REGISTRY": config.registry_address,
    }
    lines = ["# The ecslab lab: plain boto3, the aws CLI and docker talk to 127.0.0.1 with these."]
    lines += [f"export {key}={value}" for key, value in values.items()]
    return "\n".join(lines)


MIN_FREE_DISK = 2**30  # a build or a push of the sample app needs a few hundred MB; keep room


def disk_check(what: str, path: Path, fix: str, minimum: int = MIN_FREE_DISK) -> Check:
    """A doctor line for the free space on the disk holding ``path``: not ok under ``minimum`` bytes."""
    import shutil

    try:
        free = shutil.disk_usage(path).free
    except OSError as error:
        return Check(what, False, f"cannot read the free space of {path} ({error.strerror})", fix)
    detail = f"{free / 2**30:.1f} GiB free in {path}"
    if free < minimum:
        return Check(
            what,
            False,
            f"{detail}: under {minimum / 2**30:.0f} GiB, builds, pushes and tasks will fail with 'no space left on device'",
            fix,
        )
    return Check(what, True, detail)


def _engine_data_root() -> Path | None:
    try:
        root = engine.docker_client(timeout=5).info().get("DockerRootDir")
    except Exception:
        return None
    return Path(root) if root else None


def doctor(config: LabConfig) -> list[Check]:
    """Check each part of the lab and say how to fix what is wrong."""
    from ecslab import images
    from ecslab.lab.registry import INSTALL_HINT, find_registry_binary

    checks: list[Check] = []
    checks.append(
        Check(
            "Python",
            sys.version_info >= (3, 11),
            sys.version.split()[0],
            None if sys.version_info >= (3, 11) else "Use Python 3.11 or newer.",
        )
    )
    for package in ("boto3", "moto", "docker", "ipywidgets", "matplotlib"):
        try:
            from importlib.metadata import version

            checks.append(Check(f"package {package}", True, version(package)))
        except Exception:
            checks.append(Check(f"package {package}", False, "not installed", "pip install -e . (from the course folder)"))
    engine_state = engine.engine_status()
    checks.append(Check("Docker engine", engine_state.ok, engine_state.detail, engine_state.fix))
    binary = find_registry_binary()
    checks.append(Check("registry program", binary is not None, binary or "not found", None if binary else INSTALL_HINT))
    checks.append(
        disk_check(
            "disk for the lab's state",
            config.home if config.home.exists() else config.home.parent,
            "Free disk space there, or point ECSLAB_HOME at a disk with room; `ecslab reset` empties the registry.",
        )
    )
    if engine_state.ok:
        root = _engine_data_root()
        if root is not None and root.exists():  # a local engine (not Docker Desktop's VM)
            checks.append(
                disk_check(
                    "disk for the Docker engine",
                    root,
                    "Free disk space: `docker system prune` removes stopped containers and unused images "
                    "(in the course image, its engine's volume is full: give it a bigger disk, or remove the "
                    "ecslab-course-engine volume to start it afresh).",
                )
            )
    if engine_state.ok:
        base = images.base_image()
        present = images.image_present(base)
        checks.append(
            Check(
                "base image",
                present,
                f"{base} {'present' if present else 'missing'}",
                None
                if present
                else "Make it offline with `ecslab base-image` (about 1 minute, needs root), or `docker pull python:3.12-slim`.",
            )
        )
    report = process_status(config)
    checks.append(
        Check(
            "lab process",
            report is not None,
            f"running, pid {report['pid']}" if report else "not running",
            None if report else "Start it with `ecslab up`.",
        )
    )
    for what, port, variable in _ports(config):
        free = port_is_free(config.host, port)
        ours = report is not None
        checks.append(
            Check(
                f"port {port} ({what})",
                free or ours,
                "used by this lab" if ours else ("free" if free else "taken by another program"),
                None if free or ours else f"Stop that program or `export {variable}=<free port>`.",
            )
        )
    checks.append(check_task_addresses())
    if report is not None:
        checks.append(_check_aws_api(config))
        registry_ok = bool(report.get("registry", {}).get("ok"))
        checks.append(
            Check(
                "registry answers",
                registry_ok,
                report["registry"]["url"],
                None if registry_ok else "Run `ecslab down` then `ecslab up`; see registry.log in the state folder.",
            )
        )
    return checks


TASK_ADDRESS_POOL = "127.100.0.0/14"
"""Where Fargate tasks' public IPs come from in the lab (``ecslab.lab.task_network.POOL``, the lab process's side)."""


def check_task_addresses() -> Check:
    """A doctor line: can this machine bind loopback addresses other than 127.0.0.1 (each Fargate task's own public IP)?

    Always ok: where it cannot (macOS without an alias), the lab falls back to 127.0.0.1 and says so."""
    import socket

    probe = TASK_ADDRESS_POOL.split("/")[0].rsplit(".", 1)[0] + ".1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((probe, 0))
    except OSError as error:
        return Check(
            "task addresses",
            True,
            f"only 127.0.0.1 can be bound on loopback here ({probe}: {error.strerror}): Fargate tasks share 127.0.0.1 as their "
            "public IP, each on a port of its own reported in networkBindings (AWS reports none). For an address per task, as "
            f"on AWS: `sudo ifconfig lo0 alias {probe} up` (macOS; one alias per address), or use the course image",
        )
    return Check(
        "task addresses", True, f"each Fargate task with a public IP gets a loopback address of its own ({TASK_ADDRESS_POOL})"
    )


def _check_aws_api(config: LabConfig) -> Check:
    import boto3

    try:
        ecs = boto3.client(
            "ecs",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        count = len(ecs.list_clusters()["clusterArns"])
        return Check("AWS API answers", True, f"ecs.list_clusters() -> {count} cluster(s)")
    except Exception as error:
        return Check(
            "AWS API answers", False, str(error)[:120], "Run `ecslab down` then `ecslab up`; see lab.log in the state folder."
        )


def render_checks(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        mark = "ok " if check.ok else "FIX"
        lines.append(f"[{mark}] {check.name:<{width}}  {check.detail}")
        if check.fix and not check.ok:
            lines.append(f"      {'':<{width}}  -> {check.fix}")
    bad = sum(not check.ok for check in checks)
    lines.append("All good." if not bad else f"{bad} thing(s) to fix, see the arrows above.")
    return "\n".join(lines)
