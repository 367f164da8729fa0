"""The Docker engine: is one answering, and what to do when it is not.

The lab never fakes containers: notebooks 01 onwards need a real engine. On
Debian/Ubuntu as root, ``ecslab up --install-docker`` installs ``docker.io`` and
``ecslab up`` starts ``dockerd`` when it is installed but not running; anywhere
else the message says what to do (Docker Desktop, Colima, or starting the service).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class EngineError(RuntimeError):
    """No Docker engine answers; the message says how to get one."""


@dataclass
class EngineStatus:
    ok: bool
    version: str | None
    detail: str
    fix: str | None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _is_debian_like() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    return any(word in text.lower() for word in ("debian", "ubuntu"))


def _dockerd_running() -> bool:
    """Whether a dockerd process exists on this machine (answering or not)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "dockerd":
                    return True
            except OSError:
                continue
    return False


def how_to_get_an_engine() -> str:
    """The one instruction that fits this machine."""
    if os.environ.get("DOCKER_HOST"):
        return f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer: start that engine, or unset DOCKER_HOST to use the local one."
    restart = os.environ.get("ECSLAB_ENGINE_RESTART")
    if restart and not _dockerd_running():  # set by the course image, whose engine runs beside the lab
        return f"The Docker engine inside the course image stopped: run `{restart}` in a terminal (then `ecslab up`)."
    if _dockerd_running():
        return "dockerd is running but does not answer on /var/run/docker.sock: see its log, or restart it (sudo systemctl restart docker)."
    if shutil.which("dockerd"):
        if _is_root():
            return "dockerd is installed but not running: `ecslab up` starts it, or run `dockerd &`."
        return "dockerd is installed but not running: `sudo systemctl start docker` (or `sudo dockerd &`)."
    if _is_debian_like():
        if _is_root():
            return "Install it with `ecslab up --install-docker` (apt-get install docker.io, then dockerd)."
        return "Install it with `sudo apt-get install -y docker.io`, then `sudo systemctl start docker`."
    return "Install and start Docker Desktop, Colima or Rancher Desktop, then run `ecslab up` again."


def docker_client(timeout: int = 60) -> Any:
    """A ``docker.DockerClient`` that answers, or :class:`EngineError` with the fix."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as error:
        raise EngineError(f"No Docker engine answers ({_short(error)}). {how_to_get_an_engine()}") from None
    return client


def _short(error: Exception) -> str:
    text = str(error)
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no socket at /var/run/docker.sock"
    if "Connection refused" in text:
        return "connection refused"
    return text.splitlines()[0][:160] if text else type(error).__name__


def engine_status() -> EngineStatus:
    try:
        client = docker_client(timeout=5)
    except EngineError as error:
        return EngineStatus(False, None, str(error).split(". ")[0], how_to_get_an_engine())
    version = client.version().get("Version")
    return EngineStatus(True, version, f"Docker engine {version} answers", None)


def can_start_dockerd() -> bool:
    """Root, dockerd installed, none running, and no DOCKER_HOST pointing elsewhere."""
    return _is_root() and shutil.which("dockerd") is not None and not os.environ.get("DOCKER_HOST") and not _dockerd_running()


def start_dockerd(log_file: Path, wait: float = 30.0) -> None:
    """Start ``dockerd`` in the background (root only) and wait until it answers."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or not can_start_dockerd():
        raise EngineError(how_to_get_an_engine())
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if engine_status().ok:
            return
        time.sleep(0.5)
    raise EngineError(f"dockerd did not answer within {wait:.0f} s; see {log_file}.")


def install_docker() -> None:
    """``apt-get install docker.io`` (Debian/Ubuntu, root only)."""
    if not (_is_root() and _is_debian_like() and shutil.which("apt-get")):
        raise EngineError("--install-docker works on Debian/Ubuntu as root only. " + how_to_get_an_engine())
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "docker.io"], check=True, env=env)
