"""The one mechanism that changes moto: patches declared as data, applied and removed together.

A :class:`Patch` names an attribute of one of moto's classes or modules (``owner`` as a dotted
path, ``"moto.ecs.models:EC2ContainerServiceBackend"``), the signature that attribute has in the
pinned moto, and how to make its replacement from the original (``wrap``). A :class:`PatchSet`
groups the patches of one adapter module (``ecslab.lab.moto.ecs``, ``.iam``, ...) and binds them
to the lab object they call back into (``PatchSet[T]``: ``wrap(original, lab)``).

- :meth:`PatchSet.apply` is idempotent (a second call changes nothing) and records what it
  replaced; :meth:`PatchSet.remove` puts moto back exactly as it was (``ecslab reset``, tests).
- Every patch set is declared at import time with :func:`declare`; :func:`all_patch_sets` imports
  every module of :mod:`ecslab.lab.moto` and returns them, so ``tests/test_moto_patches.py``
  checks every patched attribute against the pinned moto in one place.
- ``expected`` is ``str(inspect.signature(original))`` as the pinned moto has it (``None`` for an
  attribute that is not callable, ``ABSENT`` for one the lab adds). An upgrade of moto that moves
  any of them fails that test, naming the attribute.

Prefer patching moto's backends (``moto.<service>.models``) over its response handlers: the
backends are what moto's own tests call, and they take typed arguments, not a request to parse.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

ABSENT = "<absent>"
"""``Patch.expected`` for an attribute moto does not have and the lab adds."""

_MISSING = object()


@dataclass(frozen=True)
class Patch(Generic[T]):
    """One attribute of moto, replaced while the patch set is applied."""

    owner: str
    """``"package.module:Class"`` or ``"package.module"``."""
    attribute: str
    wrap: Callable[[Any, T], object]
    """``wrap(original, lab) -> replacement``; ``original`` is ``None`` when ``expected`` is ``ABSENT``."""
    expected: str | None
    """``str(inspect.signature(original))`` in the pinned moto; ``None``: not callable; ``ABSENT``: added."""
    why: str = ""

    def resolve_owner(self) -> object:
        module_name, _, qualname = self.owner.partition(":")
        owner: object = importlib.import_module(module_name)
        for part in filter(None, qualname.split(".")):
            owner = getattr(owner, part)
        return owner

    def original(self) -> object:
        """The attribute as moto defines it (``_MISSING`` when absent), looked up past any patch in place."""
        owner = self.resolve_owner()
        applied = _APPLIED.get((id(owner), self.attribute))
        if applied is not None:
            return applied.original
        if isinstance(owner, type):
            for klass in owner.__mro__:
                if self.attribute in vars(klass):
                    return vars(klass)[self.attribute]
            return _MISSING
        return getattr(owner, self.attribute, _MISSING)

    def problem(self) -> str | None:
        """Why this patch does not fit the installed moto, or ``None``."""
        try:
            original = self.original()
        except (ImportError, AttributeError) as error:
            return f"{self.owner}: {error}"
        where = f"{self.owner}.{self.attribute}"
        if self.expected == ABSENT:
            return None if original is _MISSING else f"{where} now exists in moto: the lab's addition would hide it"
        if original is _MISSING:
            return f"{where} is gone"
        if self.expected is None:
            return None
        found = signature_of(original)
        if found == self.expected or (found is not None and call_shape(found) == call_shape(self.expected)):
            return None
        return f"{where} has signature {found}, the lab expects {self.expected}"


def call_shape(signature: str) -> list[tuple[str, str, str | None]]:
    """What a call depends on in a signature: each parameter's name, kind and default, not its annotation.

    moto rewrites annotations between releases (``Optional[X]`` became ``X | None`` in 5.2.6) without
    changing how a method is called; a moved, renamed or added parameter changes the shape."""
    parameters = signature.rsplit(") -> ", 1)[0] + ")" if ") -> " in signature else signature
    arguments = ast.parse(f"def f{parameters}: pass").body[0]
    assert isinstance(arguments, ast.FunctionDef)
    args = arguments.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    shape: list[tuple[str, str, str | None]] = []
    for index, arg in enumerate(positional):
        kind = "positional-only" if index < len(args.posonlyargs) else "positional"
        default = defaults[index]
        shape.append((arg.arg, kind, None if default is None else ast.unparse(default)))
    if args.vararg is not None:
        shape.append((args.vararg.arg, "*", None))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        shape.append((arg.arg, "keyword-only", None if kw_default is None else ast.unparse(kw_default)))
    if args.kwarg is not None:
        shape.append((args.kwarg.arg, "**", None))
    return shape


def signature_of(value: object) -> str | None:
    """``str(inspect.signature(...))`` of a function, static method or class method; ``None`` if not callable."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if not callable(value):
        return None
    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):
        return None


@dataclass
class _Applied:
    owner: object
    attribute: str
    original: object  # moto's own value (``_MISSING`` when the lab added the attribute)
    own: bool  # whether ``original`` was in the owner's own ``__dict__`` (else inherited: delete to restore)
    by: PatchSet[Any]  # any lab type


_APPLIED: dict[tuple[int, str], _Applied] = {}
_LOCK = threading.Lock()


@dataclass
class PatchSet(Generic[T]):
    """The patches of one adapter, applied and removed together."""

    name: str
    patches: list[Patch[T]] = field(default_factory=list)

    def patch(
        self, owner: str, attribute: str, expected: str | None, why: str = ""
    ) -> Callable[[Callable[[Any, T], object]], Callable[[Any, T], object]]:
        """Decorator: declare ``wrap`` as the maker of ``owner.attribute``'s replacement."""

        def declare_one(wrap: Callable[[Any, T], object]) -> Callable[[Any, T], object]:
            self.patches.append(Patch(owner, attribute, wrap, expected, why))
            return wrap

        return declare_one

    def problems(self) -> list[str]:
        return [problem for patch in self.patches if (problem := patch.problem()) is not None]

    def apply(self, lab: T) -> None:
        """Replace every attribute (once: applying again while applied changes nothing)."""
        with _LOCK:
            if self.applied:
                return
            problems = self.problems()
            if problems:
                raise RuntimeError(f"moto does not have what patch set {self.name!r} expects: " + "; ".join(problems))
            for patch in self.patches:
                owner = patch.resolve_owner()
                own = patch.attribute in getattr(owner, "__dict__", {})
                original = patch.original()
                key = (id(owner), patch.attribute)
                if key in _APPLIED:
                    raise RuntimeError(f"{patch.owner}.{patch.attribute} is already patched by {_APPLIED[key].by.name!r}")
                _APPLIED[key] = _Applied(owner, patch.attribute, original, own, self)
                setattr(owner, patch.attribute, patch.wrap(None if original is _MISSING else original, lab))

    def remove(self) -> None:
        """Put back what :meth:`apply` replaced (nothing when not applied)."""
        with _LOCK:
            for key, applied in list(_APPLIED.items()):
                if applied.by is not self:
                    continue
                if applied.own and applied.original is not _MISSING:
                    setattr(applied.owner, applied.attribute, applied.original)
                else:
                    delattr(applied.owner, applied.attribute)
                del _APPLIED[key]

    @property
    def applied(self) -> bool:
        return any(applied.by is self for applied in _APPLIED.values())


_DECLARED: dict[str, PatchSet[Any]] = {}


def declare(patch_set: PatchSet[T]) -> PatchSet[T]:
    """Register a patch set (at import of its adapter module) so the signature test sees it."""
    if _DECLARED.get(patch_set.name, patch_set) is not patch_set:
        raise ValueError(f"two patch sets are called {patch_set.name!r}")
    _DECLARED[patch_set.name] = patch_set
    return patch_set


def all_patch_sets() -> list[PatchSet[Any]]:
    """Every patch set of every adapter module in :mod:`ecslab.lab.moto` (imports them all)."""
    import ecslab.lab.moto as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "patching":
            importlib.import_module(f"{package.__name__}.{module.name}")
    return list(_DECLARED.values())


def applied_patches() -> list[tuple[str, str, str]]:
    """``(patch set, owner, attribute)`` of every patch in place now, for tests and ``ecslab doctor``."""
    with _LOCK:
        return [
            (a.by.name, getattr(a.owner, "__qualname__", getattr(a.owner, "__name__", "?")), a.attribute)
            for a in _APPLIED.values()
        ]
