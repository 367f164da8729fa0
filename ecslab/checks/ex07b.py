"""Checks for exercises/07b-networks-and-secrets.ipynb: the two web security groups, a secret injected by ECS.

- 7b.1 hands the learner's function a VPC of the check's own and two group names drawn at random, then reads
  the groups back from EC2 and compares their inbound rules with the pattern exactly: the load balancer's group
  admits TCP 80 from ``0.0.0.0/0`` and nothing else; the tasks' group admits TCP 8080 from the load balancer's
  *group* and nothing else (above all not ``0.0.0.0/0``). The groups are to be written with plain ``lab.ec2``
  calls: ecslab's :func:`ecslab.network.create_web_security_groups` is refused while the function runs (and
  could not make groups with the names the check draws anyway).
- 7b.2 runs the learner's task: a secret of the check's own (a random value the learner never sees) must reach
  the container as an environment variable through the task definition's ``secrets``, read by the execution
  role the check hands over (AWS's managed policy only: the learner allows it that one secret), and never
  appear in what the function printed, displayed or returned, nor in the task definition.

Every check works in objects of its own (``ex07b-check-...``, names new on every run), deleted before the check
(leftovers of an interrupted run) and after it, whether the learner's code passed or not. The helpers for running
the AWS app as a task come from :mod:`ecslab.checks.ex07`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from ecslab import cleanup, network, security
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, NotDone, Passed, expect, run_student
from ecslab.checks.ex07 import (
    _explain_stopped,
    ask_app,
    captured_output,
    delete_cluster,
    delete_role,
    delete_secret,
    refusing_helper,
    wait_started,
)

POINTS: dict[str, int] = {"7b.1": 1, "7b.2": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex07b-app"
CHECK_VPC = "ex07b-check-vpc"
ALB_GROUP = "ex07b-check-front"
TASK_GROUP = "ex07b-check-app"
VPC_CIDR = "10.77.0.0/16"
LISTENER_PORT = 80
CONTAINER_PORT = 8080
SECRET_CLUSTER = "ex07b-check-secret"
SECRET_ROLE = "ex07b-check-execution"
SECRET_NAME = "ex07b-check/db-password"
SECRET_VARIABLE = "DB_PASSWORD"


# -- the image and the clean slate ---------------------------------------------------------


def prepare_image(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> str:
    """Setup of the exercise: build the AWS app (boto3 inside) and push it to a fresh ``repository``; returns ``URI:v1``."""
    return setup.prepare_image(lab, repository, show_progress=show_progress, aws_app=True)


def exercise_image(lab: Any, exercise: str, repository: str = EXERCISE_REPOSITORY) -> str:
    """The image the setup cell pushed (``URI:v1``); fails kindly when it is not there."""
    return setup.exercise_image(lab, exercise, repository, app="the AWS app")


def delete_groups(lab: Any, names: list[str]) -> None:
    """Delete the security groups with these names, in any VPC: their inbound rules first (a rule naming another
    group keeps that group from being deleted), then the groups."""
    if not names:
        return
    found = lab.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": names}])["SecurityGroups"]
    for group in found:
        if group.get("IpPermissions"):
            lab.ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    for group in found:
        lab.ec2.delete_security_group(GroupId=group["GroupId"])


def delete_vpc(lab: Any, name: str) -> None:
    """Delete the check's VPC ``name`` (tag ``Name``) with its security groups."""
    cleanup.remove(lab, cleanup.CourseResources(vpcs=[name]), say=setup.quiet)


def _check_vpcs(lab: Any) -> list[str]:
    """The VPCs 7b.1 makes (``ex07b-check-vpc-...``), left by an interrupted run."""
    tags = [t["Value"] for v in lab.ec2.describe_vpcs()["Vpcs"] for t in v.get("Tags", []) if t["Key"] == "Name"]
    return [name for name in tags if name.startswith(CHECK_VPC)]


def _check_groups(lab: Any) -> list[str]:
    """The security groups 7b.1's learner function makes (``ex07b-check-front-...``, ``-app-...``), wherever they are."""
    names = [g["GroupName"] for g in lab.ec2.describe_security_groups()["SecurityGroups"]]
    return [name for name in names if name.startswith((ALB_GROUP, TASK_GROUP))]


def _check_roles(lab: Any) -> list[str]:
    roles = [r["RoleName"] for page in lab.iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
    return [name for name in roles if name.startswith(SECRET_ROLE)]


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: whatever a check left (if interrupted), and the repository."""
    for cluster in setup.clusters_with_prefix(lab, SECRET_CLUSTER):
        delete_cluster(lab, cluster)
    for role in _check_roles(lab):
        delete_role(lab, role)
    delete_secret(lab, SECRET_NAME)
    groups = _check_groups(lab)
    delete_groups(lab, sorted(groups, key=lambda name: not name.startswith(TASK_GROUP)))
    for vpc in _check_vpcs(lab):
        delete_vpc(lab, vpc)
    setup.remove_exercise_image(lab, repository)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_with_prefix(lab, SECRET_CLUSTER),
        "check roles left": _check_roles(lab),
        "check VPCs and security groups left": _check_vpcs(lab) + _check_groups(lab),
    }


# -- 7b.1 ------------------------------------------------------------------------------------


def _rule_text(rule: network.Rule, names: dict[str, str]) -> str:
    source = names.get(rule.source_group_id or "", rule.source)
    return f"{rule.ports} from {source}"


def _find_group(lab: Any, vpc_id: str, name: str, which: str) -> dict[str, Any]:
    found = lab.ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    if not found:
        elsewhere = lab.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        where = (
            f" There is one in {elsewhere[0].get('VpcId')}: pass VpcId=vpc_id to create_security_group (without it, "
            "EC2 uses the default VPC)."
            if elsewhere
            else ""
        )
        raise CheckFailed(
            f"Exercise 7b.1: there is no security group named {name!r} (the {which}) in the VPC {vpc_id}.{where} Create it with "
            f"lab.ec2.create_security_group(GroupName={which.split()[0]}_group_name, Description='...', VpcId=vpc_id)."
        )
    return dict(found[0])


def check_web_groups(
    create_web_groups: Callable[[Any, str, str, str], Any],
    lab: Any,
    vpc_name: str | None = None,
    alb_group_name: str | None = None,
    task_group_name: str | None = None,
) -> Passed:
    """7b.1: ``create_web_groups(lab, vpc_id, alb_group_name, task_group_name)`` makes the load balancer's group (TCP 80
    from 0.0.0.0/0, nothing else) and the tasks' group (TCP 8080 from the load balancer's group, nothing else) in
    ``vpc_id``, with plain ``lab.ec2`` calls, and returns their IDs.

    The VPC and both names are new on every run (``ex07b-check-front-xxxxxx``, ``ex07b-check-app-xxxxxx``): names
    typed in cannot pass, and ecslab's ``create_web_security_groups`` (``PREFIX-alb``, ``PREFIX-tasks``) cannot
    make them; it is refused while the function runs too."""
    vpc_name = vpc_name or setup.fresh_name(CHECK_VPC)
    alb_name = alb_group_name or setup.fresh_name(ALB_GROUP)
    task_name = task_group_name or setup.fresh_name(TASK_GROUP)
    delete_groups(lab, [task_name, alb_name])
    delete_vpc(lab, vpc_name)
    try:
        vpc_id = str(
            lab.ec2.create_vpc(
                CidrBlock=VPC_CIDR, TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": vpc_name}]}]
            )["Vpc"]["VpcId"]
        )
        with refusing_helper("7b.1", create_web_groups, network, "create_web_security_groups", "plain lab.ec2 calls"):
            forbid = ("create_web_security_groups",)  # refused in the learner's kernel too when ecslab grade runs it
            returned = run_student("7b.1", create_web_groups, lab, vpc_id, alb_name, task_name, forbid=forbid)
        alb = _find_group(lab, vpc_id, alb_name, "alb group (the load balancer's)")
        tasks = _find_group(lab, vpc_id, task_name, "task group (the tasks')")
        alb_id, task_id = str(alb["GroupId"]), str(tasks["GroupId"])
        expect(
            isinstance(returned, (tuple, list)) and list(returned) == [alb_id, task_id],
            "7b.1",
            f"you returned {returned!r}; return the two groups' IDs, (alb_group_id, task_group_id): "
            f"({alb_id!r}, {task_id!r}), each from create_security_group's response['GroupId'].",
        )
        names = {alb_id: f"{alb_name} (the load balancer's group)", task_id: f"{task_name} (the tasks' group itself)"}
        alb_rules = network.normalise_permissions(alb_id, alb.get("IpPermissions", []))
        wanted_alb = [
            r
            for r in alb_rules
            if r.protocol == "tcp" and (r.from_port, r.to_port) == (LISTENER_PORT, LISTENER_PORT) and r.cidr == network.INTERNET
        ]
        expect(
            bool(wanted_alb),
            "7b.1",
            f"the load balancer's group {alb_name!r} does not admit TCP {LISTENER_PORT} from {network.INTERNET} (its inbound rules: "
            f"{[_rule_text(r, names) for r in alb_rules] or 'none'}), so nobody on the internet could reach the listener. "
            f"lab.ec2.authorize_security_group_ingress(GroupId=alb_group_id, IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': {LISTENER_PORT}, "
            f"'ToPort': {LISTENER_PORT}, 'IpRanges': [{{'CidrIp': '{network.INTERNET}'}}]}}]).",
        )
        extra_alb = [r for r in alb_rules if r not in wanted_alb]
        expect(
            not extra_alb,
            "7b.1",
            f"the load balancer's group also admits {', '.join(_rule_text(r, names) for r in extra_alb)}. An HTTP load balancer "
            f"needs TCP {LISTENER_PORT} from {network.INTERNET} and nothing else: every other open port is one more way in.",
        )
        task_rules = network.normalise_permissions(task_id, tasks.get("IpPermissions", []))
        from_anywhere = [r for r in task_rules if r.cidr in (network.INTERNET, "::/0")]
        expect(
            not from_anywhere,
            "7b.1",
            f"the tasks' group {task_name!r} admits {', '.join(_rule_text(r, names) for r in from_anywhere)}: anyone on the internet "
            "could then reach a task with a public IP directly, past the load balancer. Its only source must be the load balancer's "
            f"group: UserIdGroupPairs=[{{'GroupId': alb_group_id}}], not IpRanges.",
        )
        wanted_task = [
            r
            for r in task_rules
            if r.protocol == "tcp"
            and (r.from_port, r.to_port) == (CONTAINER_PORT, CONTAINER_PORT)
            and r.source_group_id == alb_id
        ]
        if not wanted_task:
            ranges = [r for r in task_rules if r.cidr]
            hint = (
                f" It admits address ranges ({', '.join(_rule_text(r, names) for r in ranges)}); the load balancer's addresses change, "
                "its group does not: name the group as the source."
                if ranges
                else ""
            )
            raise CheckFailed(
                f"Exercise 7b.1: the tasks' group {task_name!r} does not admit TCP {CONTAINER_PORT} from the load balancer's group "
                f"(its inbound rules: {[_rule_text(r, names) for r in task_rules] or 'none'}), so the load balancer could not reach the "
                f"tasks (health checks: Target.Timeout).{hint} lab.ec2.authorize_security_group_ingress(GroupId=task_group_id, "
                f"IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': {CONTAINER_PORT}, 'ToPort': {CONTAINER_PORT}, "
                "'UserIdGroupPairs': [{'GroupId': alb_group_id}]}])."
            )
        extra_task = [r for r in task_rules if r not in wanted_task]
        expect(
            not extra_task,
            "7b.1",
            f"the tasks' group also admits {', '.join(_rule_text(r, names) for r in extra_task)}. The tasks need TCP {CONTAINER_PORT} "
            "from the load balancer's group and nothing else.",
        )
        groups = [network.SecurityGroup.from_aws(alb), network.SecurityGroup.from_aws(tasks)]
        paths = [
            (network.ingress_allows(groups[:1], LISTENER_PORT, source_cidr=network.INTERNET)[0], True),
            (network.ingress_allows(groups[1:], CONTAINER_PORT, source_group_ids=[alb_id])[0], True),
            (network.ingress_allows(groups[1:], CONTAINER_PORT, source_cidr=network.INTERNET)[0], False),
            (network.ingress_allows(groups[1:], CONTAINER_PORT, source_cidr="10.77.1.25/32")[0], False),
        ]
        expect(all(got == want for got, want in paths), "7b.1", "the groups do not decide the four paths as the pattern does.")
        return Passed(
            "7b.1",
            f"EC2 holds exactly the pattern: the load balancer's group admits TCP {LISTENER_PORT} from {network.INTERNET}, the tasks' "
            f"group TCP {CONTAINER_PORT} from the load balancer's group only (not from the internet, not from the rest of the VPC).",
        )
    finally:
        delete_groups(lab, [task_name, alb_name])
        delete_vpc(lab, vpc_name)


# -- 7b.2 ------------------------------------------------------------------------------------


def check_run_with_secret(
    run_with_secret: Callable[[Any, str, str, str, str], str],
    lab: Any,
    cluster: str | None = None,
    role_name: str | None = None,
    secret_name: str = SECRET_NAME,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """7b.2: ``run_with_secret(lab, cluster, execution_role_name, image_uri, secret_arn)`` runs a task whose app sees
    DB_PASSWORD, never showing the value.

    The check makes the execution role (AWS's managed policy only, as :func:`ecslab.security.ensure_execution_role`
    does: exercise 7.3 had the learner write that part); the learner allows it the one secret. The cluster and the
    role's name are new each run; the secret keeps its name (on AWS a deleted secret's name stays taken for 7 days),
    and its ARN ends in random characters anyway."""
    image = exercise_image(lab, "7b.2", repository)
    cluster = cluster or setup.fresh_name(SECRET_CLUSTER)
    role_name = role_name or setup.fresh_name(SECRET_ROLE)
    delete_cluster(lab, cluster)
    delete_role(lab, role_name)
    delete_secret(lab, secret_name)
    secretsmanager = lab.client("secretsmanager")
    value = secrets.token_urlsafe(24)
    try:
        security.ensure_execution_role(lab.iam, role_name)
        restored = cleanup.restore_scheduled_secret(lab, secret_name)  # on AWS a deleted secret keeps its name for 7 days
        if restored:
            secretsmanager.put_secret_value(SecretId=restored, SecretString=value)
            secret_arn = restored
        else:
            secret_arn = str(
                secretsmanager.create_secret(Name=secret_name, SecretString=value, Description="exercise 7b.2's check")["ARN"]
            )
        lab.ecs.create_cluster(clusterName=cluster)
        started = time.time()
        try:
            with captured_output() as output:
                task_arn = run_student("7b.2", run_with_secret, lab, cluster, role_name, image, secret_arn)
        except NotDone:
            raise
        except CheckFailed as error:  # e.g. the tasks_running waiter gave up on a task that stopped: say why it stopped
            message = str(error).replace(value, "<the secret's value>")
            stopped = lab.ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
            described = lab.ecs.describe_tasks(cluster=cluster, tasks=stopped[:100])["tasks"] if stopped else []
            yours = [
                t for t in described if t.get("createdAt") and t["createdAt"].timestamp() >= started - 1
            ]  # not a stopped task of an earlier run
            if yours:
                message = (
                    message.rstrip(".")
                    + ". In short, "
                    + _explain_stopped("7b.2", yours[0], "the execution role").removeprefix("Exercise 7b.2: ")
                )
            raise CheckFailed(message) from None
        shown = output.getvalue()
        expect(
            value not in shown and value not in repr(task_arn),
            "7b.2",
            "your function showed the secret's value (in what it printed, displayed or returned). Never read the secret yourself "
            "(no get_secret_value) and never print it: ECS reads it for the task.",
        )
        if shown.strip():
            print(shown, end="")  # the learner's own prints, now that they are known to hold no secret
        expect(
            isinstance(task_arn, str) and ":task/" in task_arn,
            "7b.2",
            f"return the task's ARN (run_task's response['tasks'][0]['taskArn']), not {task_arn!r}.",
        )
        task = wait_started(lab, cluster, task_arn)
        definition = lab.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        containers = definition["containerDefinitions"]
        expect(
            not any(value in json.dumps(c.get("environment", [])) for c in containers),
            "7b.2",
            "the password is in the task definition's environment, where anyone allowed ecs:DescribeTaskDefinition reads it. "
            f"Put {{'name': '{SECRET_VARIABLE}', 'valueFrom': secret_arn}} in the container's secrets instead.",
        )
        expect(
            value not in json.dumps(definition, default=str),
            "7b.2",
            "the password is written in the task definition; reference the secret by its ARN in secrets.",
        )
        named = [s for c in containers for s in c.get("secrets", []) if s.get("name") == SECRET_VARIABLE]
        expect(
            bool(named),
            "7b.2",
            f"no container of the task definition has a secret named {SECRET_VARIABLE!r} (it has "
            f"{[s.get('name') for c in containers for s in c.get('secrets', [])] or 'none'}): "
            f"add secrets=[{{'name': '{SECRET_VARIABLE}', 'valueFrom': secret_arn}}] to the container.",
        )
        expect(
            named[0].get("valueFrom") == secret_arn,
            "7b.2",
            f"{SECRET_VARIABLE} comes from {named[0].get('valueFrom')!r}; use the secret_arn argument, {secret_arn!r}.",
        )
        execution_arn = definition.get("executionRoleArn", "")
        expect(
            execution_arn.endswith(f":role/{role_name}"),
            "7b.2",
            f"the task definition's executionRoleArn is {execution_arn or 'not set'}; use the execution role you were given, {role_name!r} "
            "(its ARN: lab.iam.get_role(RoleName=execution_role_name)['Role']['Arn']).",
        )
        if task["lastStatus"] != "RUNNING":
            raise CheckFailed(_explain_stopped("7b.2", task, "the execution role"))
        other_secret = secret_arn.rsplit(":", 1)[0] + ":ex07-check/another-secret-AbCdEf"
        decision = security.simulate(lab.iam, role_name, "secretsmanager:GetSecretValue", other_secret)
        expect(
            not decision.allowed,
            "7b.2",
            f"the execution role may read other secrets too, e.g. {other_secret} ({decision.explanation}) "
            "Least privilege: allow secretsmanager:GetSecretValue on secret_arn only.",
        )
        containers_named = [
            c.get("name") for c in containers if any(s.get("name") == SECRET_VARIABLE for s in c.get("secrets", []))
        ]
        status, seen = ask_app(task, f"/secret/{SECRET_VARIABLE}", config=lab.config)
        expect(
            status == 200 and seen.get("set") is True,
            "7b.2",
            f"the app in container {containers_named[0]!r} does not see {SECRET_VARIABLE}: {seen}.",
        )
        expect(
            seen.get("sha256_prefix") == hashlib.sha256(value.encode()).hexdigest()[:12],
            "7b.2",
            f"the app sees {SECRET_VARIABLE}, but not the secret's value (its hash differs): use valueFrom=secret_arn, without a JSON key.",
        )
        return Passed(
            "7b.2",
            f"The task runs; ECS read the secret with your execution role (allowed that secret only) and the app sees {SECRET_VARIABLE} "
            f"({seen.get('length')} characters, same hash as the stored value); the value appeared nowhere in your function's output or the task definition.",
        )
    finally:
        delete_cluster(lab, cluster)
        delete_role(lab, role_name)
        delete_secret(lab, secret_name)
