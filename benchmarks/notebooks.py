"""How long the notebooks take: each one alone (nbclient), and the whole nbval suite.

Goal (issue 17): the whole nbval suite, notebooks and solutions, as CI runs it, in at most
180 s on a 2-core machine, whatever notebooks exist then::

    pytest -p tests.conftest --nbval notebooks solutions --nbval-sanitize-with tests/nbval-sanitize.cfg -n 4 --dist loadfile --no-loadscope-reorder

Every notebook in ``notebooks/`` and ``solutions/`` is timed, whatever exists when
this runs (``exercises/`` are left out: they stop at ``raise NotImplementedError()``).
Both measurements work on a temp copy of the folders, so files a notebook writes
never land in the repository. Each notebook timed alone runs on a fresh private lab
of its own (started before the clock starts, stopped after); in the nbval suite each
pytest-xdist worker has a private lab (``tests/conftest.py``), as in ``scripts/test.sh``.
The default lab is never used.

``--workers 1,2,4`` runs the suite once per worker count. Each run also prints where the
time goes: the seconds of each notebook's cells (pytest ``--durations``) and its slowest
cells, the material for deciding which waits a notebook teaches and which it could cut.

    python -m benchmarks.notebooks [--skip-nbval] [--skip-each] [--workers 4] [--only 00,01]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.lab_cold_start import process_memory
from benchmarks.report import (
    REPO,
    Goal,
    Process,
    descendants,
    load_average,
    machine_busy_seconds,
    machine_header,
    print_value,
    processes,
)

SUITE_GOAL = Goal(180, "s")
LAB_MEMORY_GOAL = Goal(300, "MB")
FOLDERS = ("notebooks", "solutions")
SANITIZE = Path(REPO) / "tests" / "nbval-sanitize.cfg"


@dataclass(frozen=True)
class NotebookRun:
    """One notebook executed top to bottom: how long it took and how it ended."""

    path: str
    seconds: float
    error: str | None = None


def notebooks_in(root: Path) -> list[Path]:
    """Every ``.ipynb`` of the benchmarked folders under ``root``, in course order."""
    return [path for folder in FOLDERS for path in sorted((root / folder).glob("*.ipynb"))]


def copy_course(target: Path, only: tuple[str, ...] = ()) -> None:
    """Copy the benchmarked folders (``only`` the notebooks whose names start so, when given) and the nbval
    sanitize file to ``target``."""
    for folder in FOLDERS:
        source = Path(REPO) / folder
        if source.is_dir():
            shutil.copytree(source, target / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            for path in (target / folder).glob("*.ipynb"):
                if only and not path.name.startswith(only):
                    path.unlink()
    shutil.copy(SANITIZE, target / SANITIZE.name)


def execute(path: Path, timeout: int = 600) -> NotebookRun:
    """Run every cell of ``path`` in a fresh kernel whose working folder is the notebook's own, on a
    fresh private lab (its environment is the kernel's; the lab's start is not in the time)."""
    import os

    from ecslab.lab.private import PrivateLab

    saved = dict(os.environ)
    with PrivateLab(timeout=120) as lab:
        os.environ.update(lab.env())
        try:
            return _execute(path, timeout)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _execute(path: Path, timeout: int) -> NotebookRun:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error: str | None = None
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own warnings; cell errors still arrive
    except CellExecutionError as failure:
        error = f"{failure.ename}: {failure.evalue}"
    except Exception as failure:  # a dead kernel or a timeout is a figure too, not a crash of the benchmark
        error = f"{type(failure).__name__}: {failure}"
    seconds = time.perf_counter() - start
    if error is not None:
        error = (error.strip().splitlines() or [""])[0][:100]
    return NotebookRun(path=f"{path.parent.name}/{path.name}", seconds=seconds, error=error)


def empty_notebook_time(folder: Path) -> float:
    """Kernel start, one trivial cell, kernel stop: the fixed cost inside every notebook's time."""
    import nbformat

    path = folder / "empty.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return _execute(path, 60).seconds


@dataclass(frozen=True)
class SuiteRun:
    """The nbval suite run once: wall time, pytest's summary and which cells failed."""

    seconds: float
    summary: str
    failed_cells: dict[str, list[str]]
    """Notebook path -> numbers of its failed cells."""
    command: list[str]
    cell_seconds: dict[str, dict[int, float]]
    """Notebook path -> cell number -> seconds (setup, call and teardown: the first cell's setup starts the kernel)."""
    lab_peaks_mb: list[float]
    """Each worker's lab: its highest RSS (lab process + its registry) during the run, MB, highest first."""
    output: str
    """pytest's stdout and stderr (kept in a file when cells failed)."""
    cpu_busy: float
    """The machine's CPUs busy during the run, 0-1 (everything on the machine, the Docker engine included)."""
    cpu_by_kind: dict[str, float]
    """CPU seconds of the processes seen during the run, by kind (:meth:`SuiteSampler.cpu_by_kind`)."""


class SuiteSampler:
    """Samples the machine's processes once a second while the suite runs: each lab's highest RSS (the
    ``ecslab.lab.server`` processes below the pytest process ``root_pid``, each with its ``docker-registry``
    child) and the CPU every process used, by kind (:func:`_kind`)."""

    def __init__(self, root_pid: int, interval: float = 1.0) -> None:
        self.root_pid, self.interval = root_pid, interval
        self.peaks: dict[int, float] = {}
        self.cpu: dict[tuple[int, str], tuple[str, float, float]] = {}  # (pid, start) -> (kind, first seen, last seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="suite-sampler", daemon=True)

    def start(self) -> None:
        self.sample()  # CPU already spent by processes that were there before the run is not the run's
        self._thread.start()

    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds the run's processes used, by kind (what was seen by a sample: a process that lived less than a
        second between two samples, a build step, is missed)."""
        used: dict[str, float] = {}
        for kind, first, last in self.cpu.values():
            used[kind] = used.get(kind, 0.0) + last - first
        return used

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except (OSError, KeyError):
                continue  # a process ended while being read (or is a zombie, with no memory): the next sample

    def sample(self) -> None:
        running = processes()
        for process in running.values():
            key = (process.pid, process.started)
            kind, first, _ = self.cpu.get(key, (_kind(process, running), process.cpu_s, process.cpu_s))
            self.cpu[key] = (kind, first, process.cpu_s)
        for pid in descendants(self.root_pid, running):
            if "ecslab.lab.server" not in running[pid].command:
                continue
            family = [pid] + [child.pid for child in running.values() if child.ppid == pid]
            total = sum(process_memory(member).rss_mb for member in family)
            self.peaks[pid] = max(self.peaks.get(pid, 0.0), total)


def _kind(process: Process, running: dict[int, Process]) -> str:
    """What a process is, for the CPU breakdown of the suite."""
    if process.is_engine:
        return "Docker engine (dockerd, containerd, shims, runc)"
    if process.name == "docker-registry":
        return "registries"
    if "ecslab.lab.server" in process.command:
        return "labs (moto and the fillers)"
    if "ipykernel" in process.command:
        return "notebook kernels"
    if "pytest" in process.command:
        return "pytest and nbval"
    seen, parent = set(), running.get(process.ppid)
    while parent is not None and parent.pid > 1 and parent.pid not in seen:  # inside a container: below a shim
        if parent.name.startswith("containerd-shim"):
            return "containers (the apps, build steps)"
        seen.add(parent.pid)
        parent = running.get(parent.ppid)
    return "other processes"


def nbval_suite(root: Path, workers: int) -> SuiteRun:
    """Run the nbval suite in ``root`` as CI does: a private lab per worker (``-p tests.conftest``), with
    ``-n WORKERS --dist loadfile --no-loadscope-reorder`` when pytest-xdist is installed, and every cell's duration."""
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "--nbval", *FOLDERS]
    command += ["--nbval-sanitize-with", SANITIZE.name, "-q", "-rf", "--color=no", "-p", "no:cacheprovider"]
    command += ["--durations=0", "--durations-min=0"]
    if workers > 1 and importlib.util.find_spec("xdist") is not None:
        command += ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    cpu_before = machine_busy_seconds()
    start = time.perf_counter()
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        sampler = SuiteSampler(process.pid)
        sampler.start()
        try:
            stdout, stderr = process.communicate(timeout=3600)
        finally:
            sampler.stop()
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    seconds = time.perf_counter() - start
    busy = machine_busy_seconds() - cpu_before
    cells: dict[str, dict[int, float]] = {}
    for match in re.finditer(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+?)::Cell (\d+)", result.stdout, flags=re.MULTILINE):
        notebook = cells.setdefault(match[2], {})
        notebook[int(match[3])] = notebook.get(int(match[3]), 0.0) + float(match[1])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if re.search(r"\b(passed|failed|error)", line)), f"exit {result.returncode}")
    failed: dict[str, list[str]] = {}
    for match in re.finditer(r"^FAILED (\S+)::Cell (\d+)", result.stdout, flags=re.MULTILINE):
        failed.setdefault(match[1], []).append(match[2])
    return SuiteRun(
        seconds=seconds,
        summary=summary.strip("= "),
        failed_cells=failed,
        command=command[2:],
        cell_seconds=cells,
        lab_peaks_mb=sorted(sampler.peaks.values(), reverse=True),
        output=result.stdout + result.stderr,
        cpu_busy=busy / (seconds * (os.cpu_count() or 1)),
        cpu_by_kind=sampler.cpu_by_kind(),
    )


def print_where_time_goes(run: SuiteRun, slowest: int = 3) -> None:
    """Each notebook's cell seconds (summed) and its slowest cells, slowest notebook first."""
    totals = sorted(((sum(cells.values()), name) for name, cells in run.cell_seconds.items()), reverse=True)
    for total, name in totals:
        cells = run.cell_seconds[name]
        top = sorted(cells.items(), key=lambda item: item[1], reverse=True)[:slowest]
        print(f"    {name:<44} {total:7.1f} s in cells; slowest: " + ", ".join(f"cell {n} {t:.1f} s" for n, t in top))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-each", action="store_true", help="do not time the notebooks one by one")
    parser.add_argument("--skip-nbval", action="store_true", help="do not time the nbval suite")
    parser.add_argument("--workers", default="4", help="pytest-xdist workers for the nbval suite, e.g. 1,2,4 (default 4)")
    parser.add_argument("--only", default="", help="only the notebooks whose names start with these, e.g. 00,01 (default all)")
    args = parser.parse_args(argv)
    only = tuple(prefix.strip() for prefix in args.only.split(",") if prefix.strip())

    print(machine_header("notebooks"))
    with tempfile.TemporaryDirectory(prefix="ecslab-bench-notebooks-") as tmp:
        root = Path(tmp)
        if not args.skip_each:
            each = root / "each"
            copy_course(each, only)
            print_value("kernel start + 1 cell (baseline)", empty_notebook_time(root), "s")
            runs = [execute(path) for path in notebooks_in(each)]
            for each_run in runs:
                print_value(
                    each_run.path, each_run.seconds, "s", note="ok" if each_run.error is None else f"FAILED {each_run.error}"
                )
            print_value(
                "sum of the notebooks above", sum(each_run.seconds for each_run in runs), "s", note=f"{len(runs)} notebooks"
            )
        if not args.skip_nbval:
            for workers in [int(count) for count in args.workers.split(",") if count.strip()]:
                suite = root / f"suite-{workers}"  # a fresh copy per run: no file of the run before
                copy_course(suite, only)
                run = nbval_suite(suite, workers)
                label = f"nbval suite, {workers} worker{'s' if workers > 1 else ''}" + (
                    f" ({', '.join(only)} only)" if only else ""
                )
                print_value(
                    label,
                    run.seconds,
                    "s",
                    SUITE_GOAL,
                    note=f"{run.summary}; load {load_average()}; the machine's CPUs {run.cpu_busy:.0%} busy",
                )
                for notebook, cells in sorted(run.failed_cells.items()):
                    print(f"    failed cells of {notebook}: {', '.join(sorted(cells, key=int))}")
                if run.failed_cells:
                    log = (
                        Path(tempfile.gettempdir()) / f"ecslab-bench-nbval-{workers}-workers-{time.strftime('%Y%m%d-%H%M%S')}.log"
                    )
                    log.write_text(run.output)
                    print(f"    pytest's output, with the failures: {log}")
                if run.cpu_by_kind:
                    busy = run.cpu_busy * run.seconds * (os.cpu_count() or 1)
                    parts = sorted(run.cpu_by_kind.items(), key=lambda item: -item[1])
                    print(
                        f"    CPU seconds: the machine {busy:.0f} busy; "
                        + ", ".join(f"{kind} {seconds:.0f}" for kind, seconds in parts if seconds >= 1)
                        + f", not seen by the samples (processes under a second) {max(busy - sum(run.cpu_by_kind.values()), 0):.0f}"
                    )
                if run.lab_peaks_mb:
                    print_value(
                        "lab memory under the suite, highest lab",
                        run.lab_peaks_mb[0],
                        "MB",
                        LAB_MEMORY_GOAL,
                        note=f"RSS of a lab process + its registry, peaks of {len(run.lab_peaks_mb)} labs: "
                        + ", ".join(f"{peak:.0f}" for peak in run.lab_peaks_mb),
                    )
                print(f"    (pytest {' '.join(run.command)})")
                print_where_time_goes(run)
    print(f"  load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
