"""The checkers of exercise 04 pass right answers, fail wrong ones with useful messages, and leave nothing behind."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import ecslab
from ecslab.checks import CheckFailed, NotDone, Passed, ex04, setup

# -- 4.1 -------------------------------------------------------------------------------------


def right_definition(family: str, image: str, execution_role_arn: str) -> dict[str, Any]:
    return {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "1024",
        "executionRoleArn": execution_role_arn,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "STAGE", "value": "exercise"}],
            }
        ],
    }


def changed(**changes: Any) -> Any:
    """A 4.1 answer with top-level fields changed (None removes a field)."""

    def answer(family: str, image: str, execution_role_arn: str) -> dict[str, Any]:
        definition = right_definition(family, image, execution_role_arn)
        for key, value in changes.items():
            if value is None:
                definition.pop(key)
            else:
                definition[key] = value
        return definition

    return answer


def changed_container(**changes: Any) -> Any:
    """A 4.1 answer with fields of its container changed."""

    def answer(family: str, image: str, execution_role_arn: str) -> dict[str, Any]:
        definition = right_definition(family, image, execution_role_arn)
        definition["containerDefinitions"][0].update(changes)
        return definition

    return answer


def active_revisions(lab: ecslab.Lab, family: str) -> list[str]:
    return list(lab.ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"])


def test_a_right_task_definition_passes_and_is_deregistered(lab: ecslab.Lab) -> None:
    assert isinstance(ex04.check_fargate_task_definition(right_definition, lab), Passed)
    assert active_revisions(lab, ex04.FAMILY) == []


def test_ecs_units_spelled_out_are_accepted(lab: ecslab.Lab) -> None:
    assert isinstance(ex04.check_fargate_task_definition(changed(cpu="0.5 vCPU", memory="1 GB"), lab), Passed)


@pytest.mark.parametrize(
    "answer, message",
    [
        (changed(cpu="0.5"), "0.5 vCPU is '512' CPU units"),
        (changed(memory="1"), "1 GB is '1024' MiB"),
        (changed(cpu=512), "as strings"),
        (changed(networkMode=None), "Fargate only supports 'awsvpc'"),
        (changed(networkMode="bridge"), "Fargate only supports 'awsvpc'"),
        (changed(requiresCompatibilities=None), "requiresCompatibilities=\\['FARGATE'\\]"),
        (changed(family="something-else"), "use the `family` argument"),
        (
            changed(executionRoleArn=None),
            "add executionRoleArn=execution_role_arn.*'Fargate requires task definition to have execution role ARN",
        ),
        (
            changed(executionRoleArn=None, taskRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole"),
            "taskRoleArn is another role",
        ),
        (changed(executionRoleArn="arn:aws:iam::123456789012:role/some-other-role"), "use the `execution_role_arn` argument"),
        (changed_container(name="app"), "name it 'web'"),
        (changed_container(image="nginx:latest"), "use the `image` argument"),
        (changed_container(portMappings=[{"containerPort": "8080"}]), "ECS wants a number"),
        (changed_container(portMappings=[]), "add portMappings"),
        (changed_container(environment={"STAGE": "exercise"}), "not a dict"),
        (changed_container(environment=[{"name": "STAGE", "value": "prod"}]), "STAGE to 'exercise'"),
    ],
)
def test_wrong_task_definitions_are_explained(lab: ecslab.Lab, answer: Any, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        ex04.check_fargate_task_definition(answer, lab)
    assert active_revisions(lab, ex04.FAMILY) == []


@pytest.mark.parametrize("typed_in", ["family", "image", "execution role"])
def test_names_typed_in_instead_of_the_arguments_do_not_pass(lab: ecslab.Lab, typed_in: str) -> None:
    """Issue 13's fixed-name hole: family, image and execution role are new each run, so the ones an earlier run showed
    (or the course's usual ones) cannot pass; the check's own role is deleted afterwards."""
    typed = {
        "family": "ex04-check-web",
        "image": f"{lab.config.registry_address}/ex04-check:v1",
        "execution role": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    }

    def answer(family: str, image: str, execution_role_arn: str) -> dict[str, Any]:
        given = {"family": family, "image": image, "execution role": execution_role_arn} | {typed_in: typed[typed_in]}
        return right_definition(given["family"], given["image"], given["execution role"])

    argument = {"family": "`family`", "image": "`image`", "execution role": "`execution_role_arn`"}[typed_in]
    with pytest.raises(CheckFailed, match=f"use the {argument} argument"):
        ex04.check_fargate_task_definition(answer, lab)
    assert active_revisions(lab, ex04.FAMILY) == []
    assert not [r for r in lab.iam.list_roles()["Roles"] if r["RoleName"].startswith("ex04-check-execution")]


def test_not_a_dict_is_explained(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="return a dict"):
        ex04.check_fargate_task_definition(lambda family, image, role: [family, image, role], lab)


def test_the_stub_is_not_done(lab: ecslab.Lab) -> None:
    def stub(*_arguments: Any) -> Any:
        raise NotImplementedError()

    for check in (ex04.check_fargate_task_definition, ex04.check_pick_instance):
        with pytest.raises(NotDone, match="is not done yet"):
            check(stub, lab)


# -- 4.2 (pushes the sample app: a few seconds each) -----------------------------------------


def network(subnet_id: str, group: str | None = None, public_ip: str = "ENABLED") -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {"subnets": [subnet_id], "assignPublicIp": public_ip}
        | ({"securityGroups": [group]} if group else {})
    }


def run_and_wait(
    lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str | None = None, public_ip: str = "ENABLED"
) -> str:
    response = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=task_def_arn,
        launchType="FARGATE",
        networkConfiguration=network(subnet_id, group, public_ip),
    )
    task_arn = response["tasks"][0]["taskArn"]
    lab.ecs.get_waiter("tasks_running").wait(cluster=cluster, tasks=[task_arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
    return str(task_arn)


def cluster_is_gone(lab: ecslab.Lab, name: str) -> bool:
    return all(cluster["status"] != "ACTIVE" for cluster in lab.ecs.describe_clusters(clusters=[name])["clusters"])


@pytest.mark.docker
def test_a_running_task_passes_and_everything_is_removed(lab: ecslab.Lab) -> None:
    passed = ex04.check_run_one_task(run_and_wait, lab)
    assert "its container answered at its public IP on port 8080" in passed.message
    assert setup.clusters_with_prefix(lab, ex04.CLUSTER + "-") == []
    assert active_revisions(lab, ex04.RUN_FAMILY) == []
    assert ex04.REPOSITORY not in [r["repositoryName"] for r in lab.ecr.describe_repositories()["repositories"]]


@pytest.mark.docker
def test_returning_before_running_is_explained(lab: ecslab.Lab) -> None:
    def no_wait(lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str) -> str:
        return str(
            lab.ecs.run_task(
                cluster=cluster, taskDefinition=task_def_arn, launchType="FARGATE", networkConfiguration=network(subnet_id, group)
            )["tasks"][0]["taskArn"]
        )

    # the state the check saw is the one before RUNNING that the task had reached: PROVISIONING, or PENDING on a
    # busy machine (CI with 4 workers)
    with pytest.raises(CheckFailed, match="returned while the task was (PROVISIONING|PENDING).*tasks_running"):
        ex04.check_run_one_task(no_wait, lab)
    assert cluster_is_gone(lab, ex04.CLUSTER)


@pytest.mark.docker
def test_a_task_without_a_public_ip_is_explained(lab: ecslab.Lab) -> None:
    def private(lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str) -> str:
        return run_and_wait(lab, cluster, task_def_arn, subnet_id, group, public_ip="DISABLED")

    with pytest.raises(CheckFailed, match="no public IP.*'assignPublicIp': 'ENABLED'"):
        ex04.check_run_one_task(private, lab)
    assert cluster_is_gone(lab, ex04.CLUSTER)


@pytest.mark.docker
def test_a_task_whose_groups_do_not_admit_the_learner_is_explained(lab: ecslab.Lab) -> None:
    def default_group(lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str) -> str:
        return run_and_wait(lab, cluster, task_def_arn, subnet_id)  # the VPC's default group: members only

    with pytest.raises(CheckFailed, match="none admits port 8080.*'securityGroups': \\[security_group_id\\]"):
        ex04.check_run_one_task(default_group, lab)
    assert cluster_is_gone(lab, ex04.CLUSTER)


@pytest.mark.docker
def test_a_missing_network_gets_ecs_words_and_a_hint(lab: ecslab.Lab) -> None:
    def no_network(lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str) -> str:
        return str(lab.ecs.run_task(cluster=cluster, taskDefinition=task_def_arn, launchType="FARGATE")["tasks"][0]["taskArn"])

    with pytest.raises(
        CheckFailed, match="Network Configuration must be provided.*Hint: Fargate tasks need networkConfiguration"
    ):
        ex04.check_run_one_task(no_network, lab)


@pytest.mark.docker
def test_the_whole_response_and_two_tasks_are_explained(lab: ecslab.Lab) -> None:
    def whole_response(lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str) -> Any:
        return lab.ecs.run_task(
            cluster=cluster, taskDefinition=task_def_arn, launchType="FARGATE", networkConfiguration=network(subnet_id, group)
        )

    def two_tasks(lab: Any, cluster: str, task_def_arn: str, subnet_id: str, group: str) -> str:
        run_and_wait(lab, cluster, task_def_arn, subnet_id, group)
        return run_and_wait(lab, cluster, task_def_arn, subnet_id, group)

    with pytest.raises(CheckFailed, match="whole response"):
        ex04.check_run_one_task(whole_response, lab)
    with pytest.raises(CheckFailed, match="2 tasks run in the cluster"):
        ex04.check_run_one_task(two_tasks, lab)


# -- 4.3 -------------------------------------------------------------------------------------


def left(instance: dict[str, Any], key: str = "remainingResources") -> dict[str, int]:
    return {r["name"]: r.get("integerValue", 0) for r in instance[key] if r["type"] == "INTEGER"}


def picker(
    key: str = "remainingResources", active_only: bool = True, check_cpu: bool = True, strict: bool = False, last: bool = False
) -> Any:
    """A 4.3 answer with one mistake switched on."""

    def pick(instances: list[dict[str, Any]], cpu: int, memory: int) -> str | None:
        found = None
        for instance in instances:
            if active_only and instance["status"] != "ACTIVE":
                continue
            room = left(instance, key)
            fits_cpu = not check_cpu or (room["CPU"] > cpu if strict else room["CPU"] >= cpu)
            fits_memory = room["MEMORY"] > memory if strict else room["MEMORY"] >= memory
            if fits_cpu and fits_memory:
                found = instance["containerInstanceArn"]
                if not last:
                    return found
        return found

    return pick


def test_a_right_pick_passes_on_cases_and_a_real_cluster(lab: ecslab.Lab) -> None:
    passed = ex04.check_pick_instance(picker(), lab)
    assert "t3.medium" in passed.message
    assert cluster_is_gone(lab, ex04.PLACEMENT_CLUSTER)


@pytest.mark.parametrize(
    "answer, message",
    [
        (picker(key="registeredResources"), "you read registeredResources"),
        (picker(active_only=False), "DRAINING: ECS places new tasks only on ACTIVE instances"),
        (picker(check_cpu=False), "check CPU as well as MEMORY"),
        (picker(strict=True), "case “an exact fit fits”.*compare with >="),
        (picker(last=True), "comes first in the list"),
        (lambda instances, cpu, memory: instances[0] if instances else None, "return its ARN"),
        (
            lambda instances, cpu, memory: "arn:aws:ecs:us-east-1:123456789012:container-instance/ex04/nowhere",
            "not the ARN of any of the instances",
        ),
    ],
)
def test_wrong_picks_are_explained(lab: ecslab.Lab, answer: Any, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        ex04.check_pick_instance(answer, lab)


def test_the_learner_cannot_change_the_cases(lab: ecslab.Lab) -> None:
    before = copy.deepcopy(ex04.PLACEMENT_CASES)

    def vandal(instances: list[dict[str, Any]], cpu: int, memory: int) -> str | None:
        for instance in instances:
            instance["status"] = "DRAINING"
        return picker()(instances, cpu, memory)

    with pytest.raises(CheckFailed):
        ex04.check_pick_instance(vandal, lab)
    assert ex04.PLACEMENT_CASES == before


@pytest.mark.docker
def test_a_typed_in_cluster_does_not_pass(lab: ecslab.Lab) -> None:
    """Issue 13's fixed-name hole: the cluster (and the task definition's family) are new each run."""
    with pytest.raises(CheckFailed, match="ClusterNotFoundException"):
        ex04.check_run_one_task(lambda lab, cluster, arn, subnet, group: run_and_wait(lab, ex04.CLUSTER, arn, subnet, group), lab)
    assert setup.clusters_with_prefix(lab, ex04.CLUSTER + "-") == []
    assert active_revisions(lab, ex04.RUN_FAMILY) == []
