"""The one place the lab touches moto's CloudWatch (:mod:`ecslab.lab.monitoring` is the lab's side).

moto starts a new alarm in ``OK`` (CloudWatch: ``INSUFFICIENT_DATA``) and has no
``DescribeAlarmHistory``, though it keeps each alarm's state changes; :data:`PATCHES` declares
both changes. :func:`prune_metric_data` keeps moto's datapoints and alarm histories bounded.
Metrics and alarm states themselves go through the public API (boto3 on the lab's endpoint),
so what the lab writes is exactly what a learner reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.models import Alarm, CloudWatchBackend, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from ecslab.config import ACCOUNT_ID
from ecslab.lab.moto.patching import ABSENT, PatchSet, declare

PATCHES: PatchSet[None] = declare(PatchSet("cloudwatch"))

PUT_METRIC_ALARM = (
    "(self, name: str, namespace: str, metric_name: str, comparison_operator: str, evaluation_periods: int, period: int, "
    "threshold: float, statistic: str, description: str, dimensions: list[dict[str, str]], alarm_actions: list[str], "
    "metric_data_queries: list[moto.cloudwatch.models.MetricDataQuery] | None = None, datapoints_to_alarm: int | None = None, "
    "extended_statistic: str | None = None, ok_actions: list[str] | None = None, insufficient_data_actions: list[str] | None = None, "
    "unit: str | None = None, actions_enabled: bool = True, treat_missing_data: str | None = None, "
    "evaluate_low_sample_count_percentile: str | None = None, threshold_metric_id: str | None = None, rule: str | None = None, "
    "tags: list[dict[str, str]] | None = None) -> moto.cloudwatch.models.Alarm"
)


def backend(region: str) -> CloudWatchBackend:
    return cloudwatch_backends[ACCOUNT_ID][region]


def now() -> datetime:
    """moto's clock for alarm states (naive UTC, as ``Alarm.state_updated_timestamp``)."""
    return utcnow()


def alarms_in_alarm_since(region: str, names: list[str], since: datetime) -> list[str]:
    """The named alarms in ALARM at some moment from ``since`` (:func:`now`) on: now, or for a while in between.

    ECS fails a deployment when an alarm "has gone into the ALARM state"; a state set with SetAlarmState
    returns "to their actual state quickly, often within seconds" (CloudWatch's API reference), sooner
    than the next look, so the alarm's history counts too."""
    alarms = backend(region).alarms
    went = []
    for name in names:
        alarm = alarms.get(name)
        if alarm is None:
            continue
        # (state, began) for each past state, then the current one; a state lasted until the next began
        states = [(entry[3], entry[4]) for entry in alarm.history if entry[0] == "StateUpdate"]
        states.append((alarm.state_value, alarm.state_updated_timestamp))
        ends = [began for _, began in states[1:]] + [None]
        if any(state == "ALARM" and (end is None or end >= since) for (state, _), end in zip(states, ends, strict=True)):
            went.append(name)
    return went


@PATCHES.patch("moto.cloudwatch.models:CloudWatchBackend", "put_metric_alarm", PUT_METRIC_ALARM, "new alarms: INSUFFICIENT_DATA")
def _put_metric_alarm_unchecked(original: Callable[..., Alarm], lab: None) -> Callable[..., Alarm]:
    def put_metric_alarm_unchecked(cloudwatch: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        alarm = original(cloudwatch, *args, **kwargs)
        if alarm.state_reason == "Unchecked: Initial alarm creation":
            alarm.state_value = "INSUFFICIENT_DATA"  # where CloudWatch starts a new alarm; moto says OK
        return alarm

    return put_metric_alarm_unchecked


@PATCHES.patch("moto.cloudwatch.models:CloudWatchBackend", "describe_alarm_history", ABSENT, "moto keeps it but cannot show it")
def _describe_alarm_history(original: None, lab: None) -> Callable[..., list[dict[str, Any]]]:
    def describe_alarm_history(cloudwatch: CloudWatchBackend, alarm_name: str | None, kind: str | None) -> list[dict[str, Any]]:
        """Each alarm's state changes, newest first, as ``DescribeAlarmHistory`` gives them (state updates only)."""
        if kind and kind != "StateUpdate":
            return []
        items = []
        for alarm in cloudwatch.describe_alarms():
            if not alarm_name or alarm.name == alarm_name:
                items += _state_updates(alarm)
        items.sort(key=lambda item: item["Timestamp"], reverse=True)
        return items

    return describe_alarm_history


def _state_updates(alarm: Alarm) -> list[dict[str, Any]]:
    changes = list(alarm.history) + [
        (None, alarm.state_reason, alarm.state_reason_data, alarm.state_value, alarm.state_updated_timestamp)
    ]
    items = []
    for old, new in zip(changes, changes[1:], strict=False):
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
    return items


@PATCHES.patch("moto.cloudwatch.responses:CloudWatchResponse", "describe_alarm_history", ABSENT, "moto has no handler for it")
def _respond_alarm_history(original: None, lab: None) -> Callable[[CloudWatchResponse], ActionResult]:
    def describe_alarm_history(response: CloudWatchResponse) -> ActionResult:
        name, kind = response._get_param("AlarmName"), response._get_param("HistoryItemType")
        items = response.cloudwatch_backend.describe_alarm_history(name, kind)  # type: ignore[attr-defined]
        return ActionResult({"AlarmHistoryItems": items})

    return describe_alarm_history


def prune_metric_data(cloudwatch: CloudWatchBackend, now: datetime, retention: timedelta, limit: int, alarm_history: int) -> int:
    """Drop datapoints older than ``retention`` and all but the newest ``limit``, and all but the last
    ``alarm_history`` state changes of each alarm; how many datapoints went.

    Requests may append while this runs: only the datapoints present at the start are looked at, and
    the list is changed in one slice assignment."""
    data = cloudwatch.metric_data
    snapshot = data[:]
    cutoff = now - retention
    kept = [datum for datum in snapshot if _aware(datum.timestamp) >= cutoff]
    excess = len(kept) + (len(data) - len(snapshot)) - limit
    if excess > 0:
        kept = kept[excess:]  # the list is in arrival order: the first are the oldest put
    data[: len(snapshot)] = kept
    for alarm in list(cloudwatch.alarms.values()):
        del alarm.history[:-alarm_history]
    return len(snapshot) - len(kept)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
