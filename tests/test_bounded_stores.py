"""The lab's in-memory stores stay bounded: CloudWatch datapoints and alarm history, scaling activities.

No lab: moto's CloudWatch backend in this process, and the autoscaling filler on its own.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from moto.cloudwatch.models import CloudWatchBackend

from ecslab.lab.autoscaling import ACTIVITY_RETENTION_SECONDS, MAX_ACTIVITIES, AutoScaling
from ecslab.lab.monitoring import MAX_ALARM_HISTORY, METRIC_RETENTION, ContainerSampler, prune_metric_data


def put(backend: CloudWatchBackend, when: datetime, value: float) -> None:
    backend.put_metric_data(
        "AWS/ECS",
        [
            {
                "MetricName": "CPUUtilization",
                "Value": value,
                "Timestamp": when,
                "Dimensions": [{"Name": "ClusterName", "Value": "web"}],
            }
        ],
    )


def test_datapoints_older_than_cloudwatchs_retention_go() -> None:
    backend = CloudWatchBackend("us-east-1", "123456789012")
    now = datetime.now(UTC)
    put(backend, now - METRIC_RETENTION - timedelta(minutes=1), 1.0)
    put(backend, now - timedelta(days=14), 2.0)
    put(backend, now, 3.0)
    assert prune_metric_data(backend, now) == 1
    assert [datum.value for datum in backend.metric_data] == [2.0, 3.0]  # type: ignore[attr-defined]


def test_at_most_the_newest_datapoints_are_kept() -> None:
    backend = CloudWatchBackend("us-east-1", "123456789012")
    now = datetime.now(UTC)
    for index in range(50):
        put(backend, now - timedelta(seconds=50 - index), float(index))
    assert prune_metric_data(backend, now, limit=10) == 40
    assert [datum.value for datum in backend.metric_data] == [float(i) for i in range(40, 50)]  # type: ignore[attr-defined]


def test_pruning_keeps_datapoints_put_while_it_runs() -> None:
    backend = CloudWatchBackend("us-east-1", "123456789012")
    now = datetime.now(UTC)
    for index in range(2000):
        put(backend, now - METRIC_RETENTION - timedelta(hours=1), float(index))
    fresh = threading.Thread(target=lambda: [put(backend, now, -1.0) for _ in range(500)])
    fresh.start()
    while fresh.is_alive():
        prune_metric_data(backend, now)
    fresh.join()
    prune_metric_data(backend, now)
    assert [datum.value for datum in backend.metric_data] == [-1.0] * 500  # type: ignore[attr-defined]


def test_alarm_history_is_bounded() -> None:
    backend = CloudWatchBackend("us-east-1", "123456789012")
    backend.put_metric_alarm(
        name="cpu-high",
        namespace="AWS/ECS",
        metric_name="CPUUtilization",
        metric_data_queries=None,
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=1,
        datapoints_to_alarm=None,
        period=60,
        threshold=70.0,
        statistic="Average",
        extended_statistic=None,
        description="",
        dimensions=[],
        alarm_actions=[],
        ok_actions=[],
        insufficient_data_actions=[],
        unit=None,
        actions_enabled=True,
    )
    for index in range(MAX_ALARM_HISTORY * 2):
        backend.set_alarm_state("cpu-high", "reason", "{}", "ALARM" if index % 2 else "OK")
    prune_metric_data(backend, datetime.now(UTC))
    assert len(backend.alarms["cpu-high"].history) == MAX_ALARM_HISTORY


def test_scaling_activities_keep_six_weeks_and_the_newest_thousand() -> None:
    scaling = AutoScaling(load_balancing=None, sampler=ContainerSampler())
    now = 2_000_000_000.0
    scaling.record("service/web/api", 2, "old", now=now - ACTIVITY_RETENTION_SECONDS - 60)
    scaling.record("service/web/api", 3, "recent", now=now - 3600)
    assert [a["Cause"] for a in scaling.recent_activities(now=now)] == ["recent"]
    for index in range(MAX_ACTIVITIES + 100):
        scaling.record("service/web/api", index, f"flap {index}", now=now)
    activities = scaling.recent_activities(now=now)
    assert len(activities) == MAX_ACTIVITIES
    assert activities[-1]["Cause"] == f"flap {MAX_ACTIVITIES + 99}"
    assert len({a["ActivityId"] for a in activities}) == MAX_ACTIVITIES
