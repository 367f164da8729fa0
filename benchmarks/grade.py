"""How fast ``ecslab grade`` grades a class: N submissions of exercise 05 with 1, 2 and 4 workers, beside the serial
time of running the same notebooks with plain ``pytest --nbval-lax`` one after another (issue 13).

The class is made here, four kinds in turn: solutions (``solutions/05-deploy-to-ecs.ipynb``), blank exercises, broken
ones (5.1 solved, then a cell that raises, 5.2 and 5.3 left blank) and attacks (a blank exercise that, before its
checks, silences errors with ``set_custom_exc``, replaces the checkers with ones that print a green line, and prints
one itself). Printed, not asserted: per run the wall time, the time per submission and the machine's 1-minute load
average before and after (the machine may be shared). Goal: 30 submissions in at most 5 minutes on 2 cores, at least
2.5 times faster than the serial run.

When the whole benchmark does not fit the time there is, ``--serial-count K`` runs the serial baseline over the
first K submissions only and ``--extrapolate-to N`` prints, for every run of fewer than N submissions, the time N
would take at the measured time per submission. Such lines say EXTRAPOLATED: they are estimates, not measurements.

Last measured: see README "Grading a class with ``ecslab grade``".

    python -m benchmarks.grade [--count 30] [--workers 1 2 4] [--skip-serial] [--serial-count K] [--extrapolate-to N]

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


ATTACK = """get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
import ecslab.checks
from ecslab.checks import Passed
for name in ("check_deploy_service", "check_task_urls", "check_roll_to_v2"):
    setattr(ecslab.checks.ex05, name, lambda *args, **kwargs: print("Passed: exercise 5.1. forged"))
print("Passed: exercise 5.1. forged")
"""
"""What an attacking submission runs before its first check: none of it may make a check pass."""


def make_class(folder: Path, count: int) -> list[Path]:
    """``count`` notebooks of exercise 05 in ``folder``: solutions, blanks, broken ones and attacks, in turn."""
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
    attack = copy.deepcopy(blank)
    first_check = next(i for i, cell in enumerate(attack.cells) if cell.cell_type == "code" and '"""Check 5.' in cell.source)
    attack.cells.insert(first_check, nbformat.v4.new_code_cell(ATTACK))
    kinds = [("solution", solution), ("blank", blank), ("broken", broken), ("attack", attack)]
    paths = []
    for number in range(count):
        kind, notebook = kinds[number % len(kinds)]
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


def _extrapolated(name: str, seconds: float, measured: int, target: int, goal: Goal | None = None) -> None:
    """The time ``target`` submissions would take at the measured time per submission, labelled as an estimate."""
    if measured >= target:
        return
    print_value(
        f"EXTRAPOLATED {name}, {target} submissions",
        seconds / measured * target,
        "s",
        goal,
        note=f"estimate: {seconds / measured:.1f} s per submission x {target}, from {measured} measured",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grade")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--skip-serial", action="store_true")
    parser.add_argument("--serial-count", type=int, default=None, help="serial baseline over the first K submissions only")
    parser.add_argument("--extrapolate-to", type=int, default=None, help="also print the time N submissions would take")
    args = parser.parse_args(argv)
    target = args.extrapolate_to or args.count
    print(machine_header(f"ecslab grade: {args.count} submissions of exercise 05 (solutions, blanks, broken, attacks)"))
    with tempfile.TemporaryDirectory(prefix="ecslab-bench-grade-") as temporary:
        paths = make_class(Path(temporary), args.count)
        serial_per_submission = None
        if not args.skip_serial:
            subset = paths[: args.serial_count] if args.serial_count else paths
            load_before = load_average()
            serial = serial_nbval(subset)
            serial_per_submission = serial / len(subset)
            print_value(
                f"serial pytest --nbval-lax ({len(subset)} submissions)",
                serial,
                "s",
                note=f"{serial_per_submission:.1f} s per submission; load {load_before} -> {load_average()}",
            )
            _extrapolated("serial pytest --nbval-lax", serial, len(subset), target)
        for workers in args.workers:
            load_before = load_average()
            seconds, summary = graded(paths, workers)
            per_submission = seconds / len(paths)
            speedup = f", {serial_per_submission / per_submission:.1f}x the serial run" if serial_per_submission else ""
            print_value(
                f"ecslab grade --workers {workers} ({len(paths)} submissions)",
                seconds,
                "s",
                CLASS_GOAL if len(paths) >= 30 else None,
                note=f"{per_submission:.1f} s per submission{speedup}; load {load_before} -> {load_average()}",
            )
            _extrapolated(f"ecslab grade --workers {workers}", seconds, len(paths), target, CLASS_GOAL)
            print("    " + summary.replace("\n", "\n    "), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
