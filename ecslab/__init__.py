"""ecslab: the helper package of the course "Building and Deploying Containers
with Amazon ECR & ECS".

Notebooks start with ``lab = ecslab.connect()``; the modules are public and meant
to be read: :mod:`ecslab.session` (connecting, notebook 00),
:mod:`ecslab.containers` (notebook 01), :mod:`ecslab.images` (notebook 02),
:mod:`ecslab.lab` (the local lab), :mod:`ecslab.diagrams`, :mod:`ecslab.quiz`
and :mod:`ecslab.checks` (knowledge checks and exercise checkers).
Importing ecslab starts nothing and changes no settings.
"""

from ecslab import checks, diagrams, quiz, session
from ecslab.config import LabConfig
from ecslab.session import Lab, connect

__all__ = ["Lab", "LabConfig", "checks", "connect", "diagrams", "quiz", "session", "__version__"]
__version__ = "0.1.0"
