"""A second Docker engine of the tests' own, for fault tests that stop an engine.

The machine's own dockerd serves every other test (and the learner's default lab): a test that
stops an engine must never stop that one. :func:`second_engine` starts another ``dockerd`` on the
host with its own socket, data root, exec root, pid file, containerd namespace and bridge
(``--iptables=false``: published ports go through docker-proxy on 127.0.0.1, which is what the
lab needs), and takes all of it down again, even when the test fails.

Used by ``tests/test_faults.py``. Needs root, ``dockerd`` and ``ip``; :func:`skip_reason` says
why not when they are missing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOCKET = Path("/run/ecslab-test-dockerd.sock")
EXEC_ROOT = Path("/run/ecslab-test-dockerd")
"""Fixed and short: containerd's sockets live under it (a unix socket path has ~108 bytes), and a
leftover engine of a crashed run is found by the pid file in it."""
LOCK = Path("/run/ecslab-test-dockerd.lock")
"""Held while a second engine runs: two test runs at once (a CI rehearsal and a developer) take turns."""
BRIDGE = "ecslabt0"
CANDIDATE_SUBNETS = ("10.213.77.0/24", "10.213.78.0/24", "172.31.213.0/24", "192.168.213.0/24")
NAMESPACE = "ecslab-test"


def skip_reason() -> str | None:
    """Why this machine cannot run a second engine, or ``None`` when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a second Docker engine needs root (its own bridge, mounts and sockets)"
    for program in ("dockerd", "ip", "docker-proxy"):
        if shutil.which(program) is None and not Path(f"/usr/sbin/{program}").exists():
            return f"{program} is not installed, so no second Docker engine can run here"
    return None


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=30)


def _free_subnet() -> ipaddress.IPv4Network:
    routes = _run("ip", "-4", "route").stdout
    used = []
    for line in routes.splitlines():
        word = line.split()[0]
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(word if word != "default" else "0.0.0.0/32", strict=False))
    for candidate in CANDIDATE_SUBNETS:
        network = ipaddress.ip_network(candidate)
        if not any(network.overlaps(other) for other in used if other.prefixlen > 0):
            return network  # type: ignore[return-value]
    raise RuntimeError(f"every candidate subnet for the test bridge is routed already: {routes}")


def _stop_pid(pid: int, wait: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _leftover_pid() -> int | None:
    """A second engine a crashed run left behind, proven ours by its command line."""
    try:
        pid = int((EXEC_ROOT / "dockerd.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"dockerd" in cmdline and str(SOCKET).encode() in cmdline else None


@dataclass
class SecondEngine:
    """A running second dockerd: ``docker_host`` is what ``DOCKER_HOST`` should say to use it."""

    root: Path
    subnet: ipaddress.IPv4Network
    process: subprocess.Popen[bytes] | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{SOCKET}"

    @property
    def gateway(self) -> str:
        return str(next(self.subnet.hosts()))

    @property
    def log_file(self) -> Path:
        return self.root / "dockerd.log"

    def client(self, timeout: int = 30) -> Any:
        import docker

        return docker.DockerClient(base_url=self.docker_host, timeout=timeout)

    def answers(self) -> bool:
        try:
            client = self.client(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False

    def start(self, wait: float = 40.0) -> None:
        """Start (or start again) the engine and wait until it answers."""
        if self.process is not None and self.process.poll() is None:
            return
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        EXEC_ROOT.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [
                    shutil.which("dockerd") or "/usr/sbin/dockerd",
                    "-H",
                    self.docker_host,
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(EXEC_ROOT),
                    "--pidfile",
                    str(EXEC_ROOT / "dockerd.pid"),
                    "--bridge",
                    BRIDGE,
                    "--iptables=false",
                    "--ip-masq=false",
                    "--ip-forward=false",
                    "--userland-proxy=true",
                    "--containerd-namespace",
                    NAMESPACE,
                    "--containerd-plugins-namespace",
                    NAMESPACE + "-plugins",
                    "--shutdown-timeout",
                    "2",
                    "--log-level",
                    "warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the second dockerd exited ({self.process.returncode}):\n{self.log_tail()}")
            if self.answers():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the second dockerd did not answer within {wait:.0f} s:\n{self.log_tail()}")

    def stop(self, wait: float = 20.0) -> None:
        """Stop the engine as ``systemctl stop docker`` would (SIGTERM: its containers stop with it)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-characters:]
        except OSError:
            return "(no log)"


def _remove_bridge() -> None:
    _run("ip", "link", "set", BRIDGE, "down")
    _run("ip", "link", "delete", BRIDGE, "type", "bridge")


def _unmount_under(path: Path) -> None:
    """Unmount whatever the engine left mounted under ``path`` (overlays, shm), deepest first."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(path.resolve()) + "/"
    targets = sorted({line.split()[1] for line in mounts if line.split()[1].startswith(prefix)}, key=len, reverse=True)
    for target in targets:
        _run("umount", "-l", target)


@contextlib.contextmanager
def _turn(wait: float) -> Iterator[None]:
    """The machine-wide turn to run a second engine (its socket, exec root and bridge have fixed names)."""
    import fcntl

    with open(LOCK, "w") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another test run held {LOCK} for {wait:.0f} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def second_engine(root: Path, wait: float = 300) -> Iterator[SecondEngine]:
    """A second dockerd with its own bridge, data under ``root``; everything removed afterwards.

    Waits up to ``wait`` seconds for another test run's second engine to finish."""
    with _turn(wait), _second_engine(root) as engine:
        yield engine


@contextlib.contextmanager
def _second_engine(root: Path) -> Iterator[SecondEngine]:
    leftover = _leftover_pid()  # with the turn held, only a crashed run can have left one
    if leftover is not None:
        _stop_pid(leftover, wait=15)
    _remove_bridge()
    subnet = _free_subnet()
    engine = SecondEngine(root=root, subnet=subnet)
    try:
        for command in (
            ("ip", "link", "add", BRIDGE, "type", "bridge"),
            ("ip", "addr", "add", f"{engine.gateway}/{subnet.prefixlen}", "dev", BRIDGE),
            ("ip", "link", "set", BRIDGE, "up"),
        ):
            done = _run(*command)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        engine.start()
        yield engine
    finally:
        try:
            if engine.process is None and engine.answers():  # started again by someone: still ours, by socket
                leftover = _leftover_pid()
                if leftover is not None:
                    _stop_pid(leftover, wait=15)
            engine.stop()
        finally:
            _unmount_under(root)
            _unmount_under(EXEC_ROOT)
            _remove_bridge()
            shutil.rmtree(EXEC_ROOT, ignore_errors=True)
            with contextlib.suppress(OSError):
                SOCKET.unlink()
            shutil.rmtree(root / "data", ignore_errors=True)
