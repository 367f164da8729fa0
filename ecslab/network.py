"""VPCs, subnets and security groups from the learner's side.

Notebook 07b-networks-and-secrets introduces what is here (notebooks 06 and 08 use
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
  reach what, as a table and as a picture; :func:`reachability_explorer`, the same question
  asked one path at a time in a small form (notebook 07b).

Security groups are stateful and allow-only: a connection is admitted when *any* inbound
rule of *any* of the target's groups admits it; there are no deny rules. Answers go back
whatever the outbound rules say. The lab enforces them where it can (see
:mod:`ecslab.lab.elb`): the internet reaching an ALB listener, and the ALB reaching its
targets. It does not model network ACLs, route tables beyond "is there an internet
gateway", egress rules, or traffic between tasks.
"""

from __future__ import annotations

import html
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
    "load_balancer_view",
    "network_diagram",
    "plot_network",
    "public_task_security_group",
    "reachability",
    "reachability_explorer",
    "security_group",
    "task_security_groups",
    "task_view",
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
    egress: tuple[Rule, ...] = ()
    """Outbound rules (a rule's ``source`` is then its destination). A new group has one: all traffic to 0.0.0.0/0."""

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
            egress=tuple(normalise_permissions(str(group["GroupId"]), group.get("IpPermissionsEgress", []))),
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
        return [
            {
                "subnet": s.subnet_id,
                "az": s.availability_zone,
                "cidr": s.cidr,
                "kind": s.kind,
                "why": s.why,
                "MapPublicIpOnLaunch": str(s.map_public_ip_on_launch),
            }
            for s in self.subnets
        ]


def normalise_permissions(group_id: str, permissions: Iterable[dict[str, Any]]) -> list[Rule]:
    """``IpPermissions`` as one :class:`Rule` per source (CIDR, IPv6 CIDR or group); prefix lists are left out."""
    rules = []
    for permission in permissions:
        protocol = str(permission.get("IpProtocol", "-1")).lower()
        protocol = _PROTOCOLS.get(protocol, protocol)
        low = permission.get("FromPort")
        high = permission.get("ToPort")
        ports = (
            (None, None) if protocol == "-1" else (int(low) if low is not None else None, int(high) if high is not None else None)
        )
        for item in permission.get("IpRanges", []):
            rules.append(Rule(group_id, protocol, *ports, cidr=item["CidrIp"], description=item.get("Description", "")))
        for item in permission.get("Ipv6Ranges", []):
            rules.append(Rule(group_id, protocol, *ports, cidr=item["CidrIpv6"], description=item.get("Description", "")))
        for item in permission.get("UserIdGroupPairs", []):
            if item.get("GroupId"):
                rules.append(
                    Rule(group_id, protocol, *ports, source_group_id=item["GroupId"], description=item.get("Description", ""))
                )
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
            if (
                destination in ("0.0.0.0/0", "::/0")
                and str(route.get("GatewayId", "")).startswith("igw-")
                and route.get("State", "active") == "active"
            ):
                return str(route["GatewayId"])
        return None

    subnets = []
    for subnet in ec2.describe_subnets(Filters=where)["Subnets"]:
        table = by_subnet.get(subnet["SubnetId"], main)
        gateway = internet_route(table)
        subnets.append(
            Subnet(
                subnet_id=str(subnet["SubnetId"]),
                availability_zone=str(subnet["AvailabilityZone"]),
                cidr=str(subnet["CidrBlock"]),
                public=gateway is not None,
                map_public_ip_on_launch=bool(subnet.get("MapPublicIpOnLaunch")),
                route_table_id=table["RouteTableId"] if table else None,
                internet_gateway_id=gateway,
            )
        )
    subnets.sort(key=lambda s: (s.availability_zone, s.cidr))
    groups = {g.group_id: g for g in map(SecurityGroup.from_aws, ec2.describe_security_groups(Filters=where)["SecurityGroups"])}
    return Network(
        vpc_id=vpc_id,
        cidr=str(vpc["CidrBlock"]),
        is_default=bool(vpc.get("IsDefault")),
        subnets=subnets,
        security_groups=groups,
        internet_gateway_id=str(gateways[0]["InternetGatewayId"]) if gateways else None,
    )


def security_group(ec2: Any, group_id: str) -> SecurityGroup:
    """One security group, its inbound rules normalised."""
    return SecurityGroup.from_aws(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0])


# -- the classic pair --------------------------------------------------------------------------------


def _group_id(ec2: Any, vpc_id: str, name: str, description: str) -> str:
    found = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    if found:
        return str(found[0]["GroupId"])
    return str(ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id)["GroupId"])


def _allow(
    ec2: Any, group_id: str, port: int, *, cidr: str | None = None, source_group_id: str | None = None, description: str = ""
) -> None:
    """Add one inbound TCP rule unless an identical one is there."""
    current = security_group(ec2, group_id)
    if any(
        r.protocol == "tcp"
        and r.from_port == port
        and r.to_port == port
        and r.cidr == cidr
        and r.source_group_id == source_group_id
        for r in current.ingress
    ):
        return
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr, "Description": description}]
    else:
        permission["UserIdGroupPairs"] = [{"GroupId": source_group_id, "Description": description}]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])


def create_web_security_groups(
    ec2: Any, vpc_id: str, *, listener_port: int = 80, container_port: int = 8080, prefix: str = "ecslab"
) -> tuple[str, str]:
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


def public_task_security_group(ec2: Any, vpc_id: str, *, container_port: int = 8080, name: str = "ecslab-public-tasks") -> str:
    """A group that admits TCP ``container_port`` from anywhere (``0.0.0.0/0``); returns its ID (notebooks 04, 05, 08).

    What a task needs to be reached directly at its public IP (``assignPublicIp=ENABLED``) from your machine,
    which counts as the internet: without such a rule the connection is dropped and times out. For a real
    service, prefer a load balancer and :func:`create_web_security_groups`. Idempotent."""
    group = _group_id(ec2, vpc_id, name, f"{name}: TCP {container_port} from anywhere")
    _allow(ec2, group, container_port, cidr=INTERNET, description="the internet")
    return group


def task_security_groups(ecs: Any, cluster: str, service: str) -> list[str]:
    """The security groups a service gives its tasks (``awsvpcConfiguration.securityGroups``)."""
    described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    return list(described.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("securityGroups", []))


# -- what can reach what -----------------------------------------------------------------------------


def reachability_explorer(
    ec2: Any,
    vpc_id: str,
    sources: dict[str, dict[str, Any]],
    targets: dict[str, list[str]],
    ports: Sequence[int] = (80, 443, 8080),
) -> Any:
    """A small form: pick who connects (``sources``), to what (``targets``) and on which TCP port; read whether the
    target's security groups admit it, and the rule that decided (:func:`ingress_allows`).

    ``sources`` maps a label to :func:`ingress_allows`' source (``{"source_cidr": "0.0.0.0/0"}``,
    ``{"source_group_ids": [...]}``, or both); ``targets`` maps a label to the target's security group IDs. The
    rules are read from EC2 again on every change, so a rule revoked or authorized since shows at once. Group IDs
    are shown with their names."""
    import ipywidgets as widgets

    source_box = widgets.Dropdown(options=list(sources), description="from")
    target_box = widgets.Dropdown(options=list(targets), description="to")
    port_box = widgets.Dropdown(options=list(ports), value=ports[0], description="TCP port")
    answer = widgets.HTML()

    def update(_change: Any = None) -> None:
        network = describe_network(ec2, vpc_id)
        allowed, why = ingress_allows(network.groups(targets[target_box.value]), int(port_box.value), **sources[source_box.value])
        for group in network.security_groups.values():
            why = why.replace(group.label, group.name).replace(group.group_id, group.name)
        colour, word = ("#1b7f3b", "Allowed") if allowed else ("#b00020", "Blocked")
        answer.value = f'<b style="color:{colour}">{word}</b><br>{html.escape(why)}'

    for box in (source_box, target_box, port_box):
        box.observe(update, names="value")
    update()
    return widgets.VBox([source_box, target_box, port_box, answer])


def load_balancer_view(elbv2: Any, balancer: dict[str, Any]) -> dict[str, Any]:
    """What :func:`reachability` and :func:`plot_network` need of one ``describe_load_balancers`` entry."""
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    return {
        "name": balancer["LoadBalancerName"],
        "subnets": [zone["SubnetId"] for zone in balancer.get("AvailabilityZones", [])],
        "security_groups": list(balancer.get("SecurityGroups", [])),
        "ports": sorted(int(listener["Port"]) for listener in listeners) or [80],
        "scheme": balancer.get("Scheme", "internet-facing"),
    }


def task_view(ec2: Any, task: dict[str, Any], container_port: int = 8080) -> dict[str, Any]:
    """What :func:`reachability` and :func:`plot_network` need of one ``describe_tasks`` entry.

    ``describe_tasks`` names the task's network interface; its security groups and public IP
    are the interface's (``describe_network_interfaces``), as on AWS."""
    details = {
        d["name"]: d["value"]
        for a in task.get("attachments", [])
        if a.get("type") == "ElasticNetworkInterface"
        for d in a.get("details", [])
    }
    groups: list[str] = []
    public_ip = None
    if details.get("networkInterfaceId"):
        interface = ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][0]
        groups = [g["GroupId"] for g in interface.get("Groups", [])]
        public_ip = interface.get("Association", {}).get("PublicIp")
    return {
        "name": "task " + task["taskArn"].split("/")[-1][:8],
        "subnet": details.get("subnetId"),
        "private_ip": details.get("privateIPv4Address"),
        "security_groups": groups,
        "port": container_port,
        "public_ip": public_ip,
    }


def reachability(
    network: Network, *, load_balancers: Sequence[dict[str, Any]] = (), tasks: Sequence[dict[str, Any]] = ()
) -> list[dict[str, str]]:
    """One row per path: the internet to each listener, and each load balancer to each task.

    ``load_balancers`` and ``tasks`` are :func:`load_balancer_view` and :func:`task_view`
    entries. A load balancer reaches a task when the task's groups admit its port from one
    of the load balancer's groups, or from a CIDR holding the load balancer's subnets."""
    rows = []
    for balancer in load_balancers:
        for port in balancer["ports"]:
            if balancer.get("scheme") == "internal":
                allowed, why = False, "blocked: an internal load balancer has no public address"
            else:
                allowed, why = ingress_allows(network.groups(balancer["security_groups"]), port, source_cidr=INTERNET)
            rows.append(
                {
                    "from": "internet",
                    "to": f"{balancer['name']}:{port}",
                    "verdict": "allowed" if allowed else "blocked",
                    "why": why,
                }
            )
    for balancer in load_balancers:
        cidrs = [subnet.cidr for subnet in (network.subnet(s) for s in balancer["subnets"]) if subnet]
        for task in tasks:
            groups = network.groups(task["security_groups"])
            allowed, why = False, ""
            for cidr in cidrs:
                allowed, why = ingress_allows(groups, task["port"], source_cidr=cidr)
                if allowed:
                    break
            if not allowed:
                allowed, why = ingress_allows(groups, task["port"], source_group_ids=balancer["security_groups"])
            rows.append(
                {
                    "from": balancer["name"],
                    "to": f"{task['name']}:{task['port']}",
                    "verdict": "allowed" if allowed else "blocked",
                    "why": why,
                }
            )
    return rows


def network_diagram(lab: Any, cluster: str | None = None, container_port: int = 8080, ax: Any | None = None) -> Any:
    """:func:`plot_network` of the default VPC with its load balancers and the RUNNING tasks of ``cluster`` (or every cluster)."""
    found = describe_network(lab.ec2)
    balancers = [
        load_balancer_view(lab.elbv2, b)
        for b in lab.elbv2.describe_load_balancers()["LoadBalancers"]
        if b.get("VpcId") == found.vpc_id
    ]
    clusters = [cluster] if cluster else lab.ecs.list_clusters()["clusterArns"]
    tasks = []
    for name in clusters:
        arns = lab.ecs.list_tasks(cluster=name, desiredStatus="RUNNING")["taskArns"]
        for start in range(0, len(arns), 100):
            for task in lab.ecs.describe_tasks(cluster=name, tasks=arns[start : start + 100])["tasks"]:
                view = task_view(lab.ec2, task, container_port)
                if view["subnet"] and found.subnet(view["subnet"]):
                    tasks.append(view)
    return plot_network(found, load_balancers=balancers, tasks=tasks, ax=ax)


def plot_network(
    network: Network,
    *,
    load_balancers: Sequence[dict[str, Any]] = (),
    tasks: Sequence[dict[str, Any]] = (),
    ax: Any | None = None,
) -> Any:
    """The VPC, its subnets per AZ (public or private), the load balancers and tasks in them, and what can reach what.

    Green arrows are allowed by a security group, red dashed ones blocked (:func:`reachability` says why).
    Only subnets holding a load balancer or a task are drawn, or every subnet when none does."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Rectangle

    from ecslab.diagrams import GREY, NAVY, ORANGE

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 5.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 7.4)
    ax.axis("off")
    used = {s for b in load_balancers for s in b["subnets"]} | {t["subnet"] for t in tasks}
    subnets = [s for s in network.subnets if s.subnet_id in used] or list(network.subnets)
    # public subnets first, so a load balancer spanning them is drawn over them alone
    subnets.sort(key=lambda s: (not s.public, s.availability_zone, s.subnet_id))
    width = 9.4 / max(len(subnets), 1)
    column = {s.subnet_id: index for index, s in enumerate(subnets)}
    ax.add_patch(Rectangle((0.2, 0.2), 9.6, 5.4, fill=False, edgecolor=NAVY, linewidth=1.5))
    ax.text(
        0.3,
        5.4,
        f"VPC {network.vpc_id}  {network.cidr}" + ("  (default VPC)" if network.is_default else ""),
        fontsize=8.5,
        fontweight="bold",
        color=NAVY,
        va="top",
    )
    gateway = network.internet_gateway_id or "no internet gateway"
    ax.add_patch(FancyBboxPatch((4.0, 6.35), 2.0, 0.8, boxstyle="round,pad=0.02", facecolor="#ffffff", edgecolor=NAVY))
    ax.text(5.0, 6.85, "the internet", ha="center", fontsize=9, fontweight="bold", color=NAVY)
    ax.text(5.0, 6.5, f"(your machine) via {gateway}", ha="center", fontsize=6.5, color=NAVY)
    for subnet in subnets:
        x = 0.3 + column[subnet.subnet_id] * width
        ax.add_patch(
            FancyBboxPatch(
                (x + 0.05, 0.35),
                width - 0.1,
                4.6,
                boxstyle="round,pad=0.02",
                facecolor="#e3f1e6" if subnet.public else GREY,
                edgecolor=NAVY,
                linewidth=0.8,
                alpha=0.6,
            )
        )
        ax.text(x + width / 2, 4.8, f"{subnet.kind} subnet", ha="center", va="top", fontsize=7.5, fontweight="bold", color=NAVY)
        ax.text(
            x + width / 2,
            4.5,
            f"{subnet.availability_zone}\n{subnet.subnet_id}\n{subnet.cidr}",
            ha="center",
            va="top",
            fontsize=6,
            color=NAVY,
        )

    def group_names(ids: Sequence[str]) -> str:
        return ", ".join(network.security_groups[g].name if g in network.security_groups else g for g in ids) or "no group"

    def arrow(start: tuple[float, float], end: tuple[float, float], allowed: bool, label: str) -> None:
        colour = "#1b7f3b" if allowed else "#b3261e"
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.6, "linestyle": "-" if allowed else "--"},
        )
        ax.text(
            (start[0] + end[0]) / 2 + 0.06,
            (start[1] + end[1]) / 2,
            label + (" ✓" if allowed else " ✗"),
            fontsize=7,
            color=colour,
            fontweight="bold",
        )

    rows = reachability(network, load_balancers=load_balancers, tasks=tasks)
    verdict = {(r["from"], r["to"]): r["verdict"] == "allowed" for r in rows}
    centres: dict[str, tuple[float, float]] = {}
    for index, balancer in enumerate(load_balancers):
        columns = [column[s] for s in balancer["subnets"] if s in column] or [0]
        x = 0.3 + min(columns) * width + 0.2
        w = (max(columns) - min(columns) + 1) * width - 0.4
        y = 2.75 - index * 0.25
        ax.add_patch(FancyBboxPatch((x, y), w, 0.75, boxstyle="round,pad=0.02", facecolor=ORANGE, edgecolor=NAVY, alpha=0.95))
        ax.text(x + w / 2, y + 0.5, f"ALB {balancer['name']}", ha="center", fontsize=8, fontweight="bold", color=NAVY)
        ax.text(x + w / 2, y + 0.18, f"SG: {group_names(balancer['security_groups'])}", ha="center", fontsize=6.5, color=NAVY)
        centres[balancer["name"]] = (x + w / 2, y)
        for port in balancer["ports"]:
            arrow(
                (5.0 + 0.3 * index, 6.35),
                (x + w / 2, y + 0.75),
                verdict.get(("internet", f"{balancer['name']}:{port}"), False),
                f"HTTP {port}",
            )
    per_subnet: dict[str, int] = {}
    for task in tasks:
        if task["subnet"] not in column:
            continue
        slot = per_subnet.get(task["subnet"], 0)
        per_subnet[task["subnet"]] = slot + 1
        x = 0.3 + column[task["subnet"]] * width + 0.15 + slot * 0.12
        y = 0.55 + slot * 0.12
        w = width - 0.3 - 0.12 * slot
        ax.add_patch(FancyBboxPatch((x, y), w, 0.8, boxstyle="round,pad=0.02", facecolor="#fdebd0", edgecolor=NAVY))
        ax.text(x + w / 2, y + 0.55, task["name"], ha="center", fontsize=7, fontweight="bold", color=NAVY)
        ax.text(
            x + w / 2,
            y + 0.35,
            f"{task.get('private_ip') or ''}" + ("" if task.get("public_ip") else "  (no public IP)"),
            ha="center",
            fontsize=6,
            color=NAVY,
        )
        ax.text(x + w / 2, y + 0.12, f"SG: {group_names(task['security_groups'])}", ha="center", fontsize=6, color=NAVY)
        for balancer in load_balancers:
            start = centres[balancer["name"]]
            arrow(
                start,
                (x + w / 2, y + 0.8),
                verdict.get((balancer["name"], f"{task['name']}:{task['port']}"), False),
                f"{task['port']}",
            )
    ax.set_title("Security groups decide what can reach what (green: allowed, red: blocked)", fontsize=10)
    return ax


def delete_namespace(servicediscovery: Any, name: str) -> list[str]:
    """Delete the Cloud Map namespaces called ``name`` (Service Connect's; the services using them must be gone); their IDs.

    Cloud Map deletes a namespace asynchronously on AWS (``delete_namespace`` returns an operation ID); it refuses while
    services are registered in it (``ResourceInUse``)."""
    found = [
        namespace["Id"]
        for page in servicediscovery.get_paginator("list_namespaces").paginate()
        for namespace in page["Namespaces"]
        if namespace["Name"] == name
    ]
    for namespace_id in found:
        servicediscovery.delete_namespace(Id=namespace_id)
    return found
