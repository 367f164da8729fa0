"""Blank exercises must fail every check; the solutions' passing is nbval's job.

Each exercise notebook (generated from its solution) is executed as a learner
would find it. Every check cell (a code cell whose first line is a docstring
starting with "Check") must end in an error that says the exercise is not done.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


def is_check_cell(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith('"""Check')


@pytest.mark.parametrize("path", EXERCISES, ids=[path.stem for path in EXERCISES])
def test_blank_exercise_fails_every_check(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    checks = [cell for cell in notebook.cells if is_check_cell(cell)]
    assert checks, f"{path.name} has no check cells"
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    for cell in checks:
        errors = [output for output in cell.outputs if output.output_type == "error"]
        first_line = cell.source.splitlines()[0]
        assert errors, f"{path.name}: {first_line} passed on a blank exercise"
        assert errors[0].ename == "NotDone", f"{path.name}: {first_line} failed with {errors[0].ename}: {errors[0].evalue}"
        assert "is not done yet" in errors[0].evalue
