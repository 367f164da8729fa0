"""Checks for exercises/07-security.ipynb: a least-privilege task-role policy, a task role, an execution role.

- 7.1 is pure: the learner's policy document is read with IAM's rules
  (:func:`ecslab.iam_policy.parse_policy`) and evaluated (:func:`ecslab.iam_policy.evaluate`)
  against requests it must allow and requests it must deny, for two buckets (so a
  bucket name typed into the answer fails).
- 7.2 creates a role through the learner's function and reads it back from IAM: its
  trust policy must name ``ecs-tasks.amazonaws.com`` (and no other service), its
  policies must allow the reads and nothing more.
- 7.3 creates the task execution role through the learner's function, written with plain
  ``lab.iam`` calls (ecslab's :func:`ecslab.security.ensure_execution_role` is refused: the exercise is
  to do what it does), reads its trust policy and attached policies back from IAM, then runs a task
  that ECS starts with it (assuming the role, pulling the image from ECR).

Exercise 07b (``ex07b``: the web security groups, a secret injected by ECS) shares this module's
helpers: running the AWS app as a task and asking it questions, explaining why a task stopped, and
refusing a helper the learner is asked to write (:func:`refusing_helper`).

Every check works in objects of its own (``ex07-check-...``), deleted before the check
(leftovers of an interrupted run) and after it. The names a checker hands the learner's function
(7.2's role and bucket, 7.3's role) are new on every run: a function that types in names instead
of using its arguments cannot pass.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from ecslab import cleanup, iam_policy, security
from ecslab import ecs as ecs_tools
from ecslab.checks import setup
from ecslab.checks.core import CheckFailed, Passed, expect, run_student

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
EXECUTION_CLUSTER = "ex07-check-exec"
EXECUTION_ROLE = "ex07-check-exec-role"
SECRET_CLUSTER = "ex07-check-secret"
SECRET_ROLE = "ex07-check-secret-execution"
SECRET_NAME = "ex07-check/db-password"
"""The secret of an earlier release's check 7.3 (now 7b.2, :mod:`ecslab.checks.ex07b`); the Cleanup still removes it."""
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
    for cluster in _check_clusters(lab):
        delete_cluster(lab, cluster)
    for role in _check_roles(lab):
        delete_role(lab, role)
    for bucket in _check_buckets(lab):
        delete_bucket(lab, bucket)
    delete_secret(lab, SECRET_NAME)
    setup.remove_exercise_image(lab, repository)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": _check_clusters(lab),
        "check roles left": _check_roles(lab),
    }


def _check_clusters(lab: Any) -> list[str]:
    """The clusters the checks make (``ex07-check-...``), left by an interrupted run."""
    return [c for prefix in (ROLE_CLUSTER, EXECUTION_CLUSTER, SECRET_CLUSTER) for c in setup.clusters_with_prefix(lab, prefix)]


def _check_roles(lab: Any) -> list[str]:
    """The roles the checks make (``ex07-check-...``, most with a random suffix), left by an interrupted run."""
    roles = [r["RoleName"] for page in lab.iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
    return [name for name in roles if name.startswith((TASK_ROLE, CHECK_EXECUTION_ROLE, EXECUTION_ROLE, SECRET_ROLE))]


def _check_buckets(lab: Any) -> list[str]:
    """7.2's buckets (``ex07-check-role-reports-...``), left by an interrupted run."""
    return [b["Name"] for b in lab.client("s3").list_buckets().get("Buckets", []) if b["Name"].startswith(ROLE_BUCKET)]


# -- running the app as a task ------------------------------------------------------------


default_subnets = setup.default_subnets


def _run_one_task(
    lab: Any, check: str, cluster: str, image: str, execution_role_arn: str, task_role_arn: str | None = None
) -> dict[str, Any]:
    """A cluster ``cluster`` running one Fargate task of ``image`` (family ``cluster``) with these roles, once RUNNING;
    the check fails with why ECS stopped it otherwise. The caller deletes the cluster."""
    lab.ecs.create_cluster(clusterName=cluster)
    definition = ecs_tools.task_definition(cluster, image, execution_role_arn=execution_role_arn)
    if task_role_arn is not None:
        definition["taskRoleArn"] = task_role_arn
    definition_arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    task_arn = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=definition_arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": default_subnets(lab)}},
    )["tasks"][0]["taskArn"]
    task = wait_started(lab, cluster, task_arn)
    if task["lastStatus"] != "RUNNING":
        raise CheckFailed(_explain_stopped(check, task, "your role"))
    return task


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
        task = _run_one_task(lab, "7.2", cluster, image, execution_arn, task_role_arn=arn)
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


# -- refusing a helper the exercise asks the learner to write ------------------------------------


@contextlib.contextmanager
def refusing_helper(exercise: str, function: Any, module: ModuleType, name: str, instead: str) -> Iterator[None]:
    """While the learner's ``function`` runs, ecslab's ``module.name`` fails with a kind message; naming it fails at once.

    For an exercise that asks the learner to write what an ecslab helper does (7.3: the execution role, 7b.1: the
    web security groups). In ``ecslab grade`` the function runs in the learner's kernel, out of reach of this
    process: there each check also tells the helper's work from the learner's by what the helper leaves
    (7.3: the role's description; 7b.1: the group names the check draws, which the helper cannot make)."""
    refusal = (
        f"Exercise {exercise}: write this one with {instead} yourself, not with ecslab's {name}: "
        "the exercise is to do what it does."
    )
    code = getattr(function, "__code__", None)
    if code is not None and name in code.co_names:
        raise CheckFailed(refusal)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise CheckFailed(refusal)

    original = getattr(module, name)
    setattr(module, name, refuse)
    try:
        yield
    finally:
        setattr(module, name, original)


# -- 7.3 -------------------------------------------------------------------------------------


def _attached_policies(lab: Any, role_name: str) -> list[str]:
    return [p["PolicyArn"] for p in lab.iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]]


def check_execution_role(
    create_execution_role: Callable[[Any, str], str],
    lab: Any,
    role_name: str | None = None,
    cluster: str | None = None,
    repository: str = EXERCISE_REPOSITORY,
) -> Passed:
    """7.3: ``create_execution_role(lab, role_name)`` makes the task execution role with plain IAM calls: trusting
    ``ecs-tasks.amazonaws.com``, with AWS's managed policy ``AmazonECSTaskExecutionRolePolicy`` attached; ECS then
    starts a task with it (assumes it, pulls the image from ECR).

    The role's name and the cluster are new each run, so a role typed in cannot pass. ecslab's
    :func:`ecslab.security.ensure_execution_role` is refused (:func:`refusing_helper`)."""
    image = exercise_image(lab, "7.3", repository)
    role_name = role_name or setup.fresh_name(EXECUTION_ROLE)
    cluster = cluster or setup.fresh_name(EXECUTION_CLUSTER)
    delete_cluster(lab, cluster)
    delete_role(lab, role_name)
    try:
        with refusing_helper("7.3", create_execution_role, security, "ensure_execution_role", "plain lab.iam calls"):
            forbid = ("ensure_execution_role",)  # refused in the learner's kernel too when ecslab grade runs it
            arn = run_student("7.3", create_execution_role, lab, role_name, forbid=forbid)
        try:
            role = lab.iam.get_role(RoleName=role_name)["Role"]
        except lab.iam.exceptions.NoSuchEntityException:
            raise CheckFailed(
                f"Exercise 7.3: there is no role named {role_name!r}: create it with lab.iam.create_role(RoleName=role_name, ...)."
            ) from None
        expect(
            role.get("Description", "") != security.EXECUTION_ROLE_DESCRIPTION,
            "7.3",
            "this role was made by ecslab's ensure_execution_role. Write it with plain lab.iam calls yourself "
            "(create_role, attach_role_policy): the exercise is to do what the helper does.",
        )
        expect(
            arn == role["Arn"],
            "7.3",
            f"you returned {arn!r}; return the role's ARN, {role['Arn']!r} (create_role's response['Role']['Arn'])"
            + (": a task definition's executionRoleArn takes the ARN, not the name." if arn == role_name else "."),
        )
        document = role.get("AssumeRolePolicyDocument") or {}
        principals = _trusted_principals(document)
        if not iam_policy.trusts(document, security.ECS_TASKS):
            why = ""
            if "ecs.amazonaws.com" in principals:
                why = " ecs.amazonaws.com is ECS acting for itself (its service-linked role), not for a task."
            elif "ec2.amazonaws.com" in principals:
                why = " ec2.amazonaws.com is for EC2 instances (instance profiles), not ECS tasks."
            raise CheckFailed(
                f"Exercise 7.3: the role's trust policy lets {', '.join(principals) or 'no one'} assume it, so ECS could not use it "
                f'to start a task ("ECS was unable to assume the role").{why} Name the service principal ecs-tasks.amazonaws.com '
                "with the action sts:AssumeRole, as for a task role."
            )
        others = [p for p in principals if p != security.ECS_TASKS]
        expect(
            not others,
            "7.3",
            f"the role's trust policy also lets {', '.join(others)} assume it: whoever that is could pull every image and read "
            "what the role may read. An execution role trusts ecs-tasks.amazonaws.com and nothing else.",
        )
        attached = _attached_policies(lab, role_name)
        if security.EXECUTION_ROLE_POLICY_ARN not in attached:
            inline = lab.iam.list_role_policies(RoleName=role_name)["PolicyNames"]
            similar = [a for a in attached if a.endswith("/AmazonECSTaskExecutionRolePolicy")]
            hint = (
                f" You attached {similar[0]}; AWS's managed policy lives under the path service-role/."
                if similar
                else f" You gave it an inline policy ({', '.join(inline)}) instead: attach AWS's managed policy by its ARN, "
                "which AWS keeps up to date as ECS gains features."
                if inline
                else ""
            )
            raise CheckFailed(
                f"Exercise 7.3: AWS's managed policy {security.EXECUTION_ROLE_POLICY_ARN} is not attached to the role "
                f"(attached: {', '.join(attached) or 'none'}).{hint} lab.iam.attach_role_policy(RoleName=role_name, "
                f"PolicyArn='{security.EXECUTION_ROLE_POLICY_ARN}')."
            )
        # the role at work: ECS assumes it and pulls the exercise's image from ECR with it
        _run_one_task(lab, "7.3", cluster, image, arn)
        return Passed(
            "7.3",
            "your role trusts ecs-tasks.amazonaws.com only and has AWS's AmazonECSTaskExecutionRolePolicy attached; "
            "ECS assumed it, pulled the exercise's image from ECR with it and started the task.",
        )
    finally:
        delete_cluster(lab, cluster)
        delete_role(lab, role_name)
