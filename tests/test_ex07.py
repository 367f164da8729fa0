"""The checkers of exercise 07 pass right answers and fail wrong ones with useful messages.

Given a repository, roles, buckets and clusters of the tests' own (``t07-...``, never
the exercise's), when a checker runs a learner's function, then it passes or names what to
change, and leaves nothing behind either way. 7.1's checker is pure (no lab); 7.2 and 7.3 run
the AWS app as tasks, so they need the lab's task-role and execution-role fillers. 7.3 refuses ecslab's
own ensure_execution_role (by name, reached indirectly, and by the description of a role it made).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import security
from ecslab.checks import CheckFailed, NotDone, ex07

REPOSITORY = "t07-app"
ROLE = "t07-task-role"
EXECUTION_ROLE = "t07-execution"
BUCKET = "t07-reports"
ROLE_CLUSTER = "t07-role"
EXEC_CLUSTER = "t07-exec"
EXEC_ROLE = "t07-exec-role"
TRUST = security.ECS_TASKS_TRUST_POLICY


@pytest.fixture(scope="module")
def image_uri(lab: ecslab.Lab) -> Iterator[str]:
    uri = ex07.prepare_image(lab, REPOSITORY, show_progress=False)
    yield uri
    ex07.clean_up(lab, REPOSITORY)


def nothing_left(lab: ecslab.Lab) -> bool:
    clusters = [
        c for c in lab.ecs.describe_clusters(clusters=[ROLE_CLUSTER, EXEC_CLUSTER])["clusters"] if c["status"] == "ACTIVE"
    ]
    roles = [r for r in lab.iam.list_roles()["Roles"] if r["RoleName"] in (ROLE, EXECUTION_ROLE, EXEC_ROLE)]
    buckets = [b for b in lab.client("s3").list_buckets()["Buckets"] if b["Name"] == BUCKET]
    return not clusters and not roles and not buckets


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


def make_execution_role(
    lab: Any,
    role_name: str,
    trust: dict[str, Any] | None = None,
    attach: str | None = security.EXECUTION_ROLE_POLICY_ARN,
    inline: bool = False,
    returns: str = "arn",
) -> str:
    """A configurable answer to 7.3 (right with the defaults)."""
    role = lab.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust or TRUST))["Role"]
    if attach:
        lab.iam.attach_role_policy(RoleName=role_name, PolicyArn=attach)
    if inline:
        managed = lab.iam.get_policy(PolicyArn=security.EXECUTION_ROLE_POLICY_ARN)["Policy"]
        document = lab.iam.get_policy_version(PolicyArn=managed["Arn"], VersionId=managed["DefaultVersionId"])["PolicyVersion"][
            "Document"
        ]
        lab.iam.put_role_policy(RoleName=role_name, PolicyName="copied", PolicyDocument=json.dumps(document))
    return str(role["Arn"]) if returns == "arn" else role_name


def check_execution(answer: Callable[..., str], lab: ecslab.Lab) -> Any:
    return ex07.check_execution_role(answer, lab, role_name=EXEC_ROLE, cluster=EXEC_CLUSTER, repository=REPOSITORY)


def test_a_right_execution_role_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check_execution(make_execution_role, lab)
    assert "pulled the exercise's image from ECR" in passed.message and nothing_left(lab)


def test_the_execution_role_stub_is_not_done(lab: ecslab.Lab, image_uri: str) -> None:
    def stub(lab: Any, role_name: str) -> str:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_execution(stub, lab)
    assert nothing_left(lab)


def test_the_helper_is_refused_by_name(lab: ecslab.Lab, image_uri: str) -> None:
    """The exercise is to write what ensure_execution_role does: naming it fails before anything runs."""

    def helper(lab: Any, role_name: str) -> str:
        return security.ensure_execution_role(lab.iam, role_name)

    with pytest.raises(CheckFailed, match="not with ecslab's ensure_execution_role"):
        check_execution(helper, lab)
    assert nothing_left(lab)


def test_the_helper_is_refused_when_reached_indirectly(lab: ecslab.Lab, image_uri: str) -> None:
    def indirect(lab: Any, role_name: str) -> str:
        return str(getattr(security, "ensure_" + "execution_role")(lab.iam, role_name))

    with pytest.raises(CheckFailed, match="not with ecslab's ensure_execution_role"):
        check_execution(indirect, lab)
    assert nothing_left(lab)


def test_a_role_the_helper_made_is_told_apart(lab: ecslab.Lab, image_uri: str) -> None:
    """In ecslab grade the function runs in another process, where the check cannot refuse the helper: the role's
    description still says who made it."""

    def disguised(lab: Any, role_name: str) -> str:
        return str(
            lab.iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description=security.EXECUTION_ROLE_DESCRIPTION,
            )["Role"]["Arn"]
        )

    with pytest.raises(CheckFailed, match="made by ecslab's ensure_execution_role"):
        check_execution(disguised, lab)
    assert nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, name: make_execution_role(lab, name, trust=trust_for("ec2.amazonaws.com")), "is for EC2 instances"),
        (lambda lab, name: make_execution_role(lab, name, trust=trust_for("ecs.amazonaws.com")), "service-linked role"),
        (
            lambda lab, name: make_execution_role(lab, name, trust=trust_for("ecs-tasks.amazonaws.com", "ec2.amazonaws.com")),
            "also lets ec2.amazonaws.com",
        ),
        (lambda lab, name: make_execution_role(lab, name, attach=None), r"is not attached to the role \(attached: none\)"),
        (lambda lab, name: make_execution_role(lab, name, attach=None, inline=True), "inline policy \\(copied\\) instead"),
        (
            lambda lab, name: make_execution_role(lab, name, attach="arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy"),
            "NoSuchEntity",
        ),
        (lambda lab, name: make_execution_role(lab, name, returns="name"), "takes the ARN, not the name"),
        (lambda lab, name: make_execution_role(lab, ex07.EXECUTION_ROLE), "there is no role named"),
    ],
    ids=["ec2", "ecs-service", "also-ec2", "nothing-attached", "inline-copy", "wrong-path", "returns-name", "typed-in-name"],
)
def test_wrong_execution_roles_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., str], message: str) -> None:
    try:
        with pytest.raises(CheckFailed, match=message):
            check_execution(answer, lab)
    finally:
        ex07.delete_role(lab, ex07.EXECUTION_ROLE)
    assert nothing_left(lab)
