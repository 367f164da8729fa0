"""The nbval suite starts with its longest notebooks (tests/conftest.py, NOTEBOOK_SECONDS): every notebook
and solution on disk has a measured time under a key of its own, so a new notebook is not silently run last."""

from __future__ import annotations

from pathlib import Path

from tests import conftest

ROOT = Path(__file__).resolve().parent.parent


def keys() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in ("notebooks", "solutions"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            key = f"{folder}/{path.name.split('-', 1)[0]}"
            assert key not in found, f"{path} and {found[key]} share the key {key}"
            found[key] = path
    return found


def test_every_notebook_has_a_measured_time() -> None:
    missing = sorted(set(keys()) - set(conftest.NOTEBOOK_SECONDS))
    assert not missing, (
        f"no time in tests/conftest.py NOTEBOOK_SECONDS for {missing}: run python -m benchmarks.notebooks and add them"
    )


def test_no_time_for_a_notebook_that_is_gone() -> None:
    assert not sorted(set(conftest.NOTEBOOK_SECONDS) - set(keys()))
