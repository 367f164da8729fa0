"""The checkers of exercise 09 pass right answers and fail wrong ones with useful messages.

Given a repository and names of the tests' own (``t09-...``, never the exercise's), when a
checker runs a learner's function, then it passes or names what to change, and leaves nothing
behind either way. 9.1 and 9.2 run real tasks behind a real listener (a few seconds each);
9.3 only asks IAM.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import network
from ecslab.checks import CheckFailed, NotDone, ex09

REPOSITORY = "t09-app"
WEB = "t09-web"
ROLL = "t09-roll"
ROLE = "t09-task-role"
BUCKET = "t09-settings"


@pytest.fixture(scope="module")
def images(lab: ecslab.Lab) -> Iterator[dict[str, str]]:
    found = ex09.prepare_images(lab, REPOSITORY, show_progress=False)
    yield found
    ex09.clean_up(lab, REPOSITORY)


def nothing_left(lab: ecslab.Lab, name: str) -> bool:
    clusters = [c for c in lab.ecs.describe_clusters(clusters=[name])["clusters"] if c["status"] == "ACTIVE"]
    balancers = [b for b in lab.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == name]
    groups = [g for g in lab.elbv2.describe_target_groups()["TargetGroups"] if g["TargetGroupName"].startswith(name)]
    security_groups = [g for g in lab.ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(name)]
    definitions = lab.ecs.list_task_definitions(familyPrefix=name, status="ACTIVE")["taskDefinitionArns"]
    roles = [r for r in lab.iam.list_roles()["Roles"] if r["RoleName"] == ROLE]
    return not clusters and not balancers and not groups and not security_groups and not definitions and not roles


# -- 9.1 --------------------------------------------------------------------------------------


def deploy(
    lab: Any,
    name: str,
    image_uri: str,
    execution_role_arn: str,
    alb_groups: str = "web",
    task_groups: str = "web",
    count: int = 2,
    wait: bool = True,
    url: str = "listener",
) -> str:
    """A configurable answer to 9.1 (right with the defaults).

    ``alb_groups``: "web" (the pair's ALB group) or "none" (left out: the VPC's default group).
    ``task_groups``: "web" (the pair's task group) or "open" (a group admitting 8080 from anywhere)."""
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    subnets = subnets[:2]
    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc_id, prefix=name)
    if task_groups == "open":
        task_group = lab.ec2.create_security_group(GroupName=f"{name}-open", Description="8080 from anywhere", VpcId=vpc_id)[
            "GroupId"
        ]
        lab.ec2.authorize_security_group_ingress(
            GroupId=task_group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
    extra = {"SecurityGroups": [alb_group]} if alb_groups == "web" else {}
    alb_arn = lab.elbv2.create_load_balancer(Name=name, Subnets=subnets, Type="application", Scheme="internet-facing", **extra)[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    tg_arn = lab.elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    lab.elbv2.create_listener(
        LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
    )
    lab.ecs.create_cluster(clusterName=name)
    task_def_arn = lab.ecs.register_task_definition(
        **ecs_tools.task_definition(name, image_uri, execution_role_arn=execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=task_def_arn,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [task_group], "assignPublicIp": "ENABLED"}
        },
        loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
    )
    if wait:
        lab.ecs.get_waiter("services_stable").wait(cluster=name, services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if url == "dns":
        return str(lab.elbv2.describe_load_balancers(LoadBalancerArns=[alb_arn])["LoadBalancers"][0]["DNSName"])
    return elb_tools.listener_url(lab, alb_arn)


def check_deploy(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex09.check_deploy_behind_alb(answer, lab, name=WEB, repository=REPOSITORY)


def test_without_the_setup_cell_the_check_says_to_run_it(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="Run the setup cell"):
        ex09.check_deploy_behind_alb(deploy, lab, name=WEB, repository="t09-never-pushed")


def test_the_stub_is_not_done(lab: ecslab.Lab, images: dict[str, str]) -> None:
    def stub(lab: Any, name: str, image_uri: str, execution_role_arn: str) -> str:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_deploy(stub, lab)


def test_a_right_deployment_passes(lab: ecslab.Lab, images: dict[str, str]) -> None:
    passed = check_deploy(deploy, lab)
    assert "were answered by 2 tasks running t09-app:v1" in passed.message and nothing_left(lab, WEB)


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda *args: deploy(*args, alb_groups="none", wait=False),
            "do not admit port 80 from anywhere.*the VPC's default group",
        ),
        (lambda *args: deploy(*args, task_groups="open", wait=False), "t09-web-open\\) admit port 8080 from anywhere"),
        (lambda *args: deploy(*args, count=1, wait=False), "desiredCount=2"),
        (lambda *args: deploy(*args, url="dns", wait=False), "DNS name does not resolve"),
        (lambda *args: deploy(*args, wait=False), "no healthy target yet"),
    ],
    ids=["alb-default-group", "tasks-open-to-all", "one-task", "dns-name", "no-wait"],
)
def test_wrong_deployments_are_explained(
    lab: ecslab.Lab, images: dict[str, str], answer: Callable[..., Any], message: str
) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_deploy(answer, lab)
    assert nothing_left(lab, WEB)


# -- 9.2 --------------------------------------------------------------------------------------


def roll(
    lab: Any, cluster: str, service: str, new_image_uri: str, image: str = "new", wait: bool = True, minimum: int | None = None
) -> str:
    """A configurable answer to 9.2 (right with the defaults; ``image="same"`` redeploys the current revision)."""
    current = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    arn = current
    if image == "new":
        definition = lab.ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
        fields = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn")
        revision = {key: definition[key] for key in fields if key in definition}
        revision["containerDefinitions"][0]["image"] = new_image_uri
        arn = lab.ecs.register_task_definition(**revision)["taskDefinition"]["taskDefinitionArn"]
    extra: dict[str, Any] = {"forceNewDeployment": True} if image == "same" else {}
    if minimum is not None:
        extra["deploymentConfiguration"] = {"minimumHealthyPercent": minimum, "maximumPercent": 100}
    lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=arn, **extra)
    if wait:
        lab.ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    return str(arn)


def check_roll(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex09.check_roll_out(answer, lab, name=ROLL, repository=REPOSITORY)


def test_a_right_rollout_passes(lab: ecslab.Lab, images: dict[str, str]) -> None:
    passed = check_roll(roll, lab)
    assert "no request failed, and every answer from 1 s after it returned came from v2" in passed.message and nothing_left(
        lab, ROLL
    )


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: roll(*args, wait=False), "still answered by \\['v1'\\].*services_stable"),
        (lambda *args: roll(*args, image="same"), "runs 't09-app:v1'.*forceNewDeployment"),
        (lambda *args: roll(*args, minimum=0), "requests failed during your rollout.*minimumHealthyPercent is 0"),
    ],
    ids=["no-wait", "same-image", "minimum-0"],
)
def test_wrong_rollouts_are_explained(lab: ecslab.Lab, images: dict[str, str], answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_roll(answer, lab)
    assert nothing_left(lab, ROLL)


# -- 9.3 --------------------------------------------------------------------------------------


def policy(
    bucket: str, action: Any = "s3:GetObject", resource: str = "{bucket}/settings/*", extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A configurable answer to 9.3 (right with the defaults)."""
    statement = {
        "Effect": "Allow",
        "Action": action,
        "Resource": "arn:aws:s3:::" + resource.format(bucket=bucket) if resource != "*" else "*",
    }
    return {"Version": "2012-10-17", "Statement": [statement, *(extra or [])]}


def check_policy(answer: Callable[[str], Any], lab: ecslab.Lab) -> Any:
    return ex09.check_task_role_policy(answer, lab, bucket=BUCKET, role=ROLE)


def test_a_least_privilege_policy_passes(lab: ecslab.Lab) -> None:
    passed = check_policy(policy, lab)
    assert "may only read the bucket's settings/*" in passed.message and nothing_left(lab, ROLE)


def test_a_policy_for_a_fixed_bucket_does_not_pass(lab: ecslab.Lab) -> None:
    """The hole issue 13 closed: the bucket used to be ex09-app-settings on every run, so a constant policy passed."""
    with pytest.raises(CheckFailed, match="could not read its settings"):
        ex09.check_task_role_policy(lambda bucket: policy("ex09-app-settings"), lab, role=ROLE)
    assert nothing_left(lab, ROLE)


def test_the_policy_stub_is_not_done(lab: ecslab.Lab) -> None:
    def stub(bucket: str) -> dict[str, Any]:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_policy(stub, lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda bucket: json.dumps(policy(bucket)), "not as JSON text"),
        (
            lambda bucket: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]},
            "IAM would refuse this policy",
        ),
        (lambda bucket: policy(bucket, resource="{bucket}"), "could not read its settings"),
        (lambda bucket: policy(bucket, action="*", resource="*"), "uses no DynamoDB"),
        (lambda bucket: policy(bucket, action="s3:*"), "may also s3:PutObject"),
        (lambda bucket: policy(bucket, resource="{bucket}/*"), "private/keys.json.*End the Resource with the prefix"),
        (lambda bucket: policy(bucket, resource="*/settings/*"), "someone-elses-bucket.*Name the bucket"),
        (
            lambda bucket: policy(
                bucket, extra=[{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}]
            ),
            "lists nothing",
        ),
    ],
    ids=["json-text", "malformed", "bucket-not-objects", "everything", "all-of-s3", "whole-bucket", "any-bucket", "listing"],
)
def test_wrong_policies_are_explained(lab: ecslab.Lab, answer: Callable[[str], Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_policy(answer, lab)
    assert nothing_left(lab, ROLE)
