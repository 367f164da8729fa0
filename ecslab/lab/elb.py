"""The lab's Application Load Balancer: real listeners, real health checks.

moto only stores ELBv2 objects: its listeners accept no connections, its targets
are always ``healthy`` and ECS services register nothing. This filler makes them work:

- each HTTP listener created through boto3 gets a real HTTP server on 127.0.0.1 (on
  a free port: the listener's own port, e.g. 80, would need root and may be taken);
  ``ecslab status --json`` lists it under ``load_balancers`` and
  :func:`ecslab.elb.listener_url` returns it;
- requests go round robin to the healthy targets of the rule that matches
  (path-pattern rules by priority, then the default action; ``fixed-response`` too);
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
Notebook 06 shows all of it; notebook 07 the security groups.
"""

from __future__ import annotations

import collections
import fnmatch
import http.client
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecslab.config import ACCOUNT_ID
from ecslab.lab import network
from ecslab.lab.fillers import FillerContext, GapFiller

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


class LoadBalancing(GapFiller):
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
        self.targets: dict[str, dict[tuple[str, int], TargetState]] = {}  # target group ARN -> targets
        self.addresses: dict[tuple[str, int], tuple[str, int]] = {}  # (target id, port) -> where it listens
        self.servers: dict[str, tuple[ThreadingHTTPServer, int]] = {}  # listener ARN -> server, port
        self.round_robin: dict[str, itertools.count[int]] = {}
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self._originals: list[tuple[Any, str, Any]] = []
        self.rules: network.SecurityGroupRules | None = None

    # -- life --------------------------------------------------------------------------------

    def start(self, context: FillerContext) -> None:
        self.context = context
        self._patch_moto()
        self.rules = network.SecurityGroupRules(context.config.region)
        from moto.ec2.models import ec2_backends

        if context.config.region in ec2_backends[ACCOUNT_ID].keys():  # made before the patch: give it AWS's defaults now
            network.apply_aws_defaults(ec2_backends[ACCOUNT_ID][context.config.region])
        self.thread = threading.Thread(target=self._loop, name="alb", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        for server, _ in list(self.servers.values()):
            server.shutdown()
            server.server_close()
        self.servers.clear()
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)

    def after_reset(self, context: FillerContext) -> None:
        with self.lock:
            for server, _ in list(self.servers.values()):
                server.shutdown()
                server.server_close()
            self.servers.clear()
            self.targets.clear()
            self.addresses.clear()
        if self.rules is not None:
            self.rules.read_at = -1.0

    def status(self) -> dict[str, Any]:
        if self.context is None:  # asked before the lab finished starting
            return {}
        balancers = []
        backend = self.backend()
        for balancer in list(backend.load_balancers.values()):
            listeners = []
            for listener in list(balancer.listeners.values()):
                entry = self.servers.get(listener.arn)
                admitted, why = self.rules.listener(balancer, int(listener.port)) if self.rules else (True, "")
                listeners.append(
                    {
                        "arn": listener.arn,
                        "port": int(listener.port),
                        "protocol": listener.protocol,
                        "url": f"http://127.0.0.1:{entry[1]}" if entry else None,
                        "internet": why,
                        "internet_allowed": admitted,
                    }
                )
            balancers.append({"arn": balancer.arn, "name": balancer.name, "dns_name": balancer.dns_name, "listeners": listeners})
        return {"load_balancers": balancers}

    def backend(self) -> Any:
        from moto.elbv2.models import elbv2_backends

        assert self.context is not None
        return elbv2_backends[ACCOUNT_ID][self.context.config.region]

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

    def request_counts(self) -> dict[str, int]:
        """Requests forwarded so far, per target group ARN (for metrics and autoscaling)."""
        with self.lock:
            return {arn: sum(t.requests for t in states.values()) for arn, states in self.targets.items()}

    # -- security groups (see ecslab.lab.network) -----------------------------------------------

    def balancer_of(self, listener_arn: str) -> Any | None:
        for balancer in list(self.backend().load_balancers.values()):
            if listener_arn in balancer.listeners:
                return balancer
        return None

    def admits_client(self, listener_arn: str) -> tuple[bool, str]:
        """Whether the load balancer's security groups let the learner's machine (the internet) connect."""
        balancer = self.balancer_of(listener_arn)
        if balancer is None or self.rules is None:
            return True, "listener gone"
        return self.rules.listener(balancer, int(balancer.listeners[listener_arn].port))

    def admits_target(self, balancer_arns: list[str], target_id: str, port: int) -> tuple[bool, str]:
        """Whether the target's security groups admit one of these load balancers on ``port``."""
        if self.rules is None:
            return True, "no rules"
        balancers = [b for b in (self.backend().load_balancers.get(arn) for arn in balancer_arns) if b is not None]
        why = f"blocked: no load balancer uses the target group of {target_id}"
        for balancer in balancers:
            admitted, why = self.rules.target(
                list(balancer.security_groups or []), network.balancer_cidrs(balancer), target_id, port
            )
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

    # -- moto ---------------------------------------------------------------------------------

    def _patch(self, owner: Any, attribute: str, replacement: Any) -> None:
        self._originals.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, replacement)

    def _patch_moto(self) -> None:
        from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

        alb = self
        register = FakeTargetGroup.register

        def register_for_real(group: Any, targets: list[dict[str, Any]]) -> None:
            register(group, targets)
            with alb.lock:
                states = alb.targets.setdefault(group.arn, {})
                for target in targets:
                    key = (target["Id"], int(target.get("Port") or group.port))
                    if key not in states or states[key].drain_until is not None:
                        address = alb.addresses.get(key) or _direct_address(*key)
                        states[key] = TargetState(key[0], key[1], address, next_check=time.monotonic())

        self._patch(FakeTargetGroup, "register", register_for_real)

        deregister = FakeTargetGroup.deregister

        def deregister_and_drain(group: Any, targets: list[dict[str, Any]]) -> None:
            deregister(group, targets)
            delay = int(group.attributes.get("deregistration_delay.timeout_seconds", 300))
            with alb.lock:
                states = alb.targets.get(group.arn, {})
                for target in targets:
                    key = (target["Id"], int(target.get("Port") or group.port))
                    if key in states:
                        state = states[key]
                        state.state, state.reason, state.description = (
                            "draining",
                            "Target.DeregistrationInProgress",
                            "Target deregistration is in progress",
                        )
                        state.drain_until = time.monotonic() + delay

        self._patch(FakeTargetGroup, "deregister", deregister_and_drain)

        def health_for(group: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            key = (target["Id"], int(target.get("Port") or group.port))
            with alb.lock:
                state = alb.targets.get(group.arn, {}).get(key)
            if state is None:
                return FakeHealthStatus(
                    key[0],
                    str(key[1]),
                    group.health_check_port,
                    "unused",
                    "Target.NotRegistered",
                    "Target is not registered to the target group",
                )
            if not group.load_balancer_arns and state.state != "draining":
                return FakeHealthStatus(
                    key[0],
                    str(key[1]),
                    group.health_check_port,
                    "unused",
                    "Target.NotInUse",
                    "Target group is not configured to receive traffic from the load balancer",
                )
            return FakeHealthStatus(key[0], str(key[1]), group.health_check_port, state.state, state.reason, state.description)

        self._patch(FakeTargetGroup, "health_for", health_for)

        backend_class = type(self.backend())
        create_listener = backend_class.create_listener

        def create_listener_once_per_port(
            backend: Any, load_balancer_arn: str, protocol: str, port: str, *args: Any, **kwargs: Any
        ) -> Any:
            from moto.elbv2.exceptions import DuplicateListenerError

            balancer = backend.load_balancers.get(load_balancer_arn)
            same_port = [
                listener for listener in (balancer.listeners.values() if balancer else []) if str(listener.port) == str(port)
            ]
            if same_port:  # moto compares the port with listener ARNs and never finds one
                existing = same_port[0]
                actions = kwargs.get("actions", args[3] if len(args) > 3 else None)
                if existing.protocol == (protocol or "").upper() and [a.data for a in existing.default_actions] == actions:
                    return existing  # CreateListener is idempotent for identical settings, as on AWS
                raise DuplicateListenerError()
            return create_listener(backend, load_balancer_arn, protocol, port, *args, **kwargs)

        self._patch(backend_class, "create_listener", create_listener_once_per_port)

        describe_target_health = type(self.backend()).describe_target_health

        def describe_with_draining(backend: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> Any:
            if not targets:
                with alb.lock:
                    targets = [{"Id": k[0], "Port": k[1]} for k in alb.targets.get(target_group_arn, {})]
            return describe_target_health(backend, target_group_arn, targets)

        self._patch(type(self.backend()), "describe_target_health", describe_with_draining)
        network.patch_moto(self._patch)

    # -- the loop: listeners, health checks, draining -------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.wait(0.25):
            try:
                self._sync_listeners()
                self._check_health()
            except Exception:
                log.exception("ALB loop failed")

    def _sync_listeners(self) -> None:
        backend = self.backend()
        live = {}
        for balancer in list(backend.load_balancers.values()):
            for listener in list(balancer.listeners.values()):
                if listener.protocol in ("HTTP", "HTTPS"):
                    live[listener.arn] = listener
        for arn in list(self.servers):
            if arn not in live:
                server, _ = self.servers.pop(arn)
                server.shutdown()
                server.server_close()
        for arn in live:
            if arn not in self.servers:
                assert self.context is not None
                server = ThreadingHTTPServer((self.context.config.host, 0), _listener_handler(self, arn))
                server.daemon_threads = True
                self.servers[arn] = (server, int(server.server_address[1]))
                threading.Thread(target=server.serve_forever, name=f"alb-{arn[-8:]}", daemon=True).start()

    def _check_health(self) -> None:
        backend = self.backend()
        now = time.monotonic()
        with self.lock:
            work = []
            for arn, states in list(self.targets.items()):
                group = backend.target_groups.get(arn)
                if group is None:
                    del self.targets[arn]
                    continue
                for key, state in list(states.items()):
                    if state.drain_until is not None:
                        if now >= state.drain_until or (state.in_flight == 0 and now >= state.drain_until):
                            del states[key]
                        continue
                    if now >= state.next_check:
                        state.next_check = now + int(group.health_check_interval_seconds)
                        work.append((group, state))
        for group, state in work:
            threading.Thread(target=self._probe, args=(group, state), daemon=True).start()

    def _probe(self, group: Any, state: TargetState) -> None:
        if state.address is None:
            self._record(
                group,
                state,
                False,
                "Target.FailedHealthChecks",
                "Health checks failed: the lab does not know where this target listens",
            )
            return
        host, port = state.address
        if group.health_check_port not in (None, "traffic-port") and str(group.health_check_port) != str(state.port):
            port = int(
                self.addresses.get((state.target_id, int(group.health_check_port)), (host, int(group.health_check_port)))[1]
            )
        path = group.health_check_path or "/"
        admitted, _why = self.admits_target(
            list(group.load_balancer_arns),
            state.target_id,
            int(group.health_check_port) if str(group.health_check_port).isdigit() else state.port,
        )
        if not admitted:  # the security group drops the check's packets: it times out, as on AWS
            if not self.stopping.wait(int(group.health_check_timeout_seconds)):
                self._record(group, state, False, "Target.Timeout", "Request timed out")
            return
        try:
            connection = http.client.HTTPConnection(host, port, timeout=int(group.health_check_timeout_seconds))
            connection.request("GET", path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
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

    def _record(self, group: Any, state: TargetState, ok: bool, reason: str | None, description: str | None) -> None:
        with self.lock:
            if state.drain_until is not None:
                return
            if state.state == "initial":
                state.reason, state.description = "Elb.InitialHealthChecking", "Initial health checks in progress"
            if ok:
                state.successes, state.failures = state.successes + 1, 0
                if state.state != "healthy" and state.successes >= int(group.healthy_threshold_count):
                    state.state, state.reason, state.description = "healthy", None, None
            else:
                state.failures, state.successes = state.failures + 1, 0
                if (
                    state.failures >= int(group.unhealthy_threshold_count)
                    or state.state == "initial"
                    and state.failures >= int(group.unhealthy_threshold_count)
                ):
                    state.state, state.reason, state.description = "unhealthy", reason, description

    # -- routing ------------------------------------------------------------------------------

    def route(self, listener_arn: str, path: str) -> tuple[str, Any]:
        """("forward", target group ARN) or ("fixed", action data) for a request path."""
        backend = self.backend()
        listener = None
        for balancer in list(backend.load_balancers.values()):
            listener = balancer.listeners.get(listener_arn) or listener
        if listener is None:
            return "fixed", {"StatusCode": "503", "MessageBody": "listener deleted"}
        rules = sorted((r for r in listener.rules.values() if not r.is_default), key=lambda r: int(r.priority))
        for rule in rules:
            if all(_condition_matches(c, path) for c in rule.conditions):
                return _action(rule.actions)
        return _action(listener.default_actions)

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


def _direct_address(target_id: str, port: int) -> tuple[str, int] | None:
    """A target registered by hand as 127.0.0.1 is reachable as it is; any other address is not."""
    return ("127.0.0.1", port) if target_id in ("127.0.0.1", "localhost") else None


def _condition_matches(condition: dict[str, Any], path: str) -> bool:
    field_name = condition.get("Field")
    values = condition.get("Values") or condition.get("PathPatternConfig", {}).get("Values", [])
    if field_name == "path-pattern":
        return any(fnmatch.fnmatchcase(path.split("?")[0], pattern) for pattern in values)
    return False  # host-header, http-header, ... are not modelled: such rules never match


def _action(actions: list[Any]) -> tuple[str, Any]:
    for action in actions:
        data = action.data if hasattr(action, "data") else action
        if data.get("Type") == "forward":
            if data.get("TargetGroupArn"):
                return "forward", data["TargetGroupArn"]
            groups = data.get("ForwardConfig", {}).get("TargetGroups", [])
            if groups:
                return "forward", groups[0]["TargetGroupArn"]
        if data.get("Type") == "fixed-response":
            return "fixed", data.get("FixedResponseConfig", {})
    return "fixed", {"StatusCode": "503", "MessageBody": "no action the lab models"}


def _listener_handler(alb: LoadBalancing, listener_arn: str) -> type[BaseHTTPRequestHandler]:
    class Listener(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "awselb/2.0"
        disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would hold the body ~40 ms

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle(self) -> None:
            admitted, why = alb.admits_client(listener_arn)
            if not admitted:  # dropped by the security group: no answer at all; the client's own timeout decides what it sees
                log.info("listener %s: connection from %s %s", listener_arn[-8:], self.client_address[0], why)
                alb.stopping.wait(network.BLOCKED_HOLD_SECONDS)
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
            kind, target = alb.route(listener_arn, self.path)
            if kind == "fixed":
                self._plain(
                    int(target.get("StatusCode", 200)), target.get("MessageBody", ""), target.get("ContentType", "text/plain")
                )
                return
            chosen = alb.pick(target)
            if chosen is not None and chosen.address is not None:
                balancer = alb.balancer_of(listener_arn)
                admitted, _why = alb.admits_target([balancer.arn] if balancer else [], chosen.target_id, chosen.port)
                if (
                    not admitted
                ):  # the target's security group drops the ALB's connection: AWS answers 504 after its connect timeout
                    alb.stopping.wait(network.BLOCKED_HOLD_SECONDS)
                    with alb.lock:
                        chosen.in_flight -= 1
                    self._plain(504, "<html><body><center><h1>504 Gateway Time-out</h1></center></body></html>")
                    return
            if chosen is None or chosen.address is None:
                if chosen is not None:
                    with alb.lock:
                        chosen.in_flight -= 1
                self._plain(503, "<html><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>")
                return
            started = time.monotonic()
            try:
                connection = http.client.HTTPConnection(*chosen.address, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["X-Forwarded-For"] = self.client_address[0]
                headers["X-Forwarded-Proto"] = "http"
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
            except TimeoutError:
                self._plain(504, "<html><body><center><h1>504 Gateway Time-out</h1></center></body></html>")
                return
            except OSError:
                self._plain(502, "<html><body><center><h1>502 Bad Gateway</h1></center></body></html>")
                return
            finally:
                with alb.lock:
                    chosen.in_flight -= 1
                    chosen.requests += 1
                    chosen.response_times.append(time.monotonic() - started)
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

    return Listener
