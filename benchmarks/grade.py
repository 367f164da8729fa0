"""How fast ``ecslab grade`` grades a class: N submissions of exercise 05 with 1, 2 and 4 workers, beside the serial
time of running the same notebooks with plain ``pytest --nbval-lax`` one after another (issue 13).

The class is made here: a third solutions (``solutions/05-deploy-to-ecs.ipynb``), a third blank exercises, a third
broken ones (5.1 solved, then a cell that raises, 5.2 and 5.3 left blank). Printed, not asserted. Goal: 30
submissions in at most 5 minutes on 2 cores, at least 2.5 times faster than the serial run.

Last measured (2026-12-06, 2 cores shared with other test runs, load average 4-6), ``--count 6 --workers 1 2``:
serial ``pytest --nbval-lax`` 208.4 s; ``ecslab grade`` with 1 worker 158.9 s (1.3x), with 2 workers 82.2 s (2.5x);
the same verdicts both times (5.1: 4/6, 5.2: 2/6, 5.3: 2/6). The 30-submission run was not made that day.

    python -m benchmarks.grade [--count 30] [--workers 1 2 4] [--skip-serial]

Every run grades on private labs (``ecslab.lab.private``); the serial run uses one private lab, reset before each
notebook, as the grader does. Nothing here touches the default lab.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import REPO, Goal, load_average, machine_header, print_value

STEM = "05-deploy-to-ecs"
CLASS_GOAL = Goal(300, "s")


def make_class(folder: Path, count: int) -> list[Path]:
    """``count`` notebooks of exercise 05 in ``folder``: solutions, blanks and broken ones, in turn."""
    import nbformat

    solution = nbformat.read(Path(REPO) / "solutions" / f"{STEM}.ipynb", as_version=4)
    blank = nbformat.read(Path(REPO) / "exercises" / f"{STEM}.ipynb", as_version=4)
    broken = copy.deepcopy(blank)
    solved = {cell.id: cell.source for cell in solution.cells}
    first = True
    for index, cell in enumerate(broken.cells):
        if cell.cell_type == "code" and "NotImplementedError" in cell.source and first:
            cell.source = solved[cell.id]
            first = False
            broken.cells.insert(index + 1, nbformat.v4.new_code_cell("raise RuntimeError('a learner typo')"))
            break
    kinds = [("solution", solution), ("blank", blank), ("broken", broken)]
    paths = []
    for number in range(count):
        kind, notebook = kinds[number % 3]
        path = folder / f"learner{number:02d}-{kind}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)
    return paths


def serial_nbval(paths: list[Path]) -> float:
    """Seconds for ``pytest --nbval-lax`` over each notebook in turn, on one private lab reset before each."""
    from ecslab.lab import manage
    from ecslab.lab.private import PrivateLab

    with PrivateLab() as lab:
        env = {**os.environ, **lab.env()}
        started = time.monotonic()
        for path in paths:
            manage.reset(lab.config, say=lambda _message: None)
            subprocess.run(
                [sys.executable, "-m", "pytest", "--nbval-lax", str(path), "-q", "-p", "no:cacheprovider"],
                env=env,
                cwd=path.parent,
                capture_output=True,
                check=False,
            )
        return time.monotonic() - started


def graded(paths: list[Path], workers: int) -> tuple[float, str]:
    from ecslab.grade import release, report, runner

    record = release.load(Path(REPO) / "exercises")
    found, _skipped = runner.find_submissions(paths[0].parent, record, "05")
    started = time.monotonic()
    results = runner.grade(found, record, workers=workers)
    seconds = time.monotonic() - started
    return seconds, report.summary(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grade")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--skip-serial", action="store_true")
    args = parser.parse_args(argv)
    print(machine_header(f"ecslab grade: {args.count} submissions of exercise 05"))
    with tempfile.TemporaryDirectory(prefix="ecslab-bench-grade-") as temporary:
        paths = make_class(Path(temporary), args.count)
        serial = None
        if not args.skip_serial:
            serial = serial_nbval(paths)
            print_value("serial pytest --nbval-lax", serial, "s", note=f"load {load_average()}")
        for workers in args.workers:
            seconds, summary = graded(paths, workers)
            speedup = f"{serial / seconds:.1f}x the serial run" if serial else ""
            print_value(f"ecslab grade --workers {workers}", seconds, "s", CLASS_GOAL if args.count >= 30 else None, note=speedup)
            print("    " + summary.replace("\n", "\n    "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
