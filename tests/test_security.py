"""ecslab.security against a private lab: the two task roles, their policies, and decisions about them."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ecslab import security
from ecslab.config import LabConfig
from ecslab.iam_policy import MalformedPolicyDocument, Policy, trusts
from ecslab.lab import manage

ACCOUNT = "123456789012"
BUCKET_ARN = "arn:aws:s3:::security-reports"
READ_REPORTS = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"}],
}


def client(service: str, config: LabConfig) -> Any:
    return boto3.client(
        service, endpoint_url=config.endpoint_url, region_name=config.region, aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture(scope="module")
def iam(running_isolated_lab: LabConfig) -> Any:
    return client("iam", running_isolated_lab)


@pytest.fixture(scope="module")
def ecr(running_isolated_lab: LabConfig) -> Any:
    return client("ecr", running_isolated_lab)


def role_exists(iam: Any, name: str) -> bool:
    return any(role["RoleName"] == name for page in iam.get_paginator("list_roles").paginate() for role in page["Roles"])


# -- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        "app",
        f"arn:aws:iam::{ACCOUNT}:role/app",
        f"arn:aws:iam::{ACCOUNT}:role/service/team/app",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/app/1234",
    ],
)
def test_role_name_from_a_name_or_an_arn(given: str) -> None:
    assert security.role_name(given) == "app"


def test_role_name_refuses_other_arns() -> None:
    with pytest.raises(ValueError, match="is not a role's ARN"):
        security.role_name(f"arn:aws:iam::{ACCOUNT}:user/app")


def test_the_ecs_tasks_trust_policy_trusts_ecs_tasks() -> None:
    assert trusts(security.ECS_TASKS_TRUST_POLICY, "ecs-tasks.amazonaws.com")


# -- the execution role ----------------------------------------------------------------------------


def test_ensure_execution_role_makes_the_role_the_ecs_console_makes(iam: Any) -> None:
    # when the execution role is ensured twice
    arn = security.ensure_execution_role(iam)
    again = security.ensure_execution_role(iam)
    # then there is one role, trusting ECS tasks, with AWS's managed policy attached once
    assert arn == again == f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
    role = iam.get_role(RoleName="ecsTaskExecutionRole")["Role"]
    assert trusts(role["AssumeRolePolicyDocument"])
    attached = iam.list_attached_role_policies(RoleName="ecsTaskExecutionRole")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [security.EXECUTION_ROLE_POLICY_ARN]


def test_the_execution_roles_managed_policy_allows_what_ecs_needs_and_nothing_else(iam: Any) -> None:
    # given the execution role
    security.ensure_execution_role(iam)
    # when its policies are read
    policies = security.role_policies(iam, "ecsTaskExecutionRole")
    # then they are AWS's managed policy, named after it
    assert [p.name for p in policies] == ["AmazonECSTaskExecutionRolePolicy"]
    # and it lets ECS pull and log, not the app read S3
    repository = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web"
    pull = security.simulate(iam, "ecsTaskExecutionRole", "ecr:BatchGetImage", repository)
    assert pull.allowed and 'of policy "AmazonECSTaskExecutionRolePolicy"' in pull.explanation
    assert security.simulate(iam, "ecsTaskExecutionRole", "logs:PutLogEvents", "*").allowed
    read = security.simulate(iam, "ecsTaskExecutionRole", "s3:GetObject", f"{BUCKET_ARN}/a.csv")
    assert read.kind == "implicit deny"


def test_an_existing_execution_role_that_does_not_trust_ecs_is_reported_not_changed(iam: Any) -> None:
    # given a role of that name that trusts Lambda
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="security-test-lambda-exec", AssumeRolePolicyDocument=json.dumps(trust))
    # when it is ensured as an execution role, then the error names the fix
    with pytest.raises(security.IamError, match=r"does not let ecs-tasks.amazonaws.com assume it.*update_assume_role_policy"):
        security.ensure_execution_role(iam, "security-test-lambda-exec")
    # and nothing was attached
    assert iam.list_attached_role_policies(RoleName="security-test-lambda-exec")["AttachedPolicies"] == []


def test_without_aws_managed_policies_the_execution_role_is_not_faked(
    isolated_config: LabConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a lab whose moto was started without AWS managed policies
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    manage.up(isolated_config, say=lambda _message: None)
    bare_iam = client("iam", isolated_config)
    # when the execution role is ensured, then the error says why and what to do
    with pytest.raises(security.IamError) as error:
        security.ensure_execution_role(bare_iam)
    assert "AmazonECSTaskExecutionRolePolicy" in str(error.value)
    assert "MOTO_IAM_LOAD_MANAGED_POLICIES=true" in str(error.value) and "ecslab up" in str(error.value)
    # and nothing was created
    assert not role_exists(bare_iam, "ecsTaskExecutionRole")


# -- task roles ------------------------------------------------------------------------------------


def test_ensure_task_role_creates_then_updates_the_role_and_its_policy(iam: Any) -> None:
    # given a new task role that may read reports
    arn = security.ensure_task_role(iam, "security-test-app", READ_REPORTS)
    assert arn == f"arn:aws:iam::{ACCOUNT}:role/security-test-app"
    assert trusts(iam.get_role(RoleName="security-test-app")["Role"]["AssumeRolePolicyDocument"])
    assert security.simulate(iam, arn, "s3:GetObject", f"{BUCKET_ARN}/2024.csv").allowed
    # when its policy is replaced by one without S3
    logs_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
    assert security.ensure_task_role(iam, "security-test-app", logs_only) == arn
    # then the same request is denied, and the explanation names the policy it searched
    decision = security.simulate(iam, "security-test-app", "s3:GetObject", f"{BUCKET_ARN}/2024.csv")
    assert decision.kind == "implicit deny" and '"app-permissions"' in decision.explanation
    assert iam.list_role_policies(RoleName="security-test-app")["PolicyNames"] == ["app-permissions"]


def test_ensure_task_role_gives_an_existing_role_the_ecs_trust(iam: Any) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="security-test-was-ec2", AssumeRolePolicyDocument=json.dumps(trust))
    security.ensure_task_role(iam, "security-test-was-ec2", READ_REPORTS)
    assert trusts(iam.get_role(RoleName="security-test-was-ec2")["Role"]["AssumeRolePolicyDocument"])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]},
            "Policy statement must contain actions.",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]},
            "should not specify a principal",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
            "Syntax errors in policy.",
        ),
    ],
)
def test_a_malformed_task_policy_leaves_nothing_half_made(iam: Any, document: dict[str, Any], message: str) -> None:
    # when a task role is ensured with a malformed policy
    with pytest.raises(MalformedPolicyDocument, match=message):
        security.ensure_task_role(iam, "security-test-never", document)
    # then the role was not created
    assert not role_exists(iam, "security-test-never")


def test_a_policy_iam_refuses_after_the_role_was_made_takes_the_role_back(iam: Any) -> None:
    # given a document parse_policy lets through but IAM refuses (an IAM resource that is no IAM path)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{ACCOUNT}:bucket"}],
    }
    # when a new task role is ensured with it, then IAM's error comes through
    with pytest.raises(MalformedPolicyDocument, match="IAM resource path must either be"):
        security.ensure_task_role(iam, "security-test-rolled-back", document)
    # and the role made for it is gone
    assert not role_exists(iam, "security-test-rolled-back")


def test_a_role_that_does_not_exist_is_reported_in_iams_words(iam: Any) -> None:
    for call in (
        lambda: security.role_policies(iam, "security-test-ghost"),
        lambda: security.simulate(iam, "security-test-ghost", "s3:GetObject", "*"),
    ):
        with pytest.raises(security.IamError) as error:
            call()
        assert str(error.value).startswith("NoSuchEntity: The role with name security-test-ghost cannot be found.")
        assert "list_roles" in str(error.value)


def test_role_policies_lists_inline_then_attached_policies_by_name(iam: Any) -> None:
    # given a role with an inline policy and a customer managed policy
    security.ensure_task_role(iam, "security-test-both", READ_REPORTS, policy_name="read-reports")
    deny_deletes = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}],
    }
    managed = iam.create_policy(PolicyName="security-test-no-deletes", PolicyDocument=json.dumps(deny_deletes))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="security-test-both", PolicyArn=managed)
    # when its policies are read
    policies = security.role_policies(iam, f"arn:aws:iam::{ACCOUNT}:role/security-test-both")
    # then both are there, named, and a delete is denied by the managed one
    assert [p.name for p in policies] == ["read-reports", "security-test-no-deletes"]
    assert all(isinstance(p, Policy) and p.kind == "identity" for p in policies)
    decision = security.simulate(iam, "security-test-both", "s3:DeleteObject", f"{BUCKET_ARN}/a.csv")
    assert decision.kind == "explicit deny"
    assert 'statement "NoDeletes" of policy "security-test-no-deletes"' in decision.explanation


# -- repository policies ------------------------------------------------------------------------------


def test_repository_policy_is_none_until_one_is_set_then_counts_in_decisions(iam: Any, ecr: Any) -> None:
    # given a repository without a policy
    repository_arn = ecr.create_repository(repositoryName="security-test-web")["repository"]["repositoryArn"]
    assert security.repository_policy(ecr, "security-test-web") is None
    # when its policy lets one role pull
    role_arn = security.ensure_task_role(iam, "security-test-puller", READ_REPORTS)
    pull_for_role = {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Sid": "PullForApp",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
    ecr.set_repository_policy(repositoryName="security-test-web", policyText=json.dumps(pull_for_role))
    policy = security.repository_policy(ecr, "security-test-web")
    # then it is read as a resource-based policy, and it allows that role to pull
    assert policy is not None and policy.kind == "resource" and policy.name == "repository policy of security-test-web"
    decision = security.simulate(iam, "security-test-puller", "ecr:BatchGetImage", repository_arn, resource_policy=policy)
    assert decision.allowed and 'statement "PullForApp" of resource-based policy' in decision.explanation
    assert not security.simulate(iam, "security-test-puller", "ecr:PutImage", repository_arn, resource_policy=policy).allowed
    # and a policy given as text counts too
    assert security.simulate(
        iam, "security-test-puller", "ecr:BatchGetImage", repository_arn, resource_policy=json.dumps(pull_for_role)
    ).allowed


def test_repository_policy_of_a_missing_repository_raises_ecrs_error(ecr: Any) -> None:
    with pytest.raises(Exception, match="RepositoryNotFoundException"):
        security.repository_policy(ecr, "security-test-nowhere")


# -- tables and the explorer ---------------------------------------------------------------------------


def test_decision_table_shows_each_request_and_what_decided(iam: Any) -> None:
    # given a task role that may read reports
    security.ensure_task_role(iam, "security-test-table", READ_REPORTS)
    # when three requests are tabled
    table = security.decision_table(
        iam,
        "security-test-table",
        [("s3:GetObject", f"{BUCKET_ARN}/a.csv"), ("s3:PutObject", f"{BUCKET_ARN}/a.csv"), ("s3:ListBucket", BUCKET_ARN)],
    )
    # then each row says allowed or denied and which statement decided
    text = str(table)
    assert text.splitlines()[0] == "role security-test-table"
    assert text.splitlines()[1].split() == ["action", "resource", "decision", "decided", "by"]
    assert "allowed" in text.splitlines()[3] and 'statement "ReadReports" of policy "app-permissions"' in text.splitlines()[3]
    assert "DENIED (implicit deny)  no statement allows it" in text.splitlines()[4]
    assert repr(table) == text
    assert "| `s3:PutObject` |" in table._repr_markdown_()
    assert table.allowed == {
        ("s3:GetObject", f"{BUCKET_ARN}/a.csv"): True,
        ("s3:PutObject", f"{BUCKET_ARN}/a.csv"): False,
        ("s3:ListBucket", BUCKET_ARN): False,
    }


def test_policy_explorer_answers_as_the_form_changes(iam: Any, ecr: Any) -> None:
    # given the explorer over two roles
    security.ensure_execution_role(iam)
    security.ensure_task_role(iam, "security-test-explorer", READ_REPORTS)
    box = security.policy_explorer(iam, roles=["ecsTaskExecutionRole", "security-test-explorer"], ecr=ecr)
    role_box, action_box, resource_box, answer = box.children
    # then it starts on the first role, which may get an ECR token
    assert "Allowed" in answer.value and "AmazonECSTaskExecutionRolePolicy" in answer.value
    # when the learner switches to the task role and asks for S3
    role_box.value = "security-test-explorer"
    assert "Denied" in answer.value and "implicit deny" in answer.value
    action_box.value = "s3:GetObject"
    resource_box.value = f"{BUCKET_ARN}/a.csv"
    # then the task role's statement decides
    assert "Allowed" in answer.value and "ReadReports" in answer.value
    # and a half-typed form asks for the rest instead of deciding
    action_box.value = ""
    assert "Type an action" in answer.value
    # and a repository that does not exist is reported in ECR's words
    action_box.value = "ecr:BatchGetImage"
    resource_box.value = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/security-test-nowhere"
    assert "RepositoryNotFoundException" in answer.value


def test_policy_explorer_lists_the_accounts_roles_by_default(iam: Any) -> None:
    security.ensure_execution_role(iam)
    box = security.policy_explorer(iam)
    assert "ecsTaskExecutionRole" in box.children[0].options
