"""Checks for exercises/05-deploy-to-ecs.ipynb: a Fargate service, its tasks' URLs, a rolling update.

The exercise's setup cell calls :func:`prepare_image`, which pushes the sample app to the
repository ``ex05-app`` as ``:v1``; every checker runs that image. Each checker works in
a cluster of its own, deleted after it with its services and tasks; the notebook's Cleanup
cell (:func:`clean_up`) deletes the repository and any check cluster an interrupted run left.

The names a checker hands the learner's function (cluster, service, execution role) are new on
every run (``ex05-check-deploy-xxxxxx``...): a function that types in names instead of using its
arguments cannot pass. Tests may pass names of their own.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab import security
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, NotDone, Passed, expect, run_student

POINTS: dict[str, int] = {"5.1": 1, "5.2": 1, "5.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex05-app"
DEPLOY_CLUSTER = "ex05-check-deploy"
URLS_CLUSTER = "ex05-check-urls"
ROLL_CLUSTER = "ex05-check-roll"
SERVICE = "ex05-check-api"
OTHER_SERVICE = "ex05-check-other"
CHECK_PREFIX = "ex05-check-"
"""Every check's cluster starts with it (the names are :func:`ecslab.checks.setup.fresh_name`'s)."""
STEADY_TIMEOUT = 60.0


# -- the image and the clean slate ---------------------------------------------------------


def prepare_image(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> str:
    """Setup of the exercise: the sample app (v1) pushed to a fresh ``repository``; returns ``URI:v1``."""
    return setup.prepare_image(lab, repository, show_progress=show_progress)


def exercise_image(lab: Any, repository: str = EXERCISE_REPOSITORY) -> str:
    """The image the setup cell pushed (``URI:v1``); fails kindly when it is not there."""
    return setup.exercise_image(lab, "5", repository)


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: every check cluster an interrupted check left (with its services and tasks) and the repository."""
    for cluster in setup.clusters_with_prefix(lab, CHECK_PREFIX):
        delete_cluster(lab, cluster)
    setup.remove_exercise_image(lab, repository)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_with_prefix(lab, CHECK_PREFIX),
    }


delete_cluster = setup.delete_cluster
"""The clean-up of a check's cluster: :func:`ecslab.checks.setup.delete_cluster`."""


def _service_of_the_check(
    lab: Any, cluster: str, service: str, image: str, count: int, family: str, environment: dict[str, str] | None = None
) -> str:
    """What the checks of 5.2 and 5.3 start from: a Fargate service the checker makes itself; returns its task definition ARN."""
    definition = ecs_tools.task_definition(
        family, image, environment=environment, execution_role_arn=security.ensure_execution_role(lab.iam)
    )
    arn = str(lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"])
    lab.ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=arn,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": setup.default_subnets(lab),
                "securityGroups": [setup.public_task_group(lab)],
                "assignPublicIp": "ENABLED",
            }
        },
    )
    return arn


def _wait_steady(lab: Any, exercise: str, cluster: str, service: str, timeout: float = STEADY_TIMEOUT) -> float:
    """Seconds until the service is steady; when it is not, say why in ECS's words (latest event, stopped tasks)."""
    started = time.monotonic()
    try:
        ecs_tools.wait_for_steady_state(lab.ecs, cluster, service, timeout=timeout, show_progress=False)
    except TimeoutError as error:
        stopped = lab.ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED")["taskArns"]
        reasons = (
            sorted({t.get("stoppedReason", "") for t in lab.ecs.describe_tasks(cluster=cluster, tasks=stopped[:20])["tasks"]})
            if stopped
            else []
        )
        raise CheckFailed(
            f"Exercise {exercise}: {error}"
            + (f" Its stopped tasks say: {'; '.join(reasons)}." if reasons else "")
            + (
                " A CannotPullContainerError means the image is not in the registry under that name: use the image_uri argument."
                if any("CannotPullContainerError" in reason for reason in reasons)
                else ""
            )
        ) from None
    return time.monotonic() - started


def _answers(exercise: str, urls: list[str], patience: float = 10.0) -> list[dict[str, Any]]:
    """GET / from each URL. A task is RUNNING once its container started; the app may need a moment more to listen."""
    import json
    import urllib.request

    answers = []
    for url in urls:
        deadline = time.monotonic() + patience
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as response:
                    answers.append(dict(json.loads(response.read())))
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise CheckFailed(f"Exercise {exercise}: {url} does not answer ({type(error).__name__}: {error}).") from None
                time.sleep(0.2)
            except ValueError as error:
                raise CheckFailed(f"Exercise {exercise}: {url} answers, but not with the sample app's JSON ({error}).") from None
    return answers


def _task_urls(lab: Any, cluster: str, service: str) -> list[str]:
    """Each task's public IP and container port, the AWS way (attachments -> ENI -> describe_network_interfaces)."""
    return sorted(ecs_tools.task_url(task, ec2=lab.ec2) for task in ecs_tools.service_tasks(lab.ecs, cluster, service))


def _run_with_role_hint(exercise: str, function: Callable[..., Any], hint: str, *args: Any) -> Any:
    """``run_student``; when ECS refused a task definition for want of an execution role, say how to give it one."""
    try:
        return run_student(exercise, function, *args)
    except NotDone:
        raise
    except CheckFailed as failure:
        if "execution role ARN" not in str(failure):
            raise
        raise CheckFailed(f"{failure} {hint}") from None


# -- 5.1 -------------------------------------------------------------------------------------


def check_deploy_service(
    deploy_service: Callable[[Any, str, str, str, str, str], str],
    lab: Any,
    cluster: str | None = None,
    service: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """5.1: ``deploy_service(lab, cluster, service, image_uri, execution_role_arn, security_group_id)`` creates the cluster
    and a 2-task Fargate service whose tasks have a public IP and the group ``security_group_id`` (it admits TCP 8080 from
    anywhere); returns the service ARN. Cluster, service and (in the lab) the execution role are new each run."""
    image = exercise_image(lab, repository)
    cluster = cluster or setup.fresh_name(DEPLOY_CLUSTER)
    service = service or setup.fresh_name(SERVICE)
    with setup.check_execution_role(lab, "ex05-check-execution") as role_arn:
        return _check_deploy_service(deploy_service, lab, cluster, service, image, role_arn)


def _check_deploy_service(
    deploy_service: Callable[[Any, str, str, str, str, str], str], lab: Any, cluster: str, service: str, image: str, role_arn: str
) -> Passed:
    delete_cluster(lab, cluster)
    group = setup.public_task_group(lab)
    try:
        arn = _run_with_role_hint(
            "5.1",
            deploy_service,
            "Pass executionRoleArn=execution_role_arn to register_task_definition: the role the setup cell created, which ECS uses to pull "
            "your image from ECR.",
            lab,
            cluster,
            service,
            image,
            role_arn,
            group,
        )
        clusters = lab.ecs.describe_clusters(clusters=[cluster])["clusters"]
        expect(
            bool(clusters) and clusters[0]["status"] == "ACTIVE",
            "5.1",
            f"there is no ACTIVE cluster named {cluster!r}: create it with lab.ecs.create_cluster(clusterName=cluster).",
        )
        found = [s for s in lab.ecs.describe_services(cluster=cluster, services=[service])["services"] if s["status"] == "ACTIVE"]
        expect(
            bool(found),
            "5.1",
            f"cluster {cluster!r} has no service named {service!r}: call create_service(cluster=cluster, serviceName=service, ...).",
        )
        described = found[0]
        expect(isinstance(arn, str), "5.1", f"return the service's ARN as a string, not {type(arn).__name__}.")
        kinds = {clusters[0]["clusterArn"]: "the cluster's ARN", described["taskDefinition"]: "the task definition's ARN"}
        expect(
            arn == described["serviceArn"],
            "5.1",
            f"you returned {arn!r}"
            + (f", {kinds[arn]}" if arn in kinds else "")
            + f"; return the service's ARN, {described['serviceArn']!r} "
            "(create_service's response['service']['serviceArn']).",
        )
        expect(
            described.get("launchType") == "FARGATE",
            "5.1",
            f"the service's launch type is {described.get('launchType')!r}: pass launchType='FARGATE' to create_service (no EC2 hosts in this cluster).",
        )
        expect(
            described["desiredCount"] == 2,
            "5.1",
            f"the service asks for {described['desiredCount']} task(s); pass desiredCount=2.",
        )
        subnets = described.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets", [])
        expect(
            bool(subnets),
            "5.1",
            "the service has no networkConfiguration: a Fargate task gets its own network interface, so AWS needs "
            "networkConfiguration={'awsvpcConfiguration': {'subnets': [...]}} with subnets of the default VPC (describe_subnets).",
        )
        public_ip = described.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("assignPublicIp", "DISABLED")
        expect(
            public_ip == "ENABLED",
            "5.1",
            f"assignPublicIp is {public_ip}, so the tasks get no public IP and nothing outside the VPC can call them (this check "
            "included): add 'assignPublicIp': 'ENABLED' to the awsvpcConfiguration. (Behind a load balancer, notebook 06, they need none.)",
        )
        groups = described.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("securityGroups", [])
        expect(
            group in groups,
            "5.1",
            f"the tasks' security groups are {groups or 'not given (so ECS gives them the VPC default group)'}; the default group admits "
            "only its own members, so a connection from your machine (the internet) to port 8080 is dropped and times out. Add "
            "'securityGroups': [security_group_id] to the awsvpcConfiguration: that group admits TCP 8080 from 0.0.0.0/0.",
        )
        default_subnets = set(setup.default_subnets(lab))
        expect(
            set(subnets) <= default_subnets,
            "5.1",
            f"subnets {sorted(set(subnets) - default_subnets)} are not in the default VPC; filter describe_subnets by the VpcId of "
            f"describe_vpcs(Filters=[{{'Name': 'isDefault', 'Values': ['true']}}]).",
        )
        definition = lab.ecs.describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]
        container = definition["containerDefinitions"][0]
        expect(
            container.get("image") == image,
            "5.1",
            f"the task definition runs {container.get('image')!r}; use the image_uri argument, {image!r} (the image the setup cell pushed).",
        )
        expect(
            "FARGATE" in definition.get("requiresCompatibilities", []),
            "5.1",
            "register the task definition with requiresCompatibilities=['FARGATE'] (and networkMode='awsvpc', cpu='256', memory='512').",
        )
        expect(
            definition.get("executionRoleArn") == role_arn,
            "5.1",
            f"the task definition's executionRoleArn is {definition.get('executionRoleArn')!r}; pass the execution_role_arn argument, {role_arn!r} "
            "(the role the setup cell created, which may pull from ECR).",
        )
        ports = [m.get("containerPort") for c in definition["containerDefinitions"] for m in c.get("portMappings", [])]
        expect(
            8080 in ports,
            "5.1",
            f"the sample app listens on port 8080, but the task definition maps {ports or 'no port'}: add portMappings=[{{'containerPort': 8080}}] "
            "to the container.",
        )
        seconds = _wait_steady(lab, "5.1", cluster, service)
        urls = _task_urls(lab, cluster, service)
        answers = _answers("5.1", urls)
        hostnames = {answer.get("hostname") for answer in answers}
        expect(
            len(hostnames) == 2,
            "5.1",
            f"2 tasks should answer from 2 containers; the answers came from {len(hostnames)} hostname(s).",
        )
        return Passed(
            "5.1",
            f"the service runs 2 Fargate tasks of {image}, steady {seconds:.1f} s after your function returned; both answered at their "
            "public IP on port 8080, from different containers.",
        )
    finally:
        delete_cluster(lab, cluster)


# -- 5.2 -------------------------------------------------------------------------------------


def _normalise(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    host = "127.0.0.1" if parts.hostname in ("localhost", "127.0.0.1") else (parts.hostname or "")
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else url.strip().rstrip("/")


def check_task_urls(
    task_urls: Callable[[Any, str, str], list[str]],
    lab: Any,
    cluster: str | None = None,
    service: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """5.2: ``task_urls(lab, cluster, service)`` returns ``http://PUBLIC_IP:8080`` for each of the service's running tasks,
    found the AWS way: each task's ``attachments`` name its network interface, whose public IP
    ``describe_network_interfaces`` gives (``Association.PublicIp``); the app listens on its container port, 8080.
    Cluster and service are new each run, and so is the other service beside it."""
    image = exercise_image(lab, repository)
    cluster = cluster or setup.fresh_name(URLS_CLUSTER)
    service = service or setup.fresh_name(SERVICE)
    other_service = setup.fresh_name(OTHER_SERVICE)
    delete_cluster(lab, cluster)
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        _service_of_the_check(lab, cluster, service, image, 2, family=cluster)
        _service_of_the_check(lab, cluster, other_service, image, 1, family=cluster)
        _wait_steady(lab, "5.2", cluster, service)
        _wait_steady(lab, "5.2", cluster, other_service)
        urls = run_student("5.2", task_urls, lab, cluster, service)
        expect(
            isinstance(urls, list | tuple) and all(isinstance(u, str) for u in urls),
            "5.2",
            f"return a list of URL strings, not {urls!r}.",
        )
        expected = _task_urls(lab, cluster, service)
        others = _task_urls(lab, cluster, other_service)
        given = [_normalise(url) for url in urls]
        private_ips = {
            d["value"]
            for task in ecs_tools.service_tasks(lab.ecs, cluster, service)
            for a in task.get("attachments", [])
            for d in a.get("details", [])
            if d["name"] == "privateIPv4Address"
        }
        expect(
            not any(u.startswith("arn:") for u in given),
            "5.2",
            "you returned task ARNs; return where each task answers: 'http://' + public_ip + ':8080', the public IP of its network "
            "interface.",
        )
        expect(
            not any(urllib.parse.urlsplit(u).hostname in private_ips for u in given),
            "5.2",
            "you returned the tasks' private IPs (privateIPv4Address): only the VPC reaches those. Call "
            "lab.ec2.describe_network_interfaces(NetworkInterfaceIds=[the networkInterfaceId of the task's attachments]) and use "
            "['NetworkInterfaces'][0]['Association']['PublicIp'].",
        )
        expect(
            not any(u.startswith("http://127.0.0.1:") for u in given),
            "5.2",
            "a Fargate task (network mode awsvpc) has no host port: ECS reports no networkBindings for it. Each task has an address "
            "of its own, its network interface's public IP: attachments -> networkInterfaceId -> describe_network_interfaces -> "
            "Association.PublicIp, on the container port 8080.",
        )
        expect(
            not set(given) & set(others),
            "5.2",
            f"your list includes the task of another service in the same cluster ({other_service}): pass serviceName=service to list_tasks.",
        )
        expect(
            len(set(given)) >= len(expected),
            "5.2",
            f"you returned {len(set(given))} URL(s); the service runs {len(expected)} tasks: describe every ARN list_tasks returns (describe_tasks "
            "takes a list).",
        )
        expect(
            sorted(set(given)) == expected,
            "5.2",
            f"expected {expected} (each task's network interface's public IP, port 8080), got {list(urls)}.",
        )
        answers = _answers("5.2", expected)
        expect(len({a.get("hostname") for a in answers}) == len(expected), "5.2", "each URL should reach a different container.")
        return Passed(
            "5.2",
            f"{len(expected)} URLs, one per running task of the service, and only those; each answered ({', '.join(a['version'] for a in answers)}).",
        )
    finally:
        delete_cluster(lab, cluster)


# -- 5.3 -------------------------------------------------------------------------------------


def check_roll_to_v2(
    roll_to_v2: Callable[[Any, str, str], str],
    lab: Any,
    cluster: str | None = None,
    service: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """5.3: ``roll_to_v2(lab, cluster, service)`` rolls the service to a revision with APP_VERSION=v2 and returns when only v2 answers.
    Cluster and service (and so the task definition's family, named after the cluster) are new each run."""
    image = exercise_image(lab, repository)
    cluster = cluster or setup.fresh_name(ROLL_CLUSTER)
    service = service or setup.fresh_name(SERVICE)
    delete_cluster(lab, cluster)
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        old_arn = _service_of_the_check(lab, cluster, service, image, 2, family=cluster)
        _wait_steady(lab, "5.3", cluster, service)
        old = lab.ecs.describe_task_definition(taskDefinition=old_arn)["taskDefinition"]
        started = time.monotonic()
        new_arn = _run_with_role_hint(
            "5.3",
            roll_to_v2,
            "The new revision needs the execution role too: copy executionRoleArn from the current revision, with the other fields.",
            lab,
            cluster,
            service,
        )
        seconds = time.monotonic() - started
        described = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][
            0
        ]  # as it is when the function returned
        expect(
            isinstance(new_arn, str) and ":task-definition/" in new_arn,
            "5.3",
            f"return the new task definition's ARN (register_task_definition's response['taskDefinition']['taskDefinitionArn']), not {new_arn!r}.",
        )
        expect(
            new_arn != old_arn,
            "5.3",
            "you returned the service's current task definition; register a new revision and return its ARN.",
        )
        try:
            new = lab.ecs.describe_task_definition(taskDefinition=new_arn)["taskDefinition"]
        except ClientError as error:
            raise CheckFailed(f"Exercise 5.3: ECS does not know {new_arn!r}: {error}") from None
        expect(
            new["family"] == old["family"],
            "5.3",
            f"you registered family {new['family']!r}; register the new revision in the service's family, {old['family']!r}, so it becomes that "
            "family's next revision.",
        )
        container, old_container = new["containerDefinitions"][0], old["containerDefinitions"][0]
        environment = {item["name"]: item["value"] for item in container.get("environment", [])}
        expect(
            environment.get("APP_VERSION") == "v2",
            "5.3",
            f"the new revision's container environment is {environment or 'empty'}; add {{'name': 'APP_VERSION', 'value': 'v2'}} to "
            "containerDefinitions[0]['environment'].",
        )
        expect(
            container.get("image") == old_container.get("image"),
            "5.3",
            f"keep the image ({old_container.get('image')}): here v2 is a setting the app reads (APP_VERSION), not a new image; you changed it to "
            f"{container.get('image')!r}.",
        )
        expect(
            container.get("portMappings") and container["portMappings"][0].get("containerPort") == 8080,
            "5.3",
            "the new revision lost the port mapping to 8080: copy containerDefinitions from the current revision and change only the environment.",
        )
        expect(
            (new.get("cpu"), new.get("memory"), new.get("networkMode"))
            == (old.get("cpu"), old.get("memory"), old.get("networkMode")),
            "5.3",
            f"keep cpu, memory and networkMode as they were ({old.get('cpu')}, {old.get('memory')}, {old.get('networkMode')}); you registered "
            f"{new.get('cpu')}, {new.get('memory')}, {new.get('networkMode')}.",
        )
        expect(
            new.get("executionRoleArn") == old.get("executionRoleArn"),
            "5.3",
            f"keep the execution role ({old.get('executionRoleArn')}); you registered {new.get('executionRoleArn')!r}.",
        )
        expect(
            described["taskDefinition"] == new_arn,
            "5.3",
            f"the service still runs {described['taskDefinition'].split('/')[-1]}; call update_service(cluster=cluster, service=service, "
            "taskDefinition=<the new ARN>).",
        )
        deployments = [(d["status"], d.get("rolloutState")) for d in described["deployments"]]
        expect(
            len(deployments) == 1 and described["runningCount"] == described["desiredCount"],
            "5.3",
            f"when your function returned, the service had deployments {deployments} and {described['runningCount']}/{described['desiredCount']} "
            "tasks running: "
            "the rollout was not finished. Wait before returning: lab.ecs.get_waiter('services_stable').wait(cluster=cluster, services=[service], "
            "WaiterConfig={'Delay': 1}) or ecslab.ecs.wait_for_steady_state(lab.ecs, cluster, service).",
        )
        versions = sorted(answer.get("version", "?") for answer in _answers("5.3", _task_urls(lab, cluster, service)))
        expect(versions == ["v2", "v2"], "5.3", f"the running tasks answer {versions}; only v2 should answer.")
        return Passed(
            "5.3",
            f"rolled to a new revision of the service's family in {seconds:.1f} s; one PRIMARY deployment ({deployments[0][1]}); both tasks answer v2.",
        )
    finally:
        delete_cluster(lab, cluster)
