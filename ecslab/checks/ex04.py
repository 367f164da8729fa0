"""Checks for exercises/04-ecs-concepts.ipynb: a Fargate task definition, one task until RUNNING, placement.

Notebook 04 (``04-ecs-concepts``) teaches what the exercises use. Each checker works
in resources of its own (task definition families ``ex04-check-*``, clusters
``ex04-check-*`` and ``ex04-check-placement``, repository ``ex04-check``), removes them
before and after the check, and says what to change when an answer is wrong.

The names a checker hands the learner's function (4.1's family, image and execution role, 4.2's
cluster and task definition) are new on every run: a function that types in names instead of
using its arguments cannot pass.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import images, security
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, Passed, expect, run_student
from ecslab.ecs_validation import problems

POINTS: dict[str, int] = {"4.1": 1, "4.2": 1, "4.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

FAMILY = "ex04-check-web"
RUN_FAMILY = "ex04-check-run"
CLUSTER = "ex04-check"
PLACEMENT_CLUSTER = "ex04-check-placement"
REPOSITORY = "ex04-check"
SAMPLE_IMAGE = "ecslab-ex04-check"
"""The local name of the sample app check 4.2 builds and pushes to ``ex04-check`` (with :func:`ecslab.checks.setup.local_name`'s
suffix outside a learner's lab), removed after the check."""


def _deregister(lab: Any, family: str) -> None:
    for arn in lab.ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]:
        lab.ecs.deregister_task_definition(taskDefinition=arn)


def _delete_repository(lab: Any, name: str) -> None:
    try:
        lab.ecr.delete_repository(repositoryName=name, force=True)
    except lab.ecr.exceptions.RepositoryNotFoundException:
        pass


# -- 4.1 -------------------------------------------------------------------------------------


def _amount(value: Any, unit: str) -> int | None:
    """Task-level cpu or memory as ECS reads it: "512", "0.5 vCPU", "1 GB" (unit: vcpu or gb)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(vcpu|gb)?\s*", str(value), re.IGNORECASE)
    if not match:
        return None
    number = float(match[1])
    return int(number * 1024) if match[2] and match[2].lower() == unit else int(number)


def _fargate_problems(kwargs: dict[str, Any], family: str, image: str, role_arn: str) -> None:
    """Every field of 4.1, in the order a learner meets them; fails at the first problem."""
    expect(
        kwargs.get("family") == family, "4.1", f"the family is {kwargs.get('family')!r}; use the `family` argument ({family!r})."
    )
    expect(
        "FARGATE" in (kwargs.get("requiresCompatibilities") or []),
        "4.1",
        "add requiresCompatibilities=['FARGATE']: without it ECS checks the task definition for EC2 only, "
        "and run_task with launchType='FARGATE' refuses it.",
    )
    expect(
        kwargs.get("networkMode") == "awsvpc",
        "4.1",
        f"networkMode is {kwargs.get('networkMode')!r}; Fargate only supports 'awsvpc' (each task gets its own network "
        "interface). Left out, the network mode defaults to 'bridge', which Fargate refuses.",
    )
    for field, unit, wanted, spoken in (
        ("cpu", "vcpu", 512, "0.5 vCPU is '512' CPU units (1024 per vCPU)"),
        ("memory", "gb", 1024, "1 GB is '1024' MiB"),
    ):
        value = kwargs.get(field)
        expect(value is not None, "4.1", f"set the task-level {field!r} (Fargate needs it): {spoken}.")
        expect(
            isinstance(value, str),
            "4.1",
            f"{field} is {value!r}, a {type(value).__name__}; the ECS API takes task-level cpu and memory as strings: {spoken}.",
        )
        expect(_amount(value, unit) == wanted, "4.1", f"{field} is {value!r}; {spoken}.")
    given_role = kwargs.get("executionRoleArn")
    if not given_role:
        raise CheckFailed(
            "Exercise 4.1: add executionRoleArn=execution_role_arn (the function's third argument). A Fargate task pulls its image "
            "from ECR with the task execution role, and ECS refuses a Fargate task definition with an ECR image and no role: "
            "'Fargate requires task definition to have execution role ARN to support ECR images.'"
            + (" taskRoleArn is another role: the one your app's code uses once it runs." if kwargs.get("taskRoleArn") else "")
        )
    expect(
        given_role == role_arn,
        "4.1",
        f"executionRoleArn is {given_role!r}; use the `execution_role_arn` argument ({role_arn!r}), the role the setup cell created.",
    )
    containers = kwargs.get("containerDefinitions")
    if not (isinstance(containers, list) and len(containers) == 1):
        raise CheckFailed("Exercise 4.1: containerDefinitions must be a list holding one container definition (a dict).")
    container = containers[0]
    expect(
        isinstance(container, dict),
        "4.1",
        "each container definition is a dict with name, image, essential, portMappings, environment.",
    )
    expect(container.get("name") == "web", "4.1", f"the container is named {container.get('name')!r}; name it 'web'.")
    expect(
        container.get("image") == image,
        "4.1",
        f"the container runs {container.get('image')!r}; use the `image` argument ({image!r}).",
    )
    expect(
        container.get("essential", True) is True,
        "4.1",
        "the only container of a task must be essential (essential=True): a task needs at least one.",
    )
    mappings = container.get("portMappings") or []
    ports = [m.get("containerPort") for m in mappings if isinstance(m, dict)]
    expect(
        "8080" not in ports,
        "4.1",
        "containerPort is the string '8080'; ECS wants a number: portMappings=[{'containerPort': 8080, 'protocol': 'tcp'}].",
    )
    expect(
        8080 in ports,
        "4.1",
        f"the container publishes {ports or 'no port'}; add portMappings=[{{'containerPort': 8080, 'protocol': 'tcp'}}].",
    )
    environment = container.get("environment")
    expect(
        not isinstance(environment, dict),
        "4.1",
        "environment is a list of {'name': ..., 'value': ...} pairs in ECS, not a dict: [{'name': 'STAGE', 'value': 'exercise'}].",
    )
    pairs = {item.get("name"): item.get("value") for item in environment or [] if isinstance(item, dict)}
    expect(
        pairs.get("STAGE") == "exercise",
        "4.1",
        f"set the environment variable STAGE to 'exercise' (found {pairs or 'no variables'}).",
    )


def check_fargate_task_definition(
    fargate_web_task_definition: Callable[[str, str, str], dict[str, Any]], lab: Any, family: str | None = None
) -> Passed:
    """4.1: ``fargate_web_task_definition(family, image, execution_role_arn)`` gives register_task_definition kwargs ECS accepts.

    The family, the image's repository and (in the lab) the execution role are new each run."""
    family = family or setup.fresh_name(FAMILY)
    image = f"{lab.config.registry_address}/{setup.fresh_name(REPOSITORY)}:v1"
    with setup.check_execution_role(lab, "ex04-check-execution") as role_arn:
        kwargs = run_student("4.1", fargate_web_task_definition, family, image, role_arn)
        expect(
            isinstance(kwargs, dict),
            "4.1",
            f"return a dict of keyword arguments for register_task_definition, not {type(kwargs).__name__}.",
        )
        _fargate_problems(kwargs, family, image, role_arn)
        found = problems(kwargs, lab.config.registry_address)
        expect(not found, "4.1", f"ECS would refuse this task definition: {found[0] if found else ''}")
        _register_and_read_back(lab, kwargs, family)
    return Passed(
        "4.1",
        "ECS registered it as a revision of the family you were given: Fargate, awsvpc, 512 CPU units, 1024 MiB, the execution role, "
        "container web on port 8080 with STAGE=exercise.",
    )


def _register_and_read_back(lab: Any, kwargs: dict[str, Any], family: str) -> None:
    _deregister(lab, family)
    try:
        registered = lab.ecs.register_task_definition(**kwargs)["taskDefinition"]
    except ParamValidationError as error:
        raise CheckFailed(f"Exercise 4.1: boto3 refused the arguments before sending them: {error}") from None
    except ClientError as error:
        raise CheckFailed(
            f"Exercise 4.1: ECS refused the task definition: {error.response['Error']['Code']}: {error.response['Error']['Message']}"
        ) from None
    try:
        described = lab.ecs.describe_task_definition(taskDefinition=registered["taskDefinitionArn"])["taskDefinition"]
        expect(
            described["status"] == "ACTIVE" and described["family"] == family,
            "4.1",
            "ECS did not keep the task definition as registered.",
        )
        expect(
            "FARGATE" in described.get("compatibilities", []),
            "4.1",
            "ECS does not list FARGATE among the compatibilities it found.",
        )
    finally:
        _deregister(lab, family)


# -- 4.2 -------------------------------------------------------------------------------------

HINTS = {
    "Network Configuration must be provided": "Fargate tasks need networkConfiguration={'awsvpcConfiguration': {'subnets': [subnet_id], "
    "'securityGroups': [security_group_id], 'assignPublicIp': 'ENABLED'}}.",
    "No Container Instances were found": "the cluster has no EC2 hosts: pass launchType='FARGATE'.",
    "Waiter TasksRunning failed": "the task stopped instead of running; describe_tasks(...)['tasks'][0]['stoppedReason'] says why.",
}


@contextmanager
def _run_setup(lab: Any, cluster: str, family: str) -> Iterator[tuple[str, str, str, str]]:
    """An image in the lab's registry, a cluster, a task definition and a group admitting 8080 from anywhere; yields
    (cluster, task_def_arn, subnet_id, security_group_id)."""
    ecs_tools.remove_cluster(lab, cluster)
    _delete_repository(lab, REPOSITORY)
    uri = ""
    local = f"{setup.local_name(lab, SAMPLE_IMAGE)}:v1"
    try:
        images.build_sample_app(local, version="v1", client=lab.docker, config=lab.config, show_progress=False)
        uri = str(lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"])
        ecr_tools.push_image(lab.docker, local, uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
        lab.ecs.create_cluster(clusterName=cluster)
        definition = ecs_tools.task_definition(family, f"{uri}:v1", execution_role_arn=security.ensure_execution_role(lab.iam))
        task_def_arn = str(lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"])
        subnet_id = str(lab.ec2.describe_subnets()["Subnets"][0]["SubnetId"])
        yield cluster, task_def_arn, subnet_id, setup.public_task_group(lab)
    finally:
        ecs_tools.remove_cluster(lab, cluster)
        _deregister(lab, family)
        _delete_repository(lab, REPOSITORY)
        if uri:
            images.remove_images(ecr_tools.local_references(lab.docker, uri), client=lab.docker, config=lab.config)
        images.remove_images([local], client=lab.docker, config=lab.config)


def _returned_arn(value: Any) -> str:
    if isinstance(value, dict) and "tasks" in value:
        raise CheckFailed(
            "Exercise 4.2: you returned run_task's whole response; return the task's ARN, response['tasks'][0]['taskArn']."
        )
    if isinstance(value, dict) and "taskArn" in value:
        raise CheckFailed("Exercise 4.2: you returned the task (a dict); return its ARN, task['taskArn'].")
    expect(isinstance(value, str), "4.2", f"return the task's ARN as a string, not {type(value).__name__}.")
    expect(":task/" in value, "4.2", f"{value!r} is not a task ARN (arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID).")
    return str(value)


def check_run_one_task(run_one_task: Callable[[Any, str, str, str, str], str], lab: Any, cluster: str | None = None) -> Passed:
    """4.2: ``run_one_task(lab, cluster, task_def_arn, subnet_id, security_group_id)`` runs one Fargate task with a public IP
    and that group, and returns its ARN once RUNNING.

    The check pushes the sample app to its own repository first (a few seconds), and
    calls the task at its public IP on port 8080 to be sure a real app answers. The cluster and the task
    definition's family are new each run."""
    cluster = cluster or setup.fresh_name(CLUSTER)
    with _run_setup(lab, cluster, setup.fresh_name(RUN_FAMILY)) as (cluster, task_def_arn, subnet_id, group):
        try:
            value = run_student("4.2", run_one_task, lab, cluster, task_def_arn, subnet_id, group)
        except CheckFailed as failure:
            hint = next((hint for words, hint in HINTS.items() if words in str(failure)), "")
            if not hint:
                raise
            raise CheckFailed(f"{failure} Hint: {hint}") from None
        task_arn = _returned_arn(value)
        found = lab.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        expect(
            bool(found),
            "4.2",
            f"no task {task_arn.split('/')[-1]} exists in cluster {cluster!r}; did you pass `cluster` to run_task?",
        )
        task = found[0]
        status = task["lastStatus"]
        if status == "STOPPED":
            raise CheckFailed(f"Exercise 4.2: the task stopped: {task.get('stoppedReason')}.")
        expect(
            status == "RUNNING",
            "4.2",
            f"your function returned while the task was {status}. Wait before returning: "
            "lab.ecs.get_waiter('tasks_running').wait(cluster=cluster, tasks=[task_arn]).",
        )
        running = lab.ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
        expect(
            len(running) == 1, "4.2", f"{len(running)} tasks run in the cluster; start exactly one (one run_task call, count=1)."
        )
        expect(
            task["taskDefinitionArn"] == task_def_arn,
            "4.2",
            f"the task runs {task['taskDefinitionArn'].split('/')[-1]}; run the `task_def_arn` you were given.",
        )
        expect(
            task.get("launchType") == "FARGATE",
            "4.2",
            f"the task's launch type is {task.get('launchType')}; use launchType='FARGATE'.",
        )
        address = ecs_tools.task_address(task, lab.ec2)
        expect(
            address["public_ip"] is not None,
            "4.2",
            "the task runs, but it has no public IP, so nothing outside its VPC can call it (this check included): "
            "assignPublicIp is DISABLED unless you say otherwise. Add 'assignPublicIp': 'ENABLED' to the awsvpcConfiguration.",
        )
        groups = [g["GroupId"] for g in address["security_groups"]]
        expect(
            group in groups,
            "4.2",
            f"the task's security groups are {groups}: none admits port 8080 from your machine (the internet), so a connection "
            "would be dropped and time out. Add 'securityGroups': [security_group_id] to the awsvpcConfiguration.",
        )
        try:
            answer = ecs_tools.call_task(task, ec2=lab.ec2)
        except Exception as error:
            raise CheckFailed(f"Exercise 4.2: the task is RUNNING but its app did not answer on port 8080: {error}") from None
    return Passed(
        "4.2",
        f"the task was RUNNING when your function returned, and its container answered at its public IP on port 8080: "
        f"{answer['message']!r} ({answer['version']}).",
    )


# -- 4.3 -------------------------------------------------------------------------------------


def _resources(cpu: int, memory: int) -> list[dict[str, Any]]:
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375", "2376", "51678", "51679"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ]


def container_instance(
    name: str, remaining: tuple[int, int], registered: tuple[int, int] = (2048, 3840), status: str = "ACTIVE"
) -> dict[str, Any]:
    """One entry of ``describe_container_instances(...)["containerInstances"]``, trimmed to what placement reads.

    ``remaining`` and ``registered`` are (CPU units, MiB). Exercise 4.3 shows one, and its check builds its cases from these."""
    return {
        "containerInstanceArn": f"arn:aws:ecs:us-east-1:123456789012:container-instance/ex04/{name}",
        "ec2InstanceId": f"i-{name}",
        "status": status,
        "agentConnected": True,
        "registeredResources": _resources(*registered),
        "remainingResources": _resources(*remaining),
        "runningTasksCount": 0,
    }


def _left(instance: dict[str, Any], key: str = "remainingResources") -> dict[str, int]:
    return {r["name"]: int(r.get("integerValue", 0)) for r in instance[key] if r["type"] == "INTEGER"}


def _fits(instance: dict[str, Any], cpu: int, memory: int, key: str = "remainingResources") -> bool:
    left = _left(instance, key)
    return left["CPU"] >= cpu and left["MEMORY"] >= memory


def _explain(chosen: Any, instances: list[dict[str, Any]], cpu: int, memory: int) -> str:
    """Why ``chosen`` is the wrong answer, in terms of the instance the learner picked."""
    expected = next((i for i in instances if i["status"] == "ACTIVE" and _fits(i, cpu, memory)), None)
    if isinstance(chosen, dict):
        return "you returned a whole container instance; return its ARN, instance['containerInstanceArn']."
    by_arn = {i["containerInstanceArn"]: i for i in instances}
    if chosen is None and expected is not None:
        name, left = expected["containerInstanceArn"].split("/")[-1], _left(expected)
        exact = (
            " A task that needs exactly what is left fits: compare with >=."
            if left["CPU"] == cpu or left["MEMORY"] == memory
            else ""
        )
        return (
            f"you returned None, but instance {name} has room ({left['CPU']} CPU units and {left['MEMORY']} MiB "
            f"left for a task of {cpu} and {memory}).{exact}"
        )
    if chosen not in by_arn:
        return f"{chosen!r} is not the ARN of any of the instances given; return instance['containerInstanceArn'] or None."
    instance, name = by_arn[chosen], chosen.split("/")[-1]
    left = _left(instance)
    if instance["status"] != "ACTIVE":
        return f"instance {name} is {instance['status']}: ECS places new tasks only on ACTIVE instances (a DRAINING one is being emptied)."
    if not _fits(instance, cpu, memory) and _fits(instance, cpu, memory, "registeredResources"):
        return (
            f"instance {name} has {left['CPU']} CPU units and {left['MEMORY']} MiB left: you read registeredResources "
            "(what the host has in total); use remainingResources (what is left after the tasks already placed)."
        )
    if left["CPU"] < cpu:
        return f"instance {name} has {left['CPU']} CPU units left and the task needs {cpu}: check CPU as well as MEMORY."
    if left["MEMORY"] < memory:
        return f"instance {name} has {left['MEMORY']} MiB left and the task needs {memory}: check MEMORY as well as CPU."
    if expected is None:
        return "no instance has room for this task; return None (ECS would report a RESOURCE:... failure)."
    first, first_left = expected["containerInstanceArn"].split("/")[-1], _left(expected)
    if first_left["CPU"] == cpu or first_left["MEMORY"] == memory:
        return (
            f"instance {first} comes first and has exactly what the task needs ({first_left['CPU']} CPU units, "
            f"{first_left['MEMORY']} MiB left): a task that needs exactly what is left fits, so compare with >=."
        )
    return f"instance {name} fits, but {first} comes first in the list and fits too: return the first that fits."


PLACEMENT_CASES: list[tuple[str, list[dict[str, Any]], int, int]] = [
    (
        "room on the second host only",
        [container_instance("small", (2048, 512), (2048, 1792)), container_instance("medium", (2048, 2048))],
        256,
        1024,
    ),
    (
        "CPU counts too",
        [container_instance("busy-cpu", (256, 3000), (1024, 3840)), container_instance("idle", (4096, 8192), (4096, 8192))],
        2048,
        512,
    ),
    (
        "what is left, not what there is",
        [container_instance("full", (0, 256)), container_instance("empty", (2048, 3840))],
        1024,
        1024,
    ),
    ("the first that fits", [container_instance("first", (1024, 2048)), container_instance("second", (2048, 3840))], 512, 1024),
    ("an exact fit fits", [container_instance("exact", (512, 1024)), container_instance("roomy", (2048, 3840))], 512, 1024),
    (
        "a draining host takes no tasks",
        [container_instance("draining", (2048, 3840), status="DRAINING"), container_instance("active", (1024, 2048))],
        512,
        1024,
    ),
    ("no room anywhere", [container_instance("a", (512, 768)), container_instance("b", (256, 3840))], 512, 1024),
    ("no hosts at all", [], 256, 512),
]


def check_pick_instance(pick_instance: Callable[[list[dict[str, Any]], int, int], str | None], lab: Any) -> Passed:
    """4.3: ``pick_instance(container_instances, cpu, memory)`` returns the first ACTIVE instance with room, or None.

    Eight made-up cases in describe_container_instances' shape, then (in the lab) two
    simulated EC2 hosts of a real cluster."""
    for title, instances, cpu, memory in PLACEMENT_CASES:
        expected = next((i["containerInstanceArn"] for i in instances if i["status"] == "ACTIVE" and _fits(i, cpu, memory)), None)
        chosen = run_student("4.3", pick_instance, copy.deepcopy(instances), cpu, memory)
        if chosen != expected:
            raise CheckFailed(
                f"Exercise 4.3, case “{title}” (a task of {cpu} CPU units and {memory} MiB): {_explain(chosen, instances, cpu, memory)}"
            )
    if not lab.is_local:
        return Passed("4.3", f"all {len(PLACEMENT_CASES)} cases right.")
    ecs_tools.remove_cluster(lab, PLACEMENT_CLUSTER)
    lab.ecs.create_cluster(clusterName=PLACEMENT_CLUSTER)
    try:
        small = ecs_tools.add_container_instances(lab, PLACEMENT_CLUSTER, 1, "t3.small")[0]
        medium = ecs_tools.add_container_instances(lab, PLACEMENT_CLUSTER, 1, "t3.medium")[0]
        instances = lab.ecs.describe_container_instances(cluster=PLACEMENT_CLUSTER, containerInstances=[small, medium])[
            "containerInstances"
        ]
        chosen = run_student("4.3", pick_instance, instances, 512, 2048)
        if chosen != medium:
            raise CheckFailed(
                "Exercise 4.3, a real cluster with a t3.small (1792 MiB for tasks) and a t3.medium (3840 MiB), "
                f"a task of 512 CPU units and 2048 MiB: {_explain(chosen, instances, 512, 2048)}"
            )
    finally:
        ecs_tools.remove_cluster(lab, PLACEMENT_CLUSTER)
    return Passed(
        "4.3", f"all {len(PLACEMENT_CASES)} cases right, and on a real cluster you picked the t3.medium for a 2 GiB task."
    )
