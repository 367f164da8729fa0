"""``python -m benchmarks``: every benchmark in turn, each printing its figures and goals."""

from __future__ import annotations

import sys

from benchmarks import ecs_and_alb, lab_cold_start, notebooks


def main() -> int:
    """Run the lab cold-start benchmark, then the notebook timings; never fails on a missed goal.

    No options: run ``python -m benchmarks.lab_cold_start`` or ``python -m benchmarks.notebooks``
    on their own to pass some."""
    status = lab_cold_start.main([])
    print()
    status |= notebooks.main([])
    print()
    status |= ecs_and_alb.main([])
    return status


if __name__ == "__main__":
    sys.exit(main())
