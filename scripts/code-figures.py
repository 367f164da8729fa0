#!/usr/bin/env python3
"""Figures about the ecslab package's code, for before/after comparisons in reports.

Per module of ``ecslab/`` (the in-image apps ``ecslab/app`` and ``ecslab/aws_app`` excluded, as mypy excludes them):

- ``Any``: how many times the name ``Any`` appears in code (tokens, so comments and strings do not count);
- ``lines with Any``: what ``grep -c Any`` would say, for comparison with older figures;
- ``>60``: functions and methods longer than 60 lines (from ``def`` to the last line, decorators excluded).

Usage: ``python scripts/code-figures.py [--all] [--long]``. Without ``--all`` only modules with a non-zero figure
are listed; ``--long`` also names each long function with its length.
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ecslab"
EXCLUDED = ("app", "aws_app")
LONG = 60


@dataclass
class ModuleFigures:
    name: str
    any_names: int
    any_lines: int
    long_functions: list[tuple[str, int]] = field(default_factory=list)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def long_functions(tree: ast.AST, limit: int = LONG) -> list[tuple[str, int]]:
    """Functions (qualified by their enclosing classes and functions) longer than ``limit`` lines."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = (child.end_lineno or child.lineno) - child.lineno + 1
                    if length > limit:
                        found.append((name, length))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def figures(path: Path) -> ModuleFigures:
    text = path.read_text(encoding="utf-8")
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    any_names = sum(1 for token in tokens if token.type == tokenize.NAME and token.string == "Any")
    any_lines = sum(1 for line in text.splitlines() if "Any" in line)
    return ModuleFigures(module_name(path), any_names, any_lines, long_functions(ast.parse(text)))


def package_figures() -> list[ModuleFigures]:
    paths = [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] not in EXCLUDED]
    return [figures(path) for path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="list every module, also those with nothing to count")
    parser.add_argument("--long", action="store_true", help="name each function over 60 lines")
    args = parser.parse_args()
    rows = package_figures()
    print(f"{'module':<34} {'Any':>5} {'lines with Any':>15} {'>60':>4}")
    for row in rows:
        if args.all or row.any_names or row.long_functions:
            print(f"{row.name:<34} {row.any_names:>5} {row.any_lines:>15} {len(row.long_functions):>4}")
            if args.long:
                for name, length in row.long_functions:
                    print(f"    {name} ({length} lines)")
    total_any = sum(r.any_names for r in rows)
    total_lines = sum(r.any_lines for r in rows)
    total_long = sum(len(r.long_functions) for r in rows)
    print(f"{'total (' + str(len(rows)) + ' modules)':<34} {total_any:>5} {total_lines:>15} {total_long:>4}")


if __name__ == "__main__":
    main()
