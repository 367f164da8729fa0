"""Gap fillers: where the lab makes moto behave like AWS.

moto answers the AWS APIs and stores what it is told, but it runs nothing: its ECS
services never start tasks, its load balancers register no targets, its alarms are
never evaluated. Each :class:`GapFiller` closes one such gap from inside the lab
process, where moto's state can be read and changed. ``ecslab status`` and notebook
00 show which are active, so a learner always knows what is AWS behaviour and what
is the lab standing in for it.

This module is the bottom of the lab: it imports no filler. Fillers that work
together receive each other by constructor, typed with the small protocols below
(:class:`TaskNotes`, :class:`TaskHooks`, :class:`TaskLogs`, :class:`TargetHealth`,
:class:`ScalingActivity`), never by looking each other up by name;
:mod:`ecslab.lab.wiring` makes every filler, hands each its collaborators, and
declares the start order.

Fillers that change moto do it through the patch sets of :mod:`ecslab.lab.moto`
(one mechanism, checked against the pinned moto by ``tests/test_moto_patches.py``).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ecslab.config import LabConfig

if TYPE_CHECKING:
    from moto.ecs.models import TaskDefinition

    from ecslab.lab.moto.ecs import EcsTask


class LabLock:
    """The lab's one lock (the concurrency rule is in :mod:`ecslab.lab`'s docstring).

    Reentrant. It never waits for ever: a thread that cannot take it within ``patience``
    seconds raises, naming the thread that holds it, so a broken rule shows as an error in
    the lab log instead of a lab that hangs. :meth:`forbid` marks the places that must not
    run under it (HTTP calls to the lab itself, Docker I/O)."""

    def __init__(self, patience: float = 60) -> None:
        self._lock = threading.RLock()
        self.patience = patience
        self.holder = ""

    def __enter__(self) -> LabLock:
        if not self._lock.acquire(timeout=self.patience):
            raise RuntimeError(
                f"the lab lock was held for over {self.patience:.0f} s by thread {self.holder!r}: an HTTP call to the lab "
                "or Docker I/O under the lock? (see ecslab.lab)"
            )
        self.holder = threading.current_thread().name
        return self

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def held(self) -> bool:
        """Whether the calling thread holds it."""
        owned: Callable[[], bool] = self._lock._is_owned  # type: ignore[attr-defined]  # CPython's RLock, as Condition uses it
        return owned()

    def forbid(self, what: str) -> None:
        """Raise when the calling thread holds the lock: ``what`` (e.g. "Docker I/O") must not run under it."""
        if self.held():
            raise RuntimeError(f"{what} while holding the lab lock: it would stall or deadlock the lab (see ecslab.lab)")

    def condition(self) -> threading.Condition:
        """A condition on this lock: ``wait`` releases it, so waiting never blocks the lab."""
        return threading.Condition(self._lock)


LAB_LOCK = LabLock()
"""The one lock of the lab process: every moto request (server.py's middleware) and every filler tick."""


@dataclass
class FillerContext:
    """What a filler may use: the lab's settings and its running parts."""

    config: LabConfig
    docker: Any | None  # docker.DockerClient (untyped library), or None when no engine answers
    registry_url: str | None = None  # the registry itself, behind the lab's ECR front


# -- what fillers offer each other ------------------------------------------------------------------


@runtime_checkable
class TaskNotes(Protocol):
    """The ECS agent's journal (``GET /ecs/agent-log``): one line per thing done to a task."""

    def note(self, task: EcsTask, message: str) -> None: ...


@runtime_checkable
class TaskHooks(Protocol):
    """What a filler does for each task the ECS agent launches and stops (``task`` is moto's ECS task)."""

    name: ClassVar[str]

    def prepare_task(self, task: EcsTask, definition: TaskDefinition) -> str | None:
        """Before the agent pulls the task's images: a stopped reason that fails the task, or ``None``.

        ``definition`` is moto's task definition the task was made from."""
        ...

    def container_environment(self, task: EcsTask, container_definition: dict[str, Any]) -> dict[str, str]:
        """Extra environment variables for one of the task's containers (credentials, secrets)."""
        ...

    def task_started(self, task: EcsTask, containers: list[Any]) -> str | None:
        """After the task's docker containers started, before RUNNING: a stopped reason, or ``None``."""
        ...

    def task_stopped(self, task: EcsTask) -> None:
        """While the task deprovisions: its containers are removed, it is not yet STOPPED."""
        ...


class NoTaskHooks:
    """:class:`TaskHooks` that do nothing: inherit it and override the hooks a filler needs."""

    def prepare_task(self, task: EcsTask, definition: TaskDefinition) -> str | None:
        return None

    def container_environment(self, task: EcsTask, container_definition: dict[str, Any]) -> dict[str, str]:
        return {}

    def task_started(self, task: EcsTask, containers: list[Any]) -> str | None:
        return None

    def task_stopped(self, task: EcsTask) -> None:
        return None


@runtime_checkable
class TaskLogs(Protocol):
    """CloudWatch Logs for task containers (the awslogs driver)."""

    def prepare_logs(self, task: EcsTask, definition: dict[str, Any]) -> tuple[str, str] | str | None:
        """``(group, stream)`` to ship to, a stopped reason, or ``None`` (no awslogs)."""
        ...

    def ship_logs(self, docker_container: Any, group: str, stream: str) -> None: ...


class TargetGroupInfo(Protocol):
    """A target group as ECS needs it to register a task."""

    @property
    def arn(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def target_type(self) -> str: ...


@runtime_checkable
class TargetHealth(Protocol):
    """The load balancer as ECS sees it: its target groups, where a target answers, and its health."""

    def target_group(self, target_group_arn: str) -> TargetGroupInfo | None: ...

    def register_target(self, target_group_arn: str, target_id: str, port: int) -> bool:
        """False when the target group is gone."""
        ...

    def deregister_target(self, target_group_arn: str, target_id: str, port: int) -> int | None:
        """The group's deregistration delay (the target drains), or ``None`` when it was not registered."""
        ...

    def address(self, target_id: str, port: int, host: str, host_port: int) -> None: ...

    def state_of(self, target_group_arn: str, target_id: str, port: int) -> str | None: ...

    def drained(self, target_group_arn: str, target_id: str, port: int) -> bool: ...

    def forward_weights(self, rule_arn: str) -> list[tuple[str, int]] | None:
        """A listener rule's forward: (target group ARN, weight) pairs, or ``None`` (no such rule, no forward)."""
        ...

    def set_forward_weights(self, rule_arn: str, weights: list[tuple[str, int]]) -> bool:
        """Rewrite a listener rule's weighted forward (blue/green, canary, linear traffic shifts); False when it is gone."""
        ...


@runtime_checkable
class ScalingActivity(Protocol):
    """Application Auto Scaling's record of what it did (``describe_scaling_activities``)."""

    def record(self, resource_id: str, wanted: int, cause: str) -> None: ...


class TaskJournal:
    """The :class:`TaskNotes` of the lab: the last lines, bounded, for ``GET /ecs/agent-log``."""

    def __init__(self, size: int = 300) -> None:
        self.entries: collections.deque[dict[str, str]] = collections.deque(maxlen=size)

    def note(self, task: EcsTask | None, message: str) -> None:
        self.entries.append(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "task": task.task_arn.split("/")[-1] if task is not None else "",
                "message": message,
            }
        )

    def clear(self) -> None:
        self.entries.clear()


# -- the filler ----------------------------------------------------------------------------------------


class GapFiller(NoTaskHooks):  # NoTaskHooks: until every task-hook filler inherits it itself
    """One gap between moto and AWS, and the lab's way of closing it."""

    name: ClassVar[str] = "gap filler"
    gap: ClassVar[str] = ""
    """What moto does (or does not do) on its own."""
    fills: ClassVar[str] = ""
    """What the lab does about it."""

    def collaborators(self) -> Sequence[object]:
        """The fillers (and other parts) this one was given; the wiring checks they start before it."""
        return ()

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

    def start(self, context: FillerContext) -> None:
        from ecslab.lab.moto.ecs import pin_task_transitions

        pin_task_transitions()

    def after_reset(self, context: FillerContext) -> None:
        self.start(context)


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

    def start(self, context: FillerContext) -> None:
        from ecslab.lab.moto import iam

        iam.PATCHES.apply(None)

    def stop(self) -> None:
        from ecslab.lab.moto import iam

        iam.PATCHES.remove()


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
