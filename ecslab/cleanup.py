"""One clean-up for every notebook: delete what a notebook made, by name in the lab, by tag on AWS.

Notebooks 06, 07 and 09 (and their exercises' checkers) start and end by deleting what they
make, so that a run starts from the same place as the last. Each lists what it makes in a
:class:`CourseResources` and calls :func:`remove`:

- **in the local lab** the resources are deleted by name, in the order AWS requires (the lab
  is the learner's alone, and ``ecslab reset`` would wipe it anyway);
- **on real AWS** a name is not enough: another learner in the same account, or the learner's
  own project, may use the same name. Only what carries the course's tag *and* this learner's
  owner tag (:mod:`ecslab.aws_target`) is deleted, through the same plan and deleter as
  ``ecslab cleanup``; secrets are scheduled for deletion with AWS's recovery window (7 days),
  never deleted at once.

Both return what is still there under those names (:func:`left`), which should be nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ecslab import aws_target

__all__ = ["CourseResources", "left", "plan_on_aws", "remove", "restore_scheduled_secret"]


@dataclass(frozen=True)
class CourseResources:
    """What one notebook (or exercise) makes, by name, in the order it is deleted.

    ``scalable_targets`` are Application Auto Scaling resource IDs (``service/CLUSTER/SERVICE``);
    ``security_groups`` are names, the group another group's rule names last (for
    :func:`ecslab.network.create_web_security_groups`: ``[PREFIX-tasks, PREFIX-alb]``); ``vpcs``
    are ``Name`` tags, and everything in such a VPC goes with it; ``task_families`` have their
    ACTIVE revisions deregistered.
    """

    alarms: Sequence[str] = ()
    scalable_targets: Sequence[str] = ()
    clusters: Sequence[str] = ()
    load_balancers: Sequence[str] = ()
    target_groups: Sequence[str] = ()
    security_groups: Sequence[str] = ()
    vpcs: Sequence[str] = ()
    log_groups: Sequence[str] = ()
    roles: Sequence[str] = ()
    task_families: Sequence[str] = ()
    secrets: Sequence[str] = ()
    buckets: Sequence[str] = ()
    repositories: Sequence[str] = ()


LABELS = {
    "alarms": "alarms",
    "scalable_targets": "scalable targets",
    "clusters": "clusters",
    "load_balancers": "load balancers",
    "target_groups": "target groups",
    "security_groups": "security groups",
    "vpcs": "VPCs",
    "log_groups": "log groups",
    "roles": "roles",
    "task_families": "task definitions",
    "secrets": "secrets",
    "buckets": "buckets",
    "repositories": "repositories",
}
"""How :func:`left` names each kind."""


def remove(lab: Any, resources: CourseResources, say: Callable[[str], None] | None = None) -> dict[str, list[str]]:
    """Delete ``resources``: by name in the local lab; on AWS only those tagged by the course for this learner.

    Returns :func:`left`. On AWS the deletions go through :func:`ecslab.aws_target.cleanup`
    (``say`` reports each step and, at the end, what could not be deleted and why; ``print`` by
    default), and the local engine's names under each deleted repository go too."""
    if lab.is_local:
        _remove_by_name(lab, resources)
    else:
        say = say or print
        report = aws_target.cleanup(lab, dry_run=False, plan=plan_on_aws(lab, resources), say=say)
        for resource, _note in report.deleted:
            if resource.kind == "ecr repository":
                _forget_local_names(lab, f"{lab.account_id}.dkr.ecr.{lab.region}.amazonaws.com/{resource.name}")
        for resource, why in report.failed:
            say(f"Not deleted: {resource.kind} {resource.name}: {why}")
    return left(lab, resources)


def plan_on_aws(lab: Any, resources: CourseResources) -> list[aws_target.CourseResource]:
    """The part of this learner's course-tagged resources that ``resources`` names, in deletion order.

    A resource of the same name without both tags (the learner's own, another learner's) is not in it."""
    found = aws_target.find_course_resources(lab)
    vpc_ids = {r.resource_id for r in found if r.kind == "ec2 vpc" and _label(r.name) in resources.vpcs}

    def named(r: aws_target.CourseResource) -> bool:
        name = _label(r.name)
        if r.kind == "application-autoscaling scalable target":
            return r.name in resources.scalable_targets
        if r.kind in ("ecs service", "ecs task"):
            return r.parent.rsplit("/", 1)[-1] in resources.clusters
        if r.kind == "ecs task definition":
            return r.name.rsplit(":", 1)[0] in resources.task_families
        if r.kind == "ecs cluster":
            return r.name in resources.clusters
        if r.kind == "elbv2 listener":
            return r.name.rsplit(":", 1)[0] in resources.load_balancers
        if r.kind == "elbv2 load balancer":
            return r.name in resources.load_balancers
        if r.kind == "elbv2 target group":
            return r.name in resources.target_groups
        if r.kind == "ec2 security group":
            return name in resources.security_groups or r.parent in vpc_ids
        if r.kind == "ec2 vpc":
            return r.resource_id in vpc_ids
        if r.kind in ("ec2 subnet", "ec2 route table", "ec2 internet gateway"):
            return bool(set(r.parent.split(",")) & vpc_ids)
        by_kind = {
            "logs log group": resources.log_groups,
            "cloudwatch alarm": resources.alarms,
            "iam role": resources.roles,
            "secretsmanager secret": resources.secrets,
            "s3 bucket": resources.buckets,
            "ecr repository": resources.repositories,
        }
        return r.name in by_kind.get(r.kind, ())

    return [r for r in found if named(r)]


def restore_scheduled_secret(lab: Any, name: str) -> str | None:
    """On AWS: the ARN of secret ``name`` after restoring it, when it is this learner's course secret scheduled for deletion.

    :func:`remove` never deletes a secret at once on AWS, so for 7 days its name stays taken and
    ``create_secret`` with it fails; a second run restores it and puts the new value instead.
    None in the lab, or when there is no such secret (then create it)."""
    from botocore.exceptions import ClientError

    if lab.is_local:
        return None
    client = lab.client("secretsmanager")
    try:
        described = client.describe_secret(SecretId=name)
    except ClientError:
        return None
    if not described.get("DeletedDate") or not aws_target._tagged(
        described.get("Tags"), aws_target.course_id(), aws_target.owner_id(lab)
    ):
        return None
    client.restore_secret(SecretId=described["ARN"])
    return str(described["ARN"])


def _label(name: str) -> str:
    """``NAME (ID)`` as the plan shows EC2 resources: the NAME."""
    return name.rsplit(" (", 1)[0] if name.endswith(")") else name


# -- in the lab: by name ------------------------------------------------------------------------------


def _remove_by_name(lab: Any, resources: CourseResources) -> None:
    from ecslab import ecs as ecs_tools
    from ecslab import elb as elb_tools

    cloudwatch, elbv2, ec2 = lab.cloudwatch, lab.elbv2, lab.ec2
    if resources.alarms and cloudwatch.describe_alarms(AlarmNames=list(resources.alarms))["MetricAlarms"]:
        cloudwatch.delete_alarms(AlarmNames=list(resources.alarms))
    for resource_id in resources.scalable_targets:
        elb_tools.remove_scaling(lab.client("application-autoscaling"), resource_id)
    for cluster in resources.clusters:
        ecs_tools.remove_cluster(lab, cluster)  # services (forced), their tasks (waited for), the cluster
    for name in resources.load_balancers:
        elb_tools.delete_load_balancer(elbv2, name)  # with its listeners
    if resources.target_groups:
        elb_tools.delete_target_groups(elbv2, list(resources.target_groups))
    if resources.security_groups:
        vpc_id, _ = elb_tools.default_subnets(ec2)
        elb_tools.delete_security_groups(ec2, vpc_id, list(resources.security_groups))
    for name in resources.vpcs:
        delete_vpc(ec2, name)
    for name in resources.log_groups:
        if any(g["logGroupName"] == name for g in lab.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]):
            lab.logs.delete_log_group(logGroupName=name)
    for name in resources.roles:
        delete_role(lab.iam, name)
    for family in resources.task_families:
        for arn in _active_revisions(lab.ecs, family):
            lab.ecs.deregister_task_definition(taskDefinition=arn)
    secretsmanager = lab.client("secretsmanager")
    for name in resources.secrets:
        try:  # the lab only: on AWS a secret keeps its recovery window
            secretsmanager.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except secretsmanager.exceptions.ResourceNotFoundException:
            pass
    for bucket in resources.buckets:
        s3 = lab.client("s3")
        if bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
    for repository in resources.repositories:
        _delete_repository(lab, repository)


def delete_role(iam: Any, name: str) -> None:
    """A role goes last: first its inline policies, then its attached ones. Missing is not an error."""
    try:
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        pass


def delete_vpc(ec2: Any, name: str) -> None:
    """The VPCs tagged ``Name=name`` and what is in them, in the order EC2 requires (notebook 07b's VPC)."""
    for vpc_id in [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]]:
        where = [{"Name": "vpc-id", "Values": [vpc_id]}]
        for group in ec2.describe_security_groups(Filters=where)["SecurityGroups"]:
            if group["IpPermissions"] and group["GroupName"] != "default":  # rules that name other groups go first
                ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
        for group in ec2.describe_security_groups(Filters=where)["SecurityGroups"]:
            if group["GroupName"] != "default":
                ec2.delete_security_group(GroupId=group["GroupId"])
        for table in ec2.describe_route_tables(Filters=where)["RouteTables"]:
            if not any(association.get("Main") for association in table["Associations"]):
                for association in table["Associations"]:
                    ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
                ec2.delete_route_table(RouteTableId=table["RouteTableId"])
        for subnet in ec2.describe_subnets(Filters=where)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        for gateway in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
            "InternetGateways"
        ]:
            ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
            ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        ec2.delete_vpc(VpcId=vpc_id)


def _delete_repository(lab: Any, repository: str) -> None:
    try:
        uri = lab.ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except lab.ecr.exceptions.RepositoryNotFoundException:
        return
    lab.ecr.delete_repository(repositoryName=repository, force=True)
    _forget_local_names(lab, uri)


def _forget_local_names(lab: Any, repository_uri: str) -> None:
    """The local engine's names under a deleted repository (``URI:TAG``, ``URI@sha256:...``)."""
    from ecslab import ecr as ecr_tools
    from ecslab import images

    images.remove_images(ecr_tools.local_references(lab.docker, repository_uri), client=lab.docker, config=lab.config)


def _active_revisions(ecs: Any, family: str) -> list[str]:
    arns = [
        arn
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE")
        for arn in page["taskDefinitionArns"]
    ]
    return [arn for arn in arns if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]


# -- what is left ----------------------------------------------------------------------------------


def left(lab: Any, resources: CourseResources) -> dict[str, list[str]]:
    """What still exists under the names in ``resources``, kind by kind (only the kinds it names).

    On AWS this includes a resource of the same name that is not the course's (so not deleted)."""
    from botocore.exceptions import ClientError

    found: dict[str, list[str]] = {}
    for item in fields(resources):
        names = list(getattr(resources, item.name))
        if not names:
            continue
        if item.name == "alarms":
            still = [a["AlarmName"] for a in lab.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]]
        elif item.name == "scalable_targets":
            still = [
                t["ResourceId"]
                for t in lab.client("application-autoscaling").describe_scalable_targets(
                    ServiceNamespace="ecs", ResourceIds=names
                )["ScalableTargets"]
            ]
        elif item.name == "clusters":
            still = [c["clusterName"] for c in lab.ecs.describe_clusters(clusters=names)["clusters"] if c["status"] == "ACTIVE"]
        elif item.name == "load_balancers":
            still = [
                b["LoadBalancerName"]
                for b in _all(lab.elbv2, "describe_load_balancers", "LoadBalancers")
                if b["LoadBalancerName"] in names
            ]
        elif item.name == "target_groups":
            still = [
                g["TargetGroupName"]
                for g in _all(lab.elbv2, "describe_target_groups", "TargetGroups")
                if g["TargetGroupName"] in names
            ]
        elif item.name == "security_groups":
            still = [
                g["GroupName"]
                for g in lab.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": names}])["SecurityGroups"]
            ]
        elif item.name == "vpcs":
            still = [v["VpcId"] for v in lab.ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": names}])["Vpcs"]]
        elif item.name == "log_groups":
            still = [
                g["logGroupName"]
                for name in names
                for g in lab.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                if g["logGroupName"] == name
            ]
        elif item.name == "roles":
            still = [r["RoleName"] for r in _all(lab.iam, "list_roles", "Roles") if r["RoleName"] in names]
        elif item.name == "task_families":
            still = [arn for family in names for arn in _active_revisions(lab.ecs, family)]
        elif item.name == "secrets":
            still = [s["Name"] for s in _all(lab.client("secretsmanager"), "list_secrets", "SecretList") if s["Name"] in names]
        elif item.name == "buckets":
            still = [b["Name"] for b in lab.client("s3").list_buckets()["Buckets"] if b["Name"] in names]
        else:
            try:
                still = [
                    r["repositoryName"]
                    for r in _all(lab.ecr, "describe_repositories", "repositories")
                    if r["repositoryName"] in names
                ]
            except ClientError:
                still = []
        found[LABELS[item.name]] = still
    return found


def _all(client: Any, operation: str, key: str) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate() for item in page.get(key, [])]
