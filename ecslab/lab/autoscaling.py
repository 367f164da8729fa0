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
datapoints and several of them). The new capacity is AWS's target tracking formula,
``ceil(current * metric / target)``, kept within min/max capacity and applied
after the policy's scale-out / scale-in cooldowns, and never scaling in when
``DisableScaleIn`` is set. Each change is a scaling activity, visible through
``describe_scaling_activities``. Notebook 06 charts it.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import threading
import time
from typing import Any

from ecslab.config import ACCOUNT_ID
from ecslab.lab.fillers import FillerContext, GapFiller, QuietErrors

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
        "and applies AWS's target tracking formula within min/max capacity and cooldowns, recording scaling activities."
    )

    def __init__(self) -> None:
        self.context: FillerContext | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.samples: dict[str, collections.deque[tuple[float, float]]] = {}
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=2000)
        self.lock = threading.Lock()  # guards activities: the CloudWatch filler records step scaling from its own thread
        self.activities: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_ACTIVITIES)
        self._activity_count = 0
        self._errors = QuietErrors("autoscaling evaluation", log)
        self.last_scale: dict[str, tuple[str, float]] = {}
        self.request_marks: dict[str, collections.deque[tuple[float, int]]] = {}
        self._original: Any = None

    def start(self, context: FillerContext) -> None:
        self.context = context
        from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

        filler = self

        def describe_scaling_activities(response: Any) -> str:
            namespace = response._get_param("ServiceNamespace")
            resource = response._get_param("ResourceId")
            found = [
                a
                for a in reversed(filler.recent_activities())
                if a["ServiceNamespace"] == namespace and (not resource or a["ResourceId"] == resource)
            ]
            return json.dumps({"ScalingActivities": found})

        self._original = ApplicationAutoScalingResponse.__dict__.get("describe_scaling_activities")
        ApplicationAutoScalingResponse.describe_scaling_activities = describe_scaling_activities  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self._loop, name="autoscaling", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

        if self._original is None and hasattr(ApplicationAutoScalingResponse, "describe_scaling_activities"):
            delattr(ApplicationAutoScalingResponse, "describe_scaling_activities")

    def after_reset(self, context: FillerContext) -> None:
        self.samples.clear()
        self.history.clear()
        with self.lock:
            self.activities.clear()
        self.last_scale.clear()
        self.request_marks.clear()

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method == "GET" and path == "/autoscaling/history":
            return {"samples": list(self.history), "sample_seconds": SAMPLE_SECONDS, "window_seconds": WINDOW_SECONDS}
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
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        assert self.context is not None
        backend = applicationautoscaling_backends[ACCOUNT_ID][self.context.config.region]
        ecs = backend.ecs_backend
        policies = list(backend.policies.values())
        live = {policy.policy_arn for policy in policies}
        for arn in [arn for arn in self.samples if arn not in live]:
            del self.samples[arn]  # a deleted policy's window
        for policy in policies:
            configuration = policy.target_tracking_scaling_policy_configuration
            if policy.service_namespace != "ecs" or not configuration:
                continue
            _, cluster, service_name = policy.resource_id.split("/", 2)
            service = ecs.services.get(f"{cluster}:{service_name}")
            target = backend.targets.get("ecs:service:DesiredCount", {}).get(policy.resource_id)
            if service is None or target is None or service.status != "ACTIVE":
                continue
            metric_type = configuration.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType", "")
            value = self._measure(metric_type, configuration, service, ecs)
            if value is None:
                continue
            now = time.monotonic()
            window = self.samples.setdefault(policy.policy_arn, collections.deque())
            window.append((now, value))
            while window and window[0][0] < now - WINDOW_SECONDS:
                window.popleft()
            average = sum(v for _, v in window) / len(window)
            self._decide(policy, configuration, target, service, average)
            self.history.append(
                {
                    "time": time.time(),
                    "policy": policy.policy_name,
                    "resource": policy.resource_id,
                    "metric": metric_type,
                    "value": round(value, 2),
                    "average": round(average, 2),
                    "target": configuration.get("TargetValue"),
                    "desired": service.desired_count,
                    "running": service.running_count,
                }
            )

    def _measure(self, metric_type: str, configuration: dict[str, Any], service: Any, ecs: Any) -> float | None:
        if metric_type in ("ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"):
            return self._container_utilization(service, ecs, cpu=metric_type.endswith("CPUUtilization"))
        if metric_type == "ALBRequestCountPerTarget":
            return self._requests_per_target(configuration, service)
        return None

    def _container_utilization(self, service: Any, ecs: Any, cpu: bool) -> float | None:
        assert self.context is not None
        docker = self.context.docker
        if docker is None:
            return None
        tasks = [
            t
            for tasks in ecs.tasks.values()
            for t in tasks.values()
            if t.group == f"service:{service.name}" and t.last_status == "RUNNING"
        ]
        readings: list[float] = []
        lock = threading.Lock()

        def read(task: Any) -> None:
            containers = docker.containers.list(
                filters={"label": f"com.amazonaws.ecs.task-arn={task.task_arn}"}, ignore_removed=True
            )
            for container in containers:
                stats = container.stats(stream=False)
                if cpu:
                    used = stats["cpu_stats"]["cpu_usage"]["total_usage"] - stats["precpu_stats"]["cpu_usage"]["total_usage"]
                    system = stats["cpu_stats"].get("system_cpu_usage", 0) - stats["precpu_stats"].get("system_cpu_usage", 0)
                    online = stats["cpu_stats"].get("online_cpus") or 1
                    cores_used = used / system * online if system > 0 else 0.0
                    reserved = int(str(task.cpu or 1024)) / 1024
                    value = 100 * cores_used / reserved
                else:
                    memory = stats.get("memory_stats", {})
                    usage = memory.get("usage", 0) - memory.get("stats", {}).get("cache", 0)
                    reserved_mib = int(str(task.memory or 512))
                    value = 100 * usage / (reserved_mib * 1024 * 1024)
                with lock:
                    readings.append(value)

        threads = [threading.Thread(target=read, args=(task,), daemon=True) for task in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)
        return sum(readings) / len(readings) if readings else None

    def _requests_per_target(self, configuration: dict[str, Any], service: Any) -> float | None:
        assert self.context is not None
        alb = self.context.fillers.get("Application Load Balancer")
        label = configuration.get("PredefinedMetricSpecification", {}).get("ResourceLabel", "")
        group_arn = (
            next(
                (
                    lb["targetGroupArn"]
                    for lb in service.load_balancers
                    if lb["targetGroupArn"].endswith(label.split("/targetgroup/")[-1])
                ),
                None,
            )
            if label
            else None
        )
        group_arn = group_arn or (service.load_balancers[0]["targetGroupArn"] if service.load_balancers else None)
        if alb is None or group_arn is None:
            return None
        count = alb.request_counts().get(group_arn, 0)  # type: ignore[attr-defined]
        now = time.monotonic()
        marks = self.request_marks.setdefault(group_arn, collections.deque())
        marks.append((now, count))
        while len(marks) > 1 and marks[0][0] < now - WINDOW_SECONDS:
            marks.popleft()
        if len(marks) < 2:
            return None
        per_minute = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0]) * 60
        return per_minute / max(service.running_count, 1)

    def _decide(self, policy: Any, configuration: dict[str, Any], target: Any, service: Any, average: float) -> None:
        goal = float(configuration.get("TargetValue", 0)) or 1.0
        current = int(service.desired_count)
        wanted = math.ceil(max(service.running_count, 1) * average / goal)
        wanted = max(int(target.min_capacity or 0), min(int(target.max_capacity or wanted), wanted))
        if wanted == current:
            return
        direction = "out" if wanted > current else "in"
        if direction == "in" and (configuration.get("DisableScaleIn") or average > goal * 0.9):
            return
        cooldown = int(configuration.get("ScaleOutCooldown" if direction == "out" else "ScaleInCooldown", 300))
        last = self.last_scale.get(policy.resource_id)
        if last is not None and time.monotonic() - last[1] < cooldown:
            return
        service.desired_count = wanted
        for deployment in service.deployments[:1]:
            deployment["desiredCount"] = wanted
        self.last_scale[policy.resource_id] = (direction, time.monotonic())
        alarm = "AlarmHigh" if direction == "out" else "AlarmLow"
        self.record(
            policy.resource_id,
            wanted,
            f"monitor alarm TargetTracking-{policy.resource_id}-{alarm} in state ALARM triggered policy {policy.policy_name}",
        )

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
