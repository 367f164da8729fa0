"""IAM policies read and evaluated the way IAM documents it, for one account.

moto stores IAM policies but never evaluates them (``simulate_principal_policy`` is
not implemented), and real AWS answers "not authorized" without saying which
statement decided. This module is the evaluator: :func:`parse_policy` checks a
document with IAM's rules and IAM's words (:class:`MalformedPolicyDocument`),
:func:`evaluate` decides one request and says in a sentence which statement decided,
:func:`access_denied_message` writes the ``AccessDenied`` text AWS would return.
Notebook 07-security uses it through :mod:`ecslab.security`; the lab's own checks
of task roles use it too.

The rules, from IAM's "Policy evaluation logic" (requests inside one account):

- an explicit ``Deny`` in any policy wins over every ``Allow``;
- otherwise the request is allowed when an identity-based statement allows it, or
  when the resource-based policy allows it for the principal (``"*"``,
  ``{"AWS": "*"}``, the role ARN, or the assumed-role session ARN; a session
  ``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`` is role ``NAME``);
- a resource-based statement that names the account (``arn:aws:iam::ACCOUNT:root``
  or ``ACCOUNT``) delegates to the account's identity-based policies: it does not
  allow on its own, an identity-based policy must allow too (a Deny for the account
  still denies every principal in it);
- otherwise the request is denied implicitly: nothing allowed it.

Actions match case-insensitively with ``*`` and ``?``; resources match
case-sensitively. ``NotAction``, ``NotResource`` and ``NotPrincipal`` are honoured.
Conditions support ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``,
``StringNotEqualsIgnoreCase``, ``StringLike``, ``StringNotLike``, ``ArnEquals``,
``ArnLike``, ``ArnNotEquals``, ``ArnNotLike``, ``Bool`` and ``Null``, each also with
``IfExists``, against the request context (condition keys are case-insensitive). A
statement with any other operator (``NumericLessThan``, ``IpAddress``,
``ForAnyValue:...``) is not applied, and the decision's explanation says so: the
evaluator never allows or denies on a condition it cannot read. Policy variables
(``${aws:username}``) are not substituted. Permissions boundaries, session
policies, SCPs and cross-account requests are outside what it models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "Decision",
    "MalformedPolicyDocument",
    "Policy",
    "PolicyKind",
    "Statement",
    "SUPPORTED_CONDITION_OPERATORS",
    "access_denied_message",
    "evaluate",
    "parse_policy",
    "trusts",
]

PolicyKind = Literal["identity", "resource", "trust"]

VERSIONS = ("2012-10-17", "2008-10-17")
TOP_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition")
TRUST_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:SetSourceIdentity",
    "sts:TagSession",
)
"""What a role's trust policy may allow (IAM refuses anything else there)."""

SUPPORTED_CONDITION_OPERATORS = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Bool",
    "Null",
)
"""Condition operators :func:`evaluate` reads (each also with the ``IfExists`` suffix)."""

_NEGATED_OPERATORS = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike")


class MalformedPolicyDocument(ValueError):
    """IAM would refuse the document; ``str()`` is IAM's error code and message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"MalformedPolicyDocument: {self.message}"


@dataclass(frozen=True)
class Statement:
    """One statement of a policy, its single-or-list elements made tuples."""

    sid: str | None
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principals: dict[str, tuple[str, ...]] | str | None
    conditions: dict[str, dict[str, tuple[str, ...]]]
    policy: str  # name of the policy it came from
    index: int  # position in the policy, from 0
    not_principals: dict[str, tuple[str, ...]] | str | None = None
    policy_kind: PolicyKind = "identity"

    @property
    def label(self) -> str:
        """How a learner finds it: ``statement "ReadImages" of policy "app-permissions"``."""
        which = f'statement "{self.sid}"' if self.sid else f"statement {self.index + 1}"
        return f'{which} of {_POLICY_WORDS[self.policy_kind]} "{self.policy}"'


_POLICY_WORDS: dict[str, str] = {"identity": "policy", "resource": "resource-based policy", "trust": "trust policy"}


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]
    document: dict[str, Any]
    kind: PolicyKind = "identity"


@dataclass(frozen=True)
class Decision:
    """The answer to one request: allowed or not, why, and which statement decided."""

    allowed: bool
    kind: Literal["allowed", "explicit deny", "implicit deny"]
    statement: Statement | None
    explanation: str
    not_applied: tuple[tuple[Statement, str], ...] = field(default=())
    """Statements the evaluator could not apply, with the reason (an unsupported condition operator)."""

    def __str__(self) -> str:
        return self.explanation


# -- parsing -------------------------------------------------------------------------------------


def parse_policy(document: str | Mapping[str, Any], name: str = "inline policy", *, kind: PolicyKind = "identity") -> Policy:
    """Read a policy document (JSON text or a dict) and check it with IAM's rules.

    ``kind`` says where it is used: ``"identity"`` (attached to a user or role: no
    ``Principal``, ``Resource`` required, ``Version`` 2012-10-17), ``"resource"``
    (a repository or bucket policy: ``Principal`` required, ``Resource`` optional)
    or ``"trust"`` (a role's trust policy: ``Principal`` required, no ``Resource``,
    only ``sts:`` role actions). Raises :class:`MalformedPolicyDocument` in IAM's words
    (the ones learners meet; IAM checks more, e.g. every action name against its catalogue).
    """
    data = _load(document)
    raw_statements = _check_syntax(data)
    if kind == "identity" and data.get("Version") != "2012-10-17":
        # AWS would default a missing Version to 2008-10-17 (no policy variables); IAM in
        # the lab (moto) refuses it, and 2012-10-17 is right everywhere: ask for it.
        raise MalformedPolicyDocument("Policy document must be version 2012-10-17 or greater.")
    _check_statements(raw_statements, kind)
    statements = tuple(_statement(raw, index, name, kind) for index, raw in enumerate(raw_statements))
    return Policy(name=name, statements=statements, document=data, kind=kind)


def _load(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """The document as a plain dict of JSON values; "Syntax errors in policy." when it is none."""
    if isinstance(document, str):
        try:
            data = json.loads(document)
        except ValueError:
            raise MalformedPolicyDocument("Syntax errors in policy.") from None
    elif isinstance(document, Mapping):
        data = json.loads(json.dumps(document))  # a plain, private copy; fails on what JSON cannot hold
    else:
        raise MalformedPolicyDocument("Syntax errors in policy.")
    if not isinstance(data, dict):
        raise MalformedPolicyDocument("Syntax errors in policy.")
    return data


def _check_statements(raw_statements: list[dict[str, Any]], kind: PolicyKind) -> None:
    """IAM's rules on the statements once the grammar is right, in the order IAM reports them."""
    sids = [s["Sid"] for s in raw_statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument("Statement IDs (SID) in a single policy must be unique.")
    for raw in raw_statements:
        for key in ("Action", "NotAction"):
            if key in raw and raw[key] == []:
                raise MalformedPolicyDocument("Policy statement must contain actions.")
        if "Action" not in raw and "NotAction" not in raw:
            raise MalformedPolicyDocument("Policy statement must contain actions.")
    for raw in raw_statements:
        has_principal = "Principal" in raw or "NotPrincipal" in raw
        has_resource = "Resource" in raw or "NotResource" in raw
        if kind == "identity":
            if has_principal:
                raise MalformedPolicyDocument("Policy document should not specify a principal.")
            if not has_resource or raw.get("Resource") == [] or raw.get("NotResource") == []:
                raise MalformedPolicyDocument("Policy statement must contain resources.")
        else:
            if not has_principal:
                raise MalformedPolicyDocument("Missing required field Principal.")
            if kind == "trust" and has_resource:
                raise MalformedPolicyDocument("Has prohibited field Resource.")
    for raw in raw_statements:
        for resource in _strings(raw.get("Resource", [])) + _strings(raw.get("NotResource", [])):
            _check_resource(resource)
    for raw in raw_statements:
        for action in _strings(raw.get("Action", [])) + _strings(raw.get("NotAction", [])):
            _check_action(action)
    if kind == "trust":
        allowed = {a.lower() for a in TRUST_ACTIONS}
        for raw in raw_statements:
            if any(a.lower() not in allowed for a in _strings(raw.get("Action", []))):
                raise MalformedPolicyDocument(
                    "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
                )


def _check_syntax(data: dict[str, Any]) -> list[dict[str, Any]]:
    """IAM's grammar; anything off is "Syntax errors in policy." as IAM says it."""
    syntax = MalformedPolicyDocument("Syntax errors in policy.")
    if any(key not in TOP_ELEMENTS for key in data):
        raise syntax
    if "Version" in data and data["Version"] not in VERSIONS:
        raise syntax
    if "Id" in data and not isinstance(data["Id"], str):
        raise syntax
    raw = data.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise syntax
    for statement in statements:
        if not isinstance(statement, dict) or any(key not in STATEMENT_ELEMENTS for key in statement):
            raise syntax
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise syntax
        if ("Action" in statement and "NotAction" in statement) or ("Resource" in statement and "NotResource" in statement):
            raise syntax
        if "Principal" in statement and "NotPrincipal" in statement:
            raise syntax
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement and not _is_string_or_strings(statement[key]):
                raise syntax
        for key in ("Principal", "NotPrincipal"):
            if key in statement and not _is_principal(statement[key]):
                raise syntax
        if "Sid" in statement and not isinstance(statement["Sid"], str):
            raise syntax
        condition = statement.get("Condition", {})
        if not isinstance(condition, dict):
            raise syntax
        for block in condition.values():
            if not isinstance(block, dict) or not all(isinstance(v, (str, bool, list)) for v in block.values()):
                raise syntax
    return statements


def _is_string_or_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))


def _is_principal(value: Any) -> bool:
    if value == "*":
        return True
    return (
        isinstance(value, dict) and bool(value) and all(isinstance(k, str) and _is_string_or_strings(v) for k, v in value.items())
    )


def _check_action(action: str) -> None:
    parts = action.split(":")
    if len(parts) == 1 and parts[0] != "*":
        raise MalformedPolicyDocument("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        raise MalformedPolicyDocument("Actions/Condition can contain only one colon.")
    if parts[0] != "*" and re.search(r"[^a-zA-Z0-9\-.]", parts[0]):
        raise MalformedPolicyDocument(f"Vendor {parts[0]} is not valid")


def _check_resource(resource: str) -> None:
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) == 1:
        raise MalformedPolicyDocument(f'Resource {resource} must be in ARN format or "*".')
    if len(parts) < 3:
        raise MalformedPolicyDocument("Resource vendor must be fully qualified and cannot contain regexes.")
    service, region = parts[2], parts[3] if len(parts) > 3 else ""
    resource_id = parts[5] if len(parts) > 5 else ""
    if service == "s3" and region and not resource_id.startswith("accesspoint/"):
        raise MalformedPolicyDocument(f"Resource {resource} can not contain region information.")
    if service == "iam" and region:
        raise MalformedPolicyDocument(f"IAM resource {resource} cannot contain region information.")


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bool)):
        return (str(value).lower() if isinstance(value, bool) else value,)
    return tuple(str(item).lower() if isinstance(item, bool) else str(item) for item in value)


def _principal(value: Any) -> dict[str, tuple[str, ...]] | str | None:
    if value is None or value == "*":
        return value
    return {key: _strings(item) for key, item in value.items()}


def _statement(raw: dict[str, Any], index: int, policy: str, kind: PolicyKind) -> Statement:
    return Statement(
        sid=raw.get("Sid") or None,
        effect=raw["Effect"],
        actions=_strings(raw.get("Action", [])),
        not_actions=_strings(raw.get("NotAction", [])),
        resources=_strings(raw.get("Resource", [])),
        not_resources=_strings(raw.get("NotResource", [])),
        principals=_principal(raw.get("Principal")),
        conditions={
            op: {key: _strings(values) for key, values in block.items()} for op, block in raw.get("Condition", {}).items()
        },
        policy=policy,
        index=index,
        not_principals=_principal(raw.get("NotPrincipal")),
        policy_kind=kind,
    )


# -- matching ------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts is matched on its own."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _action_matches(statement: Statement, action: str) -> bool:
    if statement.actions:
        return any(_like(pattern, action, ignore_case=True) for pattern in statement.actions)
    return not any(_like(pattern, action, ignore_case=True) for pattern in statement.not_actions)


def _resource_matches(statement: Statement, resource: str) -> bool:
    if statement.resources:
        return any(_like(pattern, resource) for pattern in statement.resources)
    if statement.not_resources:
        return not any(_like(pattern, resource) for pattern in statement.not_resources)
    return True  # a resource-based policy without Resource covers the resource it is attached to


_SESSION = re.compile(r"arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+")
_IAM_ARN = re.compile(r"arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):(?P<rest>.+)")


def _principal_match(
    spec: dict[str, tuple[str, ...]] | str | None, principal_arn: str | None
) -> Literal["direct", "account"] | None:
    """Whether ``spec`` (a Principal element) names ``principal_arn``: directly, through its account, or not."""
    if spec is None:
        return None
    if spec == "*":
        return "direct"
    assert isinstance(spec, dict)
    if principal_arn is None:
        return "direct" if "*" in spec.get("AWS", ()) else None
    is_service = not principal_arn.startswith("arn:")  # "ecs-tasks.amazonaws.com" names itself under "Service"
    for key, values in spec.items():
        if key == "AWS" and not is_service and ("*" in values or principal_arn in values):
            return "direct"
        if key == "Service" and is_service and principal_arn in values:
            return "direct"
    if is_service:
        return None
    aws = spec.get("AWS", ())
    session = _SESSION.fullmatch(principal_arn)
    account = None
    if session:
        account = session["account"]
        for value in aws:
            iam = _IAM_ARN.fullmatch(value)
            if (
                iam
                and iam["account"] == account
                and iam["rest"].startswith("role/")
                and iam["rest"].rsplit("/", 1)[-1] == session["role"]
            ):
                return "direct"
    else:
        iam = _IAM_ARN.fullmatch(principal_arn)
        account = iam["account"] if iam else None
    if account and any(value == account or value.endswith(f":iam::{account}:root") for value in aws):
        return "account"
    return None


def _principal_words(principal_arn: str | None) -> str:
    return principal_arn or "the caller"


# -- conditions ----------------------------------------------------------------------------------


def _unsupported_operator(statement: Statement) -> str | None:
    for operator in statement.conditions:
        base = operator.removesuffix("IfExists")
        if base not in SUPPORTED_CONDITION_OPERATORS:
            return operator
    return None


def _conditions_hold(statement: Statement, context: Mapping[str, str]) -> bool:
    """Every operator block holds (AND); within a block every key holds (AND); a key holds when any value matches (OR)."""
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, block in statement.conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        for key, values in block.items():
            present = key.lower() in lowered
            if base == "Null":
                # "true": the key must be absent; "false": it must be present.
                if not any((value.lower() == "true") != present for value in values):
                    return False
                continue
            if not present:
                if if_exists or base in _NEGATED_OPERATORS:
                    continue
                return False
            actual = str(lowered[key.lower()])
            if not _block_value_holds(base, values, actual):
                return False
    return True


def _block_value_holds(base: str, values: tuple[str, ...], actual: str) -> bool:
    if base == "StringEquals":
        return actual in values
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in {v.lower() for v in values}
    if base == "StringNotEqualsIgnoreCase":
        return actual.lower() not in {v.lower() for v in values}
    if base == "StringLike":
        return any(_like(v, actual) for v in values)
    if base == "StringNotLike":
        return not any(_like(v, actual) for v in values)
    if base in ("ArnEquals", "ArnLike"):
        return any(_arn_like(v, actual) for v in values)
    if base in ("ArnNotEquals", "ArnNotLike"):
        return not any(_arn_like(v, actual) for v in values)
    if base == "Bool":
        return actual.lower() in {v.lower() for v in values}
    raise AssertionError(f"unhandled condition operator {base}")  # _unsupported_operator filters the rest


# -- evaluation ----------------------------------------------------------------------------------


@dataclass
class _Matching:
    """The statements that apply to one request, sorted by what they say (:func:`evaluate`)."""

    allows: list[Statement] = field(default_factory=list)
    account_allows: list[Statement] = field(default_factory=list)  # a resource policy naming the account
    denies: list[Statement] = field(default_factory=list)
    not_applied: list[tuple[Statement, str]] = field(default_factory=list)

    def add(
        self, statement: Statement, action: str, resource: str, principal_arn: str | None, context: Mapping[str, str]
    ) -> None:
        if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
            return
        via: Literal["direct", "account"] | None = "direct"
        if statement.policy_kind != "identity":
            if statement.not_principals is not None:
                via = None if _principal_match(statement.not_principals, principal_arn) else "direct"
            else:
                via = _principal_match(statement.principals, principal_arn)
            if via is None:
                return
        unsupported = _unsupported_operator(statement)
        if unsupported:
            self.not_applied.append((statement, f"the evaluator does not read the {unsupported} condition operator"))
            return
        if not _conditions_hold(statement, context):
            return
        if statement.effect == "Deny":
            self.denies.append(statement)
        elif via == "account":
            self.account_allows.append(statement)
        else:
            self.allows.append(statement)


def evaluate(
    action: str,
    resource: str,
    identity_policies: Iterable[Policy],
    *,
    resource_policy: Policy | None = None,
    principal_arn: str | None = None,
    context: Mapping[str, str] | None = None,
) -> Decision:
    """Decide whether ``principal_arn``, holding ``identity_policies``, may do ``action`` on ``resource``.

    ``resource_policy`` is the policy attached to the resource (an ECR repository
    policy), if any; ``context`` holds condition keys and their values, e.g.
    ``{"aws:SecureTransport": "true", "aws:SourceAccount": "123456789012"}``.
    """
    identity = [s for p in identity_policies for s in p.statements]
    resource_statements = list(resource_policy.statements) if resource_policy else []
    found = _Matching()
    for statement in identity + resource_statements:
        found.add(statement, action, resource, principal_arn, context or {})
    allows, account_allows, denies, not_applied = found.allows, found.account_allows, found.denies, found.not_applied
    request = f"{action} on {resource}"
    notes = "".join(f" {s.label[0].upper()}{s.label[1:]} was not applied: {reason}." for s, reason in not_applied)
    if denies:
        deny = denies[0]
        explanation = f"Denied: {deny.label} explicitly denies {request}; an explicit deny wins over every allow."
        return Decision(False, "explicit deny", deny, explanation + notes, tuple(not_applied))
    identity_allows = [s for s in allows if s.policy_kind == "identity"]
    if identity_allows:
        allow = identity_allows[0]
        explanation = f"Allowed: {allow.label} allows {request}."
        return Decision(True, "allowed", allow, explanation + notes, tuple(not_applied))
    if allows:
        allow = allows[0]
        explanation = f"Allowed: {allow.label} allows {request} for {_principal_words(principal_arn)}."
        return Decision(True, "allowed", allow, explanation + notes, tuple(not_applied))
    names = sorted({s.policy for s in identity}) if identity else []
    where = "no identity-based policy" if not names else "no statement in " + ", ".join(f'"{n}"' for n in names)
    explanation = f"Denied: {where} allows {request}, and whatever is not allowed is denied."
    if resource_policy is not None and account_allows:
        explanation += (
            f" {account_allows[0].label[0].upper()}{account_allows[0].label[1:]} names the account, which hands the decision"
            " to the account's identity-based policies."
        )
    elif resource_policy is not None:
        explanation += (
            f' Resource-based policy "{resource_policy.name}" does not allow it for {_principal_words(principal_arn)} either.'
        )
    return Decision(False, "implicit deny", None, explanation + notes, tuple(not_applied))


def access_denied_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """The ``AccessDenied`` message AWS returns for a denied request, in AWS's words."""
    if decision.allowed:
        raise ValueError(f"the request was allowed ({decision.explanation}); AWS returns no AccessDenied message for it")
    head = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.kind == "explicit deny" and decision.statement is not None:
        where = "a resource-based policy" if decision.statement.policy_kind != "identity" else "an identity-based policy"
        return f"{head} with an explicit deny in {where}"
    return f"{head} because no identity-based policy allows the {action} action"


def trusts(trust_policy: Policy | str | Mapping[str, Any], service: str = "ecs-tasks.amazonaws.com") -> bool:
    """Whether a role's trust policy lets ``service`` assume the role (``sts:AssumeRole``, no Deny for it).

    Conditions in the trust policy are not checked: this answers "is the service
    named at all", the question behind ECS's "unable to assume role" errors.
    """
    policy = trust_policy if isinstance(trust_policy, Policy) else parse_policy(trust_policy, "trust policy", kind="trust")
    allowed = False
    for statement in policy.statements:
        if not _action_matches(statement, "sts:AssumeRole"):
            continue
        if statement.not_principals is not None:
            named = _principal_match(statement.not_principals, service) is None
        else:
            named = _principal_match(statement.principals, service) == "direct"
        if named and statement.effect == "Deny":
            return False
        allowed = allowed or named
    return allowed
