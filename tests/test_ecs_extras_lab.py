"""ECS Exec, Fargate Spot capacity providers and Service Connect in a private lab, through plain boto3.

One private lab for the module; the sample app (Python inside, listening on 8080) is pushed once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab import ecs_exec, spot
from ecslab.config import LabConfig
from ecslab.lab.capacity_strategy import NOT_IN_CLUSTER
from ecslab.lab.moto.ecs_exec import NOT_ENABLED, NOT_INTERACTIVE
from tests.conftest import LabClients, push_app_image

pytestmark = pytest.mark.lab

PROVIDERS = ["FARGATE", "FARGATE_SPOT"]


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image_uri(lab: LabClients) -> str:
    return push_app_image(lab, "extras-test")


@pytest.fixture(scope="module")
def subnet(lab: LabClients) -> str:
    return lab.default_subnets(1)[0]


@pytest.fixture
def cluster(lab: LabClients, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.replace("_", "-")[:40].strip("-")
    lab.ecs.create_cluster(clusterName=name, capacityProviders=PROVIDERS)
    yield name
    for arn in lab.ecs.list_services(cluster=name)["serviceArns"]:
        lab.ecs.delete_service(cluster=name, service=arn, force=True)
    for arn in lab.ecs.list_tasks(cluster=name)["taskArns"]:
        lab.ecs.stop_task(cluster=name, task=arn)
    deadline = time.monotonic() + 20
    while lab.ecs.list_tasks(cluster=name)["taskArns"] and time.monotonic() < deadline:
        time.sleep(0.2)


def definition(lab: LabClients, family: str, image: str, port_name: str | None = None) -> str:
    arguments = ecs_tools.task_definition(family, image, execution_role_arn=lab.execution_role_arn)
    if port_name:
        arguments["containerDefinitions"][0]["portMappings"][0]["name"] = port_name
    return str(lab.ecs.register_task_definition(**arguments)["taskDefinition"]["taskDefinitionArn"])


def network(subnet: str) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": [subnet]}}


def running_task(lab: LabClients, cluster: str, definition_arn: str, subnet: str, **extra: Any) -> dict[str, Any]:
    arn = lab.ecs.run_task(cluster=cluster, taskDefinition=definition_arn, networkConfiguration=network(subnet), **extra)[
        "tasks"
    ][0]["taskArn"]
    lab.ecs.get_waiter("tasks_running").wait(cluster=cluster, tasks=[arn], WaiterConfig={"Delay": 0.3, "MaxAttempts": 100})
    return dict(lab.ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0])


def stable(lab: LabClients, cluster: str, service: str) -> list[dict[str, Any]]:
    lab.ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=[service], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )
    arns = lab.ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    return list(lab.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"])


# -- ECS Exec ---------------------------------------------------------------------------------------------


def test_exec_runs_a_command_in_the_task_and_returns_its_output(
    lab: LabClients, cluster: str, image_uri: str, subnet: str, capsys: pytest.CaptureFixture[str]
) -> None:
    task = running_task(
        lab, cluster, definition(lab, "exec-on", image_uri), subnet, launchType="FARGATE", enableExecuteCommand=True
    )
    assert task["enableExecuteCommand"] is True
    assert task["containers"][0]["managedAgents"][0]["name"] == "ExecuteCommandAgent"
    assert task["containers"][0]["managedAgents"][0]["lastStatus"] == "RUNNING"
    command = "python3 -c \"import socket; print('inside', socket.gethostname())\""
    answer = ecs_exec.run(lab.ecs, cluster, task["taskArn"], command, lab=lab)
    assert answer["output"].startswith("inside ")
    assert answer["exitCode"] == 0
    assert capsys.readouterr().out.startswith("inside ")
    assert answer["interactive"] is True and answer["containerName"] == "web" and answer["taskArn"] == task["taskArn"]
    assert answer["session"]["sessionId"].startswith("ecs-execute-command-") and answer["session"]["tokenValue"]
    failing = ecs_exec.run(lab.ecs, cluster, task["taskArn"], "ls /no-such-folder", lab=lab, show=False)
    assert failing["exitCode"] != 0 and "No such file" in failing["output"]


def test_exec_is_refused_in_ecs_words(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    family = definition(lab, "exec-off", image_uri)
    task = running_task(lab, cluster, family, subnet, launchType="FARGATE")
    assert task.get("enableExecuteCommand", False) is False
    assert "managedAgents" not in task["containers"][0]
    with pytest.raises(ClientError) as refused:
        lab.ecs.execute_command(cluster=cluster, task=task["taskArn"], command="ls", interactive=True)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert refused.value.response["Error"]["Message"] == NOT_ENABLED
    enabled = running_task(lab, cluster, family, subnet, launchType="FARGATE", enableExecuteCommand=True)
    with pytest.raises(ClientError) as batch:
        lab.ecs.execute_command(cluster=cluster, task=enabled["taskArn"], command="ls", interactive=False)
    assert batch.value.response["Error"]["Message"] == NOT_INTERACTIVE
    lab.ecs.stop_task(cluster=cluster, task=enabled["taskArn"])
    lab.ecs.get_waiter("tasks_stopped").wait(
        cluster=cluster, tasks=[enabled["taskArn"]], WaiterConfig={"Delay": 0.3, "MaxAttempts": 100}
    )
    with pytest.raises(ClientError) as stopped:
        lab.ecs.execute_command(cluster=cluster, task=enabled["taskArn"], command="ls", interactive=True)
    assert stopped.value.response["Error"]["Message"] == NOT_ENABLED


# -- capacity providers and Spot ----------------------------------------------------------------------------


def test_a_service_places_six_tasks_by_base_then_weight(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    strategy = [{"capacityProvider": "FARGATE", "base": 2, "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 3}]
    lab.ecs.create_service(
        cluster=cluster,
        serviceName="mixed",
        taskDefinition=definition(lab, "mixed", image_uri),
        desiredCount=6,
        capacityProviderStrategy=strategy,
        networkConfiguration=network(subnet),
    )
    described = lab.ecs.describe_services(cluster=cluster, services=["mixed"])["services"][0]
    assert described["capacityProviderStrategy"] == strategy
    assert "launchType" not in described
    tasks = stable(lab, cluster, "mixed")
    assert Counter(task["capacityProviderName"] for task in tasks) == {"FARGATE": 3, "FARGATE_SPOT": 3}
    assert {task["launchType"] for task in tasks} == {"FARGATE"}
    assert spot.providers(lab.ecs, cluster, "mixed") == {"FARGATE": 3, "FARGATE_SPOT": 3}


def test_a_spot_interruption_is_healed(lab: LabClients, cluster: str, image_uri: str, subnet: str) -> None:
    lab.ecs.put_cluster_capacity_providers(
        cluster=cluster,
        capacityProviders=PROVIDERS,
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
    )
    lab.ecs.create_service(  # no launch type, no strategy: the cluster's default places the tasks
        cluster=cluster,
        serviceName="spot",
        taskDefinition=definition(lab, "spot", image_uri),
        desiredCount=1,
        networkConfiguration=network(subnet),
    )
    (task,) = stable(lab, cluster, "spot")
    assert task["capacityProviderName"] == "FARGATE_SPOT"
    warning = spot.interrupt(lab, task["taskArn"])
    assert warning["signals"][0]["signal"] == "SIGTERM"
    stopped = spot.wait_stopped(lab.ecs, cluster, task["taskArn"])
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stopCode"] == "SpotInterruption"
    assert stopped["stoppedReason"] == "Your Spot Task was interrupted."
    (replacement,) = stable(lab, cluster, "spot")
    assert replacement["taskArn"] != task["taskArn"] and replacement["lastStatus"] == "RUNNING"


def test_a_capacity_provider_not_in_the_cluster_is_refused(lab: LabClients, image_uri: str, subnet: str) -> None:
    lab.ecs.create_cluster(clusterName="fargate-only", capacityProviders=["FARGATE"])
    family = definition(lab, "refused", image_uri)
    spot_only = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    calls = [
        lambda: lab.ecs.create_service(
            cluster="fargate-only",
            serviceName="s",
            taskDefinition=family,
            desiredCount=1,
            capacityProviderStrategy=spot_only,
            networkConfiguration=network(subnet),
        ),
        lambda: lab.ecs.run_task(
            cluster="fargate-only",
            taskDefinition=family,
            capacityProviderStrategy=spot_only,
            networkConfiguration=network(subnet),
        ),
        lambda: lab.ecs.put_cluster_capacity_providers(
            cluster="fargate-only", capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=spot_only
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
        assert refused.value.response["Error"]["Message"] == NOT_IN_CLUSTER
    assert lab.ecs.list_services(cluster="fargate-only")["serviceArns"] == []
    assert lab.ecs.list_tasks(cluster="fargate-only")["taskArns"] == []
    fargate = [{"capacityProvider": "FARGATE", "weight": 1}]
    lab.ecs.create_service(
        cluster="fargate-only",
        serviceName="idle",
        taskDefinition=family,
        desiredCount=0,
        capacityProviderStrategy=fargate,
        networkConfiguration=network(subnet),
    )
    with pytest.raises(ClientError) as updated:
        lab.ecs.update_service(cluster="fargate-only", service="idle", capacityProviderStrategy=spot_only)
    assert updated.value.response["Error"]["Message"] == NOT_IN_CLUSTER
    described = lab.ecs.describe_services(cluster="fargate-only", services=["idle"])["services"][0]
    assert described["capacityProviderStrategy"] == fargate  # unchanged
    lab.ecs.delete_service(cluster="fargate-only", service="idle")


# -- Service Connect -----------------------------------------------------------------------------------------

CALL_API = "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://api:8080/', timeout=3).read().decode())\""
RESOLVE_API = "python3 -c \"import socket; print(socket.gethostbyname('api'))\""


def test_the_front_calls_the_api_by_name_only_with_service_connect(
    lab: LabClients, cluster: str, image_uri: str, subnet: str
) -> None:
    namespace = lab.client("servicediscovery").create_http_namespace(Name="shop")["OperationId"]
    assert namespace
    lab.ecs.create_service(
        cluster=cluster,
        serviceName="api",
        taskDefinition=definition(lab, "api", image_uri, port_name="http"),
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration=network(subnet),
        serviceConnectConfiguration={
            "enabled": True,
            "namespace": "shop",
            "services": [{"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}],
        },
    )
    front = definition(lab, "front", image_uri)
    lab.ecs.create_service(  # a service outside the namespace
        cluster=cluster,
        serviceName="front",
        taskDefinition=front,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network(subnet),
        enableExecuteCommand=True,
    )
    stable(lab, cluster, "api")
    (outside,) = stable(lab, cluster, "front")
    lost = ecs_exec.run(lab.ecs, cluster, outside["taskArn"], RESOLVE_API, lab=lab, show=False)
    assert lost["exitCode"] != 0 and "gaierror" in lost["output"]  # the name does not resolve
    lab.ecs.update_service(
        cluster=cluster,
        service="front",
        serviceConnectConfiguration={"enabled": True, "namespace": "shop"},
        forceNewDeployment=True,
    )
    deadline = time.monotonic() + 60
    while True:  # the new deployment's task replaced the old one
        tasks = stable(lab, cluster, "front")
        if [t["taskArn"] for t in tasks if t["lastStatus"] == "RUNNING"] != [outside["taskArn"]] and len(tasks) == 1:
            break
        assert time.monotonic() < deadline, tasks
        time.sleep(0.5)
    (inside,) = tasks
    answers = [ecs_exec.run(lab.ecs, cluster, inside["taskArn"], CALL_API, lab=lab, show=False) for _ in range(4)]
    assert all(a["exitCode"] == 0 and '"version": "v1"' in a["output"] for a in answers), answers
    api_hosts = {t["containers"][0]["runtimeId"][:12] for t in stable(lab, cluster, "api")}
    assert {a["output"].split('"hostname": "')[1].split('"')[0] for a in answers} <= api_hosts


def test_service_connect_refuses_a_namespace_that_does_not_exist(
    lab: LabClients, cluster: str, image_uri: str, subnet: str
) -> None:
    lab.client("servicediscovery").create_http_namespace(Name="refusals")
    with pytest.raises(ClientError) as refused:
        lab.ecs.create_service(
            cluster=cluster,
            serviceName="lost",
            taskDefinition=definition(lab, "lost", image_uri, port_name="http"),
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration=network(subnet),
            serviceConnectConfiguration={"enabled": True, "namespace": "nowhere"},
        )
    assert refused.value.response["Error"]["Code"] == "NamespaceNotFoundException"
    with pytest.raises(ClientError) as unnamed:
        lab.ecs.create_service(
            cluster=cluster,
            serviceName="lost",
            taskDefinition=definition(lab, "unnamed", image_uri),
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration=network(subnet),
            serviceConnectConfiguration={"enabled": True, "namespace": "refusals", "services": [{"portName": "http"}]},
        )
    assert (
        unnamed.value.response["Error"]["Message"]
        == "portName(http) does not refer to any named PortMapping in the container definitions"
    )
