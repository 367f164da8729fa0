"""The lab's ECS: services whose tasks are real containers, seen through plain boto3.

One private lab for the module; the sample app image is pushed to its registry once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab.config import LabConfig
from ecslab.lab import manage
from tests.conftest import LabClients, push_app_image


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image_uri(lab: LabClients) -> str:
    return push_app_image(lab, "agent-test")


@pytest.fixture(scope="module")
def subnet(lab: LabClients) -> str:
    return lab.default_subnets(1)[0]


@pytest.fixture
def cluster(lab: LabClients, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.replace("_", "-")[:40].strip("-")
    lab.ecs.create_cluster(clusterName=name)
    yield name
    for arn in lab.ecs.list_services(cluster=name)["serviceArns"]:
        lab.ecs.delete_service(cluster=name, service=arn, force=True)
    deadline = time.monotonic() + 15
    while lab.ecs.list_tasks(cluster=name)["taskArns"] and time.monotonic() < deadline:
        time.sleep(0.2)


def fargate_service(
    lab: LabClients, cluster: str, image: str, subnet: str, count: int = 2, name: str = "api", **extra: Any
) -> str:
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition(name, image, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=definition,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
        **extra,
    )
    return str(definition)


def stable(lab: LabClients, cluster: str, service: str = "api") -> dict[str, Any]:
    lab.ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=[service], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    return dict(lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0])


def test_a_service_runs_desired_count_real_containers(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    # when
    fargate_service(lab, cluster, image_uri, subnet, count=2)
    service = stable(lab, cluster)
    # then
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert service["events"][0]["message"] == "(service api) has reached a steady state."
    tasks = ecs_tools.service_tasks(lab.ecs, cluster, "api")
    assert len(tasks) == 2
    hostnames = set()
    for task in tasks:
        assert task["lastStatus"] == "RUNNING" and task["startedAt"] >= task["createdAt"]
        assert task["containers"][0].get("networkBindings", []) == []  # awsvpc: AWS reports no host port bindings
        assert task["containers"][0]["networkInterfaces"][0]["attachmentId"] == task["attachments"][0]["id"]
        answer = ecs_tools.lab_call_task(task, config=lab.config)  # no public IP (assignPublicIp is DISABLED by default)
        assert answer["version"] == "v1"
        hostnames.add(answer["hostname"])
        container = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={task['taskArn']}"})[0]
        assert container.attrs["HostConfig"]["Memory"] == 512 * 1024 * 1024
        assert container.attrs["HostConfig"]["NanoCpus"] == 250_000_000
    assert len(hostnames) == 2


def test_list_tasks_by_service_returns_only_its_tasks(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    fargate_service(lab, cluster, image_uri, subnet, count=1, name="one")
    fargate_service(lab, cluster, image_uri, subnet, count=2, name="two")
    stable(lab, cluster, "one")
    stable(lab, cluster, "two")
    one = lab.ecs.list_tasks(cluster=cluster, serviceName="one")["taskArns"]
    two = lab.ecs.list_tasks(cluster=cluster, serviceName="two")["taskArns"]
    assert len(one) == 1 and len(two) == 2 and not set(one) & set(two)


def test_a_killed_container_stops_its_task_and_the_service_heals(
    lab: LabClients, cluster: str, image_uri: str, subnet: str
) -> None:
    # given
    fargate_service(lab, cluster, image_uri, subnet, count=2)
    stable(lab, cluster)
    victim = lab.ecs.list_tasks(cluster=cluster, serviceName="api")["taskArns"][0]
    # when
    ecs_tools.kill_task_container(lab.docker, victim)
    started = time.monotonic()
    lab.ecs.get_waiter("tasks_stopped").wait(cluster=cluster, tasks=[victim], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40})
    # then
    task = lab.ecs.describe_tasks(cluster=cluster, tasks=[victim])["tasks"][0]
    assert (task["stopCode"], task["stoppedReason"]) == ("EssentialContainerExited", "Essential container in task exited")
    assert task["containers"][0]["exitCode"] == 137 and task["stoppedAt"] >= task["startedAt"]
    service = stable(lab, cluster)
    assert time.monotonic() - started < 10
    assert service["runningCount"] == 2 and victim not in lab.ecs.list_tasks(cluster=cluster, serviceName="api")["taskArns"]
    assert any("has started 1 tasks" in event["message"] for event in service["events"])


def test_stop_task_walks_aws_states_and_removes_the_container(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("oneoff", image_uri, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    task = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
    )["tasks"][0]
    assert task["lastStatus"] == "PROVISIONING"
    lab.ecs.get_waiter("tasks_running").wait(
        cluster=cluster, tasks=[task["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40}
    )
    lab.ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="done for today")
    seen = set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        described = lab.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]
        seen.add(described["lastStatus"])
        if described["lastStatus"] == "STOPPED":
            break
        time.sleep(0.05)
    assert (
        described["lastStatus"] == "STOPPED"
        and described["stopCode"] == "UserInitiated"
        and described["stoppedReason"] == "done for today"
    )
    assert seen <= {"RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}
    assert not lab.docker.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task['taskArn']}"})
    assert task["taskArn"] in lab.ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    assert task["taskArn"] not in lab.ecs.list_tasks(cluster=cluster)["taskArns"]


def test_update_service_rolls_to_the_new_revision(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    first = fargate_service(lab, cluster, image_uri, subnet, count=2)
    stable(lab, cluster)
    second = lab.ecs.register_task_definition(
        **ecs_tools.task_definition(
            "api", image_uri, environment={"APP_VERSION": "v2"}, execution_role_arn=lab.execution_role_arn
        )
    )["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.update_service(cluster=cluster, service="api", taskDefinition=second)
    during = lab.ecs.describe_services(cluster=cluster, services=["api"])["services"][0]["deployments"]
    assert [(d["status"], d["taskDefinition"]) for d in during] == [("PRIMARY", second), ("ACTIVE", first)]
    service = stable(lab, cluster)
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in service["deployments"]] == [
        ("PRIMARY", second, "COMPLETED")
    ]
    versions = {
        ecs_tools.lab_call_task(task, config=lab.config)["version"] for task in ecs_tools.service_tasks(lab.ecs, cluster, "api")
    }
    assert versions == {"v2"}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"memory": "4096"}, "No Fargate configuration exists for given values: 256 CPU, 4096 memory."),
        ({"networkMode": "bridge"}, "Fargate only supports network mode 'awsvpc'."),
        ({"family": "my app!"}, "Family name can be up to 255 letters"),
    ],
)
def test_invalid_fargate_task_definitions_are_refused_in_ecs_words(
    lab: LabClients, image_uri: str, changes: dict[str, str], message: str
) -> None:
    definition = ecs_tools.task_definition("checked", image_uri, execution_role_arn=lab.execution_role_arn) | changes
    with pytest.raises(ClientError) as raised:
        lab.ecs.register_task_definition(**definition)
    assert raised.value.response["Error"]["Code"] == "ClientException"
    assert message in raised.value.response["Error"]["Message"]


def test_an_image_missing_from_the_registry_stops_with_cannot_pull(
    lab: LabClients, cluster: str, image_uri: str, subnet: str
) -> None:
    missing = image_uri.rsplit(":", 1)[0] + ":no-such-tag"
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("missing", missing, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    task = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
    )["tasks"][0]
    lab.ecs.get_waiter("tasks_stopped").wait(
        cluster=cluster, tasks=[task["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40}
    )
    stopped = lab.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith("CannotPullContainerError:")


def test_ec2_placement_honours_capacity(lab: LabClients, cluster: str, image_uri: str) -> None:
    ecs_tools.add_container_instances(lab, cluster, count=1, instance_type="t3.small")  # 2 vCPU, 1792 MiB for tasks
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("big", image_uri, cpu=512, memory=1024, launch_type="EC2")
    )["taskDefinition"]["taskDefinitionArn"]
    result = lab.ecs.run_task(cluster=cluster, taskDefinition=definition, launchType="EC2", count=2)
    assert len(result["tasks"]) == 1
    assert [failure["reason"] for failure in result["failures"]] == ["RESOURCE:MEMORY"]
    lab.ecs.get_waiter("tasks_running").wait(
        cluster=cluster, tasks=[result["tasks"][0]["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40}
    )
    assert (
        ecs_tools.call_task(
            result["tasks"][0] | lab.ecs.describe_tasks(cluster=cluster, tasks=[result["tasks"][0]["taskArn"]])["tasks"][0]
        )["version"]
        == "v1"
    )
    lab.ecs.stop_task(cluster=cluster, task=result["tasks"][0]["taskArn"])


def test_ec2_without_instances_says_so(lab: LabClients, cluster: str, image_uri: str) -> None:
    definition = lab.ecs.register_task_definition(**ecs_tools.task_definition("hostless", image_uri, launch_type="EC2"))[
        "taskDefinition"
    ]["taskDefinitionArn"]
    with pytest.raises(ClientError, match="No Container Instances were found in your cluster."):
        lab.ecs.run_task(cluster=cluster, taskDefinition=definition, launchType="EC2")


def test_a_service_too_big_for_its_instances_reports_an_event(lab: LabClients, cluster: str, image_uri: str) -> None:
    ecs_tools.add_container_instances(lab, cluster, count=1, instance_type="t3.small")
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("tight", image_uri, cpu=512, memory=1024, launch_type="EC2")
    )["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(cluster=cluster, serviceName="tight", taskDefinition=definition, desiredCount=2, launchType="EC2")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        service = lab.ecs.describe_services(cluster=cluster, services=["tight"])["services"][0]
        if service["runningCount"] == 1 and any("insufficient memory" in e["message"] for e in service["events"]):
            break
        time.sleep(0.3)
    assert service["runningCount"] == 1
    assert any(
        "was unable to place a task because no container instance met all of its requirements" in e["message"]
        for e in service["events"]
    )


def test_bad_deployment_percentages_are_refused_and_nothing_is_created(
    lab: LabClients, cluster: str, image_uri: str, subnet: str
) -> None:
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("pct", image_uri, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError, match="maximumPercent must be greater than minimumHealthyPercent"):
        lab.ecs.create_service(
            cluster=cluster,
            serviceName="pct",
            taskDefinition=definition,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
            deploymentConfiguration={"maximumPercent": 100, "minimumHealthyPercent": 100},
        )
    assert lab.ecs.list_services(cluster=cluster)["serviceArns"] == []


def test_a_cluster_with_services_cannot_be_deleted(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    fargate_service(lab, cluster, image_uri, subnet, count=1)
    with pytest.raises(ClientError, match="The Cluster cannot be deleted while Services are active."):
        lab.ecs.delete_cluster(cluster=cluster)


def test_the_agent_log_tells_what_happened(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    fargate_service(lab, cluster, image_uri, subnet, count=1)
    stable(lab, cluster)
    lines = ecs_tools.agent_log(lab, last=50)
    assert any("PENDING: pulling " + image_uri in line for line in lines)
    assert any("RUNNING:" in line and "web:8080 -> 127.0.0.1:" in line for line in lines)


def test_reset_and_down_leave_no_task_container(isolated_config: LabConfig, image_uri: str) -> None:
    config = isolated_config
    manage.up(config, say=lambda _m: None)
    try:
        clients = LabClients(config)
        uri = push_app_image(clients, "down-test", build=False)  # the sample app, built for image_uri
        clients.ecs.create_cluster(clusterName="down")
        fargate_service(clients, "down", uri, clients.default_subnets(1)[0], count=2)
        stable(clients, "down")
        assert len(manage.lab_containers(config)) == 2
        manage.reset(config, say=lambda _m: None)
        time.sleep(1)  # a service that survived the reset would have started tasks again by now
        assert manage.lab_containers(config) == []
    finally:
        manage.down(config, say=lambda _m: None)
    assert manage.lab_containers(config) == []


def test_services_stable_waiter_and_json_status(lab: LabClients) -> None:
    names = [filler["name"] for filler in lab.control("/status")["fillers"]]
    assert "ECS agent" in names


def test_a_fixed_host_port_already_taken_stops_the_task_with_docker_words(lab: LabClients, cluster: str, image_uri: str) -> None:
    import socket

    ecs_tools.add_container_instances(lab, cluster, count=1)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        definition = ecs_tools.task_definition("fixed", image_uri, launch_type="EC2")
        definition["containerDefinitions"][0]["portMappings"] = [{"containerPort": 8080, "hostPort": port}]
        arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        task = lab.ecs.run_task(cluster=cluster, taskDefinition=arn, launchType="EC2")["tasks"][0]
        lab.ecs.get_waiter("tasks_stopped").wait(
            cluster=cluster, tasks=[task["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40}
        )
    stopped = lab.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith("CannotStartContainerError:") and str(port) in stopped["stoppedReason"]


def test_out_of_memory_gives_aws_reason(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    definition = ecs_tools.task_definition("hungry", image_uri, execution_role_arn=lab.execution_role_arn)
    definition["containerDefinitions"][0]["command"] = [
        "python3",
        "-c",
        "x = bytearray(800 * 1024 * 1024); import time; time.sleep(5)",
    ]
    arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    task = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
    )["tasks"][0]
    lab.ecs.get_waiter("tasks_stopped").wait(
        cluster=cluster, tasks=[task["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 40}
    )
    stopped = lab.ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"][0]
    assert stopped["stopCode"] == "EssentialContainerExited", stopped
    assert stopped["containers"][0].get("reason") == "OutOfMemoryError: Container killed due to memory usage"
    assert stopped["containers"][0]["exitCode"] == 137


def test_an_awsvpc_service_needs_a_network_configuration(lab: LabClients, cluster: str, image_uri: str) -> None:
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("nonet", image_uri, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError, match="Network Configuration must be provided when networkMode 'awsvpc' is specified."):
        lab.ecs.create_service(
            cluster=cluster, serviceName="nonet", taskDefinition=definition, desiredCount=1, launchType="FARGATE"
        )
    assert lab.ecs.list_services(cluster=cluster)["serviceArns"] == []


def test_list_tasks_matches_the_cluster_exactly(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    lab.ecs.create_cluster(clusterName=f"{cluster}-x")
    try:
        fargate_service(lab, f"{cluster}-x", image_uri, subnet, count=1)
        stable(lab, f"{cluster}-x")
        assert lab.ecs.list_tasks(cluster=cluster)["taskArns"] == []
        assert len(lab.ecs.list_tasks(cluster=f"{cluster}-x")["taskArns"]) == 1
    finally:
        lab.ecs.delete_service(cluster=f"{cluster}-x", service="api", force=True)


def test_a_fargate_task_definition_without_network_mode_is_refused(lab: LabClients, image_uri: str) -> None:
    definition = ecs_tools.task_definition("nomode", image_uri, execution_role_arn=lab.execution_role_arn)
    del definition["networkMode"]
    with pytest.raises(ClientError, match="Fargate only supports network mode 'awsvpc'."):
        lab.ecs.register_task_definition(**definition)


def test_a_service_made_again_under_an_old_name_does_not_inherit_its_percentages(
    lab: LabClients, cluster: str, image_uri: str, subnet: str
) -> None:
    # given a service with minimumHealthyPercent 0, deleted
    fargate_service(
        lab, cluster, image_uri, subnet, count=0, deploymentConfiguration={"maximumPercent": 100, "minimumHealthyPercent": 0}
    )
    lab.ecs.delete_service(cluster=cluster, service="api", force=True)
    # when one of the same name is created without deploymentConfiguration
    fargate_service(lab, cluster, image_uri, subnet, count=0)
    # then it has AWS's defaults
    service = lab.ecs.describe_services(cluster=cluster, services=["api"])["services"][0]
    assert (
        service["deploymentConfiguration"]["maximumPercent"],
        service["deploymentConfiguration"]["minimumHealthyPercent"],
    ) == (200, 100)
