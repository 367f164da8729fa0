"""Checks for exercises/08-monitoring.ipynb: a log configuration, a CPU alarm, a count from the logs.

The exercise's setup cell calls :func:`prepare_image`, which pushes the sample app to the
repository ``ex08-app`` as ``:v1``; every checker runs that image. Each checker works with
resources of its own: a cluster ``ex08-check-...`` and a log group ``/ecs/ex08-check-...``,
deleted before the check (leftovers of an interrupted run) and after it, together with any
alarm on the check's cluster. The checks' task definitions name the execution role
``ecsTaskExecutionRole`` (the setup cell creates it), except 8.1's: its task creates a log
group, so it runs with :data:`LOGS_ROLE`, which may. The notebook's Cleanup cell
(:func:`clean_up`) deletes the repository and that role too.

The names a checker hands the learner's function (8.1's log group and stream prefix, 8.2's cluster
and service, 8.3's log group) are new on every run: a function that types in names instead of
using its arguments cannot pass.
"""

from __future__ import annotations

import json
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from ecslab import ecs as ecs_tools
from ecslab import security
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, Passed, expect, run_student

POINTS: dict[str, int] = {"8.1": 1, "8.2": 1, "8.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex08-app"
LOGS_CLUSTER = "ex08-check-logs"
LOGS_GROUP = "/ecs/ex08-check-logs"
LOGS_PREFIX = "ex08"
ALARM_CLUSTER = "ex08-check-alarm"
COUNT_CLUSTER = "ex08-check-count"
COUNT_GROUP = "/ecs/ex08-check-count"
SERVICE = "ex08-check-api"
COUNT_PREFIX = "api"
CHECK_PREFIX = "ex08-check-"
"""Every check's cluster starts with it (the names are :func:`ecslab.checks.setup.fresh_name`'s)."""
LOGS_ROLE = "ex08-check-logs-role"
"""The execution role of 8.1's task: ecsTaskExecutionRole's policy plus ``logs:CreateLogGroup``, which
``awslogs-create-group`` needs and AmazonECSTaskExecutionRolePolicy does not grant."""
ALARM_TIMEOUT = 45.0
"""Seconds of load before 8.2 gives up waiting for ALARM (the lab evaluates alarms every 10 s)."""


# -- the image and the clean slate ---------------------------------------------------------


def prepare_image(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> str:
    """Setup of the exercise: the sample app (v1) pushed to a fresh ``repository``; returns ``URI:v1``."""
    return setup.prepare_image(lab, repository, show_progress=show_progress)


def exercise_image(lab: Any, repository: str = EXERCISE_REPOSITORY) -> str:
    """The image the setup cell pushed (``URI:v1``); fails kindly when it is not there."""
    return setup.exercise_image(lab, "8", repository)


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: every check cluster and log group, their alarms, and the repository."""
    for cluster in setup.clusters_with_prefix(lab, CHECK_PREFIX):
        _remove_cluster(lab, cluster)
    for group in lab.logs.describe_log_groups(logGroupNamePrefix="/ecs/ex08-check-")["logGroups"]:
        _delete_log_group(lab, group["logGroupName"])
    setup.remove_exercise_image(lab, repository)
    _delete_role(lab, LOGS_ROLE)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_with_prefix(lab, CHECK_PREFIX),
        "check log groups left": [
            g["logGroupName"] for g in lab.logs.describe_log_groups(logGroupNamePrefix="/ecs/ex08-check-")["logGroups"]
        ],
    }


def _role_that_may_create_groups(lab: Any) -> str:
    """8.1's execution role (:data:`LOGS_ROLE`), created when missing; returns its ARN."""
    arn = security.ensure_execution_role(lab.iam, name=LOGS_ROLE)
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"}]}
    lab.iam.put_role_policy(RoleName=LOGS_ROLE, PolicyName="create-log-groups", PolicyDocument=json.dumps(document))
    return arn


_delete_role = setup.delete_role


def _delete_log_group(lab: Any, group: str) -> None:
    try:
        lab.logs.delete_log_group(logGroupName=group)
    except lab.logs.exceptions.ResourceNotFoundException:
        pass


def _alarms_on(lab: Any, cluster: str) -> list[str]:
    """Names of the metric alarms whose dimensions name ``cluster``."""
    alarms = lab.cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    return [a["AlarmName"] for a in alarms if any(d.get("Value") == cluster for d in a.get("Dimensions", []))]


def _remove_cluster(lab: Any, cluster: str) -> None:
    """The cluster with its services, tasks and task definitions (:func:`ecslab.checks.setup.delete_cluster`), and the
    alarms on it: the one difference from the other checks' clean-up, since 8.2's learner makes an alarm."""
    names = _alarms_on(lab, cluster)
    if names:
        lab.cloudwatch.delete_alarms(AlarmNames=names)
    setup.delete_cluster(lab, cluster)


def _services(lab: Any, cluster: str) -> list[dict[str, Any]]:
    arns = lab.ecs.list_services(cluster=cluster)["serviceArns"]
    return list(lab.ecs.describe_services(cluster=cluster, services=arns)["services"]) if arns else []


def _tasks(lab: Any, cluster: str) -> list[dict[str, Any]]:
    arns = lab.ecs.list_tasks(cluster=cluster)["taskArns"][:100]
    return list(lab.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]) if arns else []


def _service(
    lab: Any, cluster: str, service: str, image: str, count: int, log_configuration: dict[str, Any] | None = None
) -> None:
    """A Fargate service the checker makes itself, steady when this returns."""
    definition = ecs_tools.task_definition(service, image, execution_role_arn=security.ensure_execution_role(lab.iam))
    if log_configuration:
        definition["containerDefinitions"][0]["logConfiguration"] = log_configuration
    arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=arn,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": setup.default_subnets(lab),
                "securityGroups": [setup.public_task_group(lab)],
                "assignPublicIp": "ENABLED",
            }
        },
    )
    ecs_tools.wait_for_steady_state(lab.ecs, cluster, service, timeout=60, show_progress=False)


def _get(url: str, patience: float = 10.0) -> None:
    """GET ``url``; a just-started app may need a moment before it listens. Any HTTP status will do: the app logs every request."""
    deadline = time.monotonic() + patience
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- 8.1 -------------------------------------------------------------------------------------------


def _wait_started(lab: Any, cluster: str, task_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    """The task once it is RUNNING or STOPPED."""
    deadline = time.monotonic() + timeout
    while True:
        task = lab.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if task["lastStatus"] in ("RUNNING", "STOPPED") or time.monotonic() > deadline:
            return dict(task)
        time.sleep(0.3)


def check_log_configuration(
    log_configuration: Callable[[str, str, str], dict[str, Any]],
    lab: Any,
    group: str | None = None,
    prefix: str | None = None,
    cluster: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """8.1: ``log_configuration(group, prefix, region)`` returns a logConfiguration that ships a task's output to ``group``.

    The checker deletes ``group`` first, runs a task with the configuration and looks for the
    line the app writes for one request in the stream ``prefix/web/TASK_ID``. The group, the prefix and the cluster
    are new each run.
    """
    image = exercise_image(lab, repository)
    group = group or setup.fresh_name(LOGS_GROUP)
    prefix = prefix or setup.fresh_name(LOGS_PREFIX)
    cluster = cluster or setup.fresh_name(LOGS_CLUSTER)
    region = lab.region
    configuration = run_student("8.1", log_configuration, group, prefix, region)
    expect(
        isinstance(configuration, dict),
        "8.1",
        f"return a dict like {{'logDriver': 'awslogs', 'options': {{...}}}}, not {type(configuration).__name__}.",
    )
    expect(
        configuration.get("logDriver") == "awslogs",
        "8.1",
        f"the logDriver is {configuration.get('logDriver')!r}; the driver that ships a container's output to CloudWatch Logs is 'awslogs'.",
    )
    options = configuration.get("options")
    if not isinstance(options, dict) or not options:
        raise CheckFailed(
            "Exercise 8.1: put the driver's settings in configuration['options'], a dict of option names to strings."
        )
    not_strings = sorted(key for key, value in options.items() if not isinstance(value, str))
    expect(
        not not_strings,
        "8.1",
        f'option values must be strings, and {", ".join(not_strings)} is not: write "true", not True (ECS rejects anything else).',
    )
    wanted = {
        "awslogs-group": ("group", group),
        "awslogs-stream-prefix": ("prefix", prefix),
        "awslogs-region": ("region", region),
    }
    for key, (argument, value) in wanted.items():
        expect(
            options.get(key) == value,
            "8.1",
            f"options[{key!r}] is {options.get(key)!r}; it should be {value!r}, the function's {argument} argument.",
        )
    _remove_cluster(lab, cluster)
    _delete_log_group(lab, group)
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        definition = ecs_tools.task_definition(cluster, image, execution_role_arn=_role_that_may_create_groups(lab))
        definition["containerDefinitions"][0]["logConfiguration"] = configuration
        try:
            arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        except (ClientError, ParamValidationError) as error:
            raise CheckFailed(f"Exercise 8.1: ECS refused a task definition with your logConfiguration: {error}") from None
        task_arn = lab.ecs.run_task(
            cluster=cluster,
            taskDefinition=arn,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": setup.default_subnets(lab),
                    "securityGroups": [setup.public_task_group(lab)],
                    "assignPublicIp": "ENABLED",
                }
            },
        )["tasks"][0]["taskArn"]
        task = _wait_started(lab, cluster, task_arn)
        if task["lastStatus"] != "RUNNING":
            reason = task.get("stoppedReason") or f"still {task['lastStatus']}"
            hint = (
                f" The group {group} did not exist (the check deletes it first): let the driver create it with "
                '"awslogs-create-group": "true" in the options.'
                if "log group does not exist" in reason
                else ""
            )
            raise CheckFailed(f"Exercise 8.1: the task did not start. ECS says: {reason}.{hint}")
        task_id = task_arn.split("/")[-1]
        stream = f"{prefix}/web/{task_id}"
        marker = f"/ex08-check-{time.time_ns()}"
        _get(ecs_tools.task_url(task, ec2=lab.ec2) + marker)
        sent = time.monotonic()
        found = False
        while not found and time.monotonic() - sent < 5:
            try:
                events = lab.logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=50)[
                    "events"
                ]
            except ClientError:
                events = []
            found = any(marker in event["message"] for event in events)
            if not found:
                time.sleep(0.1)
        seconds = time.monotonic() - sent
        if not found:
            streams = [s["logStreamName"] for s in lab.logs.describe_log_streams(logGroupName=group)["logStreams"]]
            raise CheckFailed(
                f"Exercise 8.1: the line for GET {marker} did not reach the stream {stream!r} within 5 s. "
                f"The group holds the streams {streams or 'none'}."
            )
        return Passed(
            "8.1",
            f"a task with your logConfiguration created the group and its request line reached the stream PREFIX/web/<task id> in {seconds:.1f} s.",
        )
    finally:
        _remove_cluster(lab, cluster)
        _delete_log_group(lab, group)


# -- 8.2 -------------------------------------------------------------------------------------------


def check_cpu_alarm(
    create_cpu_alarm: Callable[[Any, str, str], str],
    lab: Any,
    cluster: str | None = None,
    service: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
    timeout: float = ALARM_TIMEOUT,
) -> Passed:
    """8.2: ``create_cpu_alarm(lab, cluster, service)`` creates an alarm on the service's average CPU above 30% for one period
    (10 s in the lab, 60 s on AWS: ``10 if lab.is_local else 60``); returns its name.

    The checker reads the alarm's settings, then loads the service's task with CPU work and
    waits for the alarm to go to ALARM. The cluster and the service are new each run, so an alarm on typed-in
    dimensions cannot pass.
    """
    from ecslab.elb import TrafficGenerator

    image = exercise_image(lab, repository)
    cluster = cluster or setup.fresh_name(ALARM_CLUSTER)
    service = service or setup.fresh_name(SERVICE)
    _remove_cluster(lab, cluster)
    load = None
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        _service(lab, cluster, service, image, 1)
        name = run_student("8.2", create_cpu_alarm, lab, cluster, service)
        expect(
            isinstance(name, str) and bool(name),
            "8.2",
            f"return the alarm's name (the AlarmName you gave put_metric_alarm), not {name!r}.",
        )
        found = lab.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        expect(
            bool(found),
            "8.2",
            f"there is no metric alarm named {name!r}: call lab.cloudwatch.put_metric_alarm(AlarmName=..., ...) and return that AlarmName.",
        )
        alarm = found[0]
        expect(
            alarm.get("Namespace") == "AWS/ECS",
            "8.2",
            f"the alarm's Namespace is {alarm.get('Namespace')!r}; ECS publishes service metrics in 'AWS/ECS'.",
        )
        expect(
            alarm.get("MetricName") == "CPUUtilization",
            "8.2",
            f"the alarm watches {alarm.get('MetricName')!r}; a service's CPU is 'CPUUtilization'.",
        )
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        wanted = {"ClusterName": cluster, "ServiceName": service}
        expect(
            dimensions == wanted,
            "8.2",
            f"the alarm's dimensions are {dimensions or 'none'}; ECS publishes a service's CPU with exactly {wanted}. A metric is found only "
            "with all its dimensions, so any other set leaves the alarm in INSUFFICIENT_DATA.",
        )
        expect(
            alarm.get("Statistic") == "Average",
            "8.2",
            f"the alarm's statistic is {alarm.get('Statistic') or alarm.get('ExtendedStatistic')!r}; 'average CPU' is Statistic='Average'.",
        )
        period = 10 if lab.is_local else 60
        expect(
            alarm.get("Period") == period,
            "8.2",
            f"the alarm's Period is {alarm.get('Period')} s; take it from the target: Period=10 if lab.is_local else 60 (the lab publishes "
            f"AWS/ECS metrics every 10 s, AWS once a minute), which is {period} here.",
        )
        evaluation = (alarm.get("EvaluationPeriods"), alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods"))
        expect(
            evaluation == (1, 1),
            "8.2",
            f"the alarm needs {evaluation[1]} of the last {evaluation[0]} periods to breach; the exercise asks for 1 period: EvaluationPeriods=1.",
        )
        threshold = float(alarm.get("Threshold", 0))
        expect(
            threshold == 30,
            "8.2",
            f"the threshold is {threshold:g}; CPUUtilization is a percentage, so 30% is Threshold=30"
            + (" (not 0.3)." if threshold == 0.3 else "."),
        )
        expect(
            alarm.get("ComparisonOperator") in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold"),
            "8.2",
            f"the comparison is {alarm.get('ComparisonOperator')!r}; 'above 30%' is ComparisonOperator='GreaterThanThreshold'.",
        )
        task = ecs_tools.service_tasks(lab.ecs, cluster, service)[0]
        load = TrafficGenerator(ecs_tools.task_url(task, ec2=lab.ec2), rate=8, concurrency=4, path="/work?ms=150")
        started = time.monotonic()
        load.start()
        state, reason = alarm["StateValue"], alarm["StateReason"]
        while time.monotonic() - started < timeout:
            current = lab.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            state, reason = current["StateValue"], current["StateReason"]
            if state == "ALARM":
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        expect(state == "ALARM", "8.2", f"under CPU load for {timeout:.0f} s the alarm stayed {state}. CloudWatch says: {reason}")
        said = re.sub(r" \[[^\]]*\]", "", reason)  # without the datapoints' values and times, which differ on every run
        return Passed("8.2", f"your alarm went to ALARM {seconds:.0f} s after the load began. CloudWatch says: {said}")
    finally:
        if load is not None:
            load.stop()
        _remove_cluster(lab, cluster)


# -- 8.3 -------------------------------------------------------------------------------------------

HEALTH_REQUESTS = ((4, 9), (3, 8))
"""How many requests to /health the checker sends to each of the service's two tasks: a random number in each range."""
REPLAYED_HEALTH_LINES = (10_050, 10_600)
"""How many /health lines of the last minutes the checker writes into a third stream (a random number in this range):
more than one page of filter_log_events (the lab's CloudWatch Logs, like AWS, returns at most 10,000 events per page),
so an answer that does not follow nextToken, or a constant, cannot pass."""
PAGE = 10_000
"""Events per page of filter_log_events when no limit is given (AWS's and the lab's)."""
OTHER_REQUESTS = ("/", "/", "/", "/work?ms=1", "/work?ms=1")
EARLIER_HEALTH_LINES = 6
"""Lines about /health the checker writes 30 minutes in the past, in the stream of a task that is gone."""


def _replay_health_lines(lab: Any, group: str, count: int, minutes: int) -> None:
    """``count`` /health lines spread over the last ``minutes`` - 1 minutes, in a stream of a task that is gone."""
    stream = f"{COUNT_PREFIX}/web/00000000-replayed-task"
    lab.logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    first = now - max(1, minutes - 1) * 60_000
    step = max(1, (now - first) // count)
    events = [
        {
            "timestamp": first + n * step,
            "message": f'{datetime.fromtimestamp((first + n * step) / 1000, UTC):%d/%b/%Y %H:%M:%S} v1 "GET /health HTTP/1.1" 200 -',
        }
        for n in range(count)
    ]
    for start in range(0, count, 5000):  # put_log_events takes at most 10,000 events and 1 MB per call
        lab.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[start : start + 5000])


def _count(lab: Any, group: str, pattern: str, start: datetime | None) -> int:
    request: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern}
    if start is not None:
        request["startTime"] = int(start.timestamp() * 1000)
    count = 0
    while True:
        page = lab.logs.filter_log_events(**request)
        count += len(page["events"])
        if not page.get("nextToken") or not page["events"]:
            return count
        request["nextToken"] = page["nextToken"]


def check_count_health_requests(
    count_health_requests: Callable[[Any, str, int], int],
    lab: Any,
    group: str | None = None,
    cluster: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
    minutes: int = 10,
) -> Passed:
    """8.3: ``count_health_requests(lab, group, minutes)`` counts the requests to /health logged in ``group`` in the last ``minutes``.

    The checker runs a service of two tasks logging to ``group``, sends each a known number of
    requests to /health and to other paths, and adds /health lines from 30 minutes ago in the
    stream of a task that is gone. The group and the cluster are new each run; so are the counts.
    """
    image = exercise_image(lab, repository)
    group = group or setup.fresh_name(COUNT_GROUP)
    cluster = cluster or setup.fresh_name(COUNT_CLUSTER)
    _remove_cluster(lab, cluster)
    _delete_log_group(lab, group)
    try:
        lab.logs.create_log_group(logGroupName=group)
        lab.ecs.create_cluster(clusterName=cluster)
        configuration = {
            "logDriver": "awslogs",
            "options": {"awslogs-group": group, "awslogs-region": lab.region, "awslogs-stream-prefix": COUNT_PREFIX},
        }
        _service(lab, cluster, SERVICE, image, 2, configuration)
        earlier = datetime.now(UTC) - timedelta(minutes=30)
        gone = f"{COUNT_PREFIX}/web/00000000-earlier-task"
        lab.logs.create_log_stream(logGroupName=group, logStreamName=gone)
        lab.logs.put_log_events(
            logGroupName=group,
            logStreamName=gone,
            logEvents=[
                {
                    "timestamp": int(earlier.timestamp() * 1000) + n,
                    "message": f'{earlier:%d/%b/%Y %H:%M:%S} v1 "GET /health HTTP/1.1" 200 -',
                }
                for n in range(EARLIER_HEALTH_LINES)
            ],
        )
        replayed = random.randint(*REPLAYED_HEALTH_LINES)
        _replay_health_lines(lab, group, replayed, minutes)
        sent = tuple(random.randint(*bounds) for bounds in HEALTH_REQUESTS)
        tasks = ecs_tools.service_tasks(lab.ecs, cluster, SERVICE)
        for task, count in zip(tasks, sent, strict=True):
            url = ecs_tools.task_url(task, ec2=lab.ec2)
            for _ in range(count):
                _get(url + "/health")
            for path in OTHER_REQUESTS:
                _get(url + path)
        expected = sum(sent) + replayed
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        deadline = time.monotonic() + 10
        while _count(lab, group, '"GET /health"', since) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        every_line = _count(lab, group, "", since)  # also the two "listening" lines and the other requests
        all_lines = _count(lab, group, "", None)
        answer = run_student("8.3", count_health_requests, lab, group, minutes)
        if isinstance(answer, list | tuple):
            raise CheckFailed(
                f"Exercise 8.3: you returned a {type(answer).__name__} of {len(answer)} items; return the number of lines, an int (len(events))."
            )
        expect(
            isinstance(answer, int) and not isinstance(answer, bool),
            "8.3",
            f"return the number of requests as an int, not {answer!r}.",
        )
        if answer == expected:
            return Passed(
                "8.3",
                f"you counted every request to /health of the last {minutes} minutes, across all the group's streams and more than "
                f"one page of results, and none of the {EARLIER_HEALTH_LINES} logged 30 minutes ago.",
            )
        explanations = {
            expected
            + EARLIER_HEALTH_LINES: "You also counted the lines logged 30 minutes ago: pass startTime, the start of the last `minutes` minutes "
            "in milliseconds since 1970 (int((time.time() - minutes * 60) * 1000)).",
            every_line: "You counted every line of those minutes, not only the requests to /health. Check the filterPattern: put the phrase in "
            "double quotes, '\"GET /health\"'. (The lab's CloudWatch Logs treats a pattern it does not understand, such as /health "
            "without quotes, as 'every line'.)",
            all_lines: "You counted every line ever logged in the group: use a filterPattern ('\"GET /health\"') and a startTime.",
            **{
                count: "You counted one stream only: filter_log_events searches every stream of the group, so call it on the "
                "group without logStreamNames."
                for count in (*sent, replayed)
            },
            PAGE: "You counted the first page only: when the answer has a nextToken, ask again with it until it has none.",
            0: "You found no lines at all: use the group argument as logGroupName, and a pattern the lines contain (terms are case-sensitive: "
            "'\"GET /health\"').",
        }
        raise CheckFailed(
            f"Exercise 8.3: the service logged {expected} requests to /health in the last {minutes} minutes; you returned {answer}. "
            + explanations.get(
                answer,
                "Use lab.logs.filter_log_events(logGroupName=group, filterPattern='\"GET /health\"', startTime=...) "
                "and follow nextToken if the answer has one.",
            )
        )
    finally:
        _remove_cluster(lab, cluster)
        _delete_log_group(lab, group)
