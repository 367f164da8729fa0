"""Tests for clean-up on real AWS (ecslab.aws_target.cleanup) and for ecslab.cleanup, on moto in-process (mock_aws).

Two learners of one class share an account: each is an IAM user with their own keys, so STS
names each by their ARN, which is the ``ecslab:owner`` tag. Nothing here reaches AWS.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
import pytest

import ecslab
from ecslab import aws_target, cleanup
from ecslab.aws_target import COURSE_ID, OWNER_TAG_KEY, TAG_KEY
from tests.test_aws_target import MOTO_ACCOUNT, REGION, TRUST, aws, fail_first, lab, plain, subnets_and_vpc, tag_map

__all__ = ["aws", "lab"]  # fixtures used here


def learner(name: str) -> ecslab.Lab:
    """An aws Lab for IAM user ``name`` (created with access keys) in moto's one account."""
    iam = plain("iam")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    return aws_target.open_lab(session, ecslab.LabConfig.from_env(), account=MOTO_ACCOUNT)


def make_some(lab: ecslab.Lab, prefix: str) -> None:
    _, vpc = subnets_and_vpc()
    lab.ecr.create_repository(repositoryName=f"{prefix}-app")
    lab.iam.create_role(RoleName=f"{prefix}-role", AssumeRolePolicyDocument=TRUST)
    lab.logs.create_log_group(logGroupName=f"/ecs/{prefix}")
    lab.ec2.create_security_group(GroupName=f"{prefix}-alb", Description="ALB", VpcId=vpc)
    lab.ecs.create_cluster(clusterName=f"{prefix}-cluster")


def names(report: aws_target.CleanupReport) -> set[str]:
    return {r.name.split(" (")[0] for r in report.plan}


# -- 1. the owner tag ---------------------------------------------------------------------------


def test_two_learners_in_one_account_each_clean_up_only_their_own(aws: None) -> None:
    alice, bob = learner("alice"), learner("bob")
    make_some(alice, "alice")
    make_some(bob, "bob")
    arn = plain("ecr").describe_repositories(repositoryNames=["bob-app"])["repositories"][0]["repositoryArn"]
    assert tag_map(plain("ecr").list_tags_for_resource(resourceArn=arn)["tags"]) == {
        TAG_KEY: COURSE_ID,
        OWNER_TAG_KEY: f"arn:aws:iam::{MOTO_ACCOUNT}:user/bob",
    }

    plan = aws_target.cleanup(alice)
    assert names(plan) == {"alice-app", "alice-role", "/ecs/alice", "alice-alb", "alice-cluster"}
    assert f"{OWNER_TAG_KEY}=arn:aws:iam::{MOTO_ACCOUNT}:user/alice" in plan.render()
    assert any("belong to another owner" in note for note in plan.notes)  # said, never listed
    report = aws_target.cleanup(alice, dry_run=False, say=lambda _m: None, sleep=lambda _s: None)
    assert report.failed == [] and len(report.deleted) == 5

    assert plain("ecr").describe_repositories(repositoryNames=["bob-app"])["repositories"]
    assert plain("iam").get_role(RoleName="bob-role")["Role"]  # IAM is global: still only bob's own go
    assert [g["logGroupName"] for g in plain("logs").describe_log_groups()["logGroups"]] == ["/ecs/bob"]
    assert plain("ecs").describe_clusters(clusters=["bob-cluster"])["clusters"][0]["status"] == "ACTIVE"
    assert names(aws_target.cleanup(bob)) == {"bob-app", "bob-role", "/ecs/bob", "bob-alb", "bob-cluster"}


def test_course_tagged_resources_without_an_owner_are_not_touched(lab: ecslab.Lab) -> None:
    plain("ecr").create_repository(repositoryName="old-app", tags=[{"Key": TAG_KEY, "Value": COURSE_ID}])
    plain("iam").create_role(RoleName="old-role", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": TAG_KEY, "Value": COURSE_ID}])
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None)
    assert report.plan == []
    assert plain("ecr").describe_repositories(repositoryNames=["old-app"])["repositories"]
    assert plain("iam").get_role(RoleName="old-role")["Role"]


def test_ecslab_owner_overrides_the_callers_arn(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSLAB_OWNER", "student 7, group B")  # a comma is not allowed in an IAM tag value
    lab = ecslab.connect("aws", account=MOTO_ACCOUNT)
    lab.iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    assert tag_map(plain("iam").list_role_tags(RoleName="r")["Tags"])[OWNER_TAG_KEY] == "student 7_ group B"
    assert aws_target.owner_id(lab) == "student 7_ group B"
    assert [r.name for r in aws_target.cleanup(lab).plan] == ["r"]


# -- 2. the plan that was shown is the plan that is deleted -----------------------------------------


def test_cleanup_deletes_exactly_the_plan_it_was_given(lab: ecslab.Lab) -> None:
    lab.ecr.create_repository(repositoryName="first")
    lab.ecr.create_repository(repositoryName="second")
    shown = aws_target.cleanup(lab)
    lab.ecr.create_repository(repositoryName="made-after-the-plan")
    plain("ecr").delete_repository(repositoryName="second")  # gone meanwhile
    report = aws_target.cleanup(lab, dry_run=False, plan=shown, say=lambda _m: None)
    assert [r.name for r, _ in report.deleted] == ["first"]
    assert [r.name for r in report.gone] == ["second"] and report.failed == [] and report.ok
    assert "1 deleted, 1 already gone, 0 not deleted" in report.render()
    assert "Already gone when their turn came" in report.render()
    assert [r["repositoryName"] for r in plain("ecr").describe_repositories()["repositories"]] == ["made-after-the-plan"]


def test_the_cleanup_command_deletes_the_plan_it_showed(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecslab import cli

    lab = ecslab.connect("aws", account=MOTO_ACCOUNT)
    lab.ecr.create_repository(repositoryName="shown")

    def answer_while_something_new_appears(_prompt: str) -> str:
        lab.ecr.create_repository(repositoryName="not-shown")
        return "yes"

    monkeypatch.setattr("builtins.input", answer_while_something_new_appears)
    assert cli.main(["cleanup", "--account", MOTO_ACCOUNT]) == 0
    out = capsys.readouterr().out
    assert "1 resources, in this order" in out and "1 deleted, 0 already gone, 0 not deleted" in out
    assert [r["repositoryName"] for r in plain("ecr").describe_repositories()["repositories"]] == ["not-shown"]


# -- 3. what used to escape: a VPC, scaling, log groups ECS creates --------------------------------


def make_course_vpc(lab: ecslab.Lab, name: str = "security-demo") -> dict[str, Any]:
    """Notebook 07's network, as it makes it: VPC, internet gateway, public route table, two public and two private subnets."""
    ec2 = lab.ec2
    vpc_id = ec2.create_vpc(
        CidrBlock="10.20.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}]
    )["Vpc"]["VpcId"]
    gateway_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway_id)
    subnets = []
    for index, (cidr, zone) in enumerate(
        [("10.20.0.0/24", "a"), ("10.20.1.0/24", "b"), ("10.20.10.0/24", "a"), ("10.20.11.0/24", "b")]
    ):
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=REGION + zone)["Subnet"]["SubnetId"]
        subnets.append(subnet_id)
        if index < 2:
            ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    group_id = ec2.create_security_group(GroupName=f"{name}-alb", Description="ALB", VpcId=vpc_id)["GroupId"]
    return {"vpc": vpc_id, "gateway": gateway_id, "table": table_id, "subnets": subnets, "group": group_id}


def test_a_course_vpc_is_tagged_and_torn_down_in_dependency_order(lab: ecslab.Lab) -> None:
    made = make_course_vpc(lab)
    theirs = plain("ec2").create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    for kind, described in (
        ("vpc", lab.ec2.describe_vpcs(VpcIds=[made["vpc"]])["Vpcs"]),
        ("internet gateway", lab.ec2.describe_internet_gateways(InternetGatewayIds=[made["gateway"]])["InternetGateways"]),
        ("route table", lab.ec2.describe_route_tables(RouteTableIds=[made["table"]])["RouteTables"]),
        ("subnets", lab.ec2.describe_subnets(SubnetIds=made["subnets"])["Subnets"]),
    ):
        for item in described:
            tags = tag_map(item["Tags"])
            assert tags[TAG_KEY] == COURSE_ID and OWNER_TAG_KEY in tags, f"{kind}: {tags}"
    assert (
        tag_map(lab.ec2.describe_vpcs(VpcIds=[made["vpc"]])["Vpcs"][0]["Tags"])["Name"] == "security-demo"
    )  # the learner's tag stays

    calls: list[str] = []
    lab.ec2.meta.events.register("before-parameter-build.ec2", lambda model, **_k: calls.append(model.name))
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=lambda _s: None)
    assert report.failed == [], report.render()
    assert [r.kind for r in report.plan] == [
        "ec2 security group",
        "ec2 route table",
        "ec2 internet gateway",
        "ec2 subnet",
        "ec2 subnet",
        "ec2 subnet",
        "ec2 subnet",
        "ec2 vpc",
    ]
    assert "security-demo (" + made["vpc"] + ")" in {r.name for r in report.plan}
    order = [
        "DeleteSecurityGroup",
        "DisassociateRouteTable",
        "DeleteRouteTable",
        "DetachInternetGateway",
        "DeleteInternetGateway",
        "DeleteSubnet",
        "DeleteVpc",
    ]
    first = [calls.index(name) for name in order]
    assert first == sorted(first), calls
    assert [v["VpcId"] for v in plain("ec2").describe_vpcs(VpcIds=[theirs])["Vpcs"]] == [theirs]
    assert not plain("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["security-demo"]}])["Vpcs"]


def test_a_subnet_someone_else_added_to_the_course_vpc_is_named_and_not_waited_for(lab: ecslab.Lab) -> None:
    made = make_course_vpc(lab)
    foreign = plain("ec2").create_subnet(VpcId=made["vpc"], CidrBlock="10.20.99.0/24")["Subnet"]["SubnetId"]
    slept: list[float] = []
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=slept.append)
    assert [r.kind for r, _ in report.failed] == ["ec2 vpc"]
    reason = report.failed[0][1]
    assert f"blocked by subnet {foreign}, which the course did not make" in reason and "not waiting" in reason
    assert slept == []
    assert plain("ec2").describe_subnets(SubnetIds=[foreign])["Subnets"]  # never touched


def test_a_security_group_waits_for_a_deleted_albs_interface_but_not_for_an_instance(lab: ecslab.Lab) -> None:
    subnets, vpc = subnets_and_vpc()
    group = lab.ec2.create_security_group(GroupName="course-alb", Description="ALB", VpcId=vpc)["GroupId"]
    lingering = plain("ec2").create_network_interface(
        SubnetId=subnets[0], Groups=[group], Description="ELB app/course-alb/50dc6c495c0c9188"
    )
    fail_first(lab, "ec2", "DeleteSecurityGroup", "DependencyViolation", times=2)
    slept: list[float] = []
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=slept.append)
    assert report.failed == [] and slept == [2.0, 4.0]  # the ALB is gone: its interface goes by itself

    plain("ec2").delete_network_interface(NetworkInterfaceId=lingering["NetworkInterface"]["NetworkInterfaceId"])
    group = lab.ec2.create_security_group(GroupName="course-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    instance = plain("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnets[0], SecurityGroupIds=[group]
    )["Instances"][0]["InstanceId"]
    fail_first(lab, "ec2", "DeleteSecurityGroup", "DependencyViolation", times=100)
    slept.clear()
    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=slept.append)
    assert [r.kind for r, _ in report.failed] == ["ec2 security group"]
    assert instance in report.failed[0][1] and "which the course did not make" in report.failed[0][1]
    assert slept == []


def test_another_learners_load_balancer_in_the_group_is_named(aws: None) -> None:
    alice, bob = learner("alice"), learner("bob")
    subnets, vpc = subnets_and_vpc()
    group = alice.ec2.create_security_group(GroupName="alice-alb", Description="ALB", VpcId=vpc)["GroupId"]
    bob.elbv2.create_load_balancer(Name="bob-alb", Subnets=subnets[:2], SecurityGroups=[group])
    plain("ec2").create_network_interface(SubnetId=subnets[0], Groups=[group], Description="ELB app/bob-alb/0123456789abcdef")
    fail_first(alice, "ec2", "DeleteSecurityGroup", "DependencyViolation", times=100)
    report = aws_target.cleanup(alice, dry_run=False, say=lambda _m: None, sleep=lambda _s: pytest.fail("waited"))
    assert "of load balancer bob-alb" in report.failed[0][1]
    assert plain("elbv2").describe_load_balancers(Names=["bob-alb"])["LoadBalancers"]


def test_scalable_targets_are_tagged_and_go_before_their_service(lab: ecslab.Lab) -> None:
    lab.ecs.create_cluster(clusterName="lb-cluster")
    lab.ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    lab.ecs.create_service(cluster="lb-cluster", serviceName="lb-service", taskDefinition="web", desiredCount=1)
    autoscaling = lab.client("application-autoscaling")
    sent: list[dict[str, Any]] = []
    autoscaling.meta.events.register(
        "before-call.application-auto-scaling.RegisterScalableTarget", lambda params, **_k: sent.append(params)
    )
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/lb-cluster/lb-service",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    autoscaling.put_scaling_policy(
        PolicyName="cpu",
        ServiceNamespace="ecs",
        ResourceId="service/lb-cluster/lb-service",
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )
    assert json.loads(sent[0]["body"])["Tags"] == {TAG_KEY: COURSE_ID, OWNER_TAG_KEY: aws_target.owner_id(lab)}

    report = aws_target.cleanup(lab, dry_run=False, say=lambda _m: None, sleep=lambda _s: None)
    assert report.failed == [], report.render()
    assert [r.kind for r in report.plan][:2] == ["application-autoscaling scalable target", "ecs service"]
    assert report.plan[0].name == "service/lb-cluster/lb-service"
    assert autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert autoscaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []


def test_a_scalable_target_tagged_for_this_owner_is_found_by_its_tags(lab: ecslab.Lab) -> None:
    plain("ecs").create_cluster(clusterName="theirs")
    plain("ecs").register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    plain("ecs").create_service(cluster="theirs", serviceName="svc", taskDefinition="web", desiredCount=1)
    autoscaling = lab.client("application-autoscaling")
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/theirs/svc",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=2,
    )
    assert aws_target.cleanup(lab).plan == []  # moto keeps no tags here, and the service is not the course's
    tags = {TAG_KEY: COURSE_ID, OWNER_TAG_KEY: aws_target.owner_id(lab)}
    autoscaling.meta.events.register(
        "before-call.application-auto-scaling.ListTagsForResource",
        lambda **_k: (botocore.awsrequest.AWSResponse("https://x", 200, {}, None), {"Tags": tags}),
    )
    assert [r.name for r in aws_target.cleanup(lab).plan] == ["service/theirs/svc"]


def test_the_tag_parameter_of_register_scalable_target_is_a_map_in_the_service_model() -> None:
    model = botocore.session.get_session().get_service_model("application-autoscaling")
    assert model.operation_model("RegisterScalableTarget").input_shape.members["Tags"].type_name == "map"
    assert "Tags" not in model.operation_model("PutScalingPolicy").input_shape.members  # a policy goes with its target
    assert "deletes the scaling policies" in model.operation_model("DeregisterScalableTarget").documentation


def awslogs_definition(group: str, create: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "web",
            "image": "nginx",
            "memory": 128,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": group,
                    "awslogs-region": REGION,
                    "awslogs-stream-prefix": "web",
                    "awslogs-create-group": create,
                },
            },
        }
    ]


def test_a_log_group_ecs_would_create_is_created_tagged_by_the_lab_first(lab: ecslab.Lab) -> None:
    lab.ecs.register_task_definition(family="web", containerDefinitions=awslogs_definition("/ecs/made-for-ecs", "true"))
    lab.ecs.register_task_definition(family="strict", containerDefinitions=awslogs_definition("/ecs/must-exist", "false"))
    groups = {g["logGroupName"] for g in plain("logs").describe_log_groups()["logGroups"]}
    assert groups == {"/ecs/made-for-ecs"}  # without awslogs-create-group ECS would fail the task, as it should
    tags = plain("logs").list_tags_log_group(logGroupName="/ecs/made-for-ecs")["tags"]
    assert tags == {TAG_KEY: COURSE_ID, OWNER_TAG_KEY: aws_target.owner_id(lab)}

    plain("logs").delete_log_group(logGroupName="/ecs/made-for-ecs")  # gone before the task runs: made again
    lab.ecs.create_cluster(clusterName="c")
    subnets, _ = subnets_and_vpc()
    lab.ecs.run_task(
        cluster="c",
        taskDefinition="web",
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:1], "securityGroups": []}},
    )
    assert plain("logs").describe_log_groups(logGroupNamePrefix="/ecs/made-for-ecs")["logGroups"]
    assert (
        aws_target.awslogs_groups_to_create(awslogs_definition("/x", "TRUE"), "eu-west-1") == []
    )  # another region: not ours to make


def test_the_local_lab_makes_no_log_groups_for_ecs(aws: None) -> None:
    local = ecslab.Lab("local", REGION, None, ecslab.LabConfig.from_env(), boto3.Session(region_name=REGION))
    local.ecs.register_task_definition(family="web", containerDefinitions=awslogs_definition("/ecs/web", "true"))
    assert local.logs.describe_log_groups()["logGroups"] == []


# -- 4. the notebooks' clean-up helper ----------------------------------------------------------------

SECURITY_DEMO = cleanup.CourseResources(
    clusters=["security-cluster"],
    vpcs=["security-demo"],
    roles=["security-demo-task"],
    secrets=["security-demo/db-password"],
    buckets=["security-demo-reports"],
    repositories=["security-demo"],
    log_groups=["/ecs/security-demo"],
)


def test_remove_on_aws_never_touches_a_learners_own_resource_of_the_same_name(lab: ecslab.Lab) -> None:
    plain("iam").create_role(RoleName="security-demo-task", AssumeRolePolicyDocument=TRUST)
    plain("secretsmanager").create_secret(Name="security-demo/db-password", SecretString="theirs")
    plain("s3").create_bucket(Bucket="security-demo-reports")
    plain("ecs").create_cluster(clusterName="security-cluster")
    plain("ec2").create_vpc(
        CidrBlock="10.40.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "security-demo"}]}]
    )
    plain("logs").create_log_group(logGroupName="/ecs/security-demo")
    before = cleanup.left(lab, SECURITY_DEMO)
    assert cleanup.plan_on_aws(lab, SECURITY_DEMO) == []
    assert cleanup.remove(lab, SECURITY_DEMO, say=lambda _m: None) == before  # all still there: none is the course's
    assert "DeletedDate" not in plain("secretsmanager").describe_secret(SecretId="security-demo/db-password")


def test_remove_on_aws_deletes_the_courses_and_keeps_the_secrets_recovery_window(lab: ecslab.Lab) -> None:
    made = make_course_vpc(lab)
    lab.iam.create_role(RoleName="security-demo-task", AssumeRolePolicyDocument=TRUST)
    lab.iam.put_role_policy(
        RoleName="security-demo-task",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
    )
    lab.client("secretsmanager").create_secret(Name="security-demo/db-password", SecretString="s3cret")
    lab.client("s3").create_bucket(Bucket="security-demo-reports")
    lab.ecs.create_cluster(clusterName="security-cluster")
    lab.logs.create_log_group(logGroupName="/ecs/security-demo")
    lab.ecr.create_repository(repositoryName="elsewhere")  # the course's, but not named: stays
    calls: list[tuple[str, dict[str, Any]]] = []
    lab.client("secretsmanager").meta.events.register(
        "before-parameter-build.secrets-manager", lambda model, params, **_k: calls.append((model.name, dict(params)))
    )
    said: list[str] = []
    left = cleanup.remove(lab, SECURITY_DEMO, say=said.append)
    assert left == {"clusters": [], "VPCs": [], "log groups": [], "roles": [], "secrets": [], "buckets": [], "repositories": []}
    delete = next(params for name, params in calls if name == "DeleteSecret")
    assert delete.get("RecoveryWindowInDays") == 7 and not delete.get("ForceDeleteWithoutRecovery")
    assert "DeletedDate" in plain("secretsmanager").describe_secret(SecretId="security-demo/db-password")
    assert not plain("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [made["vpc"]]}])["Subnets"]
    assert plain("ecr").describe_repositories(repositoryNames=["elsewhere"])["repositories"]
    assert any("ec2 vpc security-demo" in line for line in said)


def test_remove_in_the_lab_deletes_by_name_in_awss_order(aws: None) -> None:
    local = ecslab.Lab("local", REGION, None, ecslab.LabConfig.from_env(), boto3.Session(region_name=REGION))
    subnets, vpc = subnets_and_vpc()
    make_course_vpc(local)
    local.iam.create_role(RoleName="security-demo-task", AssumeRolePolicyDocument=TRUST)
    local.client("secretsmanager").create_secret(Name="security-demo/db-password", SecretString="s3cret")
    local.client("s3").create_bucket(Bucket="security-demo-reports")
    local.client("s3").put_object(Bucket="security-demo-reports", Key="r.txt", Body=b"r")
    local.ecs.create_cluster(clusterName="security-cluster")
    local.logs.create_log_group(logGroupName="/ecs/security-demo")
    local.ecs.register_task_definition(family="lb-demo", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}])
    local.ecs.register_task_definition(
        family="lb-demo-other", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )
    alb = local.ec2.create_security_group(GroupName="lb-demo-alb", Description="ALB", VpcId=vpc)["GroupId"]
    local.ec2.create_security_group(GroupName="lb-demo-tasks", Description="tasks", VpcId=vpc)
    local.elbv2.create_load_balancer(Name="lb-demo-alb", Subnets=subnets[:2], SecurityGroups=[alb])
    local.elbv2.create_target_group(Name="lb-demo-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
    local.cloudwatch.put_metric_alarm(
        AlarmName="cap-app-cpu-high",
        MetricName="CPUUtilization",
        Namespace="AWS/ECS",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
    )
    everything = cleanup.CourseResources(
        alarms=["cap-app-cpu-high"],
        load_balancers=["lb-demo-alb"],
        target_groups=["lb-demo-tg"],
        security_groups=["lb-demo-tasks", "lb-demo-alb"],
        task_families=["lb-demo"],
        **{k: getattr(SECURITY_DEMO, k) for k in ("clusters", "vpcs", "roles", "secrets", "buckets", "log_groups")},
    )
    assert all(cleanup.left(local, everything).values())
    assert not any(cleanup.remove(local, everything).values())
    assert plain("secretsmanager").list_secrets()["SecretList"] == []  # the lab only: deleted at once, by name
    assert plain("ecs").list_task_definitions(familyPrefix="lb-demo-other")["taskDefinitionArns"]  # another family stays


def test_the_checkers_clean_ups_on_aws_touch_only_the_courses(lab: ecslab.Lab) -> None:
    from ecslab.checks import ex06, ex07, ex09, setup

    plain("secretsmanager").create_secret(Name=ex07.SECRET_NAME, SecretString="the learner's own")
    plain("iam").create_role(RoleName=ex07.TASK_ROLE, AssumeRolePolicyDocument=TRUST)
    plain("ecs").create_cluster(clusterName=ex06.CLUSTER)
    plain("ecr").create_repository(repositoryName="ex09-app")
    lab.iam.create_role(RoleName=ex09.TASK_ROLE, AssumeRolePolicyDocument=TRUST)  # the course's: goes
    ex07.delete_secret(lab, ex07.SECRET_NAME)
    ex07.delete_role(lab, ex07.TASK_ROLE)
    ex07.delete_cluster(lab, ex06.CLUSTER)
    ex06.remove_check_objects(lab, ex06.CLUSTER, ex06.ALB_NAME, [ex06.TARGET_GROUP])
    ex09._delete_role(lab, ex09.TASK_ROLE)
    assert setup.delete_repository(lab, "ex09-app") is False
    assert "DeletedDate" not in plain("secretsmanager").describe_secret(SecretId=ex07.SECRET_NAME)
    assert plain("iam").get_role(RoleName=ex07.TASK_ROLE)["Role"]
    assert plain("ecs").describe_clusters(clusters=[ex06.CLUSTER])["clusters"][0]["status"] == "ACTIVE"
    assert plain("ecr").describe_repositories(repositoryNames=["ex09-app"])["repositories"]
    assert [r["RoleName"] for r in plain("iam").list_roles()["Roles"] if r["RoleName"] == ex09.TASK_ROLE] == []


def test_a_checkers_secret_on_aws_keeps_its_recovery_window(lab: ecslab.Lab) -> None:
    from ecslab.checks import ex07

    lab.client("secretsmanager").create_secret(Name=ex07.SECRET_NAME, SecretString="made by the check")
    ex07.delete_secret(lab, ex07.SECRET_NAME)
    assert "DeletedDate" in plain("secretsmanager").describe_secret(SecretId=ex07.SECRET_NAME)  # scheduled, recoverable


def test_a_scheduled_course_secret_is_restored_for_a_second_run_and_no_other(lab: ecslab.Lab) -> None:
    lab.client("secretsmanager").create_secret(Name="course-secret", SecretString="first")
    cleanup.remove(lab, cleanup.CourseResources(secrets=["course-secret"]), say=lambda _m: None)
    plain("secretsmanager").create_secret(Name="theirs", SecretString="x")
    plain("secretsmanager").delete_secret(SecretId="theirs", RecoveryWindowInDays=7)
    arn = cleanup.restore_scheduled_secret(lab, "course-secret")
    assert arn and "DeletedDate" not in plain("secretsmanager").describe_secret(SecretId="course-secret")
    assert cleanup.restore_scheduled_secret(lab, "theirs") is None  # not the course's: left scheduled
    assert "DeletedDate" in plain("secretsmanager").describe_secret(SecretId="theirs")
    assert cleanup.restore_scheduled_secret(lab, "no-such-secret") is None
