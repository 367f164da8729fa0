"""A learner's kernel, fenced: its own process group, memory and process limits, timeouts, cut output.

The kernel is a plain ``ipykernel`` started by ``jupyter_client`` with:

- ``RLIMIT_AS`` (address space, :data:`MEMORY_LIMIT`): a learner who allocates too much gets ``MemoryError``
  or a dead kernel, never the machine's OOM killer choosing the grader;
- a pids cgroup (cgroup v1 ``/sys/fs/cgroup/pids`` or v2, when this process may write there) holding at
  most :data:`PIDS_LIMIT` processes and threads: a fork bomb fails with ``EAGAIN`` (as root ``RLIMIT_NPROC``
  does not hold); at the end every process in the cgroup is killed, including those that left the session;
- its own session (process group), killed whole at the end;
- no stdin (``input()`` raises at once), ``IPYTHONDIR`` in the submission's own folder (no startup files
  shared between learners), and ``PYTHONPATH`` first on the grader's copy of ecslab.

:meth:`Kernel.run` runs one cell with a deadline and returns its status and output, cut at
:data:`OUTPUT_LIMIT` characters with a note.
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MEMORY_LIMIT", "OUTPUT_LIMIT", "PIDS_LIMIT", "CellRun", "Kernel", "cut"]

MEMORY_LIMIT = 3 * 2**30
PIDS_LIMIT = 256
OUTPUT_LIMIT = 4000


def cut(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text``, or its first ``limit`` characters and a note of how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters cut by the grader]"


@dataclass
class CellRun:
    status: str  # ok, error, timeout, dead
    output: str = ""
    error: str = ""
    seconds: float = 0.0


def _pids_cgroup_root() -> Path | None:
    for root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if (root / "cgroup.procs").exists() and os.access(root, os.W_OK):
            if root.name != "pids" and "pids" not in (root / "cgroup.controllers").read_text(errors="replace"):
                continue
            return root
    return None


class PidsCgroup:
    """A pids cgroup of our own, or nothing when this machine does not let us make one."""

    def __init__(self, name: str, limit: int = PIDS_LIMIT) -> None:
        self.path: Path | None = None
        root = _pids_cgroup_root()
        if root is None:
            return
        try:
            path = root / name
            path.mkdir()
            (path / "pids.max").write_text(str(limit))
            self.path = path
        except OSError:
            self.path = None

    def join(self) -> None:
        """Run in the child before exec: move it into the cgroup."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def kill_all(self) -> None:
        if self.path is None:
            return
        for _round in range(20):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        if self.path is not None:
            for _try in range(50):
                try:
                    self.path.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
            self.path = None


class Kernel:
    """A fresh ipykernel for one submission: ``with Kernel(env, folder) as kernel: kernel.run(code, timeout)``."""

    def __init__(self, env: dict[str, str], folder: Path, name: str, memory: int = MEMORY_LIMIT, pids: int = PIDS_LIMIT) -> None:
        self.env = env
        self.folder = folder
        self.cgroup = PidsCgroup(name, pids)
        self.memory = memory
        self.manager: Any = None
        self.client: Any = None

    @property
    def pids_limited(self) -> bool:
        return self.cgroup.path is not None

    def _limit(self) -> None:  # in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        self.cgroup.join()

    def start(self, timeout: float = 60.0) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        with (self.folder / "kernel.log").open("ab") as log:  # the kernel's own warnings: not the grader's terminal
            self.manager.start_kernel(env=self.env, cwd=str(self.folder), preexec_fn=self._limit, stdout=log, stderr=log)
        self.client = self.manager.client()
        self.client.allow_stdin = False
        self.client.start_channels()
        self.client.wait_for_ready(timeout=timeout)

    def alive(self) -> bool:
        return bool(self.manager is not None and self.manager.is_alive())

    def run(self, code: str, timeout: float) -> CellRun:
        """Run ``code``; ``timeout`` seconds at most (then the kernel is interrupted, and killed if it does not stop)."""
        started = time.monotonic()
        if not self.alive():
            return CellRun("dead", error="the kernel is not running", seconds=0.0)
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False)
        deadline = started + timeout
        output: list[str] = []
        size = 0
        error = ""
        idle = False
        while not idle:
            if time.monotonic() > deadline:
                self._stop_cell()
                return CellRun(
                    "timeout", cut("".join(output)), f"did not finish within {timeout:.0f} s", time.monotonic() - started
                )
            try:
                message = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not self.alive():
                    return CellRun("dead", cut("".join(output)), "the kernel died", time.monotonic() - started)
                continue
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and size <= OUTPUT_LIMIT * 2:
                output.append(content.get("text", "")[: OUTPUT_LIMIT * 2])
                size += len(output[-1])
            elif kind in ("execute_result", "display_data") and size <= OUTPUT_LIMIT * 2:
                output.append(str(content.get("data", {}).get("text/plain", ""))[: OUTPUT_LIMIT * 2] + "\n")
                size += len(output[-1])
            elif kind == "error":
                error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif size > OUTPUT_LIMIT * 2:
                size += 1  # keep draining, keep nothing
        return CellRun("error" if error else "ok", cut("".join(output)), cut(error, 1000), time.monotonic() - started)

    def _stop_cell(self) -> None:
        with contextlib.suppress(Exception):
            self.manager.interrupt_kernel()
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                message = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            if message["msg_type"] == "status" and message["content"].get("execution_state") == "idle":
                return
        self.kill()

    def kill(self) -> None:
        """Kill the kernel, its process group and everything in its cgroup."""
        if self.manager is not None:
            kernel = getattr(self.manager, "provisioner", None)
            pid = getattr(getattr(kernel, "process", None), "pid", None)
            if pid:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.manager.shutdown_kernel(now=True)
        self.cgroup.kill_all()

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.stop_channels()
        self.kill()
        with contextlib.suppress(Exception):
            if self.manager is not None:
                self.manager.cleanup_resources()
        self.cgroup.remove()

    def __enter__(self) -> Kernel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
