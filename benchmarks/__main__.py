"""``python -m benchmarks``: every benchmark in turn, each printing its figures and goals."""

from __future__ import annotations

import sys

from benchmarks import deployments, ecs_and_alb, lab_cold_start, notebooks, scale


def main() -> int:
    """Run the lab cold-start benchmark, the notebook timings (nbval with 4 workers), the ECS/ALB
    figures, the deployment strategies' figures and the scale table; never fails on a missed goal.

    No options: run each module (``python -m benchmarks.notebooks --workers 1,2,4``...) on its own
    to pass some; ``python -m benchmarks.ci_phases`` (the whole test suite) is not run from here."""
    status = lab_cold_start.main([])
    print()
    status |= notebooks.main([])
    print()
    status |= ecs_and_alb.main([])
    print()
    status |= deployments.main([])
    print()
    status |= scale.main([])
    return status


if __name__ == "__main__":
    sys.exit(main())
