"""The course map (notebook 00) names every notebook of the course, in order, and nothing else."""

from __future__ import annotations

from pathlib import Path

from ecslab import diagrams

ROOT = Path(__file__).resolve().parent.parent


def test_the_course_map_lists_exactly_the_course_notebooks_in_order() -> None:
    on_disk = sorted(path.name.split("-", 1)[0] for path in (ROOT / "notebooks").glob("[0-9][0-9]*-*.ipynb"))
    assert [number for number, _title, _section in diagrams.COURSE] == on_disk
