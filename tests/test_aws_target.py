"""Tests for ecslab.aws_target: the real-AWS target's safety rails, on moto in-process (mock_aws).

Nothing here reaches AWS or any network: moto's in-process mock answers every call, and its
STS says the credentials belong to account 123456789012.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

import ecslab
from ecslab import aws_target, cli
from ecslab.aws_target import COURSE_ID, OWNER_TAG_KEY, TAG_KEY, TAGGED_OPERATIONS, AccountNotConfirmed, TagParameter

MOTO_ACCOUNT = "123456789012"
MOTO_CALLER = f"arn:aws:sts::{MOTO_ACCOUNT}:user/moto"  # moto's STS answer for keys it did not issue
REGION = "us-east-1"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """moto in-process with fake credentials; no AWS_* or ECSLAB_* setting of the machine leaks in."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "ECSLAB_")):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "ECSLAB_HOME": str(tmp_path / "ecslab-home"),
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def lab(aws: None) -> ecslab.Lab:
    return ecslab.connect("aws", account=MOTO_ACCOUNT)


def plain(service: str) -> Any:
    """A client made outside the Lab: what it creates is not the course's."""
    return boto3.client(service, region_name=REGION)


def tag_map(tags: list[dict[str, str]] | dict[str, str] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    if isinstance(tags, dict):
        return tags
    return {tag[key]: tag[value] for tag in tags or []}


def subnets_and_vpc() -> tuple[list[str], str]:
    ec2 = plain("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    return subnets, vpc


# -- opt-in ----------------------------------------------------------------------------------------


def test_connect_aws_refuses_until_the_account_is_named(aws: None) -> None:
    with pytest.raises(AccountNotConfirmed) as refusal:
        ecslab.connect("aws")
    message = str(refusal.value)
    assert f"belong to account {MOTO_ACCOUNT}" in message
    for created in (
        "ECR repositories",
        "Fargate tasks",
        "Application Load Balancer",
        "CloudWatch log groups",
        "alarms",
        "IAM roles",
        "security groups",
    ):
        assert created in message
    assert "an hour" in message and "$0." in message and "check the pricing pages" in message
    assert f"ECSLAB_AWS_ACCOUNT={MOTO_ACCOUNT}" in message
    assert f'ecslab.connect("aws", account="{MOTO_ACCOUNT}")' in message


def test_connect_aws_refuses_another_account(aws: None) -> None:
    with pytest.raises(AccountNotConfirmed, match=f"You confirmed account 111122223333, .* belong to account {MOTO_ACCOUNT}"):
        ecslab.connect("aws", account="1111-2222-3333")


def test_an_account_id_has_twelve_digits(aws: None) -> None:
    with pytest.raises(AccountNotConfirmed, match="12 digits"):
        ecslab.connect("aws", account="12345")


def test_connect_aws_accepts_the_confirmed_account_and_shows_a_banner(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSLAB_AWS_ACCOUNT", MOTO_ACCOUNT)
    lab = ecslab.connect("aws")
    assert (lab.target, lab.account_id, lab.region) == ("aws", MOTO_ACCOUNT, REGION)
    assert f"real AWS: account {MOTO_ACCOUNT}, region {REGION}" in lab._repr_html_()
    assert ecslab.connect("aws", account=MOTO_ACCOUNT).account_id == MOTO_ACCOUNT


# -- tags: against the service model ----------------------------------------------------------------

EXPECTED_OPERATIONS = {
    ("ecr", "CreateRepository"),
    ("ecs", "CreateCluster"),
    ("ecs", "CreateService"),
    ("ecs", "RegisterTaskDefinition"),
    ("ecs", "RunTask"),
    ("elbv2", "CreateLoadBalancer"),
    ("elbv2", "CreateTargetGroup"),
    ("iam", "CreateRole"),
    ("iam", "CreatePolicy"),
    ("logs", "CreateLogGroup"),
    ("ec2", "CreateSecurityGroup"),
    ("secretsmanager", "CreateSecret"),
    ("ssm", "PutParameter"),
    ("cloudwatch", "PutMetricAlarm"),
    ("ec2", "CreateVpc"),
    ("ec2", "CreateSubnet"),
    ("ec2", "CreateInternetGateway"),
    ("ec2", "CreateRouteTable"),
    ("application-autoscaling", "RegisterScalableTarget"),
}


def test_the_tagged_operations_are_the_course_create_calls() -> None:
    assert {(spec.service, spec.operation) for spec in TAGGED_OPERATIONS} == EXPECTED_OPERATIONS


@pytest.mark.parametrize("spec", TAGGED_OPERATIONS, ids=lambda spec: f"{spec.service}.{spec.operation}")
def test_each_tag_parameter_matches_the_botocore_service_model(spec: TagParameter) -> None:
    model = botocore.session.get_session().get_service_model(spec.service)
    members = model.operation_model(spec.operation).input_shape.members
    assert spec.parameter in members, f"{spec.service}.{spec.operation} has no {spec.parameter}: {sorted(members)}"
    shape = members[spec.parameter]
    if spec.style == "map":
        assert shape.type_name == "map"
    elif spec.style == "tag-specifications":
        assert shape.type_name == "list" and {"ResourceType", "Tags"} <= set(shape.member.members)
        assert spec.resource_type in shape.member.members["ResourceType"].enum
        assert set(shape.member.members["Tags"].member.members) >= {"Key", "Value"}
    else:
        assert shape.type_name == "list" and set(shape.member.members) >= {spec.key_name, spec.value_name}
    if (spec.service, spec.operation) in aws_target.PROPAGATE_TAGS_OPERATIONS:
        assert "TASK_DEFINITION" in members["propagateTags"].enum
    if spec.operation == "PutParameter":
        assert members["Overwrite"].type_name == "boolean"


def test_s3_buckets_are_tagged_with_the_operation_the_after_call_handler_uses() -> None:
    model = botocore.session.get_session().get_service_model("s3")
    assert "Bucket" in model.operation_model("CreateBucket").input_shape.members
    assert set(model.operation_model("PutBucketTagging").input_shape.members) >= {"Bucket", "Tagging"}


def test_add_course_tag_keeps_what_the_learner_set() -> None:
    by_name = {(s.service, s.operation): s for s in TAGGED_OPERATIONS}
    params: dict[str, Any] = {"tags": [{"key": TAG_KEY, "value": "mine"}], "propagateTags": "NONE"}
    aws_target.add_course_tag(params, by_name["ecs", "CreateService"], "course")
    assert params == {"tags": [{"key": TAG_KEY, "value": "mine"}], "propagateTags": "NONE"}
    params = {"Name": "/p", "Value": "v", "Overwrite": True}
    aws_target.add_course_tag(params, by_name["ssm", "PutParameter"], "course")
    assert "Tags" not in params
    params = {"TagSpecifications": [{"ResourceType": "security-group", "Tags": [{"Key": "team", "Value": "a"}]}]}
    aws_target.add_course_tag(params, by_name["ec2", "CreateSecurityGroup"], "course")
    assert params["TagSpecifications"] == [
        {"ResourceType": "security-group", "Tags": [{"Key": "team", "Value": "a"}, {"Key": TAG_KEY, "Value": "course"}]}
    ]
    params = {"logGroupName": "/x", "tags": {"team": "a"}}
    aws_target.add_course_tag(params, by_name["logs", "CreateLogGroup"], "course")
    assert params["tags"] == {"team": "a", TAG_KEY: "course"}


# -- tags: against moto ---------------------------------------------------------------------------------


def test_what_the_lab_creates_carries_the_course_tag_and_the_learners_own(lab: ecslab.Lab) -> None:
    subnets, vpc = subnets_and_vpc()
    mine = [{"Key": "team", "Value": "a"}]
    tags = {}
    repo = lab.ecr.create_repository(repositoryName="course-app", tags=mine)["repository"]
    tags["ecr"] = tag_map(lab.ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"])
    cluster = lab.ecs.create_cluster(clusterName="course", tags=[{"key": "team", "value": "a"}])["cluster"]
    tags["ecs cluster"] = tag_map(lab.ecs.list_tags_for_resource(resourceArn=cluster["clusterArn"])["tags"], "key", "value")
    task_def = lab.ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}],
    )["taskDefinition"]
    tags["ecs task definition"] = tag_map(
        lab.ecs.list_tags_for_resource(resourceArn=task_def["taskDefinitionArn"])["tags"], "key", "value"
    )
    network = {"awsvpcConfiguration": {"subnets": subnets[:1], "securityGroups": [], "assignPublicIp": "ENABLED"}}
    service = lab.ecs.create_service(
        cluster="course",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network,
    )["service"]
    assert service["propagateTags"] == "TASK_DEFINITION"
    tags["ecs service"] = tag_map(lab.ecs.list_tags_for_resource(resourceArn=service["serviceArn"])["tags"], "key", "value")
    task = lab.ecs.run_task(cluster="course", taskDefinition="web", launchType="FARGATE", networkConfiguration=network)["tasks"][
        0
    ]
    tags["ecs task"] = tag_map(lab.ecs.list_tags_for_resource(resourceArn=task["taskArn"])["tags"], "key", "value")
    group_id = lab.ec2.create_security_group(GroupName="course-alb", Description="ALB", VpcId=vpc)["GroupId"]
    group = lab.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    tags["ec2 security group"] = tag_map(group["Tags"])
    lb = lab.elbv2.create_load_balancer(Name="course-alb", Subnets=subnets[:2], SecurityGroups=[group_id], Tags=mine)[
        "LoadBalancers"
    ][0]
    tg = lab.elbv2.create_target_group(Name="course-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0]
    described = lab.elbv2.describe_tags(ResourceArns=[lb["LoadBalancerArn"], tg["TargetGroupArn"]])["TagDescriptions"]
    tags["elbv2 load balancer"], tags["elbv2 target group"] = (tag_map(d["Tags"]) for d in described)
    role = lab.iam.create_role(RoleName="course-role", AssumeRolePolicyDocument=TRUST)["Role"]
    tags["iam role"] = tag_map(lab.iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
    policy = lab.iam.create_policy(PolicyName="course-policy", PolicyDocument=POLICY, Tags=mine)["Policy"]
    tags["iam policy"] = tag_map(lab.iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"])
    lab.logs.create_log_group(logGroupName="/ecs/web")
    tags["logs"] = lab.logs.list_tags_log_group(logGroupName="/ecs/web")["tags"]
    secret = lab.client("secretsmanager").create_secret(Name="course-secret", SecretString="s3cret", Tags=mine)
    tags["secret"] = tag_map(lab.client("secretsmanager").describe_secret(SecretId=secret["ARN"])["Tags"])
    ssm = lab.client("ssm")
    ssm.put_parameter(Name="/course/greeting", Value="hello", Type="String")
    ssm.put_parameter(Name="/course/greeting", Value="hello again", Type="String", Overwrite=True)  # no tags on overwrite
    tags["ssm"] = tag_map(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/course/greeting")["TagList"])
    lab.cloudwatch.put_metric_alarm(
        AlarmName="course-cpu",
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarm_arn = lab.cloudwatch.describe_alarms(AlarmNames=["course-cpu"])["MetricAlarms"][0]["AlarmArn"]
    tags["alarm"] = tag_map(lab.cloudwatch.list_tags_for_resource(ResourceARN=alarm_arn)["Tags"])
    lab.client("s3").create_bucket(Bucket="course-bucket")
    tags["s3"] = tag_map(lab.client("s3").get_bucket_tagging(Bucket="course-bucket")["TagSet"])

    for what, found in tags.items():
        assert found.get(TAG_KEY) == COURSE_ID, f"{what} is not tagged: {found}"
        assert found.get(OWNER_TAG_KEY) == MOTO_CALLER, f"{what} does not say whose it is: {found}"
    for what in ("ecr", "ecs cluster", "elbv2 load balancer", "iam policy", "secret"):
        assert tags[what]["team"] == "a", f"{what} lost the learner's tag"


def test_a_course_tag_the_learner_set_is_not_overwritten(lab: ecslab.Lab) -> None:
    lab.ecr.create_repository(repositoryName="their-app", tags=[{"Key": TAG_KEY, "Value": "their-course"}])
    arn = lab.ecr.describe_repositories(repositoryNames=["their-app"])["repositories"][0]["repositoryArn"]
    assert lab.ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": TAG_KEY, "Value": "their-course"},
        {"Key": OWNER_TAG_KEY, "Value": MOTO_CALLER},
    ]
    lab.logs.create_log_group(logGroupName="/theirs", tags={TAG_KEY: "their-course", OWNER_TAG_KEY: "someone"})
    assert lab.logs.list_tags_log_group(logGroupName="/theirs")["tags"] == {TAG_KEY: "their-course", OWNER_TAG_KEY: "someone"}


def test_the_local_lab_adds_no_tags(aws: None) -> None:
    # a Lab aimed at the local target gets no hooks: the notebooks' stored outputs do not change
    local = ecslab.Lab("local", REGION, None, ecslab.LabConfig.from_env(), boto3.Session(region_name=REGION))
    local.ecr.create_repository(repositoryName="plain-repo")
    arn = local.ecr.describe_repositories()["repositories"][0]["repositoryArn"]
    assert local.ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []


# -- clean-up ------------------------------------------------------------------------------------------


def make_course_resources(lab: ecslab.Lab) -> dict[str, str]:
    """What notebooks 03-08 leave behind, made through the Lab (so tagged); returns some names."""
    subnets, vpc = subnets_and_vpc()
    lab.ecr.create_repository(repositoryName="course-app")
    lab.iam.create_role(RoleName="course-exec", AssumeRolePolicyDocument=TRUST)
    policy_arn = lab.iam.create_policy(PolicyName="course-read", PolicyDocument=POLICY)["Policy"]["Arn"]
    lab.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=POLICY, SetAsDefault=True)
    lab.iam.attach_role_policy(RoleName="course-exec", PolicyArn=policy_arn)
    lab.iam.put_role_policy(RoleName="course-exec", PolicyName="inline", PolicyDocument=POLICY)
    alb_group = lab.ec2.create_security_group(GroupName="course-alb", Description="ALB", VpcId=vpc)["GroupId"]
    task_group = lab.ec2.create_security_group(GroupName="course-task", Description="tasks", VpcId=vpc)["GroupId"]
    lab.ec2.authorize_security_group_ingress(
        GroupId=task_group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "UserIdGroupPairs": [{"GroupId": alb_group}]}],
    )
    lb_arn = lab.elbv2.create_load_balancer(Name="course-alb", Subnets=subnets[:2], SecurityGroups=[alb_group])["LoadBalancers"][
        0
    ]["LoadBalancerArn"]
    tg_arn = lab.elbv2.create_target_group(Name="course-tg", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    lab.elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
    )
    lab.ecs.create_cluster(clusterName="course")
    lab.ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}],
    )
    network = {"awsvpcConfiguration": {"subnets": subnets[:1], "securityGroups": [task_group], "assignPublicIp": "ENABLED"}}
    lab.ecs.create_service(
        cluster="course",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network,
    )
    lab.ecs.run_task(cluster="course", taskDefinition="web", launchType="FARGATE", networkConfiguration=network)
    lab.logs.create_log_group(logGroupName="/ecs/web")
    lab.cloudwatch.put_metric_alarm(
        AlarmName="course-cpu",
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
    )
    lab.client("secretsmanager").create_secret(Name="course-secret", SecretString="s3cret")
    lab.client("ssm").put_parameter(Name="/course/greeting", Value="hello", Type="String")
    lab.client("s3").create_bucket(Bucket="course-bucket")
    lab.client("s3").put_object(Bucket="course-bucket", Key="a.txt", Body=b"a")
    return {"alb_group": alb_group, "task_group": task_group}


def make_untagged_resources() -> dict[str, str]:
    """The learner's own things in the same account, made without the Lab: cleanup must not touch them."""
    _, vpc = subnets_and_vpc()
    plain("ecr").create_repository(repositoryName="mine")
    plain("ecs").create_cluster(clusterName="mine")
    plain("ecs").register_task_definition(family="mine", containerDefinitions=[{"name": "m", "image": "nginx", "memory": 128}])
    group = plain("ec2").create_security_group(GroupName="mine", Description="mine", VpcId=vpc)["GroupId"]
    plain("logs").create_log_group(logGroupName="/mine")
    plain("iam").create_role(RoleName="mine", AssumeRolePolicyDocument=TRUST)
    plain("secretsmanager").create_secret(Name="mine", SecretString="x")
    plain("ssm").put_parameter(Name="/mine", Value="x", Type="String")
    plain("s3").create_bucket(Bucket="mine-bucket")
    plain("cloudwatch").put_metric_alarm(
        AlarmName="mine",
        MetricName="m",
        Namespace="n",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    # tagged by someone else's course: not ours either
    plain("logs").create_log_group(logGroupName="/other-course", tags={TAG_KEY: "another-course"})
    return {"group": group}


def assert_untagged_untouched(untagged: dict[str, str]) -> None:
    assert plain("ecr").describe_repositories(repositoryNames=["mine"])["repositories"]
    assert plain("ecs").describe_clusters(clusters=["mine"])["clusters"][0]["status"] == "ACTIVE"
    assert plain("ecs").describe_task_definition(taskDefinition="mine")["taskDefinition"]["status"] == "ACTIVE"
    assert plain("ec2").describe_security_groups(GroupIds=[untagged["group"]])["SecurityGroups"]
    assert {g["logGroupName"] for g in plain("logs").describe_log_groups()["logGroups"]} >= {"/mine", "/other-course"}
    assert plain("iam").get_role(RoleName="mine")["Role"]
    assert "DeletedDate" not in plain("secretsmanager").describe_secret(SecretId="mine")
    assert plain("ssm").get_parameter(Name="/mine")["Parameter"]["Value"] == "x"
    assert "mine-bucket" in {b["Name"] for b in plain("s3").list_buckets()["Buckets"]}
    assert plain("cloudwatch").describe_alarms(AlarmNames=["mine"])["MetricAlarms"]


def test_cleanup_dry_run_plans_the_tagged_resources_in_dependency_order(lab: ecslab.Lab) -> None:
    make_course_resources(lab)
    untagged = make_untagged_resources()
    report = aws_target.cleanup(lab)  # dry run by default
    kinds = [r.kind for r in report.plan]
    assert kinds == [
        "ecs service",
        "ecs task",
        "ecs task definition",
        "ecs cluster",
        "elbv2 listener",
        "elbv2 load balancer",
        "elbv2 target group",
        "ec2 security group",
        "ec2 security group",
        "ecr repository",
        "logs log group",
        "cloudwatch alarm",
        "secretsmanager secret",
        "ssm parameter",
        "iam role",
        "iam policy",
        "s3 bucket",
    ]
    names = {r.name for r in report.plan}
    assert {
        "web",
        "course",
        "web:1",
        "course-alb",
        "course-tg",
        "course-app",
        "/ecs/web",
        "course-cpu",
        "course-secret",
        "/course/greeting",
        "course-exec",
        "course-read",
        "course-bucket",
    } <= names
    assert not names & {"mine", "/mine", "mine-bucket", "/other-course", "mine:1"}
    text = report.render()
    assert text.startswith(
        f"The plan for ecslab:course={COURSE_ID}, ecslab:owner={MOTO_CALLER} in account {MOTO_ACCOUNT}, "
        f"region {REGION}: 17 resources"
    )
    assert "scale to 0, delete" in text and "Dry run: nothing was deleted." in text
    assert report.deleted == [] and report.failed == []
    assert lab.ecr.describe_repositories(repositoryNames=["course-app"])["repositories"]  # nothing deleted
    assert_untagged_untouched(untagged)


def record_calls(lab: ecslab.Lab) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_kwargs: Any) -> None:
        calls.append((model.name, dict(params)))

    for service in ("ecs", "elbv2", "ec2", "ecr", "logs", "cloudwatch", "secretsmanager", "ssm", "iam", "s3"):
        lab.client(service).meta.events.register("before-parameter-build", record)
    return calls


def test_cleanup_deletes_the_tagged_resources_in_dependency_order(lab: ecslab.Lab) -> None:
    groups = make_course_resources(lab)
    untagged = make_untagged_resources()
    calls = record_calls(lab)
    progress: list[str] = []
    report = aws_target.cleanup(lab, dry_run=False, say=progress.append, sleep=lambda _s: None)
    assert report.failed == [], report.render()
    assert len(report.deleted) == len(report.plan) == 17
    deletions = [
        name for name, _ in calls if name.startswith(("Delete", "Deregister", "Stop", "Detach")) or name == "UpdateService"
    ]
    order = [
        "UpdateService",
        "DeleteService",
        "StopTask",
        "DeregisterTaskDefinition",
        "DeleteCluster",
        "DeleteListener",
        "DeleteLoadBalancer",
        "DeleteTargetGroup",
        "DeleteSecurityGroup",
        "DeleteRepository",
        "DeleteLogGroup",
        "DeleteAlarms",
        "DeleteSecret",
        "DeleteParameter",
        "DetachRolePolicy",
        "DeleteRolePolicy",
        "DeleteRole",
        "DeletePolicyVersion",
        "DeletePolicy",
        "DeleteObjects",
        "DeleteBucket",
    ]
    first = [deletions.index(name) for name in order]
    assert first == sorted(first), deletions
    assert (
        "UpdateService",
        {
            "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/course",
            "service": "arn:aws:ecs:us-east-1:123456789012:service/course/web",
            "desiredCount": 0,
        },
    ) in calls
    assert next(p for n, p in calls if n == "DeleteSecret")["RecoveryWindowInDays"] == 7
    assert progress[0].startswith("[1/17] ecs service web: scale to 0, delete")
    assert "17 deleted, 0 already gone, 0 not deleted" in report.render()

    assert lab.ecr.describe_repositories()["repositories"] == [
        plain("ecr").describe_repositories(repositoryNames=["mine"])["repositories"][0]
    ]
    remaining_groups = {g["GroupId"] for g in lab.ec2.describe_security_groups()["SecurityGroups"]}
    assert not remaining_groups & set(groups.values())
    assert lab.elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert lab.elbv2.describe_target_groups()["TargetGroups"] == []
    assert {b["Name"] for b in lab.client("s3").list_buckets()["Buckets"]} == {"mine-bucket"}
    assert [r["RoleName"] for r in lab.iam.list_roles()["Roles"] if r["RoleName"].startswith("course")] == []
    assert "DeletedDate" in lab.client("secretsmanager").describe_secret(SecretId="course-secret")
    assert_untagged_untouched(untagged)
    second_look = aws_target.cleanup(lab)
    assert second_look.plan == []  # nothing left, and the scheduled secret is said
    assert "secret course-secret is already scheduled for deletion" in second_look.render()


def test_cleanup_force_deletes_secrets_only_when_asked(lab: ecslab.Lab) -> None:
    lab.client("secretsmanager").create_secret(Name="course-secret", SecretString="s3cret")
    report = aws_target.cleanup(lab, dry_run=False, force_delete_secrets=True, say=lambda _m: None)
    assert [note for _, note in report.deleted] == ["deleted now, without recovery"]
    assert lab.client("secretsmanager").list_secrets()["SecretList"] == []


def fail_first(lab: ecslab.Lab, service: str, operation: str, code: str, times: int) -> None:
    """The next ``times`` calls of ``operation`` answer ``code`` (400), as AWS does while a dependency lingers."""
    left = [times]

    def refuse(**_kwargs: Any) -> Any:
        if left[0] == 0:
            return None
        left[0] -= 1
        return AWSResponse("https://example.invalid", 400, {}, None), {
            "Error": {"Code": code, "Message": "resource has a dependent object"}
        }

    client = lab.client(service)
    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", refuse)


def test_security_groups_are_retried_with_backoff_while_the_albs_interfaces_go(lab: ecslab.Lab) -> None:
    _, vpc = subnets_and_vpc()
    group = lab.ec2.create_security_group(GroupName="course-alb", Description="ALB", VpcId=vpc)["GroupId"]
    fail_first(lab, "ec2", "DeleteSecurityGroup", "DependencyViolation", times=3)
    slept: list[float] = []
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=slept.append)
    assert report.failed == [] and slept == [2.0, 4.0, 8.0]
    assert group not in {g["GroupId"] for g in lab.ec2.describe_security_groups()["SecurityGroups"]}


def test_what_cannot_be_deleted_is_reported_with_the_reason(lab: ecslab.Lab) -> None:
    _, vpc = subnets_and_vpc()
    lab.ec2.create_security_group(GroupName="course-alb", Description="ALB", VpcId=vpc)
    lab.logs.create_log_group(logGroupName="/ecs/web")
    fail_first(lab, "ec2", "DeleteSecurityGroup", "DependencyViolation", times=100)
    slept: list[float] = []
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=slept.append, patience_seconds=30)
    assert [r.kind for r, _ in report.failed] == ["ec2 security group"]
    assert "DependencyViolation: resource has a dependent object (still refused after 30 s)" in report.failed[0][1]
    assert [r.kind for r, _ in report.deleted] == ["logs log group"]  # one failure does not stop the rest
    assert "Not deleted (still there, may still cost money):" in report.render()
    assert slept == [2.0, 4.0, 8.0, 16.0]


def test_an_untagged_task_keeps_its_tagged_cluster_and_is_named(lab: ecslab.Lab) -> None:
    subnets, _ = subnets_and_vpc()
    lab.ecs.create_cluster(clusterName="course")
    plain("ecs").register_task_definition(family="theirs", containerDefinitions=[{"name": "m", "image": "nginx", "memory": 128}])
    plain("ecs").run_task(
        cluster="course",
        taskDefinition="theirs",
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:1], "securityGroups": []}},
    )
    slept: list[float] = []
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=slept.append)
    assert [r.kind for r, _ in report.failed] == ["ecs cluster"]
    assert slept == []  # a blocker the course did not make is named at once, not waited for
    assert "1 task(s) still running in course that are not the course's" in report.failed[0][1]
    assert "stop them yourself (not waiting for them)" in report.failed[0][1]
    assert plain("ecs").list_tasks(cluster="course")["taskArns"]


# -- the command -------------------------------------------------------------------------------------


def test_cli_cleanup_dry_run_prints_the_plan(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECSLAB_AWS_ACCOUNT", MOTO_ACCOUNT)
    make_course_resources(ecslab.connect("aws"))
    assert cli.main(["cleanup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "The plan for ecslab:course=" in out and "course-app" in out and "Dry run: nothing was deleted." in out
    assert plain("ecr").describe_repositories(repositoryNames=["course-app"])["repositories"]


def test_cli_cleanup_asks_first_and_deletes_with_yes(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = ecslab.connect("aws", account=MOTO_ACCOUNT)
    lab.ecr.create_repository(repositoryName="course-app")
    monkeypatch.setattr("builtins.input", lambda _prompt: "no")
    assert cli.main(["cleanup", "--account", MOTO_ACCOUNT]) == 1
    assert "Nothing deleted" in capsys.readouterr().out
    assert plain("ecr").describe_repositories()["repositories"]
    assert cli.main(["cleanup", "--account", MOTO_ACCOUNT, "--yes"]) == 0
    assert "1 deleted, 0 already gone, 0 not deleted" in capsys.readouterr().out
    assert plain("ecr").describe_repositories()["repositories"] == []


def test_cli_cleanup_needs_the_account_named(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cleanup", "--dry-run"]) == 2
    assert f"ECSLAB_AWS_ACCOUNT={MOTO_ACCOUNT}" in capsys.readouterr().err
    assert cli.main(["cleanup", "--target", "local"]) == 2
    assert "ecslab reset" in capsys.readouterr().err


# -- costs ---------------------------------------------------------------------------------------------


def test_estimate_hourly_cost_from_the_published_prices() -> None:
    one_task = aws_target.estimate_hourly_cost(tasks=1, cpu=1024, memory=2048, public_ips=0)
    assert one_task.per_hour == pytest.approx(0.04048 + 2 * 0.004445)
    alb = aws_target.estimate_hourly_cost(load_balancers=1)
    assert alb.per_hour == pytest.approx(0.0225 + 0.008 + 2 * 0.005)  # one LCU, a public IPv4 in each of 2 zones
    course = aws_target.estimate_hourly_cost(**aws_target.COURSE_FOOTPRINT)
    assert 0.05 < course.per_hour < 0.15 and course.per_day == pytest.approx(course.per_hour * 24)
    assert "check the pricing pages" in course.render() and "aws.amazon.com/fargate/pricing" in course._repr_html_()
    for price in aws_target.PRICES.values():
        assert price.source.startswith("https://aws.amazon.com/") and price.as_of and price.usd > 0
    with pytest.raises(ValueError):
        aws_target.estimate_hourly_cost(tasks=-1)
