"""ECS deployment alarms count an alarm that went into ALARM since the watch began, even for a moment.

CloudWatch puts a metric alarm set with SetAlarmState back "to their actual state quickly, often within
seconds"; the lab's own evaluation does so every period, which can come before the ECS agent's next look
(CI rehearsal ci20: a canary never rolled back). No lab: moto's CloudWatch backend in this process.
"""

from __future__ import annotations

import time

import pytest
from moto.cloudwatch.models import CloudWatchBackend

from ecslab.lab.moto import cloudwatch as moto_cloudwatch


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> CloudWatchBackend:
    backend = CloudWatchBackend("us-east-1", "123456789012")
    for name in ("flapped", "steady-alarm", "before-watch", "quiet"):
        backend.put_metric_alarm(
            name=name,
            namespace="AWS/ApplicationELB",
            metric_name="HTTPCode_Target_5XX_Count",
            metric_data_queries=None,
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            datapoints_to_alarm=None,
            period=60,
            threshold=0.0,
            statistic="Sum",
            extended_statistic=None,
            description="",
            dimensions=[],
            alarm_actions=[],
            ok_actions=[],
            insufficient_data_actions=[],
            unit=None,
            actions_enabled=True,
        )
    monkeypatch.setattr(moto_cloudwatch, "backend", lambda region: backend)
    return backend


def test_an_alarm_set_back_before_the_next_look_still_counts(backend: CloudWatchBackend) -> None:
    backend.set_alarm_state("before-watch", "an earlier deployment's", "{}", "ALARM")
    time.sleep(0.01)
    backend.set_alarm_state("before-watch", "recovered", "{}", "OK")
    time.sleep(0.01)
    since = moto_cloudwatch.now()
    time.sleep(0.01)
    backend.set_alarm_state("flapped", "SetAlarmState", "{}", "ALARM")
    backend.set_alarm_state("flapped", "the lab's evaluation: 0 datapoints above 0", "{}", "OK")
    backend.set_alarm_state("steady-alarm", "5xx", "{}", "ALARM")
    names = ["flapped", "steady-alarm", "before-watch", "quiet", "deleted-meanwhile"]
    assert moto_cloudwatch.alarms_in_alarm_since("us-east-1", names, since) == ["flapped", "steady-alarm"]


def test_an_alarm_in_alarm_when_the_watch_began_counts(backend: CloudWatchBackend) -> None:
    backend.set_alarm_state("steady-alarm", "5xx", "{}", "ALARM")
    time.sleep(0.01)
    since = moto_cloudwatch.now()
    time.sleep(0.01)
    backend.set_alarm_state("steady-alarm", "recovered", "{}", "OK")
    assert moto_cloudwatch.alarms_in_alarm_since("us-east-1", ["steady-alarm", "quiet"], since) == ["steady-alarm"]
