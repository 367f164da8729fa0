"""The lab's image registry: Debian's ``docker-registry`` (the CNCF distribution
registry, the same software many private registries run) on 127.0.0.1.

ECR is, underneath, a registry speaking the same HTTP API; the lab pairs this one
with moto's ECR API (notebook 03). Storage lives under the lab's state folder. It is
wiped whenever the lab's AWS state starts fresh (``ecslab up``, ``ecslab reset``) and
when the lab stops (``ecslab down``): moto keeps ECR in memory, so images stored from
an earlier lab could never be pulled again, only fill the disk. That also reclaims what
deleted images left (the registry deletes manifests, not blobs).

The registry dies with the lab process, even by SIGKILL (``PR_SET_PDEATHSIG``). Linux
sends that signal when the *thread* that started the child ends, so every registry is
started from one thread that lives as long as the lab (:class:`_Launcher`): one started
from a control-API request's thread died with the request (issue 11).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ecslab.config import LabConfig
from ecslab.lab.logfiles import rotate_log

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
            "endpoints": [{"name": "ecslab", "url": notify_url, "timeout": "2s", "threshold": 3, "backoff": "1s"}]
        }
    return json.dumps(data, indent=2)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to stop the registry when the lab process dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()


class _Launcher:
    """One thread, alive as long as the lab process, that starts every registry process."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job: Callable[[], Any]) -> Any:
        """Run ``job`` on the launcher thread and return what it returns (or raise what it raised)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="registry-launcher", daemon=True)
                self._thread.start()
        if threading.current_thread() is self._thread:
            return job()
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as error:  # handed to the caller, who reports it
                future.set_exception(error)


_LAUNCHER = _Launcher()


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

    @property
    def config_path(self) -> Path:
        """The registry's configuration; its path on the command line tells this lab's registry from others'."""
        return self.config.home / "registry.yml"

    def start(self, timeout: float = 10.0) -> None:
        binary = find_registry_binary()
        if binary is None:
            raise RegistryError(f"No registry program found. {INSTALL_HINT}")

        self.config.registry_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.config_path
        config_path.write_text(registry_config(self.config, self.port, self.notify_url))
        rotate_log(self.config.home / "registry.log")

        def launch() -> subprocess.Popen[bytes]:
            with open(self.config.home / "registry.log", "ab") as log:
                return subprocess.Popen(
                    [binary, "serve", str(config_path)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )

        self.process = _LAUNCHER.run(launch)
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
        """Delete every stored image (``ecslab up``, ``reset``, ``down``); a running registry is restarted."""
        running = self.process is not None and self.process.poll() is None
        self.stop()
        shutil.rmtree(self.config.registry_dir, ignore_errors=True)
        if running:
            self.start()
