"""``ecslab grade``: a folder of submitted exercise notebooks in, a gradebook out (issue 13).

- :mod:`ecslab.grade.release`: the released exercises and the record of their check cells (``release.json``);
- :mod:`ecslab.grade.kernel`: a learner's fenced kernel (timeouts, memory and pids limits, cut output);
- :mod:`ecslab.grade.remote`: the data channel from the grader's checks to the learner's functions;
- :mod:`ecslab.grade.runner`: one submission, and workers with private labs;
- :mod:`ecslab.grade.report`: ``gradebook.csv``, ``gradebook.html``, feedback files.

Where the verdict is decided: in the grader's worker process, never in the learner's kernel (see runner).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _bar(done: int, total: int, result: Any, started: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    line = (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {time.monotonic() - started:5.0f} s  {result.learner[:30]:30}"
    )
    sys.stderr.write(line)
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(
    submissions: Path | None,
    exercise: str | None = None,
    workers: int = 2,
    timeout: float = 300.0,
    submission_timeout: float = 900.0,
    out: Path = Path("grades"),
    release_folder: Path | None = None,
    do_release: bool = False,
) -> int:
    from ecslab import authoring
    from ecslab.grade import release, report, runner

    folder = release_folder or authoring.ROOT / "exercises"
    if do_release:
        path = authoring.release(folder)
        print(f"Released the exercises into {folder} (check cells recorded in {path.name}).")
        return 0
    if submissions is None:
        print("ecslab grade: give the folder of submissions (or --release)", file=sys.stderr)
        return 2
    record = release.load(folder)
    found, skipped = runner.find_submissions(submissions, record, exercise)
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    if not found:
        print(f"ecslab grade: no exercise notebook found in {submissions}", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"Grading {len(found)} submission(s) with {workers} worker(s)...", file=sys.stderr)
    results = runner.grade(
        found,
        record,
        workers=workers,
        cell_timeout=timeout,
        submission_timeout=submission_timeout,
        progress=lambda done, total, result: _bar(done, total, result, started),
    )
    paths = report.write_reports(results, out)
    print(report.summary(results))
    print(f"Took {time.monotonic() - started:.0f} s. Wrote {paths['csv']}, {paths['html']} and {paths['feedback']}/.")
    return 0
