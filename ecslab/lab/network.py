"""Security groups in the lab: what the lab enforces, and what it does not model.

moto stores VPCs, subnets and security groups but nothing obeys them, and its default
VPC differs from AWS's: no internet gateway (so every subnet would look private) and a
default security group without its rule admitting its own members. This module, used by
the load balancer filler (:mod:`ecslab.lab.elb`), closes that gap where the lab can do so
honestly. Notebook 07b-networks-and-secrets shows it; :mod:`ecslab.network` is the learner's side.

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
connection); traffic between tasks; and the 127.0.0.1 ports Docker publishes tasks on (the
lab's internal path, its load balancer's), which are not filtered. A task's own public IP
obeys its groups (:mod:`ecslab.lab.task_network`, with :meth:`SecurityGroupRules.interface`).
Targets registered by hand as ``127.0.0.1`` are the lab machine itself and always admitted.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ecslab.lab.fillers import LAB_LOCK
from ecslab.lab.moto import ec2 as moto_ec2
from ecslab.network import INTERNET, ingress_allows

BLOCKED_HOLD_SECONDS = 3.0
"""How long the lab holds a connection its security groups block before closing it unanswered."""

CACHE_SECONDS = 1.0
"""How stale the lab's copy of the security groups may be."""

if TYPE_CHECKING:
    from ecslab.lab.moto.elbv2 import BalancerView


# -- enforcement --------------------------------------------------------------------------------------


class SecurityGroupRules:
    """The lab's copy of the security groups (at most :data:`CACHE_SECONDS` old) and its verdicts."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.lock = threading.Lock()
        self.read_at = -1.0
        self.now = moto_ec2.SecurityGroupsNow()

    def refresh(self, force: bool = False) -> moto_ec2.SecurityGroupsNow:
        """The copy, read again from moto when older than :data:`CACHE_SECONDS` (or ``force``)."""
        with self.lock:
            if not force and time.monotonic() - self.read_at < CACHE_SECONDS:
                return self.now
        with LAB_LOCK:  # the outer lock: taken before this copy's own, never inside it
            now = moto_ec2.read_security_groups(self.region)
        with self.lock:
            self.now, self.read_at = now, time.monotonic()
        return now

    def forget(self) -> None:
        """Read moto again next time (after ``ecslab reset``)."""
        with self.lock:
            self.read_at = -1.0

    def listener(self, balancer: BalancerView, port: int) -> tuple[bool, str]:
        """May the internet (the learner's machine) open a connection to this listener?"""
        if balancer.scheme == "internal":
            return False, f"blocked: {balancer.name} is an internal load balancer, with no public address"
        now = self.refresh()
        groups = [now.groups[g] for g in balancer.security_groups if g in now.groups]
        allowed, why = ingress_allows(groups, port, source_cidr=INTERNET)
        if not allowed:
            allowed_v6, why_v6 = ingress_allows(groups, port, source_cidr="::/0")
            if allowed_v6:
                return allowed_v6, why_v6
        return allowed, why

    def interface(self, interface_id: str, port: int) -> tuple[bool, str]:
        """May the internet (the learner's machine) open a TCP connection to ``port`` of this network interface?"""
        now = self.refresh()
        group_ids = now.by_interface.get(interface_id)
        if group_ids is None:
            return False, f"blocked: the lab knows no network interface {interface_id}"
        groups = [now.groups[g] for g in group_ids if g in now.groups]
        if not groups:
            return False, f"blocked: {interface_id} has no security group"
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
        now = self.refresh()
        group_ids = now.by_instance.get(target_id) if target_id.startswith("i-") else now.by_address.get(target_id)
        if group_ids is None:
            return True, f"allowed: the lab knows no network interface for {target_id} (not modelled)"
        groups = [now.groups[g] for g in group_ids if g in now.groups]
        if not groups:
            return False, f"blocked: {target_id} has no security group"
        for cidr in balancer_cidrs:
            allowed, why = ingress_allows(groups, port, source_cidr=cidr)
            if allowed:
                return allowed, why
        allowed, why = ingress_allows(groups, port, source_group_ids=balancer_groups)
        return allowed, why


def no_public_ip(task: Any) -> bool:
    """Whether an awsvpc task was launched with ``assignPublicIp=DISABLED`` (AWS gives it no public IP)."""
    configuration = getattr(task, "network_configuration", None) or {}
    return str(configuration.get("awsvpcConfiguration", {}).get("assignPublicIp", "")).upper() == "DISABLED"
