"""CloudWatch in the lab: container logs, ECS and ALB metrics, alarms that change state.

moto stores log events and metrics that are put into it, but nothing puts them: the
``awslogs`` log driver creates no log group or stream, no AWS/ECS or
AWS/ApplicationELB metric is ever published, and alarms are never evaluated. This
filler does that work, through the same public APIs a learner uses (boto3 against
the lab's own endpoint), so what it writes is exactly what ``get_log_events``,
``get_metric_statistics`` and ``describe_alarms`` return:

- **Logs**: a container whose definition has ``logConfiguration`` with the
  ``awslogs`` driver has its stdout/stderr shipped to ``awslogs-group``, stream
  ``awslogs-stream-prefix/CONTAINER/TASK_ID``, within about a second of each line.
  The group must exist unless ``awslogs-create-group`` is ``"true"``; otherwise the
  task fails to start with ECS's ResourceInitializationError, as on AWS.
- **Metrics**: every ``PERIOD_SECONDS`` the lab publishes AWS/ECS ``CPUUtilization``
  and ``MemoryUtilization`` (percent of what the tasks reserve) with the dimensions
  AWS uses (ClusterName + ServiceName, and ClusterName), and AWS/ApplicationELB
  ``RequestCount`` and ``TargetResponseTime`` (LoadBalancer, TargetGroup). AWS
  publishes one-minute datapoints; the lab's are ten seconds apart so a lesson can
  watch them change.
- **Alarms**: every ``PERIOD_SECONDS`` each metric alarm is evaluated (period,
  evaluation periods, datapoints to alarm, threshold, comparison, missing data
  treatment) and moved between OK, ALARM and INSUFFICIENT_DATA with a reason in
  CloudWatch's words; ``describe_alarm_history`` (which moto lacks) shows the changes.
  An alarm action naming an ECS service's step scaling policy changes its desired count.

Notebook 08 shows all of it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ecslab.lab.elb import TargetGroupTraffic
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, QuietErrors, ScalingActivity
from ecslab.lab.moto import applicationautoscaling as moto_aas
from ecslab.lab.moto import cloudwatch as moto_cloudwatch
from ecslab.lab.moto import elbv2 as moto_elbv2
from ecslab.lab.moto.applicationautoscaling import RunningTask
from ecslab.lab.moto.cloudwatch import CloudWatchBackend

log = logging.getLogger("ecslab.lab.monitoring")

PERIOD_SECONDS = 10
METRIC_RETENTION = timedelta(days=15)
"""CloudWatch keeps one-minute datapoints for 15 days (GetMetricStatistics' API reference); older ones go."""
MAX_DATAPOINTS = 20_000
"""And at most this many datapoints in all (about 14 hours of a lab running three services), the oldest go first."""
MAX_ALARM_HISTORY = 500
"""State changes kept per alarm (``describe_alarm_history``); an alarm flapping every 10 s would otherwise grow without end."""
COMPARISONS = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


def prune_metric_data(
    cloudwatch: CloudWatchBackend, now: datetime, retention: timedelta = METRIC_RETENTION, limit: int = MAX_DATAPOINTS
) -> int:
    """Drop moto's datapoints older than ``retention`` and all but the newest ``limit``; how many went (see the adapter)."""
    return moto_cloudwatch.prune_metric_data(cloudwatch, now, retention, limit, MAX_ALARM_HISTORY)


@dataclass(frozen=True)
class Reading:
    """One container's use of what its task reserves, in percent (as AWS/ECS utilization defines it)."""

    cpu: float
    memory: float


class ContainerSampler:
    """``docker stats`` of the running tasks' containers: the one sampler CloudWatch and autoscaling share.

    Readings of a task younger than :data:`FRESH_SECONDS` are reused, so the two fillers sampling
    the same containers a moment apart ask the engine once. No lock is held while the engine answers."""

    FRESH_SECONDS = 1.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, tuple[float, list[Reading]]] = {}  # task ARN -> (when, readings)

    def readings(self, docker: Any, tasks: list[RunningTask]) -> list[Reading]:
        """One reading per running container of ``tasks`` (none for a task whose containers the engine cannot read)."""
        now = time.monotonic()
        with self._lock:
            self._recent = {arn: seen for arn, seen in self._recent.items() if now - seen[0] < self.FRESH_SECONDS}
            fresh = {task.task_arn: self._recent[task.task_arn][1] for task in tasks if task.task_arn in self._recent}
        missing = [task for task in tasks if task.task_arn not in fresh]
        read: dict[str, list[Reading]] = {}
        threads = [threading.Thread(target=self._read, args=(docker, task, read), daemon=True) for task in missing]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)
        with self._lock:
            done = dict(read)
            for arn, readings in done.items():
                self._recent[arn] = (time.monotonic(), readings)
        return [reading for task in tasks for reading in fresh.get(task.task_arn, done.get(task.task_arn, []))]

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()

    def _read(self, docker: Any, task: RunningTask, into: dict[str, list[Reading]]) -> None:
        try:
            containers = docker.containers.list(
                filters={"label": f"com.amazonaws.ecs.task-arn={task.task_arn}"}, ignore_removed=True
            )
        except Exception:
            return  # the engine is gone: no reading (the ECS agent logs that once)
        readings = []
        for container in containers:
            try:
                readings.append(reading_of(container.stats(stream=False), task))
            except Exception:
                continue
        with self._lock:
            into[task.task_arn] = readings


def reading_of(stats: dict[str, Any], task: RunningTask) -> Reading:
    """A container's ``docker stats`` as percentages of its task's cpu units and memory."""
    used = stats["cpu_stats"]["cpu_usage"]["total_usage"] - stats["precpu_stats"]["cpu_usage"]["total_usage"]
    system = stats["cpu_stats"].get("system_cpu_usage", 0) - stats["precpu_stats"].get("system_cpu_usage", 0)
    cores = used / system * (stats["cpu_stats"].get("online_cpus") or 1) if system > 0 else 0.0
    memory_stats = stats.get("memory_stats", {})
    usage = memory_stats.get("usage", 0) - memory_stats.get("stats", {}).get("cache", 0)
    return Reading(100 * cores / (task.cpu_units / 1024), 100 * usage / (task.memory_mib * 1024 * 1024))


def missing_log_group_reason(group: str) -> str:
    return (
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. "
        f"(log group {group}) : exit status 1"
    )


class CloudWatch(GapFiller):
    name = "CloudWatch"
    gap = "moto stores logs and metrics you put, but the awslogs driver ships nothing, no AWS/ECS or ALB metric is published, and alarms are never evaluated."
    fills = (
        "The lab ships awslogs containers' output to CloudWatch Logs, publishes AWS/ECS and AWS/ApplicationELB metrics "
        "every 10 s from the real containers and listeners, and evaluates alarms, changing their state with a reason."
    )

    def __init__(
        self,
        *,
        load_balancing: AlbTraffic | None,
        scaling: ScalingActivity | None,
        sampler: ContainerSampler,
    ) -> None:
        """``load_balancing``: the lab's ALB (AWS/ApplicationELB metrics); ``scaling``: where a step scaling action is
        recorded as a scaling activity; ``sampler``: the containers' ``docker stats`` (shared with autoscaling)."""
        self.load_balancing = load_balancing
        self.scaling = scaling
        self.sampler = sampler
        self.context: FillerContext | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}
        self._request_marks: dict[str, tuple[int, float]] = {}
        self._errors = {name: QuietErrors(name, log) for name in ("publishing metrics", "evaluating alarms", "pruning metrics")}

    def collaborators(self) -> Sequence[object]:
        return [c for c in (self.load_balancing, self.scaling) if c is not None]

    @property
    def region(self) -> str:
        assert self.context is not None
        return str(self.context.config.region)

    def start(self, context: FillerContext) -> None:
        self.context = context
        moto_cloudwatch.PATCHES.apply(None)
        self.thread = threading.Thread(target=self._loop, name="cloudwatch", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        moto_cloudwatch.PATCHES.remove()

    def after_reset(self, context: FillerContext) -> None:
        self._request_marks.clear()
        self.sampler.clear()

    def client(self, service: str) -> Any:
        import boto3

        assert self.context is not None
        if service not in self._clients:
            config = self.context.config
            self._clients[service] = boto3.client(
                service,
                endpoint_url=config.endpoint_url,
                region_name=config.region,
                aws_access_key_id="lab",
                aws_secret_access_key="lab",
            )
        return self._clients[service]

    # -- logs (called by the ECS agent) ---------------------------------------------------------------

    def prepare_logs(self, task: Any, definition: dict[str, Any]) -> tuple[str, str] | str | None:
        """Check and create what the awslogs driver needs; (group, stream), an ECS error, or None when not awslogs."""
        LAB_LOCK.forbid("calls to the lab's CloudWatch Logs")
        configuration = definition.get("logConfiguration") or {}
        if configuration.get("logDriver") != "awslogs":
            return None
        options = configuration.get("options") or {}
        group = options.get("awslogs-group")
        if not group:
            return "ResourceInitializationError: failed to validate logger args: awslogs-group is required : exit status 1"
        logs = self.client("logs")
        exists = any(g["logGroupName"] == group for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])
        if not exists:
            if str(options.get("awslogs-create-group", "false")).lower() != "true":
                return missing_log_group_reason(group)
            try:
                logs.create_log_group(logGroupName=group)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass  # another task of the same service created it a moment ago
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{definition['name']}/{task.id}" if prefix else task.id
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        return group, stream

    def ship_logs(self, docker_container: Any, group: str, stream: str) -> None:
        """Follow a container's output into CloudWatch Logs until it exits (in a thread of its own)."""
        threading.Thread(
            target=self._follow, args=(docker_container, group, stream), name=f"awslogs-{stream[-8:]}", daemon=True
        ).start()

    def _follow(self, docker_container: Any, group: str, stream: str) -> None:
        buffer: list[dict[str, Any]] = []
        lock = threading.Lock()
        done = threading.Event()

        def flush() -> None:
            with lock:
                events, buffer[:] = list(buffer), []
            if events:
                try:
                    self.client("logs").put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
                except Exception:
                    log.exception("put_log_events to %s/%s", group, stream)

        def flusher() -> None:
            while not done.wait(0.3):
                flush()
            flush()

        threading.Thread(target=flusher, daemon=True).start()
        try:
            for raw in docker_container.logs(stream=True, follow=True, timestamps=True):
                for line in raw.decode(errors="replace").splitlines():
                    stamp, _, message = line.partition(" ")
                    try:
                        when = datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00") if "T" in stamp else datetime.now(UTC)
                    except ValueError:
                        when, message = datetime.now(UTC), line
                    with lock:
                        buffer.append({"timestamp": int(when.timestamp() * 1000), "message": message})
        except Exception:
            log.debug("log stream of %s ended", stream)
        finally:
            done.set()

    # -- metrics and alarms -------------------------------------------------------------------------

    def _loop(self) -> None:
        next_at = time.monotonic() + PERIOD_SECONDS
        while not self.stopping.wait(max(next_at - time.monotonic(), 0)):
            next_at += PERIOD_SECONDS  # a fixed clock: reading docker stats must not stretch the period
            for name, step in (
                ("publishing metrics", self.publish_metrics),
                ("evaluating alarms", self.evaluate_alarms),
                ("pruning metrics", self.prune),
            ):
                try:
                    step()
                except Exception as error:  # logged once per distinct error, not every 10 s
                    self._errors[name].failed(error)
                else:
                    self._errors[name].succeeded()

    def prune(self) -> None:
        """Keep moto's metric store bounded (see :func:`prune_metric_data`)."""
        with LAB_LOCK:
            prune_metric_data(moto_cloudwatch.backend(self.region), datetime.now(UTC))

    def publish_metrics(self) -> None:
        now = datetime.now(UTC)
        per_cluster: dict[str, list[Reading]] = {}
        data: list[dict[str, Any]] = []
        with LAB_LOCK:  # a snapshot of the services and their tasks; docker stats and put_metric_data come after
            services = [s for s in moto_aas.ecs_services(self.region) if s.status == "ACTIVE"]
            tasks = {service.arn: moto_aas.running_tasks(self.region, service) for service in services}
        LAB_LOCK.forbid("docker stats and calls to the lab's CloudWatch")
        for service in services:
            readings = self._service_readings(tasks[service.arn])
            if not readings:
                continue
            per_cluster.setdefault(service.cluster_name, []).extend(readings)
            dimensions = [{"Name": "ClusterName", "Value": service.cluster_name}, {"Name": "ServiceName", "Value": service.name}]
            data += _utilization(dimensions, readings, now)
        for cluster, readings in per_cluster.items():
            data += _utilization([{"Name": "ClusterName", "Value": cluster}], readings, now)
        cloudwatch = self.client("cloudwatch")
        for start in range(0, len(data), 20):
            cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=data[start : start + 20])
        alb = self._alb_metrics(now)
        for start in range(0, len(alb), 20):
            cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=alb[start : start + 20])

    def _service_readings(self, tasks: list[RunningTask]) -> list[Reading]:
        assert self.context is not None
        if self.context.docker is None:
            return []
        return self.sampler.readings(self.context.docker, tasks)

    def _alb_metrics(self, now: datetime) -> list[dict[str, Any]]:
        if self.load_balancing is None:
            return []
        groups = self.load_balancing.traffic()
        with LAB_LOCK:
            views = {arn: moto_elbv2.target_group(self.region, arn) for arn in groups}
        for arn in [arn for arn in self._request_marks if arn not in groups]:
            del self._request_marks[arn]  # a deleted target group's last count
        data = []
        for arn, traffic in groups.items():
            group = views[arn]
            if group is None or not group.load_balancer_arns:
                continue
            previous, _ = self._request_marks.get(arn, (traffic.requests, 0.0))
            self._request_marks[arn] = (traffic.requests, time.monotonic())
            dimensions = [
                {"Name": "LoadBalancer", "Value": group.load_balancer_arns[0].split(":loadbalancer/")[-1]},
                {"Name": "TargetGroup", "Value": arn.split(":")[-1]},
            ]
            count = max(traffic.requests - previous, 0)
            data.append(
                {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": now, "Value": count, "Unit": "Count"}
            )
            if traffic.response_times:
                average = sum(traffic.response_times) / len(traffic.response_times)
                data.append(
                    {
                        "MetricName": "TargetResponseTime",
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": average,
                        "Unit": "Seconds",
                    }
                )
        return data

    def evaluate_alarms(self) -> None:
        LAB_LOCK.forbid("calls to the lab's CloudWatch")
        cloudwatch = self.client("cloudwatch")
        now = datetime.now(UTC)
        for alarm in cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]:
            if not alarm.get("MetricName") or alarm.get("Statistic") is None:
                continue  # metric math and percentiles are not evaluated by the lab
            verdict = evaluate(alarm, cloudwatch, now)
            if verdict is None:
                continue
            state, reason, data = verdict
            if state != alarm["StateValue"]:
                cloudwatch.set_alarm_state(
                    AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason, StateReasonData=json.dumps(data)
                )
                if state == "ALARM" and alarm.get("ActionsEnabled", True):
                    for action in alarm.get("AlarmActions", []):
                        self._run_scaling_action(action, alarm, data)

    def _run_scaling_action(self, policy_arn: str, alarm: dict[str, Any], data: dict[str, Any]) -> None:
        """An alarm action naming a step scaling policy of an ECS service changes its desired count.

        Target tracking policies are left to the lab's autoscaling filler, which evaluates them itself;
        other actions (SNS topics, EC2 actions) are not modelled."""
        with LAB_LOCK:  # read the policy and the service, decide and set, in one block
            policy = moto_aas.ecs_policy(self.region, policy_arn)
            if policy is None or not policy.step_scaling:
                return
            service = moto_aas.ecs_service(self.region, *policy.service_key)
            if service is None:
                return
            value = (data.get("recentDatapoints") or [float(alarm["Threshold"])])[0]
            wanted = step_scaling_capacity(policy, service.desired_count, value - float(alarm["Threshold"]))
            if wanted is None or wanted == service.desired_count:
                return
            moto_aas.set_desired_count(self.region, *policy.service_key, wanted)
        if self.scaling is not None:
            self.scaling.record(
                policy.resource_id, wanted, f"monitor alarm {alarm['AlarmName']} in state ALARM triggered policy {policy.name}"
            )


def step_scaling_capacity(policy: moto_aas.EcsScalingPolicy, current: int, difference: float) -> int | None:
    """The capacity a step scaling policy asks for when its alarm's metric is ``difference`` above the threshold.

    ``None`` when no step adjustment covers ``difference``; kept within the scalable target's min/max capacity."""
    configuration = policy.step_scaling or {}
    step = next(
        (
            s
            for s in configuration.get("StepAdjustments", [])
            if float(s.get("MetricIntervalLowerBound", float("-inf")))
            <= difference
            < float(s.get("MetricIntervalUpperBound", float("inf")))
        ),
        None,
    )
    if step is None:
        return None
    adjustment = int(step["ScalingAdjustment"])
    kind = configuration.get("AdjustmentType", "ChangeInCapacity")
    if kind == "ExactCapacity":
        wanted = adjustment
    elif kind == "PercentChangeInCapacity":
        wanted = current + round(current * adjustment / 100)
    else:
        wanted = current + adjustment
    return max(int(policy.min_capacity or 0), min(int(policy.max_capacity or wanted), wanted))


def _utilization(dimensions: list[dict[str, str]], readings: list[Reading], now: datetime) -> list[dict[str, Any]]:
    """AWS/ECS CPUUtilization and MemoryUtilization datapoints: the average over ``readings``."""
    cpu = sum(r.cpu for r in readings) / len(readings)
    memory = sum(r.memory for r in readings) / len(readings)
    return [
        {"MetricName": "CPUUtilization", "Dimensions": dimensions, "Timestamp": now, "Value": round(cpu, 3), "Unit": "Percent"},
        {
            "MetricName": "MemoryUtilization",
            "Dimensions": dimensions,
            "Timestamp": now,
            "Value": round(memory, 3),
            "Unit": "Percent",
        },
    ]


class AlbTraffic(Protocol):
    """What the load balancer forwarded, per target group (:meth:`ecslab.lab.elb.LoadBalancing.traffic`)."""

    def traffic(self) -> dict[str, TargetGroupTraffic]: ...


def evaluate(alarm: dict[str, Any], cloudwatch: Any, now: datetime) -> tuple[str, str, dict[str, Any]] | None:
    """CloudWatch's verdict on one metric alarm: (state, reason, reason data), or None to leave it."""
    period = int(alarm["Period"])
    periods = int(alarm["EvaluationPeriods"])
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    statistic = alarm["Statistic"]
    points = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Dimensions=alarm.get("Dimensions", []),
        StartTime=now - timedelta(seconds=period * periods),
        EndTime=now,
        Period=period,
        Statistics=[statistic],
    )["Datapoints"]
    points = sorted(points, key=lambda p: p["Timestamp"], reverse=True)[:periods]
    compare, words = COMPARISONS.get(alarm["ComparisonOperator"], (None, ""))
    if compare is None:
        return None
    threshold = float(alarm["Threshold"])
    missing = periods - len(points)
    treat = alarm.get("TreatMissingData", "missing")
    breaching = sum(compare(p[statistic], threshold) for p in points)
    if treat == "breaching":
        breaching += missing
    if not points and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None
        return (
            "INSUFFICIENT_DATA",
            f"Insufficient Data: {periods} datapoints were unknown.",
            {"version": "1.0", "queryDate": now.isoformat()},
        )
    shown = ", ".join(f"{p[statistic]:.4g} ({p['Timestamp']:%d/%m/%y %H:%M:%S})" for p in points)
    counted = len(points) + (missing if treat in ("breaching", "notBreaching") else 0)
    data = {
        "version": "1.0",
        "queryDate": now.isoformat(),
        "statistic": statistic,
        "period": period,
        "threshold": threshold,
        "recentDatapoints": [round(p[statistic], 4) for p in points],
    }
    if breaching >= needed:
        return (
            "ALARM",
            (
                f"Threshold Crossed: {breaching} out of the last {counted} datapoints [{shown}] was {words} the threshold ({threshold:g}) "
                f"(minimum {needed} datapoint{'s' if needed > 1 else ''} for OK -> ALARM transition)."
            ),
            data,
        )
    return (
        "OK",
        (
            f"Threshold Crossed: {counted - breaching} out of the last {counted} datapoints [{shown}] was not {words} the threshold ({threshold:g}) "
            f"(minimum {needed} datapoint{'s' if needed > 1 else ''} for ALARM -> OK transition)."
        ),
        data,
    )
