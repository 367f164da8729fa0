"""Application Auto Scaling for ECS services, evaluated by the lab from real load.

moto stores scalable targets and target tracking policies (and creates their
alarms) but never evaluates them: ``desiredCount`` never changes and
``describe_scaling_activities`` does not exist. This filler evaluates every ECS
target tracking policy from the lab's real containers and load balancer:

- ``ECSServiceAverageCPUUtilization`` / ``ECSServiceAverageMemoryUtilization``:
  CPU and memory used by the service's running containers, as a percentage of what
  their tasks reserve (as CloudWatch's AWS/ECS metrics define it);
- ``ALBRequestCountPerTarget``: requests the lab's ALB forwarded to the target group
  per minute, divided by the service's running tasks.

Time is compressed so a lesson can watch it: the metric is sampled every
``SAMPLE_SECONDS`` and averaged over the last ``WINDOW_SECONDS`` (AWS uses one-minute
datapoints and several of them). The new capacity is the lab's target tracking model (AWS publishes no formula),
``ceil(current * metric / target)``, kept within min/max capacity and applied
after the policy's scale-out / scale-in cooldowns, and never scaling in when
``DisableScaleIn`` is set. Each change is a scaling activity, visible through
``describe_scaling_activities``. Notebook 06 charts it.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, QuietErrors
from ecslab.lab.monitoring import ContainerSampler
from ecslab.lab.moto import applicationautoscaling as moto_aas
from ecslab.lab.moto.applicationautoscaling import RunningTask

log = logging.getLogger("ecslab.lab.autoscaling")

SAMPLE_SECONDS = 2.0
WINDOW_SECONDS = 10.0
ACTIVITY_RETENTION_SECONDS = 6 * 7 * 24 * 3600
"""Application Auto Scaling shows the scaling activities of the last six weeks (its user guide, "Scaling activities")."""
MAX_ACTIVITIES = 1000
"""And the lab keeps the newest 1000 of them, so a service flapping for days does not grow the lab's memory."""


class AutoScaling(GapFiller):
    name = "Service Auto Scaling"
    gap = "moto stores target tracking policies but never evaluates them: desiredCount never changes, and there are no scaling activities."
    fills = (
        "The lab measures the service's CPU, memory and ALB requests per target from real containers every few seconds "
        "and applies the lab's target tracking model (AWS publishes no formula) within min/max capacity and cooldowns, "
        "recording scaling activities."
    )

    def __init__(self, *, load_balancing: RequestCounts | None, sampler: ContainerSampler) -> None:
        """``load_balancing``: the lab's ALB (ALBRequestCountPerTarget); ``sampler``: the containers' ``docker stats``
        (shared with the CloudWatch filler)."""
        self.load_balancing = load_balancing
        self.sampler = sampler
        self.context: FillerContext | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.samples: dict[str, collections.deque[tuple[float, float]]] = {}
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=2000)
        self.lock = threading.Lock()  # guards the bookkeeping below (the CloudWatch filler records step scaling from its thread)
        self.activities: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_ACTIVITIES)
        self._activity_count = 0
        self._errors = QuietErrors("autoscaling evaluation", log)
        self.last_scale: dict[str, tuple[str, float]] = {}
        self.request_marks: dict[str, collections.deque[tuple[float, int]]] = {}

    def collaborators(self) -> Sequence[object]:
        return [self.load_balancing] if self.load_balancing is not None else []

    @property
    def region(self) -> str:
        assert self.context is not None
        return str(self.context.config.region)

    def start(self, context: FillerContext) -> None:
        self.context = context
        moto_aas.PATCHES.apply(self)
        self.thread = threading.Thread(target=self._loop, name="autoscaling", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        moto_aas.PATCHES.remove()

    def after_reset(self, context: FillerContext) -> None:
        with self.lock:
            self.samples.clear()
            self.history.clear()
            self.activities.clear()
            self.last_scale.clear()
            self.request_marks.clear()

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method == "GET" and path == "/autoscaling/history":
            with self.lock:
                samples = list(self.history)
            return {"samples": samples, "sample_seconds": SAMPLE_SECONDS, "window_seconds": WINDOW_SECONDS}
        return None

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS):
            try:
                self.evaluate()
            except Exception as error:  # logged once per distinct error, not every sample
                self._errors.failed(error)
            else:
                self._errors.succeeded()

    def evaluate(self) -> None:
        with LAB_LOCK:  # a snapshot of the policies, their services and tasks; measuring comes after, unlocked
            policies = [policy for policy in moto_aas.ecs_policies(self.region) if policy.target_tracking]
            services = {policy.arn: moto_aas.ecs_service(self.region, *policy.service_key) for policy in policies}
            tasks = {arn: moto_aas.running_tasks(self.region, s) for arn, s in services.items() if s is not None}
        with self.lock:
            live = {policy.arn for policy in policies}
            for arn in [arn for arn in self.samples if arn not in live]:
                del self.samples[arn]  # a deleted policy's window
        for policy in policies:
            service = services[policy.arn]
            if service is None or service.status != "ACTIVE":
                continue
            configuration = policy.target_tracking or {}
            metric_type = configuration.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType", "")
            value = self._measure(metric_type, configuration, service, tasks[policy.arn])
            if value is not None:
                self._sample(policy, configuration, service, metric_type, value)

    def _sample(
        self,
        policy: moto_aas.EcsScalingPolicy,
        configuration: dict[str, Any],
        service: moto_aas.EcsService,
        metric: str,
        value: float,
    ) -> None:
        """Add one measurement to the policy's window, then apply target tracking to the window's average."""
        now = time.monotonic()
        with self.lock:
            window = self.samples.setdefault(policy.arn, collections.deque())
            window.append((now, value))
            while window and window[0][0] < now - WINDOW_SECONDS:
                window.popleft()
            average = sum(v for _, v in window) / len(window)
        desired = self._decide(policy, configuration, average)
        with self.lock:
            self.history.append(
                {
                    "time": time.time(),
                    "policy": policy.name,
                    "resource": policy.resource_id,
                    "metric": metric,
                    "value": round(value, 2),
                    "average": round(average, 2),
                    "target": configuration.get("TargetValue"),
                    "desired": desired,
                    "running": service.running_count,
                }
            )

    def _measure(
        self, metric_type: str, configuration: dict[str, Any], service: moto_aas.EcsService, tasks: list[RunningTask]
    ) -> float | None:
        if metric_type in ("ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"):
            return self._container_utilization(tasks, cpu=metric_type.endswith("CPUUtilization"))
        if metric_type == "ALBRequestCountPerTarget":
            return self._requests_per_target(configuration, service)
        return None

    def _container_utilization(self, tasks: list[RunningTask], cpu: bool) -> float | None:
        assert self.context is not None
        if self.context.docker is None:
            return None
        LAB_LOCK.forbid("docker stats")
        readings = self.sampler.readings(self.context.docker, tasks)
        values = [reading.cpu if cpu else reading.memory for reading in readings]
        return sum(values) / len(values) if values else None

    def _requests_per_target(self, configuration: dict[str, Any], service: moto_aas.EcsService) -> float | None:
        label = configuration.get("PredefinedMetricSpecification", {}).get("ResourceLabel", "")
        suffix = label.split("/targetgroup/")[-1]
        group_arn = next((arn for arn in service.target_group_arns if arn.endswith(suffix)), None) if label else None
        group_arn = group_arn or (service.target_group_arns[0] if service.target_group_arns else None)
        if self.load_balancing is None or group_arn is None:
            return None
        count = self.load_balancing.request_counts().get(group_arn, 0)
        now = time.monotonic()
        with self.lock:
            marks = self.request_marks.setdefault(group_arn, collections.deque())
            marks.append((now, count))
            while len(marks) > 1 and marks[0][0] < now - WINDOW_SECONDS:
                marks.popleft()
            if len(marks) < 2:
                return None
            per_minute = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0]) * 60
        return per_minute / max(service.running_count, 1)

    def _decide(self, policy: moto_aas.EcsScalingPolicy, configuration: dict[str, Any], average: float) -> int | None:
        """Apply target tracking to the service (read afresh); the desired count it has now (``None``: it is gone)."""
        with LAB_LOCK:
            service = moto_aas.ecs_service(self.region, *policy.service_key)
            if service is None:
                return None
            current = service.desired_count
            wanted = target_tracking_capacity(policy, configuration, service.running_count, average)
            if wanted == current:
                return current
            direction = "out" if wanted > current else "in"
            goal = float(configuration.get("TargetValue", 0)) or 1.0
            if direction == "in" and (configuration.get("DisableScaleIn") or average > goal * 0.9):
                return current
            cooldown = int(configuration.get("ScaleOutCooldown" if direction == "out" else "ScaleInCooldown", 300))
            with self.lock:
                last = self.last_scale.get(policy.resource_id)
                if last is not None and time.monotonic() - last[1] < cooldown:
                    return current
                self.last_scale[policy.resource_id] = (direction, time.monotonic())
            moto_aas.set_desired_count(self.region, *policy.service_key, wanted)
        alarm = "AlarmHigh" if direction == "out" else "AlarmLow"
        self.record(
            policy.resource_id,
            wanted,
            f"monitor alarm TargetTracking-{policy.resource_id}-{alarm} in state ALARM triggered policy {policy.name}",
        )
        return wanted

    def record(self, resource_id: str, wanted: int, cause: str, now: float | None = None) -> None:
        """One scaling activity, as ``describe_scaling_activities`` reports it (the newest MAX_ACTIVITIES are kept)."""
        now = time.time() if now is None else now
        activity = {
            "ServiceNamespace": "ecs",
            "ResourceId": resource_id,
            "ScalableDimension": "ecs:service:DesiredCount",
            "Description": f"Setting desired count to {wanted}.",
            "Cause": cause,
            "StartTime": now,
            "EndTime": now,
            "StatusCode": "Successful",
            "StatusMessage": f"Successfully set desired count to {wanted}. Change successfully fulfilled by ecs.",
        }
        with self.lock:
            self._activity_count += 1
            self.activities.append({"ActivityId": f"{int(now * 1000):x}-{self._activity_count}", **activity})

    def recent_activities(self, now: float | None = None) -> list[dict[str, Any]]:
        """The activities of the last six weeks, oldest first, as Application Auto Scaling keeps them."""
        cutoff = (time.time() if now is None else now) - ACTIVITY_RETENTION_SECONDS
        with self.lock:
            while self.activities and self.activities[0]["StartTime"] < cutoff:
                self.activities.popleft()
            return list(self.activities)


def target_tracking_capacity(
    policy: moto_aas.EcsScalingPolicy, configuration: dict[str, Any], running: int, average: float
) -> int:
    """The lab's target tracking model, ``ceil(running * metric / target)`` (AWS publishes no formula), within min/max capacity."""
    goal = float(configuration.get("TargetValue", 0)) or 1.0
    wanted = math.ceil(max(running, 1) * average / goal)
    return max(int(policy.min_capacity or 0), min(int(policy.max_capacity or wanted), wanted))


class RequestCounts(Protocol):
    """Requests the load balancer forwarded so far, per target group ARN (:meth:`ecslab.lab.elb.LoadBalancing.request_counts`)."""

    def request_counts(self) -> dict[str, int]: ...
