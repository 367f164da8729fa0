"""The exercise-checking helpers: stubs, crashes and wrong answers become clear feedback."""

from __future__ import annotations

import pytest

from ecslab.checks import CheckFailed, NotDone, Passed, expect, run_student


def stub() -> None:
    raise NotImplementedError()


def test_a_stub_is_reported_as_not_done() -> None:
    with pytest.raises(NotDone, match="Exercise 9.9 is not done yet: replace `raise NotImplementedError\\(\\)`"):
        run_student("9.9", stub)


def test_a_crash_names_the_error() -> None:
    with pytest.raises(CheckFailed, match="your code raised ZeroDivisionError"):
        run_student("9.9", lambda: 1 / 0)


def test_not_a_function() -> None:
    with pytest.raises(CheckFailed, match="expected a function"):
        run_student("9.9", 42)  # type: ignore[arg-type]


def test_expect_and_passed() -> None:
    expect(True, "1.1", "never shown")
    with pytest.raises(CheckFailed, match="Exercise 1.1: wrong"):
        expect(False, "1.1", "wrong")
    assert repr(Passed("1.1", "well done.")) == "Passed: exercise 1.1. well done."
