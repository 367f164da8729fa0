"""What the setup cells of exercises 05-09 share: an app image in a repository of the exercise's own.

An exercise's setup cell calls its checker module's ``prepare_image`` (``ex05``, ``ex06``,
``ex08``), which builds the sample app (v1; exercise 07: the AWS app, with boto3) and pushes it to a fresh repository
(``ex05-app``, ...). Every check of that exercise then finds the image with
:func:`exercise_image`, which says to run the setup cell when the image is not there;
the notebook's Cleanup cell deletes the repository with :func:`delete_repository`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ecslab import cleanup, images
from ecslab import ecr as ecr_tools
from ecslab.checks.core import CheckFailed

__all__ = [
    "clusters_left",
    "create_web_front",
    "default_subnets",
    "delete_repository",
    "exercise_image",
    "prepare_image",
    "quiet",
    "remove_exercise_image",
    "repositories_left",
]


def quiet(_message: str) -> None:
    """A ``say`` for :func:`ecslab.cleanup.remove` that says nothing: a check's clean-up is not the learner's business."""


def prepare_image(lab: Any, repository: str, show_progress: bool = True, aws_app: bool = False) -> str:
    """Build the sample app (v1), or with ``aws_app`` the AWS app, and push it to a fresh ``repository``; returns ``URI:v1``."""
    delete_repository(lab, repository)
    local = f"{repository}:v1"
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
    """The Cleanup of an exercise's image: its repository (:func:`delete_repository`) and the local ``repository:TAG`` names."""
    delete_repository(lab, repository)
    images.remove_images([f"{repository}:{tag}" for tag in tags], client=lab.docker, config=lab.config)


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
    tg_arn = lab.elbv2.create_target_group(
        Name=target_group,
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    lab.elbv2.modify_target_group_attributes(
        TargetGroupArn=tg_arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}],
    )
    return str(alb_arn), str(tg_arn), alb_group, task_group
