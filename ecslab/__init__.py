"""ecslab: the helper package of the course "Building and Deploying Containers
with Amazon ECR & ECS".

Notebooks start with ``lab = ecslab.connect()``; the modules are public and meant
to be read: :mod:`ecslab.session` (connecting, notebook 00),
:mod:`ecslab.containers` (notebook 01), :mod:`ecslab.images` (notebook 02),
:mod:`ecslab.lab` (the local lab), :mod:`ecslab.diagrams`, :mod:`ecslab.quiz`
and :mod:`ecslab.checks` (knowledge checks and exercise checkers).
Importing ecslab starts nothing and changes no settings.

Importing ecslab also imports nothing else: ``ecslab.connect``, ``ecslab.Lab``,
``ecslab.LabConfig`` and every module (``ecslab.checks``, ``ecslab.ecs``, ...) are
loaded the first time they are used (PEP 562 ``__getattr__``). So the lab process,
which imports ``ecslab.config``, loads neither the exercise checkers nor the
learner helpers it does not use.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecslab import checks, diagrams, quiz, session
    from ecslab.config import LabConfig
    from ecslab.session import connect
    from ecslab.target import Lab

__all__ = ["Lab", "LabConfig", "checks", "connect", "diagrams", "quiz", "session", "__version__"]
__version__ = "0.1.0"

_NAMES = {"Lab": "ecslab.target", "LabConfig": "ecslab.config", "connect": "ecslab.session"}
"""Names offered here and the module that defines each."""


def __getattr__(name: str) -> object:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")  # ecslab.ecs, ecslab.cleanup... as before: no import needed
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
