"""Checks for exercises/07-security.ipynb: a least-privilege task-role policy, a task role, a secret injected by ECS.

- 7.1 is pure: the learner's policy document is read with IAM's rules
  (:func:`ecslab.iam_policy.parse_policy`) and evaluated (:func:`ecslab.iam_policy.evaluate`)
  against requests it must allow and requests it must deny, for two buckets (so a
  bucket name typed into the answer fails).
- 7.2 creates a role through the learner's function and reads it back from IAM: its
  trust policy must name ``ecs-tasks.amazonaws.com`` (and no other service), its
  policies must allow the reads and nothing more.
- 7.3 runs the learner's task: a secret of the check's own (a random value the learner
  never sees) must reach the container as an environment variable through the task
  definition's ``secrets``, read by the execution role, and never appear in what the
  function printed, displayed or returned, nor in the task definition.

Every check works in objects of its own (``ex07-check-...``), deleted before the check
(leftovers of an interrupted run) and after it. The names a checker hands the learner's function
(7.2's role and bucket, 7.3's cluster and role) are new on every run: a function that types in
names instead of using its arguments cannot pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ecslab import cleanup, iam_policy, security
from ecslab import ecs as ecs_tools
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, NotDone, Passed, expect, run_student

POINTS: dict[str, int] = {"7.1": 1, "7.2": 1, "7.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

ACCOUNT = "123456789012"
EXERCISE_REPOSITORY = "ex07-app"
CHECK_BUCKETS = ("ex07-check-reports", "ex07-check-invoices")
OTHER_BUCKET = "ex07-check-payroll"
ROLE_BUCKET = "ex07-check-role-reports"
ROLE_KEY = "2026/q3.csv"
TASK_ROLE = "ex07-check-task-role"
CHECK_EXECUTION_ROLE = "ex07-check-execution"
ROLE_CLUSTER = "ex07-check-role"
SECRET_CLUSTER = "ex07-check-secret"
SECRET_ROLE = "ex07-check-secret-execution"
SECRET_NAME = "ex07-check/db-password"
SECRET_VARIABLE = "DB_PASSWORD"
START_TIMEOUT = 60.0


# -- the image and the clean slate ---------------------------------------------------------


def prepare_image(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> str:
    """Setup of the exercise: build the AWS app (boto3 inside) and push it to a fresh ``repository``; returns ``URI:v1``."""
    return setup.prepare_image(lab, repository, show_progress=show_progress, aws_app=True)


def exercise_image(lab: Any, exercise: str, repository: str = EXERCISE_REPOSITORY) -> str:
    """The image the setup cell pushed (``URI:v1``); fails kindly when it is not there."""
    return setup.exercise_image(lab, exercise, repository, app="the AWS app")


delete_role = setup.delete_role
"""Delete a role with its policies: :func:`ecslab.checks.setup.delete_role`."""


def delete_bucket(lab: Any, bucket: str) -> None:
    """Empty and delete ``bucket``; on AWS only the course's."""
    cleanup.remove(lab, cleanup.CourseResources(buckets=[bucket]), say=setup.quiet)


def delete_secret(lab: Any, name: str) -> None:
    """Delete secret ``name``: at once in the lab; on AWS only the course's, with its 7-day recovery window."""
    cleanup.remove(lab, cleanup.CourseResources(secrets=[name]), say=setup.quiet)


delete_cluster = setup.delete_cluster
"""The clean-up of a check's cluster: :func:`ecslab.checks.setup.delete_cluster`."""


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: whatever a check left (if interrupted), and the repository."""
    for cluster in [*setup.clusters_with_prefix(lab, ROLE_CLUSTER), *setup.clusters_with_prefix(lab, SECRET_CLUSTER)]:
        delete_cluster(lab, cluster)
    for role in _check_roles(lab):
        delete_role(lab, role)
    for bucket in _check_buckets(lab):
        delete_bucket(lab, bucket)
    delete_secret(lab, SECRET_NAME)
    setup.remove_exercise_image(lab, repository)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_with_prefix(lab, ROLE_CLUSTER) + setup.clusters_with_prefix(lab, SECRET_CLUSTER),
        "check roles left": _check_roles(lab),
    }


def _check_roles(lab: Any) -> list[str]:
    """The roles the checks make (``ex07-check-...``, most with a random suffix), left by an interrupted run."""
    roles = [r["RoleName"] for page in lab.iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
    return [name for name in roles if name.startswith((TASK_ROLE, CHECK_EXECUTION_ROLE, SECRET_ROLE))]


def _check_buckets(lab: Any) -> list[str]:
    """7.2's buckets (``ex07-check-role-reports-...``), left by an interrupted run."""
    return [b["Name"] for b in lab.client("s3").list_buckets().get("Buckets", []) if b["Name"].startswith(ROLE_BUCKET)]


# -- running the app as a task ------------------------------------------------------------


default_subnets = setup.default_subnets


def wait_started(lab: Any, cluster: str, task_arn: str, timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The task once RUNNING or STOPPED (or as it is after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = lab.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        if not tasks:
            raise CheckFailed(f"ECS does not know the task {task_arn!r} in cluster {cluster!r}.")
        if tasks[0]["lastStatus"] in ("RUNNING", "STOPPED") or time.monotonic() > deadline:
            return dict(tasks[0])
        time.sleep(0.25)


def ask_app(
    task: dict[str, Any],
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    patience: float = 10.0,
    config: Any | None = None,
) -> tuple[int, dict[str, Any]]:
    """Call the AWS app in a task: (HTTP status, JSON answer); tries again while the app starts listening.

    Lab only: by the lab's internal path (:func:`ecslab.ecs.lab_internal_task_url`), whatever the task's groups and public IP."""
    url = ecs_tools.lab_internal_task_url(task, config=config) + path
    deadline = time.monotonic() + patience
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method), timeout=10) as response:
                return int(response.status), dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return int(error.code), dict(json.loads(error.read() or b"{}"))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Everything the code inside prints or displays, as text (in a notebook, rich outputs too)."""
    text = io.StringIO()
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        shell = None
    if shell is not None:
        from IPython.utils.capture import capture_output

        with capture_output() as captured:
            yield text
        text.write(captured.stdout + captured.stderr)
        for output in captured.outputs:
            text.write(" ".join(str(value) for value in output.data.values()))
        return
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        yield text


# -- 7.1 -------------------------------------------------------------------------------------


def read_bucket_cases(bucket: str, other: str = OTHER_BUCKET) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """The requests a read-only policy for ``bucket`` must allow, and those it must deny (with why)."""
    allowed = [
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/reports/2026/q3.csv"),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/index.html"),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
    ]
    denied = [
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/reports/2026/q3.csv", "the app only reads: it must not write objects"),
        ("s3:DeleteObject", f"arn:aws:s3:::{bucket}/reports/2026/q3.csv", "the app only reads: it must not delete objects"),
        ("s3:DeleteBucket", f"arn:aws:s3:::{bucket}", "the app only reads: it must not delete the bucket"),
        ("s3:PutBucketPolicy", f"arn:aws:s3:::{bucket}", "the app must not change who may use the bucket"),
        ("s3:GetObject", f"arn:aws:s3:::{other}/salaries.csv", "that is another bucket's object"),
        ("s3:ListBucket", f"arn:aws:s3:::{other}", "that is another bucket"),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}-backup/reports/2026/q3.csv", f"{bucket}-backup is another bucket"),
        ("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders", "the app needs nothing outside S3"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", "the app needs nothing outside S3"),
    ]
    return allowed, denied


def read_policy(exercise: str, document: Any, name: str = "your policy") -> iam_policy.Policy:
    """The learner's document as IAM reads it (a dict or its JSON text); fails with IAM's words."""
    expect(
        isinstance(document, (str, Mapping)),
        exercise,
        f"return the policy document as a dict (or its JSON text), not {type(document).__name__}.",
    )
    try:
        return iam_policy.parse_policy(document, name)
    except iam_policy.MalformedPolicyDocument as error:
        raise CheckFailed(
            f"Exercise {exercise}: IAM would refuse this document with {error}. A policy is "
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [...], "Resource": [...]}, ...]}.'
        ) from None


def _wildcard_actions(policy: iam_policy.Policy) -> list[str]:
    """Allowed actions that name every action of a service (``s3:*``) or of AWS (``*``)."""
    return [a for s in policy.statements if s.effect == "Allow" for a in s.actions if a == "*" or a.endswith(":*")]


def _hint_for_missing(action: str, resource: str, policy: iam_policy.Policy) -> str:
    """Why a needed read was denied: the classic mix-ups of bucket and object ARNs."""
    granted = [(a, r) for s in policy.statements if s.effect == "Allow" for a in s.actions for r in s.resources]
    for_action = [r for a, r in granted if a.lower() == action.lower()]
    if action == "s3:ListBucket" and any(r.endswith("/*") for r in for_action):
        return (
            " s3:ListBucket acts on the bucket itself, whose ARN is arn:aws:s3:::BUCKET (no /*); "
            "arn:aws:s3:::BUCKET/* names the objects in it."
        )
    if action == "s3:GetObject" and for_action and not any("/" in r or r == "*" for r in for_action):
        return (
            " s3:GetObject acts on objects, whose ARNs are arn:aws:s3:::BUCKET/KEY: "
            "give it arn:aws:s3:::BUCKET/* (the bucket's ARN alone names no object)."
        )
    if not for_action:
        return f" Add {action} to the Action list of an Allow statement."
    return " Use the bucket argument in the ARNs (not a bucket name typed in)."


def check_read_bucket_policy(read_bucket_policy: Callable[[str], Any], buckets: tuple[str, ...] = CHECK_BUCKETS) -> Passed:
    """7.1: ``read_bucket_policy(bucket)`` returns a policy that reads ``bucket``'s objects and does nothing else."""
    checked = 0
    for bucket in buckets:
        document = run_student("7.1", read_bucket_policy, bucket)
        policy = read_policy("7.1", document, f"read-{bucket}")
        wildcards = _wildcard_actions(policy)
        expect(
            not wildcards,
            "7.1",
            f"your policy allows {', '.join(sorted(set(wildcards)))}: every action of the service, today's and tomorrow's. "
            "Least privilege names the actions the app calls: s3:GetObject and s3:ListBucket.",
        )
        allowed, denied = read_bucket_cases(bucket)
        for action, resource in allowed:
            decision = iam_policy.evaluate(action, resource, [policy])
            expect(
                decision.allowed,
                "7.1",
                f"with your policy for bucket {bucket!r}, the app may not call {action} on {resource}. IAM: {decision.explanation}"
                + _hint_for_missing(action, resource, policy),
            )
            checked += 1
        for action, resource, why in denied:
            decision = iam_policy.evaluate(action, resource, [policy])
            expect(
                not decision.allowed,
                "7.1",
                f"with your policy for bucket {bucket!r}, the app may call {action} on {resource}, and {why}. IAM: {decision.explanation} "
                "Name only s3:GetObject (on arn:aws:s3:::BUCKET/*) and s3:ListBucket (on arn:aws:s3:::BUCKET).",
            )
            checked += 1
    return Passed(
        "7.1",
        f"IAM accepts your policy; {checked} requests for {len(buckets)} buckets were decided as they should be (reads allowed, the rest denied).",
    )


def policy_json(document: Any) -> str:
    """A policy document as the JSON text IAM's API takes."""
    return document if isinstance(document, str) else json.dumps(document)


# -- 7.2 -------------------------------------------------------------------------------------


def role_read_policy(bucket: str = ROLE_BUCKET) -> dict[str, Any]:
    """The policy 7.2's check hands to the learner's function: read ``bucket``, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Sid": "ListKeys", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }


def _trusted_principals(document: Any) -> list[str]:
    """Every principal an Allow statement of a trust policy names, as text ("ec2.amazonaws.com", "*", an ARN)."""
    statements = document.get("Statement", []) if isinstance(document, Mapping) else []
    statements = [statements] if isinstance(statements, Mapping) else statements
    named: list[str] = []
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            named.append("*")
        elif isinstance(principal, Mapping):
            for values in principal.values():
                named += [values] if isinstance(values, str) else list(values)
    return named


def _explain_stopped(exercise: str, task: dict[str, Any], role_words: str) -> str:
    reason = task.get("stoppedReason", "")
    hint = ""
    if "unable to assume the role" in reason:
        hint = f" ECS could not assume {role_words}: does it exist, and does its trust policy name ecs-tasks.amazonaws.com?"
    elif "ResourceInitializationError" in reason and "secret" in reason:
        hint = " ECS could not read the secret with the execution role: allow secretsmanager:GetSecretValue on the secret's ARN in the execution role's policy."
    elif "CannotPullContainerError" in reason or "ecr registry auth" in reason:
        hint = " ECS could not pull the image with the execution role: attach AmazonECSTaskExecutionRolePolicy to it."
    return f"Exercise {exercise}: the task stopped before it ran: {reason}.{hint}"


def check_task_role(
    create_task_role: Callable[[Any, str, dict[str, Any]], str],
    lab: Any,
    role_name: str | None = None,
    bucket: str | None = None,
    cluster: str = ROLE_CLUSTER,
    repository: str = EXERCISE_REPOSITORY,
    execution_role: str = CHECK_EXECUTION_ROLE,
) -> Passed:
    """7.2: ``create_task_role(lab, role_name, policy_document)`` makes a role ECS tasks (only) assume, with that policy; the app reads with it.

    The role's name and the bucket its policy names are new each run, so a role or a policy typed in cannot pass."""
    image = exercise_image(lab, "7.2", repository)
    role_name = role_name or setup.fresh_name(TASK_ROLE)
    bucket = bucket or setup.fresh_name(ROLE_BUCKET)
    delete_cluster(lab, cluster)
    delete_role(lab, role_name)
    delete_role(lab, execution_role)
    delete_bucket(lab, bucket)
    try:
        policy = role_read_policy(bucket)
        arn = run_student("7.2", create_task_role, lab, role_name, policy)
        try:
            role = lab.iam.get_role(RoleName=role_name)["Role"]
        except lab.iam.exceptions.NoSuchEntityException:
            raise CheckFailed(
                f"Exercise 7.2: there is no role named {role_name!r}: create it with lab.iam.create_role(RoleName=role_name, ...)."
            ) from None
        expect(
            arn == role["Arn"],
            "7.2",
            f"you returned {arn!r}; return the role's ARN, {role['Arn']!r} (create_role's response['Role']['Arn'])"
            + (": the name alone is not enough for a task definition's taskRoleArn." if arn == role_name else "."),
        )
        document = role.get("AssumeRolePolicyDocument") or {}
        principals = _trusted_principals(document)
        ecs_tasks = iam_policy.trusts(document, security.ECS_TASKS)
        if not ecs_tasks:
            why = ""
            if "ecs.amazonaws.com" in principals:
                why = " ecs.amazonaws.com is ECS acting for itself (its service-linked role), not for a task."
            elif "ec2.amazonaws.com" in principals:
                why = " ec2.amazonaws.com is for EC2 instances (instance profiles), not ECS tasks."
            raise CheckFailed(
                f"Exercise 7.2: the role's trust policy lets {', '.join(principals) or 'no one'} assume it, so ECS could not use it for a task "
                f'("ECS was unable to assume the role").{why} Name the service principal ecs-tasks.amazonaws.com with the action sts:AssumeRole.'
            )
        others = [p for p in principals if p != security.ECS_TASKS]
        expect(
            not others,
            "7.2",
            f"the role's trust policy also lets {', '.join(others)} assume it: whoever that is would get the app's permissions. "
            "A task role trusts ecs-tasks.amazonaws.com and nothing else.",
        )
        policies = security.role_policies(lab.iam, role_name)
        expect(
            bool(policies),
            "7.2",
            "the role has no permissions policy, so the app could do nothing with it. Give it policy_document: "
            "lab.iam.put_role_policy(RoleName=role_name, PolicyName='app-permissions', PolicyDocument=json.dumps(policy_document)).",
        )
        reads = [("s3:GetObject", f"arn:aws:s3:::{bucket}/{ROLE_KEY}"), ("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
        for action, resource in reads:
            decision = iam_policy.evaluate(action, resource, policies, principal_arn=arn)
            expect(
                decision.allowed,
                "7.2",
                f"the role may not call {action} on {resource}: {decision.explanation} Give the role the policy_document you were given.",
            )
        beyond = [
            ("s3:PutObject", f"arn:aws:s3:::{bucket}/{ROLE_KEY}"),
            ("s3:GetObject", f"arn:aws:s3:::{OTHER_BUCKET}/salaries.csv"),
            ("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"),
        ]
        for action, resource in beyond:
            decision = iam_policy.evaluate(action, resource, policies, principal_arn=arn)
            expect(
                not decision.allowed,
                "7.2",
                f"the role may also call {action} on {resource} ({decision.explanation}) Give it exactly the policy_document you were given, no other policy.",
            )
        # the role at work: the AWS app, as a task with this task role, reads the check's bucket
        s3 = lab.client("s3")
        s3.create_bucket(Bucket=bucket)
        content = b"region,revenue\nnorth,120\n"
        s3.put_object(Bucket=bucket, Key=ROLE_KEY, Body=content)
        execution_arn = security.ensure_execution_role(lab.iam, execution_role)
        lab.ecs.create_cluster(clusterName=cluster)
        definition = ecs_tools.task_definition(cluster, image, execution_role_arn=execution_arn) | {"taskRoleArn": arn}
        definition_arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        task_arn = lab.ecs.run_task(
            cluster=cluster,
            taskDefinition=definition_arn,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": default_subnets(lab)}},
        )["tasks"][0]["taskArn"]
        task = wait_started(lab, cluster, task_arn)
        if task["lastStatus"] != "RUNNING":
            raise CheckFailed(_explain_stopped("7.2", task, "your role"))
        status, identity = ask_app(task, "/whoami", config=lab.config)
        expect(
            status == 200 and f":assumed-role/{role_name}/" in str(identity.get("Arn")),
            "7.2",
            f"the app in the task is not your role's session: /whoami said {identity}.",
        )
        status, read = ask_app(task, f"/s3/{bucket}/{ROLE_KEY}", config=lab.config)
        expect(
            status == 200 and read.get("size") == len(content),
            "7.2",
            f"the app could not read s3://{bucket}/{ROLE_KEY} with your role: {status} {read}.",
        )
        status, written = ask_app(task, f"/s3/{bucket}/2026/q4.csv", method="PUT", body=b"x", config=lab.config)
        expect(
            status == 403,
            "7.2",
            f"the app could write s3://{bucket}/2026/q4.csv with your role ({status} {written}); it should only read.",
        )
        return Passed(
            "7.2",
            f"your role trusts ecs-tasks.amazonaws.com only; a task running the AWS app as that role read s3://BUCKET/{ROLE_KEY} of the "
            "check's bucket and was refused a write (AccessDenied).",
        )
    finally:
        delete_cluster(lab, cluster)
        delete_role(lab, role_name)
        delete_role(lab, execution_role)
        delete_bucket(lab, bucket)


# -- 7.3 -------------------------------------------------------------------------------------


def check_run_with_secret(
    run_with_secret: Callable[[Any, str, str, str, str], str],
    lab: Any,
    cluster: str | None = None,
    role_name: str | None = None,
    secret_name: str = SECRET_NAME,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """7.3: ``run_with_secret(lab, cluster, role_name, image_uri, secret_arn)`` runs a task whose app sees DB_PASSWORD, never showing the value.

    The cluster and the role's name are new each run; the secret keeps its name (on AWS a deleted secret's name stays
    taken for 7 days), and its ARN ends in random characters anyway."""
    image = exercise_image(lab, "7.3", repository)
    cluster = cluster or setup.fresh_name(SECRET_CLUSTER)
    role_name = role_name or setup.fresh_name(SECRET_ROLE)
    delete_cluster(lab, cluster)
    delete_role(lab, role_name)
    delete_secret(lab, secret_name)
    secretsmanager = lab.client("secretsmanager")
    value = secrets.token_urlsafe(24)
    restored = cleanup.restore_scheduled_secret(lab, secret_name)  # on AWS a deleted secret keeps its name for 7 days
    if restored:
        secretsmanager.put_secret_value(SecretId=restored, SecretString=value)
        secret_arn = restored
    else:
        secret_arn = str(
            secretsmanager.create_secret(Name=secret_name, SecretString=value, Description="exercise 7.3's check")["ARN"]
        )
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        started = time.time()
        try:
            with captured_output() as output:
                task_arn = run_student("7.3", run_with_secret, lab, cluster, role_name, image, secret_arn)
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
                    + _explain_stopped("7.3", yours[0], "the execution role").removeprefix("Exercise 7.3: ")
                )
            raise CheckFailed(message) from None
        shown = output.getvalue()
        expect(
            value not in shown and value not in repr(task_arn),
            "7.3",
            "your function showed the secret's value (in what it printed, displayed or returned). Never read the secret yourself "
            "(no get_secret_value) and never print it: ECS reads it for the task.",
        )
        if shown.strip():
            print(shown, end="")  # the learner's own prints, now that they are known to hold no secret
        expect(
            isinstance(task_arn, str) and ":task/" in task_arn,
            "7.3",
            f"return the task's ARN (run_task's response['tasks'][0]['taskArn']), not {task_arn!r}.",
        )
        task = wait_started(lab, cluster, task_arn)
        definition = lab.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        containers = definition["containerDefinitions"]
        expect(
            not any(value in json.dumps(c.get("environment", [])) for c in containers),
            "7.3",
            "the password is in the task definition's environment, where anyone allowed ecs:DescribeTaskDefinition reads it. "
            f"Put {{'name': '{SECRET_VARIABLE}', 'valueFrom': secret_arn}} in the container's secrets instead.",
        )
        expect(
            value not in json.dumps(definition, default=str),
            "7.3",
            "the password is written in the task definition; reference the secret by its ARN in secrets.",
        )
        named = [s for c in containers for s in c.get("secrets", []) if s.get("name") == SECRET_VARIABLE]
        expect(
            bool(named),
            "7.3",
            f"no container of the task definition has a secret named {SECRET_VARIABLE!r} (it has "
            f"{[s.get('name') for c in containers for s in c.get('secrets', [])] or 'none'}): "
            f"add secrets=[{{'name': '{SECRET_VARIABLE}', 'valueFrom': secret_arn}}] to the container.",
        )
        expect(
            named[0].get("valueFrom") == secret_arn,
            "7.3",
            f"{SECRET_VARIABLE} comes from {named[0].get('valueFrom')!r}; use the secret_arn argument, {secret_arn!r}.",
        )
        execution_arn = definition.get("executionRoleArn", "")
        expect(
            execution_arn.endswith(f":role/{role_name}"),
            "7.3",
            f"the task definition's executionRoleArn is {execution_arn or 'not set'}; use the role you created, {role_name!r} (its ARN).",
        )
        if task["lastStatus"] != "RUNNING":
            raise CheckFailed(_explain_stopped("7.3", task, "the execution role"))
        other_secret = secret_arn.rsplit(":", 1)[0] + ":ex07-check/another-secret-AbCdEf"
        decision = security.simulate(lab.iam, role_name, "secretsmanager:GetSecretValue", other_secret)
        expect(
            not decision.allowed,
            "7.3",
            f"the execution role may read other secrets too, e.g. {other_secret} ({decision.explanation}) "
            "Least privilege: allow secretsmanager:GetSecretValue on secret_arn only.",
        )
        containers_named = [
            c.get("name") for c in containers if any(s.get("name") == SECRET_VARIABLE for s in c.get("secrets", []))
        ]
        status, seen = ask_app(task, f"/secret/{SECRET_VARIABLE}", config=lab.config)
        expect(
            status == 200 and seen.get("set") is True,
            "7.3",
            f"the app in container {containers_named[0]!r} does not see {SECRET_VARIABLE}: {seen}.",
        )
        expect(
            seen.get("sha256_prefix") == hashlib.sha256(value.encode()).hexdigest()[:12],
            "7.3",
            f"the app sees {SECRET_VARIABLE}, but not the secret's value (its hash differs): use valueFrom=secret_arn, without a JSON key.",
        )
        return Passed(
            "7.3",
            f"The task runs; ECS read the secret with your execution role (allowed that secret only) and the app sees {SECRET_VARIABLE} "
            f"({seen.get('length')} characters, same hash as the stored value); the value appeared nowhere in your function's output or the task definition.",
        )
    finally:
        delete_cluster(lab, cluster)
        delete_role(lab, role_name)
        delete_secret(lab, secret_name)
