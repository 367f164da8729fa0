"""Exercise checkers: one module per exercise notebook (``ex00`` ... ``ex09``; a notebook added between two
carries a letter, ``06b-...`` with ``ex06b``).

An exercise asks the learner to complete a function; the check cell after it
passes that function to a checker here. A checker runs the learner's code against
the lab and either returns :class:`Passed` (shown in green) or raises
:class:`CheckFailed` with a kind message that says what was expected and how to
get there. A function still holding the ``raise NotImplementedError()`` stub fails
with :class:`NotDone`, so a blank exercise always fails its checks.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from ecslab.checks.core import DEFAULT_TIMEOUT, HELPERS, CheckFailed, NotDone, Passed, expect, run_student

__all__ = [
    "CheckFailed",
    "DEFAULT_TIMEOUT",
    "HELPERS",
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
    "setup",
]

_CHECKER = re.compile(r"ex\d{2}[a-z]?|setup")
"""A checker module's name: ``ex05``, ``ex06b`` (an exercise notebook added between two), or ``setup``."""


def __getattr__(name: str) -> ModuleType:
    """``ecslab.checks.ex05`` (``ex06b``, ``setup``) load on first use (PEP 562), so this package imports no checker."""
    if _CHECKER.fullmatch(name):
        try:
            return importlib.import_module(f"ecslab.checks.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"ecslab.checks.{name}":
                raise
    raise AttributeError(f"module 'ecslab.checks' has no attribute {name!r}")
