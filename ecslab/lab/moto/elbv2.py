"""The one place the lab touches moto's ELBv2 (:mod:`ecslab.lab.elb` is the lab's side).

moto stores load balancers, listeners, target groups and targets; its targets are always
``healthy``. :data:`PATCHES` declares the changes that hand target registration and health to
the lab (:class:`AlbLab`), make ``CreateListener`` refuse a second listener on a port (and be
idempotent for the same settings, as on AWS), and give an ALB created without security groups
its VPC's default group. The functions below copy what the lab needs out of moto into frozen
views, so :mod:`ecslab.lab.elb` never holds a moto object.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from moto.elbv2.exceptions import DuplicateListenerError, ELBClientError, ValidationError
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeListener, FakeLoadBalancer, FakeTargetGroup, elbv2_backends
from moto.elbv2.ssl_policies import SSL_POLICIES

from ecslab.config import ACCOUNT_ID
from ecslab.lab.moto import acm as moto_acm
from ecslab.lab.moto import ec2 as moto_ec2
from ecslab.lab.moto.patching import PatchSet, declare

TargetKey = tuple[str, int]
"""A target as the lab keys it: (target ID, port)."""


@dataclass(frozen=True)
class Health:
    """A target's health as ``describe_target_health`` shows it."""

    state: str
    reason: str | None = None
    description: str | None = None


class AlbLab(Protocol):
    """What the patches need from the lab's load balancer."""

    lock: threading.RLock

    def registered(self, group_arn: str, keys: list[TargetKey]) -> None: ...

    def deregistered(self, group_arn: str, keys: list[TargetKey], delay_seconds: int) -> None: ...

    def health(self, group_arn: str, key: TargetKey) -> Health | None:
        """The target's health, or ``None`` when the lab does not know it (not registered)."""

    def known_targets(self, group_arn: str) -> list[TargetKey]:
        """Every target the lab still tracks in the group, draining ones included."""


# -- views -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenerView:
    arn: str
    port: int
    protocol: str
    ssl_policy: str | None = None
    certificate: str | None = None
    """The default certificate's ARN (HTTPS listeners)."""


@dataclass(frozen=True)
class BalancerView:
    arn: str
    name: str
    dns_name: str
    scheme: str
    security_groups: tuple[str, ...]
    subnet_cidrs: tuple[str, ...]
    """The CIDRs of its subnets: where its nodes' addresses come from."""
    listeners: tuple[ListenerView, ...]


@dataclass(frozen=True)
class TargetGroupView:
    arn: str
    name: str
    port: int | None
    target_type: str
    health_check_path: str
    health_check_port: str | None
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: dict[str, Any] | None
    load_balancer_arns: tuple[str, ...]
    deregistration_delay: int


@dataclass(frozen=True)
class Rule:
    """A listener rule: every condition must match; the actions are moto's action data."""

    priority: int
    conditions: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]


def backend(region: str) -> ELBv2Backend:
    return elbv2_backends[ACCOUNT_ID][region]


def _subnet_cidrs(balancer: FakeLoadBalancer) -> tuple[str, ...]:
    cidrs = []
    for subnet in balancer.subnets or []:
        try:
            cidrs.append(str(ipaddress.ip_network(subnet.cidr_block, strict=False)))
        except (AttributeError, ValueError):
            continue
    return tuple(cidrs)


def _balancer_view(balancer: FakeLoadBalancer) -> BalancerView:
    listeners = tuple(
        ListenerView(
            listener.arn,
            int(listener.port),
            str(listener.protocol),
            listener.ssl_policy,
            listener.certificates[0] if listener.certificates else None,
        )
        for listener in list(balancer.listeners.values())
    )
    return BalancerView(
        balancer.arn,
        balancer.name,
        balancer.dns_name,
        str(getattr(balancer, "scheme", "internet-facing") or "internet-facing"),
        tuple(balancer.security_groups or []),
        _subnet_cidrs(balancer),
        listeners,
    )


def balancers(region: str) -> list[BalancerView]:
    return [_balancer_view(balancer) for balancer in list(backend(region).load_balancers.values())]


def balancer(region: str, arn: str) -> BalancerView | None:
    found = backend(region).load_balancers.get(arn)
    return None if found is None else _balancer_view(found)


def balancer_of_listener(region: str, listener_arn: str) -> BalancerView | None:
    for found in list(backend(region).load_balancers.values()):
        if listener_arn in found.listeners:
            return _balancer_view(found)
    return None


def _group_view(group: FakeTargetGroup) -> TargetGroupView:
    return TargetGroupView(
        arn=group.arn,
        name=group.name,
        port=None if group.port is None else int(group.port),
        target_type=str(group.target_type or "instance"),
        health_check_path=group.health_check_path or "/",
        health_check_port=None if group.health_check_port is None else str(group.health_check_port),
        interval_seconds=int(group.health_check_interval_seconds),
        timeout_seconds=int(group.health_check_timeout_seconds),
        healthy_threshold=int(group.healthy_threshold_count),
        unhealthy_threshold=int(group.unhealthy_threshold_count),
        matcher=group.matcher,
        load_balancer_arns=tuple(group.load_balancer_arns),
        deregistration_delay=int(str(group.attributes.get("deregistration_delay.timeout_seconds", 300))),
    )


def target_group(region: str, arn: str) -> TargetGroupView | None:
    group = backend(region).target_groups.get(arn)
    return None if group is None else _group_view(group)


def target_groups(region: str) -> dict[str, TargetGroupView]:
    return {arn: _group_view(group) for arn, group in list(backend(region).target_groups.items())}


def listener_rules(region: str, listener_arn: str) -> tuple[list[Rule], tuple[dict[str, Any], ...]] | None:
    """The listener's rules by priority and its default actions, or ``None`` when it is gone."""
    listener: FakeListener | None = None
    for found in list(backend(region).load_balancers.values()):
        listener = found.listeners.get(listener_arn) or listener
    if listener is None:
        return None
    rules = sorted(
        (
            Rule(int(rule.priority), tuple(rule.conditions), tuple(_data(a) for a in rule.actions))
            for rule in list(listener.rules.values())
            if not rule.is_default
        ),
        key=lambda rule: rule.priority,
    )
    return rules, tuple(_data(a) for a in listener.default_actions)


def _find_rule(region: str, rule_arn: str) -> tuple[Any, FakeListener] | None:
    for found in list(backend(region).load_balancers.values()):
        for listener in list(found.listeners.values()):
            rule = listener.rules.get(rule_arn)
            if rule is not None:
                return rule, listener
    return None


def rule_forward(region: str, rule_arn: str) -> list[tuple[str, int]] | None:
    """The target groups and weights of a listener rule's ``forward`` action; ``None`` when the rule is gone or has none."""
    found = _find_rule(region, rule_arn)
    if found is None:
        return None
    for action in found[0].actions:
        data = _data(action)
        if data.get("Type") != "forward":
            continue
        if data.get("TargetGroupArn"):
            return [(str(data["TargetGroupArn"]), 1)]
        groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
        return [(str(group["TargetGroupArn"]), int(str(group.get("Weight", 1)))) for group in groups]
    return None


def set_rule_forward(region: str, rule_arn: str, weights: list[tuple[str, int]]) -> bool:
    """Rewrite a listener rule's ``forward`` as a weighted one, as ECS does with ``ModifyRule`` while it shifts traffic.

    Its other actions and its conditions stay; a listener's default rule changes the listener's default actions too.
    False when the rule is gone."""
    from moto.elbv2.models import FakeAction

    found = _find_rule(region, rule_arn)
    if found is None:
        return False
    rule, listener = found
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }
    kept = [action for action in rule.actions if _data(action).get("Type") != "forward"]
    order = next((_data(a).get("Order") for a in rule.actions if _data(a).get("Type") == "forward"), None)
    if order is not None:
        forward["Order"] = order
    rule.actions = [*kept, FakeAction(forward)]
    if rule.is_default:
        listener.default_actions = list(rule.actions)
    _attach(backend(region), listener)
    return True


def _check_weights(actions: list[Any] | None) -> None:
    """ELBv2 refuses a weighted forward whose weight is outside 0-999 (botocore: "The weight. The range is 0 to 999.")."""
    for action in actions or []:
        for group in (_data(action).get("ForwardConfig") or {}).get("TargetGroups") or []:
            weight = int(str(group.get("Weight", 1)))
            if not 0 <= weight <= 999:
                raise ValidationError(f"Target group weight {weight} is not valid: the range is 0 to 999.")


def _attach(elbv2: ELBv2Backend, listener: FakeListener) -> None:
    """Every target group a listener's actions forward to is in use by its load balancer (as create_listener/create_rule do)."""
    actions = [*listener.default_actions, *(a for rule in list(listener.rules.values()) for a in rule.actions)]
    for action in actions:
        data = _data(action)
        arns = [data["TargetGroupArn"]] if data.get("TargetGroupArn") else []
        arns += [group["TargetGroupArn"] for group in (data.get("ForwardConfig") or {}).get("TargetGroups") or []]
        for arn in arns:
            group = elbv2.target_groups.get(arn)
            if group is not None and listener.load_balancer_arn not in group.load_balancer_arns:
                group.load_balancer_arns.append(listener.load_balancer_arn)


def _data(action: Any) -> dict[str, Any]:
    return dict(action.data) if hasattr(action, "data") else dict(action)


def register(region: str, group_arn: str, target_id: str, port: int) -> bool:
    """Register a target as ``RegisterTargets`` would (the patched ``register`` tells the lab); False when the group is gone."""
    group = backend(region).target_groups.get(group_arn)
    if group is None:
        return False
    group.register([{"Id": target_id, "Port": port}])
    return True


def deregister(region: str, group_arn: str, target_id: str, port: int) -> int | None:
    """Deregister a target (it drains); its group's deregistration delay, or ``None`` when it was not registered."""
    group = backend(region).target_groups.get(group_arn)
    if group is None:
        return None
    try:
        group.deregister([{"Id": target_id, "Port": port}])
    except Exception:  # moto's InvalidTargetError: not registered (any more)
        return None
    return int(str(group.attributes.get("deregistration_delay.timeout_seconds", 300)))


# -- the patches -----------------------------------------------------------------------------------------

PATCHES: PatchSet[AlbLab] = declare(PatchSet("elbv2"))

_TARGETS = "(self, targets: list[dict[str, typing.Any]]) -> None"
HEALTH_FOR = (
    "(self, target: dict[str, typing.Any], ec2_backend: moto.ec2.models.EC2Backend) -> moto.elbv2.models.FakeHealthStatus"
)
CREATE_LISTENER = (
    "(self, load_balancer_arn: str, protocol: str, port: str, ssl_policy: str, certificate: str | None, "
    "actions: list[dict[str, typing.Any]], alpn_policy: list[str] | None = None, tags: list[dict[str, str]] | None = None) "
    "-> moto.elbv2.models.FakeListener"
)
DESCRIBE_TARGET_HEALTH = (
    "(self, target_group_arn: str, targets: list[dict[str, typing.Any]]) -> list[moto.elbv2.models.FakeHealthStatus]"
)
CREATE_LOAD_BALANCER = (
    "(self, name: str, security_groups: list[str], subnet_ids: list[str], subnet_mappings: list[dict[str, str]] | None = None, "
    "scheme: str = 'internet-facing', loadbalancer_type: str | None = None, ip_address_type: str = 'ipv4', "
    "tags: list[dict[str, str]] | None = None) -> moto.elbv2.models.FakeLoadBalancer"
)


def _key(group: FakeTargetGroup, target: dict[str, Any]) -> TargetKey:
    return target["Id"], int(target.get("Port") or group.port)


@PATCHES.patch("moto.elbv2.models:FakeTargetGroup", "register", _TARGETS, "the lab health-checks registered targets")
def _register_for_real(original: Callable[..., None], lab: AlbLab) -> Callable[..., None]:
    def register_for_real(group: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        original(group, targets)
        lab.registered(group.arn, [_key(group, target) for target in targets])

    return register_for_real


@PATCHES.patch("moto.elbv2.models:FakeTargetGroup", "deregister", _TARGETS, "deregistered targets drain")
def _deregister_and_drain(original: Callable[..., None], lab: AlbLab) -> Callable[..., None]:
    def deregister_and_drain(group: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        original(group, targets)
        delay = int(str(group.attributes.get("deregistration_delay.timeout_seconds", 300)))
        lab.deregistered(group.arn, [_key(group, target) for target in targets], delay)

    return deregister_and_drain


@PATCHES.patch("moto.elbv2.models:FakeTargetGroup", "health_for", HEALTH_FOR, "health as the lab's checks found it")
def _health_for(original: object, lab: AlbLab) -> Callable[..., FakeHealthStatus]:
    def health_for(group: FakeTargetGroup, target: dict[str, Any], ec2_backend: object) -> FakeHealthStatus:
        target_id, port = _key(group, target)
        health = lab.health(group.arn, (target_id, port))
        if health is None:
            health = Health("unused", "Target.NotRegistered", "Target is not registered to the target group")
        elif not group.load_balancer_arns and health.state != "draining":
            health = Health(
                "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
            )
        return FakeHealthStatus(target_id, str(port), group.health_check_port, health.state, health.reason, health.description)

    return health_for


class SSLPolicyNotFoundError(ELBClientError):
    """botocore's SSLPolicyNotFoundException (code ``SSLPolicyNotFound``)."""

    def __init__(self, name: str) -> None:
        super().__init__("SSLPolicyNotFound", f"The specified SSL policy does not exist: '{name}'")


class CertificateNotFoundError(ELBClientError):
    """botocore's CertificateNotFoundException; AWS words it ``Certificate 'ARN' not found``."""

    def __init__(self, arn: str) -> None:
        super().__init__("CertificateNotFound", f"Certificate '{arn}' not found")


SSL_POLICY_NAMES = frozenset(SSL_POLICIES)
"""The predefined security policies (moto's copy of ``DescribeSSLPolicies``): an HTTPS listener's ``SslPolicy`` is one."""


def policy_protocols(name: str) -> list[str]:
    """The TLS versions a predefined security policy allows, as ``DescribeSSLPolicies`` lists them (``TLSv1.2``...)."""
    return list(SSL_POLICIES.get(name, {}).get("ssl_protocols", []))


def check_https_settings(region: str, protocol: str | None, ssl_policy: str | None, certificate: str | None) -> None:
    """Refuse what AWS refuses: HTTPS without a certificate, HTTP with one, an unknown policy, a missing certificate.

    An ACM certificate must exist and be ``ISSUED`` (a requested one still ``PENDING_VALIDATION`` is refused as not found)."""
    protocol = (protocol or "").upper()
    if protocol == "HTTPS":
        if not certificate:
            raise ValidationError("A certificate must be specified for HTTPS listeners")
        if ssl_policy and ssl_policy not in SSL_POLICY_NAMES:
            raise SSLPolicyNotFoundError(ssl_policy)
        if ":acm:" in certificate:
            found = moto_acm.certificate(region, certificate)
            if found is None or found.status != "ISSUED":
                raise CertificateNotFoundError(certificate)
    elif protocol == "HTTP" and certificate:
        raise ValidationError("A certificate cannot be specified for HTTP listeners")


@PATCHES.patch("moto.elbv2.models:ELBv2Backend", "create_listener", CREATE_LISTENER, "one listener per port, as on AWS")
def _create_listener_once_per_port(original: Callable[..., FakeListener], lab: AlbLab) -> Callable[..., FakeListener]:
    def create_listener_once_per_port(
        elbv2: ELBv2Backend, load_balancer_arn: str, protocol: str, port: str, *args: Any, **kwargs: Any
    ) -> FakeListener:
        ssl_policy = kwargs.get("ssl_policy", args[0] if args else None)
        certificate = kwargs.get("certificate", args[1] if len(args) > 1 else None)
        check_https_settings(elbv2.region_name, protocol, ssl_policy, certificate)
        found = elbv2.load_balancers.get(load_balancer_arn)
        same_port = [listener for listener in (found.listeners.values() if found else []) if str(listener.port) == str(port)]
        if same_port:  # moto compares the port with listener ARNs and never finds one
            existing = same_port[0]
            actions = kwargs.get("actions", args[2] if len(args) > 2 else None)
            if existing.protocol == (protocol or "").upper() and [a.data for a in existing.default_actions] == actions:
                return existing  # CreateListener is idempotent for identical settings, as on AWS
            raise DuplicateListenerError()
        created = original(elbv2, load_balancer_arn, protocol, port, *args, **kwargs)
        if created.protocol == "HTTP":
            created.ssl_policy = None  # type: ignore[assignment]  # moto's responses give every listener ELBSecurityPolicy-2016-08; AWS shows none on HTTP
        return created

    return create_listener_once_per_port


@PATCHES.patch("moto.elbv2.models:ELBv2Backend", "describe_target_health", DESCRIBE_TARGET_HEALTH, "draining targets listed")
def _describe_with_draining(
    original: Callable[..., list[FakeHealthStatus]], lab: AlbLab
) -> Callable[..., list[FakeHealthStatus]]:
    def describe_with_draining(
        elbv2: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> list[FakeHealthStatus]:
        if not targets:  # moto lists registered targets only; draining ones are still shown on AWS
            targets = [{"Id": target_id, "Port": port} for target_id, port in lab.known_targets(target_group_arn)]
        return original(elbv2, target_group_arn, targets)

    return describe_with_draining


@PATCHES.patch(
    "moto.elbv2.models:ELBv2Backend", "create_load_balancer", CREATE_LOAD_BALANCER, "an ALB without groups gets the default"
)
def _with_default_group(original: Callable[..., FakeLoadBalancer], lab: AlbLab) -> Callable[..., FakeLoadBalancer]:
    def with_default_group(elbv2: ELBv2Backend, *args: Any, **kwargs: Any) -> FakeLoadBalancer:
        created = original(elbv2, *args, **kwargs)
        if not created.security_groups and getattr(created, "type", "application") == "application" and created.vpc_id:
            default = moto_ec2.default_group_id(elbv2.region_name, created.vpc_id)
            if default is not None:
                created.security_groups = [default]  # AWS gives an ALB without groups its VPC's default group
        return created

    return with_default_group


@PATCHES.patch(
    "moto.elbv2.models:ELBv2Backend",
    "_validate_actions",
    "(self, actions: list[moto.elbv2.models.FakeAction]) -> None",
    "weighted forwards: each weight 0-999 (TargetGroupTuple.Weight)",
)
def _validate_weights(original: Callable[..., None], lab: AlbLab) -> Callable[..., None]:
    def validate_weights(elbv2: ELBv2Backend, actions: list[Any]) -> None:
        _check_weights(actions)
        original(elbv2, actions)

    return validate_weights


MODIFY_RULE = (
    "(self, rule_arn: str, conditions: list[dict[str, typing.Any]], actions: list[dict[str, typing.Any]]) "
    "-> moto.elbv2.models.FakeRule"
)
MODIFY_LISTENER = (
    "(self, arn: str, port: str | None = None, protocol: str | None = None, ssl_policy: str | None = None, "
    "certificates: list[dict[str, typing.Any]] | None = None, actions: list[dict[str, typing.Any]] | None = None) "
    "-> moto.elbv2.models.FakeListener"
)


@PATCHES.patch("moto.elbv2.models:ELBv2Backend", "modify_rule", MODIFY_RULE, "groups it forwards to are in use")
def _modify_rule_attaching(original: Callable[..., Any], lab: AlbLab) -> Callable[..., Any]:
    def modify_rule_attaching(elbv2: ELBv2Backend, rule_arn: str, *args: Any, **kwargs: Any) -> Any:
        _check_weights(kwargs.get("actions", args[1] if len(args) > 1 else None))
        rule = original(elbv2, rule_arn, *args, **kwargs)
        for found in list(elbv2.load_balancers.values()):
            for listener in list(found.listeners.values()):
                if rule_arn in listener.rules:
                    _attach(elbv2, listener)
        return rule

    return modify_rule_attaching


@PATCHES.patch("moto.elbv2.models:ELBv2Backend", "modify_listener", MODIFY_LISTENER, "groups it forwards to are in use")
def _modify_listener_attaching(original: Callable[..., FakeListener], lab: AlbLab) -> Callable[..., FakeListener]:
    def modify_listener_attaching(elbv2: ELBv2Backend, arn: str, *args: Any, **kwargs: Any) -> FakeListener:
        _check_weights(kwargs.get("actions", args[4] if len(args) > 4 else None))
        existing = next((found.listeners[arn] for found in list(elbv2.load_balancers.values()) if arn in found.listeners), None)
        if existing is not None:  # the listener as it would be: HTTPS still needs a certificate, HTTP still takes none
            protocol = str(kwargs.get("protocol", args[1] if len(args) > 1 else None) or existing.protocol).upper()
            policy = kwargs.get("ssl_policy", args[2] if len(args) > 2 else None) or existing.ssl_policy
            given = kwargs.get("certificates", args[3] if len(args) > 3 else None) or []
            certificate = given[0].get("CertificateArn") if given else None
            if protocol == "HTTPS":
                check_https_settings(elbv2.region_name, protocol, policy, certificate or next(iter(existing.certificates), None))
            else:
                check_https_settings(elbv2.region_name, protocol, None, certificate)
        listener = original(elbv2, arn, *args, **kwargs)
        _attach(elbv2, listener)
        return listener

    return modify_listener_attaching
