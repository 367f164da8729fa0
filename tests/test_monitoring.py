"""CloudWatch in the lab: awslogs shipping, AWS/ECS metrics, alarms, through plain boto3."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecslab import ecs as ecs_tools
from ecslab.config import LabConfig
from tests.conftest import LabClients, push_app_image

# -- no lab: the shared docker-stats sampler and step scaling, with fakes -------------------------------


def stats(cpu_used: int, system_used: int, memory_bytes: int) -> dict[str, Any]:
    """``docker stats`` as the engine gives it: usage now and one sample earlier."""
    return {
        "cpu_stats": {"cpu_usage": {"total_usage": cpu_used}, "system_cpu_usage": system_used, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0},
        "memory_stats": {"usage": memory_bytes, "stats": {"cache": 0}},
    }


class FakeEngine:
    """A Docker client with one container per task, counting how often it is asked."""

    def __init__(self, by_task: dict[str, dict[str, Any]]) -> None:
        self.by_task = by_task
        self.asked = 0
        self.containers = self

    def list(self, filters: dict[str, str], ignore_removed: bool) -> list[Any]:
        self.asked += 1
        arn = filters["label"].split("=", 1)[1]
        answer = self.by_task[arn]

        class Container:
            def stats(self, stream: bool) -> dict[str, Any]:
                return answer

        return [Container()]


def test_the_sampler_reads_percentages_of_what_tasks_reserve_and_shares_fresh_readings() -> None:
    from ecslab.lab.monitoring import ContainerSampler
    from ecslab.lab.moto.applicationautoscaling import RunningTask

    half_a_core = stats(cpu_used=25, system_used=100, memory_bytes=64 * 2**20)  # 25 % of 2 cores = 0.5 core
    engine = FakeEngine({"arn:task/a": half_a_core})
    sampler = ContainerSampler()
    task = RunningTask("arn:task/a", cpu_units=512, memory_mib=256)
    first = sampler.readings(engine, [task])
    assert [(round(r.cpu), round(r.memory)) for r in first] == [(100, 25)]  # 0.5 core of 0.5 reserved; 64 of 256 MiB
    assert sampler.readings(engine, [task]) == first and engine.asked == 1  # the other filler, a moment later
    sampler.clear()
    sampler.readings(engine, [task])
    assert engine.asked == 2


def test_an_engine_that_fails_gives_no_reading() -> None:
    from ecslab.lab.monitoring import ContainerSampler
    from ecslab.lab.moto.applicationautoscaling import RunningTask

    class Broken:
        containers = None

    assert ContainerSampler().readings(Broken(), [RunningTask("arn:task/a", 1024, 512)]) == []


def test_step_scaling_picks_the_step_and_keeps_within_capacity() -> None:
    from ecslab.lab.monitoring import step_scaling_capacity
    from ecslab.lab.moto.applicationautoscaling import EcsScalingPolicy

    def policy(kind: str, adjustment: int, low: int | None = 1, high: int | None = 10) -> EcsScalingPolicy:
        steps = [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": adjustment}]
        configuration = {"AdjustmentType": kind, "StepAdjustments": steps}
        return EcsScalingPolicy("arn", "p", "service/c/s", low, high, None, configuration)

    assert step_scaling_capacity(policy("ChangeInCapacity", 2), current=3, difference=5.0) == 5
    assert step_scaling_capacity(policy("PercentChangeInCapacity", 50), current=4, difference=5.0) == 6
    assert step_scaling_capacity(policy("ExactCapacity", 7), current=3, difference=5.0) == 7
    assert step_scaling_capacity(policy("ChangeInCapacity", 20), current=3, difference=5.0) == 10  # max capacity
    assert step_scaling_capacity(policy("ChangeInCapacity", -5), current=3, difference=5.0) == 1  # min capacity
    assert step_scaling_capacity(policy("ChangeInCapacity", 2), current=3, difference=-1.0) is None  # no step covers it


# -- in a lab ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab, create_log_groups=True)  # the tests use awslogs-create-group


@pytest.fixture(scope="module")
def image(lab: LabClients) -> str:
    return push_app_image(lab, "monitoring-test")


@pytest.fixture
def cluster(lab: LabClients, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.replace("_", "-")[5:35].strip("-")
    lab.ecs.create_cluster(clusterName=name)
    yield name
    for arn in lab.ecs.list_services(cluster=name)["serviceArns"]:
        lab.ecs.delete_service(cluster=name, service=arn, force=True)


def logged_service(lab: LabClients, cluster: str, image: str, group: str, create_group: bool = True, count: int = 1) -> None:
    definition = ecs_tools.task_definition("logged", image, execution_role_arn=lab.execution_role_arn)
    definition["containerDefinitions"][0]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": group,
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecs",
            "awslogs-create-group": str(create_group).lower(),
        },
    }
    arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=cluster,
        serviceName="logged",
        taskDefinition=arn,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": lab.default_subnets(1)}},
    )


def test_a_service_line_reaches_cloudwatch_logs_within_two_seconds(lab: LabClients, cluster: str, image: str) -> None:
    # given
    logged_service(lab, cluster, image, f"/ecs/{cluster}")
    lab.ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=["logged"], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    task = ecs_tools.service_tasks(lab.ecs, cluster, "logged")[0]
    stream = f"ecs/web/{task['taskArn'].split('/')[-1]}"
    # when: the app logs one line per request
    marker = f"/marker-{time.time_ns()}"
    try:
        urllib.request.urlopen(ecs_tools.lab_internal_task_url(task, config=lab.config) + marker)
    except Exception:
        pass  # 404 is fine: the request line is logged anyway
    sent = time.monotonic()
    found = []
    while time.monotonic() - sent < 2.0 and not found:
        events = lab.logs.get_log_events(logGroupName=f"/ecs/{cluster}", logStreamName=stream)["events"]
        found = [e for e in events if marker in e["message"]]
        time.sleep(0.1)
    # then
    assert found, "the request line did not reach CloudWatch Logs within 2 s"
    started = lab.logs.filter_log_events(logGroupName=f"/ecs/{cluster}", filterPattern="listening")["events"]
    assert any("sample app v1 listening on port 8080" in e["message"] for e in started)


def test_a_missing_log_group_without_create_group_stops_the_task(lab: LabClients, cluster: str, image: str) -> None:
    logged_service(lab, cluster, image, "/ecs/does-not-exist", create_group=False)
    deadline = time.monotonic() + 20
    stopped: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not stopped:
        stopped = ecs_tools.service_tasks(lab.ecs, cluster, "logged", desired_status="STOPPED")
        time.sleep(0.3)
    assert stopped and stopped[0]["stopCode"] == "TaskFailedToStart"
    assert (
        stopped[0]["stoppedReason"].startswith("ResourceInitializationError:")
        and "log group does not exist" in stopped[0]["stoppedReason"]
    )


def test_ecs_metrics_are_published_and_an_alarm_goes_to_alarm_under_load(lab: LabClients, cluster: str, image: str) -> None:
    # given
    logged_service(lab, cluster, image, f"/ecs/{cluster}")
    lab.ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=["logged"], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    dimensions = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": "logged"}]
    scaling = lab.autoscaling
    resource = f"service/{cluster}/logged"
    scaling.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=3
    )
    policy = scaling.put_scaling_policy(
        PolicyName="step-out",
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            "Cooldown": 5,
        },
    )["PolicyARN"]
    lab.cloudwatch.put_metric_alarm(
        AlarmName=f"{cluster}-cpu",
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=dimensions,
        AlarmActions=[policy],
        Statistic="Average",
        Period=10,
        EvaluationPeriods=1,
        Threshold=20.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    lab.cloudwatch.put_metric_alarm(
        AlarmName=f"{cluster}-nothing",
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterName", "Value": "no-such-cluster"}],
        Statistic="Average",
        Period=10,
        EvaluationPeriods=1,
        Threshold=20.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    url = ecs_tools.lab_internal_task_url(ecs_tools.service_tasks(lab.ecs, cluster, "logged")[0], config=lab.config)
    # when: CPU load
    from ecslab.elb import TrafficGenerator

    with TrafficGenerator(url, rate=8, concurrency=4, path="/work?ms=200"):
        deadline = time.monotonic() + 45
        state = None
        while time.monotonic() < deadline:
            state = lab.cloudwatch.describe_alarms(AlarmNames=[f"{cluster}-cpu"])["MetricAlarms"][0]
            if state["StateValue"] == "ALARM":
                break
            time.sleep(1)
    # then
    points = lab.cloudwatch.get_metric_statistics(
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=dimensions,
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC),
        Period=60,
        Statistics=["Average", "Maximum"],
    )["Datapoints"]
    assert points and max(p["Maximum"] for p in points) > 20
    assert (
        state is not None
        and state["StateValue"] == "ALARM"
        and state["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    )
    nothing = lab.cloudwatch.describe_alarms(AlarmNames=[f"{cluster}-nothing"])["MetricAlarms"][0]
    assert nothing["StateValue"] == "INSUFFICIENT_DATA"
    from ecslab.monitoring import alarm_history

    assert alarm_history(lab.cloudwatch, f"{cluster}-cpu")[-1]["to"] == "ALARM"
    # the alarm's action ran the step scaling policy
    assert lab.ecs.describe_services(cluster=cluster, services=["logged"])["services"][0]["desiredCount"] == 2
    activity = scaling.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource)["ScalingActivities"][0]
    assert activity["Cause"] == f"monitor alarm {cluster}-cpu in state ALARM triggered policy step-out"
