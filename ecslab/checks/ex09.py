"""Checks for exercises/09-capstone.ipynb: a service behind a load balancer from scratch, a rollout that loses no request, a least-privilege task role.

The exercise's setup cell calls :func:`prepare_images`, which pushes the sample app as ``:v1``
and ``:v2`` to the repository ``ex09-app``. The checks of 9.1 and 9.2 work in resources of their
own, all named after the check (``ex09-check-web``, ``ex09-check-roll``: cluster, service,
load balancer, target groups, security groups ``NAME-alb`` and ``NAME-tasks``, task definition
family), deleted before the check (leftovers of an interrupted run) and after it. 9.3 evaluates
the learner's policy with IAM's rules (:mod:`ecslab.iam_policy`) on a role
``ex09-check-task-role`` that IAM really stores, deleted afterwards. The notebook's Cleanup
cell (:func:`clean_up`) deletes the repository.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ecslab import cleanup, images, network, security
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, NotDone, Passed, expect, run_student
from ecslab.iam_policy import MalformedPolicyDocument, parse_policy

POINTS: dict[str, int] = {"9.1": 1, "9.2": 1, "9.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex09-app"
DEPLOY_NAME = "ex09-check-web"
ROLL_NAME = "ex09-check-roll"
TASK_ROLE = "ex09-check-task-role"
SETTINGS_BUCKET = "ex09-app-settings"
"""The start of 9.3's bucket name; the check adds a random suffix each run, so a policy that ignores ``bucket`` cannot pass."""
VERSIONS = ("v1", "v2")
REQUESTS = 20
TASKS = 2
SETTLE = 1.0
"""Seconds after 9.2's function returns before the answers must all come from the new version."""
AFTER_RETURN = 1.5
"""Seconds of traffic judged after those."""


# -- the images and the clean slate --------------------------------------------------------


def prepare_images(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> dict[str, str]:
    """Setup of the exercise: the sample app as v1 and v2 in a fresh ``repository``; returns ``{"v1": URI:v1, "v2": URI:v2}``."""
    setup.delete_repository(lab, repository)
    uri = str(lab.ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"])
    login = ecr_tools.get_login(lab.ecr)
    local = setup.local_name(lab, repository)  # engine-wide: a name of this lab's own outside a learner's lab
    for version in VERSIONS:
        images.build_sample_app(
            f"{local}:{version}", version=version, client=lab.docker, config=lab.config, show_progress=show_progress
        )
        ecr_tools.push_image(lab.docker, f"{local}:{version}", uri, version, login, show_progress=show_progress)
    return {version: f"{uri}:{version}" for version in VERSIONS}


def exercise_images(lab: Any, exercise: str, repository: str = EXERCISE_REPOSITORY) -> dict[str, str]:
    """The images the setup cell pushed; fails kindly when they are not there."""
    v1 = setup.exercise_image(lab, exercise, repository)
    try:
        found = lab.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "v2"}])["imageDetails"]
    except ClientError:
        found = []
    if not found:
        raise CheckFailed(
            f"Exercise {exercise}: the sample app's v2 is not in the repository {repository!r}. Run the setup cell at the top of the "
            "notebook (it pushes v1 and v2), then this check again."
        )
    return {"v1": v1, "v2": v1.rsplit(":", 1)[0] + ":v2"}


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


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: whatever a check left (if interrupted), and the repository."""
    for name in (DEPLOY_NAME, ROLL_NAME):
        remove_check_objects(lab, name)
    _delete_role(lab, TASK_ROLE)
    setup.remove_exercise_image(lab, repository, tuple(VERSIONS))
    names = (DEPLOY_NAME, ROLL_NAME)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_left(lab, names),
        "check load balancers left": [
            b["LoadBalancerName"] for b in lab.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] in names
        ],
        "check security groups left": [g["GroupName"] for name in names for g in _groups_named(lab, name)],
        "check roles left": [r["RoleName"] for r in lab.iam.list_roles()["Roles"] if r["RoleName"] == TASK_ROLE],
    }


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


def deploy_reference(lab: Any, name: str, image_uri: str, execution_role_arn: str, count: int = TASKS) -> tuple[str, str]:
    """A right answer to 9.1 (the course's way): ``count`` tasks behind an ALB, all named ``name``; returns (listener URL, target group ARN).

    The check of 9.2 starts from it."""
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    alb_arn, tg_arn, alb_group, task_group = setup.create_web_front(
        lab, name, name, name, subnets[:2], vpc_id, deregistration_delay=5
    )
    lab.elbv2.create_listener(
        LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
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
        loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
        # AWS's defaults, said out loud: the lab gives a service made again under an old name the percentages of the old one
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
    )
    lab.ecs.get_waiter("services_stable").wait(cluster=name, services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return elb_tools.listener_url(lab, alb_arn), str(tg_arn)


# -- 9.1 -------------------------------------------------------------------------------------


def _balancer(lab: Any, name: str) -> dict[str, Any] | None:
    found = [b for b in lab.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == name]
    return found[0] if found else None


def _service(lab: Any, name: str) -> dict[str, Any] | None:
    try:
        found = [s for s in lab.ecs.describe_services(cluster=name, services=[name])["services"] if s["status"] == "ACTIVE"]
    except ClientError:  # no such cluster
        return None
    return found[0] if found else None


def _group_names(groups: list[dict[str, Any]]) -> str:
    return ", ".join(g.get("GroupName", g["GroupId"]) for g in groups) or "none"


def _describe_groups(lab: Any, group_ids: list[str]) -> list[dict[str, Any]]:
    return list(lab.ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]) if group_ids else []


def _network_problem(lab: Any, name: str) -> str | None:
    """What in the security groups keeps clients from the listener or the ALB from the tasks; None when nothing does."""
    balancer, service = _balancer(lab, name), _service(lab, name)
    if balancer is None:
        return None
    alb_ids = list(balancer.get("SecurityGroups", []))
    alb_groups = _describe_groups(lab, alb_ids)
    admitted, _ = network.ingress_allows(alb_groups, 80, source_cidr=network.INTERNET)
    if not admitted:
        return (
            f"the load balancer's security groups ({_group_names(alb_groups)}) do not admit port 80 from anywhere (0.0.0.0/0), so no client gets "
            "through its listener: the lab, like AWS, holds the connection and closes it unanswered. "
            + (
                "A load balancer created without SecurityGroups gets the VPC's default group, which admits only its own members. "
                if _group_names(alb_groups) == "default"
                else ""
            )
            + "Make the pair with network.create_web_security_groups(lab.ec2, vpc_id, prefix=name) and give the load balancer the first: "
            "SecurityGroups=[alb_group]."
        )
    if service is None:
        return None
    task_ids = list(service.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("securityGroups") or [])
    task_groups = _describe_groups(lab, task_ids)
    open_to_all, _ = network.ingress_allows(task_groups, 8080, source_cidr=network.INTERNET)
    if open_to_all:
        return (
            f"the tasks' security groups ({_group_names(task_groups)}) admit port 8080 from anywhere (0.0.0.0/0): anyone could call a task "
            "directly, around the load balancer. Admit 8080 from the load balancer's group only: put the tasks in the second group of "
            "network.create_web_security_groups (networkConfiguration={'awsvpcConfiguration': {..., 'securityGroups': [task_group]}})."
        )
    from_alb, _ = network.ingress_allows(task_groups, 8080, source_group_ids=alb_ids)
    if not from_alb:
        now = (
            "only the VPC's default group (what ECS gives tasks when securityGroups is left out)"
            if _group_names(task_groups) in ("default", "none")
            else f"the security groups {_group_names(task_groups)}"
        )
        return (
            f"the tasks are in {now}, and none of them admits port 8080 from the load balancer's group: its health checks get no answer "
            "(Target.Timeout) and no target becomes healthy. Put the tasks in the second group of network.create_web_security_groups, "
            "which admits 8080 from the load balancer's group only: 'securityGroups': [task_group]."
        )
    return None


def check_deploy_behind_alb(
    deploy_behind_alb: Callable[[Any, str, str, str], str],
    lab: Any,
    name: str = DEPLOY_NAME,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """9.1: ``deploy_behind_alb(lab, name, image_uri, execution_role_arn)`` runs 2 Fargate tasks of the image behind an ALB
    (everything named ``name``, web security groups), and returns the listener's URL once both answer."""
    image = exercise_images(lab, "9.1", repository)["v1"]
    remove_check_objects(lab, name)
    execution_role_arn = security.ensure_execution_role(lab.iam)
    try:
        started = time.monotonic()
        try:
            url = run_student("9.1", deploy_behind_alb, lab, name, image, execution_role_arn)
        except NotDone:
            raise
        except CheckFailed as failure:
            problem = _network_problem(lab, name)
            if problem is None:
                raise
            raise CheckFailed(f"{failure} Why: {problem}") from None
        seconds = time.monotonic() - started
        problem = _network_problem(lab, name)  # a listener nobody may reach holds each request 3 s: do not send them then
        answers = (
            [_get(url) for _ in range(REQUESTS)]
            if problem is None and isinstance(url, str) and url.startswith("http://127.0.0.1")
            else []
        )

        balancer = _balancer(lab, name)
        expect(
            balancer is not None,
            "9.1",
            f"there is no load balancer named {name!r}: lab.elbv2.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[alb_group], "
            "Type='application', Scheme='internet-facing').",
        )
        assert balancer is not None
        listeners = lab.elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
        expect(
            bool(listeners),
            "9.1",
            "the load balancer has no listener, so nothing receives requests: lab.elbv2.create_listener(LoadBalancerArn=..., Protocol='HTTP', "
            "Port=80, DefaultActions=[{'Type': 'forward', 'TargetGroupArn': target_group_arn}]).",
        )
        listener = listeners[0]
        expect(
            listener["Port"] == 80,
            "9.1",
            f"the listener is on port {listener['Port']}; clients of a web API expect HTTP on port 80: Port=80.",
        )
        forwards_to = [a.get("TargetGroupArn") for a in listener["DefaultActions"] if a.get("Type") == "forward"]
        expect(
            bool(forwards_to),
            "9.1",
            "the listener's default action does not forward: DefaultActions=[{'Type': 'forward', 'TargetGroupArn': ...}].",
        )
        service = _service(lab, name)
        expect(
            service is not None,
            "9.1",
            f"there is no service {name!r} in a cluster {name!r}: lab.ecs.create_cluster(clusterName=name), then "
            "lab.ecs.create_service(cluster=name, serviceName=name, ...).",
        )
        assert service is not None
        expect(
            service.get("launchType") == "FARGATE",
            "9.1",
            f"the service's launch type is {service.get('launchType')!r}; run the tasks on Fargate: launchType='FARGATE'.",
        )
        expect(
            service["desiredCount"] == TASKS,
            "9.1",
            f"the service asks for {service['desiredCount']} task(s); pass desiredCount={TASKS}.",
        )
        balancers = service.get("loadBalancers", [])
        expect(
            bool(balancers),
            "9.1",
            "the service has no loadBalancers, so ECS registers none of its tasks and the listener has nowhere to send requests: "
            "loadBalancers=[{'targetGroupArn': target_group_arn, 'containerName': 'web', 'containerPort': 8080}].",
        )
        entry = balancers[0]
        expect(
            entry.get("targetGroupArn") in forwards_to,
            "9.1",
            "the service registers its tasks in another target group than the one the listener forwards to: use the same target group ARN in both.",
        )
        expect(
            (entry.get("containerName"), entry.get("containerPort")) == ("web", 8080),
            "9.1",
            f"loadBalancers names container {entry.get('containerName')!r}, port {entry.get('containerPort')}; the task definition's container is "
            "'web' and the app listens on 8080: 'containerName': 'web', 'containerPort': 8080.",
        )
        definition = lab.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        expect(
            definition["containerDefinitions"][0]["image"] == image,
            "9.1",
            f"the task definition runs {definition['containerDefinitions'][0]['image']!r}; run the image_uri argument ({image}).",
        )
        expect(problem is None, "9.1", str(problem))
        expected_url = elb_tools.listener_url(lab, balancer["LoadBalancerArn"])
        expect(
            url == expected_url,
            "9.1",
            f"you returned {_short(url)}; "
            + ("the ALB's DNS name does not resolve in the lab. " if isinstance(url, str) and "amazonaws.com" in url else "")
            + f"return elb_tools.listener_url(lab, load_balancer_arn), here {expected_url} (the lab's proxy for your listener).",
        )
        statuses = sorted({status for status, _, _ in answers})
        tg_arn = entry["targetGroupArn"]
        healthy = elb_tools.healthy_count(elb_tools.target_health(lab.elbv2, tg_arn))
        expect(
            statuses == [200],
            "9.1",
            f"right after your function returned, {REQUESTS} requests through the listener got {statuses} (503: no healthy target yet); "
            f"{healthy} of {TASKS} targets are healthy now. Wait before returning: lab.ecs.get_waiter('services_stable') (all tasks RUNNING, so all "
            "registered), then lab.elbv2.get_waiter('target_in_service').wait(TargetGroupArn=..., WaiterConfig={'Delay': 1}).",
        )
        hostnames = {host for _, host, _ in answers}
        expect(
            len(hostnames) == TASKS,
            "9.1",
            f"only {len(hostnames)} task answered {REQUESTS} requests: when your function returned, not every target was healthy. "
            "Wait until all are: after services_stable, the target_in_service waiter (it waits for every registered target).",
        )
        return Passed(
            "9.1",
            f"{seconds:.1f} s after your function started, {REQUESTS} requests through {url} were answered by {TASKS} tasks running "
            f"{image.rsplit('/', 1)[-1]}; "
            "the load balancer admits port 80 from anywhere, the tasks admit 8080 from the load balancer's group only.",
        )
    finally:
        remove_check_objects(lab, name)


# -- 9.2 -------------------------------------------------------------------------------------


def _same_history(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether ``after`` is the service ``before`` was: a rolled service keeps its events, a service made anew starts without them."""
    ids = {event["id"] for event in before.get("events", [])}
    return not ids or bool(ids & {event["id"] for event in after.get("events", [])})


def check_roll_out(
    roll_out: Callable[[Any, str, str, str], str], lab: Any, name: str = ROLL_NAME, repository: str = EXERCISE_REPOSITORY
) -> Passed:
    """9.2: ``roll_out(lab, cluster, service, new_image_uri)`` moves a running service to the new image under steady traffic,
    losing no request, and returns the new revision's ARN once only the new version answers."""
    found = exercise_images(lab, "9.2", repository)
    remove_check_objects(lab, name)
    try:
        url, _ = deploy_reference(lab, name, found["v1"], security.ensure_execution_role(lab.iam))
        before = _service(lab, name)
        assert before is not None
        old_definition = lab.ecs.describe_task_definition(taskDefinition=before["taskDefinition"])["taskDefinition"]
        traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=4)
        traffic.start()
        time.sleep(1)
        began = traffic.elapsed()
        try:
            result = run_student("9.2", roll_out, lab, name, name, found["v2"])
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
            "9.2",
            f"the service {name!r} that was running is gone or was made anew. A new service starts from zero tasks, so requests fail "
            "until its tasks are healthy; roll the running one instead: lab.ecs.update_service(cluster=cluster, service=service, "
            "taskDefinition=new_task_def_arn).",
        )
        assert service is not None
        definition = lab.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        image = definition["containerDefinitions"][0]["image"]
        expect(
            image == found["v2"],
            "9.2",
            f"the service runs {image.rsplit('/', 1)[-1]!r}, not the new image ({found['v2'].rsplit('/', 1)[-1]})"
            + (
                ": a new deployment of the same task definition (forceNewDeployment) starts the same image again"
                if image == found["v1"]
                else ""
            )
            + ". Register a new revision with the new image (copy the service's task definition, change containerDefinitions[0]['image']) "
            "and pass its ARN: update_service(..., taskDefinition=new_task_def_arn).",
        )
        expect(
            definition["family"] == old_definition["family"],
            "9.2",
            f"the new task definition is in the family {definition['family']!r}, the service's was {old_definition['family']!r}: register the new "
            "revision in the same family, so its history (revision 1, 2, ...) is the service's history.",
        )
        expect(
            result == service["taskDefinition"],
            "9.2",
            f"return the ARN of the revision the service now runs ({service['taskDefinition']}), not {_short(result)}.",
        )
        summary = traffic.summary()
        failed = [r for r in traffic.responses if r.status != 200]
        minimum = service.get("deploymentConfiguration", {}).get("minimumHealthyPercent", 100)
        expect(
            not failed,
            "9.2",
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
            "9.2",
            f"{SETTLE:g} s after your function returned, {len(old)} of {len(after)} requests were still answered by {sorted({str(r.version) for r in old})}: "
            "the rollout was not over. Wait before returning: lab.ecs.get_waiter('services_stable').wait(cluster=cluster, services=[service]) "
            "waits until one deployment is left with all its tasks running.",
        )
        return Passed(
            "9.2",
            f"Your function rolled {name} to v2 in {returned - began:.1f} s under 20 requests a second: no request failed, and every answer "
            f"from {SETTLE:g} s after it returned came from v2.",
        )
    finally:
        remove_check_objects(lab, name)


# -- 9.3 -------------------------------------------------------------------------------------


def _requests(bucket: str, region: str, account: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """What the app must be allowed, and what it must not (each with the fix when it is allowed)."""
    must = [
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/settings/app.json"),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/settings/flags/beta.json"),
    ]
    narrow = f"Allow only s3:GetObject on arn:aws:s3:::{bucket}/settings/*."
    must_not = [
        (
            "dynamodb:Scan",
            f"arn:aws:dynamodb:{region}:{account}:table/orders",
            f"The app uses no DynamoDB (an Action of '*' allows every service of AWS). {narrow}",
        ),
        ("iam:PassRole", "*", f"With iam:PassRole the app could hand roles to other services. {narrow}"),
        (
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/settings/app.json",
            f"The app only reads its settings: Action 's3:GetObject', not s3:* or s3:Put*. {narrow}",
        ),
        (
            "s3:DeleteObject",
            f"arn:aws:s3:::{bucket}/settings/app.json",
            f"The app only reads its settings: Action 's3:GetObject'. {narrow}",
        ),
        (
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/private/keys.json",
            f"End the Resource with the prefix: arn:aws:s3:::{bucket}/settings/* (an object's ARN is bucket/key).",
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::someone-elses-bucket/settings/app.json",
            f"Name the bucket in the Resource: arn:aws:s3:::{bucket}/settings/*.",
        ),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", f"The app reads keys it knows and lists nothing. {narrow}"),
    ]
    return must, must_not


def check_task_role_policy(
    task_role_policy: Callable[[str], dict[str, Any]], lab: Any, bucket: str | None = None, role: str = TASK_ROLE
) -> Passed:
    """9.3: ``task_role_policy(bucket)`` lets the app read the objects under ``settings/`` of ``bucket``, and nothing else."""
    bucket = bucket or f"{SETTINGS_BUCKET}-{secrets.token_hex(3)}"
    document = run_student("9.3", task_role_policy, bucket)
    if isinstance(document, str):
        try:
            json.loads(document)
        except ValueError:
            raise CheckFailed(f"Exercise 9.3: return the policy document as a dict, not {_short(document)}.") from None
        raise CheckFailed(
            "Exercise 9.3: return the policy document as a dict (the check gives IAM json.dumps of it), not as JSON text."
        )
    expect(
        isinstance(document, dict),
        "9.3",
        f"return the policy document as a dict like {{'Version': '2012-10-17', 'Statement': [...]}}, not {_short(document)}.",
    )
    try:
        parse_policy(document, "your policy")
    except MalformedPolicyDocument as error:
        raise CheckFailed(f"Exercise 9.3: IAM would refuse this policy: {error}") from None
    _delete_role(lab, role)
    try:
        security.ensure_task_role(lab.iam, role, document, policy_name="read-settings")
        must, must_not = _requests(bucket, lab.region, lab.account_id)
        table = security.decision_table(lab.iam, role, [*must, *[(action, resource) for action, resource, _ in must_not]])
        decisions = {(action, resource): decision for action, resource, decision in table.rows}
        for action, resource in must:
            decision = decisions[(action, resource)]
            expect(
                decision.allowed,
                "9.3",
                f"the app could not read its settings: {action} on {resource} is denied ({decision.explanation.rstrip('.')}). "
                f"Allow s3:GetObject on arn:aws:s3:::{bucket}/settings/* (the /* covers every key under settings/).",
            )
        for action, resource, fix in must_not:
            decision = decisions[(action, resource)]
            statement = decision.statement.label if decision.statement else "a statement"
            expect(
                not decision.allowed,
                "9.3",
                f"the role may also {action} on {resource} ({statement} allows it): more than the app needs. {fix}",
            )
        return Passed(
            "9.3",
            f"IAM stores the policy; of {len(table.rows)} requests, the role may only read the bucket's settings/* ({len(must)} allowed, "
            f"{len(must_not)} denied: writes, other keys, other buckets, listing, other services).",
        )
    finally:
        _delete_role(lab, role)
