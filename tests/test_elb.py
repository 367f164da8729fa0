"""The lab's ALB and service autoscaling, through plain boto3 and real HTTP.

One private lab for the module, the sample app pushed once; each test builds its
own load balancer so their traffic never mixes.
"""

from __future__ import annotations

import collections
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import network
from ecslab.config import LabConfig
from tests.conftest import LabClients, push_app_image


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image(lab: LabClients) -> str:
    return push_app_image(lab, "elb-test")


@pytest.fixture
def stack(lab: LabClients, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A cluster, an ALB, an ip target group (health /health every 5 s) and an HTTP listener."""
    name = request.node.name.replace("_", "-")[5:30].strip("-")
    subnets = lab.default_subnets(2)
    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    lab.ecs.create_cluster(clusterName=name)
    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc)
    balancer = lab.elbv2.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[alb_group], Type="application")[
        "LoadBalancers"
    ][0]
    group = lab.elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath=getattr(request, "param", "/health"),
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]
    lab.elbv2.modify_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}]
    )
    listener = lab.elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )["Listeners"][0]
    yield {
        "cluster": name,
        "subnets": ",".join(subnets),
        "lb": balancer["LoadBalancerArn"],
        "tg": group["TargetGroupArn"],
        "listener": listener["ListenerArn"],
        "task_group": task_group,
    }
    for arn in lab.ecs.list_services(cluster=name)["serviceArns"]:
        lab.ecs.delete_service(cluster=name, service=arn, force=True)
    deadline = time.monotonic() + 20
    while lab.ecs.list_tasks(cluster=name)["taskArns"] and time.monotonic() < deadline:
        time.sleep(0.2)
    lab.elbv2.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])


def service(
    lab: LabClients,
    stack: dict[str, str],
    image: str,
    count: int = 3,
    name: str = "web",
    environment: dict[str, str] | None = None,
    **extra: Any,
) -> None:
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition(name, image, environment=environment, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=stack["cluster"],
        serviceName=name,
        taskDefinition=definition,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": stack["subnets"].split(","), "securityGroups": [stack["task_group"]]}
        },
        loadBalancers=[{"targetGroupArn": stack["tg"], "containerName": "web", "containerPort": 8080}],
        **extra,
    )


def in_service(lab: LabClients, stack: dict[str, str], count: int = 1) -> None:
    """The waiter passes once every target registered so far is healthy; under load a task may still be starting: wait
    for ``count`` healthy targets too."""
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=stack["tg"], WaiterConfig={"Delay": 1, "MaxAttempts": 40})
    deadline = time.monotonic() + 40
    while [row["state"] for row in elb_tools.target_health(lab.elbv2, stack["tg"])].count("healthy") < count:
        assert time.monotonic() < deadline, elb_tools.target_health(lab.elbv2, stack["tg"])
        time.sleep(0.5)


def test_requests_reach_every_task_round_robin(lab: LabClients, stack: dict[str, str], image: str) -> None:
    # given
    service(lab, stack, image, count=3)
    url = elb_tools.listener_url(lab, stack["lb"])
    # then: the listener is a real server on loopback, in ecslab status --json too
    assert url.startswith("http://127.0.0.1:")
    balancers = lab.control("/status")["load_balancers"]
    assert [b["listeners"][0]["url"] for b in balancers if b["arn"] == stack["lb"]] == [url]
    # before any target is healthy, the ALB answers 503
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url + "/")
    assert raised.value.code == 503
    assert {row["state"] for row in elb_tools.target_health(lab.elbv2, stack["tg"])} <= {"initial"}
    # when
    in_service(lab, stack, count=3)
    hosts = collections.Counter(json.loads(urllib.request.urlopen(url + "/").read())["hostname"] for _ in range(30))
    # then
    assert sorted(hosts.values()) == [10, 10, 10]
    assert [row["state"] for row in elb_tools.target_health(lab.elbv2, stack["tg"])] == ["healthy"] * 3


@pytest.mark.parametrize("stack", ["/missing"], indirect=True)
def test_a_health_path_that_404s_makes_targets_unhealthy_with_aws_reason(
    lab: LabClients, stack: dict[str, str], image: str
) -> None:
    service(lab, stack, image, count=1, healthCheckGracePeriodSeconds=120)
    deadline = time.monotonic() + 30
    rows: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        rows = elb_tools.target_health(lab.elbv2, stack["tg"])
        if rows and rows[0]["state"] == "unhealthy":
            break
        time.sleep(0.5)
    assert rows[0]["state"] == "unhealthy" and rows[0]["reason"] == "Target.ResponseCodeMismatch"


def test_rolling_update_under_load_has_zero_failed_requests(lab: LabClients, stack: dict[str, str], image: str) -> None:
    # given
    service(lab, stack, image, count=3)
    in_service(lab, stack)
    url = elb_tools.listener_url(lab, stack["lb"])
    second = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("web", image, environment={"APP_VERSION": "v2"}, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    # when
    with elb_tools.TrafficGenerator(url, rate=40, concurrency=4) as traffic:
        time.sleep(1)
        lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=second)
        time.sleep(1)
        lab.ecs.get_waiter("services_stable").wait(
            cluster=stack["cluster"], services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        time.sleep(1)
    # then
    summary = traffic.summary()
    assert summary["failed"] == 0 and summary["requests"] > 300, summary
    assert set(summary["by_version"]) == {"v1", "v2"}
    assert traffic.responses[-1].version == "v2"
    tasks = ecs_tools.service_tasks(lab.ecs, stack["cluster"], "web")
    assert {ecs_tools.lab_call_task(task, config=lab.config)["version"] for task in tasks} == {"v2"} and len(tasks) == 3


def test_a_broken_revision_is_rolled_back_by_the_circuit_breaker(lab: LabClients, stack: dict[str, str], image: str) -> None:
    service(lab, stack, image, count=2, deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    in_service(lab, stack)
    lab.ecs.get_waiter("services_stable").wait(
        cluster=stack["cluster"], services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    # the rollback goes to the last deployment that COMPLETED: wait for the first one to be that
    # (services_stable counts running tasks; COMPLETED also needs them healthy behind the ALB, a
    # tick later: a CI run that updated in between had nothing to roll back to)
    deadline = time.monotonic() + 30
    while (
        lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]["deployments"][0]["rolloutState"]
        != "COMPLETED"
    ):
        assert time.monotonic() < deadline, "the first deployment never COMPLETED"
        time.sleep(0.2)
    good = lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]["taskDefinition"]
    broken = ecs_tools.task_definition("web", image, execution_role_arn=lab.execution_role_arn)
    broken["containerDefinitions"][0]["command"] = ["python3", "-c", "raise SystemExit(3)"]
    lab.ecs.update_service(
        cluster=stack["cluster"],
        service="web",
        taskDefinition=lab.ecs.register_task_definition(**broken)["taskDefinition"]["taskDefinitionArn"],
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        described = lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]
        primary = described["deployments"][0]
        if primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED" and len(described["deployments"]) == 1:
            break
        time.sleep(1)
    messages = [event["message"] for event in described["events"]]
    assert primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED"
    assert any("deployment failed: tasks failed to start" in message for message in messages)
    assert any("rolling back" in message for message in messages)


def test_bad_deployment_percentages_are_refused(lab: LabClients, stack: dict[str, str], image: str) -> None:
    with pytest.raises(ClientError) as raised:
        service(lab, stack, image, count=2, deploymentConfiguration={"minimumHealthyPercent": 150, "maximumPercent": 200})
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_a_duplicate_listener_port_is_refused_unless_identical(lab: LabClients, stack: dict[str, str]) -> None:
    same = lab.elbv2.create_listener(
        LoadBalancerArn=stack["lb"], Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": stack["tg"]}]
    )
    assert same["Listeners"][0]["ListenerArn"] == stack["listener"]  # CreateListener is idempotent
    with pytest.raises(ClientError) as raised:
        lab.elbv2.create_listener(
            LoadBalancerArn=stack["lb"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "hi", "ContentType": "text/plain"},
                }
            ],
        )
    assert raised.value.response["Error"]["Code"] == "DuplicateListener"


def test_target_tracking_scales_out_under_cpu_load_and_records_activities(
    lab: LabClients, stack: dict[str, str], image: str
) -> None:
    # given
    service(lab, stack, image, count=1)
    in_service(lab, stack)
    resource = f"service/{stack['cluster']}/web"
    lab.autoscaling.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=3
    )
    lab.autoscaling.put_scaling_policy(
        PolicyName="cpu50",
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            "ScaleOutCooldown": 5,
            "ScaleInCooldown": 5,
        },
    )
    url = elb_tools.listener_url(lab, stack["lb"])
    # when: about one busy core of load on a 0.25 vCPU task
    with elb_tools.TrafficGenerator(url, rate=12, concurrency=4, path="/work?ms=150"):
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]["desiredCount"] > 1:
                break
            time.sleep(1)
    # then
    assert lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]["desiredCount"] > 1
    activities = lab.autoscaling.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"]
    assert (
        activities
        and activities[0]["StatusCode"] == "Successful"
        and activities[0]["Description"].startswith("Setting desired count to ")
    )


def test_a_scaling_target_for_a_missing_service_is_refused(lab: LabClients, stack: dict[str, str]) -> None:
    with pytest.raises(ClientError) as raised:
        lab.autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{stack['cluster']}/nope",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=2,
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def _tiny_server(answer: bytes) -> tuple[Any, int]:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


def test_a_weighted_forward_splits_requests_by_weight_and_the_listener_counts_them(
    lab: LabClients, stack: dict[str, str]
) -> None:
    # given: two instance target groups, each with one target on this machine, behind one weighted default action
    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    servers, groups = [], []
    for answer in (b"blue", b"green"):
        server, port = _tiny_server(answer)
        servers.append(server)
        group = lab.elbv2.create_target_group(
            Name=f"weighted-{answer.decode()}",
            Protocol="HTTP",
            Port=port,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/",
            HealthCheckIntervalSeconds=5,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        lab.elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.1", "Port": port}])
        groups.append(group)
    weighted = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": groups[0], "Weight": 3}, {"TargetGroupArn": groups[1], "Weight": 1}]
            },
        }
    ]
    lab.elbv2.modify_listener(ListenerArn=stack["listener"], DefaultActions=weighted)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = [row["state"] for group in groups for row in elb_tools.target_health(lab.elbv2, group)]
        if health == ["healthy", "healthy"]:
            break
        time.sleep(0.5)
    assert health == ["healthy", "healthy"], [elb_tools.target_health(lab.elbv2, group) for group in groups]
    url = elb_tools.listener_url(lab, stack["lb"])
    try:
        # when
        answers = collections.Counter(urllib.request.urlopen(url + "/").read() for _ in range(200))
        # then: the split follows the weights, and the listener's own counts say the same
        assert answers == {b"blue": 150, b"green": 50}
        counts = lab.control("/elb/traffic")["listeners"][stack["listener"]]
        assert (counts[groups[0]], counts[groups[1]]) == (150, 50)
        status = [entry for b in lab.control("/status")["load_balancers"] if b["arn"] == stack["lb"] for entry in b["listeners"]]
        assert status[0]["requests_per_target_group"] == counts
        # a weight outside ELBv2's 0-999 is refused, and the listener keeps its actions
        too_heavy = [{**weighted[0], "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": groups[0], "Weight": 1000}]}}]
        with pytest.raises(ClientError, match="ValidationError|0 to 999"):
            lab.elbv2.modify_listener(ListenerArn=stack["listener"], DefaultActions=too_heavy)
        kept = lab.elbv2.describe_listeners(ListenerArns=[stack["listener"]])["Listeners"][0]["DefaultActions"][0]
        assert [g["Weight"] for g in kept["ForwardConfig"]["TargetGroups"]] == [3, 1]
    finally:
        lab.elbv2.modify_listener(
            ListenerArn=stack["listener"], DefaultActions=[{"Type": "forward", "TargetGroupArn": stack["tg"]}]
        )
        for group in groups:
            lab.elbv2.delete_target_group(TargetGroupArn=group)
        for server in servers:
            server.shutdown()
