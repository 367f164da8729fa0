"""The checkers of exercise 06 pass right answers and fail wrong ones with useful messages.

Given a repository, target groups, load balancers and clusters of the tests' own (``t06-...``,
never the exercise's), when a checker runs a learner's function, then it passes or names what
to change, and leaves nothing behind either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import elb as elb_tools
from ecslab.checks import CheckFailed, NotDone, ex06, setup

REPOSITORY = "t06-app"
TARGET_GROUP = "t06-target-group"
CLUSTER = "t06-check"
ALB = "t06-alb"
ALB_TARGET_GROUP = "t06-alb-tg"


@pytest.fixture(scope="module")
def image_uri(lab: ecslab.Lab) -> Iterator[str]:
    uri = ex06.prepare_image(lab, REPOSITORY, show_progress=False)
    yield uri
    ex06.clean_up(lab, REPOSITORY)


def nothing_left(lab: ecslab.Lab) -> bool:
    clusters = [c for c in lab.ecs.describe_clusters(clusters=[CLUSTER])["clusters"] if c["status"] == "ACTIVE"]
    balancers = [b for b in lab.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == ALB]
    groups = [
        g for g in lab.elbv2.describe_target_groups()["TargetGroups"] if g["TargetGroupName"] in (TARGET_GROUP, ALB_TARGET_GROUP)
    ]
    security_groups = lab.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{CLUSTER}-alb", f"{CLUSTER}-tasks"]}]
    )["SecurityGroups"]
    return not clusters and not balancers and not groups and not security_groups


# -- 6.1 --------------------------------------------------------------------------------------


def target_group(lab: Any, name: str, vpc_id: str, returns: str = "arn", **changes: Any) -> Any:
    """A configurable answer to 6.1 (right with the defaults)."""
    settings = {
        "Name": name,
        "Protocol": "HTTP",
        "Port": 8080,
        "VpcId": vpc_id,
        "TargetType": "ip",
        "HealthCheckPath": "/health",
        "HealthCheckIntervalSeconds": 5,
        "HealthCheckTimeoutSeconds": 2,
        "HealthyThresholdCount": 2,
    } | changes
    settings = {key: value for key, value in settings.items() if value is not None}
    group = lab.elbv2.create_target_group(**settings)["TargetGroups"][0]
    return group["TargetGroupArn"] if returns == "arn" else group


def check_target_group(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex06.check_target_group(answer, lab, name=TARGET_GROUP)


def test_a_right_target_group_passes(lab: ecslab.Lab) -> None:
    passed = check_target_group(target_group, lab)
    assert "ip targets on 8080" in passed.message and nothing_left(lab)


def test_the_stub_is_not_done(lab: ecslab.Lab) -> None:
    def stub(lab: Any, name: str, vpc_id: str) -> str:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_target_group(stub, lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda lab, name, vpc: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1",
            "there is no target group named",
        ),
        (lambda lab, name, vpc: target_group(lab, name, vpc, returns="group"), "return the target group's ARN"),
        (lambda lab, name, vpc: target_group(lab, name, vpc, TargetType=None), "TargetType='ip'"),
        (lambda lab, name, vpc: target_group(lab, name, vpc, Port=80), "80 is the listener's port"),
        (lambda lab, name, vpc: target_group(lab, name, vpc, HealthCheckPath=None), "'/' also answers 200"),
        (
            lambda lab, name, vpc: target_group(lab, name, vpc, HealthCheckIntervalSeconds=None, HealthCheckTimeoutSeconds=None),
            "30 \\(AWS's default\\)",
        ),
        (
            lambda lab, name, vpc: target_group(lab, name, vpc, HealthCheckTimeoutSeconds=None),
            "Health check interval must be greater than the timeout",
        ),
        (
            lambda lab, name, vpc: target_group(lab, name, vpc, HealthyThresholdCount=None),
            "HealthyThresholdCount is 5 \\(AWS's default\\)",
        ),
    ],
    ids=[
        "nothing-created",
        "whole-group",
        "instance-targets",
        "listener-port",
        "default-path",
        "default-interval",
        "default-timeout",
        "default-threshold",
    ],
)
def test_wrong_target_groups_are_explained(lab: ecslab.Lab, answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_target_group(answer, lab)
    assert nothing_left(lab)


# -- 6.2 --------------------------------------------------------------------------------------


def test_a_typed_in_target_group_name_does_not_pass(lab: ecslab.Lab) -> None:
    """Issue 13's fixed-name hole: the name is new each run, so the exercise's usual name cannot pass."""
    try:
        with pytest.raises(CheckFailed, match="there is no target group named 'ex06-check-target-group-"):
            ex06.check_target_group(lambda lab, name, vpc_id: target_group(lab, ex06.TARGET_GROUP, vpc_id), lab)
    finally:
        elb_tools.delete_target_groups(lab.elbv2, [ex06.TARGET_GROUP])
    assert not [
        g for g in lab.elbv2.describe_target_groups()["TargetGroups"] if g["TargetGroupName"].startswith(ex06.TARGET_GROUP)
    ]


def serve(
    lab: Any,
    cluster: str,
    service: str,
    alb_arn: str,
    tg_arn: str,
    task_def_arn: str,
    task_group: str,
    listener: bool = True,
    balancers: bool = True,
    count: int = 2,
    container_port: int = 8080,
    wait: bool = True,
    url: str = "listener",
    security_groups: list[str] | None = None,
    target_wait: int = 30,
) -> str:
    """A configurable answer to 6.2 (right with the defaults; ``security_groups`` replaces ``[task_group]``)."""
    if listener:
        lab.elbv2.create_listener(
            LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
        )
    _, subnets = elb_tools.default_subnets(lab.ec2)
    extra = (
        {"loadBalancers": [{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": container_port}]}
        if balancers
        else {}
    )
    groups = [task_group] if security_groups is None else security_groups
    network = {"subnets": subnets} | ({"securityGroups": groups} if groups else {})
    lab.ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=task_def_arn,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": network},
        **extra,
    )
    if wait:
        lab.ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        lab.elbv2.get_waiter("target_in_service").wait(
            TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": target_wait}
        )
    if url == "dns":
        return str(lab.elbv2.describe_load_balancers(LoadBalancerArns=[alb_arn])["LoadBalancers"][0]["DNSName"])
    return elb_tools.listener_url(lab, alb_arn)


def check_serve(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex06.check_serve_behind_alb(
        answer, lab, cluster=CLUSTER, service="t06-api", alb_name=ALB, target_group=ALB_TARGET_GROUP, repository=REPOSITORY
    )


def test_without_the_setup_cell_the_check_says_to_run_it(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="Run the setup cell"):
        ex06.check_serve_behind_alb(
            serve, lab, cluster=CLUSTER, alb_name=ALB, target_group=ALB_TARGET_GROUP, repository="t06-never-pushed"
        )


def test_a_right_service_behind_the_alb_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check_serve(serve, lab)
    assert "answered by 2 tasks, 10 and 10" in passed.message and nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: serve(*args, listener=False, wait=False, url="dns"), "has no listener"),
        (lambda *args: serve(*args, balancers=False, wait=False), "has no loadBalancers"),
        (lambda *args: serve(*args, count=1), "desiredCount=2"),
        (lambda *args: serve(*args, container_port=80, wait=False), "container 'web', port 80"),
        (lambda *args: serve(*args, url="dns"), "DNS name does not resolve"),
        (lambda *args: serve(*args, wait=False), "no healthy target yet"),
        (
            lambda *args: serve(*args, security_groups=[], wait=False),
            "only the VPC's default group.*'securityGroups': \\[task_security_group\\]",
        ),
        (
            lambda *args: serve(*args, security_groups=[], target_wait=12),
            "WaiterError.*Why: the service puts its tasks in only the VPC's default group",
        ),
    ],
    ids=[
        "no-listener",
        "no-load-balancers",
        "one-task",
        "wrong-port",
        "dns-name",
        "no-wait",
        "no-security-group",
        "no-security-group-waited",
    ],
)
def test_wrong_services_behind_the_alb_are_explained(
    lab: ecslab.Lab, image_uri: str, answer: Callable[..., Any], message: str
) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_serve(answer, lab)
    assert nothing_left(lab)


# -- 6.3 --------------------------------------------------------------------------------------


def test_a_typed_in_cluster_does_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole, in 6.2 too: the cluster and the service are new each run."""

    def typed_in(lab: Any, cluster: str, service: str, *arns: str) -> str:
        return str(serve(lab, ex06.CLUSTER, ex06.SERVICE, *arns))

    with pytest.raises(CheckFailed, match="ClusterNotFoundException"):
        ex06.check_serve_behind_alb(typed_in, lab, alb_name=ALB, target_group=ALB_TARGET_GROUP, repository=REPOSITORY)
    assert setup.clusters_with_prefix(lab, ex06.CLUSTER) == [] and nothing_left(lab)
