"""The task execution role and container secrets: ECS's rules at registration, ECS's checks before a task starts.

Registration rules are plain functions (:mod:`ecslab.ecs_validation`); the rest runs
tasks in one private lab with the sample app pushed to its registry once. Secret
values are random per run and only ever compared, never printed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab.config import ACCOUNT_ID, LabConfig
from ecslab.ecs_validation import problems
from ecslab.lab import manage
from ecslab.lab.execution_role import ExecutionRoles, parse_value_from
from tests.conftest import LabClients, push_app_image

LAB_REGISTRY = "localhost:5050"
TRUST_ECS_TASKS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
PULL = [
    {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    {
        "Effect": "Allow",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        "Resource": "*",
    },
]


def fargate(image: str, **container: Any) -> dict[str, Any]:
    definition = ecs_tools.task_definition("checked", image)
    definition["containerDefinitions"][0].update(container)
    return definition


# -- registration rules (no lab) -----------------------------------------------------------------


def test_fargate_with_an_ecr_image_needs_an_execution_role() -> None:
    for image in (f"{LAB_REGISTRY}/app:v1", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1"):
        assert "Fargate requires task definition to have execution role ARN to support ECR images." in problems(
            fargate(image), LAB_REGISTRY
        )
    assert problems(fargate("public.ecr.aws/nginx/nginx:latest"), LAB_REGISTRY) == []
    assert problems(fargate("python:3.12-slim"), LAB_REGISTRY) == []
    with_role = fargate(f"{LAB_REGISTRY}/app:v1") | {"executionRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/ecsTaskExecutionRole"}
    assert problems(with_role, LAB_REGISTRY) == []


def test_ec2_pulls_from_ecr_with_the_instance_role() -> None:
    assert problems(ecs_tools.task_definition("ec2", f"{LAB_REGISTRY}/app:v1", launch_type="EC2"), LAB_REGISTRY) == []


def test_fargate_with_awslogs_needs_an_execution_role() -> None:
    logged = fargate("python:3.12-slim", logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/x"}})
    assert problems(logged, LAB_REGISTRY) == [
        "Fargate requires task definition to have execution role ARN to support log driver awslogs."
    ]


def test_secrets_need_an_execution_role_on_any_launch_type() -> None:
    secret = [{"name": "DB_PASSWORD", "valueFrom": "/app/db-password"}]
    for launch_type in ("FARGATE", "EC2"):
        definition = ecs_tools.task_definition("s", "python:3.12-slim", launch_type=launch_type)
        definition["containerDefinitions"][0]["secrets"] = secret
        assert problems(definition, LAB_REGISTRY) == [
            "When you are specifying container secrets, you must also specify a value for 'executionRoleArn'."
        ]


def test_secret_names_are_unique_and_not_environment_variables() -> None:
    role = {"executionRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/r"}
    twice = fargate("python:3.12-slim", secrets=[{"name": "A", "valueFrom": "/a"}, {"name": "A", "valueFrom": "/b"}]) | role
    assert problems(twice, LAB_REGISTRY) == ["Duplicate secret names found: A. Each secret name must be unique."]
    shared = (
        fargate("python:3.12-slim", secrets=[{"name": "A", "valueFrom": "/a"}], environment=[{"name": "A", "value": "x"}]) | role
    )
    assert problems(shared, LAB_REGISTRY) == [
        "The secret name must be unique and not shared with any new or existing environment variables set on the container, such as 'A'."
    ]
    empty = fargate("python:3.12-slim", secrets=[{"name": "A", "valueFrom": ""}]) | role
    assert problems(empty, LAB_REGISTRY) == ["Container.secrets.valueFrom should not be null or empty (secret 'A')."]


def test_value_from_forms() -> None:
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    assert parse_value_from(secret, "us-east-1").arn == secret
    keyed = parse_value_from(secret + ":password::", "us-east-1")
    assert (keyed.service, keyed.identifier, keyed.json_key, keyed.version_stage) == ("secretsmanager", secret, "password", "")
    assert parse_value_from("/app/key", "us-east-1").arn == "arn:aws:ssm:us-east-1:123456789012:parameter/app/key"
    assert parse_value_from("plain", "us-east-1").arn == "arn:aws:ssm:us-east-1:123456789012:parameter/plain"
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/key"
    assert (parse_value_from(arn, "us-east-1").service, parse_value_from(arn, "us-east-1").identifier) == ("ssm", arn)


def test_the_filler_forgets_a_task_s_secrets_when_it_stops() -> None:
    class Task:
        task_arn = "arn:aws:ecs:us-east-1:123456789012:task/c/abc"

    filler = ExecutionRoles(notes=None)
    filler._secrets[Task.task_arn] = {"web": {"TOKEN": "value"}}
    assert filler.container_environment(Task(), {"name": "web"}) == {"TOKEN": "value"}
    assert filler.container_environment(Task(), {"name": "other"}) == {}
    filler.task_stopped(Task())
    assert filler.container_environment(Task(), {"name": "web"}) == {} and filler.secrets_held() == 0


# -- in a lab ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image(lab: LabClients) -> str:
    return push_app_image(lab, "execution-role-test")


@pytest.fixture
def cluster(lab: LabClients, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.replace("_", "-")[5:40].strip("-")
    lab.ecs.create_cluster(clusterName=name)
    yield name
    for arn in lab.ecs.list_tasks(cluster=name)["taskArns"]:
        lab.ecs.stop_task(cluster=name, task=arn)
    deadline = time.monotonic() + 15
    while lab.ecs.list_tasks(cluster=name)["taskArns"] and time.monotonic() < deadline:
        time.sleep(0.2)


def role(lab: LabClients, name: str, statements: list[dict[str, Any]], trust: dict[str, Any] = TRUST_ECS_TASKS) -> str:
    """A role with one inline policy (made again from scratch when it exists)."""
    try:
        for policy in lab.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            lab.iam.delete_role_policy(RoleName=name, PolicyName=policy)
        lab.iam.delete_role(RoleName=name)
    except ClientError:
        pass
    arn = lab.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        lab.iam.put_role_policy(
            RoleName=name, PolicyName="permissions", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements})
        )
    return str(arn)


def run(lab: LabClients, cluster: str, definition: dict[str, Any]) -> dict[str, Any]:
    """Register, run on Fargate and wait until the task is RUNNING or STOPPED."""
    arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    task_arn = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": lab.default_subnets(1)}},
    )["tasks"][0]["taskArn"]
    deadline = time.monotonic() + 60
    while True:
        task: dict[str, Any] = lab.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if task["lastStatus"] in ("RUNNING", "STOPPED") or time.monotonic() > deadline:
            return task


def environment_of(lab: LabClients, task: dict[str, Any], names: list[str]) -> dict[str, str | None]:
    """The variables as the running container sees them (docker exec), for comparison only."""
    container = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={task['taskArn']}"})[0]
    script = f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))"
    result = container.exec_run(["python3", "-c", script])
    assert result.exit_code == 0
    return dict(json.loads(result.output))


def agent_journal(lab: LabClients) -> str:
    return json.dumps(manage.control(lab.config, "GET", "/ecs/agent-log"))


def test_registration_refuses_fargate_from_ecr_without_an_execution_role(lab: LabClients, image: str) -> None:
    with pytest.raises(ClientError) as raised:
        lab.ecs.register_task_definition(**ecs_tools.task_definition("norole", image))
    assert raised.value.response["Error"]["Code"] == "ClientException"
    assert (
        raised.value.response["Error"]["Message"]
        == "Fargate requires task definition to have execution role ARN to support ECR images."
    )


def test_the_standard_execution_role_runs_the_task(lab: LabClients, cluster: str, image: str) -> None:
    task = run(lab, cluster, ecs_tools.task_definition("standard", image, execution_role_arn=lab.execution_role_arn))
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")


def test_a_role_without_ecr_permission_stops_the_task(lab: LabClients, cluster: str, image: str) -> None:
    arn = role(lab, "logs-only", [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}])
    task = run(lab, cluster, ecs_tools.task_definition("noecr", image, execution_role_arn=arn))
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "TaskFailedToStart"
    task_id = task["taskArn"].split("/")[-1]
    assert task["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve "
        f"ecr registry auth: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/"
        f"logs-only/{task_id} is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy "
        "allows the ecr:GetAuthorizationToken action"
    )


def test_a_token_without_the_repository_gives_a_403_on_the_manifest(lab: LabClients, cluster: str, image: str) -> None:
    arn = role(lab, "token-only", [PULL[0]])
    task = run(lab, cluster, ecs_tools.task_definition("norepo", image, execution_role_arn=arn))
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == (
        f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: "
        f"pulling from host {lab.config.registry_address} failed with status code [manifests v1]: 403 Forbidden"
    )


def test_a_role_ecs_tasks_cannot_assume_stops_the_task(lab: LabClients, cluster: str, image: str) -> None:
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    arn = role(lab, "for-ec2", PULL, trust=ec2_trust)
    task = run(lab, cluster, ecs_tools.task_definition("wrongtrust", image, execution_role_arn=arn))
    assert task["stoppedReason"] == (
        f"ECS was unable to assume the role '{arn}' that was provided for this task. Please verify that the role being passed has the "
        "proper trust relationship and permissions and that your IAM user has permissions to pass this role."
    )
    missing = f"arn:aws:iam::{ACCOUNT_ID}:role/no-such-role"
    assert run(lab, cluster, ecs_tools.task_definition("norole", image, execution_role_arn=missing))["stoppedReason"].startswith(
        f"ECS was unable to assume the role '{missing}'"
    )


def test_secrets_from_secrets_manager_and_ssm_reach_the_container_and_not_the_journal(
    lab: LabClients, cluster: str, image: str
) -> None:
    # given: a JSON secret, a plain secret and a SecureString parameter the role may read
    password, token, api_key = (secrets.token_hex(12) for _ in range(3))
    database = lab.secretsmanager.create_secret(
        Name=f"{cluster}/db", SecretString=json.dumps({"username": "app", "password": password})
    )["ARN"]
    plain = lab.secretsmanager.create_secret(Name=f"{cluster}/token", SecretString=token)["ARN"]
    lab.ssm.put_parameter(Name=f"/{cluster}/api-key", Value=api_key, Type="SecureString")
    arn = role(
        lab,
        "reads-secrets",
        PULL
        + [
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:{cluster}/*",
            },
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter/{cluster}/*",
            },
        ],
    )
    definition = ecs_tools.task_definition("withsecrets", image, execution_role_arn=arn)
    definition["containerDefinitions"][0]["secrets"] = [
        {"name": "DB_PASSWORD", "valueFrom": f"{database}:password::"},
        {"name": "TOKEN", "valueFrom": plain},
        {"name": "API_KEY", "valueFrom": f"/{cluster}/api-key"},
    ]
    # when
    task = run(lab, cluster, definition)
    # then
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    seen = environment_of(lab, task, ["DB_PASSWORD", "TOKEN", "API_KEY"])
    assert seen == {"DB_PASSWORD": password, "TOKEN": token, "API_KEY": api_key}, (
        "the container's secrets differ from the stored ones"
    )
    journal = agent_journal(lab)
    assert "DB_PASSWORD" in journal
    assert all(value not in journal for value in (password, token, api_key)), "a secret value reached the agent journal"
    described = json.dumps(lab.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]]), default=str)
    assert all(value not in described for value in (password, token, api_key))


def test_a_missing_secret_stops_the_task(lab: LabClients, cluster: str, image: str) -> None:
    arn = role(
        lab,
        "reads-anything",
        PULL + [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"], "Resource": "*"}],
    )
    missing = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:{cluster}/gone-AbCdEf"
    definition = ecs_tools.task_definition("gone", image, execution_role_arn=arn)
    definition["containerDefinitions"][0]["secrets"] = [{"name": "GONE", "valueFrom": missing}]
    task = run(lab, cluster, definition)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve "
        f"secret from asm: service call has been retried 1 time(s): failed to fetch secret {missing} from secrets manager: "
        "ResourceNotFoundException: Secrets Manager can't find the specified secret."
    )
    definition["containerDefinitions"][0]["secrets"] = [{"name": "GONE", "valueFrom": f"/{cluster}/gone"}]
    assert run(lab, cluster, definition)["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve "
        f"secrets from ssm: service call has been retried 1 time(s): invalid ssm parameters: /{cluster}/gone"
    )


def test_a_missing_json_key_stops_the_task(lab: LabClients, cluster: str, image: str) -> None:
    arn = role(lab, "reads-anything", PULL + [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}])
    secret = lab.secretsmanager.create_secret(Name=f"{cluster}/db", SecretString=json.dumps({"username": "app"}))["ARN"]
    definition = ecs_tools.task_definition("nokey", image, execution_role_arn=arn)
    definition["containerDefinitions"][0]["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"}]
    assert run(lab, cluster, definition)["stoppedReason"].endswith(
        "unable to retrieve secret from asm: service call has been retried 1 time(s): retrieved secret from Secrets Manager did not contain json key password"
    )


def test_a_role_that_may_not_read_the_secret_stops_the_task(lab: LabClients, cluster: str, image: str) -> None:
    secret = lab.secretsmanager.create_secret(Name=f"{cluster}/db", SecretString="s3cr3t-" + secrets.token_hex(4))["ARN"]
    definition = ecs_tools.task_definition(
        "denied", image, execution_role_arn=lab.execution_role_arn
    )  # AmazonECSTaskExecutionRolePolicy: no secrets
    definition["containerDefinitions"][0]["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": secret}]
    task = run(lab, cluster, definition)
    task_id = task["taskArn"].split("/")[-1]
    assert task["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve "
        f"secret from asm: service call has been retried 1 time(s): failed to fetch secret {secret} from secrets manager: AccessDeniedException: "
        f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/ecsTaskExecutionRole/{task_id} is not authorized to perform: secretsmanager:GetSecretValue "
        f"on resource: {secret} because no identity-based policy allows the secretsmanager:GetSecretValue action"
    )
    parameter_definition = ecs_tools.task_definition("denied", image, execution_role_arn=lab.execution_role_arn)
    lab.ssm.put_parameter(Name=f"/{cluster}/key", Value="v", Type="SecureString")
    parameter_definition["containerDefinitions"][0]["secrets"] = [{"name": "KEY", "valueFrom": f"/{cluster}/key"}]
    assert (
        "unable to retrieve secrets from ssm: service call has been retried 1 time(s): AccessDeniedException: User: "
        in run(lab, cluster, parameter_definition)["stoppedReason"]
    )


def test_awslogs_needs_create_log_stream(lab: LabClients, cluster: str, image: str) -> None:
    lab.logs.create_log_group(logGroupName=f"/ecs/{cluster}")
    arn = role(lab, "no-logs", PULL)
    definition = ecs_tools.task_definition("logged", image, execution_role_arn=arn)
    definition["containerDefinitions"][0]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": f"/ecs/{cluster}", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"},
    }
    reason = run(lab, cluster, definition)["stoppedReason"]
    assert reason.startswith(
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        "failed to create Cloudwatch log stream: AccessDeniedException: User: "
    )
    assert (
        f"is not authorized to perform: logs:CreateLogStream on resource: arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/ecs/{cluster}:log-stream:"
        in reason
    )
    assert reason.endswith(" : exit status 1")


def test_awslogs_create_group_needs_create_log_group_which_the_managed_policy_lacks(
    lab: LabClients, cluster: str, image: str
) -> None:
    definition = ecs_tools.task_definition("logged", image, execution_role_arn=lab.execution_role_arn)
    options = {
        "awslogs-group": f"/ecs/{cluster}",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "ecs",
        "awslogs-create-group": "true",
    }
    definition["containerDefinitions"][0]["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    task = run(lab, cluster, definition)
    task_id = task["taskArn"].split("/")[-1]
    assert task["stoppedReason"] == (
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch "
        f"log group: AccessDeniedException: User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/ecsTaskExecutionRole/{task_id} is not authorized "
        f"to perform: logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/ecs/{cluster}:log-stream: because no "
        "identity-based policy allows the logs:CreateLogGroup action : exit status 1"
    )
