"""Checks for exercises/06-load-balancing.ipynb: a target group, and a service behind an ALB.

Deployment percentages (once check 6.3) are exercise 06a's check 6a.1 (:mod:`ecslab.checks.ex06a`).

The exercise's setup cell calls :func:`prepare_image`, which pushes the sample app to the
repository ``ex06-app`` as ``:v1``. Each checker works with objects of its own
(``ex06-check-...``: target group, load balancer, cluster, task definition, and the web
security groups of :func:`ecslab.network.create_web_security_groups`), deleted before the
check (leftovers of an interrupted run) and after it; the notebook's Cleanup cell
(:func:`clean_up`) deletes the repository.

The names a checker hands the learner's function (6.1's target group, 6.2's cluster and service)
are new on every run: a function that types in names instead of using its arguments cannot pass.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ecslab import cleanup, network, security
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, NotDone, Passed, expect, run_student

POINTS: dict[str, int] = {"6.1": 1, "6.2": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex06-app"
TARGET_GROUP = "ex06-check-target-group"
ALB_NAME = "ex06-check-alb"
ALB_TARGET_GROUP = "ex06-check-alb-tg"
CLUSTER = "ex06-check-cluster"
SERVICE = "ex06-check-api"
REQUESTS = 20


# -- the image and the clean slate ---------------------------------------------------------


def prepare_image(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> str:
    """Setup of the exercise: the sample app (v1) pushed to a fresh ``repository``; returns ``URI:v1``."""
    return setup.prepare_image(lab, repository, show_progress=show_progress)


def exercise_image(lab: Any, repository: str = EXERCISE_REPOSITORY) -> str:
    """The image the setup cell pushed (``URI:v1``); fails kindly when it is not there."""
    return setup.exercise_image(lab, "6", repository)


def remove_check_objects(lab: Any, cluster: str, alb_name: str, target_groups: list[str]) -> None:
    """Delete a check's cluster (services, tasks), load balancer (listeners), target groups and security groups, in AWS's order.

    The security groups are those :func:`_alb_for_the_check` makes, named after the cluster.
    With :func:`ecslab.cleanup.remove`: by name in the lab, only what the course made for this
    learner on AWS. In the lab the task definitions the services ran are deregistered too."""
    definitions: set[str] = set()
    described = lab.ecs.describe_clusters(clusters=[cluster])["clusters"]
    if lab.is_local and described and described[0]["status"] == "ACTIVE":
        arns = lab.ecs.list_services(cluster=cluster)["serviceArns"]
        if arns:
            definitions = {s["taskDefinition"] for s in lab.ecs.describe_services(cluster=cluster, services=arns)["services"]}
    cleanup.remove(
        lab,
        cleanup.CourseResources(
            clusters=[cluster],
            load_balancers=[alb_name],
            target_groups=target_groups,
            security_groups=[f"{cluster}-tasks", f"{cluster}-alb"],
        ),
        say=setup.quiet,
    )
    for definition in definitions:
        try:
            lab.ecs.deregister_task_definition(taskDefinition=definition)
        except ClientError:
            pass


def _check_target_groups(lab: Any) -> list[str]:
    """The target groups a check made (6.1's have a random suffix), left by an interrupted run."""
    names = [g["TargetGroupName"] for g in lab.elbv2.describe_target_groups()["TargetGroups"]]
    return [name for name in names if name == ALB_TARGET_GROUP or name.startswith(TARGET_GROUP)]


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: whatever a check left (if interrupted), and the repository."""
    for cluster in [*setup.clusters_with_prefix(lab, CLUSTER), CLUSTER]:
        remove_check_objects(lab, cluster, ALB_NAME, [])
    remove_check_objects(lab, CLUSTER, ALB_NAME, _check_target_groups(lab))
    setup.remove_exercise_image(lab, repository)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_with_prefix(lab, CLUSTER),
        "check load balancers left": [
            b["LoadBalancerName"]
            for b in lab.elbv2.describe_load_balancers()["LoadBalancers"]
            if b["LoadBalancerName"] == ALB_NAME
        ],
        "check target groups left": _check_target_groups(lab),
    }


# -- 6.1 -------------------------------------------------------------------------------------


def check_target_group(create_target_group: Callable[[Any, str, str], str], lab: Any, name: str | None = None) -> Passed:
    """6.1: ``create_target_group(lab, name, vpc_id)`` makes an ``ip`` target group for port 8080 checking /health
    every 5 s, healthy after 2; returns its ARN. The name is new each run (at most 32 characters, as ELB allows)."""
    name = name or setup.fresh_name(TARGET_GROUP)
    vpc_id, _ = elb_tools.default_subnets(lab.ec2)
    elb_tools.delete_target_groups(lab.elbv2, [name])
    try:
        arn = run_student("6.1", create_target_group, lab, name, vpc_id)
        found = [g for g in lab.elbv2.describe_target_groups()["TargetGroups"] if g["TargetGroupName"] == name]
        expect(
            bool(found),
            "6.1",
            f"there is no target group named {name!r}: call lab.elbv2.create_target_group(Name=name, ...) with the name argument.",
        )
        group = found[0]
        expect(
            arn == group["TargetGroupArn"],
            "6.1",
            f"return the target group's ARN, {group['TargetGroupArn']!r} (create_target_group's response['TargetGroups'][0]['TargetGroupArn']), "
            f"not {_short(arn)}.",
        )
        expect(
            group.get("TargetType") == "ip",
            "6.1",
            f"TargetType is {group.get('TargetType')!r}. A Fargate task (awsvpc) has its own network interface and is registered by its IP: "
            "TargetType='ip'. 'instance' is for EC2 hosts, where tasks share the host's address.",
        )
        expect(
            group.get("Protocol") == "HTTP",
            "6.1",
            f"Protocol is {group.get('Protocol')!r}; the sample app speaks plain HTTP: Protocol='HTTP'.",
        )
        expect(
            group.get("Port") == 8080,
            "6.1",
            f"Port is {group.get('Port')}. The target group's Port is where the targets listen: the app's container port, 8080. "
            "(80 is the listener's port, on the load balancer.)"
            if group.get("Port") == 80
            else f"Port is {group.get('Port')}; the sample app listens on 8080 (its container port): Port=8080.",
        )
        expect(
            group.get("VpcId") == vpc_id,
            "6.1",
            f"the target group is in VPC {group.get('VpcId')!r}; use the vpc_id argument ({vpc_id}), the default VPC where the tasks run.",
        )
        path = group.get("HealthCheckPath")
        expect(
            path == "/health",
            "6.1",
            f"HealthCheckPath is {path!r}; the sample app's health endpoint is /health: HealthCheckPath='/health'."
            + (
                " ('/' also answers 200, but a health route says what it is for, and can check more than 'the process runs'.)"
                if path == "/"
                else ""
            ),
        )
        interval, healthy = group.get("HealthCheckIntervalSeconds"), group.get("HealthyThresholdCount")
        expect(
            interval == 5,
            "6.1",
            f"HealthCheckIntervalSeconds is {interval}"
            + (" (AWS's default)" if interval == 30 else "")
            + "; check every 5 s: HealthCheckIntervalSeconds=5.",
        )
        expect(
            healthy == 2,
            "6.1",
            f"HealthyThresholdCount is {healthy}"
            + (" (AWS's default)" if healthy == 5 else "")
            + "; a target should be healthy after 2 passed checks: HealthyThresholdCount=2.",
        )
        timeout = group.get("HealthCheckTimeoutSeconds")
        expect(
            timeout is not None and timeout < interval,
            "6.1",
            f"HealthCheckTimeoutSeconds is {timeout}"
            + (" (the default)" if timeout == 5 else "")
            + f", not less than the {interval} s interval: "
            "a check would still be waiting for its answer when the next one starts, and AWS answers 'Health check interval must be greater "
            "than the timeout'. Set HealthCheckTimeoutSeconds=2.",
        )
        timing = elb_tools.health_check_timing(interval, timeout, healthy, int(group["UnhealthyThresholdCount"]))
        return Passed(
            "6.1",
            f"the target group: ip targets on 8080, GET /health every 5 s; a new task gets traffic within about {timing['healthy_after']} s.",
        )
    finally:
        elb_tools.delete_target_groups(lab.elbv2, [name])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


# -- 6.2 -------------------------------------------------------------------------------------


def _alb_for_the_check(lab: Any, cluster: str, alb_name: str, target_group: str) -> tuple[str, str, str, str]:
    """A load balancer without a listener in the web security groups, and a target group like 6.1's (2 s
    deregistration delay); returns their ARNs and the IDs of the groups ``{cluster}-alb`` and ``{cluster}-tasks``."""
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    return setup.create_web_front(lab, cluster, alb_name, target_group, subnets, vpc_id, deregistration_delay=2)


def _security_group_problem(lab: Any, cluster: str, service: str, alb_group: str, tg_arn: str) -> str | None:
    """Why the ALB cannot reach the service's tasks, when no security group of theirs admits port 8080 from ``alb_group``; else None."""
    found = [s for s in lab.ecs.describe_services(cluster=cluster, services=[service])["services"] if s["status"] == "ACTIVE"]
    if not found:
        return None
    group_ids = found[0].get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("securityGroups") or []
    groups = lab.ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"] if group_ids else []
    admitted, _ = network.ingress_allows(groups, 8080, source_group_ids=[alb_group])
    if admitted:
        return None
    names = [g.get("GroupName", g["GroupId"]) for g in groups]
    if not groups or names == ["default"]:
        now = "only the VPC's default group (what ECS gives tasks when securityGroups is left out)"
    else:
        now = f"the security groups {names}"
    reasons = sorted(
        {row["reason"] for row in elb_tools.target_health(lab.elbv2, tg_arn) if row["state"] != "healthy" and row["reason"]}
    )
    return (
        f"the service puts its tasks in {now}, and none of them admits port 8080 from the load balancer's group: its health checks "
        "get no answer"
        + (f" ({', '.join(reasons)})" if reasons else "")
        + " and no target becomes healthy. Put the tasks in the "
        "task_security_group argument (it admits 8080 from the ALB's group only): "
        "networkConfiguration={'awsvpcConfiguration': {'subnets': subnets, 'securityGroups': [task_security_group]}}."
    )


def _get(url: str) -> tuple[int, str | None]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read()).get("hostname")
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def check_serve_behind_alb(
    serve_behind_alb: Callable[[Any, str, str, str, str, str, str], str],
    lab: Any,
    cluster: str | None = None,
    service: str | None = None,
    alb_name: str = ALB_NAME,
    target_group: str = ALB_TARGET_GROUP,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """6.2: ``serve_behind_alb(lab, cluster, service, load_balancer_arn, target_group_arn, task_def_arn, task_security_group)``
    puts 2 tasks behind the ALB and returns its URL once both are healthy. Cluster and service are new each run."""
    image = exercise_image(lab, repository)
    cluster = cluster or setup.fresh_name(CLUSTER)
    service = service or setup.fresh_name(SERVICE)
    remove_check_objects(lab, cluster, alb_name, [target_group])
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        alb_arn, tg_arn, alb_group, task_group = _alb_for_the_check(lab, cluster, alb_name, target_group)
        definition = ecs_tools.task_definition(cluster, image, execution_role_arn=security.ensure_execution_role(lab.iam))
        task_def_arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        started = time.monotonic()
        try:
            url = run_student("6.2", serve_behind_alb, lab, cluster, service, alb_arn, tg_arn, task_def_arn, task_group)
        except NotDone:
            raise
        except CheckFailed as failure:
            problem = _security_group_problem(lab, cluster, service, alb_group, tg_arn)
            if problem is None:
                raise
            raise CheckFailed(f"{failure} Why: {problem}") from None
        seconds = time.monotonic() - started
        health_at_return = elb_tools.target_health(lab.elbv2, tg_arn)
        answers = (
            [_get(url + "/") for _ in range(REQUESTS)] if isinstance(url, str) and url.startswith("http://127.0.0.1") else []
        )

        listeners = lab.elbv2.describe_listeners(LoadBalancerArn=alb_arn)["Listeners"]
        expect(
            bool(listeners),
            "6.2",
            "the load balancer has no listener, so nothing receives requests: lab.elbv2.create_listener(LoadBalancerArn=load_balancer_arn, "
            "Protocol='HTTP', Port=80, DefaultActions=[{'Type': 'forward', 'TargetGroupArn': target_group_arn}]).",
        )
        listener = listeners[0]
        expect(
            listener["Port"] == 80,
            "6.2",
            f"the listener is on port {listener['Port']}; clients of a web API expect HTTP on port 80: Port=80.",
        )
        forwards_to = [a.get("TargetGroupArn") for a in listener["DefaultActions"] if a.get("Type") == "forward"]
        expect(
            forwards_to == [tg_arn],
            "6.2",
            f"the listener's default action is {[a.get('Type') for a in listener['DefaultActions']]} to {forwards_to}; forward to the target_group_arn "
            "argument: DefaultActions=[{'Type': 'forward', 'TargetGroupArn': target_group_arn}].",
        )
        services = [
            s for s in lab.ecs.describe_services(cluster=cluster, services=[service])["services"] if s["status"] == "ACTIVE"
        ]
        expect(
            bool(services),
            "6.2",
            f"cluster {cluster!r} has no service named {service!r}: create it with lab.ecs.create_service(cluster=cluster, serviceName=service, ...).",
        )
        described = services[0]
        expect(
            described["taskDefinition"] == task_def_arn,
            "6.2",
            "run the task_def_arn argument: create_service(..., taskDefinition=task_def_arn).",
        )
        expect(
            described["desiredCount"] == 2,
            "6.2",
            f"the service asks for {described['desiredCount']} task(s); pass desiredCount=2.",
        )
        balancers = described.get("loadBalancers") or []
        expect(
            bool(balancers),
            "6.2",
            "the service has no loadBalancers, so ECS registers none of its tasks and the ALB has no target. Pass "
            "loadBalancers=[{'targetGroupArn': target_group_arn, 'containerName': 'web', 'containerPort': 8080}] to create_service.",
        )
        entry = balancers[0]
        expect(
            entry.get("targetGroupArn") == tg_arn,
            "6.2",
            "loadBalancers names another target group; use the target_group_arn argument.",
        )
        expect(
            (entry.get("containerName"), entry.get("containerPort")) == ("web", 8080),
            "6.2",
            f"loadBalancers says container {entry.get('containerName')!r}, port {entry.get('containerPort')}: ECS looks up that container and port in the "
            "task definition to find what to register. The task definition's container is 'web' and it maps port 8080.",
        )
        problem = _security_group_problem(lab, cluster, service, alb_group, tg_arn)
        expect(problem is None, "6.2", problem or "")
        expect(isinstance(url, str), "6.2", f"return the listener's URL as a string, not {type(url).__name__}.")
        expected_url = elb_tools.listener_url(lab, alb_arn)
        expect(
            url.rstrip("/") == expected_url,
            "6.2",
            f"you returned {_short(url)}; "
            + ("the ALB's DNS name does not resolve in the lab. " if "amazonaws.com" in url else "")
            + f"return elb_tools.listener_url(lab, load_balancer_arn), here {expected_url} (the lab's proxy for your listener).",
        )
        statuses = sorted({status for status, _ in answers})
        healthy = elb_tools.healthy_count(health_at_return)
        expect(
            statuses == [200],
            "6.2",
            f"right after your function returned, {REQUESTS} requests got {statuses} (503: no healthy target yet); {healthy} of 2 targets were healthy. "
            "Wait before returning: lab.ecs.get_waiter('services_stable') (both tasks RUNNING, so both registered), then "
            "lab.elbv2.get_waiter('target_in_service').wait(TargetGroupArn=target_group_arn, WaiterConfig={'Delay': 1}).",
        )
        hostnames = {host for _, host in answers}
        expect(
            len(hostnames) == 2,
            "6.2",
            f"only {len(hostnames)} task answered {REQUESTS} requests: when your function returned, {healthy} target(s) were healthy. "
            "Wait until both are: after services_stable, the target_in_service waiter (it waits for every registered target).",
        )
        per_task = sorted(sum(host == h for _, host in answers) for h in hostnames)
        return Passed(
            "6.2",
            f"{seconds:.1f} s after your function started, {REQUESTS} requests through {url} were answered by 2 tasks, {per_task[0]} and "
            f"{per_task[1]}: round robin.",
        )
    finally:
        remove_check_objects(lab, cluster, alb_name, [target_group])
        for definition in lab.ecs.list_task_definitions(familyPrefix=cluster, status="ACTIVE")["taskDefinitionArns"]:
            lab.ecs.deregister_task_definition(taskDefinition=definition)
