"""The release: the exercise notebooks learners receive, and what the grader needs to know about their check cells.

A check cell is a code cell whose source starts with ``\"\"\"Check N.M: ...`` and calls one checker,
``ecslab.checks.exNN.check_x(name, ..., lab)``. An exercise may carry a letter after its number (notebook
``06b-deployment-strategies``, checker ``ecslab.checks.ex06b``, checks ``6b.1``...): see :data:`EXERCISE`. The authoring build tags it (``tags: ["check"]``,
``metadata.ecslab.check: "N.M"``); :func:`manifest` records, per exercise, each check's id, cell id, source, the
source's SHA-256, the checker and its argument names, and the points the checker module gives it
(``POINTS``, default 1). ``ecslab grade --release`` writes the notebooks and ``release.json`` beside them; the
grader runs check cells from this record, never from a learner's copy, and reports a learner's edit of one.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "CHECK_TAG",
    "EXERCISE",
    "MANIFEST",
    "check_id",
    "check_call",
    "exercise_key",
    "manifest",
    "source_hash",
    "tag_check_cells",
]

CHECK_TAG = "check"
MANIFEST = "release.json"
EXERCISE = r"\d+[a-z]?"
"""An exercise's number as check ids spell it: ``6``, or with a letter for a notebook added between two (``6b``)."""
_CHECK = re.compile(rf'^\s*"""Check ({EXERCISE}\.\d+):')


def exercise_key(number: str) -> str:
    """The release key prefix of exercise ``number``: ``"5"`` and ``"05"`` give ``"05"``, ``"6b"`` gives ``"06b"``."""
    match = re.fullmatch(r"0*(\d+)([a-z]?)", number.strip().lower())
    if not match:
        raise ValueError(f"not an exercise number: {number!r} (e.g. 05, or 06b)")
    return f"{int(match[1]):02d}{match[2]}"


def check_id(source: str) -> str | None:
    """``"0.1"`` (or ``"6b.1"``) for a check cell's source (its docstring says ``Check 0.1:``), else None."""
    match = _CHECK.match(source)
    return match[1] if match else None


def source_hash(source: str) -> str:
    return hashlib.sha256(source.strip().encode()).hexdigest()


def check_call(source: str) -> tuple[str, str, list[str]]:
    """(module, function, argument names) of the one ``ecslab.checks.exNN.check_x(a, b, ...)`` call in a check cell."""
    tree = ast.parse(source)
    calls = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
    ]
    if len(calls) != 1:
        raise ValueError(f"a check cell makes exactly one checker call:\n{source}")
    call = calls[0]
    func = call.func
    assert isinstance(func, ast.Attribute)
    dotted = ast.unparse(func).split(".")
    if len(dotted) != 4 or dotted[:2] != ["ecslab", "checks"] or call.keywords:
        raise ValueError(f"a check cell calls ecslab.checks.exNN.check_x(name, ...):\n{source}")
    names = []
    for arg in call.args:
        if not isinstance(arg, ast.Name):
            raise ValueError(f"a check cell passes names only:\n{source}")
        names.append(arg.id)
    return dotted[2], dotted[3], names


def tag_check_cells(notebook: Any) -> Any:
    """Tag ``notebook``'s check cells (``tags: ["check"]``, ``metadata.ecslab.check``) in place; returns it."""
    for cell in notebook.cells:
        if cell.cell_type != "code" or (ident := check_id(cell.source)) is None:
            continue
        metadata = cell.setdefault("metadata", {})
        tags = list(metadata.get("tags", []))
        if CHECK_TAG not in tags:
            tags.append(CHECK_TAG)
        metadata["tags"] = tags
        metadata["ecslab"] = {"check": ident}
    return notebook


def points(module: str, ident: str) -> int:
    """The points ``ecslab.checks.<module>.POINTS`` gives check ``ident`` (1 when it does not say)."""
    checker = importlib.import_module(f"ecslab.checks.{module}")
    return int(getattr(checker, "POINTS", {}).get(ident, 1))


def manifest(stem: str, notebook: Any) -> dict[str, Any]:
    """What the grader needs about exercise notebook ``stem`` (e.g. ``00-setup``): its check cells, in order."""
    checks = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or (ident := check_id(cell.source)) is None:
            continue
        module, function, args = check_call(cell.source)
        checks.append(
            {
                "id": ident,
                "cell": cell.get("id") or f"cell-{index:02d}",
                "source": cell.source,
                "sha256": source_hash(cell.source),
                "module": module,
                "function": function,
                "args": args,
                "points": points(module, ident),
            }
        )
    return {"exercise": stem.split("-", 1)[0], "notebook": f"{stem}.ipynb", "checks": checks}


def load(folder: Path) -> dict[str, Any]:
    """The release record ``folder/release.json`` (``ecslab grade --release`` writes it)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `ecslab grade --release` first")
    return dict(json.loads(path.read_text()))
