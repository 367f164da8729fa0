"""CI's phases: how long each phase of ``scripts/test.sh`` takes, beside the issue's goals.

Goals (issue 17; printed, never asserted), on a fresh 2-core machine:

- what ``.ci/run`` runs today (machine setup, lint, drift, unit tests, nbval): at most 20 min;
- the nbval suite (notebooks and solutions): at most 180 s;
- everything, with what other issues add as phases of their own (course image, hub, grading): at most 45 min.

``scripts/test.sh`` prints ``-- PHASE: N s`` after each phase and a table at the end; this script
runs it (``--workers N`` sets ``ECSLAB_TEST_WORKERS``) or reads the output of a run saved before
(``--log FILE``: ``bash .ci/run 2>&1 | tee ci.log``), and prints each phase beside its goal.
Running it runs the whole suite (about 20-40 minutes on a 2-core machine).

    python -m benchmarks.ci_phases --log ci.log
    python -m benchmarks.ci_phases [--workers 4] [--skip-course-image]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import REPO, Goal, load_average, machine_header, print_value

TODAY_GOAL = Goal(20, "min")
NBVAL_GOAL = Goal(180, "s")
WHOLE_GOAL = Goal(45, "min")
TODAY_PHASES = (
    "machine setup",
    "lint and types",
    "notebooks match their sources",
    "fast unit tests",
    "lab unit tests",
    "notebooks and",
)
"""Phases (by the start of their names) that make up what CI ran before other issues added phases."""


def phase_times(output: str) -> dict[str, int]:
    """``-- PHASE: N s`` lines of ``scripts/test.sh``'s output, in order."""
    return {match[1]: int(match[2]) for match in re.finditer(r"^-- (.+): (\d+) s$", output, flags=re.MULTILINE)}


def run_test_sh(workers: int, skip_course_image: bool) -> tuple[str, float, int]:
    """Run ``scripts/test.sh`` and echo its output; return the output, wall seconds and exit status."""
    env = dict(os.environ, ECSLAB_TEST_WORKERS=str(workers))
    if skip_course_image:
        env["ECSLAB_SKIP_COURSE_IMAGE"] = "1"
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "scripts/test.sh"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return "".join(lines), time.monotonic() - started, process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, help="read a saved run of scripts/test.sh (or .ci/run) instead of running it")
    parser.add_argument("--workers", type=int, default=4, help="ECSLAB_TEST_WORKERS for the run (default 4)")
    parser.add_argument("--skip-course-image", action="store_true", help="set ECSLAB_SKIP_COURSE_IMAGE for the run")
    args = parser.parse_args(argv)

    print(machine_header("CI's phases (scripts/test.sh)"))
    if args.log is not None:
        output, status = args.log.read_text(), 0
        print(f"  from {args.log}")
    else:
        output, _wall, status = run_test_sh(args.workers, args.skip_course_image)
    times = phase_times(output)
    if not times:
        print("  no phase times found (scripts/test.sh prints '-- PHASE: N s')")
        return 0
    for name, seconds in times.items():
        goal = NBVAL_GOAL if name.startswith("notebooks and") else None
        print_value(name, seconds, "s", goal)
    today = sum(seconds for name, seconds in times.items() if name.startswith(TODAY_PHASES)) / 60
    print_value("what CI ran before other issues' phases", today, "min", TODAY_GOAL)
    print_value(
        "every phase", sum(times.values()) / 60, "min", WHOLE_GOAL, note="" if status == 0 else f"test.sh exited {status}"
    )
    print(f"  load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
