"""The checkers of exercise 07b pass right answers and fail wrong ones with useful messages.

Given a repository, roles, VPCs, security groups, secrets and clusters of the tests' own (``t07b-...``, never
the exercise's), when a checker runs a learner's function, then it passes or names what to change, and leaves
nothing behind either way. 7b.1 reads the learner's security groups back from EC2 and refuses ecslab's own
create_web_security_groups; 7b.2 runs the AWS app as a task with a secret, so it needs the lab's execution-role
filler.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import network
from ecslab.checks import CheckFailed, NotDone, ex07, ex07b, setup

REPOSITORY = "t07b-app"
VPC = "t07b-vpc"
ALB_GROUP = "t07b-front"
TASK_GROUP = "t07b-app"
SECRET_CLUSTER = "t07b-secret"
SECRET_ROLE = "t07b-secret-execution"
SECRET_NAME = "t07b/db-password"


@pytest.fixture(scope="module")
def image_uri(lab: ecslab.Lab) -> Iterator[str]:
    uri = ex07b.prepare_image(lab, REPOSITORY, show_progress=False)
    yield uri
    ex07b.clean_up(lab, REPOSITORY)


def nothing_left(lab: ecslab.Lab) -> bool:
    clusters = [c for c in lab.ecs.describe_clusters(clusters=[SECRET_CLUSTER])["clusters"] if c["status"] == "ACTIVE"]
    roles = [r for r in lab.iam.list_roles()["Roles"] if r["RoleName"] == SECRET_ROLE]
    secrets = [s for s in lab.client("secretsmanager").list_secrets()["SecretList"] if s["Name"] == SECRET_NAME]
    groups = lab.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [ALB_GROUP, TASK_GROUP]}])[
        "SecurityGroups"
    ]
    vpcs = lab.ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [VPC]}])["Vpcs"]
    return not clusters and not roles and not secrets and not groups and not vpcs


# -- 7b.1 ------------------------------------------------------------------------------------


def make_groups(
    lab: Any,
    vpc_id: str,
    alb_group_name: str,
    task_group_name: str,
    *,
    alb_port: int = 80,
    task_source: str = "group",
    extra_alb: bool = False,
    in_vpc: bool = True,
    returns: str = "ids",
) -> Any:
    """A configurable answer to 7b.1 (right with the defaults); ``task_source`` is "group", "internet", "vpc" or "none"."""
    where = {"VpcId": vpc_id} if in_vpc else {}
    alb = lab.ec2.create_security_group(GroupName=alb_group_name, Description="load balancer", **where)["GroupId"]
    permissions = [{"IpProtocol": "tcp", "FromPort": alb_port, "ToPort": alb_port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    if extra_alb:
        permissions.append({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    lab.ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=permissions)
    tasks = lab.ec2.create_security_group(GroupName=task_group_name, Description="tasks", **where)["GroupId"]
    source: dict[str, Any] = {
        "group": {"UserIdGroupPairs": [{"GroupId": alb}]},
        "internet": {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        "vpc": {"IpRanges": [{"CidrIp": ex07b.VPC_CIDR}]},
        "both": {"UserIdGroupPairs": [{"GroupId": alb}], "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    }.get(task_source, {})
    if source:
        lab.ec2.authorize_security_group_ingress(
            GroupId=tasks, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, **source}]
        )
    return (alb, tasks) if returns == "ids" else (alb_group_name, task_group_name)


def check_groups(answer: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return ex07b.check_web_groups(answer, lab, vpc_name=VPC, alb_group_name=ALB_GROUP, task_group_name=TASK_GROUP)


def test_right_web_groups_pass(lab: ecslab.Lab) -> None:
    passed = check_groups(make_groups, lab)
    assert "TCP 8080 from the load balancer's group only" in passed.message and nothing_left(lab)


def test_the_groups_stub_is_not_done(lab: ecslab.Lab) -> None:
    def stub(lab: Any, vpc_id: str, alb_group_name: str, task_group_name: str) -> Any:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_groups(stub, lab)
    assert nothing_left(lab)


def test_the_helper_is_refused(lab: ecslab.Lab) -> None:
    """The exercise is to write what create_web_security_groups does: naming it fails before anything runs."""

    def helper(lab: Any, vpc_id: str, alb_group_name: str, task_group_name: str) -> Any:
        return network.create_web_security_groups(lab.ec2, vpc_id, prefix=alb_group_name)

    with pytest.raises(CheckFailed, match="not with ecslab's create_web_security_groups"):
        check_groups(helper, lab)
    assert nothing_left(lab)


def test_the_helper_reached_indirectly_is_refused(lab: ecslab.Lab) -> None:
    def indirect(lab: Any, vpc_id: str, alb_group_name: str, task_group_name: str) -> Any:
        return getattr(network, "create_web_" + "security_groups")(lab.ec2, vpc_id, prefix="t07b")

    try:
        with pytest.raises(CheckFailed, match="not with ecslab's create_web_security_groups"):
            check_groups(indirect, lab)
    finally:
        ex07b.delete_groups(lab, ["t07b-tasks", "t07b-alb"])
    assert nothing_left(lab)


def test_the_helpers_groups_cannot_pass(lab: ecslab.Lab) -> None:
    """In ecslab grade the check cannot refuse the helper in the learner's kernel: its groups (PREFIX-alb, PREFIX-tasks)
    are not the ones the check named."""
    prefix = "t07b-helper"
    helper = network.create_web_security_groups  # as the learner's kernel has it, out of the check's reach

    class Remote:  # no __code__ to read, and the helper held before the check could refuse it
        def __call__(self, lab: Any, vpc_id: str, alb_group_name: str, task_group_name: str) -> Any:
            return helper(lab.ec2, vpc_id, prefix=prefix)

    try:
        with pytest.raises(CheckFailed, match="there is no security group named 't07b-front'"):
            check_groups(Remote(), lab)
    finally:
        ex07b.delete_groups(lab, [f"{prefix}-tasks", f"{prefix}-alb"])
    # the helper's groups sat in the check's VPC, which the check deleted with them
    assert nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: make_groups(*args, task_source="internet"), "admits tcp 8080 from 0.0.0.0/0: anyone on the internet"),
        (lambda *args: make_groups(*args, task_source="both"), "admits tcp 8080 from 0.0.0.0/0"),
        (lambda *args: make_groups(*args, task_source="vpc"), "It admits address ranges"),
        (lambda *args: make_groups(*args, task_source="none"), "does not admit TCP 8080 from the load balancer's group"),
        (lambda *args: make_groups(*args, alb_port=8080), "does not admit TCP 80 from 0.0.0.0/0"),
        (lambda *args: make_groups(*args, extra_alb=True), "also admits tcp 22 from 0.0.0.0/0"),
        (lambda *args: make_groups(*args, in_vpc=False), "pass VpcId=vpc_id"),
        (lambda *args: make_groups(*args, returns="names"), "return the two groups' IDs"),
    ],
    ids=[
        "task-from-internet",
        "task-from-both",
        "task-from-vpc-cidr",
        "task-no-rule",
        "alb-wrong-port",
        "alb-ssh",
        "default-vpc",
        "returns-names",
    ],
)
def test_wrong_groups_are_explained(lab: ecslab.Lab, answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_groups(answer, lab)
    assert nothing_left(lab)


def test_typed_in_names_do_not_pass(lab: ecslab.Lab) -> None:
    """The VPC and the groups' names are new on every run."""
    try:
        with pytest.raises(CheckFailed, match="there is no security group named 'ex07b-check-front-"):
            ex07b.check_web_groups(lambda lab, vpc_id, a, t: make_groups(lab, vpc_id, ALB_GROUP, TASK_GROUP), lab)
    finally:
        ex07b.delete_groups(lab, [TASK_GROUP, ALB_GROUP])
    assert ex07b._check_vpcs(lab) == [] and ex07b._check_groups(lab) == []


# -- 7b.2 ------------------------------------------------------------------------------------


def run_secret(
    lab: Any,
    cluster: str,
    role_name: str,
    image_uri: str,
    secret_arn: str,
    *,
    read_resource: str | None = None,
    grant: bool = True,
    variable: str = "DB_PASSWORD",
    leak: str = "",
    returns: str = "task",
    wait: str = "poll",
) -> str:
    """A configurable answer to 7b.2 (right with the defaults); ``leak`` is "print" or "environment"."""
    role_arn = lab.iam.get_role(RoleName=role_name)["Role"]["Arn"]
    if grant:
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": read_resource or secret_arn}
            ],
        }
        lab.iam.put_role_policy(RoleName=role_name, PolicyName="read-secret", PolicyDocument=json.dumps(document))
    container: dict[str, Any] = {"name": "app", "image": image_uri, "essential": True, "portMappings": [{"containerPort": 8080}]}
    if leak in ("print", "environment"):
        value = lab.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        if leak == "print":
            print("the password is", value)
        else:
            container["environment"] = [{"name": variable, "value": value}]
    if leak != "environment":
        container["secrets"] = [{"name": variable, "valueFrom": secret_arn}]
    definition_arn = lab.ecs.register_task_definition(
        family=role_name,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        executionRoleArn=role_arn,
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]
    task_arn = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=definition_arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": setup.default_subnets(lab), "assignPublicIp": "ENABLED"}},
    )["tasks"][0]["taskArn"]
    if wait == "waiter":
        lab.ecs.get_waiter("tasks_running").wait(
            cluster=cluster, tasks=[task_arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
        )
    else:
        ex07.wait_started(lab, cluster, task_arn)
    return str(task_arn if returns == "task" else definition_arn)


def test_a_task_in_a_typed_in_cluster_does_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole, in 7b.2 too: the cluster and the role's name are new each run."""
    with pytest.raises(CheckFailed, match="ClusterNotFoundException"):
        ex07b.check_run_with_secret(
            lambda lab, cluster, role, image, arn: run_secret(lab, ex07b.SECRET_CLUSTER, role, image, arn),
            lab,
            secret_name=SECRET_NAME,
            repository=REPOSITORY,
        )
    assert setup.clusters_with_prefix(lab, ex07b.SECRET_CLUSTER) == [] and ex07b._check_roles(lab) == []
    assert not [s for s in lab.client("secretsmanager").list_secrets()["SecretList"] if s["Name"] == SECRET_NAME]


def check_secret(answer: Callable[..., str], lab: ecslab.Lab) -> Any:
    return ex07b.check_run_with_secret(
        answer, lab, cluster=SECRET_CLUSTER, role_name=SECRET_ROLE, secret_name=SECRET_NAME, repository=REPOSITORY
    )


def test_a_right_secret_task_passes(lab: ecslab.Lab, image_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_secret(run_secret, lab)
    assert "same hash as the stored value" in passed.message and nothing_left(lab)
    assert capsys.readouterr().out == ""


def test_the_secret_stub_is_not_done(lab: ecslab.Lab, image_uri: str) -> None:
    def stub(lab: Any, cluster: str, role_name: str, image_uri: str, secret_arn: str) -> str:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_secret(stub, lab)
    assert nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: run_secret(*args, leak="print"), "showed the secret's value"),
        (lambda *args: run_secret(*args, leak="environment"), "in the task definition's environment"),
        (
            lambda *args: run_secret(*args, grant=False),
            r"stopped before it ran: ResourceInitializationError.*allow secretsmanager:GetSecretValue",
        ),
        (
            lambda *args: run_secret(*args, grant=False, wait="waiter"),
            r"WaiterError.*the task stopped before it ran: ResourceInitializationError",
        ),
        (lambda *args: run_secret(*args, read_resource="*"), "may read other secrets too"),
        (lambda *args: run_secret(*args, variable="PASSWORD"), "named 'DB_PASSWORD'"),
        (lambda *args: run_secret(*args, returns="definition"), "return the task's ARN"),
    ],
    ids=[
        "printed",
        "environment",
        "no-permission",
        "no-permission-waiter",
        "every-secret",
        "other-variable",
        "returns-definition",
    ],
)
def test_wrong_secret_tasks_are_explained(
    lab: ecslab.Lab, image_uri: str, capsys: pytest.CaptureFixture[str], answer: Callable[..., str], message: str
) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_secret(answer, lab)
    assert nothing_left(lab)
    assert "the password is" not in capsys.readouterr().out  # a leaking answer's prints are swallowed, never shown
