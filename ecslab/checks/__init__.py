"""Exercise checkers: one module per exercise notebook (``ex00`` ... ``ex09``).

An exercise asks the learner to complete a function; the check cell after it
passes that function to a checker here. A checker runs the learner's code against
the lab and either returns :class:`Passed` (shown in green) or raises
:class:`CheckFailed` with a kind message that says what was expected and how to
get there. A function still holding the ``raise NotImplementedError()`` stub fails
with :class:`NotDone`, so a blank exercise always fails its checks.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "CheckFailed",
    "NotDone",
    "Passed",
    "expect",
    "run_student",
    "ex00",
    "ex01",
    "ex02",
    "ex03",
    "ex04",
    "ex05",
    "ex06",
    "ex07",
    "ex08",
    "ex09",
]


class CheckFailed(AssertionError):
    """The answer is not right yet; the message says what to change."""


class NotDone(CheckFailed):
    """The exercise still holds its ``raise NotImplementedError()`` stub."""


class Passed:
    """A check that passed: shows a green line in the notebook."""

    def __init__(self, exercise: str, message: str) -> None:
        self.exercise = exercise
        self.message = message

    def __repr__(self) -> str:
        return f"Passed: exercise {self.exercise}. {self.message}"

    def _repr_html_(self) -> str:
        return f"<div style='color:#1b7f3b'>&#10004; <b>Exercise {self.exercise} passed.</b> {html.escape(self.message)}</div>"


def run_student(exercise: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the learner's function; turn the stub and crashes into clear feedback."""
    if not callable(function):
        raise CheckFailed(
            f"Exercise {exercise}: expected a function, got {type(function).__name__}. Run the exercise cell above first."
        )
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise NotDone(
            f"Exercise {exercise} is not done yet: replace `raise NotImplementedError()` in the cell above "
            "with your code, run that cell, then run this check again."
        ) from None
    except CheckFailed:
        raise
    except Exception as error:
        raise CheckFailed(f"Exercise {exercise}: your code raised {type(error).__name__}: {error}") from error


def expect(condition: bool, exercise: str, message: str) -> None:
    """Fail exercise ``exercise`` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(f"Exercise {exercise}: {message}")


# The per-notebook checkers, importable as ecslab.checks.ex00 etc. after `import ecslab`.
from ecslab.checks import ex00, ex01, ex02, ex03, ex04, ex05, ex06, ex07, ex08, ex09  # noqa: E402
