"""ecslab: the helper package of the course "Building and Deploying Containers
with Amazon ECR & ECS".

Notebooks start with ``lab = ecslab.connect()``; the modules are public and meant
to be read: :mod:`ecslab.containers` (notebook 01), :mod:`ecslab.images`
(notebook 02), :mod:`ecslab.lab` (the local lab), :mod:`ecslab.quiz` and
:mod:`ecslab.checks` (knowledge checks and exercise checkers).
Importing ecslab starts nothing.
"""

from ecslab.config import LabConfig
from ecslab.connect import Lab, connect

__all__ = ["Lab", "LabConfig", "connect", "__version__"]
__version__ = "0.1.0"
