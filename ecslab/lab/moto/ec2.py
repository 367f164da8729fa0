"""The one place the lab touches moto's EC2 (:mod:`ecslab.lab.network` is the lab's side).

moto's default VPC differs from AWS's: no internet gateway (every subnet would look private)
and a default security group without its rule admitting its own members; and moto compares a
group rule's description when revoking it, where AWS matches the rule by its source group alone.
:data:`PATCHES` declares the changes; :func:`apply_aws_defaults` gives a backend made before
them AWS's defaults; :func:`read_security_groups` copies what the lab enforces into plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.security_groups import SecurityGroup as MotoSecurityGroup
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.models.vpcs import VPC

from ecslab.config import ACCOUNT_ID
from ecslab.lab.moto.patching import PatchSet, declare
from ecslab.network import SecurityGroup, normalise_permissions

T = TypeVar("T")


def backend(region: str) -> EC2Backend:
    return ec2_backends[ACCOUNT_ID][region]


def backend_exists(region: str) -> bool:
    """Whether moto made the region's EC2 backend already; asking for it would make it.

    Never make it from a lab thread: made between a reset and its seed, it would draw the default
    VPC's IDs from unseeded random numbers."""
    return ACCOUNT_ID in dict.keys(ec2_backends) and region in dict.keys(ec2_backends[ACCOUNT_ID])


def default_group_id(region: str, vpc_id: str) -> str | None:
    group = backend(region).get_security_group_from_name("default", vpc_id=vpc_id)
    return None if group is None else str(group.id)


# -- AWS's defaults, which moto lacks -----------------------------------------------------------------


def _quietly(make: Callable[[], T]) -> T:
    """Run ``make`` without moving moto's seeded random numbers, so every other ID stays what it was."""
    from moto.moto_api._internal import mock_random

    state = mock_random.getstate()
    try:
        return make()
    finally:
        mock_random.setstate(state)


def admit_own_members(ec2: EC2Backend, group: MotoSecurityGroup) -> None:
    """Give a VPC's default group AWS's inbound rule: all traffic from members of the group (idempotent)."""
    if any(rule.source_group.get("GroupId") == group.id for rule in group.ingress_rules):
        return
    rule = _quietly(
        lambda: SecurityGroupRule(
            ec2, "-1", group.id, None, None, None, source_group={"GroupId": group.id, "UserId": ACCOUNT_ID}, is_egress=False
        )
    )
    rule.id = "sgr-" + group.id.split("-", 1)[1]
    group.ingress_rules.append(rule)


def attach_internet_gateway(ec2: EC2Backend, vpc: VPC) -> None:
    """Give a default VPC an internet gateway and a 0.0.0.0/0 route to it in the main route table (idempotent)."""
    if any(igw.vpc is not None and igw.vpc.id == vpc.id for igw in ec2.internet_gateways.values()):
        return
    gateway = _quietly(ec2.create_internet_gateway)
    del ec2.internet_gateways[gateway.id]
    gateway.id = "igw-" + vpc.id.split("-", 1)[1]
    ec2.internet_gateways[gateway.id] = gateway
    gateway.vpc = vpc  # type: ignore[assignment]  # moto types it None until attached
    main = next((t for t in ec2.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id), None)
    if main is not None and not any(r.destination_cidr_block == "0.0.0.0/0" for r in main.routes):
        _quietly(lambda: ec2.create_route(main.id, "0.0.0.0/0", gateway_id=gateway.id))


def apply_aws_defaults(region: str) -> None:
    """AWS's defaults for every VPC the region's backend has now, if moto made it already (idempotent)."""
    if not backend_exists(region):
        return
    ec2 = backend(region)
    for vpc in list(ec2.vpcs.values()):
        if vpc.is_default:
            attach_internet_gateway(ec2, vpc)
    for groups in list(ec2.groups.values()):
        for group in list(groups.values()):
            if group.is_default or group.name == "default":
                admit_own_members(ec2, group)


PATCHES: PatchSet[None] = declare(PatchSet("ec2"))

CREATE_SECURITY_GROUP = (
    "(self, name: str, description: str, vpc_id: str | None = None, tags: dict[str, str] | None = None, "
    "force: bool = False, is_default: bool | None = None) -> moto.ec2.models.security_groups.SecurityGroup"
)


@PATCHES.patch("moto.ec2.models:EC2Backend", "create_default_vpc", "(self) -> moto.ec2.models.vpcs.VPC", "with AWS's gateway")
def _create_default_vpc_like_aws(original: Callable[[EC2Backend], VPC], lab: None) -> Callable[[EC2Backend], VPC]:
    def create_default_vpc_like_aws(ec2: EC2Backend) -> VPC:
        vpc = original(ec2)
        attach_internet_gateway(ec2, vpc)
        return vpc

    return create_default_vpc_like_aws


@PATCHES.patch("moto.ec2.models:EC2Backend", "create_security_group", CREATE_SECURITY_GROUP, "default groups admit members")
def _create_default_group_like_aws(original: Callable[..., MotoSecurityGroup], lab: None) -> Callable[..., MotoSecurityGroup]:
    def create_default_group_like_aws(ec2: EC2Backend, name: str, *args: Any, **kwargs: Any) -> MotoSecurityGroup:
        group = original(ec2, name, *args, **kwargs)
        if kwargs.get("is_default"):
            admit_own_members(ec2, group)
        return group

    return create_default_group_like_aws


@PATCHES.patch("moto.ec2.models.security_groups:SecurityGroupRule", "__eq__", "(self, other: 'SecurityGroupRule') -> bool")
def _same_rule_whatever_the_description(original: Callable[..., bool], lab: None) -> Callable[..., bool]:
    def same_rule_whatever_the_description(rule: SecurityGroupRule, other: object) -> bool:
        """AWS revokes a group rule named by its GroupId alone; moto also compared descriptions and owner IDs."""
        if not isinstance(other, SecurityGroupRule) or not (rule.source_group and other.source_group):
            return bool(original(rule, other))

        def key(group: dict[str, str]) -> tuple[str | None, str | None]:
            return group.get("GroupId"), None if group.get("GroupId") else group.get("GroupName")

        if key(rule.source_group) != key(other.source_group):
            return False
        return (
            rule.ip_protocol == other.ip_protocol
            and rule.prefix_list_id == other.prefix_list_id
            and (rule.ip_protocol == "-1" or (rule.from_port, rule.to_port) == (other.from_port, other.to_port))
        )

    return same_rule_whatever_the_description


# -- what the lab enforces, as plain data -------------------------------------------------------------


@dataclass
class SecurityGroupsNow:
    """The region's security groups and who is in them, copied out of moto."""

    groups: dict[str, SecurityGroup] = field(default_factory=dict)
    by_address: dict[str, list[str]] = field(default_factory=dict)  # private IP of a network interface -> its groups
    by_instance: dict[str, list[str]] = field(default_factory=dict)  # EC2 instance ID -> its groups
    by_interface: dict[str, list[str]] = field(default_factory=dict)  # network interface ID -> its groups


def read_security_groups(region: str) -> SecurityGroupsNow:
    """The region's groups, network interfaces and instances (nothing when moto has no EC2 backend yet)."""
    if not backend_exists(region):
        return SecurityGroupsNow()
    ec2 = backend(region)
    now = SecurityGroupsNow()
    for by_vpc in list(ec2.groups.values()):
        for group in list(by_vpc.values()):
            now.groups[group.id] = SecurityGroup(group.id, group.name, group.vpc_id, group.description, tuple(_rules(group)))
    for eni in list(ec2.enis.values()):
        now.by_interface[eni.id] = [g.id for g in eni.group_set]
        if eni.private_ip_address:
            now.by_address[eni.private_ip_address] = [g.id for g in eni.group_set]
    for reservation in list(ec2.reservations.values()):
        for instance in reservation.instances:
            now.by_instance[instance.id] = [g.id for g in instance.security_groups]
    return now


def set_public_ip(region: str, interface_id: str, address: str | None) -> bool:
    """Give a task's network interface its public IP (``Association.PublicIp``), or take it away; False if it is gone."""
    if not backend_exists(region):
        return False
    eni = backend(region).enis.get(interface_id)
    if eni is None:
        return False
    eni.public_ip = address
    return True


def delete_interface(region: str, interface_id: str) -> None:
    """ECS deletes an awsvpc task's network interface when the task stops (DEPROVISIONING); moto never does."""
    if backend_exists(region):
        backend(region).enis.pop(interface_id, None)


def _rules(group: MotoSecurityGroup) -> list[Any]:
    permissions = []
    for rule in list(group.ingress_rules):
        permission: dict[str, Any] = {"IpProtocol": rule.ip_protocol or "-1", "FromPort": rule.from_port, "ToPort": rule.to_port}
        if rule.ip_range.get("CidrIp"):
            permission["IpRanges"] = [{"CidrIp": rule.ip_range["CidrIp"]}]
        if rule.ip_range.get("CidrIpv6"):
            permission["Ipv6Ranges"] = [{"CidrIpv6": rule.ip_range["CidrIpv6"]}]
        if rule.source_group.get("GroupId"):
            permission["UserIdGroupPairs"] = [{"GroupId": rule.source_group["GroupId"]}]
        permissions.append(permission)
    return normalise_permissions(group.id, permissions)


MOTO_DEFAULT_REGION = "us-east-1"
"""The region moto's ``run_instances`` checks instance types against when none is named."""


def keep_instance_type_offerings(region: str) -> int:
    """Drop moto's instance-type offerings of every region but the lab's (and ``us-east-1``, moto's default); returns
    how many regions' lists went.

    moto loads the offerings of all 30 regions at import, three ways each (region, zone, zone ID): about
    65 MB of Python objects, a third of the idle lab. Only the lab's region answers the course's calls
    (``DescribeInstanceTypeOfferings``, ``DescribeSpotPriceHistory``, and ``RunInstances``' type check,
    which reads them); a call in another region finds no offerings. Done once, after import: moto's
    modules share these very dictionaries, so they cannot be swapped for smaller ones."""
    from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS

    kept = {region, MOTO_DEFAULT_REGION}
    dropped = 0
    for by_region in INSTANCE_TYPE_OFFERINGS.values():
        for name in [name for name in by_region if name not in kept]:
            del by_region[name]
            dropped += 1
    return dropped
