"""How the benchmarks print: the machine they ran on, then one line per figure with its goal.

Figures are printed beside their goal and whether the goal was met; nothing here
fails a run, because a slow machine is a fact to record, not a bug to hide.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Goal:
    """An upper bound from the issue, e.g. ``Goal(1.5, "s")`` for "at most 1.5 s"."""

    limit: float
    unit: str

    def verdict(self, value: float) -> str:
        return "met" if value <= self.limit else "MISSED"

    def __str__(self) -> str:
        return f"≤ {self.limit:g} {self.unit}"


def machine_header(title: str) -> str:
    """Date, CPUs, CPU model, Python and load: what a reader needs to compare figures."""
    cpu_model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu_model)
    except OSError:
        pass
    return (
        f"== {title} ==\n"
        f"{time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} CPUs ({cpu_model})  "
        f"Python {platform.python_version()}  load average {load_average()}"
    )


def load_average() -> str:
    """The 1-minute load average: other work on the machine slows every figure."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def print_series(name: str, values: Sequence[float], goal: Goal | None = None, unit: str = "s") -> None:
    """Min, median and max of repeated measurements; the goal is judged on the median."""
    if not values:
        print(f"  {name:<44} no measurement")
        return
    median = statistics.median(values)
    line = f"  {name:<44} min {min(values):7.2f} {unit}  median {median:7.2f} {unit}  max {max(values):7.2f} {unit}  (n={len(values)})"
    if goal is not None:
        line += f"   goal {goal}: {goal.verdict(median)}"
    print(line, flush=True)


def print_value(name: str, value: float, unit: str, goal: Goal | None = None, note: str = "") -> None:
    """One measurement, its goal and verdict, and an optional note."""
    line = f"  {name:<44} {value:8.2f} {unit}"
    if goal is not None:
        line += f"   goal {goal}: {goal.verdict(value)}"
    if note:
        line += f"   {note}"
    print(line, flush=True)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports, reserved for the rest of this process
    (:func:`ecslab.lab.private.reserve_port`): no other process, benchmark or test gets them meanwhile."""
    from ecslab.lab import private

    return [private.reserve_port(host) for _ in range(count)]


def python_bin(name: str) -> str:
    """A console script installed next to this Python (``ecslab``), so the venv's copy runs."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else name


ENGINE_PROCESS_PREFIXES = ("dockerd", "containerd", "runc", "docker-proxy", "docker-init")
"""The Docker engine's own processes by name (``containerd`` covers its shims); their CPU is the engine's."""


@dataclass(frozen=True)
class Process:
    """One process as ``/proc`` shows it (Linux only)."""

    pid: int
    ppid: int
    name: str
    command: str
    cpu_s: float
    """User + system CPU seconds so far (children it reaped not counted)."""
    started: str
    """Its start time in clock ticks since boot: with the PID, names one process."""

    @property
    def is_engine(self) -> bool:
        return self.name.startswith(ENGINE_PROCESS_PREFIXES)


def processes() -> dict[int, Process]:
    """Every process running now, by PID (one that ends while being read is left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, Process] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = Process(
            pid=int(entry.name),
            ppid=int(fields[1]),
            name=stat[stat.index("(") + 1 : stat.rindex(")")],
            command=command,
            cpu_s=(int(fields[11]) + int(fields[12])) / tick,
            started=fields[19],
        )
    return found


def descendants(root: int, running: dict[int, Process]) -> list[int]:
    """``root`` and every process below it in ``running`` (:func:`processes`), parents before children."""
    tree = [root]
    for pid in tree:  # grows while it is walked
        tree += [child.pid for child in running.values() if child.ppid == pid]
    return tree


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O) since it started."""
    busy = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(busy) - busy[3] - busy[4]) / os.sysconf("SC_CLK_TCK")
