"""What imports what inside ecslab: no import cycles, a lab process without checkers, learners without the lab's runtime.

The graph is read from the source (the AST of ``ecslab/**/*.py``; ``ecslab/app`` and ``ecslab/aws_app`` run inside
images and are left out), never by importing it:

- **top-level** imports are those that run when a module is imported: the module's body, including ``if``/``try``/
  ``with`` blocks and class bodies, but not function bodies nor ``if TYPE_CHECKING:`` blocks (they never run);
- **all** imports add the ones inside functions (lazy imports), which run the first time the function is called.

An edge goes to the module named: ``from ecslab import images`` imports ``ecslab.images``, ``from ecslab.config import X``
imports ``ecslab.config``, ``from ecslab import connect`` imports the package ``ecslab``. Importing a submodule also
runs its parent packages' ``__init__``; that is no edge here (a package importing its own submodules is Python's normal
layout, not a cycle).

Run ``python tests/test_imports.py`` to print the cycles and what the lab process imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ecslab"
IN_IMAGES = ("app", "aws_app")  # run inside containers with their own Python, not imported as ecslab.*

Graph = dict[str, set[str]]

ALLOWED_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset(
    {
        # Empty: the package has no import cycle. An edge named here would be allowed to close one (with a reason);
        # any other edge that closes a cycle fails the tests below, so no new cycle can appear.
    }
)

CLIENT_SIDE_LAB = frozenset(
    {
        "ecslab.lab",
        "ecslab.lab.hooks",
        "ecslab.lab.logfiles",
        "ecslab.lab.manage",
        "ecslab.lab.private",
        "ecslab.lab.registry",
        "ecslab.lab.strategies",
    }
)
"""The lab modules that code outside ``ecslab/lab/`` may import: the package (its docstring), the manager that starts,
stops and resets the lab (``manage``: ``ecslab.connect``, the ``ecslab`` command, the ELB/ECS helpers' ``control``),
private labs (``private``: tests, benchmarks, the grader) and the registry wrapper (``registry``: the ``ecslab``
command prints its ``RegistryError``; ``manage.doctor`` finds the registry binary) and the deployment strategies' rules
(``strategies``, with ``hooks`` for lifecycle hooks: pure, AWS's rules for traffic shifts and their refusals, which
:mod:`ecslab.traffic_split` predicts with for a learner). None of them imports the runtime:
``test_client_side_lab_modules_import_no_runtime`` checks it. Everything else in ``ecslab/lab/`` is the runtime that
runs in the lab process."""

LAB_SERVER = "ecslab.lab.server"


# -- reading the graph --------------------------------------------------------------------------------------------


@cache
def module_paths() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[1] in IN_IMAGES:
            continue
        parts = relative.with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(body: Iterable[ast.stmt], top_level_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not top_level_only:
                yield from _import_nodes(node.body, top_level_only)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(node.orelse, top_level_only)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    yield from _import_nodes(
                        [c for c in children if isinstance(c, ast.stmt)]
                        + [s for h in children if isinstance(h, ast.ExceptHandler | ast.match_case) for s in h.body],
                        top_level_only,
                    )


def _known(name: str) -> str | None:
    """``name`` or its longest prefix that is a module of the package."""
    modules = module_paths()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> set[str]:
    if isinstance(node, ast.Import):
        return {known for alias in node.names if alias.name.startswith("ecslab") and (known := _known(alias.name))}
    base = node.module or ""
    if node.level:
        package = module if module_paths()[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    if not base.startswith("ecslab"):
        return set()
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        known = submodule if submodule in module_paths() else _known(base)
        if known:
            found.add(known)
    return found


@cache
def graph(top_level_only: bool) -> Graph:
    """Module -> the package's modules it imports (itself excluded)."""
    edges: Graph = {}
    for module, path in module_paths().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges[module] = {t for node in _import_nodes(tree.body, top_level_only) for t in _targets(node, module)} - {module}
    return edges


def cycles(edges: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (each one an import cycle), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the package is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def reachable(edges: Graph, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def without(edges: Graph, removed: Iterable[tuple[str, str]]) -> Graph:
    gone = set(removed)
    return {module: {t for t in targets if (module, t) not in gone} for module, targets in edges.items()}


def is_lab(module: str) -> bool:
    return module == "ecslab.lab" or module.startswith("ecslab.lab.")


# -- the rules ------------------------------------------------------------------------------------------------------


def test_the_graph_sees_the_package() -> None:
    # given the package's modules, when the graph is read, then it holds the edges everyone knows
    edges = graph(top_level_only=True)
    assert {"ecslab", "ecslab.session", "ecslab.lab.server", "ecslab.checks.ex00"} <= set(edges)
    assert "ecslab.config" in edges["ecslab.session"]
    assert not any(is_lab(target) for target in edges["ecslab.session"])  # connect() imports the manager lazily
    assert "ecslab.lab.manage" in graph(top_level_only=False)["ecslab.session"]


def test_no_import_cycle_at_import_time() -> None:
    # given every import that runs when a module is imported, minus today's named cycles, then no cycle is left
    assert cycles(without(graph(top_level_only=True), ALLOWED_CYCLE_EDGES)) == []


def test_no_import_cycle_even_through_lazy_imports() -> None:
    # a function-level import in both directions is still two modules that need each other (session <-> aws_target was)
    assert cycles(without(graph(top_level_only=False), ALLOWED_CYCLE_EDGES)) == []


def test_the_lab_process_imports_no_checker() -> None:
    # given everything the lab server can ever import (lazy imports included), then no exercise checker is among it
    imported = reachable(graph(top_level_only=False), LAB_SERVER)
    assert sorted(m for m in imported if m == "ecslab.checks" or m.startswith("ecslab.checks.")) == []
    assert sorted(m for m in imported if m.startswith("ecslab.grade")) == []


def test_modules_outside_the_lab_import_only_its_client_side() -> None:
    edges = graph(top_level_only=False)
    found = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if not is_lab(module)
        for target in targets
        if is_lab(target) and target not in CLIENT_SIDE_LAB
    )
    assert found == []


def test_client_side_lab_modules_import_no_runtime() -> None:
    edges = graph(top_level_only=False)
    for module in sorted(CLIENT_SIDE_LAB):
        runtime = sorted(m for m in reachable(edges, module) if is_lab(m) and m not in CLIENT_SIDE_LAB)
        assert runtime == [], f"{module} reaches the lab runtime"


def imported_by(statement: str) -> list[str]:
    """The ecslab modules a fresh interpreter holds after ``statement``."""
    code = f"import sys; {statement}; print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] == 'ecslab')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_ecslab_imports_nothing_else() -> None:
    assert imported_by("import ecslab") == ["ecslab"]


@pytest.mark.parametrize("name", ["connect", "Lab", "LabConfig", "checks", "quiz", "diagrams", "session"])
def test_the_package_still_offers_its_names(name: str) -> None:
    import ecslab

    assert getattr(ecslab, name) is not None
    assert name in dir(ecslab)


def test_after_import_ecslab_every_module_is_an_attribute_as_before() -> None:
    # notebooks' prose says `ecslab.ecs.wait_for_steady_state(...)` and `ecslab.checks.ex08....` after `import ecslab`
    code = "import ecslab; print(ecslab.ecs.wait_for_steady_state.__name__, ecslab.checks.ex08.__name__, ecslab.cleanup.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["wait_for_steady_state", "ecslab.checks.ex08", "ecslab.cleanup"], result.stderr
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        ecslab_module().no_such_thing  # noqa: B018


def ecslab_module() -> object:
    import ecslab

    return ecslab


def test_starting_the_lab_server_module_imports_no_checker() -> None:
    # when the lab process's module is imported (what `python -m ecslab.lab.server` does first)
    modules = imported_by(f"import {LAB_SERVER}")
    # then it holds the lab and the few learner modules it needs, and no checker
    assert LAB_SERVER in modules
    assert [m for m in modules if m == "ecslab.checks" or m.startswith("ecslab.checks.")] == []


if __name__ == "__main__":
    for top_level_only in (True, False):
        print(("top-level" if top_level_only else "all (lazy included)") + " import cycles:")
        for cycle in cycles(graph(top_level_only)):
            print("   ", " <-> ".join(cycle))
    every = graph(top_level_only=False)
    stale = sorted((a, b) for a, b in ALLOWED_CYCLE_EDGES if b not in every.get(a, set()))
    print("allowed edges that are no longer imports (remove them from ALLOWED_CYCLE_EDGES):", stale or "none")
    print(f"{LAB_SERVER} imports at start:", " ".join(imported_by(f"import {LAB_SERVER}")))
