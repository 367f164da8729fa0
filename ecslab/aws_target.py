"""Safety rails for the real-AWS target: nothing the course makes may surprise a learner's bill.

The local lab costs nothing; a real account does. When a learner opts into real AWS
(``ecslab.connect("aws")``, notebook 00 explains the choice) this module:

1. **names the account** before anything is made: :func:`confirm_account` refuses unless
   the learner confirmed the 12-digit account their credentials belong to
   (``ECSLAB_AWS_ACCOUNT`` or ``connect("aws", account=...)``), and says what the course
   creates there and roughly what an hour of it costs;
2. **tags everything the course creates** with ``ecslab:course=<course id>``
   (:data:`TAG_KEY`, :data:`COURSE_ID`): botocore event handlers on every client the aws
   :class:`~ecslab.session.Lab` makes add the tag to create calls (:data:`TAGGED_OPERATIONS`),
   never replacing a tag the learner set;
3. **cleans up** what carries that tag and nothing else (:func:`cleanup`, ``ecslab
   cleanup``), in dependency order, with a dry run that prints the plan first;
4. **estimates costs** (:func:`estimate_hourly_cost`) from AWS's public on-demand prices
   for us-east-1 (:data:`PRICES`, each with its source and date: an estimate, check the
   pricing pages).

The notebooks' clean-up cells call :func:`cleanup` when ``not lab.is_local``; everything
here works against moto too, which is how it is tested (never against a real account).
Only clients made by the Lab are tagged: a plain ``boto3.client(...)`` is not.
"""

from __future__ import annotations

import html
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecslab.ecs import HOURS_PER_MONTH
from ecslab.ecs import PRICES as ECS_PRICES

if TYPE_CHECKING:
    from ecslab.config import LabConfig
    from ecslab.session import Lab

__all__ = [
    "ACCOUNT_ENV",
    "COURSE_FOOTPRINT",
    "COURSE_ID",
    "CLEANUP_ORDER",
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
    "course_id",
    "estimate_hourly_cost",
    "find_course_resources",
    "open_lab",
    "register_course_tagging",
]

TAG_KEY = "ecslab:course"
"""The tag key on everything the course creates in a real account."""

COURSE_ID = "ecr-ecs-containers"
"""The tag's value: which course made a resource. ``ECSLAB_COURSE_ID`` overrides it
(e.g. one value per cohort), see :func:`course_id`."""

ACCOUNT_ENV = "ECSLAB_AWS_ACCOUNT"
"""The environment variable where a learner confirms the account the course may spend in."""

WHAT_THE_COURSE_CREATES = (
    "ECR repositories (and the images you push), ECS clusters, task definitions, services and "
    "Fargate tasks, an Application Load Balancer with its target groups, CloudWatch log groups "
    "and alarms, IAM roles and policies, security groups, and for notebook 07 a Secrets Manager "
    "secret and an SSM parameter"
)


def course_id() -> str:
    """The course id in the tag: ``ECSLAB_COURSE_ID`` when set, else :data:`COURSE_ID`."""
    return os.environ.get("ECSLAB_COURSE_ID") or COURSE_ID


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
    "fargate_vcpu_hour": Price(ECS_PRICES["fargate_vcpu_hour"], "per vCPU-hour, Fargate Linux/x86",
                               "https://aws.amazon.com/fargate/pricing/", _TAKEN),
    "fargate_gb_hour": Price(ECS_PRICES["fargate_gb_hour"], "per GB of memory-hour, Fargate Linux/x86",
                             "https://aws.amazon.com/fargate/pricing/", _TAKEN),
    "alb_hour": Price(0.0225, "per Application Load Balancer-hour (a partial hour counts as one)",
                      "https://aws.amazon.com/elasticloadbalancing/pricing/", _TAKEN),
    "alb_lcu_hour": Price(0.008, "per load balancer capacity unit (LCU)-hour",
                          "https://aws.amazon.com/elasticloadbalancing/pricing/", _TAKEN),
    "public_ipv4_hour": Price(0.005, "per public IPv4 address-hour (each task with a public IP, each ALB zone)",
                              "https://aws.amazon.com/vpc/pricing/", _TAKEN),
    "cloudwatch_alarm_month": Price(0.10, "per standard-resolution alarm metric-month",
                                    "https://aws.amazon.com/cloudwatch/pricing/", _TAKEN),
    "cloudwatch_logs_ingested_gb": Price(0.50, "per GB of logs ingested (standard class)",
                                         "https://aws.amazon.com/cloudwatch/pricing/", _TAKEN),
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
        return (f"about ${self.per_hour:.2f} an hour while it runs (${self.per_day:.2f} a day, "
                f"${self.per_month:.0f} a month if forgotten)")

    def render(self) -> str:
        width = max([len(item) for item, _ in self.lines] + [5])
        rows = [f"{item:<{width}}  ${usd:.4f}/h" for item, usd in self.lines]
        rows.append(f"{'total':<{width}}  ${self.per_hour:.4f}/h  = {self.summary()}")
        rows.append("Estimate from AWS's us-east-1 on-demand prices (ecslab.aws_target.PRICES): check the pricing pages.")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(item)}</td><td style='text-align:right'>${usd:.4f}</td></tr>" for item, usd in self.lines)
        sources = sorted({price.source for price in PRICES.values()})
        links = " ".join(f"<a href='{s}'>{html.escape(s)}</a>" for s in sources)
        return (f"<table><tr><th>item</th><th>USD per hour</th></tr>{rows}"
                f"<tr><th>total</th><th style='text-align:right'>${self.per_hour:.4f}</th></tr></table>"
                f"<p>{html.escape(self.summary())}.</p><small>Estimate from AWS's on-demand prices for us-east-1 "
                f"taken {html.escape(_TAKEN)}; check the pricing pages: {links}</small>")


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
        lines.append((f"{load_balancers} Application Load Balancer(s), {lcus_per_load_balancer:g} LCU each",
                      load_balancers * (p["alb_hour"] + lcus_per_load_balancer * p["alb_lcu_hour"])))
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


COURSE_FOOTPRINT: dict[str, Any] = {"tasks": 3, "cpu": 256, "memory": 512, "load_balancers": 1, "alarms": 2, "secrets": 1}
"""The course at its largest (notebooks 06-08): a service of 3 small tasks behind one ALB, two alarms, one secret."""


# -- opt-in that names the account ------------------------------------------------------------


class AccountNotConfirmed(RuntimeError):
    """The learner has not confirmed the account their credentials would spend in."""


def _normalise_account(account: str) -> str:
    digits = re.sub(r"[\s-]", "", str(account))
    if not re.fullmatch(r"\d{12}", digits):
        raise AccountNotConfirmed(f"{account!r} is not an AWS account ID: it has 12 digits, e.g. 123456789012 "
                                  "(`aws sts get-caller-identity --query Account` prints yours).")
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
        raise AccountNotConfirmed(f"Could not ask AWS whose credentials these are ({error}); fix the credentials "
                                  "(`aws sts get-caller-identity` must work) or use the local lab.") from None
    actual = str(identity["Account"])
    wanted = account if account is not None else os.environ.get(ACCOUNT_ENV)
    if wanted and _normalise_account(wanted) == actual:
        return actual
    region = getattr(getattr(sts, "meta", None), "region_name", None) or "your region"
    if wanted:
        first = (f"You confirmed account {_normalise_account(wanted)}, but these credentials ({identity.get('Arn', '?')}) "
                 f"belong to account {actual}. Switch AWS_PROFILE to the account you meant, or confirm {actual}.")
    else:
        first = (f"Real AWS spends real money, so ecslab asks you to name the account first. These credentials "
                 f"({identity.get('Arn', '?')}) belong to account {actual}, region {region}.")
    estimate = estimate_hourly_cost(**COURSE_FOOTPRINT)
    raise AccountNotConfirmed(
        f"{first}\n"
        f"The course creates there, tagged {TAG_KEY}={course_id()}: {WHAT_THE_COURSE_CREATES}.\n"
        f"At its largest (3 Fargate tasks of 0.25 vCPU / 0.5 GB, one ALB, 5 public IPv4 addresses) that is "
        f"{estimate.summary()}: an estimate from us-east-1 on-demand prices, check the pricing pages.\n"
        f"To opt in: export {ACCOUNT_ENV}={actual} before starting JupyterLab, or "
        f'ecslab.connect("aws", account="{actual}"). When you are done: `ecslab cleanup --dry-run`, then `ecslab cleanup`.'
    )


def banner_html(account_id: str, region: str) -> str:
    """The banner on an aws Lab's HTML repr: whose money, where."""
    return ("<div style='border:2px solid #b00020;background:#fdecea;color:#5f0010;padding:6px 10px;margin:4px 0;"
            f"font-weight:bold'>real AWS: account {html.escape(account_id)}, region {html.escape(region)}. "
            "What you create here is billed to this account; <code>ecslab cleanup</code> removes what the course "
            f"made (tag <code>{html.escape(TAG_KEY)}={html.escape(course_id())}</code>).</div>")


def open_lab(session: Any, config: LabConfig, account: str | None = None) -> Lab:
    """The aws :class:`~ecslab.session.Lab` for ``session``: account confirmed, every client tagging.

    Called by :func:`ecslab.connect` for ``target="aws"``."""
    from ecslab.session import Lab

    confirmed = confirm_account(session.client("sts"), account)
    lab_course = course_id()
    return Lab("aws", str(session.region_name), None, config, session,
               _client_hooks=[lambda client: register_course_tagging(client, lab_course)],
               _confirmed_account=confirmed)


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
    TagParameter("secretsmanager", "CreateSecret", "Tags"),
    TagParameter("ssm", "PutParameter", "Tags"),
    TagParameter("cloudwatch", "PutMetricAlarm", "Tags"),
)
"""Create calls that take tags, and how. S3's CreateBucket is tagged after the call (PutBucketTagging)."""

PROPAGATE_TAGS_OPERATIONS = (("ecs", "CreateService"), ("ecs", "RunTask"))
"""ECS calls given ``propagateTags=TASK_DEFINITION`` when the learner left it unset, so tasks carry the tag."""


def add_course_tag(params: dict[str, Any], spec: TagParameter, course: str | None = None) -> None:
    """Add ``ecslab:course`` to ``params`` for the call ``spec`` describes, keeping every tag already there.

    A tag the learner set under the same key wins. SSM's PutParameter with ``Overwrite``
    updates a parameter and AWS refuses tags there, so it is left as it is.
    """
    course = course or course_id()
    if (spec.service, spec.operation) in PROPAGATE_TAGS_OPERATIONS:
        params.setdefault("propagateTags", "TASK_DEFINITION")
    if spec.service == "ssm" and spec.operation == "PutParameter" and params.get("Overwrite"):
        return
    if spec.style == "map":
        tags = dict(params.get(spec.parameter) or {})
        tags.setdefault(TAG_KEY, course)
        params[spec.parameter] = tags
    elif spec.style == "tag-specifications":
        specs = [dict(s) for s in params.get(spec.parameter) or []]
        mine = next((s for s in specs if s.get("ResourceType") == spec.resource_type), None)
        if mine is None:
            mine = {"ResourceType": spec.resource_type, "Tags": []}
            specs.append(mine)
        tags_list = list(mine.get("Tags") or [])
        if not any(tag.get("Key") == TAG_KEY for tag in tags_list):
            tags_list.append({"Key": TAG_KEY, "Value": course})
        mine["Tags"] = tags_list
        params[spec.parameter] = specs
    else:
        tags_list = list(params.get(spec.parameter) or [])
        if not any(tag.get(spec.key_name) == TAG_KEY for tag in tags_list):
            tags_list.append({spec.key_name: TAG_KEY, spec.value_name: course})
        params[spec.parameter] = tags_list


def _bucket_tagger(client: Any, course: str) -> Callable[..., None]:
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
            if not any(tag["Key"] == TAG_KEY for tag in tag_set):
                client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [*tag_set, {"Key": TAG_KEY, "Value": course}]})
        except ClientError as error:
            warnings.warn(f"Bucket {bucket} was created but could not be tagged {TAG_KEY}={course} ({error}): "
                          "`ecslab cleanup` will not find it; delete it yourself when done.", stacklevel=2)

    return tag_bucket


def register_course_tagging(client: Any, course: str | None = None) -> None:
    """Register the tag handlers on one boto3 client (any service; those without create calls get none).

    Handlers hang on ``before-parameter-build.<service>.<Operation>`` (S3's CreateBucket also on
    ``after-call``); registering twice replaces rather than doubles them."""
    course = course or course_id()
    service_model = client.meta.service_model
    service, event_service = service_model.service_name, service_model.service_id.hyphenize()
    for spec in TAGGED_OPERATIONS:
        if spec.service != service:
            continue

        def handler(params: dict[str, Any], spec: TagParameter = spec, **_kwargs: Any) -> None:
            add_course_tag(params, spec, course)

        client.meta.events.register(f"before-parameter-build.{event_service}.{spec.operation}", handler,
                                    unique_id=f"ecslab-course-tag-{service}-{spec.operation}")
    if service == "s3":
        def remember_bucket(params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
            context["ecslab_new_bucket"] = params.get("Bucket")

        client.meta.events.register(f"before-parameter-build.{event_service}.CreateBucket", remember_bucket,
                                    unique_id="ecslab-course-tag-s3-CreateBucket")
        client.meta.events.register(f"after-call.{event_service}.CreateBucket", _bucket_tagger(client, course),
                                    unique_id="ecslab-course-tag-s3-CreateBucket-after")


# -- finding what the course made ----------------------------------------------------------------

CLEANUP_ORDER: tuple[tuple[str, str], ...] = (
    ("ecs service", "scale to 0, delete"),
    ("ecs task", "stop"),
    ("ecs task definition", "deregister"),
    ("ecs cluster", "delete (once its services and tasks are gone)"),
    ("elbv2 listener", "delete"),
    ("elbv2 load balancer", "delete"),
    ("elbv2 target group", "delete"),
    ("ec2 security group", "delete (retried while the ALB's network interfaces go)"),
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
    """One resource carrying the course tag (or belonging to one that does, e.g. a tagged ALB's listener)."""

    kind: str
    arn: str
    name: str
    parent: str = ""  # the cluster of a service or task
    action: str = ""

    def row(self) -> tuple[str, str, str]:
        return (self.kind, self.name if self.name == self.arn else f"{self.name}  ({self.arn})", self.action)


def _tagged(tags: Iterable[dict[str, Any]] | None, course: str, key: str = "Key", value: str = "Value") -> bool:
    return any(tag.get(key) == TAG_KEY and tag.get(value) == course for tag in tags or [])


def _pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
    elif service == "ec2" and resource.startswith("security-group/"):
        return CourseResource("ec2 security group", arn, resource.split("/", 1)[1])
    elif service == "logs" and resource.startswith("log-group:"):
        name = resource[len("log-group:"):]
        return CourseResource("logs log group", arn, name[:-2] if name.endswith(":*") else name)
    elif service == "cloudwatch" and resource.startswith("alarm:"):
        return CourseResource("cloudwatch alarm", arn, resource[len("alarm:"):])
    elif service == "secretsmanager" and resource.startswith("secret:"):
        return CourseResource("secretsmanager secret", arn, resource[len("secret:"):-7] or resource)
    elif service == "s3" and resource and "/" not in resource:
        return CourseResource("s3 bucket", arn, resource)
    return None


def find_course_resources(lab: Any, course: str | None = None, notes: list[str] | None = None) -> list[CourseResource]:
    """Everything in ``lab``'s account and region carrying ``ecslab:course=<course>``, in :data:`CLEANUP_ORDER`.

    The Resource Groups Tagging API finds most of it; ECS, ECR, IAM (global), SSM and EC2 are
    listed service by service as well, because the tagging API misses some of them (task
    definitions, IAM) or lags behind. What could not be listed is said in ``notes``."""
    from botocore.exceptions import BotoCoreError, ClientError

    course = course or course_id()
    notes = notes if notes is not None else []
    found: dict[str, CourseResource] = {}

    def add(resource: CourseResource | None) -> None:
        if resource is not None and resource.arn not in found and resource.kind in _ORDER:
            found[resource.arn] = resource

    def listing(what: str, run: Callable[[], None]) -> None:
        try:
            run()
        except (ClientError, BotoCoreError) as error:
            notes.append(f"could not list {what}: {error}")

    def tagging_api() -> None:
        tagging = lab.client("resourcegroupstaggingapi")
        for mapping in _pages(tagging, "get_resources", "ResourceTagMappingList", TagFilters=[{"Key": TAG_KEY, "Values": [course]}]):
            add(_from_arn(mapping["ResourceARN"]))

    def ecs() -> None:
        client = lab.ecs
        cluster_arns = list(_pages(client, "list_clusters", "clusterArns"))
        for chunk in _chunks(cluster_arns, 100):
            for cluster in client.describe_clusters(clusters=chunk, include=["TAGS"])["clusters"]:
                if cluster.get("status") == "ACTIVE" and _tagged(cluster.get("tags"), course, "key", "value"):
                    add(CourseResource("ecs cluster", cluster["clusterArn"], cluster["clusterName"]))
        for cluster_arn in cluster_arns:
            cluster_name = cluster_arn.rsplit("/", 1)[-1]
            service_arns = list(_pages(client, "list_services", "serviceArns", cluster=cluster_arn))
            for chunk in _chunks(service_arns, 10):
                for service in client.describe_services(cluster=cluster_arn, services=chunk, include=["TAGS"])["services"]:
                    if service.get("status") != "INACTIVE" and _tagged(service.get("tags"), course, "key", "value"):
                        add(CourseResource("ecs service", service["serviceArn"], service["serviceName"], parent=cluster_arn))
            task_arns = list(_pages(client, "list_tasks", "taskArns", cluster=cluster_arn, desiredStatus="RUNNING"))
            for chunk in _chunks(task_arns, 100):
                for task in client.describe_tasks(cluster=cluster_arn, tasks=chunk, include=["TAGS"])["tasks"]:
                    if _tagged(task.get("tags"), course, "key", "value"):
                        add(CourseResource("ecs task", task["taskArn"], f"{cluster_name}/{task['taskArn'].rsplit('/', 1)[-1]}", parent=cluster_arn))
        for arn in _pages(client, "list_task_definitions", "taskDefinitionArns", status="ACTIVE"):
            described = client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            if _tagged(described.get("tags"), course, "key", "value"):
                add(CourseResource("ecs task definition", arn, arn.rsplit("/", 1)[-1]))

    def ecr() -> None:
        for repository in _pages(lab.ecr, "describe_repositories", "repositories"):
            if _tagged(lab.ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags"), course):
                add(CourseResource("ecr repository", repository["repositoryArn"], repository["repositoryName"]))

    def ec2() -> None:
        for group in _pages(lab.ec2, "describe_security_groups", "SecurityGroups",
                            Filters=[{"Name": f"tag:{TAG_KEY}", "Values": [course]}]):
            arn = f"arn:aws:ec2:{lab.region}:{group['OwnerId']}:security-group/{group['GroupId']}"
            found.pop(arn, None)  # the tagging API knows only its ID; this name says which group it is
            add(CourseResource("ec2 security group", arn, f"{group['GroupName']} ({group['GroupId']})"))

    def ssm() -> None:
        client = lab.client("ssm")
        for parameter in _pages(client, "describe_parameters", "Parameters",
                                ParameterFilters=[{"Key": f"tag:{TAG_KEY}", "Values": [course]}]):
            name = parameter["Name"]
            arn = parameter.get("ARN") or f"arn:aws:ssm:{lab.region}:{lab.account_id}:parameter/{name.lstrip('/')}"
            found.pop(arn, None)
            add(CourseResource("ssm parameter", arn, name))

    def iam() -> None:
        for role in _pages(lab.iam, "list_roles", "Roles"):
            if role["Path"].startswith("/aws-service-role/"):
                continue
            if _tagged(lab.iam.list_role_tags(RoleName=role["RoleName"]).get("Tags"), course):
                add(CourseResource("iam role", role["Arn"], role["RoleName"]))
        for policy in _pages(lab.iam, "list_policies", "Policies", Scope="Local"):
            if _tagged(lab.iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags"), course):
                add(CourseResource("iam policy", policy["Arn"], policy["PolicyName"]))

    listing("tagged resources (resourcegroupstaggingapi)", tagging_api)
    listing("ECS clusters, services, tasks and task definitions", ecs)
    listing("ECR repositories", ecr)
    listing("security groups", ec2)
    listing("SSM parameters", ssm)
    listing("IAM roles and policies", iam)

    for resource in [r for r in found.values() if r.kind == "elbv2 load balancer"]:
        def listeners(resource: CourseResource = resource) -> None:
            for listener in _pages(lab.elbv2, "describe_listeners", "Listeners", LoadBalancerArn=resource.arn):
                add(CourseResource("elbv2 listener", listener["ListenerArn"], f"{resource.name}:{listener['Port']}"))

        listing(f"the listeners of {resource.name}", listeners)
    actions = dict(CLEANUP_ORDER)
    resources = [CourseResource(r.kind, r.arn, r.name, r.parent, r.action or actions[r.kind]) for r in found.values()]
    return sorted(resources, key=lambda r: (_ORDER[r.kind], r.name))


# -- deleting it ------------------------------------------------------------------------------------


@dataclass
class CleanupReport:
    """The plan (dry run) or the outcome of :func:`cleanup`: deleted, and not deleted with the reason."""

    account: str
    region: str
    course: str
    plan: list[CourseResource]
    dry_run: bool
    deleted: list[tuple[CourseResource, str]] = field(default_factory=list)
    failed: list[tuple[CourseResource, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def render(self) -> str:
        head = f"{TAG_KEY}={self.course} in account {self.account}, region {self.region}"
        lines: list[str] = []
        if self.dry_run:
            lines.append(self.render_plan())
            lines.append("Dry run: nothing was deleted. `ecslab cleanup` (or cleanup(lab, dry_run=False)) does it.")
        else:
            lines.append(f"Clean-up of {head}: {len(self.deleted)} deleted, {len(self.failed)} not deleted.")
            if self.deleted:
                lines.append("Deleted:")
                lines.extend(_table(("type", "name", "result"), [(r.kind, r.name, note) for r, note in self.deleted]))
            if self.failed:
                lines.append("Not deleted (still there, may still cost money):")
                lines.extend(_table(("type", "name", "reason"), [(r.kind, r.name, reason) for r, reason in self.failed]))
        lines.extend(f"Note: {note}" for note in self.notes)
        lines.append("Only resources tagged by the course are touched; IAM is global, the rest is this region's.")
        return "\n".join(lines)

    def render_plan(self) -> str:
        """The plan as a table: type, name / ARN, action."""
        head = f"{TAG_KEY}={self.course} in account {self.account}, region {self.region}"
        if not self.plan:
            return f"Nothing tagged {head}: nothing to delete."
        rows = _table(("type", "name / ARN", "action"), [r.row() for r in self.plan])
        return "\n".join([f"The plan for {head}: {len(self.plan)} resources, in this order", *rows])

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


RETRY_CODES = {
    "DependencyViolation", "ResourceInUse", "ClusterContainsServicesException", "ClusterContainsTasksException",
    "UpdateInProgressException", "ConcurrentModification", "DeleteConflict",
}
GONE_CODES = {
    "ResourceNotFoundException", "ParameterNotFound", "NoSuchEntity", "NoSuchBucket", "InvalidGroup.NotFound",
    "LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound", "RepositoryNotFoundException",
    "ClusterNotFoundException", "ServiceNotFoundException", "ServiceNotActiveException",
}


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def cleanup(
    lab: Any,
    dry_run: bool = True,
    force_delete_secrets: bool = False,
    course: str | None = None,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    patience_seconds: float = 600.0,
) -> CleanupReport:
    """Delete what carries ``ecslab:course=<course>`` in ``lab``'s account and region; a dry run by default.

    Order (:data:`CLEANUP_ORDER`): ECS services scaled to 0 and deleted, tagged tasks stopped,
    task definitions deregistered, clusters; listeners, load balancers, target groups;
    security groups once the ALB's network interfaces are gone (retried with backoff on
    DependencyViolation, up to ``patience_seconds``); ECR repositories with their images; log
    groups; alarms; secrets (scheduled for deletion in 7 days, or at once and unrecoverably
    with ``force_delete_secrets``); SSM parameters; IAM roles (their policies detached or
    deleted first) and policies; S3 buckets emptied then deleted. Untagged resources are never
    touched: one standing in the way (an untagged task in a tagged cluster) is reported.
    The dry run returns the plan; a real run reports progress through ``say`` and returns
    what was deleted and what could not be, with AWS's reason.
    """
    course = course or course_id()
    notes: list[str] = []
    plan = find_course_resources(lab, course, notes)
    steps = [_secret_step(lab, r, force_delete_secrets, notes) if r.kind == "secretsmanager secret" else r for r in plan]
    plan = [r for r in steps if r is not None]
    report = CleanupReport(str(lab.account_id), str(lab.region), course, plan, dry_run, notes=notes)
    if dry_run:
        return report
    deleter = _Deleter(lab, force_delete_secrets, sleep, patience_seconds)
    for number, resource in enumerate(plan, 1):
        say(f"[{number}/{len(plan)}] {resource.kind} {resource.name}: {resource.action} ...")
        try:
            note = deleter.delete(resource)
        except Exception as error:  # every failure is reported, none stops the rest
            reason = str(error) or type(error).__name__
            report.failed.append((resource, reason))
            say(f"    not deleted: {reason}")
        else:
            report.deleted.append((resource, note))
            say(f"    {note}")
    return report


def _secret_step(lab: Any, secret: CourseResource, force: bool, notes: list[str]) -> CourseResource | None:
    """A secret's step: none when it is already scheduled for deletion (unless ``force``), said in ``notes``."""
    from botocore.exceptions import ClientError

    try:
        deleted = lab.client("secretsmanager").describe_secret(SecretId=secret.arn).get("DeletedDate")
    except ClientError:
        deleted = None
    if force:
        return CourseResource(secret.kind, secret.arn, secret.name, secret.parent, "delete now, without recovery")
    if deleted:
        notes.append(f"secret {secret.name} is already scheduled for deletion on {deleted:%Y-%m-%d} "
                     "(--force-delete-secrets deletes it now)")
        return None
    return secret


class _Deleter:
    """How each kind of resource is deleted; retries what AWS refuses while a dependency goes away."""

    def __init__(self, lab: Any, force_delete_secrets: bool, sleep: Callable[[float], None], patience_seconds: float) -> None:
        self.lab, self.force_delete_secrets, self.sleep, self.patience = lab, force_delete_secrets, sleep, patience_seconds

    def delete(self, resource: CourseResource) -> str:
        from botocore.exceptions import ClientError

        method = getattr(self, "_" + resource.kind.replace(" ", "_"))
        waited, delay = 0.0, 2.0
        while True:
            try:
                return str(method(resource))
            except ClientError as error:
                code = _error_code(error)
                if code in GONE_CODES:
                    return "already gone"
                if code not in RETRY_CODES or waited >= self.patience:
                    raise RuntimeError(f"{code}: {error.response['Error'].get('Message', error)}"
                                       + (f" (still refused after {waited:.0f} s)" if code in RETRY_CODES else "")) from None
            except _Retry as why:
                if waited >= self.patience:
                    raise RuntimeError(f"{why} (still so after {waited:.0f} s)") from None
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 60.0)

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
        services = list(_pages(ecs, "list_services", "serviceArns", cluster=r.arn))
        if services:
            statuses = [s["status"] for chunk in _chunks(services, 10)
                        for s in ecs.describe_services(cluster=r.arn, services=chunk)["services"]]
            if any(status != "INACTIVE" for status in statuses):
                raise _Retry(f"services still active or draining in {r.name} (untagged ones are left to you)")
        running = list(_pages(ecs, "list_tasks", "taskArns", cluster=r.arn, desiredStatus="RUNNING"))
        if running:
            raise _Retry(f"{len(running)} task(s) still running in {r.name} (untagged ones are left to you: stop them)")
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
        self.lab.ec2.delete_security_group(GroupId=r.arn.rsplit("/", 1)[-1])
        return "deleted"

    def _ecr_repository(self, r: CourseResource) -> str:
        self.lab.ecr.delete_repository(repositoryName=r.name, force=True)
        return "deleted with its images"

    def _logs_log_group(self, r: CourseResource) -> str:
        self.lab.logs.delete_log_group(logGroupName=r.name)
        return "deleted"

    def _cloudwatch_alarm(self, r: CourseResource) -> str:
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
        profiles = [p["InstanceProfileName"] for p in _pages(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=r.name)]
        if profiles:
            raise RuntimeError(f"the role is in instance profile(s) {', '.join(profiles)}, which the course did not make: "
                               "remove it from them yourself")
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
            raise RuntimeError(f"still attached to {', '.join(users + groups + roles)}, which the course did not make: "
                               "detach it there first")
        for version in _pages(iam, "list_policy_versions", "Versions", PolicyArn=r.arn):
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=r.arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=r.arn)
        return "deleted"

    def _s3_bucket(self, r: CourseResource) -> str:
        s3 = self.lab.client("s3")
        removed = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=r.name):
            objects = [{"Key": o["Key"], "VersionId": o["VersionId"]} for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for chunk in [objects[i:i + 1000] for i in range(0, len(objects), 1000)]:
                s3.delete_objects(Bucket=r.name, Delete={"Objects": chunk, "Quiet": True})
                removed += len(chunk)
        s3.delete_bucket(Bucket=r.name)
        return f"emptied ({removed} object versions) and deleted"


def run_cleanup_command(target: str | None, account: str | None, dry_run: bool, yes: bool,
                        force_delete_secrets: bool, ask: Callable[[str], str] | None = None) -> int:
    """``ecslab cleanup``: the plan, a confirmation (unless ``--yes``), the deletions, the summary."""
    from ecslab.session import connect

    target = (target or os.environ.get("ECSLAB_TARGET") or "aws").lower()
    if target != "aws":
        raise RuntimeError("the local lab needs no clean-up (`ecslab reset` starts it afresh); "
                           "`ecslab cleanup` is for real AWS: --target aws.")
    lab = connect("aws", account=account)
    plan = cleanup(lab, dry_run=True, force_delete_secrets=force_delete_secrets)
    if dry_run or not plan.plan:
        print(plan.render())
        return 0
    print(plan.render_plan())
    if not yes:
        try:
            answer = (ask or input)(f"Delete these {len(plan.plan)} resources from account {plan.account}, region {plan.region}? Type yes: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("Nothing deleted (answer yes, or pass --yes).")
            return 1
    report = cleanup(lab, dry_run=False, force_delete_secrets=force_delete_secrets)
    print(report.render())
    return 0 if report.ok else 1
