"""Security groups in the lab: what the lab enforces, and what it does not model.

moto stores VPCs, subnets and security groups but nothing obeys them, and its default
VPC differs from AWS's: no internet gateway (so every subnet would look private) and a
default security group without its rule admitting its own members. This module, used by
the load balancer filler (:mod:`ecslab.lab.elb`), closes that gap where the lab can do so
honestly. Notebook 07-security shows it; :mod:`ecslab.network` is the learner's side.

Modelled:

- AWS's defaults: each default VPC gets an attached internet gateway and a ``0.0.0.0/0``
  route to it in its main route table; each VPC's ``default`` group admits all traffic
  from its own members; a load balancer created without ``SecurityGroups`` gets its VPC's
  default group (as ``describe_load_balancers`` then shows);
- the internet → an ALB listener: the learner's machine counts as the internet, so a
  connection is accepted only when the load balancer is ``internet-facing`` and one of its
  groups admits TCP on the listener port from ``0.0.0.0/0`` or ``::/0``. Otherwise the lab
  holds the connection silently for :data:`BLOCKED_HOLD_SECONDS` and closes it with no
  answer: a client whose timeout is shorter sees a timeout, as on AWS (where a blocked
  connection is dropped and only ever times out); one with a longer timeout sees the
  connection closed without a response. The lab invents no HTTP status for it;
- the ALB → a target, for health checks and forwarded requests: the target's groups (an
  ``ip`` target's network interface, i.e. an awsvpc task's ``securityGroups``; an
  ``instance`` target's groups) must admit TCP on the target port from one of the load
  balancer's groups or from a CIDR containing the load balancer's subnets. Otherwise a
  health check fails with ``Target.Timeout`` after the target group's timeout, and a
  request sent to the target (an ALB fails open to unhealthy targets) gets ``504`` after
  :data:`BLOCKED_HOLD_SECONDS` (AWS's own answer when a target does not accept the
  connection, after about 10 s there);
- rules are read fresh from moto, cached at most :data:`CACHE_SECONDS`: authorizing or
  revoking a rule takes effect at once (new connections only).

Not modelled: network ACLs; route tables beyond "is there a route to an internet
gateway"; NAT gateways; egress rules (everything may leave); prefix-list rules (never
match); connection tracking of established connections (the lab decides per
connection); traffic between tasks; and the tasks' own published ports on 127.0.0.1,
which are not filtered (:func:`ecslab.ecs.call_task` refuses a task launched with
``assignPublicIp=DISABLED``, which has no public IP on AWS). Targets registered by hand as
``127.0.0.1`` are the lab machine itself and always admitted.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from typing import Any

from ecslab.config import ACCOUNT_ID
from ecslab.network import INTERNET, SecurityGroup, ingress_allows, normalise_permissions

BLOCKED_HOLD_SECONDS = 3.0
"""How long the lab holds a connection its security groups block before closing it unanswered."""

CACHE_SECONDS = 1.0
"""How stale the lab's copy of the security groups may be."""


def ec2_backend(region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[ACCOUNT_ID][region]


# -- AWS's defaults, which moto lacks -----------------------------------------------------------------


def _quietly(make: Any) -> Any:
    """Run ``make`` without moving moto's seeded random numbers, so every other ID stays what it was."""
    from moto.moto_api._internal import mock_random

    state = mock_random.getstate()
    try:
        return make()
    finally:
        mock_random.setstate(state)


def admit_own_members(backend: Any, group: Any) -> None:
    """Give a VPC's default group AWS's inbound rule: all traffic from members of the group."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    if getattr(group, "ecslab_defaults", False):
        return
    group.ecslab_defaults = True
    if any(rule.source_group.get("GroupId") == group.id for rule in group.ingress_rules):
        return
    rule = _quietly(
        lambda: SecurityGroupRule(
            backend, "-1", group.id, None, None, None, source_group={"GroupId": group.id, "UserId": ACCOUNT_ID}, is_egress=False
        )
    )
    rule.id = "sgr-" + group.id.split("-", 1)[1]
    group.ingress_rules.append(rule)


def attach_internet_gateway(backend: Any, vpc: Any) -> None:
    """Give a default VPC what AWS gives it: an internet gateway and a 0.0.0.0/0 route to it in the main route table."""
    if getattr(vpc, "ecslab_defaults", False):
        return
    vpc.ecslab_defaults = True
    if any(igw.vpc is not None and igw.vpc.id == vpc.id for igw in backend.internet_gateways.values()):
        return
    gateway = _quietly(backend.create_internet_gateway)
    del backend.internet_gateways[gateway.id]
    gateway.id = "igw-" + vpc.id.split("-", 1)[1]
    backend.internet_gateways[gateway.id] = gateway
    gateway.vpc = vpc
    main = next((t for t in backend.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id), None)
    if main is not None and not any(r.destination_cidr_block == "0.0.0.0/0" for r in main.routes):
        _quietly(lambda: backend.create_route(main.id, "0.0.0.0/0", gateway_id=gateway.id))


def apply_aws_defaults(backend: Any) -> None:
    """AWS's defaults for every VPC the backend has now (idempotent)."""
    for vpc in list(backend.vpcs.values()):
        if vpc.is_default:
            attach_internet_gateway(backend, vpc)
    for groups in list(backend.groups.values()):
        for group in list(groups.values()):
            if group.is_default or group.name == "default":
                admit_own_members(backend, group)


def patch_moto(patch: Any) -> None:
    """Make moto create AWS's defaults itself (for VPCs made later and after ``ecslab reset``).

    ``patch(owner, attribute, replacement)`` remembers the original so the filler can undo it.
    """
    from moto.ec2.models import EC2Backend
    from moto.elbv2.models import ELBv2Backend

    create_default_vpc = EC2Backend.create_default_vpc

    def create_default_vpc_like_aws(backend: Any) -> Any:
        vpc = create_default_vpc(backend)
        attach_internet_gateway(backend, vpc)
        return vpc

    patch(EC2Backend, "create_default_vpc", create_default_vpc_like_aws)

    create_security_group = EC2Backend.create_security_group

    def create_default_group_like_aws(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        group = create_security_group(backend, name, *args, **kwargs)
        if kwargs.get("is_default"):
            admit_own_members(backend, group)
        return group

    patch(EC2Backend, "create_security_group", create_default_group_like_aws)

    from moto.ec2.models.security_groups import SecurityGroupRule

    same_rule = SecurityGroupRule.__eq__

    def same_rule_whatever_the_description(rule: Any, other: Any) -> bool:
        """AWS revokes a group rule named by its GroupId alone; moto also compared descriptions and owner IDs."""
        if not isinstance(other, SecurityGroupRule) or not (rule.source_group and other.source_group):
            return bool(same_rule(rule, other))

        def key(group: dict[str, str]) -> tuple[str | None, str | None]:
            return group.get("GroupId"), None if group.get("GroupId") else group.get("GroupName")

        if key(rule.source_group) != key(other.source_group):
            return False
        return (
            rule.ip_protocol == other.ip_protocol
            and rule.prefix_list_id == other.prefix_list_id
            and (rule.ip_protocol == "-1" or (rule.from_port, rule.to_port) == (other.from_port, other.to_port))
        )

    patch(SecurityGroupRule, "__eq__", same_rule_whatever_the_description)

    create_load_balancer = ELBv2Backend.create_load_balancer

    def with_default_group(backend: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = create_load_balancer(backend, *args, **kwargs)
        if not balancer.security_groups and getattr(balancer, "type", "application") == "application" and balancer.vpc_id:
            default = ec2_backend(backend.region_name).get_security_group_from_name("default", vpc_id=balancer.vpc_id)
            if default is not None:
                balancer.security_groups = [default.id]  # AWS gives an ALB without groups its VPC's default group
        return balancer

    patch(ELBv2Backend, "create_load_balancer", with_default_group)


# -- enforcement --------------------------------------------------------------------------------------


class SecurityGroupRules:
    """The lab's copy of the security groups (at most :data:`CACHE_SECONDS` old) and its verdicts."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.lock = threading.Lock()
        self.read_at = -1.0
        self.groups: dict[str, SecurityGroup] = {}
        self.by_address: dict[str, list[str]] = {}  # private IP of a network interface -> its groups
        self.by_instance: dict[str, list[str]] = {}  # EC2 instance ID -> its groups

    def refresh(self, force: bool = False) -> None:
        with self.lock:
            if not force and time.monotonic() - self.read_at < CACHE_SECONDS:
                return
            from moto.ec2.models import ec2_backends

            # never make the EC2 backend from this thread: made between a reset and its seed, it
            # would draw the default VPC's IDs from unseeded random numbers
            if ACCOUNT_ID not in dict.keys(ec2_backends) or self.region not in dict.keys(ec2_backends[ACCOUNT_ID]):
                self.groups, self.by_address, self.by_instance = {}, {}, {}
                self.read_at = time.monotonic()
                return
            backend = ec2_backend(self.region)
            groups = {}
            for by_vpc in list(backend.groups.values()):
                for group in list(by_vpc.values()):
                    groups[group.id] = SecurityGroup(group.id, group.name, group.vpc_id, group.description, tuple(_rules(group)))
            by_address = {}
            for eni in list(backend.enis.values()):
                if eni.private_ip_address:
                    by_address[eni.private_ip_address] = [g.id for g in eni.group_set]
            by_instance = {}
            for reservation in list(backend.reservations.values()):
                for instance in reservation.instances:
                    by_instance[instance.id] = [g.id for g in instance.security_groups]
            self.groups, self.by_address, self.by_instance = groups, by_address, by_instance
            self.read_at = time.monotonic()

    def _of(self, group_ids: list[str]) -> list[SecurityGroup]:
        return [self.groups[g] for g in group_ids if g in self.groups]

    def listener(self, balancer: Any, port: int) -> tuple[bool, str]:
        """May the internet (the learner's machine) open a connection to this listener?"""
        if str(getattr(balancer, "scheme", "internet-facing")) == "internal":
            return False, f"blocked: {balancer.name} is an internal load balancer, with no public address"
        self.refresh()
        groups = self._of(list(balancer.security_groups or []))
        allowed, why = ingress_allows(groups, port, source_cidr=INTERNET)
        if not allowed:
            allowed_v6, why_v6 = ingress_allows(groups, port, source_cidr="::/0")
            if allowed_v6:
                return allowed_v6, why_v6
        return allowed, why

    def target(self, balancer_groups: list[str], balancer_cidrs: list[str], target_id: str, port: int) -> tuple[bool, str]:
        """May a load balancer with these groups, in subnets with these CIDRs, reach target ``target_id:port``?"""
        if target_id in ("127.0.0.1", "localhost"):
            return True, "allowed: 127.0.0.1 is the lab machine itself (not modelled)"
        self.refresh()
        group_ids = self.by_instance.get(target_id) if target_id.startswith("i-") else self.by_address.get(target_id)
        if group_ids is None:
            return True, f"allowed: the lab knows no network interface for {target_id} (not modelled)"
        groups = self._of(group_ids)
        if not groups:
            return False, f"blocked: {target_id} has no security group"
        for cidr in balancer_cidrs:
            allowed, why = ingress_allows(groups, port, source_cidr=cidr)
            if allowed:
                return allowed, why
        allowed, why = ingress_allows(groups, port, source_group_ids=balancer_groups)
        return allowed, why


def _rules(group: Any) -> list[Any]:
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


def balancer_cidrs(balancer: Any) -> list[str]:
    """The CIDRs of a load balancer's subnets: where its nodes' addresses come from."""
    cidrs = []
    for subnet in balancer.subnets or []:
        try:
            cidrs.append(str(ipaddress.ip_network(subnet.cidr_block, strict=False)))
        except (AttributeError, ValueError):
            continue
    return cidrs


def no_public_ip(task: Any) -> bool:
    """Whether an awsvpc task was launched with ``assignPublicIp=DISABLED`` (AWS gives it no public IP)."""
    configuration = getattr(task, "network_configuration", None) or {}
    return str(configuration.get("awsvpcConfiguration", {}).get("assignPublicIp", "")).upper() == "DISABLED"
