"""The checkers of exercise 07 pass right answers and fail wrong ones with useful messages.

Given a repository, roles, buckets, secrets and clusters of the tests' own (``t07-...``, never
the exercise's), when a checker runs a learner's function, then it passes or names what to
change, and leaves nothing behind either way. 7.1's checker is pure (no lab); 7.2 and 7.3 run
the AWS app as tasks, so they need the lab's task-role and execution-role fillers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import security
from ecslab.checks import CheckFailed, NotDone, ex07, setup

REPOSITORY = "t07-app"
ROLE = "t07-task-role"
EXECUTION_ROLE = "t07-execution"
BUCKET = "t07-reports"
ROLE_CLUSTER = "t07-role"
SECRET_CLUSTER = "t07-secret"
SECRET_ROLE = "t07-secret-execution"
SECRET_NAME = "t07/db-password"
TRUST = security.ECS_TASKS_TRUST_POLICY


@pytest.fixture(scope="module")
def image_uri(lab: ecslab.Lab) -> Iterator[str]:
    uri = ex07.prepare_image(lab, REPOSITORY, show_progress=False)
    yield uri
    ex07.clean_up(lab, REPOSITORY)


def nothing_left(lab: ecslab.Lab) -> bool:
    clusters = [
        c for c in lab.ecs.describe_clusters(clusters=[ROLE_CLUSTER, SECRET_CLUSTER])["clusters"] if c["status"] == "ACTIVE"
    ]
    roles = [r for r in lab.iam.list_roles()["Roles"] if r["RoleName"] in (ROLE, EXECUTION_ROLE, SECRET_ROLE)]
    buckets = [b for b in lab.client("s3").list_buckets()["Buckets"] if b["Name"] == BUCKET]
    secrets = [s for s in lab.client("secretsmanager").list_secrets()["SecretList"] if s["Name"] == SECRET_NAME]
    return not clusters and not roles and not buckets and not secrets


# -- 7.1 (pure) ------------------------------------------------------------------------------


def read_policy(
    bucket: str, statements: list[dict[str, Any]] | None = None, version: str | None = "2012-10-17"
) -> dict[str, Any]:
    """A configurable answer to 7.1 (right with the defaults)."""
    document: dict[str, Any] = {
        "Statement": statements
        if statements is not None
        else [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ]
    }
    if version:
        document["Version"] = version
    return document


def test_a_right_policy_passes() -> None:
    assert "24 requests" in ex07.check_read_bucket_policy(read_policy).message


def test_the_policy_may_be_json_text() -> None:
    ex07.check_read_bucket_policy(lambda bucket: json.dumps(read_policy(bucket)))


def test_the_stub_is_not_done() -> None:
    def stub(bucket: str) -> dict[str, Any]:
        raise NotImplementedError()

    with pytest.raises(NotDone, match="is not done yet"):
        ex07.check_read_bucket_policy(stub)


def only(*statements: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """An answer whose statements are written with BUCKET in place of the bucket's name."""
    return lambda bucket: read_policy(bucket, json.loads(json.dumps(list(statements)).replace("BUCKET", bucket)))


GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}
LIST = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET"}


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            only({"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"]}),
            r"allows s3:\*: every action",
        ),
        (only({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}), "another bucket"),
        (
            only(GET, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET/*"}),
            "acts on the bucket itself",
        ),
        (only({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET"}, LIST), "acts on objects"),
        (only(GET), "Add s3:ListBucket"),
        (
            only(GET, LIST, {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::BUCKET/*"}),
            "must not write objects",
        ),
        (
            only({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET*/*"}, LIST),
            "-backup is another bucket",
        ),
        (lambda bucket: read_policy("ex07-check-reports"), "Use the bucket argument"),
        (lambda bucket: read_policy(bucket, version=None), "version 2012-10-17"),
        (lambda bucket: json.dumps(read_policy(bucket))[:-2], "Syntax errors in policy"),
        (only({"Effect": "Allow", "Action": "s3:GetObject"}, LIST), "must contain resources"),
        (lambda bucket: [read_policy(bucket)], "as a dict"),
    ],
    ids=[
        "s3-star",
        "resource-star",
        "list-on-objects",
        "get-on-bucket",
        "no-list",
        "put",
        "prefix-wildcard",
        "typed-bucket",
        "no-version",
        "broken-json",
        "no-resource",
        "a-list",
    ],
)
def test_wrong_policies_are_explained(answer: Callable[[str], Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        ex07.check_read_bucket_policy(answer)


# -- 7.2 -------------------------------------------------------------------------------------


def make_role(
    lab: Any,
    role_name: str,
    policy_document: dict[str, Any],
    trust: dict[str, Any] | None = None,
    policy: bool = True,
    managed: str | None = None,
    returns: str = "arn",
) -> str:
    """A configurable answer to 7.2 (right with the defaults)."""
    role = lab.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust or TRUST))["Role"]
    if policy:
        lab.iam.put_role_policy(RoleName=role_name, PolicyName="app-permissions", PolicyDocument=json.dumps(policy_document))
    if managed:
        lab.iam.attach_role_policy(RoleName=role_name, PolicyArn=managed)
    return str(role["Arn"]) if returns == "arn" else role_name


def trust_for(*services: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}],
    }


def check_role(answer: Callable[..., str], lab: ecslab.Lab) -> Any:
    return ex07.check_task_role(
        answer, lab, role_name=ROLE, bucket=BUCKET, cluster=ROLE_CLUSTER, repository=REPOSITORY, execution_role=EXECUTION_ROLE
    )


def test_without_the_setup_cell_the_check_says_to_run_it(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="Run the setup cell"):
        ex07.check_task_role(make_role, lab, role_name=ROLE, repository="t07-never-pushed")


def test_a_right_task_role_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check_role(make_role, lab)
    assert "refused a write (AccessDenied)" in passed.message and nothing_left(lab)


def test_the_role_stub_is_not_done(lab: ecslab.Lab, image_uri: str) -> None:
    def stub(lab: Any, role_name: str, policy_document: dict[str, Any]) -> str:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_role(stub, lab)
    assert nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, name, doc: make_role(lab, name, doc, trust=trust_for("ec2.amazonaws.com")), "is for EC2 instances"),
        (lambda lab, name, doc: make_role(lab, name, doc, trust=trust_for("ecs.amazonaws.com")), "service-linked role"),
        (
            lambda lab, name, doc: make_role(lab, name, doc, trust=trust_for("ecs-tasks.amazonaws.com", "ec2.amazonaws.com")),
            "also lets ec2.amazonaws.com",
        ),
        (lambda lab, name, doc: make_role(lab, name, doc, policy=False), "has no permissions policy"),
        (
            lambda lab, name, doc: make_role(lab, name, doc, managed="arn:aws:iam::aws:policy/AmazonS3FullAccess"),
            "may also call s3:PutObject",
        ),
        (lambda lab, name, doc: make_role(lab, name, doc, returns="name"), "the name alone"),
        (lambda lab, name, doc: make_role(lab, name + "-2", doc), "there is no role named"),
    ],
    ids=["ec2", "ecs-service", "also-ec2", "no-policy", "s3-full-access", "returns-name", "other-name"],
)
def test_wrong_task_roles_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., str], message: str) -> None:
    try:
        with pytest.raises(CheckFailed, match=message):
            check_role(answer, lab)
    finally:
        ex07.delete_role(lab, ROLE + "-2")
    assert nothing_left(lab)


@pytest.mark.parametrize("typed_in", ["role name", "policy"])
def test_a_typed_in_role_or_policy_does_not_pass(lab: ecslab.Lab, image_uri: str, typed_in: str) -> None:
    """Issue 13's fixed-name hole: the role's name and the bucket its policy names are new each run."""

    def answer(lab: Any, role_name: str, policy_document: dict[str, Any]) -> str:
        if typed_in == "role name":
            return make_role(lab, ex07.TASK_ROLE, policy_document)
        return make_role(lab, role_name, ex07.role_read_policy(ex07.ROLE_BUCKET))

    message = "there is no role named 'ex07-check-task-role-" if typed_in == "role name" else "the role may not call s3:GetObject"
    try:
        with pytest.raises(CheckFailed, match=message):
            ex07.check_task_role(answer, lab, repository=REPOSITORY)
    finally:
        ex07.delete_role(lab, ex07.TASK_ROLE)
    assert ex07._check_roles(lab) == [] and ex07._check_buckets(lab) == []


# -- 7.3 -------------------------------------------------------------------------------------


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
    """A configurable answer to 7.3 (right with the defaults); ``leak`` is "print" or "environment"."""
    role_arn = lab.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lab.iam.attach_role_policy(RoleName=role_name, PolicyArn=security.EXECUTION_ROLE_POLICY_ARN)
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
        networkConfiguration={"awsvpcConfiguration": {"subnets": ex07.default_subnets(lab), "assignPublicIp": "ENABLED"}},
    )["tasks"][0]["taskArn"]
    if wait == "waiter":
        lab.ecs.get_waiter("tasks_running").wait(
            cluster=cluster, tasks=[task_arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
        )
    else:
        ex07.wait_started(lab, cluster, task_arn)
    return str(task_arn if returns == "task" else definition_arn)


def test_a_task_in_a_typed_in_cluster_does_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole, in 7.3 too: the cluster and the role's name are new each run."""
    with pytest.raises(CheckFailed, match="ClusterNotFoundException"):
        ex07.check_run_with_secret(
            lambda lab, cluster, role, image, arn: run_secret(lab, ex07.SECRET_CLUSTER, role, image, arn),
            lab,
            secret_name=SECRET_NAME,
            repository=REPOSITORY,
        )
    assert setup.clusters_with_prefix(lab, ex07.SECRET_CLUSTER) == [] and ex07._check_roles(lab) == []
    assert not [s for s in lab.client("secretsmanager").list_secrets()["SecretList"] if s["Name"] == SECRET_NAME]


def check_secret(answer: Callable[..., str], lab: ecslab.Lab) -> Any:
    return ex07.check_run_with_secret(
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
