"""What every checker uses: :class:`Passed`, :class:`CheckFailed`, :class:`NotDone`, :func:`expect`
and :func:`run_student` (a learner's call with a time bound). ``ecslab.checks`` re-exports them; the
checkers import them from here, so the package never imports a checker and no checker imports the
package's ``__init__``."""

from __future__ import annotations

import contextlib
import html
import importlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "CheckFailed",
    "NotDone",
    "Passed",
    "expect",
    "run_student",
    "DEFAULT_TIMEOUT",
    "HELPERS",
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


DEFAULT_TIMEOUT = 300.0
"""Seconds a learner's function may take in a check before the check fails (``run_student(..., timeout=...)``)."""

HELPERS = {
    "push_image": ("ecslab.ecr", "push_image"),
    "create_web_security_groups": ("ecslab.network", "create_web_security_groups"),
    "ensure_execution_role": ("ecslab.security", "ensure_execution_role"),
}
"""ecslab helpers an exercise may forbid (``run_student(..., forbid=(...))``): name -> (module, attribute)."""

WRITE_IT_WITH = {
    "create_web_security_groups": "boto3's EC2 client yourself (lab.ec2.create_security_group, ...)",
    "ensure_execution_role": "boto3's IAM client yourself (lab.iam.create_role, lab.iam.attach_role_policy)",
}
"""How the learner writes what a forbidden helper does, when it is not the Docker SDK (:func:`forbidden_message`)."""


def forbidden_message(exercise: str, name: str) -> str:
    """What a learner reads when their function calls or names the forbidden helper ``name``."""
    way = WRITE_IT_WITH.get(name, "the Docker SDK yourself (lab.docker...)")
    return f"Exercise {exercise}: write this one with {way}, not with ecslab's {name}: the exercise is to do what it does."


class _TimedOut(BaseException):
    """Raised in the learner's function by the alarm; a BaseException, so `except Exception` in their code cannot swallow it."""


@contextlib.contextmanager
def _time_bound(seconds: float | None) -> Iterator[None]:
    """SIGALRM after ``seconds`` (main thread only: where notebook cells run); nothing elsewhere or for None."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(_signum: int, _frame: Any) -> None:
        raise _TimedOut()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def forbidden(exercise: str, names: tuple[str, ...]) -> Iterator[None]:
    """While the learner's function runs, the ecslab helpers ``names`` (see :data:`HELPERS`) fail with a kind message."""
    saved = []
    for name in names:
        module = importlib.import_module(HELPERS[name][0])

        def refuse(*_args: Any, _name: str = name, **_kwargs: Any) -> Any:
            raise CheckFailed(forbidden_message(exercise, _name))

        saved.append((module, HELPERS[name][1], getattr(module, HELPERS[name][1])))
        setattr(module, HELPERS[name][1], refuse)
    try:
        yield
    finally:
        for module, attribute, original in saved:
            setattr(module, attribute, original)


def run_student(
    exercise: str,
    function: Callable[..., T],
    *args: Any,
    timeout: float | None = DEFAULT_TIMEOUT,
    forbid: tuple[str, ...] = (),
) -> T:
    """Call the learner's function; turn the stub, crashes and overruns into clear feedback.

    ``timeout``: seconds the function may take (None: no bound). ``forbid``: ecslab helpers (:data:`HELPERS`) the
    exercise asks the learner to write themselves; calling one fails the check, and so does naming it in the function.
    In ``ecslab grade`` the function runs in the learner's kernel and the grader bounds it (:mod:`ecslab.grade.runner`)."""
    if not callable(function):
        raise CheckFailed(
            f"Exercise {exercise}: expected a function, got {type(function).__name__}. Run the exercise cell above first."
        )
    remote = getattr(function, "call_remote", None)
    if remote is not None:  # ecslab grade: the grader's data channel to the learner's kernel
        try:
            return remote(args, timeout=timeout, forbid=forbid)
        except NotImplementedError:
            raise _not_done(exercise) from None
        except CheckFailed:
            raise
        except Exception as error:
            raise CheckFailed(f"Exercise {exercise}: your code raised {type(error).__name__}: {error}") from error
    code = getattr(function, "__code__", None)
    named = [name for name in forbid if code is not None and name in code.co_names]
    if named:
        raise CheckFailed(forbidden_message(exercise, named[0]))
    try:
        with forbidden(exercise, forbid), _time_bound(timeout):
            return function(*args)
    except _TimedOut:
        raise CheckFailed(
            f"Exercise {exercise}: your function did not return within {timeout:.0f} s. Look for a loop that never ends "
            "or a wait without a deadline."
        ) from None
    except NotImplementedError:
        raise _not_done(exercise) from None
    except CheckFailed:
        raise
    except Exception as error:
        raise CheckFailed(f"Exercise {exercise}: your code raised {type(error).__name__}: {error}") from error


def _not_done(exercise: str) -> NotDone:
    return NotDone(
        f"Exercise {exercise} is not done yet: replace `raise NotImplementedError()` in the cell above "
        "with your code, run that cell, then run this check again."
    )


def expect(condition: bool, exercise: str, message: str) -> None:
    """Fail exercise ``exercise`` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(f"Exercise {exercise}: {message}")


# The per-notebook checkers, importable as ecslab.checks.ex00 etc. after `import ecslab`.
