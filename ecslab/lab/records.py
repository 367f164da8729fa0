"""The lab's own state about moto's objects: typed records keyed by ARN, never stored on moto's objects.

moto keeps what the AWS API says (a task's status, a service's deployments); the lab keeps what
it needs to stand in for AWS's machinery beside it, here, keyed by the object's ARN, so that a
moto upgrade that changes its classes cannot lose or clash with the lab's attributes, and a reset
forgets both together (:meth:`Records.clear`).

Every record is read and changed under the lab's one lock (see :mod:`ecslab.lab`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {"maximumPercent": 200, "minimumHealthyPercent": 100}


@dataclass(frozen=True)
class Target:
    """A task registered with a target group: what ECS registered, to deregister it when the task stops."""

    target_group_arn: str
    target_id: str
    port: int


@dataclass
class TaskRecord:
    """What the lab knows of one ECS task beyond moto's ``Task``."""

    task_arn: str
    definition: Any  # moto.ecs.models.TaskDefinition the task was made from (moto has no type stubs)
    targets: list[Target] = field(default_factory=list)
    failed_health_checks: bool = False  # stopped by its service for failing its load balancer's health checks


@dataclass
class ServiceRecord:
    """A service's deployment state that ECS keeps and moto does not.

    (Its ``deploymentConfiguration`` and grace period are API fields: they stay on moto's ``Service``.)"""

    service_arn: str
    last_completed: str | None = None  # the task definition of the last deployment that COMPLETED (rollback target)
    steady: bool = False  # whether the last tick found it in a steady state (one event per reaching it)
    next_launch: float = 0.0  # time.monotonic() before which no task is placed (after a placement failure)


@dataclass
class Records:
    """Every record of the ECS side of the lab, keyed by ARN."""

    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    services: dict[str, ServiceRecord] = field(default_factory=dict)

    def task(self, task_arn: str) -> TaskRecord | None:
        return self.tasks.get(task_arn)

    def service(self, service_arn: str) -> ServiceRecord:
        """The service's record, made with ECS's defaults the first time it is asked for."""
        record = self.services.get(service_arn)
        if record is None:
            record = self.services[service_arn] = ServiceRecord(service_arn)
        return record

    def forget_services_except(self, live: set[str]) -> None:
        for arn in [arn for arn in self.services if arn not in live]:
            del self.services[arn]

    def forget_tasks_except(self, live: set[str]) -> None:
        for arn in [arn for arn in self.tasks if arn not in live]:
            del self.tasks[arn]

    def clear(self) -> None:
        self.tasks.clear()
        self.services.clear()
