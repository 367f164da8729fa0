"""Reading an ECS service deployment's story: its status, lifecycle stage and traffic split over time.

Since 2025 ECS reports each rollout of a service as a *service deployment*
(``list_service_deployments``, ``describe_service_deployments``) that deploys a *service revision*
(``describe_service_revisions``); BLUE_GREEN, CANARY and LINEAR deployments also say how much production
traffic each revision is meant to get. These helpers poll that story with plain boto3, so they work the same
in the lab and on AWS. Used by the deployment-strategy tests and benchmarks (and the notebook that follows 06).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Snapshot", "latest_deployment_arn", "snapshot", "story", "watch", "wait_for_deployment"]

DONE = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
"""Service deployment statuses after which nothing changes any more."""


@dataclass(frozen=True)
class Snapshot:
    """One reading of a service deployment: when (seconds on the caller's clock), status, stage and weights."""

    at: float
    status: str
    lifecycle_stage: str | None
    target_production_weight: float | None
    target_test_weight: float | None
    target_running: int
    source_running: int


def latest_deployment_arn(ecs: Any, cluster: str, service: str) -> str:
    """The ARN of the service's newest service deployment (``list_service_deployments`` lists newest first)."""
    found = ecs.list_service_deployments(cluster=cluster, service=service)["serviceDeployments"]
    if not found:
        raise LookupError(f"service {service} in cluster {cluster} has no service deployment yet")
    return str(found[0]["serviceDeploymentArn"])


def snapshot(ecs: Any, deployment_arn: str, at: float) -> Snapshot:
    """``describe_service_deployments`` for one ARN, reduced to what changes during a rollout."""
    described = ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn])["serviceDeployments"][0]
    target = described.get("targetServiceRevision") or {}
    sources = described.get("sourceServiceRevisions") or []
    return Snapshot(
        at=at,
        status=described["status"],
        lifecycle_stage=described.get("lifecycleStage"),
        target_production_weight=target.get("requestedProductionTrafficWeight"),
        target_test_weight=target.get("requestedTestTrafficWeight"),
        target_running=int(target.get("runningTaskCount") or 0),
        source_running=sum(int(s.get("runningTaskCount") or 0) for s in sources),
    )


def watch(
    ecs: Any, deployment_arn: str, clock: Callable[[], float] = time.monotonic, interval: float = 0.2, timeout: float = 300
) -> Iterator[Snapshot]:
    """Every reading until the deployment is done (or ``timeout`` seconds pass), ``interval`` seconds apart."""
    deadline = time.monotonic() + timeout
    while True:
        reading = snapshot(ecs, deployment_arn, clock())
        yield reading
        if reading.status in DONE or time.monotonic() > deadline:
            return
        time.sleep(interval)


def wait_for_deployment(ecs: Any, deployment_arn: str, timeout: float = 300) -> Snapshot:
    """The deployment's last reading once it is done; raises ``TimeoutError`` if it is still going after ``timeout`` s."""
    readings = list(watch(ecs, deployment_arn, timeout=timeout))
    last = readings[-1]
    if last.status not in DONE:
        raise TimeoutError(f"service deployment {deployment_arn} still {last.status} after {timeout:.0f} s")
    return last


def story(readings: list[Snapshot]) -> list[str]:
    """One line per change of status, stage or production weight: the deployment's story, as read."""
    lines = []
    previous: tuple[Any, ...] | None = None
    start = readings[0].at if readings else 0.0
    for reading in readings:
        key = (reading.status, reading.lifecycle_stage, reading.target_production_weight)
        if key != previous:
            weight = (
                "" if reading.target_production_weight is None else f", new revision gets {reading.target_production_weight:g}%"
            )
            lines.append(f"{reading.at - start:6.1f} s  {reading.status} {reading.lifecycle_stage or ''}{weight}".rstrip())
            previous = key
    return lines
