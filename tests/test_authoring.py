"""One source for notebooks, solutions and exercises: stubbing and drift."""

from __future__ import annotations

import pytest

from ecslab import authoring


def test_solution_block_becomes_an_indented_stub() -> None:
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n\nprint(f)"
    assert authoring.strip_solutions(source) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f)"


def test_several_blocks_and_top_level_blocks() -> None:
    source = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nb = 2\n### BEGIN SOLUTION\nc = 3\n### END SOLUTION"
    assert (
        authoring.strip_solutions(source)
        == "# YOUR CODE HERE\nraise NotImplementedError()\nb = 2\n# YOUR CODE HERE\nraise NotImplementedError()"
    )


def test_unmatched_marker_is_an_error() -> None:
    with pytest.raises(ValueError, match="unmatched"):
        authoring.strip_solutions("### BEGIN SOLUTION\na = 1\n")


def test_every_notebook_matches_its_source_and_exercises_match_solutions() -> None:
    assert authoring.drift() == []


def test_every_source_has_its_notebook_and_every_solution_an_exercise() -> None:
    sources = {path.stem for path in (authoring.ROOT / "authoring" / "solutions").glob("*.py")}
    notebooks = {path.stem for path in (authoring.ROOT / "notebooks").glob("*.ipynb")}
    exercises = {path.stem for path in (authoring.ROOT / "exercises").glob("*.ipynb")}
    assert sources == exercises == notebooks, "each notebook needs an exercise source in authoring/solutions/"
