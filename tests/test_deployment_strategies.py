"""ECS's BLUE_GREEN, CANARY and LINEAR deployments in the lab, under real load, through plain boto3.

One private lab for the module, the sample app pushed once; each test builds its own ALB (two target groups,
a production rule and a header-matched test rule), so their traffic never mixes. Deployment timers run on the
lab's clock (ecslab.config.LAB_SECONDS_PER_AWS_MINUTE: one AWS minute lasts one lab second).
"""

from __future__ import annotations

import collections
import hashlib
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import deployments, network
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab.config import LabConfig
from tests.conftest import LabClients, push_app_image

pytestmark = pytest.mark.lab

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers"


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image(lab: LabClients) -> str:
    return push_app_image(lab, "strategies-test")


@pytest.fixture
def stack(lab: LabClients, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A cluster, an ALB with a blue and a green ip target group, a production rule (/*, all to blue) and a test rule."""
    name = request.node.name.replace("_", "-")[5:16].strip("-") + "-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    subnets = lab.default_subnets(2)
    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    lab.ecs.create_cluster(clusterName=name)
    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc)
    balancer = lab.elbv2.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[alb_group], Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    groups = []
    for color in ("blue", "green"):
        groups.append(elb_tools.create_app_target_group(lab.elbv2, f"{name[:24]}-{color[0]}", vpc))
    listener = lab.elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    production = lab.elbv2.create_rule(
        ListenerArn=listener, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}], Actions=forward(groups, 1, 0)
    )["Rules"][0]["RuleArn"]
    test = lab.elbv2.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Test", "Values": ["green"]}}],
        Actions=forward(groups, 1, 0),
    )["Rules"][0]["RuleArn"]
    yield {
        "cluster": name,
        "subnets": subnets,
        "lb": balancer,
        "blue": groups[0],
        "green": groups[1],
        "listener": listener,
        "production": production,
        "test": test,
        "task_group": task_group,
    }
    for arn in lab.ecs.list_services(cluster=name)["serviceArns"]:
        lab.ecs.delete_service(cluster=name, service=arn, force=True)
    deadline = time.monotonic() + 20
    while lab.ecs.list_tasks(cluster=name)["taskArns"] and time.monotonic() < deadline:
        time.sleep(0.2)
    lab.elbv2.delete_load_balancer(LoadBalancerArn=balancer)


def forward(groups: list[str], blue: int, green: int) -> list[dict[str, Any]]:
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": groups[0], "Weight": blue}, {"TargetGroupArn": groups[1], "Weight": green}]
            },
        }
    ]


def definition(lab: LabClients, image: str, version: str, **extra: Any) -> str:
    made = ecs_tools.task_definition(
        "web", image, environment={"APP_VERSION": version}, execution_role_arn=lab.execution_role_arn
    )
    return str(lab.ecs.register_task_definition(**{**made, **extra})["taskDefinition"]["taskDefinitionArn"])


def load_balancers(stack: dict[str, Any], advanced: bool = True) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"targetGroupArn": stack["blue"], "containerName": "web", "containerPort": 8080}
    if advanced:
        entry["advancedConfiguration"] = {
            "alternateTargetGroupArn": stack["green"],
            "productionListenerRule": stack["production"],
            "testListenerRule": stack["test"],
            "roleArn": ROLE,
        }
    return [entry]


def create(lab: LabClients, stack: dict[str, Any], image: str, configuration: dict[str, Any], count: int = 3) -> None:
    lab.ecs.create_service(
        cluster=stack["cluster"],
        serviceName="web",
        taskDefinition=definition(lab, image, "v1"),
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": stack["subnets"], "securityGroups": [stack["task_group"]]}},
        loadBalancers=load_balancers(stack),
        deploymentConfiguration=configuration,
    )
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=stack["blue"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    lab.ecs.get_waiter("services_stable").wait(
        cluster=stack["cluster"], services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


def proxy_counts(lab: LabClients, stack: dict[str, Any]) -> dict[str, int]:
    """The listener's own per-target-group request counts (the lab's control API)."""
    counts: dict[str, int] = lab.control("/elb/traffic")["listeners"].get(stack["listener"], {})
    return counts


def roll_under_load(
    lab: LabClients, stack: dict[str, Any], image: str
) -> tuple[list[Any], list[tuple[deployments.Snapshot, dict[str, int], float]]]:
    """v1 -> v2 under ~100 requests/s: every response, and each reading of the deployment with the proxy's counts."""
    url = elb_tools.listener_url(lab, stack["lb"])
    second = definition(lab, image, "v2")
    readings: list[tuple[deployments.Snapshot, dict[str, int], float]] = []
    with elb_tools.TrafficGenerator(url, rate=100, concurrency=8) as traffic:
        time.sleep(1)
        lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=second)
        arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
        for reading in deployments.watch(lab.ecs, arn, clock=traffic.elapsed, interval=0.1, timeout=180):
            readings.append((reading, proxy_counts(lab, stack), traffic.elapsed()))
        time.sleep(1)
    return traffic.responses, readings


def check_split_and_timing(
    responses: list[Any], readings: list[tuple[deployments.Snapshot, dict[str, int], float]], stack: dict[str, Any]
) -> set[float]:
    """Per step the proxy's counts follow the weight (±10 points); v2 answers only once a shift was reported, v1 stops
    once 100% was reported. Gives the weights seen."""
    assert readings[-1][0].status == "SUCCESSFUL", deployments.story([r for r, _, _ in readings])
    per_weight: dict[float, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for (before, counts_before, _), (after, counts_after, _) in zip(readings, readings[1:], strict=False):
        if before.target_production_weight != after.target_production_weight or before.status != "IN_PROGRESS":
            continue
        for group in ("blue", "green"):
            per_weight[before.target_production_weight or 0.0][group] += counts_after.get(stack[group], 0) - counts_before.get(
                stack[group], 0
            )
    for weight, counts in per_weight.items():
        total = counts["blue"] + counts["green"]
        if total >= 50:
            assert abs(100 * counts["green"] / total - weight) <= 10, (weight, counts)
    # A reading's ``at`` is taken before its call and ``answered`` after: the state it shows held somewhere between.
    # A response was routed between its start (``at``) and its end (``at + seconds``).
    first_shift = next(r.at for r, _, _ in readings if (r.target_production_weight or 0) > 0)
    last_zero = max(r.at for r, _, _ in readings if (r.target_production_weight or 0) == 0 and r.at < first_shift)
    all_shifted = next(answered for r, _, answered in readings if (r.target_production_weight or 0) >= 100)
    ok = [response for response in responses if response.status == 200]
    first_v2_end = min(response.at + response.seconds for response in ok if response.version == "v2")
    last_v1_start = max(response.at for response in ok if response.version == "v1")
    assert first_v2_end >= last_zero, (first_v2_end, last_zero)  # no v2 before the first shift was reported
    assert last_v1_start <= all_shifted, (last_v1_start, all_shifted)  # no v1 after 100% was reported
    return {w for w in per_weight if sum(per_weight[w].values()) >= 50}


def test_a_canary_shifts_its_percent_then_the_rest_under_load(lab: LabClients, stack: dict[str, Any], image: str) -> None:
    # given: a canary of 20% for 6 AWS minutes (6 lab seconds), then a 3-minute bake
    create(
        lab,
        stack,
        image,
        {
            "strategy": "CANARY",
            "bakeTimeInMinutes": 3,
            "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 6},
        },
    )
    # when
    responses, readings = roll_under_load(lab, stack, image)
    # then: no failed request, ≥ 1000 during the rollout, the proxy's split follows each step
    assert [r for r in responses if r.status != 200] == []
    rollout = [r for r in responses if readings[0][0].at <= r.at <= readings[-1][0].at]
    assert len(rollout) >= 1000, len(rollout)
    assert {20.0, 100.0} <= check_split_and_timing(responses, readings, stack)
    stages = [r.lifecycle_stage for r, _, _ in readings]
    assert stages.index("SCALE_UP") < stages.index("PRODUCTION_TRAFFIC_SHIFT") < stages.index("BAKE_TIME")
    rule = lab.elbv2.describe_rules(RuleArns=[stack["production"]])["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert {(g["TargetGroupArn"], g["Weight"]) for g in rule} == {(stack["blue"], 0), (stack["green"], 1)}


def test_a_linear_rollout_shifts_in_equal_steps_under_load(lab: LabClients, stack: dict[str, Any], image: str) -> None:
    create(
        lab,
        stack,
        image,
        {"strategy": "LINEAR", "bakeTimeInMinutes": 2, "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 4}},
    )
    responses, readings = roll_under_load(lab, stack, image)
    assert [r for r in responses if r.status != 200] == []
    rollout = [r for r in responses if readings[0][0].at <= r.at <= readings[-1][0].at]
    assert len(rollout) >= 1000, len(rollout)
    assert {25.0, 50.0, 75.0} <= check_split_and_timing(responses, readings, stack)


def test_blue_green_tests_green_first_then_shifts_at_once_and_tells_the_story(
    lab: LabClients, stack: dict[str, Any], image: str
) -> None:
    create(lab, stack, image, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 4})
    url = elb_tools.listener_url(lab, stack["lb"])
    second = definition(lab, image, "v2")
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=second)
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    tested = None
    for reading in deployments.watch(lab.ecs, arn, interval=0.1, timeout=120):
        if reading.lifecycle_stage == "BAKE_TIME" and tested is None:
            request = urllib.request.Request(url + "/", headers={"X-Test": "green"})
            tested = urllib.request.urlopen(request, timeout=5).read()
    assert reading.status == "SUCCESSFUL"
    assert tested is not None and b"v2" in tested
    described = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert described["deploymentConfiguration"]["strategy"] == "BLUE_GREEN" and described["finishedAt"] >= described["startedAt"]
    revision = lab.ecs.describe_service_revisions(serviceRevisionArns=[described["targetServiceRevision"]["arn"]])[
        "serviceRevisions"
    ][0]
    assert revision["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] == stack["green"]
    assert revision["taskDefinition"] == second
    # the next deployment goes the other way: green is now production, blue the alternate
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v3"))
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=120).status == "SUCCESSFUL"
    revision_arn = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0][
        "targetServiceRevision"
    ]["arn"]
    revision = lab.ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"][0]
    assert revision["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] == stack["blue"]


def test_an_alarm_during_bake_rolls_back_with_blue_still_serving(lab: LabClients, stack: dict[str, Any], image: str) -> None:
    lab.cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    create(
        lab,
        stack,
        image,
        {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 30,
            "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True},
        },
    )
    url = elb_tools.listener_url(lab, stack["lb"])
    first = lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]["taskDefinition"]
    with elb_tools.TrafficGenerator(url, rate=40, concurrency=4) as traffic:
        lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v2"))
        arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
        readings = []
        for reading in deployments.watch(lab.ecs, arn, interval=0.1, timeout=120):
            readings.append(reading)
            if reading.lifecycle_stage == "BAKE_TIME" and reading.status == "IN_PROGRESS":
                lab.cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="a bad release (test)")
        time.sleep(2)
    assert readings[-1].status == "ROLLBACK_SUCCESSFUL", deployments.story(readings)
    assert "ROLLBACK_IN_PROGRESS" in {r.status for r in readings}
    described = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["alarms"]["triggeredAlarmNames"] == ["web-5xx"] and described["alarms"]["status"] == "TRIGGERED"
    assert described["rollback"]["serviceRevisionArn"] == described["sourceServiceRevisions"][0]["arn"]
    assert [r for r in traffic.responses if r.status != 200] == []
    assert traffic.responses[-1].version == "v1"
    tasks = ecs_tools.service_tasks(lab.ecs, stack["cluster"], "web")
    assert {ecs_tools.lab_call_task(task, config=lab.config)["version"] for task in tasks} == {"v1"} and len(tasks) == 3
    service = lab.ecs.describe_services(cluster=stack["cluster"], services=["web"])["services"][0]
    assert service["taskDefinition"] == first and len(service["deployments"]) == 1


def test_stop_service_deployment_rolls_back_by_hand(lab: LabClients, stack: dict[str, Any], image: str) -> None:
    create(
        lab,
        stack,
        image,
        {
            "strategy": "CANARY",
            "bakeTimeInMinutes": 5,
            "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 60},
        },
    )
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v2"))
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    for reading in deployments.watch(lab.ecs, arn, interval=0.1, timeout=60):
        if reading.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT":
            break
    assert lab.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")["serviceDeploymentArn"] == arn
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=60).status == "ROLLBACK_SUCCESSFUL"
    with pytest.raises(ClientError, match="cannot be stopped"):
        lab.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")


@pytest.mark.parametrize(
    ("configuration", "advanced", "words"),
    [
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}, False, "advancedConfiguration is required"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, True, "bakeTimeInMinutes must be between 0 and 1440"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 150.0}}, True, "canaryPercent"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 2000}}, True, "canaryBakeTimeInMinutes"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 1.0}}, True, "stepPercent"),
        (
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 1,
                "lifecycleHooks": [
                    {
                        "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                        "roleArn": ROLE,
                        "lifecycleStages": ["POST_SCALE_UP"],
                    }
                ],
            },
            True,
            "not modelled in the lab",
        ),
    ],
)
def test_bad_strategies_are_refused_and_nothing_is_created(
    lab: LabClients, stack: dict[str, Any], image: str, configuration: dict[str, Any], advanced: bool, words: str
) -> None:
    with pytest.raises(ClientError) as raised:
        lab.ecs.create_service(
            cluster=stack["cluster"],
            serviceName="web",
            taskDefinition=definition(lab, image, "v1"),
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": stack["subnets"], "securityGroups": [stack["task_group"]]}},
            loadBalancers=load_balancers(stack, advanced),
            deploymentConfiguration=configuration,
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException" and words in str(raised.value)
    assert lab.ecs.list_services(cluster=stack["cluster"])["serviceArns"] == []


def test_a_rolling_deployment_is_a_service_deployment_too(lab: LabClients, stack: dict[str, Any], image: str) -> None:
    lab.ecs.create_service(
        cluster=stack["cluster"],
        serviceName="web",
        taskDefinition=definition(lab, image, "v1"),
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": stack["subnets"], "securityGroups": [stack["task_group"]]}},
        loadBalancers=load_balancers(stack, advanced=False),
    )
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=stack["blue"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    first = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    assert deployments.wait_for_deployment(lab.ecs, first, timeout=60).status == "SUCCESSFUL"
    lab.ecs.get_waiter("services_stable").wait(
        cluster=stack["cluster"], services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v2"))
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=120).status == "SUCCESSFUL"
    listed = lab.ecs.list_service_deployments(cluster=stack["cluster"], service="web")["serviceDeployments"]
    assert [d["status"] for d in listed] == ["SUCCESSFUL", "SUCCESSFUL"]
    described = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["sourceServiceRevisions"][0]["arn"] == listed[1]["targetServiceRevisionArn"]
    assert "lifecycleStage" not in described  # not modelled for rolling deployments


def test_the_circuit_breaker_rolls_back_green_tasks_that_fail_to_start(
    lab: LabClients, stack: dict[str, Any], image: str
) -> None:
    create(
        lab,
        stack,
        image,
        {
            "strategy": "CANARY",
            "bakeTimeInMinutes": 1,
            "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    missing = image.rsplit(":", 1)[0] + ":no-such-tag"
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, missing, "v2"))
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    readings = list(deployments.watch(lab.ecs, arn, interval=0.2, timeout=120))
    assert readings[-1].status == "ROLLBACK_SUCCESSFUL", deployments.story(readings)
    assert {r.target_production_weight for r in readings} == {0.0}  # production traffic never left blue
    described = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["deploymentCircuitBreaker"]["failureCount"] >= 3 and "circuit breaker" in described["statusReason"]
    url = elb_tools.listener_url(lab, stack["lb"])
    assert {urllib.request.urlopen(url + "/").read().count(b"v1") > 0 for _ in range(10)} == {True}


def test_a_production_rule_naming_only_blue_gets_green_at_weight_zero(lab: LabClients, stack: dict[str, Any], image: str) -> None:
    # given: an alternate target group no listener action names yet, and a production rule forwarding to blue alone
    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    alternate = lab.elbv2.create_target_group(
        Name=stack["cluster"][:26] + "-a",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    lab.elbv2.modify_rule(RuleArn=stack["production"], Actions=[{"Type": "forward", "TargetGroupArn": stack["blue"]}])
    create(lab, {**stack, "green": alternate}, image, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    # when
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v2"))
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    # then: the green tasks are health-checked in the alternate group and production moves to it
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=120).status == "SUCCESSFUL"
    rule = lab.elbv2.describe_rules(RuleArns=[stack["production"]])["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert {(g["TargetGroupArn"], g["Weight"]) for g in rule} == {(stack["blue"], 0), (alternate, 1)}
