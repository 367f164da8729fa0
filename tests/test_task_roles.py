"""Task roles in the lab: credentials inside the container, AccessDenied for real.

Given a private lab and the AWS app (boto3 inside, unmodified), pushed to its ECR;
when tasks run with and without a task role; then plain boto3 in the container finds
the role's credentials, is refused in AWS's words once the permission is gone, and
finds no credentials at all without a task role. The first tests need no lab: they
check which IAM action the gateway reads from a request, and its error formats.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab.config import LAB_LABEL, LabConfig
from ecslab.lab.task_roles import (
    RELAY_PURPOSE,
    RELAY_TASK_LABEL,
    UNABLE_TO_ASSUME,
    AwsRequest,
    access_denied_response,
    requested_actions,
    signing_identity,
)
from ecslab.security import ensure_task_role
from tests.conftest import AWS_APP, LabClients, push_app_image

BUCKET = "reports"
LIST_REPORTS = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ListReports", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}],
}
READ_REPORTS = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}],
}


def request(
    method: str,
    path: str,
    service: str,
    *,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> AwsRequest:
    return AwsRequest(method, path, query or {}, {k.lower(): v for k, v in (headers or {}).items()}, body, service, "us-east-1")


# -- without a lab: what the gateway checks -----------------------------------------------------------


def test_s3_requests_map_to_iam_actions_and_resources() -> None:
    assert requested_actions(request("GET", "/", "s3")) == [("s3:ListAllMyBuckets", "*")]
    assert requested_actions(request("GET", "/reports", "s3", query={"list-type": ["2"]})) == [
        ("s3:ListBucket", "arn:aws:s3:::reports")
    ]
    assert requested_actions(request("HEAD", "/reports", "s3")) == [("s3:ListBucket", "arn:aws:s3:::reports")]
    assert requested_actions(request("PUT", "/reports", "s3")) == [("s3:CreateBucket", "arn:aws:s3:::reports")]
    assert requested_actions(request("GET", "/reports", "s3", query={"policy": [""]})) == [
        ("s3:GetBucketPolicy", "arn:aws:s3:::reports")
    ]
    assert requested_actions(request("HEAD", "/reports/2024/q1.csv", "s3")) == [
        ("s3:GetObject", "arn:aws:s3:::reports/2024/q1.csv")
    ]
    assert requested_actions(request("PUT", "/reports/a%20b.txt", "s3")) == [("s3:PutObject", "arn:aws:s3:::reports/a b.txt")]
    assert requested_actions(request("DELETE", "/reports/a", "s3")) == [("s3:DeleteObject", "arn:aws:s3:::reports/a")]
    copy = request("PUT", "/reports/b", "s3", headers={"x-amz-copy-source": "/raw/a"})
    assert requested_actions(copy) == [("s3:GetObject", "arn:aws:s3:::raw/a"), ("s3:PutObject", "arn:aws:s3:::reports/b")]
    body = b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>"
    assert requested_actions(request("POST", "/reports", "s3", query={"delete": [""]}, body=body)) == [
        ("s3:DeleteObject", "arn:aws:s3:::reports/a"),
        ("s3:DeleteObject", "arn:aws:s3:::reports/b"),
    ]


def test_json_and_query_requests_map_to_iam_actions() -> None:
    get_item = request(
        "POST", "/", "dynamodb", headers={"X-Amz-Target": "DynamoDB_20120810.GetItem"}, body=b'{"TableName": "orders"}'
    )
    assert requested_actions(get_item) == [("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/orders")]
    query = request(
        "POST",
        "/",
        "dynamodb",
        headers={"X-Amz-Target": "DynamoDB_20120810.Query"},
        body=b'{"TableName": "orders", "IndexName": "by-day"}',
    )
    assert requested_actions(query) == [("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/by-day")]
    batch = request(
        "POST",
        "/",
        "dynamodb",
        headers={"X-Amz-Target": "DynamoDB_20120810.BatchGetItem"},
        body=b'{"RequestItems": {"a": {}, "b": {}}}',
    )
    assert [resource.rsplit("/", 1)[-1] for _, resource in requested_actions(batch)] == ["a", "b"]
    logs = request("POST", "/", "logs", headers={"X-Amz-Target": "Logs_20140328.PutLogEvents"}, body=b"{}")
    assert requested_actions(logs) == [("logs:PutLogEvents", "*")]
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert requested_actions(request("POST", "/", "sts", headers=form, body=b"Action=GetCallerIdentity&Version=2011-06-15")) == []
    assert requested_actions(request("POST", "/", "iam", headers=form, body=b"Action=ListRoles&Version=2010-05-08")) == [
        ("iam:ListRoles", "*")
    ]
    cbor = request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "monitoring")
    assert requested_actions(cbor) == [("cloudwatch:PutMetricData", "*")]


def test_access_key_is_read_from_the_signature_or_a_presigned_url() -> None:
    header = {
        "authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab"
    }
    assert signing_identity(header, {}) == ("ASIAEXAMPLE", "us-east-1", "s3")
    assert signing_identity({}, {"X-Amz-Credential": ["ASIAEXAMPLE/20260101/eu-west-1/s3/aws4_request"]}) == (
        "ASIAEXAMPLE",
        "eu-west-1",
        "s3",
    )
    assert signing_identity({}, {}) is None


def test_access_denied_speaks_each_protocol() -> None:
    status, headers, body = access_denied_response(request("GET", "/reports", "s3"), "User: x is not authorized")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"<Message>User: x is not authorized</Message>" in body
    status, headers, body = access_denied_response(
        request("POST", "/", "dynamodb", headers={"X-Amz-Target": "DynamoDB_20120810.GetItem"}), "no"
    )
    assert status == 400 and json.loads(body) == {"__type": "AccessDeniedException", "message": "no"}
    status, headers, body = access_denied_response(request("POST", "/", "iam"), "no")
    assert status == 403 and b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>" in body


# -- with a lab: tasks, their containers and boto3 in them ---------------------------------------------


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image_uri(lab: LabClients) -> str:
    return push_app_image(lab, "aws-app", local=AWS_APP)


@pytest.fixture(scope="module")
def bucket(lab: LabClients) -> str:
    lab.s3.create_bucket(Bucket=BUCKET)
    for key in ("2026/q1.csv", "2026/q2.csv"):
        lab.s3.put_object(Bucket=BUCKET, Key=key, Body=b"region,total\n")
    return BUCKET


@pytest.fixture(scope="module")
def cluster(lab: LabClients) -> Iterator[str]:
    lab.ecs.create_cluster(clusterName="roles")
    yield "roles"
    for arn in lab.ecs.list_tasks(cluster="roles")["taskArns"]:
        lab.ecs.stop_task(cluster="roles", task=arn)


def run(lab: LabClients, cluster: str, image: str, family: str, task_role_arn: str | None = None) -> dict[str, Any]:
    """Register a Fargate task definition, run one task, wait until it is RUNNING or STOPPED."""
    definition = ecs_tools.task_definition(family, image, execution_role_arn=lab.execution_role_arn)
    if task_role_arn:
        definition["taskRoleArn"] = task_role_arn
    arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    task_arn = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": lab.default_subnets(1)}},
    )["tasks"][0]["taskArn"]
    deadline = time.monotonic() + 60
    while True:
        task = lab.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if task["lastStatus"] in ("RUNNING", "STOPPED") or time.monotonic() > deadline:
            return dict(task)
        time.sleep(0.2)


def stop(lab: LabClients, cluster: str, task: dict[str, Any]) -> dict[str, Any]:
    lab.ecs.stop_task(cluster=cluster, task=task["taskArn"])
    deadline = time.monotonic() + 30
    while True:
        described = lab.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]
        if described["lastStatus"] == "STOPPED" or time.monotonic() > deadline:
            return dict(described)
        time.sleep(0.2)


def call(lab: LabClients, task: dict[str, Any], path: str) -> tuple[int, dict[str, Any]]:
    try:
        return 200, ecs_tools.lab_call_task(task, path, timeout=15, config=lab.config)
    except urllib.error.HTTPError as error:
        return error.code, dict(json.loads(error.read()))


def relays(lab: LabClients, task_arn: str) -> list[Any]:
    labels = [f"{LAB_LABEL}={lab.config.home}", f"{LAB_LABEL}.purpose={RELAY_PURPOSE}", f"{RELAY_TASK_LABEL}={task_arn}"]
    return list(lab.docker.containers.list(all=True, filters={"label": labels}))


def app_environment(lab: LabClients, task: dict[str, Any]) -> dict[str, str]:
    container = lab.docker.containers.get(task["containers"][0]["runtimeId"])
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def test_a_task_role_lets_boto3_in_the_container_list_a_bucket_until_the_permission_goes(
    lab: LabClients, cluster: str, image_uri: str, bucket: str
) -> None:
    # given a role that may list the bucket
    role_arn = ensure_task_role(lab.iam, "reports-reader", LIST_REPORTS, policy_name="list-reports")
    task = run(lab, cluster, image_uri, "reports-reader", role_arn)
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    # then boto3 in the container finds the role's credentials through ECS's variables
    environment = app_environment(lab, task)
    assert environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:51679/v2/credentials/")
    assert environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == lab.config.region
    status, who = call(lab, task, "/whoami")
    assert status == 200, who
    assert who["Arn"] == f"arn:aws:sts::123456789012:assumed-role/reports-reader/{task_id}"
    assert who["credential_source"] == "container-role"
    status, listing = call(lab, task, f"/s3/{bucket}")
    assert (status, listing["keys"]) == (200, ["2026/q1.csv", "2026/q2.csv"])
    # but reading an object was never allowed
    status, refused = call(lab, task, f"/s3/{bucket}/2026/q1.csv")
    assert status == 403 and refused["error"] == "AccessDenied"
    assert refused["message"] == (
        f"User: arn:aws:sts::123456789012:assumed-role/reports-reader/{task_id} is not authorized to perform: "
        f"s3:GetObject on resource: arn:aws:s3:::{bucket}/2026/q1.csv because no identity-based policy allows the s3:GetObject action"
    )
    # when the permission to list is taken away (the role now may only read), the next call is refused at once
    lab.iam.delete_role_policy(RoleName="reports-reader", PolicyName="list-reports")
    lab.iam.put_role_policy(RoleName="reports-reader", PolicyName="read-reports", PolicyDocument=json.dumps(READ_REPORTS))
    status, refused = call(lab, task, f"/s3/{bucket}")
    assert status == 403 and refused["error"] == "AccessDenied"
    assert refused["message"].startswith(
        f"User: arn:aws:sts::123456789012:assumed-role/reports-reader/{task_id} is not authorized to perform: s3:ListBucket"
    )
    status, read = call(lab, task, f"/s3/{bucket}/2026/q1.csv")
    assert (status, read["size"]) == (200, 13)
    timings = lab.control("/ecs/task-roles")["timings"]
    print("task-role timings:", timings)
    assert timings["credentials_fetch_ms"]["max"] < 1000
    stop(lab, cluster, task)


def test_gateway_answers_json_services_in_their_own_error_format(lab: LabClients, cluster: str, image_uri: str) -> None:
    # given a task whose role may only read one DynamoDB table
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:table/orders"}],
    }
    role_arn = ensure_task_role(lab.iam, "orders-reader", policy)
    task = run(lab, cluster, image_uri, "orders-reader", role_arn)
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    environment = app_environment(lab, task)
    gateway = environment["AWS_ENDPOINT_URL"]
    credentials_url = gateway + environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"].split(":51679", 1)[1]
    # when the host fetches the task's credentials as the relay does (the gateway listens on the bridge's gateway address)
    with pytest.raises(urllib.error.HTTPError) as wrong:
        urllib.request.urlopen(urllib.request.Request(credentials_url, headers={"Authorization": "not-the-token"}), timeout=5)
    assert wrong.value.code == 401
    fetch = urllib.request.Request(credentials_url, headers={"Authorization": environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    with urllib.request.urlopen(fetch, timeout=5) as response:
        credentials = json.loads(response.read())
    assert (
        set(credentials) == {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
        and credentials["RoleArn"] == role_arn
    )
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["Token"],
        region_name=lab.config.region,
    )
    dynamodb = session.client("dynamodb", endpoint_url=gateway)
    sts = session.client("sts", endpoint_url=gateway)
    # then GetCallerIdentity is allowed, as on AWS, and a table the role does not name is refused in DynamoDB's format
    assert sts.get_caller_identity()["Arn"].endswith(f"assumed-role/orders-reader/{task['taskArn'].rsplit('/', 1)[-1]}")
    with pytest.raises(ClientError) as refused:
        dynamodb.get_item(TableName="customers", Key={"id": {"S": "1"}})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        "dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/customers"
        in refused.value.response["Error"]["Message"]
    )
    with pytest.raises(ClientError) as missing:  # allowed: moto answers, and the table does not exist
        dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # and after the task stops its credentials are no longer served
    stop(lab, cluster, task)
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(fetch, timeout=5)
    assert gone.value.code == 400


def test_a_task_without_a_task_role_gets_no_credentials(lab: LabClients, cluster: str, image_uri: str) -> None:
    task = run(lab, cluster, image_uri, "no-role")
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    environment = app_environment(lab, task)
    assert not [name for name in environment if name.startswith("AWS_CONTAINER_")]
    assert environment["AWS_REGION"] == lab.config.region and environment["AWS_ENDPOINT_URL"].startswith("http://")
    status, answer = call(lab, task, "/whoami")
    assert (status, answer["error"]) == (500, "NoCredentialsError")
    assert answer["message"] == "Unable to locate credentials"
    assert relays(lab, task["taskArn"]) == []
    stop(lab, cluster, task)


def test_the_relay_runs_beside_the_task_and_goes_with_it(lab: LabClients, cluster: str, image_uri: str) -> None:
    role_arn = ensure_task_role(lab.iam, "relay-check", LIST_REPORTS)
    task = run(lab, cluster, image_uri, "relay-check", role_arn)
    assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
    [relay] = relays(lab, task["taskArn"])
    assert relay.status == "running"
    assert relay.attrs["HostConfig"]["NetworkMode"] == f"container:{task['containers'][0]['runtimeId']}"
    # whatever lists the task's containers by ECS's label sees the app only
    listed = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={task['taskArn']}"})
    assert [c.id for c in listed] == [task["containers"][0]["runtimeId"]]
    stopped = stop(lab, cluster, task)
    assert stopped["lastStatus"] == "STOPPED"
    assert relays(lab, task["taskArn"]) == []


@pytest.mark.parametrize("trouble", ["missing", "not-trusting-ecs-tasks"])
def test_a_role_ecs_cannot_assume_stops_the_task_with_ecs_words(
    lab: LabClients, cluster: str, image_uri: str, trouble: str
) -> None:
    if trouble == "missing":
        role_arn = "arn:aws:iam::123456789012:role/no-such-role"
    else:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        role_arn = lab.iam.create_role(RoleName="ec2-only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    task = run(lab, cluster, image_uri, f"bad-role-{trouble}", role_arn)
    assert task["lastStatus"] == "STOPPED"
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == UNABLE_TO_ASSUME.format(role_arn=role_arn)
    assert task["stoppedReason"].startswith(f"ECS was unable to assume the role '{role_arn}' that was provided for this task.")
    assert relays(lab, task["taskArn"]) == []
