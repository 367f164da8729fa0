"""ECS's scheduler as pure functions: placement, rolling deployments, the circuit breaker.

Nothing here touches moto, Docker or a clock of its own: the functions take plain values (and the
lab's records) and return decisions, which the ECS agent (:mod:`ecslab.lab.ecs_agent`) carries out.
``tests/test_reconcile.py`` runs them in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def placement_failure(remaining_resources: Sequence[Mapping[str, Any]], needs: Mapping[str, Any]) -> str:
    """AWS's reason code for why a task does not fit on a container instance with these remaining resources."""
    remaining = {resource["name"]: resource for resource in remaining_resources}
    if needs.get("MEMORY", 0) > remaining.get("MEMORY", {}).get("integerValue", 0):
        return "RESOURCE:MEMORY"
    if needs.get("CPU", 0) > remaining.get("CPU", {}).get("integerValue", 0):
        return "RESOURCE:CPU"
    return "RESOURCE:PORTS"


def deployment_configuration_problem(configuration: Mapping[str, Any]) -> str | None:
    """ECS's refusal of a deploymentConfiguration's percentages, or ``None``."""
    maximum = configuration.get("maximumPercent", 200)
    minimum = configuration.get("minimumHealthyPercent", 100)
    if not 0 <= minimum <= 100:
        return "minimumHealthyPercent must be between 0 and 100."
    if maximum < 100:
        return "maximumPercent must be at least 100."
    if maximum <= minimum:
        return "maximumPercent must be greater than minimumHealthyPercent."
    return None


def fits(remaining_resources: Sequence[Mapping[str, Any]], needs: Mapping[str, Any]) -> bool:
    """Whether a task needing ``needs`` (CPU, MEMORY, PORTS) fits on an instance with these remaining resources."""
    remaining = {resource.get("name"): resource for resource in remaining_resources}
    if int(needs.get("CPU") or 0) > int(remaining.get("CPU", {}).get("integerValue") or 0):
        return False
    if int(needs.get("MEMORY") or 0) > int(remaining.get("MEMORY", {}).get("integerValue") or 0):
        return False
    reserved = {str(port) for port in remaining.get("PORTS", {}).get("stringSetValue") or []}
    return not any(str(port) in reserved for port in needs.get("PORTS") or [])


def place(instances: Sequence[Instance], needs: Mapping[str, Any]) -> Instance | None:
    """ECS's placement as the lab does it: the first ACTIVE container instance the task fits on."""
    return next((i for i in instances if i.active and fits(i.remaining_resources, needs)), None)


@dataclass(frozen=True)
class Instance:
    """A container instance as placement sees it."""

    arn: str
    active: bool
    remaining_resources: Sequence[Mapping[str, Any]]


# -- rolling deployments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """A deployment's task counts from ``desiredCount`` and the deploymentConfiguration's percentages."""

    desired: int
    maximum: int  # tasks that may run at once (maximumPercent, rounded down)
    minimum_healthy: int  # healthy tasks to keep while rolling (minimumHealthyPercent, rounded up)


def bounds(desired: int, configuration: Mapping[str, Any]) -> Bounds:
    maximum = math.floor(desired * int(configuration.get("maximumPercent", 200)) / 100)
    minimum_healthy = math.ceil(desired * int(configuration.get("minimumHealthyPercent", 100)) / 100)
    return Bounds(desired, maximum, minimum_healthy)


def tasks_to_start(limits: Bounds, primary: int, active: int, rolling: bool) -> int:
    """How many tasks of the primary deployment to start now; while old tasks remain, within maximumPercent."""
    if not rolling:
        return limits.desired - primary
    room = max(limits.maximum, limits.desired) - active
    return min(limits.desired - primary, max(room, 0))


def backing_off(failures_stopped_at: Sequence[datetime], now: datetime, window: float = 60) -> bool:
    """ECS backs off a service whose tasks keep failing (so a broken image does not spin): 0.5 s doubling, at most 30 s."""
    recent = [stopped for stopped in failures_stopped_at if (now - stopped).total_seconds() < window]
    if not recent:
        return False
    wait = min(0.5 * 2 ** min(len(recent), 6), 30)
    return (now - max(recent)).total_seconds() < wait


@dataclass(frozen=True)
class OldTask:
    """A task of an earlier deployment, still meant to run."""

    arn: str
    created_at: datetime
    serving: bool  # RUNNING and not found unhealthy by its load balancer


def old_tasks_to_stop(old: Sequence[OldTask], healthy_primary: int, minimum_healthy: int) -> list[str]:
    """Old tasks go when they do not serve, or while enough healthy tasks remain (minimumHealthyPercent)."""
    spare = healthy_primary + sum(task.serving for task in old) - minimum_healthy
    stopping = []
    for task in sorted(old, key=lambda t: (t.serving, t.created_at)):
        if not task.serving or spare > 0:
            if task.serving:
                spare -= 1
            stopping.append(task.arn)
    return stopping


def extra_tasks(created: Mapping[str, datetime], desired: int) -> list[str]:
    """After a scale-in, the newest tasks beyond ``desired`` stop."""
    newest_first = sorted(created, key=lambda arn: created[arn], reverse=True)
    return newest_first[: max(len(created) - desired, 0)]


def breaker_threshold(desired: int) -> int:
    """Failed tasks that trip ECS's deployment circuit breaker: half the desired count, at least 3, at most 200."""
    return min(max(3, math.ceil(desired * 0.5)), 200)


def breaker_trips(breaker: Mapping[str, Any], rollout_state: str, failed_tasks: int, desired: int) -> bool:
    return bool(breaker.get("enable")) and rollout_state == "IN_PROGRESS" and failed_tasks >= breaker_threshold(desired)


def rollback_target(breaker: Mapping[str, Any], last_completed: str | None, failing: str) -> str | None:
    """The task definition a tripped breaker rolls back to, or ``None`` (no rollback, or nothing to go back to)."""
    if breaker.get("rollback") and last_completed and last_completed != failing:
        return last_completed
    return None


def steady(deployments: int, healthy_primary: int, primary: int, desired: int) -> bool:
    """ECS's steady state: one deployment, with its desired count of tasks, all healthy."""
    return deployments == 1 and healthy_primary == desired and primary == desired
