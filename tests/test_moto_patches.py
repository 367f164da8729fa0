"""Every change the lab makes to moto, checked against the installed moto in one place.

The adapters of :mod:`ecslab.lab.moto` declare each patch with the signature the attribute has in
the pinned moto. When moto is upgraded, this test names every attribute that moved or went.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest

from ecslab.lab.moto.patching import ABSENT, Patch, PatchSet, all_patch_sets, applied_patches, call_shape, declare


def test_every_declared_patch_fits_the_installed_moto() -> None:
    sets = all_patch_sets()
    assert {"ecs", "iam"} <= {s.name for s in sets}
    problems = [f"{s.name}: {problem}" for s in sets for problem in s.problems()]
    assert not problems, f"moto {version('moto')} moved what the lab patches:\n" + "\n".join(problems)


def test_every_patch_says_what_it_expects() -> None:
    for patch_set in all_patch_sets():
        for patch in patch_set.patches:
            assert patch.expected is None or patch.expected == ABSENT or patch.expected.startswith("("), patch


class Owner:
    def method(self, value: int) -> int:
        return value


class Child(Owner):
    pass


def _double(original: Any, lab: int) -> Any:
    return lambda self, value: original(self, value) * lab


def test_a_patch_set_applies_once_and_removes_cleanly() -> None:
    patches: PatchSet[int] = PatchSet("test-owner")
    patches.patches.append(Patch(f"{__name__}:Owner", "method", _double, "(self, value: 'int') -> 'int'"))
    patches.patches.append(Patch(f"{__name__}:Child", "method", _double, "(self, value: 'int') -> 'int'"))
    patches.patches.append(Patch(f"{__name__}:Owner", "added", lambda original, lab: lab, ABSENT))
    assert patches.problems() == []
    original = Owner.__dict__["method"]
    patches.apply(2)
    patches.apply(3)  # applied already: nothing changes
    assert Owner().method(5) == 10 and Child().method(5) == 20  # the child wraps the patched parent
    assert Owner.added == 2  # type: ignore[attr-defined]
    assert ("test-owner", "Owner", "method") in applied_patches()
    patches.remove()
    patches.remove()
    assert Owner.__dict__["method"] is original and "method" not in Child.__dict__ and not hasattr(Owner, "added")
    assert not patches.applied


def test_a_patch_that_does_not_fit_is_refused_before_anything_changes() -> None:
    patches: PatchSet[None] = PatchSet("test-misfit")
    patches.patches.append(Patch(f"{__name__}:Owner", "method", lambda original, lab: original, "(self, value: 'int') -> 'int'"))
    patches.patches.append(Patch(f"{__name__}:Owner", "gone", lambda original, lab: original, "(self) -> None"))
    patches.patches.append(Patch(f"{__name__}:Owner", "method", lambda original, lab: original, "(self) -> None"))
    assert len(patches.problems()) == 2
    with pytest.raises(RuntimeError, match="gone is gone"):
        patches.apply(None)
    assert not patches.applied and Owner().method(1) == 1


def test_two_patch_sets_cannot_share_a_name() -> None:
    declare(PatchSet("test-unique"))
    with pytest.raises(ValueError):
        declare(PatchSet("test-unique"))


def test_annotations_written_differently_still_fit_but_a_moved_parameter_does_not() -> None:
    assert call_shape("(self, a: 'Optional[list[X]]' = None) -> 'R'") == call_shape("(self, a: list[X] | None = None) -> R")
    assert call_shape("(self, a, b=None)") != call_shape("(self, b, a=None)")
    assert call_shape("(self, a, *, b=1)") != call_shape("(self, a, b=1)")
    assert call_shape("(self, a)") != call_shape("(self, a, b)")
