"""One source for notebooks, solutions and exercises: stubbing and drift."""

from __future__ import annotations

import csv
import sys
import types
from pathlib import Path

import nbformat
import pytest

import ecslab.checks
from ecslab import authoring
from ecslab.grade import release, report, runner


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


def test_a_lettered_exercise_is_released_found_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exercise notebook added between two (a made-up ``06c-deployment-strategies`` beside the real 06b, checker ``ecslab.checks.ex06c``, checks
    ``6c.1``...): a synthetic release of it is recorded, its submissions are found by name, by check ids and by
    ``--exercise 6c``, without taking exercise 06's, and the gradebook names its checks."""
    checker = types.ModuleType("ecslab.checks.ex06c")
    checker.POINTS = {"6c.2": 3}  # type: ignore[attr-defined]
    checker.check_strategy = lambda strategy, lab: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ecslab.checks.ex06c", checker)
    assert ecslab.checks.ex06c is checker
    with pytest.raises(AttributeError):
        ecslab.checks.ex06d  # noqa: B018 - no such checker: the lazy loader says so as an attribute error

    def exercise(stem: str, ids: list[str]) -> nbformat.NotebookNode:
        module = "ex" + stem.split("-", 1)[0]
        cells = [nbformat.v4.new_code_cell("def strategy(lab):\n    raise NotImplementedError()")]
        cells += [
            nbformat.v4.new_code_cell(
                f'"""Check {ident}: strategy is right."""\necslab.checks.{module}.check_strategy(strategy, lab)'
            )
            for ident in ids
        ]
        for index, cell in enumerate(cells):
            cell.id = f"cell-{index:02d}"
        return release.tag_check_cells(nbformat.v4.new_notebook(cells=cells))

    lettered = exercise("06c-deployment-strategies", ["6c.1", "6c.2"])
    record = {
        "06-load-balancing": {"exercise": "06", "notebook": "06-load-balancing.ipynb", "checks": [{"id": "6.1"}]},
        "06c-deployment-strategies": release.manifest("06c-deployment-strategies", lettered),
    }
    entry = record["06c-deployment-strategies"]
    assert entry["exercise"] == "06c"
    assert [(c["id"], c["module"], c["function"], c["points"]) for c in entry["checks"]] == [
        ("6c.1", "ex06c", "check_strategy", 1),
        ("6c.2", "ex06c", "check_strategy", 3),
    ]
    assert [cell.metadata.get("ecslab", {}).get("check") for cell in lettered.cells] == [None, "6c.1", "6c.2"]
    assert [release.exercise_key(n) for n in ("5", "05", "6c", "06C", "10")] == ["05", "05", "06c", "06c", "10"]

    folder = tmp_path / "class"
    (folder / "bob").mkdir(parents=True)
    (folder / "carol").mkdir()
    nbformat.write(lettered, folder / "alice.ipynb")  # found by its check cells' ids
    nbformat.write(lettered, folder / "bob" / "06c-deployment-strategies.ipynb")  # by its name
    nbformat.write(nbformat.v4.new_notebook(), folder / "carol" / "06-load-balancing.ipynb")
    found, skipped = runner.find_submissions(folder, record)
    assert (
        sorted((s.learner, s.exercise) for s in found)
        == [
            ("alice", "06c-deployment-strategies"),
            ("bob", "06c-deployment-strategies"),
            ("carol", "06-load-balancing"),
        ]
        and skipped == []
    )
    for wanted, key in (("6c", "06c-deployment-strategies"), ("06c", "06c-deployment-strategies"), ("6", "06-load-balancing")):
        assert {s.exercise for s in runner.find_submissions(folder, record, wanted)[0]} == {key}

    result = runner.SubmissionResult("alice", "06c-deployment-strategies", "alice.ipynb")
    result.checks = [
        runner.CheckResult("6c.1", 1, 1, True, "passed", "Passed", 1.0),
        runner.CheckResult("6c.2", 0, 3, False, "failed", "Exercise 6c.2: not yet.", 1.0),
    ]
    written = report.write_reports([result], tmp_path / "grades")
    rows = list(csv.DictReader(written["csv"].open()))
    assert [(row["exercise"], row["check"], row["points"], row["max_points"]) for row in rows] == [
        ("06c-deployment-strategies", "6c.1", "1", "1"),
        ("06c-deployment-strategies", "6c.2", "0", "3"),
    ]
    assert "06c-deployment-strategies check 6c.2: 0/1 passed" in report.summary([result])


def _prose_tree(root: Path, markdown: str, code: str) -> Path:
    source = root / "authoring" / "notebooks" / "98-prose.py"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(f"# %% [markdown]\n# {markdown}\n\n# %%\n{code}\n")
    return source


def test_prose_refresh_rewrites_markdown_only_and_refuses_changed_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    # given: a notebook built (with an output) from a source
    monkeypatch.setattr(authoring, "ROOT", tmp_path)
    source = _prose_tree(tmp_path, "Old words.", "1 + 1")
    built = authoring.read_source(source)
    built.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    authoring._write(built, tmp_path / "notebooks" / "98-prose.ipynb")
    # when: only the prose changes
    _prose_tree(tmp_path, "New words.", "1 + 1")
    refused = authoring.refresh_prose(["98"], say=lambda _: None)
    # then: the markdown is new, the output kept
    after = nbformat.read(tmp_path / "notebooks" / "98-prose.ipynb", as_version=4)
    assert refused == [] and after.cells[0].source == "New words." and after.cells[1].outputs[0]["data"]["text/plain"] == "2"
    # and when the code changes too, the notebook is left alone and named
    _prose_tree(tmp_path, "Newer words.", "2 + 2")
    assert authoring.refresh_prose(["98"], say=lambda _: None) == ["notebooks/98-prose.ipynb"]
    assert nbformat.read(tmp_path / "notebooks" / "98-prose.ipynb", as_version=4).cells[0].source == "New words."
