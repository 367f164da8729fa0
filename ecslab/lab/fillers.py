"""Gap fillers: where the lab makes moto behave like AWS.

moto answers the AWS APIs and stores what it is told, but it runs nothing: its ECS
services never start tasks, its load balancers register no targets, its alarms are
never evaluated. Each :class:`GapFiller` closes one such gap from inside the lab
process, where moto's state can be read and changed. Fillers are listed in
:func:`all_fillers`; ``ecslab status`` and notebook 00 show which are active, so a
learner always knows what is AWS behaviour and what is the lab standing in for it.

Fillers that read or change moto's internals depend on moto's version; moto is
pinned in ``pyproject.toml`` and ``tests/test_fillers.py`` fails on an upgrade
that moves what they touch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class FillerContext:
    """What a filler may use: the lab's settings and its running parts."""

    config: Any  # ecslab.config.LabConfig
    docker: Any | None  # docker.DockerClient, or None when no engine answers
    registry_url: str | None = None  # the registry itself, behind the lab's ECR front
    fillers: dict[str, GapFiller] = field(default_factory=dict)  # every filler by name, for those that work together


class GapFiller:
    """One gap between moto and AWS, and the lab's way of closing it."""

    name: ClassVar[str] = "gap filler"
    gap: ClassVar[str] = ""
    """What moto does (or does not do) on its own."""
    fills: ClassVar[str] = ""
    """What the lab does about it."""

    def start(self, context: FillerContext) -> None:
        """Called once the AWS API answers."""

    def after_reset(self, context: FillerContext) -> None:
        """Called after ``ecslab reset`` gave moto a fresh state."""

    def stop(self) -> None:
        """Called when the lab stops; stop threads, release resources."""

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "gap": self.gap, "fills": self.fills}

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        """Answer a control-API request meant for this filler, or ``None``."""
        return None

    def status(self) -> dict[str, Any]:
        """Extra keys for ``ecslab status --json`` (e.g. the load balancers' listener URLs)."""
        return {}

    # -- hooks the ECS agent calls for every task it launches (see ecslab.lab.ecs_agent) ----------

    def prepare_task(self, task: Any) -> str | None:
        """Before the agent pulls the task's images: a stopped reason that fails the task, or ``None``.

        ``task`` is moto's ECS task; ``task.ecslab_definition`` is its task definition.
        """
        return None

    def container_environment(self, task: Any, container_definition: dict[str, Any]) -> dict[str, str]:
        """Extra environment variables for one of the task's containers (credentials, secrets)."""
        return {}

    def task_started(self, task: Any, containers: list[Any]) -> str | None:
        """After the task's docker containers started, before RUNNING: a stopped reason, or ``None``."""
        return None

    def task_stopped(self, task: Any) -> None:
        """While the task deprovisions: its containers are removed, it is not yet STOPPED."""


class PinTaskTransitions(GapFiller):
    """Stop moto from moving ECS tasks one state per ``describe_tasks`` call."""

    name = "ECS task states"
    gap = (
        "moto moves a task one state further (RUNNING → DEACTIVATING → … → STOPPED) each "
        "time it is described, whatever its container does."
    )
    fills = (
        "The lab pins moto's ecs::task transition to manual, so a task's state only "
        "changes when the lab changes it, in step with a real container."
    )

    def _pin(self) -> None:
        from moto.moto_api import state_manager

        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})

    def start(self, context: FillerContext) -> None:
        self._pin()

    def after_reset(self, context: FillerContext) -> None:
        self._pin()


class TrustPolicyValidation(GapFiller):
    """Make ``create_role`` check its trust policy, as ``update_assume_role_policy`` already does."""

    name = "IAM trust policies"
    gap = "moto's create_role stores any trust policy, even text that is not JSON."
    fills = (
        "The lab runs moto's own trust-policy validator on create_role too, so a malformed "
        "document is refused with IAM's MalformedPolicyDocument words and no role is created. "
        "It also makes IAM's state (with AWS's managed policies, ~0.7 s) before the lab says it "
        "is ready: two first IAM calls at once could otherwise see the policies half-loaded."
    )
    _patched: ClassVar[bool] = False

    def start(self, context: FillerContext) -> None:
        from moto.iam.models import IAMBackend
        from moto.iam.policy_validation import IAMTrustPolicyDocumentValidator

        if TrustPolicyValidation._patched:
            return
        original = IAMBackend.create_role

        def create_role_checked(backend: Any, role_name: str, assume_role_policy_document: str, *args: Any, **kwargs: Any) -> Any:
            IAMTrustPolicyDocumentValidator(assume_role_policy_document).validate()
            return original(backend, role_name, assume_role_policy_document, *args, **kwargs)

        IAMBackend.create_role = create_role_checked  # type: ignore[method-assign,assignment]
        TrustPolicyValidation._patched = True


def all_fillers() -> list[type[GapFiller]]:
    """Every filler the lab runs, in start order."""
    from ecslab.lab.autoscaling import AutoScaling
    from ecslab.lab.ecr_plane import EcrDataPlane
    from ecslab.lab.ecs_agent import EcsAgent
    from ecslab.lab.elb import LoadBalancing
    from ecslab.lab.execution_role import ExecutionRoles
    from ecslab.lab.monitoring import CloudWatch
    from ecslab.lab.task_roles import TaskRoles

    return [
        PinTaskTransitions,
        TrustPolicyValidation,
        EcrDataPlane,
        LoadBalancing,
        CloudWatch,
        ExecutionRoles,
        TaskRoles,
        EcsAgent,
        AutoScaling,
    ]


class QuietErrors:
    """Log each distinct error of a loop once with its traceback, count repeats, and say how many when it recovers.

    At most ``MAX_KINDS`` distinct errors are logged between two good runs; the rest are only counted."""

    MAX_KINDS = 20

    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what = what
        self.logger = logger
        self.seen: set[tuple[str, str]] = set()
        self.repeats = 0

    def failed(self, error: BaseException) -> None:
        """Call from inside the ``except`` block (the traceback is the one being handled)."""
        key = (type(error).__name__, str(error)[:200])
        if key in self.seen or len(self.seen) >= self.MAX_KINDS:
            self.repeats += 1
            return
        self.seen.add(key)
        self.logger.exception("%s failed", self.what)

    def succeeded(self) -> None:
        if self.repeats:
            self.logger.warning("%s failed %d more times with errors logged above; it works again", self.what, self.repeats)
        self.seen.clear()
        self.repeats = 0
