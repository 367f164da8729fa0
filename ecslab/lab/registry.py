"""The lab's image registry: Debian's ``docker-registry`` (the CNCF distribution
registry, the same software many private registries run) on 127.0.0.1.

ECR is, underneath, a registry speaking the same HTTP API; the lab pairs this one
with moto's ECR API (notebook 03). Storage lives under the lab's state folder, so
``ecslab reset`` can wipe it and ``ecslab down`` leaves nothing running.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ecslab.config import LabConfig

REGISTRY_BINARIES = ("docker-registry", "registry")
INSTALL_HINT = (
    "Install Debian's registry with `sudo apt-get install -y docker-registry`, or put the "
    "`registry` binary of distribution/distribution on PATH, or point ECSLAB_REGISTRY_BIN at it."
)


class RegistryError(RuntimeError):
    """The registry could not be started; the message says what to do."""


def find_registry_binary() -> str | None:
    """The registry program to run, or ``None`` when none is installed."""
    override = os.environ.get("ECSLAB_REGISTRY_BIN")
    if override:
        return override if Path(override).exists() else None
    for name in REGISTRY_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def registry_config(config: LabConfig, port: int, notify_url: str | None = None) -> str:
    """The registry's YAML configuration (JSON is valid YAML, and needs no library)."""
    import json

    data: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(config.registry_dir)},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"{config.host}:{port}", "secret": "ecslab-local-only"},
    }
    if notify_url:
        data["notifications"] = {
            "endpoints": [
                {"name": "ecslab", "url": notify_url, "timeout": "2s", "threshold": 3, "backoff": "1s"}
            ]
        }
    return json.dumps(data, indent=2)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to stop the registry when the lab process dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()


class RegistryProcess:
    """One registry child process of the lab."""

    def __init__(self, config: LabConfig, port: int, notify_url: str | None = None) -> None:
        self.config = config
        self.port = port
        self.notify_url = notify_url
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        binary = find_registry_binary()
        if binary is None:
            raise RegistryError(f"No registry program found. {INSTALL_HINT}")
        self.config.registry_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.config.home / "registry.yml"
        config_path.write_text(registry_config(self.config, self.port, self.notify_url))
        log = open(self.config.home / "registry.log", "ab")
        self.process = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.config.home / "registry.log").read_text(errors="replace")[-600:]
                raise RegistryError(
                    f"The registry stopped at start (exit {self.process.returncode}). "
                    f"Is port {self.port} taken? Its log ends:\n{tail}"
                )
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise RegistryError(f"The registry did not answer on {self.url} within {timeout:.0f} s.")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/v2/", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wipe(self) -> None:
        """Delete every stored image (used by ``ecslab reset``); restarts the registry."""
        running = self.process is not None and self.process.poll() is None
        self.stop()
        shutil.rmtree(self.config.registry_dir, ignore_errors=True)
        if running:
            self.start()
