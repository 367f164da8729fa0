"""The lab's Application Load Balancer: real listeners, real health checks.

moto only stores ELBv2 objects: its listeners accept no connections, its targets
are always ``healthy`` and ECS services register nothing. This filler makes them work:

- each HTTP listener created through boto3 gets a real HTTP server on 127.0.0.1 (on
  a free port: the listener's own port, e.g. 80, would need root and may be taken);
  ``ecslab status --json`` lists it under ``load_balancers`` and
  :func:`ecslab.elb.listener_url` returns it;
- an HTTPS listener (port 443 on AWS) terminates TLS on its own local port with its ACM
  certificate (:mod:`ecslab.lab.moto.acm`: issued by the lab's own CA, whose bundle file
  ``ecslab status --json`` names as ``ca_bundle``), offering the TLS versions its ``SslPolicy``
  allows (never below TLS 1.2 in the lab), and forwards plain HTTP to the targets with
  ``X-Forwarded-Proto: https``; CreateListener refuses HTTPS without a certificate, HTTP with
  one, an unknown policy and a certificate that is not ``ISSUED``, with AWS's error codes;
- a ``redirect`` action answers ``HTTP_301``/``HTTP_302`` with a ``Location`` built from the
  request as AWS builds it (``#{protocol}``, ``#{host}``, ``#{port}``, ``#{path}``, ``#{query}``);
  because the lab's listeners sit on other local ports than 80/443, a port that names one of
  the load balancer's listeners (e.g. 443) becomes that listener's local port, so the learner
  can follow the ``Location`` (:func:`redirect_location`);
- requests go round robin to the healthy targets of the rule that matches
  (path-pattern and http-header rules by priority, then the default action; ``fixed-response`` too);
  a ``forward`` action with several target groups (``ForwardConfig.TargetGroups[].Weight``)
  splits requests between them by weight, deterministically (smooth weighted round robin, so
  the split follows the weights within one request per group), and the listener counts the
  requests it sent to each target group (``ecslab status --json``: each listener's
  ``requests_per_target_group``; the control API's ``GET /elb/traffic``);
  with no healthy target the ALB fails open to every registered target, as AWS does;
  with no target at all it answers 503;
- health checks run for real with the target group's path, port, interval, timeout,
  thresholds and matcher; ``describe_target_health`` shows ``initial``, ``healthy``,
  ``unhealthy`` (Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks),
  ``draining`` (Target.DeregistrationInProgress) and ``unused`` (Target.NotInUse);
- a deregistered target drains: no new requests, requests in flight finish, and it
  leaves after ``deregistration_delay.timeout_seconds``;
- ECS tasks of services with ``loadBalancers`` are registered and deregistered by the
  lab's ECS agent (:mod:`ecslab.lab.ecs_agent`), which asks :meth:`LoadBalancing.address`
  where an ``ip`` target really listens (the task's port published on 127.0.0.1);
- security groups are obeyed where the lab can (:mod:`ecslab.lab.network` says exactly
  what is and is not modelled): a listener accepts the learner's machine (the internet)
  only if the load balancer's groups admit TCP on its port from ``0.0.0.0/0`` (a blocked
  connection is held for a few seconds, then closed with no answer), and the ALB reaches
  a target only if the target's groups admit it (else ``Target.Timeout``, and ``504`` for
  a request forwarded there); an ALB created without groups gets its VPC's default group.

Per-target request counts and response times are kept for metrics and autoscaling.
Notebook 06 shows all of it (HTTPS too); notebook 07b the security groups.
"""

from __future__ import annotations

import collections
import fnmatch
import http.client
import itertools
import logging
import os
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecslab.lab import network
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, NoTaskHooks
from ecslab.lab.moto import acm as moto_acm
from ecslab.lab.moto import ec2 as moto_ec2
from ecslab.lab.moto import elbv2 as moto_elbv2
from ecslab.lab.moto.elbv2 import TargetKey

log = logging.getLogger("ecslab.lab.elb")

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class TargetState:
    """What the lab knows of one registered target."""

    target_id: str
    port: int
    address: tuple[str, int] | None
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    successes: int = 0
    failures: int = 0
    next_check: float = 0.0
    in_flight: int = 0
    drain_until: float | None = None
    requests: int = 0
    response_times: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=1000))


def matches(matcher: dict[str, Any] | None, status: int) -> bool:
    """Whether ``status`` satisfies a target group matcher like ``200``, ``200-299`` or ``200,302``."""
    codes = (matcher or {}).get("HttpCode", "200")
    for part in str(codes).split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


class LoadBalancing(GapFiller, NoTaskHooks):
    name = "Application Load Balancer"
    gap = (
        "moto's load balancers accept no connections, their targets are always healthy, "
        "ECS services register no targets, and security groups are stored but obeyed by nothing "
        "(its default VPC also lacks AWS's internet gateway and the default group's rule admitting its members)."
    )
    fills = (
        "Each HTTP listener is a real proxy on 127.0.0.1 that sends requests round robin to healthy targets; "
        "health checks run for real with the target group's settings; deregistered targets drain; "
        "the ECS agent registers service tasks. Security groups decide who connects: a listener accepts the "
        "learner's machine only if the ALB's groups admit its port from 0.0.0.0/0 (otherwise the connection is "
        "held 3 s and closed unanswered), and the ALB reaches a task only if the task's groups admit it from the "
        "ALB's groups or subnets (otherwise Target.Timeout, and 504). Not modelled: network ACLs, routing beyond "
        "the internet gateway, egress rules, and the tasks' own ports on 127.0.0.1."
    )

    def __init__(self) -> None:
        self.context: FillerContext | None = None
        self.lock = threading.RLock()
        self.targets: dict[str, dict[TargetKey, TargetState]] = {}  # target group ARN -> targets
        self.addresses: dict[TargetKey, tuple[str, int]] = {}  # (target id, port) -> where it listens
        self.servers: dict[str, tuple[ThreadingHTTPServer, int]] = {}  # listener ARN -> server, port
        self.tls: dict[str, tuple[str | None, str | None]] = {}  # HTTPS listener ARN -> (certificate ARN, policy) served
        self.unservable: dict[str, tuple[str | None, str | None]] = {}  # HTTPS listeners whose certificate could not be served
        self._authority: moto_acm.LabCertificateAuthority | None = None
        self.round_robin: dict[str, itertools.count[int]] = {}
        self.weighted: dict[tuple[str, int | str], dict[str, float]] = {}  # (listener, rule) -> smooth round robin state
        self.listener_requests: dict[str, collections.Counter[str]] = {}  # listener ARN -> target group ARN -> requests
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.rules: network.SecurityGroupRules | None = None

    # -- life --------------------------------------------------------------------------------

    @property
    def region(self) -> str:
        assert self.context is not None
        return str(self.context.config.region)

    @property
    def authority(self) -> moto_acm.LabCertificateAuthority:
        """The lab's certificate authority (its files in the lab's folder, ``ca/``): ACM issues from it."""
        if self._authority is None:
            assert self.context is not None
            self._authority = moto_acm.LabCertificateAuthority(self.context.config.home / "ca")
        return self._authority

    def start(self, context: FillerContext) -> None:
        self.context = context
        moto_acm.PATCHES.apply(self)
        moto_elbv2.PATCHES.apply(self)
        moto_ec2.PATCHES.apply(None)
        self.rules = network.SecurityGroupRules(context.config.region)
        moto_ec2.apply_aws_defaults(context.config.region)  # a backend made before the patches: give it AWS's defaults now
        self.thread = threading.Thread(target=self._loop, name="alb", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        with self.lock:
            servers = [server for server, _ in self.servers.values()]
            self.servers.clear()
        _close(servers)
        moto_ec2.PATCHES.remove()
        moto_elbv2.PATCHES.remove()
        moto_acm.PATCHES.remove()

    def after_reset(self, context: FillerContext) -> None:
        with self.lock:
            servers = [server for server, _ in self.servers.values()]
            self.servers.clear()
            self.tls.clear()
            self.targets.clear()
            self.addresses.clear()
            self.weighted.clear()
            self.listener_requests.clear()
        _close(servers)
        if self.rules is not None:
            self.rules.forget()

    def status(self) -> dict[str, Any]:
        if self.context is None:  # asked before the lab finished starting
            return {}
        balancers = []
        with LAB_LOCK:
            found = moto_elbv2.balancers(self.region)
        for balancer in found:
            listeners = []
            for listener in balancer.listeners:
                with self.lock:
                    entry = self.servers.get(listener.arn)
                    counted = dict(self.listener_requests.get(listener.arn, {}))
                admitted, why = self.rules.listener(balancer, listener.port) if self.rules else (True, "")
                listeners.append(
                    {
                        "arn": listener.arn,
                        "port": listener.port,
                        "protocol": listener.protocol,
                        "url": f"{listener.protocol.lower()}://127.0.0.1:{entry[1]}" if entry else None,
                        "ssl_policy": listener.ssl_policy,
                        "internet": why,
                        "internet_allowed": admitted,
                        "requests_per_target_group": counted,
                    }
                )
            balancers.append({"arn": balancer.arn, "name": balancer.name, "dns_name": balancer.dns_name, "listeners": listeners})
        return {"load_balancers": balancers, "ca_bundle": str(self.authority.bundle)}

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method == "GET" and path == "/elb/traffic":
            return {"listeners": self.listener_traffic()}
        return None

    def listener_traffic(self) -> dict[str, dict[str, int]]:
        """Per listener ARN: the requests it forwarded to each target group (the proxy's own counts)."""
        with self.lock:
            return {arn: dict(counts) for arn, counts in self.listener_requests.items()}

    # -- what moto's ELBv2 asks (moto_elbv2.AlbLab) ----------------------------------------------

    def registered(self, group_arn: str, keys: list[TargetKey]) -> None:
        with self.lock:
            states = self.targets.setdefault(group_arn, {})
            for key in keys:
                if key not in states or states[key].drain_until is not None:
                    address = self.addresses.get(key) or _direct_address(*key)
                    states[key] = TargetState(key[0], key[1], address, next_check=time.monotonic())

    def deregistered(self, group_arn: str, keys: list[TargetKey], delay_seconds: int) -> None:
        with self.lock:
            states = self.targets.get(group_arn, {})
            for key in keys:
                if key in states:
                    state = states[key]
                    state.state = "draining"
                    state.reason, state.description = "Target.DeregistrationInProgress", "Target deregistration is in progress"
                    state.drain_until = time.monotonic() + delay_seconds

    def health(self, group_arn: str, key: TargetKey) -> moto_elbv2.Health | None:
        with self.lock:
            state = self.targets.get(group_arn, {}).get(key)
            return None if state is None else moto_elbv2.Health(state.state, state.reason, state.description)

    def known_targets(self, group_arn: str) -> list[TargetKey]:
        with self.lock:
            return list(self.targets.get(group_arn, {}))

    # -- for the ECS agent --------------------------------------------------------------------

    def address(self, target_id: str, port: int, host: str, host_port: int) -> None:
        """Say where target ``target_id:port`` really listens (the lab's 127.0.0.1 port)."""
        with self.lock:
            self.addresses[(target_id, int(port))] = (host, int(host_port))
            for states in self.targets.values():
                if (target_id, int(port)) in states:
                    states[(target_id, int(port))].address = (host, int(host_port))

    def state_of(self, target_group_arn: str, target_id: str, port: int) -> str | None:
        with self.lock:
            target = self.targets.get(target_group_arn, {}).get((target_id, int(port)))
            return target.state if target else None

    def drained(self, target_group_arn: str, target_id: str, port: int) -> bool:
        with self.lock:
            return (target_id, int(port)) not in self.targets.get(target_group_arn, {})

    def register_target(self, target_group_arn: str, target_id: str, port: int) -> bool:
        """Register a target as ``RegisterTargets`` would; False when the target group is gone."""
        with LAB_LOCK:
            return moto_elbv2.register(self.region, target_group_arn, target_id, port)

    def deregister_target(self, target_group_arn: str, target_id: str, port: int) -> int | None:
        """Deregister a target (it drains): the group's deregistration delay, or ``None`` when it was not registered."""
        with LAB_LOCK:
            return moto_elbv2.deregister(self.region, target_group_arn, target_id, port)

    def target_group(self, target_group_arn: str) -> moto_elbv2.TargetGroupView | None:
        with LAB_LOCK:
            return moto_elbv2.target_group(self.region, target_group_arn)

    def forward_weights(self, rule_arn: str) -> list[tuple[str, int]] | None:
        with LAB_LOCK:
            return moto_elbv2.rule_forward(self.region, rule_arn)

    def set_forward_weights(self, rule_arn: str, weights: list[tuple[str, int]]) -> bool:
        with LAB_LOCK:
            return moto_elbv2.set_rule_forward(self.region, rule_arn, weights)

    # -- for metrics and autoscaling -------------------------------------------------------------

    def request_counts(self) -> dict[str, int]:
        """Requests forwarded so far, per target group ARN (for metrics and autoscaling)."""
        with self.lock:
            return {arn: sum(t.requests for t in states.values()) for arn, states in self.targets.items()}

    def traffic(self, recent: int = 50) -> dict[str, TargetGroupTraffic]:
        """Per target group ARN: requests forwarded so far and the last ``recent`` response times of each target."""
        with self.lock:
            return {
                arn: TargetGroupTraffic(
                    sum(t.requests for t in states.values()),
                    [r for t in states.values() for r in list(t.response_times)[-recent:]],
                )
                for arn, states in self.targets.items()
            }

    # -- security groups (see ecslab.lab.network) -----------------------------------------------

    def balancer_of(self, listener_arn: str) -> moto_elbv2.BalancerView | None:
        with LAB_LOCK:
            return moto_elbv2.balancer_of_listener(self.region, listener_arn)

    def admits_client(self, listener_arn: str) -> tuple[bool, str]:
        """Whether the load balancer's security groups let the learner's machine (the internet) connect."""
        balancer = self.balancer_of(listener_arn)
        listener = next((entry for entry in balancer.listeners if entry.arn == listener_arn), None) if balancer else None
        if balancer is None or listener is None or self.rules is None:
            return True, "listener gone"
        admitted, why = self.rules.listener(balancer, listener.port)
        if not admitted:  # the copy may be up to a second old: a rule added just now must count before a refusal
            self.rules.refresh(force=True)
            admitted, why = self.rules.listener(balancer, listener.port)
        return admitted, why

    def admits_target(self, balancer_arns: Iterable[str], target_id: str, port: int) -> tuple[bool, str]:
        """Whether the target's security groups admit one of these load balancers on ``port``."""
        if self.rules is None:
            return True, "no rules"
        why = f"blocked: no load balancer uses the target group of {target_id}"
        with LAB_LOCK:
            balancers = [moto_elbv2.balancer(self.region, arn) for arn in balancer_arns]
        for balancer in balancers:
            if balancer is None:
                continue
            admitted, why = self.rules.target(list(balancer.security_groups), list(balancer.subnet_cidrs), target_id, port)
            if admitted:
                return admitted, why
        return False, why

    def task_started(self, task: Any, containers: list[Any]) -> str | None:
        """A task launched with ``assignPublicIp=DISABLED`` has no public IP: ``describe_tasks`` shows no address to call.

        Its port stays published on 127.0.0.1 for the lab's ALB (the agent's ``network_bindings``),
        but moto's serializer looks for an attribute named after the shape (``NetworkBindings``)
        before ``network_bindings``, so ``describe_tasks`` shows none (tests/test_network.py
        catches a moto upgrade that changes this).
        """
        if network.no_public_ip(task):
            for container in task.containers:
                container.NetworkBindings = []
        return None

    # -- the loop: listeners, health checks, draining -------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.wait(0.25):
            try:
                self._sync_listeners()
                self._check_health()
            except Exception:
                log.exception("ALB loop failed")

    def _sync_listeners(self) -> None:
        with LAB_LOCK:
            balancers = moto_elbv2.balancers(self.region)
        live = {
            listener.arn: listener
            for balancer in balancers
            for listener in balancer.listeners
            if listener.protocol in ("HTTP", "HTTPS")
        }
        with self.lock:
            changed = [
                (arn, self.servers[arn][0]) for arn, served in self.tls.items() if arn in live and served != _tls_key(live[arn])
            ]
            gone = [self.servers.pop(arn)[0] for arn in list(self.servers) if arn not in live]
            for arn in [arn for arn in self.tls if arn not in self.servers]:
                del self.tls[arn]
            new = [arn for arn in live if arn not in self.servers]
        _close(gone)
        for arn, server in changed:  # ModifyListener changed the certificate or policy: new connections get the new one
            try:
                context = self._tls_context(live[arn])
            except (OSError, ValueError, ssl.SSLError) as error:
                log.warning("HTTPS listener %s: keeps its certificate (%s)", arn[-8:], error)
                context = None
            with self.lock:
                if context is not None and isinstance(server.socket, ssl.SSLSocket):
                    server.socket.context = context  # the port stays: the learner's URL keeps working
                self.tls[arn] = _tls_key(live[arn])
        for arn in new:
            assert self.context is not None
            listener = live[arn]
            server = ThreadingHTTPServer((self.context.config.host, 0), _listener_handler(self, arn, listener.protocol))
            server.daemon_threads = True
            if listener.protocol == "HTTPS":
                try:
                    server.socket = self._tls_context(listener).wrap_socket(
                        server.socket, server_side=True, do_handshake_on_connect=False
                    )
                except (OSError, ValueError, ssl.SSLError) as error:
                    if self.unservable.get(arn) != _tls_key(listener):  # once per listener and certificate, not every tick
                        log.warning("HTTPS listener %s: no certificate to serve (%s)", arn[-8:], error)
                        self.unservable[arn] = _tls_key(listener)
                    server.server_close()
                    continue
            with self.lock:
                self.servers[arn] = (server, int(server.server_address[1]))
                if listener.protocol == "HTTPS":
                    self.tls[arn] = _tls_key(listener)
            threading.Thread(target=server.serve_forever, name=f"alb-{arn[-8:]}", daemon=True).start()

    def _tls_context(self, listener: moto_elbv2.ListenerView) -> ssl.SSLContext:
        """A server context with the listener's certificate and the TLS versions its security policy allows."""
        with LAB_LOCK:
            found = moto_acm.certificate(self.region, listener.certificate or "")
        if found is None:
            raise ValueError(f"certificate {listener.certificate} is not in ACM")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version, context.maximum_version = tls_versions(listener.ssl_policy)
        assert self.context is not None
        folder = self.context.config.home / "ca"
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=folder, suffix=".pem")  # load_cert_chain reads files only
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(found.private_key + b"\n" + found.certificate + b"\n")
            context.load_cert_chain(name)
        finally:
            os.unlink(name)
        return context

    def local_ports(self, balancer: moto_elbv2.BalancerView) -> dict[int, int]:
        """The balancer's listener ports (80, 443, ...) -> the local ports the lab serves them on."""
        with self.lock:
            return {
                listener.port: self.servers[listener.arn][1] for listener in balancer.listeners if listener.arn in self.servers
            }

    def _check_health(self) -> None:
        with LAB_LOCK:
            groups = moto_elbv2.target_groups(self.region)
        now = time.monotonic()
        with self.lock:
            work = []
            for arn, states in list(self.targets.items()):
                group = groups.get(arn)
                if group is None:
                    del self.targets[arn]
                    continue
                for key, state in list(states.items()):
                    if state.drain_until is not None:
                        if now >= state.drain_until:
                            del states[key]
                        continue
                    if now >= state.next_check:
                        state.next_check = now + group.interval_seconds
                        work.append((group, state))
        for group, state in work:
            threading.Thread(target=self._probe, args=(group, state), daemon=True).start()

    def _probe(self, group: moto_elbv2.TargetGroupView, state: TargetState) -> None:
        with self.lock:
            address = state.address
            check_port = group.health_check_port
            if check_port not in (None, "traffic-port") and address is not None and str(check_port) != str(state.port):
                address = (
                    address[0],
                    self.addresses.get((state.target_id, int(str(check_port))), (address[0], int(str(check_port))))[1],
                )
        if address is None:
            self._record(
                group,
                state,
                False,
                "Target.FailedHealthChecks",
                "Health checks failed: the lab does not know where this target listens",
            )
            return
        port = int(str(check_port)) if str(check_port).isdigit() else state.port
        admitted, _why = self.admits_target(group.load_balancer_arns, state.target_id, port)
        if not admitted:  # the security group drops the check's packets: it times out, as on AWS
            if not self.stopping.wait(group.timeout_seconds):
                self._record(group, state, False, "Target.Timeout", "Request timed out")
            return
        try:
            connection = http.client.HTTPConnection(*address, timeout=group.timeout_seconds)
            connection.request("GET", group.health_check_path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
            status = connection.getresponse().status
            connection.close()
        except TimeoutError:
            self._record(group, state, False, "Target.Timeout", "Request timed out")
            return
        except OSError:
            self._record(group, state, False, "Target.FailedHealthChecks", "Health checks failed")
            return
        if matches(group.matcher, status):
            self._record(group, state, True, None, None)
        else:
            self._record(group, state, False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]")

    def _record(
        self, group: moto_elbv2.TargetGroupView, state: TargetState, ok: bool, reason: str | None, description: str | None
    ) -> None:
        with self.lock:
            if state.drain_until is not None:
                return
            if state.state == "initial":
                state.reason, state.description = "Elb.InitialHealthChecking", "Initial health checks in progress"
            if ok:
                state.successes, state.failures = state.successes + 1, 0
                if state.state != "healthy" and state.successes >= group.healthy_threshold:
                    state.state, state.reason, state.description = "healthy", None, None
            else:
                state.failures, state.successes = state.failures + 1, 0
                if state.failures >= group.unhealthy_threshold:
                    state.state, state.reason, state.description = "unhealthy", reason, description

    # -- routing ------------------------------------------------------------------------------

    def route(self, listener_arn: str, path: str, headers: Mapping[str, str] | None = None) -> tuple[str, Any]:
        """("forward", target group ARN) or ("fixed", action data) for a request path.

        A weighted forward picks one of its target groups (:func:`weighted_choice`) and counts the request for it."""
        with LAB_LOCK:
            found = moto_elbv2.listener_rules(self.region, listener_arn)
        if found is None:
            return "fixed", {"StatusCode": "503", "MessageBody": "listener deleted"}
        rules, default_actions = found
        rule_key: int | str = "default"
        actions: Iterable[dict[str, Any]] = default_actions
        for rule in rules:
            if all(_condition_matches(c, path, headers) for c in rule.conditions):
                rule_key, actions = rule.priority, rule.actions
                break
        kind, target = _action(actions)
        if kind != "forward":
            return kind, target
        with self.lock:
            state = self.weighted.setdefault((listener_arn, rule_key), {})
            chosen = weighted_choice(target, state)
            if chosen is None:
                return "fixed", {"StatusCode": "503", "MessageBody": PAGE_503, "ContentType": "text/html"}
            self.listener_requests.setdefault(listener_arn, collections.Counter())[chosen] += 1
        return "forward", chosen

    def pick(self, target_group_arn: str) -> TargetState | None:
        with self.lock:
            states = [s for s in self.targets.get(target_group_arn, {}).values() if s.drain_until is None]
            # healthy targets; if none, every unhealthy one (ALB fails open); targets still in their
            # initial health checks get nothing, so a new service answers 503 until one passes
            pool = [s for s in states if s.state == "healthy"] or [s for s in states if s.state == "unhealthy"]
            if not pool:
                return None
            counter = self.round_robin.setdefault(target_group_arn, itertools.count())
            chosen = pool[next(counter) % len(pool)]
            chosen.in_flight += 1
            return chosen

    def finished(self, chosen: TargetState, seconds: float | None) -> None:
        """A request picked by :meth:`pick` is over (``seconds``: how long the target took; ``None``: never sent)."""
        with self.lock:
            chosen.in_flight -= 1
            if seconds is not None:
                chosen.requests += 1
                chosen.response_times.append(seconds)


def _close(servers: list[ThreadingHTTPServer]) -> None:
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class TargetGroupTraffic:
    """What a target group's targets were sent (for CloudWatch's AWS/ApplicationELB metrics)."""

    requests: int
    response_times: list[float]


def _direct_address(target_id: str, port: int) -> tuple[str, int] | None:
    """A target registered by hand as 127.0.0.1 is reachable as it is; any other address is not."""
    return ("127.0.0.1", port) if target_id in ("127.0.0.1", "localhost") else None


def _condition_matches(condition: dict[str, Any], path: str, headers: Mapping[str, str] | None = None) -> bool:
    field_name = condition.get("Field")
    if field_name == "path-pattern":
        values = condition.get("Values") or condition.get("PathPatternConfig", {}).get("Values", [])
        return any(fnmatch.fnmatchcase(path.split("?")[0], pattern) for pattern in values)
    if field_name == "http-header":  # e.g. a blue/green test listener rule matching a test header
        config = condition.get("HttpHeaderConfig") or {}
        name = str(config.get("HttpHeaderName") or "").lower()
        found = {k.lower(): v for k, v in (headers or {}).items()}.get(name)
        return found is not None and any(fnmatch.fnmatch(found.lower(), str(v).lower()) for v in config.get("Values") or [])
    return False  # host-header, query-string, ... are not modelled: such rules never match


def forward_weights(action: dict[str, Any]) -> list[tuple[str, int]]:
    """A forward action's target groups with their weights (ELBv2: ``TargetGroupArn``, or ``ForwardConfig.TargetGroups``
    whose ``Weight`` defaults to 1 when one is given alone)."""
    if action.get("TargetGroupArn"):
        return [(str(action["TargetGroupArn"]), 1)]
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    return [(str(group["TargetGroupArn"]), int(str(group.get("Weight", 1)))) for group in groups]


def weighted_choice(weights: list[tuple[str, int]], state: dict[str, float]) -> str | None:
    """Smooth weighted round robin (nginx's): each target group's share of picks follows its weight, evenly spread.

    ``state`` holds each group's running score between calls; groups of weight 0 get nothing; ``None`` when all are 0."""
    live = [(arn, weight) for arn, weight in weights if weight > 0]
    if not live:
        return None
    if len(live) == 1:
        return live[0][0]
    for arn in [arn for arn in state if arn not in dict(live)]:
        del state[arn]
    total = sum(weight for _, weight in live)
    for arn, weight in live:
        state[arn] = state.get(arn, 0.0) + weight
    chosen = max(live, key=lambda entry: state[entry[0]])[0]
    state[chosen] -= total
    return chosen


def _action(actions: Iterable[dict[str, Any]]) -> tuple[str, Any]:
    """("forward", [(target group ARN, weight), ...]) or ("fixed", action data)."""
    for data in actions:
        if data.get("Type") == "forward":
            weights = forward_weights(data)
            if weights:
                return "forward", weights
        if data.get("Type") == "fixed-response":
            return "fixed", data.get("FixedResponseConfig", {})
        if data.get("Type") == "redirect":
            return "redirect", data.get("RedirectConfig", {})
    return "fixed", {"StatusCode": "503", "MessageBody": "no action the lab models"}


def _tls_key(listener: moto_elbv2.ListenerView) -> tuple[str | None, str | None]:
    return listener.certificate, listener.ssl_policy


def tls_versions(ssl_policy: str | None) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    """The lowest and highest TLS versions an HTTPS listener offers under a predefined ``SslPolicy``.

    From the policy's protocols as ``DescribeSSLPolicies`` lists them (``ELBSecurityPolicy-TLS13-1-2-2021-06``:
    TLS 1.2 and 1.3; ``ELBSecurityPolicy-2016-08``, the API's default: TLS 1.0 to 1.2). The lab never offers
    less than TLS 1.2 (Python deprecates 1.0 and 1.1), so a policy's lowest below that becomes 1.2."""
    versions = {"TLSv1.3": ssl.TLSVersion.TLSv1_3, "TLSv1.2": ssl.TLSVersion.TLSv1_2}
    allowed = moto_elbv2.policy_protocols(ssl_policy or "ELBSecurityPolicy-2016-08") or ["TLSv1.2"]
    known = sorted({versions.get(name, ssl.TLSVersion.TLSv1_2) for name in allowed})
    return known[0], known[-1]


def redirect_location(
    config: Mapping[str, Any], protocol: str, port: int, host: str, path: str, local_ports: Mapping[int, int]
) -> str:
    """The ``Location`` of a ``redirect`` action (``RedirectActionConfig``) for a request to a listener.

    ``protocol``/``port``: the listener's (``HTTP``, 80); ``host``: the request's Host header; ``path``: the
    request target with its query. Components the action does not set keep the request's values, and the
    keywords ``#{protocol}``, ``#{host}``, ``#{port}``, ``#{path}`` (without its leading ``/``) and ``#{query}``
    are the request's. Then the lab's one change: a port that is one of the load balancer's listener ports
    (``local_ports``: 443 -> the local port the lab serves that listener on) becomes that local port, since
    the listeners do not sit on 80/443 here."""
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    parsed = urllib.parse.urlsplit(path)
    words = {
        "#{protocol}": protocol.lower(),
        "#{host}": hostname,
        "#{port}": str(port),
        "#{path}": parsed.path.lstrip("/"),
        "#{query}": parsed.query,
    }

    def fill(value: str) -> str:
        for word, replacement in words.items():
            value = value.replace(word, replacement)
        return value

    new_protocol = fill(str(config.get("Protocol") or "#{protocol}")).lower()
    new_host = fill(str(config.get("Host") or "#{host}"))
    new_port = fill(str(config.get("Port") or "#{port}"))
    new_path = fill(str(config.get("Path") or "/#{path}"))
    new_query = fill(str(config.get("Query") if config.get("Query") is not None else "#{query}"))
    if new_port.isdigit() and int(new_port) in local_ports:
        new_port = str(local_ports[int(new_port)])
    return f"{new_protocol}://{new_host}:{new_port}{new_path}" + (f"?{new_query}" if new_query else "")


REDIRECT_REASONS = {"HTTP_301": (301, "Moved Permanently"), "HTTP_302": (302, "Found")}


class Listener(BaseHTTPRequestHandler):
    """One listener's request handler: :func:`_listener_handler` binds it to the lab's ALB and a listener ARN."""

    alb: LoadBalancing
    listener_arn: str
    listener_protocol: str = "HTTP"
    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would hold the body ~40 ms

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        admitted, why = self.alb.admits_client(self.listener_arn)
        if not admitted:  # dropped by the security group: no answer at all; the client's own timeout decides what it sees
            log.info("listener %s: connection from %s %s", self.listener_arn[-8:], self.client_address[0], why)
            self.alb.stopping.wait(network.BLOCKED_HOLD_SECONDS)
            self.close_connection = True
            return
        if isinstance(self.connection, ssl.SSLSocket):
            try:  # the handshake happens here, in this connection's thread, not in the listener's accept loop
                self.connection.settimeout(10)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            except (OSError, ssl.SSLError) as error:  # e.g. a client that does not trust the certificate
                log.info("listener %s: TLS handshake failed: %s", self.listener_arn[-8:], error)
                self.close_connection = True
                return
        super().handle()

    def _plain(self, status: int, body: str, content_type: str = "text/html") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        kind, target = self.alb.route(self.listener_arn, self.path, dict(self.headers.items()))
        if kind == "redirect":
            self._redirect(target)
            return
        if kind == "fixed":
            self._plain(
                int(target.get("StatusCode", 200)), target.get("MessageBody", ""), target.get("ContentType", "text/plain")
            )
            return
        chosen = self.alb.pick(target)
        if chosen is None:
            self._plain(503, PAGE_503)
            return
        if chosen.address is None:
            self.alb.finished(chosen, None)
            self._plain(503, PAGE_503)
            return
        balancer = self.alb.balancer_of(self.listener_arn)
        admitted, _why = self.alb.admits_target([balancer.arn] if balancer else [], chosen.target_id, chosen.port)
        if not admitted:  # the target's security group drops the ALB's connection: AWS answers 504 after its connect timeout
            self.alb.stopping.wait(network.BLOCKED_HOLD_SECONDS)
            self.alb.finished(chosen, None)
            self._plain(504, PAGE_504)
            return
        self._forward(chosen, chosen.address, body)

    def _redirect(self, config: dict[str, Any]) -> None:
        balancer = self.alb.balancer_of(self.listener_arn)
        listener = next((entry for entry in balancer.listeners if entry.arn == self.listener_arn), None) if balancer else None
        if balancer is None or listener is None:
            self._plain(503, PAGE_503)
            return
        host = self.headers.get("Host") or balancer.dns_name
        location = redirect_location(config, listener.protocol, listener.port, host, self.path, self.alb.local_ports(balancer))
        status, reason = REDIRECT_REASONS.get(str(config.get("StatusCode")), (301, "Moved Permanently"))
        body = f"<html><body><center><h1>{status} {reason}</h1></center></body></html>".encode()
        self.send_response(status, reason)
        self.send_header("Location", location)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, chosen: TargetState, address: tuple[str, int], body: bytes | None) -> None:
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection(*address, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            headers["X-Forwarded-Proto"] = self.listener_protocol.lower()
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            connection.close()
        except TimeoutError:
            self._plain(504, PAGE_504)
            return
        except OSError:
            self._plain(502, "<html><body><center><h1>502 Bad Gateway</h1></center></body></html>")
            return
        finally:
            self.alb.finished(chosen, time.monotonic() - started)
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle
    do_HEAD = _handle
    do_PATCH = _handle


PAGE_503 = "<html><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
PAGE_504 = "<html><body><center><h1>504 Gateway Time-out</h1></center></body></html>"


def _listener_handler(alb: LoadBalancing, listener_arn: str, protocol: str = "HTTP") -> type[Listener]:
    return type("Listener", (Listener,), {"alb": alb, "listener_arn": listener_arn, "listener_protocol": protocol})
