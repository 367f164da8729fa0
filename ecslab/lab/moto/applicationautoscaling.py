"""The one place the lab touches moto's Application Auto Scaling (:mod:`ecslab.lab.autoscaling` is the lab's side).

moto stores scalable targets and scaling policies but never evaluates them, and it has no
``DescribeScalingActivities``; :data:`PATCHES` adds that operation, answered from the lab's
record (:class:`ScalingLab`). The functions below copy moto's ECS policies and the services they
scale into frozen views, and change a service's desired count as Application Auto Scaling does,
through moto's own link from this service to ECS (``ApplicationAutoscalingBackend.ecs_backend``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from moto.applicationautoscaling.models import (
    ApplicationAutoscalingBackend,
    FakeApplicationAutoscalingPolicy,
    applicationautoscaling_backends,
)
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

from ecslab.config import ACCOUNT_ID
from ecslab.lab.moto.patching import ABSENT, PatchSet, declare

ECS_DESIRED_COUNT = "ecs:service:DesiredCount"


class ScalingLab(Protocol):
    """What the patches need from the lab's autoscaling filler."""

    def recent_activities(self) -> list[dict[str, Any]]:
        """The scaling activities of the last six weeks, oldest first."""
        ...


PATCHES: PatchSet[ScalingLab] = declare(PatchSet("applicationautoscaling"))


@PATCHES.patch(
    "moto.applicationautoscaling.models:ApplicationAutoscalingBackend", "describe_scaling_activities", ABSENT, "moto has none"
)
def _backend_activities(original: None, lab: ScalingLab) -> Callable[..., list[dict[str, Any]]]:
    def describe_scaling_activities(
        backend: ApplicationAutoscalingBackend, namespace: str, resource_id: str | None
    ) -> list[dict[str, Any]]:
        """Newest first, as Application Auto Scaling lists them."""
        return [
            activity
            for activity in reversed(lab.recent_activities())
            if activity["ServiceNamespace"] == namespace and (not resource_id or activity["ResourceId"] == resource_id)
        ]

    return describe_scaling_activities


@PATCHES.patch(
    "moto.applicationautoscaling.responses:ApplicationAutoScalingResponse", "describe_scaling_activities", ABSENT, "no handler"
)
def _respond_activities(original: None, lab: ScalingLab) -> Callable[[ApplicationAutoScalingResponse], str]:
    import json

    def describe_scaling_activities(response: ApplicationAutoScalingResponse) -> str:
        found = response.applicationautoscaling_backend.describe_scaling_activities(  # type: ignore[attr-defined]
            response._get_param("ServiceNamespace"), response._get_param("ResourceId")
        )
        return json.dumps({"ScalingActivities": found})

    return describe_scaling_activities


def backend(region: str) -> ApplicationAutoscalingBackend:
    return applicationautoscaling_backends[ACCOUNT_ID][region]


# -- views -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EcsScalingPolicy:
    """A scaling policy of an ECS service's desired count, with its scalable target's bounds."""

    arn: str
    name: str
    resource_id: str  # service/CLUSTER/SERVICE
    min_capacity: int | None
    max_capacity: int | None
    target_tracking: dict[str, Any] | None
    step_scaling: dict[str, Any] | None

    @property
    def service_key(self) -> tuple[str, str]:
        """(cluster name, service name)."""
        _, cluster, name = self.resource_id.split("/", 2)
        return cluster, name


@dataclass(frozen=True)
class EcsService:
    """What Application Auto Scaling and CloudWatch read of an ECS service."""

    arn: str
    name: str
    cluster_name: str
    status: str
    desired_count: int
    running_count: int
    target_group_arns: tuple[str, ...]


@dataclass(frozen=True)
class RunningTask:
    """A RUNNING task of a service, with what it reserves (the denominators of AWS/ECS utilization)."""

    task_arn: str
    cpu_units: int
    memory_mib: int


def _policy_view(aas: ApplicationAutoscalingBackend, policy: FakeApplicationAutoscalingPolicy) -> EcsScalingPolicy | None:
    target = aas.targets.get(ECS_DESIRED_COUNT, {}).get(policy.resource_id)
    if policy.service_namespace != "ecs" or target is None:
        return None
    return EcsScalingPolicy(
        policy.policy_arn,
        policy.policy_name,
        policy.resource_id,
        None if target.min_capacity is None else int(target.min_capacity),
        None if target.max_capacity is None else int(target.max_capacity),
        policy.target_tracking_scaling_policy_configuration or None,
        policy.step_scaling_policy_configuration or None,
    )


def ecs_policies(region: str) -> list[EcsScalingPolicy]:
    """Every policy of an ECS service's desired count that has its scalable target."""
    aas = backend(region)
    return [view for policy in list(aas.policies.values()) if (view := _policy_view(aas, policy)) is not None]


def ecs_policy(region: str, policy_arn: str) -> EcsScalingPolicy | None:
    aas = backend(region)
    policy = next((p for p in list(aas.policies.values()) if p.policy_arn == policy_arn), None)
    return None if policy is None else _policy_view(aas, policy)


def _service_view(service: Any) -> EcsService:
    return EcsService(
        service.arn,
        service.name,
        service.cluster_name,
        str(service.status),
        int(service.desired_count),
        int(service.running_count),
        tuple(lb["targetGroupArn"] for lb in service.load_balancers if lb.get("targetGroupArn")),
    )


def ecs_service(region: str, cluster: str, name: str) -> EcsService | None:
    service = backend(region).ecs_backend.services.get(f"{cluster}:{name}")
    return None if service is None else _service_view(service)


def ecs_services(region: str) -> list[EcsService]:
    return [_service_view(service) for service in list(backend(region).ecs_backend.services.values())]


def running_tasks(region: str, service: EcsService) -> list[RunningTask]:
    """The service's RUNNING tasks (their task-level cpu and memory; 1024 units and 512 MiB when unset)."""
    return [
        RunningTask(task.task_arn, int(str(getattr(task, "cpu", None) or 1024)), int(str(getattr(task, "memory", None) or 512)))
        for tasks in list(backend(region).ecs_backend.tasks.values())
        for task in list(tasks.values())
        if task.group == f"service:{service.name}" and task.last_status == "RUNNING"
    ]


def set_desired_count(region: str, cluster: str, name: str, wanted: int) -> bool:
    """Set a service's desired count (and its primary deployment's) as a scaling activity does; False if it is gone."""
    service = backend(region).ecs_backend.services.get(f"{cluster}:{name}")
    if service is None:
        return False
    service.desired_count = wanted
    if service.deployments:
        service.deployments[0]["desiredCount"] = wanted
    return True
