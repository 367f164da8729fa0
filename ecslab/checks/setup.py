"""What the setup cells of exercises 05-09 share: an app image in a repository of the exercise's own.

An exercise's setup cell calls its checker module's ``prepare_image`` (``ex05``, ``ex06``,
``ex08``), which builds the sample app (v1; exercise 07: the AWS app, with boto3) and pushes it to a fresh repository
(``ex05-app``, ...). Every check of that exercise then finds the image with
:func:`exercise_image`, which says to run the setup cell when the image is not there;
the notebook's Cleanup cell deletes the repository with :func:`delete_repository`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from ecslab import cleanup, images, security
from ecslab import ecr as ecr_tools
from ecslab import elb as elb_tools
from ecslab.checks.core import CheckFailed

__all__ = [
    "check_execution_role",
    "clusters_left",
    "clusters_with_prefix",
    "create_web_front",
    "default_subnets",
    "delete_cluster",
    "delete_repository",
    "delete_role",
    "fresh_name",
    "local_name",
    "exercise_image",
    "prepare_image",
    "quiet",
    "remove_exercise_image",
    "repositories_left",
]


def quiet(_message: str) -> None:
    """A ``say`` for :func:`ecslab.cleanup.remove` that says nothing: a check's clean-up is not the learner's business."""


def fresh_name(prefix: str) -> str:
    """``prefix-xxxxxx`` (6 random hex digits), new on every run.

    A check hands the learner's function names drawn here (a cluster, a service, a role, a log group...), so a
    function that types in the names it saw in an earlier run, instead of using its arguments, cannot pass. Prefixes
    stay ``exNN-check-...``: a Cleanup cell finds an interrupted check's leftovers by prefix (:func:`clusters_with_prefix`)."""
    return f"{prefix}-{secrets.token_hex(3)}"


def clusters_with_prefix(lab: Any, prefix: str) -> list[str]:
    """The names of the ACTIVE clusters whose name starts with ``prefix`` (checks' clusters, left by an interrupted run)."""
    arns: list[str] = []
    request: dict[str, Any] = {}
    while True:
        page = lab.ecs.list_clusters(**request)
        arns += page["clusterArns"]
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    named = [arn for arn in arns if arn.rsplit("/", 1)[-1].startswith(prefix)]
    return [
        cluster["clusterName"]
        for start in range(0, len(named), 100)
        for cluster in lab.ecs.describe_clusters(clusters=named[start : start + 100])["clusters"]
        if cluster["status"] == "ACTIVE"
    ]


def delete_role(lab: Any, name: str) -> None:
    """Delete role ``name`` with its inline and attached policies (IAM wants them gone first); on AWS only the course's."""
    cleanup.remove(lab, cleanup.CourseResources(roles=[name]), say=quiet)


@contextlib.contextmanager
def check_execution_role(lab: Any, prefix: str) -> Iterator[str]:
    """The task execution role a check hands the learner's function; yields its ARN.

    In the lab a fresh role (``prefix-xxxxxx``, made like ``ecsTaskExecutionRole``) deleted afterwards, so a function
    that types in an execution role's ARN instead of using its argument cannot pass. On AWS the course's
    ``ecsTaskExecutionRole``: a role IAM has just created can take seconds before ECS may assume it."""
    if not lab.is_local:
        yield security.ensure_execution_role(lab.iam)
        return
    name = fresh_name(prefix)
    try:
        yield security.ensure_execution_role(lab.iam, name)
    finally:
        delete_role(lab, name)


def delete_cluster(lab: Any, cluster: str, timeout: float = 60.0) -> None:
    """The clean-up of a check's cluster (checks 05, 07, 08): its services (force), its tasks (stopped and waited for),
    the cluster, then the task definitions its services and tasks ran. A cluster that is not ACTIVE is left alone.

    A service may start a task a moment before it is deleted (one that keeps failing, say), so the tasks are listed
    again until ECS agrees to delete the cluster (``timeout`` seconds at most). On AWS: only a cluster the course
    made for this learner, with :func:`ecslab.cleanup.remove` (its task definitions stay)."""
    if not lab.is_local:
        cleanup.remove(lab, cleanup.CourseResources(clusters=[cluster]), say=quiet)
        return
    described = lab.ecs.describe_clusters(clusters=[cluster])["clusters"]
    if not described or described[0]["status"] != "ACTIVE":
        return
    definitions: set[str] = set()
    service_arns = lab.ecs.list_services(cluster=cluster)["serviceArns"]
    if service_arns:
        for service in lab.ecs.describe_services(cluster=cluster, services=service_arns)["services"]:
            definitions.add(service["taskDefinition"])
            lab.ecs.delete_service(cluster=cluster, service=service["serviceArn"], force=True)
    deadline = time.monotonic() + timeout
    while True:
        running = lab.ecs.list_tasks(cluster=cluster)["taskArns"]
        for task in running:  # tasks of the deleted services, and tasks started with run_task
            lab.ecs.stop_task(cluster=cluster, task=task, reason="ecslab check: cleanup")
        arns = running + lab.ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        tasks = [
            task
            for start in range(0, len(arns), 100)
            for task in lab.ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
        ]
        definitions |= {task["taskDefinitionArn"] for task in tasks}
        stopping = [task["taskArn"] for task in tasks if task["lastStatus"] != "STOPPED"]
        if stopping:
            lab.ecs.get_waiter("tasks_stopped").wait(
                cluster=cluster, tasks=stopping[:100], WaiterConfig={"Delay": 0.5, "MaxAttempts": max(1, int(timeout * 2))}
            )
        try:
            lab.ecs.delete_cluster(cluster=cluster)
            break
        except ClientError as error:
            if "while Tasks are active" not in str(error) or time.monotonic() > deadline:
                raise
    for definition in definitions:
        with contextlib.suppress(ClientError):
            lab.ecs.deregister_task_definition(taskDefinition=definition)


LOCAL_SUFFIX = "ECSLAB_LOCAL_IMAGE_SUFFIX"
"""Environment variable: a suffix for the local image names setup cells and checks build (:func:`local_name`).
``ecslab grade`` sets a distinct one in each worker (and so in its kernels); unset, the names are the plain ones."""


def local_name(lab: Any, repository: str) -> str:
    """The local image name (without tag) a setup cell or a check builds ``repository``'s image under.

    Local names are engine-wide: every lab on the machine shares one Docker engine, and two labs building
    ``ex05-app:v1`` at once move the tag between their images (one pushes the other's, one image is left untagged,
    a clean-up can take the name from under the other's push). A learner has one lab and sees ``repository``; in
    ``ecslab grade`` each worker sets :data:`LOCAL_SUFFIX`, and its names are ``repository-SUFFIX``, which no other
    worker shares. (``lab`` is for a future per-lab rule; the name depends on the environment only.)"""
    suffix = os.environ.get(LOCAL_SUFFIX, "").strip().lower()
    return f"{repository}-{suffix}" if re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", suffix) else repository


def prepare_image(lab: Any, repository: str, show_progress: bool = True, aws_app: bool = False) -> str:
    """Build the sample app (v1), or with ``aws_app`` the AWS app, and push it to a fresh ``repository``; returns ``URI:v1``.

    The local name is :func:`local_name`'s (``repository:v1`` in a learner's lab)."""
    delete_repository(lab, repository)
    local = f"{local_name(lab, repository)}:v1"
    if aws_app:
        images.build_aws_app(local, client=lab.docker, config=lab.config, show_progress=show_progress)
    else:
        images.build_sample_app(local, version="v1", client=lab.docker, config=lab.config, show_progress=show_progress)
    uri = str(lab.ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"])
    ecr_tools.push_image(lab.docker, local, uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=show_progress)
    return f"{uri}:v1"


def exercise_image(lab: Any, exercise: str, repository: str, app: str = "the sample app") -> str:
    """The image the setup cell of exercise ``exercise`` pushed (``URI:v1``); fails kindly when it is not there."""
    try:
        found = lab.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "v1"}])["imageDetails"]
        uri = lab.ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except ClientError:
        found = []
    if not found:
        raise CheckFailed(
            f"Exercise {exercise}: {app} is not in the repository {repository!r}. Run the setup cell at the top of the "
            "notebook (it pushes the image the checks run), then this check again."
        )
    return f"{uri}:v1"


def delete_repository(lab: Any, repository: str) -> bool:
    """Delete ``repository`` (with its images) and the local names that point into it; False when there is none.

    On AWS only a repository the course made for this learner (:func:`ecslab.cleanup.remove`)."""
    if not lab.is_local:
        return not cleanup.remove(lab, cleanup.CourseResources(repositories=[repository]), say=quiet)["repositories"]
    try:
        uri = lab.ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except lab.ecr.exceptions.RepositoryNotFoundException:
        return False
    lab.ecr.delete_repository(repositoryName=repository, force=True)
    images.remove_images(ecr_tools.local_references(lab.docker, uri), client=lab.docker, config=lab.config)
    return True


def remove_exercise_image(lab: Any, repository: str, tags: tuple[str, ...] = ("v1",)) -> None:
    """The Cleanup of an exercise's image: its repository (:func:`delete_repository`) and its local names
    (:func:`local_name` ``:TAG``)."""
    delete_repository(lab, repository)
    images.remove_images([f"{local_name(lab, repository)}:{tag}" for tag in tags], client=lab.docker, config=lab.config)


def repositories_left(lab: Any, repository: str) -> list[str]:
    """``[repository]`` while it still exists, else ``[]``: what a Cleanup cell reports."""
    return [r["repositoryName"] for r in lab.ecr.describe_repositories()["repositories"] if r["repositoryName"] == repository]


def clusters_left(lab: Any, clusters: list[str] | tuple[str, ...]) -> list[str]:
    """The names of ``clusters`` still ACTIVE: what a Cleanup cell reports."""
    return [c["clusterName"] for c in lab.ecs.describe_clusters(clusters=list(clusters))["clusters"] if c["status"] == "ACTIVE"]


def default_subnets(lab: Any) -> list[str]:
    """The subnets of the default VPC, where the checks' own tasks run."""
    vpcs = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    return [
        s["SubnetId"] for s in lab.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    ]


def public_task_group(lab: Any) -> str:
    """A security group of the default VPC admitting TCP 8080 from anywhere: the checks' own tasks, called at their
    public IP (:func:`ecslab.network.public_task_security_group`; reused from run to run)."""
    from ecslab import network

    vpc = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    return network.public_task_security_group(lab.ec2, vpc)


def create_web_front(
    lab: Any, name: str, alb_name: str, target_group: str, subnets: list[str], vpc_id: str, deregistration_delay: int
) -> tuple[str, str, str, str]:
    """What checks 6.2 and 9.x build before the learner's part: the web security groups ``{name}-alb`` and
    ``{name}-tasks``, an internet-facing ALB in them (no listener), and the course's target group (``ip``, port 8080,
    /health every 5 s, timeout 2 s, 2 to be healthy or unhealthy) with ``deregistration_delay`` seconds of draining.
    Returns the ALB's and the target group's ARNs and the two groups' IDs."""
    from ecslab import network

    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc_id, prefix=name)
    alb_arn = lab.elbv2.create_load_balancer(
        Name=alb_name, Subnets=subnets, SecurityGroups=[alb_group], Type="application", Scheme="internet-facing"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg_arn = elb_tools.create_app_target_group(lab.elbv2, target_group, vpc_id, deregistration_delay)
    return str(alb_arn), str(tg_arn), alb_group, task_group
