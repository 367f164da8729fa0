"""The checkers of exercise 05 pass right answers and fail wrong ones with useful messages.

Given a repository and clusters of the tests' own (``t05-...``, never the exercise's), when a
checker runs a learner's function, then it passes or names what to change, and leaves no
cluster behind either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import ecs as ecs_tools
from ecslab import security
from ecslab.checks import CheckFailed, NotDone, ex05, setup

REPOSITORY = "t05-app"
CLUSTER = "t05-check"


@pytest.fixture(scope="module")
def image_uri(lab: ecslab.Lab) -> Iterator[str]:
    uri = ex05.prepare_image(lab, REPOSITORY, show_progress=False)
    yield uri
    ex05.clean_up(lab, REPOSITORY)


def cluster_is_gone(lab: ecslab.Lab) -> bool:
    return not [c for c in lab.ecs.describe_clusters(clusters=[CLUSTER])["clusters"] if c["status"] == "ACTIVE"]


def check(checker: Callable[..., Any], function: Callable[..., Any], lab: ecslab.Lab) -> Any:
    return checker(function, lab, cluster=CLUSTER, service="t05-api", repository=REPOSITORY)


def subnets(lab: ecslab.Lab) -> list[str]:
    default_vpc = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    return [s["SubnetId"] for s in lab.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"]]


def deploy(
    lab: Any,
    cluster: str,
    service: str,
    image_uri: str,
    execution_role_arn: str | None,
    group: str | None = None,
    launch_type: str = "FARGATE",
    count: int = 2,
    network: bool = True,
    public_ip: bool = True,
) -> str:
    """A configurable answer to 5.1 (right with the defaults and the group the check gives)."""
    lab.ecs.create_cluster(clusterName=cluster)
    request = ecs_tools.task_definition(service, image_uri, execution_role_arn=execution_role_arn)
    definition = lab.ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]
    awsvpc = (
        {"subnets": subnets(lab)}
        | ({"assignPublicIp": "ENABLED"} if public_ip else {})
        | ({"securityGroups": [group]} if group else {})
    )
    extra = {"networkConfiguration": {"awsvpcConfiguration": awsvpc}} if network else {}
    response = lab.ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=definition, desiredCount=count, launchType=launch_type, **extra
    )
    return str(response["service"]["serviceArn"])


def deploy_returning_cluster_arn(lab: Any, cluster: str, service: str, image_uri: str, role: str, group: str) -> str:
    deploy(lab, cluster, service, image_uri, role, group)
    return str(lab.ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"])


# -- the image the checks need -----------------------------------------------------------------


def test_without_the_setup_cell_the_check_says_to_run_it(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="Run the setup cell"):
        ex05.check_deploy_service(deploy, lab, cluster=CLUSTER, repository="t05-never-pushed")


# -- 5.1 --------------------------------------------------------------------------------------


def test_a_right_deployment_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check(ex05.check_deploy_service, deploy, lab)
    assert "both answered at their public IP" in passed.message and cluster_is_gone(lab)


def test_the_stub_is_not_done(lab: ecslab.Lab, image_uri: str) -> None:
    def stub(lab: Any, cluster: str, service: str, image_uri: str, execution_role_arn: str, security_group_id: str) -> str:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check(ex05.check_deploy_service, stub, lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, cluster, service, image, role, group: "arn:aws:ecs:us-east-1:123456789012:service/x", "no ACTIVE cluster"),
        (
            lambda lab, cluster, service, image, role, group: deploy_returning_cluster_arn(
                lab, cluster, service, image, role, group
            ),
            "the cluster's ARN",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(
                lab, cluster, service, image, role, group, launch_type="EC2"
            ),
            "launchType='FARGATE'",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(lab, cluster, service, image, role, group, count=1),
            "desiredCount=2",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(lab, cluster, service, image, role, group, network=False),
            "(?i)network ?configuration must be provided",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(
                lab, cluster, service, image.replace(":v1", ":v9"), role, group
            ),
            "use the image_uri argument",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(lab, cluster, service, image, None, group),
            "execution role ARN to support ECR images.* Pass executionRoleArn=execution_role_arn",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(lab, cluster, service, image, role, group, public_ip=False),
            "assignPublicIp is DISABLED.*'assignPublicIp': 'ENABLED'",
        ),
        (
            lambda lab, cluster, service, image, role, group: deploy(lab, cluster, service, image, role),
            "default group admits only its own members.*'securityGroups': \\[security_group_id\\]",
        ),
    ],
    ids=[
        "nothing-created",
        "cluster-arn",
        "ec2",
        "one-task",
        "no-subnets",
        "other-image",
        "no-execution-role",
        "no-public-ip",
        "default-group",
    ],
)
def test_wrong_deployments_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., str], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check(ex05.check_deploy_service, answer, lab)
    assert cluster_is_gone(lab)


def test_names_typed_in_instead_of_the_arguments_do_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole: cluster and service are new each run, so the exercise's usual names cannot pass."""
    typed_in = "ex05-check-deploy"
    try:
        with pytest.raises(CheckFailed, match="no ACTIVE cluster named 'ex05-check-deploy-"):
            ex05.check_deploy_service(
                lambda lab, cluster, service, image, role, group: deploy(lab, typed_in, ex05.SERVICE, image, role, group),
                lab,
                repository=REPOSITORY,
            )
    finally:
        ex05.delete_cluster(lab, typed_in)
    assert setup.clusters_with_prefix(lab, ex05.CHECK_PREFIX) == []


def test_a_typed_in_execution_role_does_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """In the lab the execution role is new each run too (and deleted afterwards)."""
    course_role = security.ensure_execution_role(lab.iam)
    with pytest.raises(CheckFailed, match="pass the execution_role_arn argument"):
        ex05.check_deploy_service(
            lambda lab, cluster, service, image, role, group: deploy(lab, cluster, service, image, course_role, group),
            lab,
            repository=REPOSITORY,
        )
    assert setup.clusters_with_prefix(lab, ex05.CHECK_PREFIX) == []
    assert not [r for r in lab.iam.list_roles()["Roles"] if r["RoleName"].startswith("ex05-check-execution")]


# -- 5.2 --------------------------------------------------------------------------------------


def urls_of(lab: Any, cluster: str, service: str | None, use: str = "PublicIp") -> list[str]:
    """A configurable answer to 5.2 (right when given the service and the public IP): attachments -> ENI -> public IP."""
    arns = lab.ecs.list_tasks(cluster=cluster, **({"serviceName": service} if service else {}))["taskArns"]
    urls = []
    for task in lab.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]:
        details = {d["name"]: d["value"] for a in task["attachments"] for d in a["details"]}
        interface = lab.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][
            0
        ]
        host = interface["Association"]["PublicIp"] if use == "PublicIp" else details["privateIPv4Address"]
        urls.append(f"http://{host}:8080")
    return urls


def old_urls(lab: Any, cluster: str, service: str) -> list[str]:
    """The answer before issue 14: networkBindings' host ports on 127.0.0.1 (AWS reports none for awsvpc tasks)."""
    tasks = lab.ecs.describe_tasks(cluster=cluster, tasks=lab.ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"])[
        "tasks"
    ]
    return [
        f"http://127.0.0.1:{b['hostPort']}" for t in tasks for c in t["containers"] for b in c.get("networkBindings", [])
    ] or ["http://127.0.0.1:8080"]


def test_right_urls_pass(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check(ex05.check_task_urls, urls_of, lab)
    assert passed.message.startswith("2 URLs") and cluster_is_gone(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, cluster, service: urls_of(lab, cluster, service, use="private"), "private IPs"),
        (old_urls, "no networkBindings"),
        (lambda lab, cluster, service: urls_of(lab, cluster, None), "another service"),
        (lambda lab, cluster, service: urls_of(lab, cluster, service)[:1], "you returned 1 URL"),
        (lambda lab, cluster, service: lab.ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"], "task ARNs"),
        (lambda lab, cluster, service: "http://127.0.0.1:8080", "list of URL strings"),
    ],
    ids=["private-ip", "network-bindings", "whole-cluster", "first-only", "arns", "a-string"],
)
def test_wrong_urls_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check(ex05.check_task_urls, answer, lab)
    assert cluster_is_gone(lab)


def test_typed_in_names_do_not_find_the_tasks(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole: cluster and service are new each run."""
    with pytest.raises(CheckFailed, match="Exercise 5.2: your code raised ClusterNotFoundException"):
        ex05.check_task_urls(
            lambda lab, cluster, service: urls_of(lab, ex05.URLS_CLUSTER, ex05.SERVICE), lab, repository=REPOSITORY
        )
    assert setup.clusters_with_prefix(lab, ex05.CHECK_PREFIX) == []


# -- 5.3 --------------------------------------------------------------------------------------


def roll(
    lab: Any,
    cluster: str,
    service: str,
    family: str | None = None,
    image: str | None = None,
    environment: bool = True,
    update: bool = True,
    wait: bool = True,
    role: bool = True,
) -> str:
    """A configurable answer to 5.3 (right with the defaults)."""
    current = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    definition = lab.ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    container = definition["containerDefinitions"][0]
    if environment:
        container["environment"] = [{"name": "APP_VERSION", "value": "v2"}]
    if image:
        container["image"] = image
    keep = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities") + (
        ("executionRoleArn",) if role else ()
    )
    request = {key: definition[key] for key in keep} | ({"family": family} if family else {})
    arn = str(lab.ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"])
    if update:
        lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
    if wait:
        ecs_tools.wait_for_steady_state(lab.ecs, cluster, service, show_progress=False)
    return arn


def test_a_right_rollout_passes(lab: ecslab.Lab, image_uri: str) -> None:
    passed = check(ex05.check_roll_to_v2, roll, lab)
    assert "both tasks answer v2" in passed.message and cluster_is_gone(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, cluster, service: roll(lab, cluster, service, wait=False), "the rollout was not finished"),
        (
            lambda lab, cluster, service: roll(lab, cluster, service, family="something-else", update=False),
            "in the service's family",
        ),
        (lambda lab, cluster, service: roll(lab, cluster, service, environment=False, update=False), "APP_VERSION"),
        (
            lambda lab, cluster, service: roll(lab, cluster, service, image="localhost:5050/t05-app:v2", update=False),
            "keep the image",
        ),
        (lambda lab, cluster, service: roll(lab, cluster, service, update=False, wait=False), "call update_service"),
        (
            lambda lab, cluster, service: lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0][
                "taskDefinition"
            ],
            "register a new revision",
        ),
        (
            lambda lab, cluster, service: roll(lab, cluster, service, role=False),
            "copy executionRoleArn from the current revision",
        ),
    ],
    ids=["no-wait", "new-family", "no-environment", "new-image", "no-update", "old-arn", "no-execution-role"],
)
def test_wrong_rollouts_are_explained(lab: ecslab.Lab, image_uri: str, answer: Callable[..., Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check(ex05.check_roll_to_v2, answer, lab)
    assert cluster_is_gone(lab)


def test_a_rollout_of_typed_in_names_does_not_pass(lab: ecslab.Lab, image_uri: str) -> None:
    """Issue 13's fixed-name hole: cluster and service are new each run."""
    with pytest.raises(CheckFailed, match="Exercise 5.3: your code raised"):
        ex05.check_roll_to_v2(
            lambda lab, cluster, service: roll(lab, ex05.ROLL_CLUSTER, ex05.SERVICE), lab, repository=REPOSITORY
        )
    assert setup.clusters_with_prefix(lab, ex05.CHECK_PREFIX) == []
