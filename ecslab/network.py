"""VPCs, subnets and security groups from the learner's side.

Notebook 07-security introduces what is here (notebooks 06 and 08 use
:func:`create_web_security_groups` for their load balancers). Every function that talks
to AWS takes the client it uses (``lab.ec2``, ``lab.elbv2``, ``lab.ecs``), so the same
calls work against the lab and a real account.

- :func:`describe_network`: a VPC, its subnets (public or private, judged as AWS routes:
  a route to an internet gateway) and its security groups with their inbound rules
  normalised to one :class:`Rule` per source;
- :func:`ingress_allows`: the security-group rule evaluation (pure, no AWS call): does
  any of these groups admit TCP on this port from that CIDR or from one of those groups,
  and which rule decided;
- :func:`create_web_security_groups`: the classic pair for a web service behind an ALB;
- :func:`reachability` and :func:`plot_network` (or :func:`network_diagram`): what can
  reach what, as a table and as a picture.

Security groups are stateful and allow-only: a connection is admitted when *any* inbound
rule of *any* of the target's groups admits it; there are no deny rules. Answers go back
whatever the outbound rules say. The lab enforces them where it can (see
:mod:`ecslab.lab.elb`): the internet reaching an ALB listener, and the ALB reaching its
targets. It does not model network ACLs, route tables beyond "is there an internet
gateway", egress rules, or traffic between tasks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INTERNET",
    "Network",
    "Rule",
    "SecurityGroup",
    "Subnet",
    "create_web_security_groups",
    "describe_network",
    "ingress_allows",
    "security_group",
    "task_security_groups",
]

INTERNET = "0.0.0.0/0"
"""Where "the internet" comes from, as a source CIDR (the learner's machine counts as the internet)."""

_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "-1": "-1", "all": "-1"}


@dataclass(frozen=True)
class Rule:
    """One inbound rule of a security group, for one source (a CIDR or a group)."""

    group_id: str
    protocol: str
    """``tcp``, ``udp``, ``icmp`` or ``-1`` (all traffic)."""
    from_port: int | None
    to_port: int | None
    cidr: str | None = None
    source_group_id: str | None = None
    description: str = ""

    def admits_port(self, port: int, protocol: str = "tcp") -> bool:
        if self.protocol == "-1":
            return True
        if self.protocol != protocol:
            return False
        if self.from_port is None or self.to_port is None or self.from_port == -1:
            return True
        return self.from_port <= port <= self.to_port

    @property
    def ports(self) -> str:
        if self.protocol == "-1":
            return "all traffic"
        if self.from_port is None or self.from_port == -1 or (self.from_port, self.to_port) == (0, 65535):
            return f"{self.protocol} all ports"
        if self.from_port == self.to_port:
            return f"{self.protocol} {self.from_port}"
        return f"{self.protocol} {self.from_port}-{self.to_port}"

    @property
    def source(self) -> str:
        return self.cidr or self.source_group_id or "?"

    def __str__(self) -> str:
        return f"{self.ports} from {self.source}"


@dataclass(frozen=True)
class SecurityGroup:
    group_id: str
    name: str
    vpc_id: str | None
    description: str = ""
    ingress: tuple[Rule, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.group_id} ({self.name})"

    @classmethod
    def from_aws(cls, group: dict[str, Any]) -> SecurityGroup:
        """From one entry of ``describe_security_groups``' ``SecurityGroups``."""
        return cls(
            group_id=str(group["GroupId"]),
            name=str(group.get("GroupName", "")),
            vpc_id=group.get("VpcId"),
            description=str(group.get("Description", "")),
            ingress=tuple(normalise_permissions(str(group["GroupId"]), group.get("IpPermissions", []))),
        )


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    availability_zone: str
    cidr: str
    public: bool
    """A route to an internet gateway (0.0.0.0/0 or ::/0) in the subnet's route table."""
    map_public_ip_on_launch: bool
    route_table_id: str | None = None
    internet_gateway_id: str | None = None

    @property
    def kind(self) -> str:
        return "public" if self.public else "private"

    @property
    def why(self) -> str:
        if self.public:
            return f"route to {self.internet_gateway_id} in {self.route_table_id}"
        return f"no route to an internet gateway in {self.route_table_id or 'any route table'}"


@dataclass
class Network:
    """One VPC as :func:`describe_network` found it."""

    vpc_id: str
    cidr: str
    is_default: bool
    subnets: list[Subnet] = field(default_factory=list)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    internet_gateway_id: str | None = None

    def subnet(self, subnet_id: str) -> Subnet | None:
        return next((s for s in self.subnets if s.subnet_id == subnet_id), None)

    def groups(self, group_ids: Iterable[str]) -> list[SecurityGroup]:
        """The security groups with these IDs (unknown IDs are left out)."""
        return [self.security_groups[g] for g in group_ids if g in self.security_groups]

    def default_group(self) -> SecurityGroup | None:
        return next((g for g in self.security_groups.values() if g.name == "default"), None)

    def rows(self) -> list[dict[str, str]]:
        """Subnets as table rows: subnet, AZ, CIDR, public/private and why."""
        return [{"subnet": s.subnet_id, "az": s.availability_zone, "cidr": s.cidr, "kind": s.kind, "why": s.why,
                 "MapPublicIpOnLaunch": str(s.map_public_ip_on_launch)} for s in self.subnets]


def normalise_permissions(group_id: str, permissions: Iterable[dict[str, Any]]) -> list[Rule]:
    """``IpPermissions`` as one :class:`Rule` per source (CIDR, IPv6 CIDR or group); prefix lists are left out."""
    rules = []
    for permission in permissions:
        protocol = str(permission.get("IpProtocol", "-1")).lower()
        protocol = _PROTOCOLS.get(protocol, protocol)
        low = permission.get("FromPort")
        high = permission.get("ToPort")
        ports = (None, None) if protocol == "-1" else (int(low) if low is not None else None, int(high) if high is not None else None)
        for item in permission.get("IpRanges", []):
            rules.append(Rule(group_id, protocol, *ports, cidr=item["CidrIp"], description=item.get("Description", "")))
        for item in permission.get("Ipv6Ranges", []):
            rules.append(Rule(group_id, protocol, *ports, cidr=item["CidrIpv6"], description=item.get("Description", "")))
        for item in permission.get("UserIdGroupPairs", []):
            if item.get("GroupId"):
                rules.append(Rule(group_id, protocol, *ports, source_group_id=item["GroupId"], description=item.get("Description", "")))
    return rules


def _contains(rule_cidr: str, source: str) -> bool:
    """Whether the rule's CIDR contains the whole source (an address or a CIDR) — same IP version only."""
    try:
        network = ipaddress.ip_network(rule_cidr, strict=False)
        inner = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False
    if network.version != inner.version:
        return False
    return inner.subnet_of(network)  # type: ignore[arg-type]


def ingress_allows(
    groups: Iterable[SecurityGroup | dict[str, Any]],
    port: int,
    *,
    source_cidr: str | None = None,
    source_group_ids: Sequence[str] = (),
    protocol: str = "tcp",
) -> tuple[bool, str]:
    """Whether any inbound rule of ``groups`` admits ``protocol`` on ``port`` from the source; and why.

    The source is a CIDR or an address (``source_cidr``: ``"0.0.0.0/0"`` is the internet, a
    subnet's CIDR is whatever sits in that subnet) and/or the security groups the sender
    belongs to (``source_group_ids``). A CIDR rule admits a source it contains entirely;
    a group rule admits a sender that belongs to that group. ``groups`` are
    :class:`SecurityGroup` objects or entries of ``describe_security_groups``.

    Returns ``(True, "allowed by sg-… (name) rule tcp 80 from 0.0.0.0/0")`` or
    ``(False, "blocked: no inbound rule of sg-… (name) admits tcp 8080 from sg-…")``.
    """
    normalised = [g if isinstance(g, SecurityGroup) else SecurityGroup.from_aws(g) for g in groups]
    sources = [s for s in [source_cidr, *source_group_ids] if s]
    wanted = f"{protocol} {port} from {' or '.join(sources) or 'nowhere'}"
    if not normalised:
        return False, f"blocked: no security group to admit {wanted}"
    for group in normalised:
        for rule in group.ingress:
            if not rule.admits_port(port, protocol):
                continue
            if rule.cidr and source_cidr and _contains(rule.cidr, source_cidr):
                return True, f"allowed by {group.label} rule {rule}"
            if rule.source_group_id and rule.source_group_id in source_group_ids:
                return True, f"allowed by {group.label} rule {rule}"
    names = ", ".join(g.label for g in normalised)
    return False, f"blocked: no inbound rule of {names} admits {wanted}"


# -- reading a VPC -----------------------------------------------------------------------------------


def _default_vpc(ec2: Any) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ValueError("This region has no default VPC: pass vpc_id.")
    return str(vpcs[0]["VpcId"])


def describe_network(ec2: Any, vpc_id: str | None = None) -> Network:
    """A VPC (the default one unless ``vpc_id``), its subnets and its security groups.

    A subnet is public when its route table (its own, or the VPC's main one) sends
    ``0.0.0.0/0`` or ``::/0`` to an internet gateway; ``MapPublicIpOnLaunch`` only says
    whether instances get a public IP by default, and is reported beside it.
    """
    vpc_id = vpc_id or _default_vpc(ec2)
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    where = [{"Name": "vpc-id", "Values": [vpc_id]}]
    tables = ec2.describe_route_tables(Filters=where)["RouteTables"]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    by_subnet = {a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")}
    gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]

    def internet_route(table: dict[str, Any] | None) -> str | None:
        for route in (table or {}).get("Routes", []):
            destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
            if destination in ("0.0.0.0/0", "::/0") and str(route.get("GatewayId", "")).startswith("igw-") and route.get("State", "active") == "active":
                return str(route["GatewayId"])
        return None

    subnets = []
    for subnet in ec2.describe_subnets(Filters=where)["Subnets"]:
        table = by_subnet.get(subnet["SubnetId"], main)
        gateway = internet_route(table)
        subnets.append(Subnet(
            subnet_id=str(subnet["SubnetId"]), availability_zone=str(subnet["AvailabilityZone"]), cidr=str(subnet["CidrBlock"]),
            public=gateway is not None, map_public_ip_on_launch=bool(subnet.get("MapPublicIpOnLaunch")),
            route_table_id=table["RouteTableId"] if table else None, internet_gateway_id=gateway,
        ))
    subnets.sort(key=lambda s: (s.availability_zone, s.cidr))
    groups = {g.group_id: g for g in map(SecurityGroup.from_aws, ec2.describe_security_groups(Filters=where)["SecurityGroups"])}
    return Network(
        vpc_id=vpc_id, cidr=str(vpc["CidrBlock"]), is_default=bool(vpc.get("IsDefault")), subnets=subnets,
        security_groups=groups, internet_gateway_id=str(gateways[0]["InternetGatewayId"]) if gateways else None,
    )


def security_group(ec2: Any, group_id: str) -> SecurityGroup:
    """One security group, its inbound rules normalised."""
    return SecurityGroup.from_aws(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0])


# -- the classic pair --------------------------------------------------------------------------------


def _group_id(ec2: Any, vpc_id: str, name: str, description: str) -> str:
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    if found:
        return str(found[0]["GroupId"])
    return str(ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id)["GroupId"])


def _allow(ec2: Any, group_id: str, port: int, *, cidr: str | None = None, source_group_id: str | None = None, description: str = "") -> None:
    """Add one inbound TCP rule unless an identical one is there."""
    current = security_group(ec2, group_id)
    if any(r.protocol == "tcp" and r.from_port == port and r.to_port == port and r.cidr == cidr and r.source_group_id == source_group_id for r in current.ingress):
        return
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr, "Description": description}]
    else:
        permission["UserIdGroupPairs"] = [{"GroupId": source_group_id, "Description": description}]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])


def create_web_security_groups(ec2: Any, vpc_id: str, *, listener_port: int = 80, container_port: int = 8080, prefix: str = "ecslab") -> tuple[str, str]:
    """The classic pair for a web service behind an ALB; returns ``(alb_group_id, task_group_id)``.

    ``{prefix}-alb`` admits TCP ``listener_port`` from anywhere (``0.0.0.0/0``): give it to
    the load balancer (``SecurityGroups=[alb_group_id]``). ``{prefix}-tasks`` admits TCP
    ``container_port`` only from members of the ALB group: give it to the service's tasks
    (``awsvpcConfiguration={"securityGroups": [task_group_id], ...}``), so nobody reaches
    them except through the load balancer. Idempotent: existing groups are reused and a
    missing rule is added back.
    """
    alb_group = _group_id(ec2, vpc_id, f"{prefix}-alb", f"{prefix} load balancer: HTTP {listener_port} from anywhere")
    task_group = _group_id(ec2, vpc_id, f"{prefix}-tasks", f"{prefix} tasks: {container_port} from the load balancer only")
    _allow(ec2, alb_group, listener_port, cidr=INTERNET, description="the internet")
    _allow(ec2, task_group, container_port, source_group_id=alb_group, description="the load balancer")
    return alb_group, task_group


def task_security_groups(ecs: Any, cluster: str, service: str) -> list[str]:
    """The security groups a service gives its tasks (``awsvpcConfiguration.securityGroups``)."""
    described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    return list(described.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("securityGroups", []))
