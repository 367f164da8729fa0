"""Fargate Spot from the learner's side: where tasks landed, and a Spot interruption as AWS makes one.

:func:`providers` counts a service's tasks per capacity provider (``capacityProviderName``), to compare with its
strategy's base and weight. :func:`interrupt` (lab only) makes the lab interrupt a ``FARGATE_SPOT`` task as AWS
does: SIGTERM to its containers, ``stopCode`` ``SpotInterruption``, the two-minute warning shortened by the lab's
clock; the service then replaces the task. Notebook 05 (capacity providers) uses them.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

__all__ = ["interrupt", "providers", "wait_stopped"]


def providers(ecs: Any, cluster: str, service: str) -> dict[str, int]:
    """How many RUNNING-desired tasks of ``service`` each capacity provider runs."""
    arns = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    if not arns:
        return {}
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    return dict(Counter(task.get("capacityProviderName", task.get("launchType", "?")) for task in tasks))


def interrupt(lab: Any, task_arn: str) -> dict[str, Any]:
    """Lab only: interrupt the ``FARGATE_SPOT`` task ``task_arn`` (SIGTERM now, killed after the shortened warning)."""
    if not getattr(lab, "is_local", False):
        raise RuntimeError(
            "Only AWS interrupts Fargate Spot tasks. To see how your app takes it, stop a task (ecs.stop_task: SIGTERM, "
            "then SIGKILL after the container's stopTimeout) and watch for the 'ECS Task State Change' event with "
            "stopCode SpotInterruption in EventBridge."
        )
    import urllib.parse

    from ecslab.lab.manage import LabError, control

    answer = control(lab.config, "POST", "/ecs/spot-interruption?" + urllib.parse.urlencode({"task": task_arn}), timeout=10)
    if "error" in answer:
        raise LabError(str(answer["error"]))
    return answer


def wait_stopped(ecs: Any, cluster: str, task_arn: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until ``task_arn`` is STOPPED; its ``describe_tasks`` entry."""
    deadline = time.monotonic() + timeout
    while True:
        task = dict(ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0])
        if task["lastStatus"] == "STOPPED" or time.monotonic() > deadline:
            return task
        time.sleep(0.2)
