"""The checkers of exercise 08 pass right answers and fail wrong ones with useful messages.

Given a repository, clusters and log groups of the tests' own (``t08-...``, never the
exercise's), when a checker runs a learner's function, then it passes or names what to change,
and leaves no cluster, log group or alarm behind either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab.checks import CheckFailed, NotDone, ex08, setup

REPOSITORY = "t08-app"
CLUSTER = "t08-check"
GROUP = "/ecs/t08-check"


@pytest.fixture(scope="module")
def image_uri(lab: ecslab.Lab) -> Iterator[str]:
    uri = ex08.prepare_image(lab, REPOSITORY, show_progress=False)
    yield uri
    ex08.clean_up(lab, REPOSITORY)


def nothing_left(lab: ecslab.Lab) -> bool:
    clusters = [c for c in lab.ecs.describe_clusters(clusters=[CLUSTER])["clusters"] if c["status"] == "ACTIVE"]
    groups = lab.logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    return not clusters and not groups and not ex08._alarms_on(lab, CLUSTER)


def test_without_the_setup_cell_the_check_says_to_run_it(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="Run the setup cell"):
        ex08.check_log_configuration(configuration, lab, group=GROUP, cluster=CLUSTER, repository="t08-never-pushed")


# -- 8.1 --------------------------------------------------------------------------------------


def configuration(
    group: str, prefix: str, region: str, driver: str = "awslogs", create: Any = "true", **changes: Any
) -> dict[str, Any]:
    """A configurable answer to 8.1 (right with the defaults)."""
    options = {"awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": prefix}
    if create is not None:
        options["awslogs-create-group"] = create
    options |= changes
    return {"logDriver": driver, "options": options}


def check_logs(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex08.check_log_configuration(answer, lab, group=GROUP, prefix="t08", cluster=CLUSTER, repository=REPOSITORY)


def test_a_right_log_configuration_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check_logs(configuration, lab)
    assert "reached the stream PREFIX/web/<task id>" in passed.message and nothing_left(lab)


@pytest.mark.parametrize("typed_in", ["group", "prefix"])
def test_a_typed_in_group_or_prefix_does_not_pass(lab: ecslab.Lab, image_uri: str, typed_in: str) -> None:
    """Issue 13's fixed-name hole: the log group and the stream prefix are new each run."""

    def answer(group: str, prefix: str, region: str) -> dict[str, Any]:
        if typed_in == "group":
            return configuration(ex08.LOGS_GROUP, prefix, region)
        return configuration(group, ex08.LOGS_PREFIX, region)

    with pytest.raises(CheckFailed, match=f"the function's {typed_in} argument"):
        ex08.check_log_configuration(answer, lab, repository=REPOSITORY)
    assert setup.clusters_with_prefix(lab, ex08.CHECK_PREFIX) == []


def test_the_stub_is_not_done(lab: ecslab.Lab, image_uri: str) -> None:
    def stub(group: str, prefix: str, region: str) -> dict[str, Any]:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_logs(stub, lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda group, prefix, region: configuration(group, prefix, region, create=None),
            "ResourceInitializationError.*awslogs-create-group",
        ),
        (lambda group, prefix, region: configuration(group, prefix, region, create=True), 'is not: write "true", not True'),
        (lambda group, prefix, region: configuration(group, prefix, region, driver="json-file"), "'awslogs'"),
        (lambda group, prefix, region: configuration(group, prefix, region)["options"], "logDriver"),
        (lambda group, prefix, region: configuration(group, prefix + "-app", region), "awslogs-stream-prefix.*prefix argument"),
        (lambda group, prefix, region: configuration(group, prefix, "eu-west-1"), "region argument"),
        (lambda group, prefix, region: {"logDriver": "awslogs"}, "configuration\\['options'\\]"),
    ],
    ids=["no-create-group", "bool-option", "other-driver", "options-only", "other-prefix", "other-region", "no-options"],
)
def test_wrong_log_configurations_are_explained(
    lab: ecslab.Lab, image_uri: str, answer: Callable[..., Any], message: str
) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_logs(answer, lab)
    assert nothing_left(lab)


# -- 8.2 --------------------------------------------------------------------------------------


def alarm(lab: Any, cluster: str, service: str, **changes: Any) -> str:
    """A configurable answer to 8.2 (right with the defaults)."""
    request = {
        "AlarmName": f"{service}-cpu-above-30",
        "Namespace": "AWS/ECS",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}],
        "Statistic": "Average",
        "Period": 10,
        "EvaluationPeriods": 1,
        "Threshold": 30.0,
        "ComparisonOperator": "GreaterThanThreshold",
    } | changes
    lab.cloudwatch.put_metric_alarm(**request)
    return str(request["AlarmName"])


def check_alarm(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex08.check_cpu_alarm(answer, lab, cluster=CLUSTER, service="t08-api", repository=REPOSITORY)


def test_a_right_alarm_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check_alarm(alarm, lab)
    assert "went to ALARM" in passed.message and "Threshold Crossed" in passed.message and nothing_left(lab)


def test_an_alarm_on_typed_in_names_does_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole: the cluster and the service are new each run, so an alarm on the usual names cannot pass."""
    try:
        with pytest.raises(CheckFailed, match="the alarm's dimensions are"):
            ex08.check_cpu_alarm(
                lambda lab, cluster, service: alarm(lab, ex08.ALARM_CLUSTER, ex08.SERVICE), lab, repository=REPOSITORY
            )
    finally:
        lab.cloudwatch.delete_alarms(AlarmNames=[f"{ex08.SERVICE}-cpu-above-30"])
    assert setup.clusters_with_prefix(lab, ex08.CHECK_PREFIX) == []


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda lab, cluster, service: alarm(lab, cluster, service, Dimensions=[{"Name": "ServiceName", "Value": service}]),
            "INSUFFICIENT_DATA",
        ),
        (lambda lab, cluster, service: alarm(lab, cluster, service, Threshold=0.3), "not 0.3"),
        (lambda lab, cluster, service: alarm(lab, cluster, service, Period=60), "Period=10 if lab.is_local else 60"),
        (lambda lab, cluster, service: alarm(lab, cluster, service, Statistic="Maximum"), "Statistic='Average'"),
        (lambda lab, cluster, service: alarm(lab, cluster, service, MetricName="MemoryUtilization"), "'CPUUtilization'"),
        (lambda lab, cluster, service: alarm(lab, cluster, service, EvaluationPeriods=3), "EvaluationPeriods=1"),
        (
            lambda lab, cluster, service: alarm(lab, cluster, service, ComparisonOperator="LessThanThreshold"),
            "GreaterThanThreshold",
        ),
        (lambda lab, cluster, service: (alarm(lab, cluster, service), None)[1], "return the alarm's name"),
        (lambda lab, cluster, service: (alarm(lab, cluster, service), "cpu-alarm")[1], "no metric alarm named 'cpu-alarm'"),
    ],
    ids=[
        "service-dimension-only",
        "fraction",
        "one-minute",
        "maximum",
        "memory",
        "three-periods",
        "below",
        "returns-none",
        "other-name",
    ],
)
def test_wrong_alarms_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_alarm(answer, lab)
    assert nothing_left(lab)


# -- 8.3 --------------------------------------------------------------------------------------


def count(
    lab: Any,
    group: str,
    minutes: int,
    pattern: str = '"GET /health"',
    since: bool = True,
    streams: int | None = None,
    pages: bool = True,
) -> int:
    """A configurable answer to 8.3 (right with the defaults); ``streams=1`` reads one task's stream; ``pages=False``
    reads the first page only."""
    request: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern}
    if since:
        request["startTime"] = int((time.time() - minutes * 60) * 1000)
    if streams:
        names = [
            s["logStreamName"]
            for s in lab.logs.describe_log_streams(logGroupName=group)["logStreams"]
            if "earlier" not in s["logStreamName"] and "replayed" not in s["logStreamName"]
        ]
        request["logStreamNames"] = names[:streams]
    total = 0
    while True:
        page = lab.logs.filter_log_events(**request)
        total += len(page["events"])
        if not pages or not page.get("nextToken"):
            return total
        request["nextToken"] = page["nextToken"]


def check_count(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex08.check_count_health_requests(answer, lab, group=GROUP, cluster=CLUSTER, repository=REPOSITORY)


def test_a_right_count_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check_count(count, lab)
    assert passed.message.startswith("you counted every request") and nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, group, minutes: count(lab, group, minutes, since=False), "30 minutes ago"),
        (lambda lab, group, minutes: count(lab, group, minutes, pattern="/health"), "double quotes"),
        (lambda lab, group, minutes: count(lab, group, minutes, pattern="", since=False), "every line ever"),
        (lambda lab, group, minutes: count(lab, group, minutes, streams=1), "one stream only"),
        (lambda lab, group, minutes: count(lab, group, minutes, pages=False), "first page only"),
        (lambda lab, group, minutes: 13, "you returned 13"),
        (lambda lab, group, minutes: count(lab, group, minutes, pattern='"GET /HEALTH"'), "case-sensitive"),
        (
            lambda lab, group, minutes: lab.logs.filter_log_events(logGroupName=group, filterPattern='"GET /health"')["events"],
            "an int",
        ),
        (lambda lab, group, minutes: count(lab, "/ecs/t08-nothing-here", minutes), "ResourceNotFoundException"),
    ],
    ids=[
        "no-start-time",
        "unquoted",
        "everything",
        "one-stream",
        "first-page-only",
        "constant-13",
        "upper-case",
        "the-events",
        "other-group",
    ],
)
def test_wrong_counts_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_count(answer, lab)
    assert nothing_left(lab)


# -- Cleanup ----------------------------------------------------------------------------------


def test_clean_up_deletes_the_role_of_check_8_1(lab: ecslab.Lab, image_uri: str) -> None:
    check_logs(configuration, lab)
    assert lab.iam.get_role(RoleName=ex08.LOGS_ROLE)["Role"]["RoleName"] == ex08.LOGS_ROLE
    ex08.clean_up(lab, "t08-no-such-repository")
    with pytest.raises(lab.iam.exceptions.NoSuchEntityException):
        lab.iam.get_role(RoleName=ex08.LOGS_ROLE)
