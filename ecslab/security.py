"""IAM for ECS tasks from the learner's side: the two roles, their policies, and who may do what.

Notebook 07-security introduces everything here; notebooks 04 and 05 (and their checks)
use :func:`ensure_execution_role`. Every function takes the boto3 client it uses
(``lab.iam``, ``lab.ecr``), so the same call works against the lab and a real account.

A task definition names two roles. The *execution role* is for ECS itself, before the
containers start (pull the image, read secrets, create the log stream); AWS's managed
policy ``AmazonECSTaskExecutionRolePolicy`` is what the ECS console attaches to it. The
*task role* is for the application inside (read S3, write DynamoDB). Both trust the
service principal ``ecs-tasks.amazonaws.com``.

Neither AWS nor the lab says which statement allowed or denied a request; :func:`simulate`
reads a role's policies and decides with :func:`ecslab.iam_policy.evaluate`, naming the
statement. On a real account, IAM's policy simulator (``simulate_principal_policy``) is
the authority; the lab's moto does not implement it.
"""

from __future__ import annotations

import html
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecslab.iam_policy import Decision, MalformedPolicyDocument, Policy, evaluate, parse_policy, trusts

__all__ = [
    "ECS_TASKS",
    "ECS_TASKS_TRUST_POLICY",
    "EXECUTION_ROLE_DESCRIPTION",
    "EXECUTION_ROLE_POLICY_ARN",
    "DecisionTable",
    "IamError",
    "decision_table",
    "ensure_execution_role",
    "ensure_task_role",
    "policy_explorer",
    "repository_policy",
    "role_name",
    "role_policies",
    "simulate",
]

ECS_TASKS = "ecs-tasks.amazonaws.com"
"""The service principal ECS tasks (and ECS preparing them) assume roles as."""

ECS_TASKS_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": ECS_TASKS}, "Action": "sts:AssumeRole"}],
}
"""The trust policy of both task roles, as the ECS documentation shows it."""

EXECUTION_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
"""AWS's managed policy for the execution role: ECR token and pulls, CloudWatch Logs streams and events."""

EXECUTION_ROLE_DESCRIPTION = "Lets ECS pull images, read secrets and write logs for tasks (ecslab)"
"""The description :func:`ensure_execution_role` gives a role it creates (exercise 7.3's check tells such a role apart)."""

COMMON_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameters",
    "ecs:RunTask",
    "iam:PassRole",
)
"""Actions the policy explorer offers (any other can be typed)."""


class IamError(RuntimeError):
    """An IAM error: AWS's code and words, then what to do about it."""


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _error_message(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Message", error))


# -- roles and their policies ------------------------------------------------------------------------


def role_name(role_name_or_arn: str) -> str:
    """``ecsTaskExecutionRole`` from itself, from ``arn:aws:iam::ACCOUNT:role/path/NAME``, or from a session ARN."""
    if not role_name_or_arn.startswith("arn:"):
        return role_name_or_arn
    resource = role_name_or_arn.split(":", 5)[-1]
    if resource.startswith("role/"):
        return resource.rsplit("/", 1)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    raise ValueError(f"{role_name_or_arn} is not a role's ARN (arn:aws:iam::ACCOUNT:role/NAME) nor a role session's")


def _document(raw: Any) -> Any:
    """IAM returns documents URL-encoded; boto3 usually decodes them to dicts already."""
    if isinstance(raw, str) and raw.lstrip().startswith("%7B"):
        return urllib.parse.unquote(raw)
    return raw


def _stored_policy(raw: Any, name: str) -> Policy:
    """A policy IAM already accepted. AWS keeps documents without Version (2008-10-17 then);
    they read the same here, where policy variables are not substituted anyway."""
    document = _document(raw)
    if isinstance(document, str):
        document = json.loads(document)
    if isinstance(document, Mapping) and document.get("Version") in (None, "2008-10-17"):
        document = {**document, "Version": "2012-10-17"}
    return parse_policy(document, name)


def _role(iam: Any, name: str) -> dict[str, Any]:
    try:
        return dict(iam.get_role(RoleName=name)["Role"])
    except Exception as error:
        if _error_code(error) == "NoSuchEntity":
            raise IamError(
                # AWS's words; moto says "Role NAME not found" for the same error.
                f"NoSuchEntity: The role with name {name} cannot be found. "
                "List the roles with iam.list_roles(), or create this one "
                "(ecslab.security.ensure_execution_role / ensure_task_role)."
            ) from error
        raise


def role_policies(iam: Any, role_name_or_arn: str) -> list[Policy]:
    """A role's permissions policies: its inline policies, then its attached managed ones (default version).

    Each :class:`~ecslab.iam_policy.Policy` is named after its policy, so a decision can
    say which one decided. Raises :class:`IamError` when the role does not exist.
    """
    name = role_name(role_name_or_arn)
    policies: list[Policy] = []
    try:
        inline_names = [
            n for page in iam.get_paginator("list_role_policies").paginate(RoleName=name) for n in page["PolicyNames"]
        ]
        attached = [
            p
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
            for p in page["AttachedPolicies"]
        ]
    except Exception as error:
        if _error_code(error) == "NoSuchEntity":
            _role(iam, name)  # raises IamError in IAM's words
        raise
    for policy_name in inline_names:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        policies.append(_stored_policy(document, policy_name))
    for entry in attached:
        version = iam.get_policy(PolicyArn=entry["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=entry["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
        policies.append(_stored_policy(document, entry["PolicyName"]))
    return policies


def _resource_policy(resource_policy: Policy | str | Mapping[str, Any] | None) -> Policy | None:
    if resource_policy is None or isinstance(resource_policy, Policy):
        return resource_policy
    return parse_policy(resource_policy, "resource policy", kind="resource")


def simulate(
    iam: Any,
    role: str,
    action: str,
    resource: str,
    *,
    resource_policy: Policy | str | Mapping[str, Any] | None = None,
    context: Mapping[str, str] | None = None,
) -> Decision:
    """Would ``role`` be allowed ``action`` on ``resource``? The decision names the statement that decided.

    ``resource_policy`` is the policy on the resource, e.g. ``repository_policy(ecr, "web")``.
    """
    arn = _role(iam, role_name(role))["Arn"]
    return evaluate(
        action,
        resource,
        role_policies(iam, role),
        resource_policy=_resource_policy(resource_policy),
        principal_arn=arn,
        context=context,
    )


# -- making the two roles ----------------------------------------------------------------------------


def _create_role(iam: Any, name: str, description: str) -> str:
    try:
        role = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST_POLICY), Description=description
        )["Role"]
        return str(role["Arn"])
    except Exception as error:
        if _error_code(error) == "EntityAlreadyExists":  # created meanwhile by another caller
            return str(_role(iam, name)["Arn"])
        raise


def _check_trust(iam: Any, role: Mapping[str, Any]) -> None:
    document = _document(role.get("AssumeRolePolicyDocument"))
    if document is None or not trusts(document, ECS_TASKS):
        raise IamError(
            f"The role {role['RoleName']} exists but its trust policy does not let {ECS_TASKS} assume it, "
            "so ECS would stop every task that uses it ('ECS was unable to assume the role'). Fix it with "
            f"iam.update_assume_role_policy(RoleName={role['RoleName']!r}, "
            "PolicyDocument=json.dumps(ecslab.security.ECS_TASKS_TRUST_POLICY))."
        )


def ensure_execution_role(iam: Any, name: str = "ecsTaskExecutionRole") -> str:
    """The ARN of the task execution role, made as the ECS console makes it on first use.

    Creates ``name`` trusting ``ecs-tasks.amazonaws.com`` and attaches the AWS managed
    policy ``AmazonECSTaskExecutionRolePolicy``; an existing role keeps what it has and
    gets the policy attached if it lacks it. Calling it again changes nothing.
    """
    try:
        iam.get_policy(PolicyArn=EXECUTION_ROLE_POLICY_ARN)
    except Exception as error:
        if _error_code(error) != "NoSuchEntity":
            raise
        raise IamError(
            f"NoSuchEntity: {_error_message(error)} On AWS this managed policy always exists. "
            "In the lab, moto loads AWS managed policies only when it starts with MOTO_IAM_LOAD_MANAGED_POLICIES=true, "
            "which `ecslab up` sets: stop the lab and start it again (`ecslab down`, then `ecslab up`), "
            "without MOTO_IAM_LOAD_MANAGED_POLICIES=false in your environment."
        ) from error
    try:
        role = _role(iam, name)
    except IamError:
        arn = _create_role(iam, name, EXECUTION_ROLE_DESCRIPTION)
    else:
        _check_trust(iam, role)
        arn = str(role["Arn"])
    iam.attach_role_policy(RoleName=name, PolicyArn=EXECUTION_ROLE_POLICY_ARN)  # idempotent in IAM
    return arn


def ensure_task_role(iam: Any, name: str, policy_document: Mapping[str, Any], policy_name: str = "app-permissions") -> str:
    """The ARN of task role ``name``: trusting ECS tasks, with ``policy_document`` as its inline policy ``policy_name``.

    Creates the role or updates it (trust policy and inline policy). The document is
    checked first (:class:`~ecslab.iam_policy.MalformedPolicyDocument` in IAM's words),
    so a malformed one leaves nothing half-made.
    """
    parse_policy(policy_document, policy_name)
    text = json.dumps(policy_document)
    created = False
    try:
        role = _role(iam, name)
    except IamError:
        arn = _create_role(iam, name, "The permissions of the application in the task's containers (ecslab)")
        created = True
    else:
        arn = str(role["Arn"])
        document = _document(role.get("AssumeRolePolicyDocument"))
        if document is None or not trusts(document, ECS_TASKS):
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(ECS_TASKS_TRUST_POLICY))
    try:
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=text)
    except Exception as error:
        if created:  # IAM refused what parse_policy let through: take the new role back, leave nothing half-made
            iam.delete_role(RoleName=name)
        if _error_code(error) == "MalformedPolicyDocument":
            raise MalformedPolicyDocument(_error_message(error)) from error
        raise
    return arn


# -- resource-based policies -------------------------------------------------------------------------


def repository_policy(ecr: Any, repository_name: str) -> Policy | None:
    """The ECR repository's policy (who else may push or pull), or ``None`` when it has none."""
    try:
        text = ecr.get_repository_policy(repositoryName=repository_name)["policyText"]
    except Exception as error:
        if _error_code(error) == "RepositoryPolicyNotFoundException":
            return None
        raise
    return parse_policy(text, f"repository policy of {repository_name}", kind="resource")


# -- showing decisions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionTable:
    """Decisions for several requests, shown as a table (plain text, or Markdown in a notebook)."""

    role: str
    rows: tuple[tuple[str, str, Decision], ...]

    def _cells(self) -> list[tuple[str, str, str, str]]:
        cells = []
        for action, resource, decision in self.rows:
            verdict = "allowed" if decision.allowed else f"DENIED ({decision.kind})"
            cells.append(
                (action, resource, verdict, decision.statement.label if decision.statement else "no statement allows it")
            )
        return cells

    def __str__(self) -> str:
        header = ("action", "resource", "decision", "decided by")
        rows = [header, *self._cells()]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return f"role {self.role}\n" + "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        lines = [f"**role `{self.role}`**", "", "| action | resource | decision | decided by |", "|---|---|---|---|"]
        lines += [f"| `{a}` | `{r}` | {'✅' if v == 'allowed' else '❌'} {v} | {d} |" for a, r, v, d in self._cells()]
        return "\n".join(lines)

    @property
    def allowed(self) -> dict[tuple[str, str], bool]:
        """``{(action, resource): allowed}``, for checks."""
        return {(action, resource): decision.allowed for action, resource, decision in self.rows}


def decision_table(
    iam: Any,
    role: str,
    checks: Iterable[tuple[str, str]],
    *,
    resource_policy: Policy | str | Mapping[str, Any] | None = None,
    context: Mapping[str, str] | None = None,
) -> DecisionTable:
    """:func:`simulate` for several ``(action, resource)`` pairs, as one table; the role's policies are read once."""
    arn = _role(iam, role_name(role))["Arn"]
    policies = role_policies(iam, role)
    other = _resource_policy(resource_policy)
    rows = tuple(
        (action, resource, evaluate(action, resource, policies, resource_policy=other, principal_arn=arn, context=context))
        for action, resource in checks
    )
    return DecisionTable(role_name(role), rows)


def _decision_html(decision: Decision) -> str:
    colour, word = ("#1b7f3b", "Allowed") if decision.allowed else ("#b00020", "Denied")
    detail = html.escape(decision.explanation)
    return f'<div><b style="color:{colour}">{word}</b> <span style="color:#555">({decision.kind})</span><br>{detail}</div>'


def policy_explorer(iam: Any, roles: list[str] | None = None, ecr: Any = None) -> Any:
    """A small form: pick a role, type an action and a resource, read IAM's answer and the statement that decided.

    ``roles`` defaults to every role in the account. With ``ecr``, a resource that is an
    ECR repository's ARN brings in that repository's policy too.
    """
    import ipywidgets as widgets

    if roles is None:
        roles = sorted(r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"])
    role_box = widgets.Dropdown(options=roles, value=roles[0] if roles else None, description="role")
    action_box = widgets.Combobox(
        options=list(COMMON_ACTIONS),
        value="ecr:GetAuthorizationToken",
        placeholder="service:Action",
        description="action",
        ensure_option=False,
    )
    resource_box = widgets.Text(value="*", placeholder="arn:aws:...", description="resource", layout=widgets.Layout(width="70%"))
    answer = widgets.HTML()
    cache: dict[str, tuple[str, list[Policy]]] = {}

    def update(_change: Any = None) -> None:
        name, action, resource = role_box.value, action_box.value.strip(), resource_box.value.strip()
        if not name:
            answer.value = "<i>No roles in this account yet: create one (ensure_execution_role, ensure_task_role).</i>"
            return
        if not action or not resource:
            answer.value = "<i>Type an action (service:Action) and a resource (an ARN, or *).</i>"
            return
        try:
            if name not in cache:
                cache[name] = (_role(iam, name)["Arn"], role_policies(iam, name))
            arn, policies = cache[name]
            other = None
            if ecr is not None and resource.startswith("arn:aws:ecr:") and ":repository/" in resource:
                other = repository_policy(ecr, resource.split(":repository/", 1)[1])
            decision = evaluate(action, resource, policies, resource_policy=other, principal_arn=arn)
        except (IamError, MalformedPolicyDocument) as error:
            answer.value = f'<span style="color:#b00020">{html.escape(str(error))}</span>'
            return
        except Exception as error:  # e.g. a repository that does not exist: say so in the form
            answer.value = f'<span style="color:#b00020">{html.escape(_error_code(error) or type(error).__name__)}: {html.escape(_error_message(error))}</span>'
            return
        answer.value = _decision_html(decision)

    def role_changed(change: Any) -> None:
        cache.pop(change["new"], None)  # re-read: the policies may have changed since
        update()

    role_box.observe(role_changed, names="value")
    action_box.observe(update, names="value")
    resource_box.observe(update, names="value")
    update()
    return widgets.VBox([role_box, action_box, resource_box, answer])
