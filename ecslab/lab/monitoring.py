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
from datetime import UTC, datetime, timedelta
from typing import Any

from ecslab.config import ACCOUNT_ID
from ecslab.lab.fillers import FillerContext, GapFiller, QuietErrors

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


def prune_metric_data(backend: Any, now: datetime, retention: timedelta = METRIC_RETENTION, limit: int = MAX_DATAPOINTS) -> int:
    """Drop moto's datapoints older than ``retention`` and all but the newest ``limit``; how many went.

    ``backend`` is moto's CloudWatch backend. Requests may append while this runs: only the datapoints
    present at the start are looked at, and the list is changed in one slice assignment."""
    data = backend.metric_data
    snapshot = data[:]
    cutoff = now - retention
    kept = [datum for datum in snapshot if _aware(datum.timestamp) >= cutoff]
    excess = len(kept) + (len(data) - len(snapshot)) - limit
    if excess > 0:
        kept = kept[excess:]  # the list is in arrival order: the first are the oldest put
    data[: len(snapshot)] = kept
    for alarm in list(backend.alarms.values()):
        del alarm.history[:-MAX_ALARM_HISTORY]
    return len(snapshot) - len(kept)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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

    def __init__(self) -> None:
        self.context: FillerContext | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}
        self._request_marks: dict[str, tuple[int, float]] = {}
        self._errors = {name: QuietErrors(name, log) for name in ("publishing metrics", "evaluating alarms", "pruning metrics")}

    def start(self, context: FillerContext) -> None:
        self.context = context
        from moto.cloudwatch.responses import CloudWatchResponse
        from moto.core.responses import ActionResult

        def describe_alarm_history(response: Any) -> Any:
            """moto keeps each alarm's state changes but has no DescribeAlarmHistory; this is it."""
            name = response._get_param("AlarmName")
            kind = response._get_param("HistoryItemType")
            alarms = [a for a in response.cloudwatch_backend.describe_alarms() if not name or a.name == name]
            items = []
            for alarm in alarms:
                changes = list(alarm.history) + [
                    (None, alarm.state_reason, alarm.state_reason_data, alarm.state_value, alarm.state_updated_timestamp)
                ]
                for old, new in zip(changes, changes[1:], strict=False):
                    if kind and kind != "StateUpdate":
                        continue
                    data = {
                        "version": "1.0",
                        "oldState": {"stateValue": old[3], "stateReason": old[1]},
                        "newState": {"stateValue": new[3], "stateReason": new[1]},
                    }
                    items.append(
                        {
                            "AlarmName": alarm.name,
                            "AlarmType": "MetricAlarm",
                            "Timestamp": new[4],
                            "HistoryItemType": "StateUpdate",
                            "HistorySummary": f"Alarm updated from {old[3]} to {new[3]}",
                            "HistoryData": json.dumps(data),
                        }
                    )
            items.sort(key=lambda item: item["Timestamp"], reverse=True)
            return ActionResult({"AlarmHistoryItems": items})

        from moto.cloudwatch.models import CloudWatchBackend

        put_metric_alarm = CloudWatchBackend.put_metric_alarm

        def put_metric_alarm_unchecked(backend: Any, *args: Any, **kwargs: Any) -> Any:
            alarm = put_metric_alarm(backend, *args, **kwargs)
            if alarm.state_reason == "Unchecked: Initial alarm creation":
                alarm.state_value = "INSUFFICIENT_DATA"  # where CloudWatch starts a new alarm; moto says OK
            return alarm

        self._original_put_alarm = put_metric_alarm
        CloudWatchBackend.put_metric_alarm = put_metric_alarm_unchecked  # type: ignore[method-assign,assignment]
        self._original_history = CloudWatchResponse.__dict__.get("describe_alarm_history")
        CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self._loop, name="cloudwatch", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        from moto.cloudwatch.responses import CloudWatchResponse

        if getattr(self, "_original_history", None) is None and "describe_alarm_history" in CloudWatchResponse.__dict__:
            delattr(CloudWatchResponse, "describe_alarm_history")
        if getattr(self, "_original_put_alarm", None) is not None:
            from moto.cloudwatch.models import CloudWatchBackend

            CloudWatchBackend.put_metric_alarm = self._original_put_alarm  # type: ignore[method-assign]

    def after_reset(self, context: FillerContext) -> None:
        self._request_marks.clear()

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
        from moto.cloudwatch.models import cloudwatch_backends

        assert self.context is not None
        prune_metric_data(cloudwatch_backends[ACCOUNT_ID][self.context.config.region], datetime.now(UTC))

    def publish_metrics(self) -> None:
        from moto.ecs.models import ecs_backends

        assert self.context is not None
        now = datetime.now(UTC)
        ecs = ecs_backends[ACCOUNT_ID][self.context.config.region]
        per_cluster: dict[str, list[tuple[float, float]]] = {}
        data: list[dict[str, Any]] = []
        for service in list(ecs.services.values()):
            if service.status != "ACTIVE":
                continue
            readings = self._service_readings(service, ecs)
            if not readings:
                continue
            cpu = sum(r[0] for r in readings) / len(readings)
            memory = sum(r[1] for r in readings) / len(readings)
            per_cluster.setdefault(service.cluster_name, []).extend(readings)
            dimensions = [{"Name": "ClusterName", "Value": service.cluster_name}, {"Name": "ServiceName", "Value": service.name}]
            data += [
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": round(cpu, 3),
                    "Unit": "Percent",
                },
                {
                    "MetricName": "MemoryUtilization",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": round(memory, 3),
                    "Unit": "Percent",
                },
            ]
        for cluster, readings in per_cluster.items():
            dimensions = [{"Name": "ClusterName", "Value": cluster}]
            data += [
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": round(sum(r[0] for r in readings) / len(readings), 3),
                    "Unit": "Percent",
                },
                {
                    "MetricName": "MemoryUtilization",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": round(sum(r[1] for r in readings) / len(readings), 3),
                    "Unit": "Percent",
                },
            ]
        cloudwatch = self.client("cloudwatch")
        for start in range(0, len(data), 20):
            cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=data[start : start + 20])
        alb = self._alb_metrics(now)
        for start in range(0, len(alb), 20):
            cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=alb[start : start + 20])

    def _service_readings(self, service: Any, ecs: Any) -> list[tuple[float, float]]:
        assert self.context is not None
        docker = self.context.docker
        if docker is None:
            return []
        tasks = [
            t
            for tasks in list(ecs.tasks.values())
            for t in list(tasks.values())
            if t.group == f"service:{service.name}" and t.last_status == "RUNNING"
        ]
        readings: list[tuple[float, float]] = []
        lock = threading.Lock()

        def read(task: Any) -> None:
            try:
                containers = docker.containers.list(
                    filters={"label": f"com.amazonaws.ecs.task-arn={task.task_arn}"}, ignore_removed=True
                )
            except Exception:
                return  # the engine is gone: no reading (the ECS agent logs that once)
            for container in containers:
                try:
                    stats = container.stats(stream=False)
                except Exception:
                    continue
                used = stats["cpu_stats"]["cpu_usage"]["total_usage"] - stats["precpu_stats"]["cpu_usage"]["total_usage"]
                system = stats["cpu_stats"].get("system_cpu_usage", 0) - stats["precpu_stats"].get("system_cpu_usage", 0)
                cores = used / system * (stats["cpu_stats"].get("online_cpus") or 1) if system > 0 else 0.0
                cpu = 100 * cores / (int(str(task.cpu or 1024)) / 1024)
                memory_stats = stats.get("memory_stats", {})
                usage = memory_stats.get("usage", 0) - memory_stats.get("stats", {}).get("cache", 0)
                memory = 100 * usage / (int(str(task.memory or 512)) * 1024 * 1024)
                with lock:
                    readings.append((cpu, memory))

        threads = [threading.Thread(target=read, args=(task,), daemon=True) for task in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)
        return readings

    def _alb_metrics(self, now: datetime) -> list[dict[str, Any]]:
        assert self.context is not None
        alb = self.context.fillers.get("Application Load Balancer")
        if alb is None:
            return []
        from moto.elbv2.models import elbv2_backends

        elbv2 = elbv2_backends[ACCOUNT_ID][self.context.config.region]
        data = []
        with alb.lock:  # type: ignore[attr-defined]
            groups = {arn: list(states.values()) for arn, states in alb.targets.items()}  # type: ignore[attr-defined]
        for arn in [arn for arn in self._request_marks if arn not in groups]:
            del self._request_marks[arn]  # a deleted target group's last count
        for arn, states in groups.items():
            group = elbv2.target_groups.get(arn)
            if group is None or not group.load_balancer_arns:
                continue
            total = sum(s.requests for s in states)
            previous, _ = self._request_marks.get(arn, (total, 0.0))
            self._request_marks[arn] = (total, time.monotonic())
            times = [t for s in states for t in list(s.response_times)[-50:]]
            dimensions = [
                {"Name": "LoadBalancer", "Value": group.load_balancer_arns[0].split(":loadbalancer/")[-1]},
                {"Name": "TargetGroup", "Value": arn.split(":")[-1]},
            ]
            data.append(
                {
                    "MetricName": "RequestCount",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": max(total - previous, 0),
                    "Unit": "Count",
                }
            )
            if times:
                data.append(
                    {
                        "MetricName": "TargetResponseTime",
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Value": sum(times) / len(times),
                        "Unit": "Seconds",
                    }
                )
        return data

    def evaluate_alarms(self) -> None:
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
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        assert self.context is not None
        backend = applicationautoscaling_backends[ACCOUNT_ID][self.context.config.region]
        policy = next((p for p in backend.policies.values() if p.policy_arn == policy_arn), None)
        configuration = getattr(policy, "step_scaling_policy_configuration", None)
        if policy is None or not configuration or policy.service_namespace != "ecs":
            return
        target = backend.targets.get("ecs:service:DesiredCount", {}).get(policy.resource_id)
        _, cluster, name = policy.resource_id.split("/", 2)
        service = backend.ecs_backend.services.get(f"{cluster}:{name}")
        if target is None or service is None:
            return
        value = (data.get("recentDatapoints") or [float(alarm["Threshold"])])[0]
        difference = value - float(alarm["Threshold"])
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
            return
        current, adjustment = int(service.desired_count), int(step["ScalingAdjustment"])
        kind = configuration.get("AdjustmentType", "ChangeInCapacity")
        wanted = (
            adjustment
            if kind == "ExactCapacity"
            else current + (round(current * adjustment / 100) if kind == "PercentChangeInCapacity" else adjustment)
        )
        wanted = max(int(target.min_capacity or 0), min(int(target.max_capacity or wanted), wanted))
        if wanted == current:
            return
        service.desired_count = wanted
        if service.deployments:
            service.deployments[0]["desiredCount"] = wanted
        scaling = self.context.fillers.get("Service Auto Scaling")
        if scaling is not None:
            scaling.record(  # type: ignore[attr-defined]
                policy.resource_id,
                wanted,
                f"monitor alarm {alarm['AlarmName']} in state ALARM triggered policy {policy.policy_name}",
            )


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
