"""Safety rails for the real-AWS target: nothing the course makes may surprise a learner's bill.

The local lab costs nothing; a real account does. When a learner opts into real AWS
(``ecslab.connect("aws")``, notebook 00 explains the choice) this module:

1. **names the account** before anything is made: :func:`confirm_account` refuses unless
   the learner confirmed the 12-digit account their credentials belong to
   (``ECSLAB_AWS_ACCOUNT`` or ``connect("aws", account=...)``), and says what the course
   creates there and roughly what an hour of it costs;
2. **tags everything the course creates** with ``ecslab:course=<course id>``
   (:data:`TAG_KEY`, :data:`COURSE_ID`) and ``ecslab:owner=<who>`` (:data:`OWNER_TAG_KEY`,
   :func:`owner_id`: the caller's ARN, so learners sharing one account are told apart):
   botocore event handlers on every client the aws :class:`~ecslab.target.Lab` makes add
   both tags to create calls (:data:`TAGGED_OPERATIONS`), never replacing a tag the learner
   set; log groups that ECS would create untagged (``awslogs-create-group``) are created
   first through the Lab's own, tagging, client (:func:`register_log_group_creation`);
3. **cleans up** what carries both tags and nothing else (:func:`cleanup`, ``ecslab
   cleanup``), in dependency order, with a dry run that prints the plan first; the plan is
   data, and a confirmed plan is what is deleted (nothing re-listed in between); a
   blocker the course did not make (another learner's task in a course VPC, say) is named
   at once instead of being waited for;
4. **estimates costs** (:func:`estimate_hourly_cost`) from AWS's public on-demand prices
   for us-east-1 (:data:`PRICES`, each with its source and date: an estimate, check the
   pricing pages).

The notebooks' clean-up cells call :func:`cleanup` when ``not lab.is_local``; everything
here works against moto too, which is how it is tested (never against a real account).
Only clients made by the Lab are tagged: a plain ``boto3.client(...)`` is not.
"""

from __future__ import annotations

import functools
import html
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ecslab.config import LabConfig
from ecslab.ecs import HOURS_PER_MONTH
from ecslab.ecs import PRICES as ECS_PRICES
from ecslab.target import Lab

__all__ = [
    "ACCOUNT_ENV",
    "COURSE_FOOTPRINT",
    "COURSE_ID",
    "CLEANUP_ORDER",
    "OWNER_ENV",
    "OWNER_TAG_KEY",
    "AccountNotConfirmed",
    "CleanupReport",
    "CostEstimate",
    "CourseResource",
    "Price",
    "PRICES",
    "TAG_KEY",
    "TAGGED_OPERATIONS",
    "TagParameter",
    "add_course_tag",
    "banner_html",
    "cleanup",
    "confirm_account",
    "connect_aws",
    "course_id",
    "estimate_hourly_cost",
    "find_course_resources",
    "open_lab",
    "owner_id",
    "register_course_tagging",
    "register_log_group_creation",
]

TAG_KEY = "ecslab:course"
"""The tag key on everything the course creates in a real account."""

COURSE_ID = "ecr-ecs-containers"
"""The tag's value: which course made a resource. ``ECSLAB_COURSE_ID`` overrides it
(e.g. one value per cohort), see :func:`course_id`."""

OWNER_TAG_KEY = "ecslab:owner"
"""The second tag key: who made a resource, so that one learner's clean-up in an account a
class shares never touches another learner's resources (:func:`owner_id` gives the value)."""

OWNER_ENV = "ECSLAB_OWNER"
"""Overrides the owner tag's value (default: the caller's ARN), e.g. when a learner's role
session names change from one session to the next; set the same value every time."""

ACCOUNT_ENV = "ECSLAB_AWS_ACCOUNT"
"""The environment variable where a learner confirms the account the course may spend in."""

WHAT_THE_COURSE_CREATES = (
    "ECR repositories (and the images you push), ECS clusters, task definitions, services and "
    "Fargate tasks, an Application Load Balancer with its target groups, CloudWatch log groups "
    "and alarms, IAM roles and policies, security groups, a Service Auto Scaling target and policy (notebook 06), "
    "and for notebook 07 a VPC with subnets, a route table and an internet gateway, a Secrets Manager secret and an SSM parameter"
)


def course_id() -> str:
    """The course id in the tag: ``ECSLAB_COURSE_ID`` when set, else :data:`COURSE_ID`."""
    return os.environ.get("ECSLAB_COURSE_ID") or COURSE_ID


_TAG_VALUE_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


def owner_id(sts: Any) -> str:
    """The ``ecslab:owner`` tag's value: ``ECSLAB_OWNER`` when set, else the caller's ARN.

    ``sts`` is an STS client (or a Lab). The ARN (``arn:aws:iam::ACCOUNT:user/NAME``, or
    ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` for a role, where IAM Identity Center
    puts the user's name in SESSION) is the same every time the same person connects. Characters
    a tag value may not hold (IAM allows letters, digits, spaces and ``_ . : / = + - @``) become
    ``_``; at most 256 characters, AWS's limit for a tag value."""
    value = os.environ.get(OWNER_ENV)
    if not value:
        client = sts.client("sts") if hasattr(sts, "client") else sts
        value = str(client.get_caller_identity()["Arn"])
    return _TAG_VALUE_UNSAFE.sub("_", value.strip())[:256]


# -- prices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """One published on-demand price: an estimate's input, to be checked on ``source``."""

    usd: float
    unit: str
    source: str
    as_of: str


_TAKEN = "2026-03 (AWS's pricing pages as quoted by dated copies; not re-checked online from here)"

PRICES: dict[str, Price] = {
    # Fargate's two prices are the ones notebook 04's EC2-vs-Fargate widget uses (ecslab.ecs.PRICES).
    "fargate_vcpu_hour": Price(
        ECS_PRICES["fargate_vcpu_hour"], "per vCPU-hour, Fargate Linux/x86", "https://aws.amazon.com/fargate/pricing/", _TAKEN
    ),
    "fargate_gb_hour": Price(
        ECS_PRICES["fargate_gb_hour"],
        "per GB of memory-hour, Fargate Linux/x86",
        "https://aws.amazon.com/fargate/pricing/",
        _TAKEN,
    ),
    "alb_hour": Price(
        0.0225,
        "per Application Load Balancer-hour (a partial hour counts as one)",
        "https://aws.amazon.com/elasticloadbalancing/pricing/",
        _TAKEN,
    ),
    "alb_lcu_hour": Price(
        0.008, "per load balancer capacity unit (LCU)-hour", "https://aws.amazon.com/elasticloadbalancing/pricing/", _TAKEN
    ),
    "public_ipv4_hour": Price(
        0.005,
        "per public IPv4 address-hour (each task with a public IP, each ALB zone)",
        "https://aws.amazon.com/vpc/pricing/",
        _TAKEN,
    ),
    "cloudwatch_alarm_month": Price(
        0.10, "per standard-resolution alarm metric-month", "https://aws.amazon.com/cloudwatch/pricing/", _TAKEN
    ),
    "cloudwatch_logs_ingested_gb": Price(
        0.50, "per GB of logs ingested (standard class)", "https://aws.amazon.com/cloudwatch/pricing/", _TAKEN
    ),
    "secret_month": Price(0.40, "per secret-month", "https://aws.amazon.com/secrets-manager/pricing/", _TAKEN),
    "ecr_storage_gb_month": Price(0.10, "per GB-month of images stored", "https://aws.amazon.com/ecr/pricing/", _TAKEN),
}
"""AWS's public on-demand prices in us-east-1 (USD), free tier ignored. They change and other
regions differ: every figure made from them is an estimate, check the pricing page."""


@dataclass(frozen=True)
class CostEstimate:
    """What a set-up costs per hour while it runs, line by line (USD, us-east-1, estimate)."""

    lines: tuple[tuple[str, float], ...]

    @property
    def per_hour(self) -> float:
        return sum(usd for _, usd in self.lines)

    @property
    def per_day(self) -> float:
        return self.per_hour * 24

    @property
    def per_month(self) -> float:
        return self.per_hour * HOURS_PER_MONTH

    def summary(self) -> str:
        return (
            f"about ${self.per_hour:.2f} an hour while it runs (${self.per_day:.2f} a day, "
            f"${self.per_month:.0f} a month if forgotten)"
        )

    def render(self) -> str:
        width = max([len(item) for item, _ in self.lines] + [5])
        rows = [f"{item:<{width}}  ${usd:.4f}/h" for item, usd in self.lines]
        rows.append(f"{'total':<{width}}  ${self.per_hour:.4f}/h  = {self.summary()}")
        rows.append("Estimate from AWS's us-east-1 on-demand prices (ecslab.aws_target.PRICES): check the pricing pages.")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(item)}</td><td style='text-align:right'>${usd:.4f}</td></tr>" for item, usd in self.lines
        )
        sources = sorted({price.source for price in PRICES.values()})
        links = " ".join(f"<a href='{s}'>{html.escape(s)}</a>" for s in sources)
        return (
            f"<table><tr><th>item</th><th>USD per hour</th></tr>{rows}"
            f"<tr><th>total</th><th style='text-align:right'>${self.per_hour:.4f}</th></tr></table>"
            f"<p>{html.escape(self.summary())}.</p><small>Estimate from AWS's on-demand prices for us-east-1 "
            f"taken {html.escape(_TAKEN)}; check the pricing pages: {links}</small>"
        )


def estimate_hourly_cost(
    tasks: int = 0,
    cpu: int = 256,
    memory: int = 512,
    load_balancers: int = 0,
    public_ips: int | None = None,
    alarms: int = 0,
    secrets: int = 0,
    log_gb_per_hour: float = 0.0,
    ecr_gb: float = 0.0,
    load_balancer_zones: int = 2,
    lcus_per_load_balancer: float = 1.0,
) -> CostEstimate:
    """An hour of ``tasks`` Fargate tasks of ``cpu`` units / ``memory`` MiB, ``load_balancers`` ALBs and the rest.

    ``public_ips`` defaults to one per task (the course runs tasks with ``assignPublicIp``
    ENABLED) plus one per zone of each internet-facing ALB. Monthly prices (alarms, secrets,
    image storage) are spread over 730 hours. Free tier ignored: an estimate, check the
    pricing pages (:data:`PRICES` has their addresses).
    """
    if min(tasks, cpu, memory, load_balancers, alarms, secrets) < 0:
        raise ValueError("Counts and sizes cannot be negative.")
    if public_ips is None:
        public_ips = tasks + load_balancers * load_balancer_zones
    p = {name: price.usd for name, price in PRICES.items()}
    lines: list[tuple[str, float]] = []
    if tasks:
        per_task = cpu / 1024 * p["fargate_vcpu_hour"] + memory / 1024 * p["fargate_gb_hour"]
        lines.append((f"{tasks} Fargate task(s), {cpu / 1024:g} vCPU / {memory / 1024:g} GB each", tasks * per_task))
    if load_balancers:
        lines.append(
            (
                f"{load_balancers} Application Load Balancer(s), {lcus_per_load_balancer:g} LCU each",
                load_balancers * (p["alb_hour"] + lcus_per_load_balancer * p["alb_lcu_hour"]),
            )
        )
    if public_ips:
        lines.append((f"{public_ips} public IPv4 address(es)", public_ips * p["public_ipv4_hour"]))
    if alarms:
        lines.append((f"{alarms} CloudWatch alarm(s)", alarms * p["cloudwatch_alarm_month"] / HOURS_PER_MONTH))
    if secrets:
        lines.append((f"{secrets} secret(s)", secrets * p["secret_month"] / HOURS_PER_MONTH))
    if log_gb_per_hour:
        lines.append((f"{log_gb_per_hour:g} GB of logs ingested per hour", log_gb_per_hour * p["cloudwatch_logs_ingested_gb"]))
    if ecr_gb:
        lines.append((f"{ecr_gb:g} GB of images in ECR", ecr_gb * p["ecr_storage_gb_month"] / HOURS_PER_MONTH))
    return CostEstimate(tuple(lines))


COURSE_FOOTPRINT: dict[str, int] = {"tasks": 3, "cpu": 256, "memory": 512, "load_balancers": 1, "alarms": 2, "secrets": 1}
"""The course at its largest (notebooks 06-08): a service of 3 small tasks behind one ALB, two alarms, one secret."""


# -- opt-in that names the account ------------------------------------------------------------


class AccountNotConfirmed(RuntimeError):
    """The learner has not confirmed the account their credentials would spend in."""


def _normalise_account(account: str) -> str:
    digits = re.sub(r"[\s-]", "", str(account))
    if not re.fullmatch(r"\d{12}", digits):
        raise AccountNotConfirmed(
            f"{account!r} is not an AWS account ID: it has 12 digits, e.g. 123456789012 "
            "(`aws sts get-caller-identity --query Account` prints yours)."
        )
    return digits


def confirm_account(sts: Any, account: str | None = None) -> str:
    """The account ``sts``'s credentials belong to, provided the learner confirmed it; else raise.

    ``account`` (or ``ECSLAB_AWS_ACCOUNT``) must equal ``sts.get_caller_identity()["Account"]``.
    The refusal says which account the credentials belong to, what the course creates there,
    roughly what an hour costs, and how to opt in.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        identity = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        raise AccountNotConfirmed(
            f"Could not ask AWS whose credentials these are ({error}); fix the credentials "
            "(`aws sts get-caller-identity` must work) or use the local lab."
        ) from None
    actual = str(identity["Account"])
    wanted = account if account is not None else os.environ.get(ACCOUNT_ENV)
    if wanted and _normalise_account(wanted) == actual:
        return actual
    region = getattr(getattr(sts, "meta", None), "region_name", None) or "your region"
    if wanted:
        first = (
            f"You confirmed account {_normalise_account(wanted)}, but these credentials ({identity.get('Arn', '?')}) "
            f"belong to account {actual}. Switch AWS_PROFILE to the account you meant, or confirm {actual}."
        )
    else:
        first = (
            f"Real AWS spends real money, so ecslab asks you to name the account first. These credentials "
            f"({identity.get('Arn', '?')}) belong to account {actual}, region {region}."
        )
    estimate = estimate_hourly_cost(**COURSE_FOOTPRINT)
    raise AccountNotConfirmed(
        f"{first}\n"
        f"The course creates there, tagged {TAG_KEY}={course_id()} and {OWNER_TAG_KEY}=<your ARN>: {WHAT_THE_COURSE_CREATES}.\n"
        f"At its largest (3 Fargate tasks of 0.25 vCPU / 0.5 GB, one ALB, 5 public IPv4 addresses) that is "
        f"{estimate.summary()}: an estimate from us-east-1 on-demand prices, check the pricing pages.\n"
        f"To opt in: export {ACCOUNT_ENV}={actual} before starting JupyterLab, or "
        f'ecslab.connect("aws", account="{actual}"). When you are done: `ecslab cleanup --dry-run`, then `ecslab cleanup`.'
    )


def banner_html(account_id: str, region: str) -> str:
    """The banner on an aws Lab's HTML repr: whose money, where."""
    return (
        "<div style='border:2px solid #b00020;background:#fdecea;color:#5f0010;padding:6px 10px;margin:4px 0;"
        f"font-weight:bold'>real AWS: account {html.escape(account_id)}, region {html.escape(region)}. "
        "What you create here is billed to this account; <code>ecslab cleanup</code> removes what the course "
        f"made for you (tags <code>{html.escape(TAG_KEY)}={html.escape(course_id())}</code> and "
        f"<code>{html.escape(OWNER_TAG_KEY)}</code> = your ARN).</div>"
    )


def connect_aws(config: LabConfig, account: str | None = None) -> Lab:
    """``ecslab.connect("aws")``: a boto3 session from the learner's credentials, then :func:`open_lab`."""
    import boto3

    session = boto3.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or config.region)
    if session.get_credentials() is None:
        raise RuntimeError("target 'aws' needs AWS credentials: run `aws configure` or set AWS_PROFILE; or use the local lab.")
    return open_lab(session, config, account=account)


def open_lab(session: Any, config: LabConfig, account: str | None = None) -> Lab:
    """The aws :class:`~ecslab.target.Lab` for ``session``: account confirmed, every client tagging.

    Called by :func:`ecslab.connect` for ``target="aws"`` (through :func:`connect_aws`)."""
    sts = session.client("sts")
    confirmed = confirm_account(sts, account)
    lab_course, owner = course_id(), owner_id(sts)
    hooks: list[Callable[[Any], None]] = [lambda client: register_course_tagging(client, lab_course, owner)]
    region = str(session.region_name)
    banner = banner_html(confirmed, region)
    lab = Lab("aws", region, None, config, session, _client_hooks=hooks, _confirmed_account=confirmed, _banner_html=banner)
    hooks.append(lambda client: register_log_group_creation(client, lambda: lab.logs))
    return lab


# -- tagging what the course creates ----------------------------------------------------------


@dataclass(frozen=True)
class TagParameter:
    """Where one create call takes its tags.

    ``style``: ``"list"`` (a list of ``{key_name: ..., value_name: ...}``), ``"map"`` (a dict
    of key to value), ``"tag-specifications"`` (EC2's ``[{"ResourceType": ..., "Tags": [...]}]``).
    """

    service: str
    operation: str
    parameter: str
    style: str = "list"
    key_name: str = "Key"
    value_name: str = "Value"
    resource_type: str = ""


TAGGED_OPERATIONS: tuple[TagParameter, ...] = (
    TagParameter("ecr", "CreateRepository", "tags"),
    TagParameter("ecs", "CreateCluster", "tags", key_name="key", value_name="value"),
    TagParameter("ecs", "CreateService", "tags", key_name="key", value_name="value"),
    TagParameter("ecs", "RegisterTaskDefinition", "tags", key_name="key", value_name="value"),
    TagParameter("ecs", "RunTask", "tags", key_name="key", value_name="value"),
    TagParameter("elbv2", "CreateLoadBalancer", "Tags"),
    TagParameter("elbv2", "CreateTargetGroup", "Tags"),
    TagParameter("iam", "CreateRole", "Tags"),
    TagParameter("iam", "CreatePolicy", "Tags"),
    TagParameter("logs", "CreateLogGroup", "tags", style="map"),
    TagParameter("ec2", "CreateSecurityGroup", "TagSpecifications", style="tag-specifications", resource_type="security-group"),
    TagParameter("ec2", "CreateVpc", "TagSpecifications", style="tag-specifications", resource_type="vpc"),
    TagParameter("ec2", "CreateSubnet", "TagSpecifications", style="tag-specifications", resource_type="subnet"),
    TagParameter(
        "ec2", "CreateInternetGateway", "TagSpecifications", style="tag-specifications", resource_type="internet-gateway"
    ),
    TagParameter("ec2", "CreateRouteTable", "TagSpecifications", style="tag-specifications", resource_type="route-table"),
    TagParameter("application-autoscaling", "RegisterScalableTarget", "Tags", style="map"),
    TagParameter("secretsmanager", "CreateSecret", "Tags"),
    TagParameter("ssm", "PutParameter", "Tags"),
    TagParameter("cloudwatch", "PutMetricAlarm", "Tags"),
)
"""Create calls that take tags, and how. S3's CreateBucket is tagged after the call (PutBucketTagging).
Application Auto Scaling's PutScalingPolicy takes no tags: a scaling policy goes with its
scalable target (DeregisterScalableTarget deletes it), which is tagged."""

PROPAGATE_TAGS_OPERATIONS = (("ecs", "CreateService"), ("ecs", "RunTask"))
"""ECS calls given ``propagateTags=TASK_DEFINITION`` when the learner left it unset, so tasks carry the tag."""


def add_course_tag(params: dict[str, Any], spec: TagParameter, course: str | None = None, owner: str | None = None) -> None:
    """Add ``ecslab:course`` (and ``ecslab:owner`` when ``owner`` is given) to ``params`` for the call ``spec`` describes.

    Every tag already there stays, and a tag the learner set under the same key wins. SSM's
    PutParameter with ``Overwrite`` updates a parameter and AWS refuses tags there, so it is
    left as it is.
    """
    wanted = {TAG_KEY: course or course_id()}
    if owner:
        wanted[OWNER_TAG_KEY] = owner
    if (spec.service, spec.operation) in PROPAGATE_TAGS_OPERATIONS:
        params.setdefault("propagateTags", "TASK_DEFINITION")
    if spec.service == "ssm" and spec.operation == "PutParameter" and params.get("Overwrite"):
        return
    if spec.style == "map":
        tags = dict(params.get(spec.parameter) or {})
        for key, value in wanted.items():
            tags.setdefault(key, value)
        params[spec.parameter] = tags
        return
    if spec.style == "tag-specifications":
        specs = [dict(s) for s in params.get(spec.parameter) or []]
        mine = next((s for s in specs if s.get("ResourceType") == spec.resource_type), None)
        if mine is None:
            mine = {"ResourceType": spec.resource_type, "Tags": []}
            specs.append(mine)
        mine["Tags"] = _with_tags(mine.get("Tags"), wanted, "Key", "Value")
        params[spec.parameter] = specs
        return
    params[spec.parameter] = _with_tags(params.get(spec.parameter), wanted, spec.key_name, spec.value_name)


def _with_tags(tags: Iterable[dict[str, Any]] | None, wanted: dict[str, str], key: str, value: str) -> list[dict[str, Any]]:
    tags_list = list(tags or [])
    present = {tag.get(key) for tag in tags_list}
    return tags_list + [{key: k, value: v} for k, v in wanted.items() if k not in present]


def _bucket_tagger(client: Any, course: str, owner: str | None) -> Callable[..., None]:
    wanted = {TAG_KEY: course, **({OWNER_TAG_KEY: owner} if owner else {})}

    def tag_bucket(http_response: Any, context: dict[str, Any], **_kwargs: Any) -> None:
        bucket = context.pop("ecslab_new_bucket", None)
        if bucket is None or getattr(http_response, "status_code", 500) >= 300:
            return
        from botocore.exceptions import ClientError

        try:
            try:
                tag_set = client.get_bucket_tagging(Bucket=bucket)["TagSet"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchTagSet":
                    raise
                tag_set = []
            new_set = _with_tags(tag_set, wanted, "Key", "Value")
            if new_set != tag_set:
                client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": new_set})
        except ClientError as error:
            warnings.warn(
                f"Bucket {bucket} was created but could not be tagged {TAG_KEY}={course} ({error}): "
                "`ecslab cleanup` will not find it; delete it yourself when done.",
                stacklevel=2,
            )

    return tag_bucket


def register_course_tagging(client: Any, course: str | None = None, owner: str | None = None) -> None:
    """Register the tag handlers on one boto3 client (any service; those without create calls get none).

    Handlers hang on ``before-parameter-build.<service>.<Operation>`` (S3's CreateBucket also on
    ``after-call``); registering twice replaces rather than doubles them. ``owner`` (see
    :func:`owner_id`) adds the ``ecslab:owner`` tag."""
    course = course or course_id()
    service_model = client.meta.service_model
    service, event_service = service_model.service_name, service_model.service_id.hyphenize()
    for spec in TAGGED_OPERATIONS:
        if spec.service != service:
            continue

        def handler(params: dict[str, Any], spec: TagParameter = spec, **_kwargs: Any) -> None:
            add_course_tag(params, spec, course, owner)

        client.meta.events.register(
            f"before-parameter-build.{event_service}.{spec.operation}",
            handler,
            unique_id=f"ecslab-course-tag-{service}-{spec.operation}",
        )
    if service == "s3":

        def remember_bucket(params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
            context["ecslab_new_bucket"] = params.get("Bucket")

        client.meta.events.register(
            f"before-parameter-build.{event_service}.CreateBucket", remember_bucket, unique_id="ecslab-course-tag-s3-CreateBucket"
        )
        client.meta.events.register(
            f"after-call.{event_service}.CreateBucket",
            _bucket_tagger(client, course, owner),
            unique_id="ecslab-course-tag-s3-CreateBucket-after",
        )


AWSLOGS_OPERATIONS = ("RegisterTaskDefinition", "RunTask", "StartTask", "CreateService", "UpdateService")
"""ECS calls before which a missing ``awslogs-create-group`` log group is made through the Lab's client."""


def awslogs_groups_to_create(container_definitions: Iterable[dict[str, Any]], region: str) -> list[str]:
    """The log groups ECS would create itself (``awslogs`` with ``awslogs-create-group`` "true", in ``region``)."""
    groups: list[str] = []
    for container in container_definitions:
        configuration = container.get("logConfiguration") or {}
        options = configuration.get("options") or {}
        if configuration.get("logDriver") != "awslogs" or str(options.get("awslogs-create-group", "")).lower() != "true":
            continue
        group = options.get("awslogs-group")
        if group and options.get("awslogs-region", region) == region and group not in groups:
            groups.append(group)
    return groups


def register_log_group_creation(client: Any, logs: Callable[[], Any]) -> None:
    """On an ECS client: before a task definition with ``awslogs-create-group`` is registered or run, create its log group.

    ECS's own CreateLogGroup (made with the execution role) tags nothing, so `ecslab cleanup`
    would never find the group. ``logs()`` returns the Lab's logs client, which tags it; a group
    that exists is left as it is. Other clients get no handler."""
    service_model = client.meta.service_model
    if service_model.service_name != "ecs":
        return
    event_service = service_model.service_id.hyphenize()

    def ensure_groups(params: dict[str, Any], model: Any, **_kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        definitions = params.get("containerDefinitions")
        if definitions is None and params.get("taskDefinition"):
            try:
                described = client.describe_task_definition(taskDefinition=params["taskDefinition"])
            except ClientError:
                return  # ECS answers the call itself with the reason
            definitions = described["taskDefinition"].get("containerDefinitions", [])
        logs_client = logs()
        for group in awslogs_groups_to_create(definitions or [], str(logs_client.meta.region_name)):
            try:
                logs_client.create_log_group(logGroupName=group)
            except ClientError as error:
                if _error_code(error) != "ResourceAlreadyExistsException":
                    warnings.warn(
                        f"Could not create log group {group} through the Lab ({error}); ECS will create it "
                        "untagged and `ecslab cleanup` will not find it.",
                        stacklevel=2,
                    )

    for operation in AWSLOGS_OPERATIONS:
        client.meta.events.register(
            f"before-parameter-build.{event_service}.{operation}", ensure_groups, unique_id=f"ecslab-awslogs-group-{operation}"
        )


# -- finding what the course made ----------------------------------------------------------------

CLEANUP_ORDER: tuple[tuple[str, str], ...] = (
    ("application-autoscaling scalable target", "deregister (its scaling policies go with it)"),
    ("ecs service", "scale to 0, delete"),
    ("ecs task", "stop"),
    ("ecs task definition", "deregister"),
    ("ecs cluster", "delete (once its services and tasks are gone)"),
    ("elbv2 listener", "delete"),
    ("elbv2 load balancer", "delete"),
    ("elbv2 target group", "delete"),
    ("ec2 security group", "delete (retried while the ALB's network interfaces go)"),
    ("ec2 route table", "disassociate from its subnets, delete"),
    ("ec2 internet gateway", "detach from its VPC, delete"),
    ("ec2 subnet", "delete (retried while network interfaces go)"),
    ("ec2 vpc", "delete (its default security group, main route table and network ACL go with it)"),
    ("ecr repository", "delete with its images"),
    ("logs log group", "delete with its logs"),
    ("cloudwatch alarm", "delete"),
    ("secretsmanager secret", "schedule deletion (7-day recovery window)"),
    ("ssm parameter", "delete"),
    ("iam role", "detach and delete its policies, delete"),
    ("iam policy", "delete its old versions, delete"),
    ("s3 bucket", "empty (every version), delete"),
)
"""Kinds of resource in the order they are deleted, each with what is done to it."""

_ORDER = {kind: index for index, (kind, _) in enumerate(CLEANUP_ORDER)}


@dataclass(frozen=True)
class CourseResource:
    """One resource carrying the course and owner tags (or belonging to one that does, e.g. a tagged ALB's listener)."""

    kind: str
    arn: str
    name: str
    parent: str = ""  # the cluster of a service or task; the VPC of a subnet, route table or internet gateway
    action: str = ""

    @property
    def resource_id(self) -> str:
        """The ID an API takes: ``sg-...``, ``vpc-...``, ``subnet-...``; the name otherwise."""
        return self.arn.rsplit("/", 1)[-1] if self.kind.startswith("ec2 ") else self.name

    def row(self) -> tuple[str, str, str]:
        return (self.kind, self.name if self.name == self.arn else f"{self.name}  ({self.arn})", self.action)


def _tagged(
    tags: Iterable[dict[str, Any]] | dict[str, str] | None, course: str, owner: str | None, key: str = "Key", value: str = "Value"
) -> bool:
    """Whether ``tags`` say course ``course`` and, unless ``owner`` is None, owner ``owner``."""
    found = dict(tags) if isinstance(tags, dict) else {tag.get(key): tag.get(value) for tag in tags or []}
    return found.get(TAG_KEY) == course and (owner is None or found.get(OWNER_TAG_KEY) == owner)


def _pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _from_arn(arn: str) -> CourseResource | None:
    """The kind and name of a tagged resource the Resource Groups Tagging API returned."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    if service == "elasticloadbalancing":
        if resource.startswith("loadbalancer/"):
            return CourseResource("elbv2 load balancer", arn, resource.split("/")[2] if resource.count("/") >= 2 else resource)
        if resource.startswith("targetgroup/"):
            return CourseResource("elbv2 target group", arn, resource.split("/")[1])
        if resource.startswith("listener/"):
            return CourseResource("elbv2 listener", arn, arn)
    elif service == "ec2" and "/" in resource:
        kind = {
            "security-group": "ec2 security group",
            "vpc": "ec2 vpc",
            "subnet": "ec2 subnet",
            "route-table": "ec2 route table",
            "internet-gateway": "ec2 internet gateway",
        }.get(resource.split("/", 1)[0])
        return CourseResource(kind, arn, resource.split("/", 1)[1]) if kind else None
    elif service == "logs" and resource.startswith("log-group:"):
        name = resource[len("log-group:") :]
        return CourseResource("logs log group", arn, name[:-2] if name.endswith(":*") else name)
    elif service == "cloudwatch" and resource.startswith("alarm:"):
        return CourseResource("cloudwatch alarm", arn, resource[len("alarm:") :])
    elif service == "secretsmanager" and resource.startswith("secret:"):
        return CourseResource("secretsmanager secret", arn, resource[len("secret:") : -7] or resource)
    elif service == "s3" and resource and "/" not in resource:
        return CourseResource("s3 bucket", arn, resource)
    return None


def find_course_resources(
    lab: Lab, course: str | None = None, notes: list[str] | None = None, owner: str | None = None
) -> list[CourseResource]:
    """Everything in ``lab``'s account and region tagged ``ecslab:course=<course>`` and ``ecslab:owner=<owner>``, in :data:`CLEANUP_ORDER`.

    ``owner`` defaults to this caller's (:func:`owner_id`): another learner's resources in a
    shared account carry another owner and are never listed. The Resource Groups Tagging API
    finds most of it; ECS, ECR, IAM (global), SSM, EC2 and Application Auto Scaling are listed
    service by service as well, because the tagging API misses some of them (task definitions,
    IAM) or lags behind. A scalable target also counts as the course's when the service it
    scales does (AWS keeps no scalable target of a deleted service). What could not be listed,
    and how many course resources belong to someone else, is said in ``notes``."""
    finder = _CourseResourceFinder(lab, course or course_id(), owner or owner_id(lab), notes if notes is not None else [])
    finder.listing("tagged resources (resourcegroupstaggingapi)", finder.tagging_api)
    finder.listing("ECS clusters, services, tasks and task definitions", finder.ecs)
    finder.listing("Application Auto Scaling scalable targets", finder.autoscaling)
    finder.listing("ECR repositories", finder.ecr)
    finder.listing("security groups, VPCs, subnets, route tables and internet gateways", finder.ec2)
    finder.listing("SSM parameters", finder.ssm)
    finder.listing("IAM roles and policies", finder.iam)
    for resource in [r for r in finder.found.values() if r.kind == "elbv2 load balancer"]:
        finder.listing(f"the listeners of {resource.name}", functools.partial(finder.listeners, resource))
    actions = dict(CLEANUP_ORDER)
    resources = [CourseResource(r.kind, r.arn, r.name, r.parent, r.action or actions[r.kind]) for r in finder.found.values()]
    return sorted(resources, key=lambda r: (_ORDER[r.kind], r.name))


@dataclass
class _CourseResourceFinder:
    """:func:`find_course_resources`, one method per service; ``found`` collects by ARN, ``notes`` what went wrong."""

    lab: Lab
    course: str
    owner: str
    notes: list[str]
    found: dict[str, CourseResource] = field(default_factory=dict)

    def add(self, resource: CourseResource | None) -> None:
        if resource is not None and resource.arn not in self.found and resource.kind in _ORDER:
            self.found[resource.arn] = resource

    def replace(self, resource: CourseResource) -> None:
        self.found.pop(resource.arn, None)  # the tagging API knows only the ID; this name says which it is
        self.add(resource)

    def ours(self, tags: Iterable[dict[str, Any]] | dict[str, str] | None, key: str = "Key", value: str = "Value") -> bool:
        return _tagged(tags, self.course, self.owner, key, value)

    def listing(self, what: str, run: Callable[[], None]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            run()
        except (ClientError, BotoCoreError) as error:
            self.notes.append(f"could not list {what}: {error}")

    def tagging_api(self) -> None:
        tagging = self.lab.client("resourcegroupstaggingapi")
        others = 0
        for mapping in _pages(
            tagging, "get_resources", "ResourceTagMappingList", TagFilters=[{"Key": TAG_KEY, "Values": [self.course]}]
        ):
            if self.ours(mapping.get("Tags")):
                self.add(_from_arn(mapping["ResourceARN"]))
            else:
                others += 1
        if others:
            self.notes.append(
                f"{others} other resource(s) tagged {TAG_KEY}={self.course} belong to another owner (or to none): "
                "not listed, never touched"
            )

    def ecs(self) -> None:
        client = self.lab.ecs
        cluster_arns = list(_pages(client, "list_clusters", "clusterArns"))
        for chunk in _chunks(cluster_arns, 100):
            for cluster in client.describe_clusters(clusters=chunk, include=["TAGS"])["clusters"]:
                if cluster.get("status") == "ACTIVE" and self.ours(cluster.get("tags"), "key", "value"):
                    self.add(CourseResource("ecs cluster", cluster["clusterArn"], cluster["clusterName"]))
        for cluster_arn in cluster_arns:
            self.ecs_services_and_tasks(cluster_arn)
        for arn in _pages(client, "list_task_definitions", "taskDefinitionArns", status="ACTIVE"):
            described = client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            if self.ours(described.get("tags"), "key", "value"):
                self.add(CourseResource("ecs task definition", arn, arn.rsplit("/", 1)[-1]))

    def ecs_services_and_tasks(self, cluster_arn: str) -> None:
        client = self.lab.ecs
        cluster_name = cluster_arn.rsplit("/", 1)[-1]
        service_arns = list(_pages(client, "list_services", "serviceArns", cluster=cluster_arn))
        for chunk in _chunks(service_arns, 10):
            for service in client.describe_services(cluster=cluster_arn, services=chunk, include=["TAGS"])["services"]:
                if service.get("status") != "INACTIVE" and self.ours(service.get("tags"), "key", "value"):
                    self.add(CourseResource("ecs service", service["serviceArn"], service["serviceName"], parent=cluster_arn))
        task_arns = list(_pages(client, "list_tasks", "taskArns", cluster=cluster_arn, desiredStatus="RUNNING"))
        for chunk in _chunks(task_arns, 100):
            for task in client.describe_tasks(cluster=cluster_arn, tasks=chunk, include=["TAGS"])["tasks"]:
                if self.ours(task.get("tags"), "key", "value"):
                    name = f"{cluster_name}/{task['taskArn'].rsplit('/', 1)[-1]}"
                    self.add(CourseResource("ecs task", task["taskArn"], name, parent=cluster_arn))

    def autoscaling(self) -> None:
        client = self.lab.client("application-autoscaling")
        services = {f"service/{r.parent.rsplit('/', 1)[-1]}/{r.name}" for r in self.found.values() if r.kind == "ecs service"}
        for target in _pages(client, "describe_scalable_targets", "ScalableTargets", ServiceNamespace="ecs"):
            mine = target["ResourceId"] in services
            if not mine and target.get("ScalableTargetARN"):
                try:
                    mine = self.ours(client.list_tags_for_resource(ResourceARN=target["ScalableTargetARN"]).get("Tags"))
                except Exception:  # an endpoint without tagging (moto): the service decides alone
                    mine = False
            if mine:
                self.add(
                    CourseResource(
                        "application-autoscaling scalable target",
                        target.get("ScalableTargetARN") or f"{target['ResourceId']}|{target['ScalableDimension']}",
                        target["ResourceId"],
                        parent=target["ScalableDimension"],
                    )
                )

    def ecr(self) -> None:
        ecr = self.lab.ecr
        for repository in _pages(ecr, "describe_repositories", "repositories"):
            if self.ours(ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags")):
                self.add(CourseResource("ecr repository", repository["repositoryArn"], repository["repositoryName"]))

    def ec2(self) -> None:
        lab, ec2 = self.lab, self.lab.ec2
        where = [{"Name": f"tag:{TAG_KEY}", "Values": [self.course]}, {"Name": f"tag:{OWNER_TAG_KEY}", "Values": [self.owner]}]
        prefix = f"arn:aws:ec2:{lab.region}:{lab.account_id}"
        for group in _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=where):
            arn = f"arn:aws:ec2:{lab.region}:{group['OwnerId']}:security-group/{group['GroupId']}"
            name = f"{group['GroupName']} ({group['GroupId']})"
            self.replace(CourseResource("ec2 security group", arn, name, parent=group.get("VpcId", "")))
        for vpc in _pages(ec2, "describe_vpcs", "Vpcs", Filters=where):
            self.replace(
                CourseResource("ec2 vpc", f"{prefix}:vpc/{vpc['VpcId']}", _named(vpc, vpc["VpcId"]), parent=vpc["VpcId"])
            )
        for subnet in _pages(ec2, "describe_subnets", "Subnets", Filters=where):
            arn, name = f"{prefix}:subnet/{subnet['SubnetId']}", _named(subnet, subnet["SubnetId"])
            self.replace(CourseResource("ec2 subnet", arn, name, parent=subnet["VpcId"]))
        for table in _pages(ec2, "describe_route_tables", "RouteTables", Filters=where):
            arn, name = f"{prefix}:route-table/{table['RouteTableId']}", _named(table, table["RouteTableId"])
            self.replace(CourseResource("ec2 route table", arn, name, parent=table["VpcId"]))
        for gateway in _pages(ec2, "describe_internet_gateways", "InternetGateways", Filters=where):
            vpcs = ",".join(a["VpcId"] for a in gateway.get("Attachments", []))
            arn = f"{prefix}:internet-gateway/{gateway['InternetGatewayId']}"
            self.replace(CourseResource("ec2 internet gateway", arn, _named(gateway, gateway["InternetGatewayId"]), parent=vpcs))

    def ssm(self) -> None:
        where = [{"Key": f"tag:{TAG_KEY}", "Values": [self.course]}, {"Key": f"tag:{OWNER_TAG_KEY}", "Values": [self.owner]}]
        for parameter in _pages(self.lab.client("ssm"), "describe_parameters", "Parameters", ParameterFilters=where):
            name = parameter["Name"]
            arn = parameter.get("ARN") or f"arn:aws:ssm:{self.lab.region}:{self.lab.account_id}:parameter/{name.lstrip('/')}"
            self.replace(CourseResource("ssm parameter", arn, name))

    def iam(self) -> None:
        iam = self.lab.iam
        for role in _pages(iam, "list_roles", "Roles"):
            if role["Path"].startswith("/aws-service-role/"):
                continue
            if self.ours(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags")):
                self.add(CourseResource("iam role", role["Arn"], role["RoleName"]))
        for policy in _pages(iam, "list_policies", "Policies", Scope="Local"):
            if self.ours(iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags")):
                self.add(CourseResource("iam policy", policy["Arn"], policy["PolicyName"]))

    def listeners(self, load_balancer: CourseResource) -> None:
        for listener in _pages(self.lab.elbv2, "describe_listeners", "Listeners", LoadBalancerArn=load_balancer.arn):
            self.add(CourseResource("elbv2 listener", listener["ListenerArn"], f"{load_balancer.name}:{listener['Port']}"))


def _named(item: dict[str, Any], item_id: str) -> str:
    """``NAME (ID)`` when the EC2 item has a ``Name`` tag, else its ID."""
    name = next((t["Value"] for t in item.get("Tags", []) if t["Key"] == "Name"), "")
    return f"{name} ({item_id})" if name else item_id


# -- deleting it ------------------------------------------------------------------------------------


@dataclass
class CleanupReport:
    """The plan (dry run) or the outcome of :func:`cleanup`: deleted, already gone, and not deleted with the reason."""

    account: str
    region: str
    course: str
    plan: list[CourseResource]
    dry_run: bool
    deleted: list[tuple[CourseResource, str]] = field(default_factory=list)
    failed: list[tuple[CourseResource, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    owner: str = ""
    gone: list[CourseResource] = field(default_factory=list)  # in the plan, but gone before its turn came

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def head(self) -> str:
        owner = f", {OWNER_TAG_KEY}={self.owner}" if self.owner else ""
        return f"{TAG_KEY}={self.course}{owner} in account {self.account}, region {self.region}"

    def render(self) -> str:
        lines: list[str] = []
        if self.dry_run:
            lines.append(self.render_plan())
            lines.append("Dry run: nothing was deleted. `ecslab cleanup` (or cleanup(lab, dry_run=False)) does it.")
        else:
            lines.append(
                f"Clean-up of {self.head}: {len(self.deleted)} deleted, {len(self.gone)} already gone, "
                f"{len(self.failed)} not deleted."
            )
            if self.deleted:
                lines.append("Deleted:")
                lines.extend(_table(("type", "name", "result"), [(r.kind, r.name, note) for r, note in self.deleted]))
            if self.gone:
                lines.append("Already gone when their turn came (deleted meanwhile, not by this clean-up):")
                lines.extend(_table(("type", "name", "result"), [(r.kind, r.name, "nothing to do") for r in self.gone]))
            if self.failed:
                lines.append("Not deleted (still there, may still cost money):")
                lines.extend(_table(("type", "name", "reason"), [(r.kind, r.name, reason) for r, reason in self.failed]))
        lines.extend(f"Note: {note}" for note in self.notes)
        lines.append("Only resources carrying both tags are touched; IAM is global, the rest is this region's.")
        return "\n".join(lines)

    def render_plan(self) -> str:
        """The plan as a table: type, name / ARN, action."""
        if not self.plan:
            return f"Nothing tagged {self.head}: nothing to delete."
        rows = _table(("type", "name / ARN", "action"), [r.row() for r in self.plan])
        return "\n".join([f"The plan for {self.head}: {len(self.plan)} resources, in this order", *rows])

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.render())}</pre>"


def _table(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(2)]
    return [f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in [header, *rows]]


class _Retry(Exception):
    """Raised by a deletion that AWS refused for now (a dependency still going away)."""


class _Gone(Exception):
    """Raised by a deletion whose resource is no longer there."""


class Blocked(RuntimeError):
    """A deletion is refused because of something the course did not make: waiting would not help."""


RETRY_CODES = {
    "DependencyViolation",
    "ResourceInUse",
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "UpdateInProgressException",
    "ConcurrentModification",
    "DeleteConflict",
}
GONE_CODES = {
    "ResourceNotFoundException",
    "ParameterNotFound",
    "NoSuchEntity",
    "NoSuchBucket",
    "InvalidGroup.NotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RepositoryNotFoundException",
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "ServiceNotActiveException",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "ObjectNotFoundException",
}


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def cleanup(
    lab: Lab,
    dry_run: bool = True,
    force_delete_secrets: bool = False,
    course: str | None = None,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    patience_seconds: float = 600.0,
    plan: CleanupReport | Iterable[CourseResource] | None = None,
    owner: str | None = None,
) -> CleanupReport:
    """Delete what carries ``ecslab:course=<course>`` and ``ecslab:owner=<owner>`` in ``lab``'s account and region; a dry run by default.

    ``owner`` defaults to this caller's (:func:`owner_id`). ``plan``: a plan shown earlier (a dry
    run's report, or its resources): exactly that is deleted, nothing is listed again, and what
    vanished since is reported as gone. Without it the resources are listed now.

    Order (:data:`CLEANUP_ORDER`): scalable targets deregistered (their scaling policies go
    with them); ECS services scaled to 0 and deleted, tagged tasks stopped, task definitions
    deregistered, clusters; listeners, load balancers, target groups; security groups once the
    ALB's network interfaces are gone (rules in the course's other groups that name them are
    revoked first); a course VPC's route tables, internet gateway and subnets, then the VPC; ECR
    repositories with their images; log groups; alarms; secrets (scheduled for deletion in 7 days,
    or at once and unrecoverably with ``force_delete_secrets``); SSM parameters; IAM roles (their
    policies detached or deleted first) and policies; S3 buckets emptied then deleted.

    What AWS refuses for now (DependencyViolation, ...) is retried with backoff, up to
    ``patience_seconds``, while it can still go by itself (an ALB's network interfaces after the
    ALB); a blocker the course did not make (an untagged task, a network interface of someone
    else's load balancer or instance, a subnet someone added to the course VPC) is named at once
    and not waited for. Untagged resources are never touched.
    """
    course = course or course_id()
    owner = owner or owner_id(lab)
    resources, notes = _planned(lab, plan, course, owner, force_delete_secrets)
    report = CleanupReport(str(lab.account_id), str(lab.region), course, resources, dry_run, notes=notes, owner=owner)
    if dry_run:
        return report
    deleter = _Deleter(lab, force_delete_secrets, sleep, patience_seconds, resources)
    for number, resource in enumerate(resources, 1):
        say(f"[{number}/{len(resources)}] {resource.kind} {resource.name}: {resource.action} ...")
        try:
            note = deleter.delete(resource)
        except _Gone:
            report.gone.append(resource)
            say("    already gone")
        except Exception as error:  # every failure is reported, none stops the rest
            reason = str(error) or type(error).__name__
            report.failed.append((resource, reason))
            say(f"    not deleted: {reason}")
        else:
            report.deleted.append((resource, note))
            say(f"    {note}")
    return report


def _planned(
    lab: Lab, plan: CleanupReport | Iterable[CourseResource] | None, course: str, owner: str, force_delete_secrets: bool
) -> tuple[list[CourseResource], list[str]]:
    """What :func:`cleanup` deletes, with its notes: the plan given, or what is listed now."""
    if isinstance(plan, CleanupReport):
        return list(plan.plan), list(plan.notes)
    if plan is not None:
        return list(plan), []
    notes: list[str] = []
    found = find_course_resources(lab, course, notes, owner=owner)
    steps = [_secret_step(lab, r, force_delete_secrets, notes) if r.kind == "secretsmanager secret" else r for r in found]
    return [r for r in steps if r is not None], notes


def _secret_step(lab: Lab, secret: CourseResource, force: bool, notes: list[str]) -> CourseResource | None:
    """A secret's step: none when it is already scheduled for deletion (unless ``force``), said in ``notes``."""
    from botocore.exceptions import ClientError

    try:
        deleted = lab.client("secretsmanager").describe_secret(SecretId=secret.arn).get("DeletedDate")
    except ClientError:
        deleted = None
    if force:
        return CourseResource(secret.kind, secret.arn, secret.name, secret.parent, "delete now, without recovery")
    if deleted:
        notes.append(
            f"secret {secret.name} is already scheduled for deletion on {deleted:%Y-%m-%d} "
            "(--force-delete-secrets deletes it now)"
        )
        return None
    return secret


_LONG_LIVED_INTERFACES = {
    "natGateway",
    "vpc_endpoint",
    "lambda",
    "network_load_balancer",
    "gateway_load_balancer",
    "gateway_load_balancer_endpoint",
    "transit_gateway",
    "efa",
    "efa-only",
    "quicksight",
    "api_gateway_managed",
    "global_accelerator_managed",
    "iot_rules_managed",
    "aws_codestar_connections_managed",
}
"""Network interface types (EC2's NetworkInterfaceType) whose owner lives on after the course's resources are gone."""

_NETWORK_KINDS = ("ec2 security group", "ec2 route table", "ec2 internet gateway", "ec2 subnet", "ec2 vpc")


class _Deleter:
    """How each kind of resource is deleted; retries what AWS refuses while a dependency goes away, names what will not."""

    def __init__(
        self,
        lab: Lab,
        force_delete_secrets: bool,
        sleep: Callable[[float], None],
        patience_seconds: float,
        plan: Iterable[CourseResource] = (),
    ) -> None:
        self.lab, self.force_delete_secrets, self.sleep, self.patience = lab, force_delete_secrets, sleep, patience_seconds
        self.plan = list(plan)
        self._foreign_cache: dict[str, str] | None = None

    def _in_plan(self, kind: str) -> list[CourseResource]:
        return [r for r in self.plan if r.kind == kind]

    def delete(self, resource: CourseResource) -> str:
        from botocore.exceptions import ClientError

        method = getattr(self, "_" + resource.kind.replace(" ", "_").replace("-", "_"))
        waited, delay = 0.0, 2.0
        while True:
            try:
                return str(method(resource))
            except ClientError as error:
                code = _error_code(error)
                if code in GONE_CODES:
                    raise _Gone() from None
                message = f"{code}: {error.response['Error'].get('Message', error)}"
                if code in RETRY_CODES and resource.kind in _NETWORK_KINDS:
                    blockers = self.network_blockers(resource)
                    if blockers:
                        raise Blocked(
                            f"{message}; blocked by {'; '.join(blockers)}, which the course did not make: "
                            "remove or move it yourself (not waiting for it)"
                        ) from None
                if code not in RETRY_CODES or waited >= self.patience:
                    raise RuntimeError(
                        message + (f" (still refused after {waited:.0f} s)" if code in RETRY_CODES else "")
                    ) from None
            except _Retry as why:
                if waited >= self.patience:
                    raise RuntimeError(f"{why} (still so after {waited:.0f} s)") from None
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 60.0)

    # -- what blocks a network deletion, and whether it goes by itself --------------------------

    def network_blockers(self, resource: CourseResource) -> list[str]:
        """What stands in ``resource``'s way and is not the course's (so it will never go by itself)."""
        ec2, rid = self.lab.ec2, resource.resource_id
        blockers: list[str] = []
        if resource.kind == "ec2 security group":
            interfaces = list(
                _pages(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=[{"Name": "group-id", "Values": [rid]}])
            )
            planned = {r.resource_id for r in self._in_plan("ec2 security group")}
            for group in ec2.describe_security_groups()["SecurityGroups"]:
                if group["GroupId"] in planned or group["GroupId"] == rid:
                    continue
                if any(
                    pair.get("GroupId") == rid
                    for permission in group.get("IpPermissions", []) + group.get("IpPermissionsEgress", [])
                    for pair in permission.get("UserIdGroupPairs", [])
                ):
                    blockers.append(f"a rule of security group {group['GroupName']} ({group['GroupId']}) that names it")
        elif resource.kind == "ec2 subnet":
            interfaces = list(
                _pages(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=[{"Name": "subnet-id", "Values": [rid]}])
            )
        else:
            vpc_id = rid if resource.kind == "ec2 vpc" else resource.parent.split(",")[0]
            interfaces = (
                list(
                    _pages(
                        ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
                    )
                )
                if vpc_id
                else []
            )
            if resource.kind == "ec2 vpc":
                blockers += self._foreign_in_vpc(rid)
        blockers += [why for why in (self._interface_blocker(i) for i in interfaces) if why]
        return blockers

    def _foreign_in_vpc(self, vpc_id: str) -> list[str]:
        ec2, where = self.lab.ec2, [{"Name": "vpc-id", "Values": [vpc_id]}]
        planned = {r.resource_id for r in self.plan}
        found = [
            f"subnet {s['SubnetId']}" for s in ec2.describe_subnets(Filters=where)["Subnets"] if s["SubnetId"] not in planned
        ]
        found += [
            f"security group {g['GroupName']} ({g['GroupId']})"
            for g in ec2.describe_security_groups(Filters=where)["SecurityGroups"]
            if g["GroupName"] != "default" and g["GroupId"] not in planned
        ]
        found += [
            f"route table {t['RouteTableId']}"
            for t in ec2.describe_route_tables(Filters=where)["RouteTables"]
            if t["RouteTableId"] not in planned and not any(a.get("Main") for a in t.get("Associations", []))
        ]
        found += [
            f"internet gateway {g['InternetGatewayId']}"
            for g in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
                "InternetGateways"
            ]
            if g["InternetGatewayId"] not in planned
        ]
        return found

    def _interface_blocker(self, interface: dict[str, Any]) -> str | None:
        """None when a network interface goes by itself, or may (its ALB or task is the course's and going); else what it is.

        An ALB's interfaces are described ``ELB app/NAME/ID``; a Fargate task's belong to the
        task's ``attachments``. An interface of an instance, of a running task or load balancer
        this clean-up leaves alone, or of a long-lived kind (NAT gateway, VPC endpoint, Lambda,
        ...) never goes by itself. A requester-managed interface that cannot be told apart is
        waited for, as before."""
        from botocore.exceptions import ClientError

        eni, description = interface["NetworkInterfaceId"], interface.get("Description", "")
        kind = interface.get("InterfaceType") or "interface"
        if description.startswith("ELB app/"):
            name = description.split("/")[1]
            if name in {r.name for r in self._in_plan("elbv2 load balancer")}:
                return None
            try:
                self.lab.elbv2.describe_load_balancers(Names=[name])
            except ClientError:
                return None  # the load balancer is gone: its interface follows within minutes
            return f"network interface {eni} of load balancer {name}"
        foreign = self._foreign_task_attachments()
        attachment = description.rsplit("/", 1)[-1] if description.startswith("arn:aws:ecs:") else ""
        if eni in foreign or attachment in foreign:
            return f"network interface {eni} of ECS task {foreign.get(eni) or foreign[attachment]}"
        if attachment:
            return None  # a task this clean-up stops
        instance = (interface.get("Attachment") or {}).get("InstanceId")
        if instance:
            return f"network interface {eni} of instance {instance}"
        if kind in _LONG_LIVED_INTERFACES or not interface.get("RequesterManaged", True):
            return f"network interface {eni} ({kind}{', ' + description if description else ''})"
        return None

    def _foreign_task_attachments(self) -> dict[str, str]:
        """Attachment and network interface IDs to task, for running tasks this clean-up does not stop (not tagged, not of a planned service)."""
        if self._foreign_cache is None:
            ecs, foreign = self.lab.ecs, {}
            planned_tasks = {r.arn for r in self._in_plan("ecs task")}
            planned_services = {(r.parent, r.name) for r in self._in_plan("ecs service")}
            for cluster_arn in _pages(ecs, "list_clusters", "clusterArns"):
                arns = list(_pages(ecs, "list_tasks", "taskArns", cluster=cluster_arn, desiredStatus="RUNNING"))
                for chunk in _chunks(arns, 100):
                    for task in ecs.describe_tasks(cluster=cluster_arn, tasks=chunk)["tasks"]:
                        group = task.get("group", "")
                        if task["taskArn"] in planned_tasks or (
                            group.startswith("service:") and (cluster_arn, group[8:]) in planned_services
                        ):
                            continue
                        name = f"{cluster_arn.rsplit('/', 1)[-1]}/{task['taskArn'].rsplit('/', 1)[-1]}"
                        for attachment in task.get("attachments", []):
                            foreign[attachment["id"]] = name
                            for detail in attachment.get("details", []):
                                if detail.get("name") == "networkInterfaceId":
                                    foreign[detail["value"]] = name
            self._foreign_cache = foreign
        return self._foreign_cache

    # -- one method per kind ----------------------------------------------------------------------

    def _application_autoscaling_scalable_target(self, r: CourseResource) -> str:
        client = self.lab.client("application-autoscaling")
        dimension = r.parent or "ecs:service:DesiredCount"
        if not client.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[r.name], ScalableDimension=dimension)[
            "ScalableTargets"
        ]:
            raise _Gone()
        # AWS deletes a target's policies with it; deleting them first says so and works where that is not modelled
        policies = client.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=r.name, ScalableDimension=dimension)[
            "ScalingPolicies"
        ]
        for policy in policies:
            client.delete_scaling_policy(
                PolicyName=policy["PolicyName"], ServiceNamespace="ecs", ResourceId=r.name, ScalableDimension=dimension
            )
        client.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=r.name, ScalableDimension=dimension)
        return f"{len(policies)} scaling policies deleted, deregistered"

    def _ecs_service(self, r: CourseResource) -> str:
        ecs = self.lab.ecs
        ecs.update_service(cluster=r.parent, service=r.arn, desiredCount=0)
        ecs.delete_service(cluster=r.parent, service=r.arn)
        return "scaled to 0 and deleted (its tasks drain)"

    def _ecs_task(self, r: CourseResource) -> str:
        self.lab.ecs.stop_task(cluster=r.parent, task=r.arn, reason="ecslab cleanup")
        return "stopped"

    def _ecs_task_definition(self, r: CourseResource) -> str:
        self.lab.ecs.deregister_task_definition(taskDefinition=r.arn)
        return "deregistered (INACTIVE revisions cost nothing)"

    def _ecs_cluster(self, r: CourseResource) -> str:
        ecs = self.lab.ecs
        clusters = ecs.describe_clusters(clusters=[r.arn])["clusters"]
        if not clusters or clusters[0].get("status") == "INACTIVE":
            raise _Gone()
        planned_services = {s.arn for s in self._in_plan("ecs service")}
        services = list(_pages(ecs, "list_services", "serviceArns", cluster=r.arn))
        active = [
            s
            for chunk in _chunks(services, 10)
            for s in ecs.describe_services(cluster=r.arn, services=chunk)["services"]
            if s["status"] != "INACTIVE"
        ]
        foreign = [s["serviceName"] for s in active if s["serviceArn"] not in planned_services]
        if foreign:
            raise Blocked(
                f"service(s) {', '.join(foreign)} in {r.name} are not the course's (or not yours): "
                "delete them yourself (not waiting for them)"
            )
        if active:
            raise _Retry(f"services still draining in {r.name}")
        running = list(_pages(ecs, "list_tasks", "taskArns", cluster=r.arn, desiredStatus="RUNNING"))
        if running:
            planned_tasks = {t.arn for t in self._in_plan("ecs task")}
            described = [t for chunk in _chunks(running, 100) for t in ecs.describe_tasks(cluster=r.arn, tasks=chunk)["tasks"]]
            foreign = [
                t["taskArn"].rsplit("/", 1)[-1]
                for t in described
                if t["taskArn"] not in planned_tasks and not t.get("group", "").startswith("service:")
            ]
            if foreign:
                raise Blocked(
                    f"{len(foreign)} task(s) still running in {r.name} that are not the course's ({', '.join(foreign)}): "
                    "stop them yourself (not waiting for them)"
                )
            raise _Retry(f"{len(running)} task(s) still stopping in {r.name}")
        ecs.delete_cluster(cluster=r.arn)
        return "deleted"

    def _elbv2_listener(self, r: CourseResource) -> str:
        self.lab.elbv2.delete_listener(ListenerArn=r.arn)
        return "deleted"

    def _elbv2_load_balancer(self, r: CourseResource) -> str:
        self.lab.elbv2.delete_load_balancer(LoadBalancerArn=r.arn)
        return "deleted (its network interfaces go within a few minutes)"

    def _elbv2_target_group(self, r: CourseResource) -> str:
        self.lab.elbv2.delete_target_group(TargetGroupArn=r.arn)
        return "deleted"

    def _ec2_security_group(self, r: CourseResource) -> str:
        ec2, group_id = self.lab.ec2, r.resource_id
        # The course's other groups may name this one in a rule (the tasks' group names the ALB's): revoke those first.
        others = [g.resource_id for g in self._in_plan("ec2 security group") if g.resource_id != group_id]
        if others:
            from botocore.exceptions import ClientError

            try:
                groups = ec2.describe_security_groups(GroupIds=others)["SecurityGroups"]
            except ClientError:
                groups = []  # one of them is gone already; its rules went with it
            for group in groups:
                for key, revoke in (
                    ("IpPermissions", ec2.revoke_security_group_ingress),
                    ("IpPermissionsEgress", ec2.revoke_security_group_egress),
                ):
                    naming = [
                        p
                        for p in group.get(key, [])
                        if any(pair.get("GroupId") == group_id for pair in p.get("UserIdGroupPairs", []))
                    ]
                    if naming:
                        revoke(GroupId=group["GroupId"], IpPermissions=naming)
        ec2.delete_security_group(GroupId=group_id)
        return "deleted"

    def _ec2_route_table(self, r: CourseResource) -> str:
        ec2 = self.lab.ec2
        table = ec2.describe_route_tables(RouteTableIds=[r.resource_id])["RouteTables"][0]
        for association in table.get("Associations", []):
            if not association.get("Main"):
                ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=r.resource_id)
        return "disassociated and deleted"

    def _ec2_internet_gateway(self, r: CourseResource) -> str:
        ec2 = self.lab.ec2
        gateway = ec2.describe_internet_gateways(InternetGatewayIds=[r.resource_id])["InternetGateways"][0]
        for attachment in gateway.get("Attachments", []):
            ec2.detach_internet_gateway(InternetGatewayId=r.resource_id, VpcId=attachment["VpcId"])
        ec2.delete_internet_gateway(InternetGatewayId=r.resource_id)
        return "detached and deleted"

    def _ec2_subnet(self, r: CourseResource) -> str:
        self.lab.ec2.delete_subnet(SubnetId=r.resource_id)
        return "deleted"

    def _ec2_vpc(self, r: CourseResource) -> str:
        self.lab.ec2.delete_vpc(VpcId=r.resource_id)
        return "deleted"

    def _ecr_repository(self, r: CourseResource) -> str:
        self.lab.ecr.delete_repository(repositoryName=r.name, force=True)
        return "deleted with its images"

    def _logs_log_group(self, r: CourseResource) -> str:
        self.lab.logs.delete_log_group(logGroupName=r.name)
        return "deleted"

    def _cloudwatch_alarm(self, r: CourseResource) -> str:
        if not self.lab.cloudwatch.describe_alarms(AlarmNames=[r.name])["MetricAlarms"]:
            raise _Gone()  # DeleteAlarms answers success for a name that does not exist
        self.lab.cloudwatch.delete_alarms(AlarmNames=[r.name])
        return "deleted"

    def _secretsmanager_secret(self, r: CourseResource) -> str:
        client = self.lab.client("secretsmanager")
        if client.describe_secret(SecretId=r.arn).get("DeletedDate") and not self.force_delete_secrets:
            return "already scheduled for deletion"
        if self.force_delete_secrets:
            client.delete_secret(SecretId=r.arn, ForceDeleteWithoutRecovery=True)
            return "deleted now, without recovery"
        client.delete_secret(SecretId=r.arn, RecoveryWindowInDays=7)
        return "scheduled for deletion in 7 days (restore_secret undoes it; --force-delete-secrets deletes now)"

    def _ssm_parameter(self, r: CourseResource) -> str:
        self.lab.client("ssm").delete_parameter(Name=r.name)
        return "deleted"

    def _iam_role(self, r: CourseResource) -> str:
        iam = self.lab.iam
        profiles = [
            p["InstanceProfileName"] for p in _pages(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=r.name)
        ]
        if profiles:
            raise Blocked(
                f"the role is in instance profile(s) {', '.join(profiles)}, which the course did not make: "
                "remove it from them yourself"
            )
        for policy in _pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=r.name):
            iam.detach_role_policy(RoleName=r.name, PolicyArn=policy["PolicyArn"])
        for name in _pages(iam, "list_role_policies", "PolicyNames", RoleName=r.name):
            iam.delete_role_policy(RoleName=r.name, PolicyName=name)
        iam.delete_role(RoleName=r.name)
        return "policies detached or deleted, role deleted"

    def _iam_policy(self, r: CourseResource) -> str:
        iam = self.lab.iam
        entities = iam.list_entities_for_policy(PolicyArn=r.arn)
        users = [u["UserName"] for u in entities.get("PolicyUsers", [])]
        groups = [g["GroupName"] for g in entities.get("PolicyGroups", [])]
        roles = [x["RoleName"] for x in entities.get("PolicyRoles", [])]
        if users or groups or roles:
            raise Blocked(
                f"still attached to {', '.join(users + groups + roles)}, which the course did not make: detach it there first"
            )
        for version in _pages(iam, "list_policy_versions", "Versions", PolicyArn=r.arn):
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=r.arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=r.arn)
        return "deleted"

    def _s3_bucket(self, r: CourseResource) -> str:
        s3 = self.lab.client("s3")
        removed = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=r.name):
            objects = [
                {"Key": o["Key"], "VersionId": o["VersionId"]} for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for chunk in [objects[i : i + 1000] for i in range(0, len(objects), 1000)]:
                s3.delete_objects(Bucket=r.name, Delete={"Objects": chunk, "Quiet": True})
                removed += len(chunk)
        s3.delete_bucket(Bucket=r.name)
        return f"emptied ({removed} object versions) and deleted"


def run_cleanup_command(
    target: str | None,
    account: str | None,
    dry_run: bool,
    yes: bool,
    force_delete_secrets: bool,
    ask: Callable[[str], str] | None = None,
) -> int:
    """``ecslab cleanup``: the plan, a confirmation (unless ``--yes``), the deletion of exactly that plan, the summary."""
    target = (target or os.environ.get("ECSLAB_TARGET") or "aws").lower()
    if target != "aws":
        raise RuntimeError(
            "the local lab needs no clean-up (`ecslab reset` starts it afresh); `ecslab cleanup` is for real AWS: --target aws."
        )
    lab = connect_aws(LabConfig.from_env(), account=account)
    plan = cleanup(lab, dry_run=True, force_delete_secrets=force_delete_secrets)
    if dry_run or not plan.plan:
        print(plan.render())
        return 0
    print(plan.render_plan())
    if not yes:
        try:
            answer = (ask or input)(
                f"Delete these {len(plan.plan)} resources from account {plan.account}, region {plan.region}? Type yes: "
            )
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("Nothing deleted (answer yes, or pass --yes).")
            return 1
    report = cleanup(lab, dry_run=False, force_delete_secrets=force_delete_secrets, plan=plan, owner=plan.owner)
    print(report.render())
    return 0 if report.ok else 1
