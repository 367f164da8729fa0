"""How long the notebooks take: each one alone (nbclient), and the whole nbval suite.

Goal (from the issue): the whole nbval suite, as CI runs it, in at most 60 s on a
2-core machine::

    pytest --nbval notebooks solutions --nbval-sanitize-with tests/nbval-sanitize.cfg -n 2 --dist loadfile

Every notebook in ``notebooks/`` and ``solutions/`` is timed, whatever exists when
this runs (``exercises/`` are left out: they stop at ``raise NotImplementedError()``).
Both measurements work on a temp copy of the folders, so files a notebook writes
never land in the repository. The notebooks connect to the lab ``ecslab.connect()``
finds (``ECSLAB_HOME`` and ports from the environment; the default lab otherwise),
started first if needed so that no notebook's time includes a cold start. Nothing
here stops or resets that lab.

    python -m benchmarks.notebooks [--skip-nbval] [--skip-each] [--workers 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import REPO, Goal, load_average, machine_header, print_value

SUITE_GOAL = Goal(60, "s")
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


def copy_course(target: Path) -> None:
    """Copy the benchmarked folders and the nbval sanitize file to ``target``."""
    for folder in FOLDERS:
        source = Path(REPO) / folder
        if source.is_dir():
            shutil.copytree(source, target / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(SANITIZE, target / SANITIZE.name)


def ensure_lab() -> str:
    """Start the lab the notebooks will use when it is not running; say which it is."""
    from ecslab.config import LabConfig
    from ecslab.lab import manage

    config = LabConfig.from_env()
    was_running = manage.is_running(config)
    if not was_running:
        manage.up(config, say=lambda _message: None)
    state = "already running" if was_running else "started now, left running"
    return f"lab {config.home} (AWS API {config.endpoint_url}), {state}"


def execute(path: Path, timeout: int = 600) -> NotebookRun:
    """Run every cell of ``path`` in a fresh kernel whose working folder is the notebook's own."""
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
    return execute(path).seconds


@dataclass(frozen=True)
class SuiteRun:
    """The nbval suite run once: wall time, pytest's summary and which cells failed."""

    seconds: float
    summary: str
    failed_cells: dict[str, list[str]]
    """Notebook path -> numbers of its failed cells."""
    command: list[str]


def nbval_suite(root: Path, workers: int) -> SuiteRun:
    """Run the nbval suite in ``root`` as CI does (with ``--dist loadfile`` when pytest-xdist is installed)."""
    command = [sys.executable, "-m", "pytest", "--nbval", *FOLDERS, "--nbval-sanitize-with", SANITIZE.name]
    command += ["-q", "-rf", "--color=no", "-p", "no:cacheprovider"]
    if workers > 1 and importlib.util.find_spec("xdist") is not None:
        command += ["-n", str(workers), "--dist", "loadfile"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if re.search(r"\b(passed|failed|error)", line)), f"exit {result.returncode}")
    failed: dict[str, list[str]] = {}
    for match in re.finditer(r"^FAILED (\S+)::Cell (\d+)", result.stdout, flags=re.MULTILINE):
        failed.setdefault(match[1], []).append(match[2])
    return SuiteRun(seconds=seconds, summary=summary.strip("= "), failed_cells=failed, command=command[2:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-each", action="store_true", help="do not time the notebooks one by one")
    parser.add_argument("--skip-nbval", action="store_true", help="do not time the nbval suite")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers for the nbval suite (default 2)")
    args = parser.parse_args(argv)

    print(machine_header("notebooks"))
    print(f"  {ensure_lab()}")
    with tempfile.TemporaryDirectory(prefix="ecslab-bench-notebooks-") as tmp:
        root = Path(tmp)
        if not args.skip_each:
            each = root / "each"
            copy_course(each)
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
            suite = root / "suite"
            copy_course(suite)
            run = nbval_suite(suite, args.workers)
            print_value("nbval suite", run.seconds, "s", SUITE_GOAL, note=run.summary)
            for notebook, cells in sorted(run.failed_cells.items()):
                print(f"    failed cells of {notebook}: {', '.join(sorted(cells, key=int))}")
            print(f"    (pytest {' '.join(run.command)})")
    print(f"  load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
