"""For instructors and maintainers: build the course's notebooks from one source.

Sources are jupytext "percent" files under ``authoring/`` (plain Python, easy to
review and diff):

- ``authoring/notebooks/NN-topic.py`` -> ``notebooks/NN-topic.ipynb`` (executed, outputs stored)
- ``authoring/solutions/NN-topic.py`` -> ``solutions/NN-topic.ipynb`` (executed) and
  ``exercises/NN-topic.ipynb`` (each ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
  block replaced by ``raise NotImplementedError()``, no outputs), as nbgrader does.

``python -m ecslab.authoring build [NAME ...]`` rebuilds and re-executes;
``python -m ecslab.authoring check`` lists drift between sources and notebooks
(``tests/test_authoring.py`` runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.S | re.M)


def strip_solutions(source: str) -> str:
    """Replace every solution block with the stub, keeping its indentation."""

    def stub(match: re.Match[str]) -> str:
        indent = match[1]
        return "\n".join(indent + line for line in STUB.splitlines()) + match[2]

    result = _SOLUTION.sub(stub, source)
    if "### BEGIN SOLUTION" in result or "### END SOLUTION" in result:
        raise ValueError("An unmatched ### BEGIN SOLUTION / ### END SOLUTION marker is left in:\n" + source)
    return result


def read_source(path: Path) -> Any:
    import jupytext

    notebook = jupytext.read(path)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if path.parent.name == "solutions":
        from ecslab.grade.release import tag_check_cells

        notebook.metadata["ecslab"] = {"exercise": path.stem}
        tag_check_cells(notebook)  # the grader finds check cells by tag and id (ecslab.grade.release)
    return notebook


def exercise_from_solution(solution: Any) -> Any:
    import copy

    exercise = copy.deepcopy(solution)
    for cell in exercise.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return exercise


def execute(notebook: Any, folder: Path, timeout: int = 900) -> Any:
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def _write(notebook: Any, path: Path) -> None:
    import nbformat

    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"  # stable ids keep diffs of rebuilt notebooks small
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def build(
    names: list[str] | None = None, run: bool = True, say: Any = print, kinds: tuple[str, ...] = ("notebooks", "solutions")
) -> None:
    """Convert (and with ``run`` execute) the sources ``names`` (all when empty) of ``kinds``: ``notebooks`` and/or
    ``solutions`` (which writes the exercise too); then ``exercises/release.json``."""
    for kind in kinds:
        for source in sorted((ROOT / "authoring" / kind).glob("*.py")):
            if names and source.stem not in names and not any(source.stem.startswith(n) for n in names):
                continue
            notebook = read_source(source)
            if kind == "solutions":
                _write(exercise_from_solution(notebook), ROOT / "exercises" / f"{source.stem}.ipynb")
            target = ROOT / kind / f"{source.stem}.ipynb"
            if run:
                started = time.monotonic()
                execute(notebook, target.parent)
                say(f"executed {kind}/{target.name} in {time.monotonic() - started:.1f} s")
            _write(notebook, target)
    write_manifest()


def release(out: Path, solutions: Path | None = None) -> Path:
    """``ecslab grade --release``: write the exercise notebooks (solution blocks stubbed, outputs cleared) and ``release.json`` into ``out``."""
    import json

    import nbformat

    from ecslab.grade.release import MANIFEST, manifest

    solutions = solutions or ROOT / "authoring" / "solutions"
    out.mkdir(parents=True, exist_ok=True)
    record = {}
    for source in sorted(Path(solutions).glob("*.py")):
        exercise = exercise_from_solution(read_source(source))
        for index, cell in enumerate(exercise.cells):
            cell["id"] = f"cell-{index:02d}"
        exercise.metadata["ecslab"] = {"exercise": source.stem}
        record[source.stem] = manifest(source.stem, exercise)
        nbformat.write(exercise, out / f"{source.stem}.ipynb")
    path = out / MANIFEST
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def write_manifest() -> None:
    """``exercises/release.json``: the exercises' check cells as the grader needs them (:mod:`ecslab.grade.release`)."""
    (ROOT / "exercises" / "release.json").write_text(_manifest_text())


def _manifest_text() -> str:
    import json

    from ecslab.grade.release import manifest

    record = {}
    for source in sorted((ROOT / "authoring" / "solutions").glob("*.py")):
        exercise = exercise_from_solution(read_source(source))
        for index, cell in enumerate(exercise.cells):
            cell["id"] = f"cell-{index:02d}"
        record[source.stem] = manifest(source.stem, exercise)
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def refresh_prose(names: list[str], say: Any = print) -> list[str]:
    """Bring the built notebooks ``names`` in step with sources whose prose alone changed, without running them.

    Only markdown cells are rewritten; when a code cell (its source or tags) or the cell layout differs, the
    notebook is left alone and named in the result: run ``build`` for it, since its outputs may change too."""
    import nbformat

    refused = []
    for kind in ("notebooks", "solutions"):
        for source in sorted((ROOT / "authoring" / kind).glob("*.py")):
            if not any(source.stem.startswith(name) for name in names):
                continue
            want = read_source(source)
            targets = [(ROOT / kind / f"{source.stem}.ipynb", want)]
            if kind == "solutions":
                targets.append((ROOT / "exercises" / f"{source.stem}.ipynb", exercise_from_solution(want)))
            for path, expected in targets:
                built = nbformat.read(path, as_version=4)
                same_code = [c for c in _cells(built) if c[0] != "markdown"] == [
                    c for c in _cells(expected) if c[0] != "markdown"
                ]
                same_layout = [c.cell_type for c in built.cells] == [c.cell_type for c in expected.cells]
                if not (same_code and same_layout):
                    refused.append(str(path.relative_to(ROOT)))
                    continue
                changed = 0
                for cell, new in zip(built.cells, expected.cells, strict=True):
                    if cell.cell_type == "markdown" and cell.source != new.source:
                        cell.source, changed = new.source, changed + 1
                if changed:
                    _write(built, path)
                    say(f"{path.relative_to(ROOT)}: {changed} markdown cell(s) refreshed")
    return refused


def _cells(notebook: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(cell.cell_type, cell.source, tuple(cell.get("metadata", {}).get("tags", []))) for cell in notebook.cells]


def drift() -> list[str]:
    """Where a notebook no longer matches its source (empty when all agree)."""
    import nbformat

    problems = []
    for kind in ("notebooks", "solutions"):
        for source in sorted((ROOT / "authoring" / kind).glob("*.py")):
            expected = read_source(source)
            targets = [(ROOT / kind / f"{source.stem}.ipynb", expected)]
            if kind == "solutions":
                targets.append((ROOT / "exercises" / f"{source.stem}.ipynb", exercise_from_solution(expected)))
            for path, want in targets:
                if not path.exists():
                    problems.append(f"{path.relative_to(ROOT)} is missing: run `python -m ecslab.authoring build {source.stem}`")
                elif _cells(nbformat.read(path, as_version=4)) != _cells(want):
                    problems.append(f"{path.relative_to(ROOT)} differs from {source.relative_to(ROOT)}: rebuild it")
    release = ROOT / "exercises" / "release.json"
    if not release.exists() or release.read_text() != _manifest_text():
        problems.append("exercises/release.json differs from authoring/solutions: run `python -m ecslab.authoring manifest`")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecslab.authoring")
    sub = parser.add_subparsers(dest="command", required=True)
    build_parser = sub.add_parser("build")
    build_parser.add_argument("names", nargs="*")
    build_parser.add_argument("--no-run", action="store_true", help="convert only, do not execute")
    build_parser.add_argument(
        "--only", choices=("notebooks", "solutions"), help="build only the notebooks, or only the solutions (and their exercises)"
    )
    prose = sub.add_parser("prose", help="refresh the markdown of built notebooks whose code is unchanged (no run)")
    prose.add_argument("names", nargs="+")
    sub.add_parser("check")
    sub.add_parser("manifest", help="write exercises/release.json (the check cells the grader runs) from the sources")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.names, run=not args.no_run, kinds=(args.only,) if args.only else ("notebooks", "solutions"))
        return 0
    if args.command == "prose":
        refused = refresh_prose(args.names)
        for path in refused:
            print(f"{path}: its code differs from the source too: run `python -m ecslab.authoring build`")
        return 1 if refused else 0
    if args.command == "manifest":
        write_manifest()
        return 0
    problems = drift()
    print("\n".join(problems) or "notebooks, solutions and exercises match their sources")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
