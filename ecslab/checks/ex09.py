"""Checks for exercises/09-capstone.ipynb: the app's own security groups, an immutable release repository with a
lifecycle policy, and a rollout pinned to an image digest that loses no request.

The exercise's setup cell calls :func:`prepare_images`, which builds the sample app as v1 and v2 on the learner's
machine and pushes them to ``ex09-app`` (so that later pushes of the same layers are quick); each check builds its own
copies from that build's cache, under local names of its own (:func:`check_images`). Each check works under a name of its own, new on every run
(:func:`ecslab.checks.setup.fresh_name`: ``ex09-check-sg-xxxxxx``, ``ex09-check-rel-xxxxxx``,
``ex09-check-roll-xxxxxx``), and deletes whatever it or the learner's code made under it afterwards, whether the code
passed or not: repository, cluster, service, load balancer, target group, security groups, task definitions. The
notebook's Cleanup cell (:func:`clean_up`) deletes anything an interrupted check left, and the local images.

- 9.1 hands ``create_security_groups(lab, vpc_id, name)`` the default VPC; the learner writes both groups with boto3
  (``network.create_web_security_groups`` is refused while it runs). The check reads the rules back exactly, then puts
  a load balancer and two tasks in the two groups and sends requests through it.
- 9.2 hands ``publish_release(lab, name, local_images)`` a repository name and the two local images; the check reads
  the repository's mutability, pushes v1 again (ECR must refuse it), evaluates the lifecycle policy ECR stores with
  :mod:`ecslab.ecr_lifecycle` on two made-up repository histories, and compares the digests returned with ECR's.
- 9.3 runs v1 (by digest, from an IMMUTABLE repository) behind a load balancer and hands
  ``roll_out(lab, cluster, service, repository, tag)`` the rest, under 20 requests a second.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ecslab import cleanup, ecr_lifecycle, images, network, security
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, Passed, expect, run_student

POINTS: dict[str, int] = {"9.1": 1, "9.2": 1, "9.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex09-app"
"""The local name of the exercise's images (``ex09-app:v1``, ``ex09-app:v2``; :func:`ecslab.checks.setup.local_name`),
and of the repository older versions of the setup cell pushed to (the Cleanup cell deletes it)."""
CHECK_PREFIX = "ex09-check"
"""Every name a check uses starts with it; :func:`clean_up` finds an interrupted check's leftovers by it."""
TASK_ROLE = "ex09-check-task-role"
"""The role an older version of the exercise's check made; the Cleanup cell still deletes one left behind."""
VERSIONS = ("v1", "v2")
REQUESTS = 20
TASKS = 2
LISTENER_PORT = 80
CONTAINER_PORT = 8080
SETTLE = 1.0
"""Seconds after 9.3's function returns before the answers must all come from the new version."""
AFTER_RETURN = 1.5
"""Seconds of traffic judged after those."""
UNTAGGED_DAYS = 7
"""9.2's policy: untagged images expire this many days after their push."""
RELEASES_KEPT = 5
"""9.2's policy: of the images with a tag starting with ``v``, the newest this many stay."""
RELEASE_PREFIX = "v"


# -- the images and the clean slate --------------------------------------------------------


def prepare_images(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> dict[str, str]:
    """Setup of the exercise: the sample app built as v1 and v2 on this machine; returns ``{"v1": "ex09-app:v1", ...}``.

    Both are also pushed to the repository ``repository`` (made afresh, IMMUTABLE), which keeps their layers in the
    registry: a push of the same layers to another repository (the learner's in 9.2, the checks') then mounts them
    from it instead of uploading them, a fraction of a second instead of some ten."""
    setup.delete_repository(lab, repository)
    uri = str(lab.ecr.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"])
    login = ecr_tools.get_login(lab.ecr)
    local = setup.local_name(lab, repository)  # engine-wide: a name of this lab's own outside a learner's lab
    for version in VERSIONS:
        images.build_sample_app(
            f"{local}:{version}", version=version, client=lab.docker, config=lab.config, show_progress=show_progress
        )
        ecr_tools.push_image(lab.docker, f"{local}:{version}", uri, version, login, show_progress=show_progress)
    return {version: f"{local}:{version}" for version in VERSIONS}


@contextlib.contextmanager
def check_images(lab: Any, name: str) -> Iterator[dict[str, str]]:
    """The sample app as v1 and v2 under local names of the check's own (``NAME-app:v1``); yields them, then removes them.

    Local names are engine-wide (:func:`ecslab.checks.setup.local_name`): a check that relied on the setup cell's
    ``ex09-app:v1`` would push whatever another lab on the same engine tagged so meanwhile, or find it gone. Built
    from the cache the setup cell (or notebook 09) filled, the two take about a second."""
    built = {version: f"{name}-app:{version}" for version in VERSIONS}
    try:
        for version, tag in built.items():
            images.build_sample_app(tag, version=version, client=lab.docker, config=lab.config, show_progress=False)
        yield built
    finally:
        images.remove_images(list(built.values()), client=lab.docker, config=lab.config)


def _release_repository(lab: Any, name: str, local: dict[str, str]) -> tuple[str, dict[str, str]]:
    """What checks 9.1 and 9.3 run: an IMMUTABLE repository ``name`` holding v1 and v2; returns its URI and the digests.

    (The layers are in the registry already after the first push, so a push takes a fraction of a second.)"""
    uri = str(lab.ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"])
    login = ecr_tools.get_login(lab.ecr)
    digests = {
        version: ecr_tools.push_image(lab.docker, local[version], uri, version, login, show_progress=False).digest
        for version in VERSIONS
    }
    return uri, digests


def _groups_named(lab: Any, prefix: str) -> list[dict[str, Any]]:
    vpc_id, _ = elb_tools.default_subnets(lab.ec2)
    where = [{"Name": "vpc-id", "Values": [vpc_id]}]
    return [g for g in lab.ec2.describe_security_groups(Filters=where)["SecurityGroups"] if g["GroupName"].startswith(prefix)]


def remove_check_objects(lab: Any, name: str) -> None:
    """Delete what a check (or the learner's code in it) made under ``name``, in AWS's order.

    The cluster ``name`` (services, tasks), the load balancer ``name`` (listeners), target groups
    named ``name`` or ``name-...``, security groups whose names start with ``name`` (their rules
    first, since one may name another), task definitions of the families ``name...`` and log
    groups ``/ecs/name...``. The target groups' deregistration delay is set to 0 first: with the
    default 300 s, ECS would wait five minutes for each task to drain before stopping it.
    On AWS only what the course made for this learner goes (:func:`ecslab.cleanup.remove`)."""
    target_groups = [
        g
        for g in lab.elbv2.describe_target_groups()["TargetGroups"]
        if g["TargetGroupName"] == name or g["TargetGroupName"].startswith(name + "-")
    ]
    if not lab.is_local:
        families = {
            arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
            for arn in lab.ecs.list_task_definitions(familyPrefix=name, status="ACTIVE")["taskDefinitionArns"]
        }
        cleanup.remove(
            lab,
            cleanup.CourseResources(
                clusters=[name],
                load_balancers=[name],
                target_groups=[g["TargetGroupName"] for g in target_groups],
                security_groups=[g["GroupName"] for g in _groups_named(lab, name)],
                task_families=sorted(families),
                log_groups=[
                    g["logGroupName"] for g in lab.logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{name}")["logGroups"]
                ],
            ),
            say=setup.quiet,
        )
        return
    for group in target_groups:
        arn = group["TargetGroupArn"]
        lab.elbv2.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]
        )
        # targets already draining (tasks ECS replaced) drain under the delay they left with; registered and
        # deregistered again, they leave under the new one
        draining = [
            d["Target"]
            for d in lab.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] == "draining"
        ]
        if draining:
            lab.elbv2.register_targets(TargetGroupArn=arn, Targets=draining)
            lab.elbv2.deregister_targets(TargetGroupArn=arn, Targets=draining)
    ecs_tools.remove_cluster(lab, name, timeout=60)
    elb_tools.delete_load_balancer(lab.elbv2, name)
    elb_tools.delete_target_groups(lab.elbv2, [g["TargetGroupName"] for g in target_groups])
    groups = _groups_named(lab, name)
    for group in groups:
        if group["IpPermissions"]:
            lab.ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    for group in groups:
        lab.ec2.delete_security_group(GroupId=group["GroupId"])
    for arn in lab.ecs.list_task_definitions(familyPrefix=name, status="ACTIVE")["taskDefinitionArns"]:
        lab.ecs.deregister_task_definition(taskDefinition=arn)
    for group in lab.logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{name}")["logGroups"]:
        lab.logs.delete_log_group(logGroupName=group["logGroupName"])


def _delete_role(lab: Any, name: str) -> None:
    if not lab.is_local:
        cleanup.remove(lab, cleanup.CourseResources(roles=[name]), say=setup.quiet)
        return
    try:
        for policy_name in lab.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            lab.iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for attached in lab.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            lab.iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        lab.iam.delete_role(RoleName=name)
    except lab.iam.exceptions.NoSuchEntityException:
        pass


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


def _get(url: str) -> tuple[int, str | None, str | None]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
            return response.status, body.get("hostname"), body.get("version")
    except urllib.error.HTTPError as error:
        return error.code, None, None
    except (OSError, ValueError):
        return 0, None, None


def _service(lab: Any, name: str) -> dict[str, Any] | None:
    try:
        found = [s for s in lab.ecs.describe_services(cluster=name, services=[name])["services"] if s["status"] == "ACTIVE"]
    except ClientError:  # no such cluster
        return None
    return found[0] if found else None


def _same_history(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether ``after`` is the service ``before`` was: a rolled service keeps its events, a service made anew starts without them."""
    ids = {event["id"] for event in before.get("events", [])}
    return not ids or bool(ids & {event["id"] for event in after.get("events", [])})


def deploy_reference(
    lab: Any,
    name: str,
    image_uri: str,
    execution_role_arn: str,
    count: int = TASKS,
    groups: tuple[str, str] | None = None,
    wait: bool = True,
) -> tuple[str, str]:
    """The course's app behind a load balancer, all named ``name``: ``count`` Fargate tasks of ``image_uri``, a target
    group and an HTTP listener on port 80; returns (listener URL, target group ARN).

    ``groups``: the load balancer's and the tasks' security groups (9.1's, the learner's); None: the course's pair,
    made here (9.3). ``wait``: until every task runs and every target is healthy."""
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    if groups is None:
        alb_arn, tg_arn, _, task_group = setup.create_web_front(
            lab, name, name, name, subnets[:2], vpc_id, deregistration_delay=5
        )
    else:
        alb_group, task_group = groups
        alb_arn = lab.elbv2.create_load_balancer(
            Name=name, Subnets=subnets[:2], SecurityGroups=[alb_group], Type="application", Scheme="internet-facing"
        )["LoadBalancers"][0]["LoadBalancerArn"]
        tg_arn = elb_tools.create_app_target_group(lab.elbv2, name, vpc_id, deregistration_delay=5, port=CONTAINER_PORT)
    lab.elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=LISTENER_PORT,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )
    lab.ecs.create_cluster(clusterName=name)
    definition = ecs_tools.task_definition(name, image_uri, execution_role_arn=execution_role_arn)
    task_def_arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=task_def_arn,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets[:2], "securityGroups": [task_group], "assignPublicIp": "ENABLED"}
        },
        loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": CONTAINER_PORT}],
        # AWS's defaults, said out loud: the lab gives a service made again under an old name the percentages of the old one
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
    )
    if wait:
        lab.ecs.get_waiter("services_stable").wait(cluster=name, services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return elb_tools.listener_url(lab, alb_arn), str(tg_arn)


# -- 9.1 -------------------------------------------------------------------------------------


ANYWHERE = (network.INTERNET, "::/0")

ALB_RULE = f"IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': {LISTENER_PORT}, 'ToPort': {LISTENER_PORT}, 'IpRanges': [{{'CidrIp': '0.0.0.0/0'}}]}}]"
TASK_RULE = (
    f"IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': {CONTAINER_PORT}, 'ToPort': {CONTAINER_PORT}, "
    "'UserIdGroupPairs': [{'GroupId': alb_group_id}]}]"
)


def _is(rule: network.Rule, port: int) -> bool:
    return rule.protocol == "tcp" and rule.from_port == port and rule.to_port == port


def rules_problem(alb_group: dict[str, Any], task_group: dict[str, Any]) -> str | None:
    """What is wrong with the pair's inbound rules (the first thing found), or None when they are exactly the pair's.

    The load balancer's group: TCP 80 from 0.0.0.0/0 (and ::/0, if you like), nothing else. The tasks' group: TCP 8080
    from the load balancer's group, nothing else; above all no CIDR."""
    alb_id, task_id = alb_group["GroupId"], task_group["GroupId"]
    alb_rules = network.normalise_permissions(alb_id, alb_group.get("IpPermissions", []))
    task_rules = network.normalise_permissions(task_id, task_group.get("IpPermissions", []))
    if not any(_is(rule, LISTENER_PORT) and rule.cidr == network.INTERNET for rule in alb_rules):
        return (
            f"the load balancer's group admits no TCP {LISTENER_PORT} from anywhere (0.0.0.0/0), so no client reaches the listener "
            f"(the connection hangs, then fails). lab.ec2.authorize_security_group_ingress(GroupId=alb_group_id, {ALB_RULE})."
        )
    for rule in alb_rules:
        if not (_is(rule, LISTENER_PORT) and rule.cidr in ANYWHERE):
            return f"the load balancer's group also admits {rule}: clients need only TCP {LISTENER_PORT}. Admit that alone: {ALB_RULE}."
    for rule in task_rules:
        if rule.cidr:
            anyone = rule.cidr in ANYWHERE
            return (
                f"the tasks' group admits {rule}: "
                + ("anyone on the internet" if anyone else f"anything in {rule.cidr}")
                + " could call a task directly, around the load balancer. Name the load balancer's group as the source, "
                f"not an address range: {TASK_RULE}."
            )
    for rule in task_rules:
        if rule.source_group_id == alb_id and rule.admits_port(CONTAINER_PORT) and not _is(rule, CONTAINER_PORT):
            return (
                f"the tasks' group admits {rule} from the load balancer's group: more than the app needs. The load balancer "
                f"only calls TCP {CONTAINER_PORT}: {TASK_RULE}."
            )
    if not any(_is(rule, CONTAINER_PORT) and rule.source_group_id == alb_id for rule in task_rules):
        sources = sorted({rule.source_group_id for rule in task_rules if rule.source_group_id})
        return (
            f"the tasks' group admits no TCP {CONTAINER_PORT} from the load balancer's group ({alb_id}), so its health checks get "
            "no answer (Target.Timeout) and no target becomes healthy"
            + (f" (it names {', '.join(sources)} instead)" if sources else "")
            + f". lab.ec2.authorize_security_group_ingress(GroupId=task_group_id, {TASK_RULE})."
        )
    for rule in task_rules:
        if not (_is(rule, CONTAINER_PORT) and rule.source_group_id == alb_id):
            return (
                f"the tasks' group also admits {rule}: the app listens on {CONTAINER_PORT} and only the load balancer calls it. "
                f"Admit that alone: {TASK_RULE}."
            )
    return None


def _describe_group(lab: Any, group_id: str) -> dict[str, Any] | None:
    try:
        found = lab.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    except ClientError:
        return None
    return dict(found[0]) if found else None


def _delete_groups(lab: Any, group_ids: list[str]) -> None:
    """The learner's groups, whatever their names: rules first (one names the other), then the groups."""
    groups = [group for group in (_describe_group(lab, group_id) for group_id in group_ids) if group is not None]
    if not lab.is_local:
        names = [g["GroupName"] for g in groups]
        cleanup.remove(lab, cleanup.CourseResources(security_groups=names), say=setup.quiet)
        return
    for group in groups:
        if group.get("IpPermissions"):
            with contextlib.suppress(ClientError):
                lab.ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    for group in groups:
        with contextlib.suppress(ClientError):
            lab.ec2.delete_security_group(GroupId=group["GroupId"])


def check_security_groups(
    create_security_groups: Callable[[Any, str, str], tuple[str, str]],
    lab: Any,
    name: str | None = None,
) -> Passed:
    """9.1: ``create_security_groups(lab, vpc_id, name)`` makes ``{name}-alb`` (TCP 80 from anywhere) and ``{name}-tasks``
    (TCP 8080 from the first only) with boto3, and returns their IDs; requests through a load balancer in them answer."""
    name = name or setup.fresh_name(f"{CHECK_PREFIX}-sg")
    with check_images(lab, name) as local:
        vpc_id, _ = elb_tools.default_subnets(lab.ec2)
        returned: list[str] = []
        try:
            result = run_student("9.1", create_security_groups, lab, vpc_id, name, forbid=("create_web_security_groups",))
            if isinstance(result, (tuple, list)):
                returned = [item for item in result if isinstance(item, str)]
            expect(
                isinstance(result, (tuple, list)) and len(result) == 2 and len(returned) == 2,
                "9.1",
                f"return the two groups' IDs, load balancer's first: return alb_group_id, task_group_id (you returned {_short(result)}).",
            )
            alb_id, task_id = returned
            alb_group, task_group = _describe_group(lab, alb_id), _describe_group(lab, task_id)
            for group_id, group, role in ((alb_id, alb_group, "load balancer's"), (task_id, task_group, "tasks'")):
                expect(
                    group is not None,
                    "9.1",
                    f"there is no security group {group_id!r} (the {role} ID you returned): return the GroupId that "
                    "create_security_group answered.",
                )
            assert alb_group is not None and task_group is not None
            expect(
                alb_id != task_id, "9.1", "you returned the same group twice: the load balancer and the tasks need a group each."
            )
            for group, suffix in ((alb_group, "alb"), (task_group, "tasks")):
                expect(
                    group["GroupName"] == f"{name}-{suffix}",
                    "9.1",
                    f"the group {group['GroupId']} is named {group['GroupName']!r}; name it f'{{name}}-{suffix}' ({name}-{suffix}): "
                    "lab.ec2.create_security_group(GroupName=..., Description=..., VpcId=vpc_id).",
                )
                expect(
                    group.get("VpcId") == vpc_id,
                    "9.1",
                    f"the group {group['GroupName']} is in {group.get('VpcId')}, not in the VPC you were given ({vpc_id}): pass VpcId=vpc_id.",
                )
            problem = rules_problem(alb_group, task_group)
            expect(problem is None, "9.1", str(problem))
            uri, digests = _release_repository(lab, name, local)
            started = time.monotonic()
            try:
                url, _ = deploy_reference(
                    lab, name, f"{uri}@{digests['v1']}", security.ensure_execution_role(lab.iam), groups=(alb_id, task_id)
                )
            except Exception as error:  # noqa: BLE001 - a waiter that gives up: the groups let nothing through
                raise CheckFailed(
                    f"Exercise 9.1: the rules read right, but a load balancer and {TASKS} tasks in your groups did not come up "
                    f"({type(error).__name__}: {str(error)[:200]}). Look at the groups' outbound rules: a new group allows all "
                    "traffic out; keep that."
                ) from None
            answers = [_get(url) for _ in range(REQUESTS)]
            statuses = sorted({status for status, _, _ in answers})
            expect(
                statuses == [200],
                "9.1",
                f"{REQUESTS} requests through a load balancer in your groups got {statuses} (0: no answer, 503: no healthy target). "
                "Look at the groups' outbound rules: a new group allows all traffic out; keep that.",
            )
            return Passed(
                "9.1",
                f"the load balancer's group admits only TCP {LISTENER_PORT} from anywhere, the tasks' group only TCP {CONTAINER_PORT} "
                "from the load balancer's group; "
                f"a load balancer and {TASKS} tasks in them answered {REQUESTS} of {REQUESTS} requests "
                f"({time.monotonic() - started:.1f} s to deploy).",
            )
        finally:
            remove_check_objects(lab, name)
            _delete_groups(lab, returned)
            setup.delete_repository(lab, name)


# -- 9.2 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One image of a made-up repository history: what it is (said in feedback), its tags, its age, and its fate."""

    label: str
    tags: tuple[str, ...]
    days_old: float
    expires: bool


def _releases(ages: list[float]) -> list[Sample]:
    """Releases v1, v2, ... pushed ``ages`` days ago (oldest first); all but the newest RELEASES_KEPT expire."""
    count = len(ages)
    return [
        Sample(
            f"release v{number} (the {_ordinal(count - number + 1)} newest release, {age:g} days old)",
            (f"v{number}",),
            age,
            count - number + 1 > RELEASES_KEPT,
        )
        for number, age in enumerate(ages, 1)
    ]


def _ordinal(number: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(number, f"{number}th")


def _untagged(ages: list[float]) -> list[Sample]:
    return [Sample(f"an untagged image pushed {age:g} days ago", (), age, age > UNTAGGED_DAYS) for age in ages]


HISTORIES: dict[str, list[Sample]] = {
    "a repository a year old": [
        *_releases([300, 200, 120, 90, 60, 40, 20, 10]),
        *_untagged([30, 7.5, 6.5, 3, 0.1]),
        Sample("dev-1, pushed 60 days ago (not a release: nothing selects it)", ("dev-1",), 60, False),
        Sample("build-42, pushed 45 days ago (not a release: nothing selects it)", ("build-42",), 45, False),
    ],
    "a busy week": [
        *_releases([6, 5, 4, 3, 2, 1.5, 1]),
        *_untagged([9, 8, 5, 4, 2, 1, 0.5]),
        Sample("dev-2, pushed 20 days ago (not a release: nothing selects it)", ("dev-2",), 20, False),
    ],
}
"""Two made-up histories 9.2 evaluates the learner's policy on. Each defeats a near miss: the first pins the 7 days
(6.5 and 7.5 days) and the 5 releases; the second a count of untagged images that the first would let pass, and an
age limit on releases (its releases are all young, yet two must go)."""

EXPECTED_POLICY = f"""{{"rules": [
  {{"rulePriority": 1, "description": "untagged images go {UNTAGGED_DAYS} days after their push",
   "selection": {{"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": {UNTAGGED_DAYS}}},
   "action": {{"type": "expire"}}}},
  {{"rulePriority": 2, "description": "keep the {RELEASES_KEPT} newest releases",
   "selection": {{"tagStatus": "tagged", "tagPrefixList": ["{RELEASE_PREFIX}"], "countType": "imageCountMoreThan", "countNumber": {RELEASES_KEPT}}},
   "action": {{"type": "expire"}}}}]}}"""
"""A right answer, for the tests (the learner writes their own)."""


def policy_problem(policy_text: str, now: datetime | None = None) -> str | None:
    """What is wrong with a lifecycle policy for 9.2 (the first thing found), or None.

    Evaluated, not read: :func:`ecslab.ecr_lifecycle.evaluate` (the lab's lifecycle preview) runs the policy on each of
    :data:`HISTORIES`, and what it would delete must be exactly the images marked to expire."""
    try:
        rules = ecr_lifecycle.parse_policy(policy_text)
    except ecr_lifecycle.LifecyclePolicyError as error:
        return f"ECR would refuse this lifecycle policy: {error}"
    now = now or datetime.now(UTC)
    for history, samples in HISTORIES.items():
        records = [
            ecr_lifecycle.ImageRecord(f"sha256:{number:064x}", list(sample.tags), now - timedelta(days=sample.days_old))
            for number, sample in enumerate(samples, 1)
        ]
        verdicts = {verdict.image.digest: verdict for verdict in ecr_lifecycle.evaluate(rules, records, now).expired}
        for record, sample in zip(records, samples, strict=True):
            verdict = verdicts.get(record.digest)
            if verdict is not None and verdict.rule.action != "expire":
                return (
                    f"in {history}, rule {verdict.rule.priority} would archive {sample.label} (a transition to the archive "
                    'storage class) where the policy should expire it: "action": {"type": "expire"}.'
                )
            if verdict is not None and not sample.expires:
                return (
                    f"in {history}, your policy would delete {sample.label} (rule {verdict.rule.priority}), which must stay. "
                    + _hint(sample)
                )
            if verdict is None and sample.expires:
                return f"in {history}, your policy keeps {sample.label}, which should expire. " + _hint(sample)
    return None


def _hint(sample: Sample) -> str:
    if not sample.tags:
        return (
            f"Untagged images go {UNTAGGED_DAYS} days after their push, whatever their number: a rule with "
            f'"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": {UNTAGGED_DAYS}.'
        )
    if sample.tags[0].startswith(RELEASE_PREFIX):
        return (
            f'Of the releases, the {RELEASES_KEPT} newest stay, whatever their age: a rule with "tagStatus": "tagged", '
            f'"tagPrefixList": ["{RELEASE_PREFIX}"], "countType": "imageCountMoreThan", "countNumber": {RELEASES_KEPT}.'
        )
    return 'Touch nothing but untagged images and releases: no rule with "tagStatus": "any", and a tag prefix of "v" only.'


def _repush_refusal(lab: Any, uri: str, local_image: str) -> str | None:
    """ECR's words refusing a second push of ``v1`` to ``uri``, or None when the push went through."""
    try:
        ecr_tools.push_image(lab.docker, local_image, uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
    except ecr_tools.EcrError as error:
        return str(error).split("\nHint:")[0]
    return None


def check_release_repository(
    publish_release: Callable[[Any, str, dict[str, str]], dict[str, str]],
    lab: Any,
    name: str | None = None,
) -> Passed:
    """9.2: ``publish_release(lab, name, local_images)`` makes the IMMUTABLE repository ``name`` with the lifecycle policy
    (untagged images go after 7 days, the 5 newest releases stay), pushes v1 and v2, and returns their digests."""
    name = name or setup.fresh_name(f"{CHECK_PREFIX}-rel")
    with check_images(lab, name) as local:
        try:
            result = run_student("9.2", publish_release, lab, name, dict(local))
            try:
                described = lab.ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
            except lab.ecr.exceptions.RepositoryNotFoundException:
                raise CheckFailed(
                    f"Exercise 9.2: there is no repository named {name!r}: lab.ecr.create_repository(repositoryName=name, "
                    "imageTagMutability='IMMUTABLE')."
                ) from None
            mutability = described.get("imageTagMutability")
            expect(
                mutability == "IMMUTABLE",
                "9.2",
                f"the repository's tags are {mutability}"
                + (
                    ", and its exclusions let some tags move"
                    if str(mutability).endswith("WITH_EXCLUSION")
                    else ", so a push could move v1"
                )
                + ": create it with imageTagMutability='IMMUTABLE' (or put_image_tag_mutability(repositoryName=name, "
                "imageTagMutability='IMMUTABLE')).",
            )
            try:
                policy_text = lab.ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
            except lab.ecr.exceptions.LifecyclePolicyNotFoundException:
                raise CheckFailed(
                    "Exercise 9.2: the repository has no lifecycle policy: lab.ecr.put_lifecycle_policy(repositoryName=name, "
                    "lifecyclePolicyText=json.dumps(policy))."
                ) from None
            problem = policy_problem(policy_text)
            expect(problem is None, "9.2", str(problem))
            details = lab.ecr.describe_images(repositoryName=name)["imageDetails"]
            in_ecr = {tag: detail["imageDigest"] for detail in details for tag in detail.get("imageTags", [])}
            missing = [version for version in VERSIONS if version not in in_ecr]
            expect(
                not missing,
                "9.2",
                f"the repository holds no image tagged {' or '.join(missing)} (its tags: {sorted(in_ecr) or 'none'}). Push "
                "local_images['v1'] as URI:v1 and local_images['v2'] as URI:v2 (ecr_tools.push_image(lab.docker, local_images[tag], "
                "repo_uri, tag, login), or the four steps of exercise 3.2).",
            )
            expect(
                isinstance(result, dict) and all(result.get(version) == in_ecr[version] for version in VERSIONS),
                "9.2",
                f"return the pushes' digests, {{'v1': 'sha256:...', 'v2': 'sha256:...'}} (each push reports its digest: "
                f"PushResult.digest), not {_short(result)}.",
            )
            refusal = _repush_refusal(lab, str(described["repositoryUri"]), local["v1"])
            expect(
                refusal is not None,
                "9.2",
                "a second push of v1 was accepted, so v1 could name other bits tomorrow; make the tags IMMUTABLE.",
            )
            return Passed(
                "9.2",
                f'the repository is IMMUTABLE (a second push of v1 was refused: "{str(refusal).replace(name, "NAME")}"); its lifecycle policy, evaluated on '
                f"{len(HISTORIES)} made-up histories ({sum(len(s) for s in HISTORIES.values())} images), deletes exactly the "
                f"untagged images older than {UNTAGGED_DAYS} days and the releases older than the {RELEASES_KEPT} newest; "
                "it holds v1 and v2 with the digests you returned.",
            )
        finally:
            setup.delete_repository(lab, name)


# -- 9.3 -------------------------------------------------------------------------------------


def _task_digests(lab: Any, cluster: str, service: str) -> list[str]:
    """The image digest each running task of the service runs: ECS's ``imageDigest``, or the digest its image names."""
    digests = []
    for task in ecs_tools.service_tasks(lab.ecs, cluster, service):
        container = task["containers"][0]
        image = str(container.get("image", ""))
        digests.append(str(container.get("imageDigest") or (image.split("@", 1)[1] if "@" in image else image)))
    return digests


def check_roll_out(roll_out: Callable[[Any, str, str, str, str], str], lab: Any, name: str | None = None) -> Passed:
    """9.3: ``roll_out(lab, cluster, service, repository, tag)`` moves a running service to the image ``tag`` names in the
    IMMUTABLE ``repository``, pinned by its digest, under steady traffic: no request fails, and only the new version answers
    once it returns; it returns the new revision's ARN."""
    name = name or setup.fresh_name(f"{CHECK_PREFIX}-roll")
    with check_images(lab, name) as local:
        try:
            uri, digests = _release_repository(lab, name, local)
            url, _ = deploy_reference(lab, name, f"{uri}@{digests['v1']}", security.ensure_execution_role(lab.iam))
            before = _service(lab, name)
            assert before is not None
            old_definition = lab.ecs.describe_task_definition(taskDefinition=before["taskDefinition"])["taskDefinition"]
            traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=4)
            traffic.start()
            time.sleep(1)
            began = traffic.elapsed()
            try:
                result = run_student("9.3", roll_out, lab, name, name, name, "v2")
            finally:
                returned = traffic.elapsed()
                time.sleep(AFTER_RETURN + SETTLE)  # the traffic goes on after your function returns
                traffic.stop()
            # On AWS an old deployment is listed until its tasks have drained and stopped, so once services_stable
            # returns only the new version answers. The lab drops it when ECS decides to stop them and deregisters
            # them on its next tick: the requests of the first SETTLE seconds after the return are not judged.
            after = traffic.between(since=returned + SETTLE)
            service = _service(lab, name)
            expect(
                service is not None
                and service["serviceArn"] == before["serviceArn"]
                and service.get("createdAt") == before.get("createdAt")
                and _same_history(before, service),
                "9.3",
                "the service that was running is gone or was made anew. A new service starts from zero tasks, so requests fail "
                "until its tasks are healthy; roll the running one instead: lab.ecs.update_service(cluster=cluster, service=service, "
                "taskDefinition=new_task_def_arn).",
            )
            assert service is not None
            definition = lab.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
            image = str(definition["containerDefinitions"][0]["image"])
            pinned = f"{uri}@{digests['v2']}"
            how = (
                "digest = lab.ecr.describe_images(repositoryName=repository, imageIds=[{'imageTag': tag}])['imageDetails'][0]"
                "['imageDigest'], and the image is f'{repo_uri}@{digest}' (repo_uri from describe_repositories)"
            )
            expect(
                image != f"{uri}:v2",
                "9.3",
                "the new revision names the image by its tag (REPO:v2). Pin the digest the tag points to, so the revision names "
                f"exactly these bits, in this repository or any copy of it: {how}.",
            )
            expect(
                image == pinned,
                "9.3",
                f"the service runs {image.rsplit('/', 1)[-1][:60]!r}, not v2 by its digest"
                + (
                    ": a new deployment of the same task definition (forceNewDeployment) starts the same image again"
                    if image == f"{uri}@{digests['v1']}"
                    else ""
                )
                + f". Register a new revision whose image is v2 by digest ({how}) and pass its ARN to update_service.",
            )
            expect(
                definition["family"] == old_definition["family"],
                "9.3",
                f"the new task definition is in the family {definition['family']!r}, the service's was {old_definition['family']!r}: register "
                "the new revision in the same family, so its history (revision 1, 2, ...) is the service's history.",
            )
            expect(
                result == service["taskDefinition"],
                "9.3",
                f"return the ARN of the revision the service now runs ({service['taskDefinition'].rsplit('/', 1)[-1]}), not {_short(result)}.",
            )
            summary = traffic.summary()
            failed = [r for r in traffic.responses if r.status != 200]
            minimum = service.get("deploymentConfiguration", {}).get("minimumHealthyPercent", 100)
            expect(
                not failed,
                "9.3",
                f"{len(failed)} of {summary['requests']} requests failed during your rollout (status {sorted({r.status for r in failed})}; 0: no answer, "
                "503: no healthy target). "
                + (
                    f"minimumHealthyPercent is {minimum}: ECS may stop old tasks before the new ones are healthy. Keep the default, 100. "
                    if minimum < 100
                    else ""
                )
                + "A rolling update (update_service with the new revision, default percentages) keeps the old tasks serving until the new "
                "ones pass their health checks.",
            )
            old = [r for r in after if r.version != "v2"]
            expect(
                bool(after) and not old,
                "9.3",
                f"{SETTLE:g} s after your function returned, {len(old)} of {len(after)} requests were still answered by "
                f"{sorted({str(r.version) for r in old})}: "
                "the rollout was not over. Wait before returning: lab.ecs.get_waiter('services_stable').wait(cluster=cluster, services=[service]) "
                "waits until one deployment is left with all its tasks running.",
            )
            running = _task_digests(lab, name, name)
            expect(
                len(running) == TASKS and set(running) == {digests["v2"]},
                "9.3",
                f"the service's {len(running)} running tasks run {sorted({d[:19] for d in running})}, not only v2's digest "
                f"({digests['v2'][:19]}...). Wait until the rollout is over: services_stable.",
            )
            return Passed(
                "9.3",
                f"Your function rolled the service to v2, pinned by its digest, in {returned - began:.1f} s under 20 requests a second: "
                f"no request failed, every answer from {SETTLE:g} s after it returned came from v2, and all {TASKS} tasks run the "
                "digest v2 was pushed with.",
            )
        finally:
            remove_check_objects(lab, name)
            setup.delete_repository(lab, name)


# -- the notebook's Cleanup -------------------------------------------------------------------


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: whatever a check left (if interrupted), an older setup cell's repository, the local images."""
    balancers = [b["LoadBalancerName"] for b in lab.elbv2.describe_load_balancers()["LoadBalancers"]]
    names = {*setup.clusters_with_prefix(lab, CHECK_PREFIX + "-"), *(b for b in balancers if b.startswith(CHECK_PREFIX + "-"))}
    for name in sorted(names):
        remove_check_objects(lab, name)
    remove_check_objects(lab, CHECK_PREFIX)  # groups, target groups, task definitions by prefix
    _delete_role(lab, TASK_ROLE)
    for found in lab.ecr.describe_repositories()["repositories"]:
        if found["repositoryName"].startswith(CHECK_PREFIX + "-"):
            setup.delete_repository(lab, found["repositoryName"])
    setup.remove_exercise_image(lab, repository, tuple(VERSIONS))
    balancers = [b["LoadBalancerName"] for b in lab.elbv2.describe_load_balancers()["LoadBalancers"]]
    return {
        "repositories left": setup.repositories_left(lab, repository)
        + [
            r["repositoryName"]
            for r in lab.ecr.describe_repositories()["repositories"]
            if r["repositoryName"].startswith(CHECK_PREFIX)
        ],
        "check clusters left": setup.clusters_with_prefix(lab, CHECK_PREFIX),
        "check load balancers left": [b for b in balancers if b.startswith(CHECK_PREFIX)],
        "check security groups left": [g["GroupName"] for g in _groups_named(lab, CHECK_PREFIX)],
    }
