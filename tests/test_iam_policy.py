"""ecslab.iam_policy: IAM's grammar in IAM's words, and IAM's evaluation logic for one account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecslab.iam_policy import (
    Decision,
    MalformedPolicyDocument,
    Policy,
    access_denied_message,
    evaluate,
    parse_policy,
    trusts,
)

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/1234"
REPO_ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web"
BUCKET_ARN = "arn:aws:s3:::bucket"


def identity(*statements: dict[str, Any], name: str = "app-permissions") -> Policy:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, name)


def resource_policy(*statements: dict[str, Any], name: str = "repository policy") -> Policy:
    return parse_policy({"Version": "2008-10-17", "Statement": list(statements)}, name, kind="resource")


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(action: str, resource: str, *policies: Policy, **kwargs: Any) -> Decision:
    return evaluate(action, resource, policies, principal_arn=kwargs.pop("principal_arn", SESSION_ARN), **kwargs)


# -- parsing --------------------------------------------------------------------------------------


def test_a_policy_is_read_into_statements_with_tuples_for_single_values() -> None:
    # given a document with a single statement (not a list) and single-string elements
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {"Sid": "Pull", "Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": REPO_ARN},
        }
    )
    # when it is parsed
    policy = parse_policy(text, "pull")
    # then every element is a tuple and the statement knows where it came from
    (statement,) = policy.statements
    assert policy.name == "pull" and policy.kind == "identity"
    assert policy.document["Statement"]["Sid"] == "Pull"
    assert statement.sid == "Pull" and statement.effect == "Allow"
    assert statement.actions == ("ecr:BatchGetImage",) and statement.resources == (REPO_ARN,)
    assert statement.not_actions == () and statement.not_resources == () and statement.principals is None
    assert statement.policy == "pull" and statement.index == 0
    assert statement.label == 'statement "Pull" of policy "pull"'


def test_the_parsed_policy_does_not_share_the_callers_dict() -> None:
    # given a dict the caller keeps changing
    document = {"Version": "2012-10-17", "Statement": [allow("s3:GetObject")]}
    policy = parse_policy(document)
    # when the caller changes it
    document["Statement"][0]["Action"] = "s3:*"
    # then the policy keeps what it was given
    assert policy.document["Statement"][0]["Action"] == "s3:GetObject"


def test_conditions_are_read_with_booleans_as_iam_writes_them() -> None:
    policy = identity(allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": True}, "StringEquals": {"k": ["a", "b"]}}))
    assert policy.statements[0].conditions == {"Bool": {"aws:SecureTransport": ("true",)}, "StringEquals": {"k": ("a", "b")}}


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        "[]",
        json.dumps({"Version": "2012-10-17"}),  # no Statement
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps({"Version": "2012-10-17", "Statement": "Allow everything"}),
        json.dumps({"Version": "2012-10-17", "Statements": [allow("s3:*")]}),  # unknown top element
        json.dumps({"Version": "2012-10-17", "Statement": [{"Action": "s3:*", "Resource": "*"}]}),  # no Effect
        json.dumps({"Version": "2012-10-17", "Statement": [{**allow("s3:*"), "Effect": "Permit"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{**allow("s3:*"), "Effect": "allow"}]}),  # case matters
        json.dumps({"Version": "2012-10-17", "Statement": [{**allow("s3:*"), "Actions": "s3:*"}]}),  # unknown element
        json.dumps({"Version": "2012-10-17", "Statement": [{**allow("s3:*"), "NotAction": "ec2:*"}]}),  # Action and NotAction
        json.dumps({"Version": "2012-10-17", "Statement": [{**allow("s3:*"), "NotResource": "x"}]}),  # Resource and NotResource
        json.dumps({"Version": "2012-10-17", "Statement": [allow(42)]}),
        json.dumps({"Version": "2012-10-17", "Statement": [allow(["s3:*", 1])]}),
        json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", Condition=["x"])]}),
        json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", Condition={"StringEquals": "x"})]}),
        json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", Sid=7)]}),
        json.dumps({"Version": "2012-10-17", "Id": 7, "Statement": [allow("s3:*")]}),
        json.dumps({"Version": "2012-10-18", "Statement": [allow("s3:*")]}),  # no such Version
    ],
)
def test_what_breaks_iams_grammar_is_a_syntax_error(document: str) -> None:
    # when a document breaks the grammar
    with pytest.raises(MalformedPolicyDocument) as error:
        parse_policy(document)
    # then IAM's words say so
    assert str(error.value) == "MalformedPolicyDocument: Syntax errors in policy."


def test_a_malformed_policy_is_a_value_error_with_iams_message() -> None:
    with pytest.raises(ValueError) as error:
        parse_policy("{")
    assert isinstance(error.value, MalformedPolicyDocument) and error.value.message == "Syntax errors in policy."


@pytest.mark.parametrize("version", [None, "2008-10-17"])
def test_an_identity_policy_must_be_version_2012_10_17(version: str | None) -> None:
    document: dict[str, Any] = {"Statement": [allow("s3:*")]}
    if version:
        document["Version"] = version
    with pytest.raises(MalformedPolicyDocument, match="Policy document must be version 2012-10-17 or greater."):
        parse_policy(document)


def test_a_resource_policy_may_be_version_2008_10_17_as_ecr_writes_them() -> None:
    policy = resource_policy({"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"})
    assert policy.kind == "resource" and policy.statements[0].principals == "*"


@pytest.mark.parametrize(
    "statement", [{"Effect": "Allow", "Resource": "*"}, allow([]), {"Effect": "Allow", "NotAction": [], "Resource": "*"}]
)
def test_a_statement_without_actions_is_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(MalformedPolicyDocument) as error:
        identity(statement)
    assert str(error.value) == "MalformedPolicyDocument: Policy statement must contain actions."


@pytest.mark.parametrize("statement", [{"Effect": "Allow", "Action": "s3:*"}, allow("s3:*", [])])
def test_an_identity_statement_without_resources_is_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(MalformedPolicyDocument, match="Policy statement must contain resources."):
        identity(statement)


@pytest.mark.parametrize("key", ["Principal", "NotPrincipal"])
def test_an_identity_policy_cannot_name_a_principal(key: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as error:
        identity(allow("s3:*", **{key: {"AWS": ROLE_ARN}}))
    assert str(error.value) == "MalformedPolicyDocument: Policy document should not specify a principal."


@pytest.mark.parametrize("kind", ["resource", "trust"])
def test_resource_and_trust_policies_must_name_a_principal(kind: Any) -> None:
    with pytest.raises(MalformedPolicyDocument, match="Missing required field Principal."):
        parse_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}, kind=kind)


def test_a_principal_must_be_star_or_a_map_of_names() -> None:
    for principal in ["someone", {}, {"AWS": 5}, ["*"]]:
        with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy."):
            resource_policy({"Effect": "Allow", "Principal": principal, "Action": "s3:*"})


def test_sids_are_unique_in_a_policy() -> None:
    with pytest.raises(MalformedPolicyDocument, match=r"Statement IDs \(SID\) in a single policy must be unique."):
        identity(allow("s3:*", Sid="A"), allow("ec2:*", Sid="A"))


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("GetObject", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        ("s3:Get:Object", "Actions/Condition can contain only one colon."),
        ("s 3:GetObject", "Vendor s 3 is not valid"),
    ],
)
def test_actions_need_one_vendor_prefix(action: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as error:
        identity(allow(action))
    assert str(error.value) == f"MalformedPolicyDocument: {message}"


def test_a_trust_policy_allows_only_role_actions_and_no_resource() -> None:
    principal = {"Service": "ecs-tasks.amazonaws.com"}
    with pytest.raises(MalformedPolicyDocument, match="Trust Policy statement actions can only be sts:AssumeRole"):
        parse_policy(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "s3:*"}]}, kind="trust"
        )
    with pytest.raises(MalformedPolicyDocument, match="Has prohibited field Resource."):
        parse_policy(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", "Resource": "*"}],
            },
            kind="trust",
        )


# -- evaluation: identity-based policies -----------------------------------------------------------


def test_an_allowing_statement_allows_and_is_named() -> None:
    # given a role allowed to pull from one repository
    policy = identity(allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], REPO_ARN, Sid="Pull"))
    # when it pulls
    decision = decide("ecr:BatchGetImage", REPO_ARN, policy)
    # then it is allowed, and the explanation names the statement
    assert decision.allowed and decision.kind == "allowed"
    assert decision.statement is policy.statements[0]
    assert (
        decision.explanation == f'Allowed: statement "Pull" of policy "app-permissions" allows ecr:BatchGetImage on {REPO_ARN}.'
    )
    assert str(decision) == decision.explanation


def test_nothing_allowing_is_an_implicit_deny() -> None:
    decision = decide("s3:ListBucket", BUCKET_ARN, identity(allow("ecr:*")))
    assert not decision.allowed and decision.kind == "implicit deny" and decision.statement is None
    assert decision.explanation == (
        f'Denied: no statement in "app-permissions" allows s3:ListBucket on {BUCKET_ARN}, and whatever is not allowed is denied.'
    )


def test_no_policy_at_all_is_an_implicit_deny() -> None:
    decision = decide("s3:ListBucket", BUCKET_ARN)
    assert decision.kind == "implicit deny"
    assert decision.explanation.startswith("Denied: no identity-based policy allows s3:ListBucket")


def test_an_explicit_deny_wins_over_any_allow_in_any_policy() -> None:
    # given one policy allowing everything and another denying deletes
    everything = identity(allow("*"), name="admin")
    no_deletes = identity(deny("ecr:Delete*", Sid="NoDeletes"), name="guard-rail")
    # when the role deletes a repository
    decision = decide("ecr:DeleteRepository", REPO_ARN, everything, no_deletes)
    # then the deny decides
    assert not decision.allowed and decision.kind == "explicit deny"
    assert decision.statement is no_deletes.statements[0]
    assert 'statement "NoDeletes" of policy "guard-rail" explicitly denies ecr:DeleteRepository' in decision.explanation
    assert "an explicit deny wins over every allow" in decision.explanation


def test_statements_without_sid_are_named_by_position() -> None:
    policy = identity(allow("s3:GetObject"), deny("s3:DeleteObject"))
    assert decide("s3:DeleteObject", BUCKET_ARN, policy).explanation.startswith('Denied: statement 2 of policy "app-permissions"')


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("ecr:BatchGetImage", "ecr:batchgetimage", True),  # actions ignore case
        ("ECR:Get*", "ecr:GetAuthorizationToken", True),
        ("ecr:Get*", "ecr:BatchGetImage", False),
        ("ecr:?etAuthorizationToken", "ecr:GetAuthorizationToken", True),
        ("ecr:?etAuthorizationToken", "ecr:xxGetAuthorizationToken", False),
        ("*", "logs:PutLogEvents", True),
        ("ecr:*", "ecs:RunTask", False),
    ],
)
def test_actions_match_with_wildcards_and_any_case(pattern: str, action: str, matches: bool) -> None:
    assert decide(action, REPO_ARN, identity(allow(pattern))).allowed is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        (REPO_ARN, REPO_ARN, True),
        (REPO_ARN.upper(), REPO_ARN, False),  # resources keep case
        (f"arn:aws:ecr:*:{ACCOUNT}:repository/*", REPO_ARN, True),
        (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/we?", REPO_ARN, True),
        (f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/w?", REPO_ARN, False),
        ("arn:aws:s3:::bucket/*", BUCKET_ARN, False),  # the objects, not the bucket
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b.txt", True),
        ("*", BUCKET_ARN, True),
    ],
)
def test_resources_match_with_wildcards_and_exact_case(pattern: str, resource: str, matches: bool) -> None:
    assert decide("s3:GetObject", resource, identity(allow("s3:GetObject", pattern))).allowed is matches


def test_action_and_resource_may_be_lists() -> None:
    policy = identity(allow(["s3:GetObject", "s3:ListBucket"], [BUCKET_ARN, "arn:aws:s3:::bucket/*"]))
    assert decide("s3:ListBucket", BUCKET_ARN, policy).allowed
    assert decide("s3:GetObject", "arn:aws:s3:::bucket/key", policy).allowed
    assert not decide("s3:GetObject", "arn:aws:s3:::other/key", policy).allowed


def test_not_action_allows_everything_but_what_it_lists() -> None:
    policy = identity({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
    assert decide("ecr:CreateRepository", REPO_ARN, policy).allowed
    assert not decide("IAM:CreateRole", ROLE_ARN, policy).allowed


def test_not_resource_covers_everything_but_what_it_lists() -> None:
    policy = identity(
        {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*"]}, allow("s3:*")
    )
    assert decide("s3:GetObject", "arn:aws:s3:::bucket/key", policy).allowed
    assert decide("s3:GetObject", "arn:aws:s3:::other/key", policy).kind == "explicit deny"


# -- evaluation: conditions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("StringEquals", "prod", "prod", True),
        ("StringEquals", "prod", "Prod", False),
        ("StringNotEquals", "prod", "dev", True),
        ("StringNotEquals", "prod", "prod", False),
        ("StringEqualsIgnoreCase", "prod", "PROD", True),
        ("StringNotEqualsIgnoreCase", "prod", "PROD", False),
        ("StringLike", "team-*", "team-web", True),
        ("StringLike", "team-?", "team-web", False),
        ("StringNotLike", "team-*", "ops", True),
        ("StringNotLike", "team-*", "team-web", False),
        ("ArnEquals", ROLE_ARN, ROLE_ARN, True),
        ("ArnLike", f"arn:aws:iam::{ACCOUNT}:role/*", ROLE_ARN, True),
        ("ArnLike", "arn:aws:iam::*", ROLE_ARN, False),  # each of the six parts is matched on its own
        ("ArnLike", f"arn:aws:iam::{ACCOUNT}:role/*", "not-an-arn", False),
        ("ArnNotEquals", ROLE_ARN, ROLE_ARN, False),
        ("ArnNotLike", "arn:aws:iam::*:user/*", ROLE_ARN, True),
        ("Bool", "true", "true", True),
        ("Bool", "true", "false", False),
    ],
)
def test_condition_operators_compare_the_request_context(operator: str, expected: str, actual: str, holds: bool) -> None:
    # given an allow that holds only under a condition
    policy = identity(allow("s3:GetObject", Condition={operator: {"aws:ResourceTag/env": expected}}))
    # when the request carries the key (written in another case: keys ignore case)
    decision = decide("s3:GetObject", BUCKET_ARN, policy, context={"AWS:resourcetag/ENV": actual})
    # then the statement applies only when the condition holds
    assert decision.allowed is holds


def test_several_values_are_any_of_and_several_keys_and_operators_are_all_of() -> None:
    condition = {"StringEquals": {"a": ["1", "2"], "b": "x"}, "Bool": {"aws:SecureTransport": "true"}}
    policy = identity(allow("s3:GetObject", Condition=condition))
    assert decide("s3:GetObject", BUCKET_ARN, policy, context={"a": "2", "b": "x", "aws:SecureTransport": "true"}).allowed
    assert not decide("s3:GetObject", BUCKET_ARN, policy, context={"a": "3", "b": "x", "aws:SecureTransport": "true"}).allowed
    assert not decide("s3:GetObject", BUCKET_ARN, policy, context={"a": "1", "b": "x", "aws:SecureTransport": "false"}).allowed


def test_a_negated_operator_with_several_values_matches_none_of_them() -> None:
    policy = identity(allow("s3:GetObject", Condition={"StringNotEquals": {"env": ["prod", "staging"]}}))
    assert decide("s3:GetObject", BUCKET_ARN, policy, context={"env": "dev"}).allowed
    assert not decide("s3:GetObject", BUCKET_ARN, policy, context={"env": "staging"}).allowed


def test_a_missing_key_fails_a_positive_operator_and_passes_a_negated_one() -> None:
    equals = identity(allow("s3:GetObject", Condition={"StringEquals": {"env": "prod"}}))
    not_equals = identity(allow("s3:GetObject", Condition={"StringNotEquals": {"env": "prod"}}))
    assert not decide("s3:GetObject", BUCKET_ARN, equals).allowed
    assert decide("s3:GetObject", BUCKET_ARN, not_equals).allowed


def test_if_exists_passes_when_the_key_is_missing_and_checks_it_when_present() -> None:
    policy = identity(allow("s3:GetObject", Condition={"StringEqualsIfExists": {"env": "prod"}}))
    assert decide("s3:GetObject", BUCKET_ARN, policy).allowed
    assert decide("s3:GetObject", BUCKET_ARN, policy, context={"env": "prod"}).allowed
    assert not decide("s3:GetObject", BUCKET_ARN, policy, context={"env": "dev"}).allowed


def test_null_checks_whether_the_key_is_there() -> None:
    absent = identity(allow("s3:GetObject", Condition={"Null": {"aws:TokenIssueTime": "true"}}))
    present = identity(allow("s3:GetObject", Condition={"Null": {"aws:TokenIssueTime": "false"}}))
    assert decide("s3:GetObject", BUCKET_ARN, absent).allowed
    assert not decide("s3:GetObject", BUCKET_ARN, absent, context={"aws:TokenIssueTime": "now"}).allowed
    assert decide("s3:GetObject", BUCKET_ARN, present, context={"aws:TokenIssueTime": "now"}).allowed


def test_a_deny_with_a_condition_denies_only_when_it_holds() -> None:
    policy = identity(allow("s3:*"), deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert decide("s3:GetObject", BUCKET_ARN, policy, context={"aws:SecureTransport": "true"}).allowed
    assert decide("s3:GetObject", BUCKET_ARN, policy, context={"aws:SecureTransport": "false"}).kind == "explicit deny"


def test_an_unsupported_operator_never_allows_and_the_explanation_says_so() -> None:
    # given the only allow depends on an operator the evaluator does not read
    policy = identity(allow("s3:GetObject", Sid="Office", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    # when it is evaluated
    decision = decide("s3:GetObject", BUCKET_ARN, policy, context={"aws:SourceIp": "10.1.2.3"})
    # then the request is not allowed, and the learner is told why the statement was left out
    assert decision.kind == "implicit deny"
    assert decision.not_applied == ((policy.statements[0], "the evaluator does not read the IpAddress condition operator"),)
    assert (
        'Statement "Office" of policy "app-permissions" was not applied: the evaluator does not read the IpAddress'
        in decision.explanation
    )


def test_an_unsupported_operator_in_a_deny_is_reported_even_when_another_statement_allows() -> None:
    policy = identity(allow("s3:*"), deny("s3:*", Condition={"NumericLessThan": {"s3:max-keys": "10"}}))
    decision = decide("s3:ListBucket", BUCKET_ARN, policy, context={"s3:max-keys": "5"})
    assert decision.allowed
    assert "statement 1" in decision.explanation
    assert (
        'Statement 2 of policy "app-permissions" was not applied: the evaluator does not read the NumericLessThan'
        in decision.explanation
    )


def test_set_operators_are_not_read_either() -> None:
    policy = identity(allow("s3:*", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}}))
    decision = decide("s3:ListBucket", BUCKET_ARN, policy, context={"aws:TagKeys": "env"})
    assert not decision.allowed and "ForAnyValue:StringEquals" in decision.explanation


# -- evaluation: resource-based policies ----------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    ["*", {"AWS": "*"}, {"AWS": ROLE_ARN}, {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/other", ROLE_ARN]}, {"AWS": SESSION_ARN}],
)
def test_a_resource_policy_allows_the_principals_it_names(principal: Any) -> None:
    # given a role with no identity policy for ECR, and a repository policy naming it
    repository = resource_policy({"Sid": "Pull", "Effect": "Allow", "Principal": principal, "Action": "ecr:BatchGetImage"})
    # when its session pulls
    decision = decide("ecr:BatchGetImage", REPO_ARN, identity(allow("s3:*")), resource_policy=repository)
    # then the repository policy allows it, and says so
    assert decision.allowed and decision.statement is repository.statements[0]
    assert decision.explanation == (
        f'Allowed: statement "Pull" of resource-based policy "repository policy" allows ecr:BatchGetImage on {REPO_ARN} for {SESSION_ARN}.'
    )


def test_a_role_arn_with_a_path_matches_its_sessions() -> None:
    repository = resource_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/service/app"}, "Action": "ecr:*"}
    )
    assert decide("ecr:BatchGetImage", REPO_ARN, resource_policy=repository).allowed


def test_a_resource_policy_ignores_principals_it_does_not_name() -> None:
    repository = resource_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, "Action": "ecr:*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "ecr:*"},
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "ecr:*"},
    )
    decision = decide("ecr:BatchGetImage", REPO_ARN, resource_policy=repository)
    assert decision.kind == "implicit deny"
    assert f'Resource-based policy "repository policy" does not allow it for {SESSION_ARN} either.' in decision.explanation


def test_a_session_does_not_match_a_role_of_another_name_or_account() -> None:
    for role in ("arn:aws:iam::999999999999:role/app", f"arn:aws:iam::{ACCOUNT}:role/app2", f"arn:aws:iam::{ACCOUNT}:user/app"):
        repository = resource_policy({"Effect": "Allow", "Principal": {"AWS": role}, "Action": "ecr:*"})
        assert not decide("ecr:BatchGetImage", REPO_ARN, resource_policy=repository).allowed


@pytest.mark.parametrize("account", [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"])
def test_a_resource_policy_naming_the_account_hands_the_decision_to_identity_policies(account: str) -> None:
    # given a repository policy that names the whole account
    repository = resource_policy({"Effect": "Allow", "Principal": {"AWS": account}, "Action": "ecr:*"})
    # when a role without an ECR permission pulls, then it is denied, and told why
    decision = decide("ecr:BatchGetImage", REPO_ARN, identity(allow("s3:*")), resource_policy=repository)
    assert decision.kind == "implicit deny"
    assert 'Statement 1 of resource-based policy "repository policy" names the account' in decision.explanation
    # and when its identity policy allows it too, it is allowed
    assert decide("ecr:BatchGetImage", REPO_ARN, identity(allow("ecr:*")), resource_policy=repository).allowed


@pytest.mark.parametrize("principal", ["*", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"AWS": ROLE_ARN}])
def test_a_deny_in_a_resource_policy_wins_over_an_identity_allow(principal: Any) -> None:
    repository = resource_policy({"Sid": "NoPush", "Effect": "Deny", "Principal": principal, "Action": "ecr:PutImage"})
    decision = decide("ecr:PutImage", REPO_ARN, identity(allow("ecr:*")), resource_policy=repository)
    assert decision.kind == "explicit deny" and decision.statement is repository.statements[0]
    assert (
        'statement "NoPush" of resource-based policy "repository policy" explicitly denies ecr:PutImage' in decision.explanation
    )


def test_not_principal_applies_to_everyone_else() -> None:
    repository = resource_policy({"Effect": "Deny", "NotPrincipal": {"AWS": ROLE_ARN}, "Action": "ecr:*"})
    assert decide("ecr:PutImage", REPO_ARN, identity(allow("ecr:*")), resource_policy=repository).allowed
    other = f"arn:aws:sts::{ACCOUNT}:assumed-role/intruder/1"
    assert (
        decide("ecr:PutImage", REPO_ARN, identity(allow("ecr:*")), resource_policy=repository, principal_arn=other).kind
        == "explicit deny"
    )


def test_without_a_principal_only_everyone_statements_apply() -> None:
    repository = resource_policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "ecr:PutImage"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"},
    )
    assert evaluate("ecr:BatchGetImage", REPO_ARN, [], resource_policy=repository).allowed
    assert not evaluate("ecr:PutImage", REPO_ARN, [], resource_policy=repository).allowed


def test_a_resource_policy_statement_with_resources_covers_only_those() -> None:
    bucket = resource_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/public/*"}
    )
    assert decide("s3:GetObject", "arn:aws:s3:::bucket/public/a", resource_policy=bucket).allowed
    assert not decide("s3:GetObject", "arn:aws:s3:::bucket/private/a", resource_policy=bucket).allowed


# -- AccessDenied messages --------------------------------------------------------------------------


def test_access_denied_message_for_an_implicit_deny() -> None:
    decision = decide("s3:ListBucket", BUCKET_ARN, identity(allow("ecr:*")))
    assert access_denied_message(SESSION_ARN, "s3:ListBucket", BUCKET_ARN, decision) == (
        "User: arn:aws:sts::123456789012:assumed-role/app/1234 is not authorized to perform: s3:ListBucket "
        "on resource: arn:aws:s3:::bucket because no identity-based policy allows the s3:ListBucket action"
    )


def test_access_denied_message_for_explicit_denies_says_which_kind_of_policy() -> None:
    in_identity = decide("s3:ListBucket", BUCKET_ARN, identity(deny("s3:*")))
    repository = resource_policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*"})
    in_resource = decide("s3:ListBucket", BUCKET_ARN, identity(allow("s3:*")), resource_policy=repository)
    head = f"User: {SESSION_ARN} is not authorized to perform: s3:ListBucket on resource: {BUCKET_ARN}"
    assert (
        access_denied_message(SESSION_ARN, "s3:ListBucket", BUCKET_ARN, in_identity)
        == f"{head} with an explicit deny in an identity-based policy"
    )
    assert (
        access_denied_message(SESSION_ARN, "s3:ListBucket", BUCKET_ARN, in_resource)
        == f"{head} with an explicit deny in a resource-based policy"
    )


def test_an_allowed_request_has_no_access_denied_message() -> None:
    decision = decide("s3:ListBucket", BUCKET_ARN, identity(allow("s3:*")))
    with pytest.raises(ValueError, match="AWS returns no AccessDenied message"):
        access_denied_message(SESSION_ARN, "s3:ListBucket", BUCKET_ARN, decision)


# -- trust policies ---------------------------------------------------------------------------------

ECS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def test_the_ecs_tasks_trust_policy_trusts_ecs_tasks() -> None:
    assert trusts(ECS_TRUST)
    assert trusts(json.dumps(ECS_TRUST), "ecs-tasks.amazonaws.com")
    assert trusts(parse_policy(ECS_TRUST, kind="trust"))
    assert not trusts(ECS_TRUST, "lambda.amazonaws.com")


def test_a_trust_policy_may_list_several_services() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
    assert trusts(document) and trusts(document, "lambda.amazonaws.com")


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},  # accounts, not services
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },  # ECS itself, not its tasks
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:TagSession"},
    ],
)
def test_a_trust_policy_that_does_not_name_the_service_for_assume_role_does_not_trust_it(statement: dict[str, Any]) -> None:
    assert not trusts({"Version": "2012-10-17", "Statement": [statement]})


def test_a_deny_in_the_trust_policy_wins() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            ECS_TRUST["Statement"][0],
            {"Effect": "Deny", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"},
        ],  # type: ignore[index]
    }
    assert not trusts(document)


def test_a_malformed_trust_policy_raises() -> None:
    with pytest.raises(MalformedPolicyDocument):
        trusts({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("bucket", 'Resource bucket must be in ARN format or "*".'),
        ("arn:aws", "Resource vendor must be fully qualified and cannot contain regexes."),
        ("arn:aws:s3:us-east-1::bucket", "Resource arn:aws:s3:us-east-1::bucket can not contain region information."),
        (
            f"arn:aws:iam:us-east-1:{ACCOUNT}:role/app",
            f"IAM resource arn:aws:iam:us-east-1:{ACCOUNT}:role/app cannot contain region information.",
        ),
    ],
)
def test_resources_must_be_arns_as_iam_reads_them(resource: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as error:
        identity(allow("s3:GetObject", resource))
    assert str(error.value) == f"MalformedPolicyDocument: {message}"


def test_s3_access_point_arns_carry_a_region() -> None:
    assert identity(allow("s3:GetObject", f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/reports/object/*")).statements
