"""Capacity providers: FARGATE and FARGATE_SPOT placed by a strategy's base and weight, and Spot interruptions.

On AWS a cluster lists its capacity providers (``create_cluster(capacityProviders=...)``,
``put_cluster_capacity_providers``) and may have a default strategy; a service or ``run_task`` names a
``capacityProviderStrategy`` (or gets the cluster's default). ECS places the first tasks on the provider with a
``base`` until the base is met, then the rest by the ``weight`` ratios (botocore's ``CapacityProviderStrategyItem``:
"Base requirements are satisfied first before weight distribution"; "If capacityProviderA has weight 1 and
capacityProviderB has weight 4, then for every 1 task on A, 4 tasks will run on B"). moto records the
strategy of ``run_task`` but puts every task on its first provider, and drops a service's strategy.

Here:

- :func:`next_provider` and :func:`split` (:mod:`ecslab.lab.capacity_strategy`) are the rule as pure functions
  (``tests/test_capacity.py``);
- :func:`provider_for_next_task` is what the ECS agent asks when it starts a service's task (under the lab lock);
- :class:`CapacityProviders` is the gap filler: it applies :mod:`ecslab.lab.moto.ecs_extras` (the API fields moto
  drops) and interrupts a Spot task as AWS does (``POST /ecs/spot-interruption?task=ARN``, what
  :func:`ecslab.spot.interrupt` calls): the task is marked for stopping with ``stopCode`` ``SpotInterruption``
  and ``stoppedReason`` "Your Spot Task was interrupted.", its containers get SIGTERM at once, and whatever still
  runs when the two-minute warning is over (shortened by the lab's clock, :data:`SPOT_WARNING_LAB_SECONDS`)
  is killed. The service replaces the task as it replaces any stopped task.

Notebooks 04 and 05 describe capacity providers; the lab runs them.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from ecslab import config as lab_config
from ecslab.lab.capacity_strategy import FARGATE_PROVIDERS, NOT_IN_CLUSTER, next_provider, split, strategy_problem
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, TaskNotes

__all__ = ["NOT_IN_CLUSTER", "CapacityProviders", "next_provider", "provider_for_next_task", "split", "strategy_problem"]

log = logging.getLogger("ecslab.lab.capacity")

SPOT_WARNING_AWS_SECONDS = 120
"""Fargate Spot's interruption warning on AWS: two minutes between the SIGTERM and the task's end."""

SPOT_WARNING_LAB_SECONDS = SPOT_WARNING_AWS_SECONDS / 60 * lab_config.LAB_SECONDS_PER_AWS_MINUTE
"""The same warning on the lab's clock (one lab second per AWS minute, as the lab's deployment timers)."""

SPOT_STOP_CODE = "SpotInterruption"
SPOT_STOPPED_REASON = "Your Spot Task was interrupted."


def docker_of(context: FillerContext) -> Any:
    """The lab's Docker client (made at first use, as the ECS agent does, when no engine answered at start)."""
    if context.docker is None:
        from ecslab.engine import docker_client

        context.docker = docker_client()
    return context.docker


# -- what the ECS agent asks (under the lab lock) ---------------------------------------------------------


def provider_for_next_task(backend: Any, service: Any) -> str | None:
    """The capacity provider of the service's next task, or ``None`` when the service has no Fargate strategy.

    ``backend`` is moto's ECS backend and ``service`` its Service (read under the lab lock)."""
    strategy = list(getattr(service, "capacity_provider_strategy", None) or [])
    if not strategy or any(item.get("capacityProvider") not in FARGATE_PROVIDERS for item in strategy):
        return None  # Auto Scaling group providers are not modelled: the agent places such tasks as EC2
    counts: dict[str, int] = {}
    for task in backend.tasks.get(service.cluster_name, {}).values():
        if task.group == f"service:{service.name}" and task.desired_status == "RUNNING":
            name = getattr(task, "capacity_provider_name", None)
            if name:
                counts[name] = counts.get(name, 0) + 1
    return next_provider(strategy, counts)


# -- the filler ---------------------------------------------------------------------------------------


class CapacityProviders(GapFiller):
    name = "Capacity providers"
    gap = (
        "moto puts every task of a run_task on the strategy's first capacity provider, drops a service's "
        "capacityProviderStrategy (its tasks become EC2), drops enableExecuteCommand and serviceConnectConfiguration, "
        "and cannot interrupt a Spot task."
    )
    fills = (
        "The lab keeps those fields, refuses a provider the cluster does not have in ECS's words, places FARGATE and "
        "FARGATE_SPOT tasks by base then weight (each task's capacityProviderName), and interrupts a Spot task as AWS "
        f"does: SIGTERM, stopCode SpotInterruption, killed after the two-minute warning (here {SPOT_WARNING_LAB_SECONDS:g} s), "
        "then the service replaces it."
    )

    def __init__(self, notes: TaskNotes | None = None) -> None:
        self.notes = notes
        self.context: FillerContext | None = None
        self.interruptions: dict[str, dict[str, Any]] = {}  # task ARN -> what happened, for the helper

    def collaborators(self) -> Sequence[object]:
        return (self.notes,) if self.notes is not None else ()

    def start(self, context: FillerContext) -> None:
        from ecslab.lab.moto import ecs_extras

        self.context = context
        ecs_extras.PATCHES.apply(None)

    def after_reset(self, context: FillerContext) -> None:
        self.context = context
        with LAB_LOCK:
            self.interruptions.clear()

    def stop(self) -> None:
        from ecslab.lab.moto import ecs_extras

        ecs_extras.PATCHES.remove()

    def status(self) -> dict[str, Any]:
        return {"spot_warning": {"aws_seconds": SPOT_WARNING_AWS_SECONDS, "lab_seconds": SPOT_WARNING_LAB_SECONDS}}

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        route, _, query = path.partition("?")
        if route != "/ecs/spot-interruption":
            return None
        task_arn = urllib.parse.parse_qs(query).get("task", [""])[0]
        if method == "GET":
            with LAB_LOCK:
                return dict(self.interruptions.get(task_arn) or {"error": f"no Spot interruption of {task_arn}"})
        return self.interrupt(task_arn)

    def interrupt(self, task_arn: str) -> dict[str, Any]:
        """Interrupt a RUNNING FARGATE_SPOT task: marked, SIGTERM now, killed after the (shortened) warning."""
        from ecslab.lab.moto.ecs import backend as ecs_backend

        assert self.context is not None
        with LAB_LOCK:
            task: Any = next(
                (
                    t
                    for tasks in ecs_backend(self.context.config.region).tasks.values()
                    for t in tasks.values()
                    if task_arn and (t.task_arn == task_arn or t.task_arn.endswith("/" + task_arn))
                ),
                None,
            )
            if task is None:
                return {"error": f"no task {task_arn}"}
            if getattr(task, "capacity_provider_name", None) != "FARGATE_SPOT":
                return {
                    "error": f"task {task.task_arn} runs on {task.capacity_provider_name or task.launch_type}, not FARGATE_SPOT"
                }
            if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
                return {"error": f"task {task.task_arn} is {task.last_status} (desired {task.desired_status}), not RUNNING"}
            task.desired_status = "STOPPED"
            task.stop_code = SPOT_STOP_CODE
            task.stopped_reason = SPOT_STOPPED_REASON
            record = {
                "taskArn": task.task_arn,
                "warnedAt": time.time(),
                "warningSeconds": {"aws": SPOT_WARNING_AWS_SECONDS, "lab": SPOT_WARNING_LAB_SECONDS},
                "stopCode": SPOT_STOP_CODE,
                "stoppedReason": SPOT_STOPPED_REASON,
                "signals": [],
            }
            self.interruptions[task.task_arn] = record
        if self.notes is not None:
            self.notes.note(
                task,
                f"Spot interruption: SIGTERM now; on AWS the task ends within {SPOT_WARNING_AWS_SECONDS} s, "
                f"in the lab within {SPOT_WARNING_LAB_SECONDS:g} s (the lab's clock)",
            )
        self._signal(task.task_arn, "SIGTERM", record)
        threading.Thread(target=self._kill_after_warning, args=(task.task_arn, record), name="spot-warning", daemon=True).start()
        return dict(record)

    def _containers(self, task_arn: str) -> list[Any]:
        LAB_LOCK.forbid("Docker I/O")
        assert self.context is not None
        from ecslab.config import LAB_LABEL
        from ecslab.lab.runtime import TASK_LABEL

        docker = docker_of(self.context)
        found: list[Any] = docker.containers.list(
            filters={"label": [f"{LAB_LABEL}={self.context.config.home}", f"{TASK_LABEL}={task_arn}"]}
        )
        return found

    def _signal(self, task_arn: str, signal: str, record: dict[str, Any]) -> None:
        for container in self._containers(task_arn):
            try:
                container.kill(signal=signal)
            except Exception as error:  # it may have exited meanwhile
                log.debug("%s to %s: %s", signal, container.name, error)
                continue
            with LAB_LOCK:
                record["signals"].append({"signal": signal, "container": container.name, "at": time.time()})

    def _kill_after_warning(self, task_arn: str, record: dict[str, Any]) -> None:
        time.sleep(SPOT_WARNING_LAB_SECONDS)
        self._signal(task_arn, "SIGKILL", record)
