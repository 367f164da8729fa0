"""The lab's own state about moto's objects: typed records keyed by ARN, never stored on moto's objects.

moto keeps what the AWS API says (a task's status, a service's deployments); the lab keeps what
it needs to stand in for AWS's machinery beside it, here, keyed by the object's ARN, so that a
moto upgrade that changes its classes cannot lose or clash with the lab's attributes, and a reset
forgets both together (:meth:`Records.clear`).

Every record is read and changed under the lab's one lock (see :mod:`ecslab.lab`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecslab.lab.hooks import Pauses

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
    bindings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # container name -> where the lab reaches it


@dataclass
class ServiceRecord:
    """A service's deployment state that ECS keeps and moto does not.

    (Its ``deploymentConfiguration`` and grace period are API fields: they stay on moto's ``Service``.)"""

    service_arn: str
    last_completed: str | None = None  # the task definition of the last deployment that COMPLETED (rollback target)
    steady: bool = False  # whether the last tick found it in a steady state (one event per reaching it)
    next_launch: float = 0.0  # time.monotonic() before which no task is placed (after a placement failure)


@dataclass
class ServiceRevisionRecord:
    """A service revision (``DescribeServiceRevisions``): the workload configuration one deployment deploys."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    launch_type: str | None
    platform_version: str | None
    load_balancers: list[dict[str, Any]]
    network_configuration: dict[str, Any] | None
    container_images: list[dict[str, Any]]
    created_at: datetime
    target_group_arn: str | None = None  # the target group its tasks join (resolvedConfiguration)
    production_listener_rule: str | None = None


@dataclass
class ServiceDeploymentRecord:
    """A service deployment (``ListServiceDeployments``/``DescribeServiceDeployments``), true to what the lab did.

    ``deployment_id`` is the ``ecs-svc/...`` ID of the service's deployment it follows (``describe_services``)."""

    arn: str
    service_arn: str
    cluster_arn: str
    deployment_id: str
    configuration: dict[str, Any]
    target_revision: str
    source_revisions: list[str]
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime | None = None
    status: str = "PENDING"
    status_reason: str | None = None
    lifecycle_stage: str | None = None
    rollback: dict[str, Any] | None = None
    triggered_alarms: list[str] = field(default_factory=list)
    alarms_watched_since: datetime | None = None  # moto's clock when the agent first looked at its alarms
    breaker_failures: int = 0
    breaker_threshold: int = 3  # ECS's: half the desired count when the deployment began, at least 3, at most 200
    # the shifting strategies (ecslab.lab.strategies): green/blue target groups and the production weights
    blue_group: str | None = None
    green_group: str | None = None
    green_percent: float = 0.0
    test_green_percent: float = 0.0
    shift_started: float | None = None  # the agent's clock (time.monotonic()) at the first production shift
    shift_index: int = 0
    stop_requested: str | None = None  # StopServiceDeployment's stopType, until the agent acts on it
    rollback_deployment_id: str | None = None  # the ecs-svc/... deployment a rollback returns to
    stages: list[tuple[datetime, str, float]] = field(default_factory=list)  # (when, lifecycle stage, green percent)
    pauses: Pauses = field(default_factory=Pauses)  # its PAUSE lifecycle hooks (ecslab.lab.hooks)
    hook_rollback: bool = False  # a PAUSE hook was answered ROLLBACK (or timed out so): the agent rolls back
    pre_shift_step: int = 0  # how far through the stages before the first production shift it got


@dataclass
class Records:
    """Every record of the ECS side of the lab, keyed by ARN."""

    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    services: dict[str, ServiceRecord] = field(default_factory=dict)
    revisions: dict[str, ServiceRevisionRecord] = field(default_factory=dict)
    deployments: dict[str, ServiceDeploymentRecord] = field(default_factory=dict)

    def deployment_of(self, service_arn: str, deployment_id: str) -> ServiceDeploymentRecord | None:
        """The service deployment that follows the service's deployment ``deployment_id``."""
        return next(
            (d for d in self.deployments.values() if d.service_arn == service_arn and d.deployment_id == deployment_id), None
        )

    def task(self, task_arn: str) -> TaskRecord | None:
        return self.tasks.get(task_arn)

    def service(self, service_arn: str) -> ServiceRecord:
        """The service's record, made with ECS's defaults the first time it is asked for."""
        record = self.services.get(service_arn)
        if record is None:
            record = self.services[service_arn] = ServiceRecord(service_arn)
        return record

    def forget_services_except(self, live: set[str]) -> None:
        """A deleted service's records go; its service deployments and revisions stay (AWS keeps the history)."""
        for arn in [arn for arn in self.services if arn not in live]:
            del self.services[arn]

    def forget_tasks_except(self, live: set[str]) -> None:
        for arn in [arn for arn in self.tasks if arn not in live]:
            del self.tasks[arn]

    def clear(self) -> None:
        self.tasks.clear()
        self.services.clear()
        self.revisions.clear()
        self.deployments.clear()
