"""Application Load Balancers and Service Auto Scaling from the learner's side.

Listener URLs, target health, health-check and deployment-percentage widgets, traffic,
and the lab's autoscaling history. Notebook 06 introduces the load balancer, health checks and
HTTPS (:func:`ca_bundle`, :func:`request`, :func:`tls_handshake`: certificates are always verified);
notebook 06a rolling deployments and autoscaling, starting from :func:`web_service_behind_alb`.
:class:`TrafficGenerator` sends steady load through a listener and records every response
(time, status, which task, which version), so claims like "zero-downtime deployments" can
be measured, not believed.
"""

from __future__ import annotations

import html
import http.client
import json
import math
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple


def listener_url(lab: Any, load_balancer_arn: str, port: int = 80, timeout: float = 10) -> str:
    """Where to send requests for a listener: ``http://`` or ``https://`` as the listener's protocol says.

    In the lab: ``http://127.0.0.1:PORT`` (``https://`` for an HTTPS listener), the listener's real proxy
    on a local port of its own (from ``ecslab status --json``). On AWS: ``PROTOCOL://DNS_NAME:PORT``.
    """
    if not lab.is_local:
        balancer = lab.elbv2.describe_load_balancers(LoadBalancerArns=[load_balancer_arn])["LoadBalancers"][0]
        listeners = lab.elbv2.describe_listeners(LoadBalancerArn=load_balancer_arn)["Listeners"]
        protocol = next((str(entry["Protocol"]).lower() for entry in listeners if entry["Port"] == port), "http")
        return f"{protocol}://{balancer['DNSName']}:{port}"
    from ecslab.lab.manage import control

    deadline = time.monotonic() + timeout
    while True:
        status = control(lab.config, "GET", "/status", timeout=5)
        for balancer in status.get("load_balancers", []):
            if balancer["arn"] == load_balancer_arn:
                for listener in balancer["listeners"]:
                    if listener["port"] == port and listener["url"]:
                        return str(listener["url"])
        if time.monotonic() > deadline:
            raise ValueError(
                f"No listener on port {port} for {load_balancer_arn.split('/')[-2]}: create one with create_listener."
            )
        time.sleep(0.1)


def ca_bundle(lab: Any) -> str | None:
    """The CA bundle file to verify an HTTPS listener's certificate with (``cafile=``, ``verify=``).

    In the lab: the lab's own CA (``ca.pem`` in the lab's folder), which issued the certificates ACM gives
    you there. On AWS: ``None``, meaning the system's trust store, which already trusts Amazon's CAs."""
    if not lab.is_local:
        return None
    from ecslab.lab.manage import control

    found = control(lab.config, "GET", "/status", timeout=5).get("ca_bundle")
    return str(found) if found else None


class Reply(NamedTuple):
    """One HTTP response: status, reason, headers (lower-case names) and body text."""

    status: int
    reason: str
    headers: dict[str, str]
    body: str


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to one address but verifies the certificate for another name (``curl --resolve``)."""

    def __init__(self, address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(address, port, context=context, timeout=timeout)
        self.server_name = server_name
        self.tls_context = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self.tls_context.wrap_socket(self.sock, server_hostname=self.server_name)


def tls_handshake(url: str, host: str, cafile: str | None = None, timeout: float = 10) -> dict[str, Any]:
    """Shake hands with an HTTPS listener as a client does, verifying its certificate for ``host``; what was agreed.

    ``tls_version`` and ``cipher`` chosen, and the certificate's ``subject`` (CN), ``issuer`` (CN) and ``names``
    (subject alternative names). A certificate that does not verify raises ``ssl.SSLCertVerificationError``."""
    import socket

    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 443), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            certificate = tls.getpeercert() or {}
            cipher = tls.cipher()
            version = tls.version()

    def common_name(field: Any) -> str:
        return next((value for rdn in field or () for key, value in rdn if key == "commonName"), "")

    return {
        "tls_version": version,
        "cipher": cipher[0] if cipher else None,
        "subject": common_name(certificate.get("subject")),
        "issuer": common_name(certificate.get("issuer")),
        "names": [str(entry[1]) for entry in certificate.get("subjectAltName", ())],
    }


def request(url: str, *, host: str | None = None, cafile: str | None = None, method: str = "GET", timeout: float = 10) -> Reply:
    """Send one request to ``url`` and return the reply; redirects are returned, not followed.

    ``host``: the name to ask for while connecting to the URL's address, as a browser would after DNS
    resolved the name there: it goes in the ``Host`` header, in TLS's server name, and the certificate must
    carry it (``curl --resolve host:port:address`` does the same). In the lab the domains you request
    certificates for have no DNS, so you connect to the listener's ``127.0.0.1:PORT`` and name the domain.
    ``cafile``: the CA bundle to trust (:func:`ca_bundle`); ``None`` means the system's. Certificates are
    always verified: a name the certificate does not carry raises ``ssl.SSLCertVerificationError``."""
    parts = urllib.parse.urlsplit(url)
    address = parts.hostname or "127.0.0.1"
    name = host or address
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=cafile)
        connection = _NamedHTTPSConnection(address, parts.port or 443, name, context, timeout)
    else:
        connection = http.client.HTTPConnection(address, parts.port or 80, timeout=timeout)
    default_port = 443 if parts.scheme == "https" else 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            method, target, headers={"Host": name if parts.port in (None, default_port) else f"{name}:{parts.port}"}
        )
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return Reply(response.status, response.reason, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


def default_subnets(ec2: Any) -> tuple[str, list[str]]:
    """The default VPC's ID and its subnets (one per Availability Zone): where an ALB and Fargate tasks go."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    return str(vpc), [str(subnet["SubnetId"]) for subnet in subnets]


def delete_load_balancer(elbv2: Any, name: str) -> bool:
    """Delete the load balancer called ``name`` with its listeners (and their rules); False when there is none."""
    try:
        balancer = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    except elbv2.exceptions.LoadBalancerNotFoundException:
        return False
    for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]:
        elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
    elbv2.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
    return True


def delete_target_groups(elbv2: Any, names: list[str]) -> list[str]:
    """Delete the target groups with these names (delete what uses them first: listeners, services); returns the names deleted."""
    deleted = []
    for group in elbv2.describe_target_groups()["TargetGroups"]:
        if group["TargetGroupName"] in names:
            elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            deleted.append(group["TargetGroupName"])
    return deleted


def delete_security_groups(ec2: Any, vpc_id: str, names: list[str]) -> list[str]:
    """Delete the security groups of ``vpc_id`` with these names, in the order given; returns the names deleted.

    Delete what uses them first (load balancers, tasks), and a group that another group's rule
    names after that other group: for :func:`ecslab.network.create_web_security_groups`' pair,
    ``[f"{prefix}-tasks", f"{prefix}-alb"]``. AWS answers ``DependencyViolation`` otherwise."""
    deleted = []
    for name in names:
        where = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
        for group in ec2.describe_security_groups(Filters=where)["SecurityGroups"]:
            ec2.delete_security_group(GroupId=group["GroupId"])
            deleted.append(name)
    return deleted


def target_of(task: dict[str, Any], port: int = 8080) -> str:
    """How an ``ip`` target group names a Fargate task: ``IP:PORT``, as in :func:`target_health`'s rows."""
    ip = next(d["value"] for a in task.get("attachments", []) for d in a.get("details", []) if d["name"] == "privateIPv4Address")
    return f"{ip}:{port}"


def target_health(elbv2: Any, target_group_arn: str) -> list[dict[str, str]]:
    """``describe_target_health`` flattened: target, state, reason."""
    rows = []
    for entry in elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]:
        rows.append(
            {
                "target": f"{entry['Target']['Id']}:{entry['Target'].get('Port', '')}",
                "state": entry["TargetHealth"]["State"],
                "reason": entry["TargetHealth"].get("Reason", ""),
            }
        )
    return sorted(rows, key=lambda row: row["target"])


def watch_target_health(
    elbv2: Any,
    target_group_arn: str,
    until: Callable[[list[dict[str, str]]], bool],
    timeout: float = 60,
    every: float = 0.25,
) -> list[tuple[float, list[dict[str, str]]]]:
    """Poll :func:`target_health` until ``until(rows)`` holds; returns each change as (seconds, rows).

    The first entry is what it saw at once (second 0); the last is the state that satisfied
    ``until``. Raises ``TimeoutError`` (with the last state) after ``timeout`` seconds.
    """
    started = time.monotonic()
    changes: list[tuple[float, list[dict[str, str]]]] = []
    while True:
        rows = target_health(elbv2, target_group_arn)
        if not changes or rows != changes[-1][1]:
            changes.append((round(time.monotonic() - started, 2), rows))
        if until(rows):
            return changes
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Target health did not reach the expected state in {timeout:.0f} s; last: {rows}")
        time.sleep(every)


def healthy_count(rows: list[dict[str, str]]) -> int:
    """How many of :func:`target_health`'s rows are ``healthy``."""
    return sum(row["state"] == "healthy" for row in rows)


def health_check_timing(interval: int, timeout: int, healthy_threshold: int, unhealthy_threshold: int) -> dict[str, int]:
    """Worst-case seconds until a new target is healthy, and until a broken one is found unhealthy.

    A new target is checked at once, then every ``interval``: its ``healthy_threshold``-th pass
    comes after ``interval × (threshold − 1)`` plus the answer's time (at most ``timeout``). A
    target that hangs just after a passed check fails its next check one ``interval`` later,
    known only when the ``timeout`` runs out: ``interval × unhealthy_threshold + timeout``.
    """
    if not 5 <= interval <= 300:
        raise ValueError("HealthCheckIntervalSeconds must be between 5 and 300.")
    if not 2 <= timeout < interval:
        raise ValueError("HealthCheckTimeoutSeconds must be at least 2 and less than the interval.")
    if not (2 <= healthy_threshold <= 10 and 2 <= unhealthy_threshold <= 10):
        raise ValueError("Threshold counts must be between 2 and 10.")
    return {
        "healthy_after": interval * (healthy_threshold - 1) + timeout,
        "unhealthy_after": interval * unhealthy_threshold + timeout,
    }


def health_check_widget() -> Any:
    """Sliders for a target group's health check; shows how long traffic waits, and how long a broken task keeps getting it."""
    import ipywidgets as widgets

    interval = widgets.IntSlider(value=30, min=5, max=60, step=5, description="interval s")
    timeout = widgets.IntSlider(value=5, min=2, max=30, description="timeout s")
    healthy = widgets.IntSlider(value=5, min=2, max=10, description="healthy after")
    unhealthy = widgets.IntSlider(value=2, min=2, max=10, description="unhealthy after")
    out = widgets.HTML()

    def show(_change: Any = None) -> None:
        try:
            timing = health_check_timing(interval.value, timeout.value, healthy.value, unhealthy.value)
        except ValueError as error:
            out.value = f"<span style='color:#b3261e'>{html.escape(str(error))}</span>"
            return
        out.value = (
            f"A new task gets traffic after up to <b>{timing['healthy_after']} s</b> of passing checks; "
            f"a broken task keeps getting traffic for up to <b>{timing['unhealthy_after']} s</b> before the ALB stops sending it any."
        )

    for control in (interval, timeout, healthy, unhealthy):
        control.observe(show, names="value")
    show()
    return widgets.VBox([interval, timeout, healthy, unhealthy, out])


def deployment_bounds(desired: int, minimum_healthy_percent: int, maximum_percent: int) -> dict[str, int]:
    """How many tasks a rolling deployment keeps healthy at least, and runs at most."""
    if not 0 <= minimum_healthy_percent <= 100:
        raise ValueError("minimumHealthyPercent must be between 0 and 100.")
    if maximum_percent <= minimum_healthy_percent or maximum_percent < 100:
        raise ValueError("maximumPercent must be at least 100 and greater than minimumHealthyPercent.")
    low = math.ceil(desired * minimum_healthy_percent / 100)
    high = math.floor(desired * maximum_percent / 100)
    return {"at_least_healthy": low, "at_most_running": high, "new_tasks_per_step": max(high - desired, 0) or desired - low}


def deployment_widget() -> Any:
    """Sliders for desiredCount and the two percentages; shows the bounds of a rolling deployment."""
    import ipywidgets as widgets

    desired = widgets.IntSlider(value=4, min=1, max=10, description="desired")
    minimum = widgets.IntSlider(value=100, min=0, max=100, step=25, description="min healthy %")
    maximum = widgets.IntSlider(value=200, min=100, max=200, step=25, description="maximum %")
    out = widgets.HTML()

    def show(_change: Any = None) -> None:
        try:
            bounds = deployment_bounds(desired.value, minimum.value, maximum.value)
        except ValueError as error:
            out.value = f"<span style='color:#b3261e'>ECS refuses this: {html.escape(str(error))}</span>"
            return
        out.value = (
            f"During a rollout ECS keeps at least <b>{bounds['at_least_healthy']}</b> healthy tasks and runs at most "
            f"<b>{bounds['at_most_running']}</b>; it replaces about <b>{bounds['new_tasks_per_step']}</b> task(s) per step."
            + (" With 0 spare capacity and 100% healthy, it cannot make progress." if bounds["new_tasks_per_step"] == 0 else "")
        )

    for control in (desired, minimum, maximum):
        control.observe(show, names="value")
    show()
    return widgets.VBox([desired, minimum, maximum, out])


# -- a rollout, watched ----------------------------------------------------------------------------


class RolloutLook(NamedTuple):
    """One look at a service during a deployment (notebook 06, sections 6 and 7)."""

    at: float
    """Seconds on the clock passed to :func:`watch_rollout` (a :class:`TrafficGenerator`'s ``elapsed``)."""
    deployments: tuple[str, ...]
    """Each deployment as "STATUS VERSION ROLLOUT_STATE", e.g. "PRIMARY v2 IN_PROGRESS"."""
    healthy: int
    """Healthy targets in the target group."""
    task_arns: tuple[str, ...]
    """The service's tasks that ECS counts (desired status RUNNING: running or pending)."""


def look_at_rollout(
    ecs: Any, elbv2: Any, cluster: str, service: str, target_group_arn: str, version_of: dict[str, str], at: float
) -> RolloutLook:
    """One :class:`RolloutLook`: ``describe_services``, ``list_tasks`` and ``describe_target_health`` at once.

    ``version_of`` names task definition ARNs ("v1", "v2"); an unknown one shows as "?".
    """
    described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    deployments = tuple(
        f"{d['status']} {version_of.get(d['taskDefinition'], '?')} {d.get('rolloutState', '')}".strip()
        for d in described["deployments"]
    )
    task_arns = tuple(ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"])
    return RolloutLook(at, deployments, healthy_count(target_health(elbv2, target_group_arn)), task_arns)


def watch_rollout(
    ecs: Any,
    elbv2: Any,
    cluster: str,
    service: str,
    target_group_arn: str,
    version_of: dict[str, str],
    clock: Callable[[], float],
    ends_on: str,
    healthy: int,
    timeout: float = 120,
    every: float = 0.25,
) -> list[RolloutLook]:
    """Look at a deployment every ``every`` seconds until the service is steady on ``ends_on``.

    Steady: exactly one deployment, PRIMARY and COMPLETED, of the task definition ``ends_on``,
    with ``healthy`` healthy targets. Call it right after ``update_service``. Raises
    ``TimeoutError`` (with the last look) after ``timeout`` seconds.
    """
    done = (f"PRIMARY {version_of[ends_on]} COMPLETED",)
    looks = [look_at_rollout(ecs, elbv2, cluster, service, target_group_arn, version_of, clock())]
    while not (looks[-1].deployments == done and looks[-1].healthy == healthy):
        if looks[-1].at - looks[0].at > timeout:
            raise TimeoutError(f"No steady state after {timeout:.0f} s: {looks[-1]}")
        time.sleep(every)
        looks.append(look_at_rollout(ecs, elbv2, cluster, service, target_group_arn, version_of, clock()))
    return looks


def rollout_phases(looks: list[RolloutLook]) -> list[tuple[str, ...]]:
    """The deployments as they changed during a rollout, each change once."""
    return [
        look.deployments for index, look in enumerate(looks) if index == 0 or look.deployments != looks[index - 1].deployments
    ]


# -- traffic ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    at: float
    """Seconds since the generator started."""
    status: int
    seconds: float
    hostname: str | None
    version: str | None


class TrafficGenerator:
    """Steady load on a URL from background threads; every response is recorded.

    ``rate`` is requests per second in total, shared by ``concurrency`` workers. A worker
    sends one request at a time: while it waits for a slow answer (up to ``timeout``
    seconds, then it counts a failure with status 0) it skips its turns, so the rate drops
    when the service slows down. Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, url: str, rate: float = 20, concurrency: int = 4, path: str = "/", timeout: float = 5) -> None:
        host = urllib.parse.urlsplit(url).hostname or ""
        if not (host == "localhost" or host.startswith("127.")) and "amazonaws.com" not in url:
            raise ValueError(
                f"{url} is neither the lab (127.0.0.1, or a task's loopback address) nor AWS: the course sends traffic nowhere else."
            )
        self.url = url.rstrip("/") + path
        self.rate = rate
        self.concurrency = concurrency
        self.timeout = timeout
        self.responses: list[Response] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._started = 0.0

    def __enter__(self) -> TrafficGenerator:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._stop.clear()
        self._started = time.monotonic()
        interval = self.concurrency / self.rate
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._work, args=(interval, index * interval / self.concurrency), daemon=True)
            thread.start()
            self._threads.append(thread)

    def elapsed(self) -> float:
        """Seconds since :meth:`start`: the clock of ``Response.at`` and of the timeline chart."""
        return time.monotonic() - self._started

    def stop(self) -> list[Response]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)
        self._threads.clear()
        return self.responses

    def _work(self, interval: float, offset: float) -> None:
        next_at = time.monotonic() + offset
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            self._record(self._one())
            # a worker that waited long for an answer skips the turns it missed, rather than catching up in a burst
            next_at = max(next_at + interval, time.monotonic())

    def _one(self) -> Response:
        started = time.monotonic()
        hostname = version = None
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                status = response.status
                try:
                    body = json.loads(response.read())
                    hostname, version = body.get("hostname"), body.get("version")
                except ValueError:
                    pass
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError):
            status = 0  # no answer at all
        return Response(started - self._started, status, time.monotonic() - started, hostname, version)

    def _record(self, response: Response) -> None:
        with self._lock:
            self.responses.append(response)

    # -- looking at the results -------------------------------------------------------------------

    def between(self, since: float | None = None, until: float | None = None) -> list[Response]:
        """The responses to requests sent from ``since`` to ``until`` (seconds on :meth:`elapsed`'s clock)."""
        return [r for r in list(self.responses) if (since is None or r.at >= since) and (until is None or r.at < until)]

    def summary(self, since: float | None = None, until: float | None = None) -> dict[str, Any]:
        """Requests, failures (any status but 200, or no answer), versions, tasks and latency percentiles."""
        responses = self.between(since, until)
        failed = [r for r in responses if r.status != 200]
        times = sorted(r.seconds for r in responses if r.status == 200)
        return {
            "requests": len(responses),
            "failed": len(failed),
            "by_version": {
                v: sum(r.version == v for r in responses) for v in sorted({r.version for r in responses if r.version})
            },
            "tasks_seen": len({r.hostname for r in responses if r.hostname}),
            "p50_ms": round(1000 * times[len(times) // 2], 1) if times else None,
            "p99_ms": round(1000 * times[int(len(times) * 0.99) - 1], 1) if len(times) >= 100 else None,
        }

    def by_task(self, since: float | None = None, until: float | None = None) -> dict[str, int]:
        """Successful responses per task (the container hostname that answered)."""
        counts: dict[str, int] = {}
        for response in self.between(since, until):
            if response.hostname:
                counts[response.hostname] = counts.get(response.hostname, 0) + 1
        return dict(sorted(counts.items()))

    def plot_timeline(
        self, ax: Any | None = None, bucket: float = 0.5, by: str = "version", names: dict[str, str] | None = None
    ) -> Any:
        """Responses per time bucket, stacked by version (``by="version"``) or by task (``by="task"``), failures in red.

        ``names`` relabels versions or hostnames in the legend (e.g. ``{"3f2a...": "task 1"}``).
        """
        import matplotlib.pyplot as plt

        if by not in ("version", "task"):
            raise ValueError("by is 'version' or 'task'")
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 3))
        responses = list(self.responses)
        if not responses:
            ax.set_title("no responses recorded")
            return ax
        key = (lambda r: r.version) if by == "version" else (lambda r: r.hostname)
        buckets = int(max(r.at for r in responses) / bucket) + 1
        groups = sorted({key(r) for r in responses if key(r) and r.status == 200}, key=lambda g: (names or {}).get(g, g))
        colours = ["#1f77b4", "#ff9900", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f"]
        bottom = [0] * buckets
        xs = [i * bucket for i in range(buckets)]
        for index, group in enumerate(groups):
            counts = [0] * buckets
            for r in responses:
                if r.status == 200 and key(r) == group:
                    counts[int(r.at / bucket)] += 1
            label = (names or {}).get(group, group)
            ax.bar(xs, counts, width=bucket, bottom=bottom, align="edge", color=colours[index % len(colours)], label=label)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        errors = [0] * buckets
        for r in responses:
            if r.status != 200:
                errors[int(r.at / bucket)] += 1
        if any(errors):
            ax.bar(xs, errors, width=bucket, bottom=bottom, align="edge", color="#b3261e", label="failed")
        ax.set_xlabel("seconds")
        ax.set_ylabel(f"responses per {bucket:g} s")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        return ax


def plot_requests_by_task(counts: dict[str, int], ax: Any | None = None, names: dict[str, str] | None = None) -> Any:
    """A bar per task: how many responses it gave (``TrafficGenerator.by_task`` or a ``Counter`` of hostnames)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.5))
    labels = [(names or {}).get(host, host) for host in counts]
    bars = ax.bar(labels, list(counts.values()), color="#ff9900")
    ax.bar_label(bars, fontsize=8)
    ax.set_ylim(0, max(list(counts.values()) + [1]) * 1.15)
    ax.set_ylabel("responses")
    return ax


# -- Service Auto Scaling ----------------------------------------------------------------------------


def remove_scaling(autoscaling: Any, resource_id: str) -> int:
    """Delete a scalable target's scaling policies, then deregister it; returns how many policies went.

    ``resource_id`` is ``service/CLUSTER/SERVICE``. Nothing registered is not an error.
    """
    dimension = "ecs:service:DesiredCount"
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id)["ScalingPolicies"]
    for policy in policies:
        autoscaling.delete_scaling_policy(
            PolicyName=policy["PolicyName"], ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension=dimension
        )
    if autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])["ScalableTargets"]:
        autoscaling.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=resource_id, ScalableDimension=dimension)
    return len(policies)


def autoscaling_history(lab: Any, resource_id: str, since: float | None = None) -> list[dict[str, Any]]:
    """Lab only: the lab's samples of a scalable target's policies, oldest first.

    Each sample is ``{time, policy, metric, value, average, target, desired, running}``: the
    metric as measured from the containers (``value``), its average over the lab's window (what
    target tracking compares with ``target``), and the service's counts. ``since`` is a Unix time.
    On AWS, the same story is in CloudWatch (the metric and the policy's alarms) and
    ``describe_scaling_activities``.
    """
    if not lab.is_local:
        raise RuntimeError(
            "The sampling history is the lab's; on AWS read CloudWatch's AWS/ECS metrics and describe_scaling_activities."
        )
    from ecslab.lab.manage import control

    samples = control(lab.config, "GET", "/autoscaling/history", timeout=5)["samples"]
    return [s for s in samples if s.get("resource") == resource_id and (since is None or s["time"] >= since)]


def plot_autoscaling(
    samples: list[dict[str, Any]], since: float, marks: dict[str, float] | None = None, axes: Any | None = None
) -> Any:
    """Two panes on one time axis (seconds after ``since``, a Unix time): desired vs running tasks, and the metric vs its target.

    ``marks`` draws labelled vertical lines, e.g. ``{"load on": 0, "load off": 30}``.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True, gridspec_kw={"height_ratios": [1, 1]})
    top, bottom = axes
    xs = [s["time"] - since for s in samples]
    top.step(xs, [s["desired"] for s in samples], where="post", color="#ff9900", label="desiredCount", linewidth=2)
    top.step(xs, [s["running"] for s in samples], where="post", color="#1b7f3b", label="runningCount", linestyle="--")
    top.set_ylabel("tasks")
    top.set_ylim(0, max([s["desired"] for s in samples] + [s["running"] for s in samples] + [1]) + 1)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    metric = samples[0]["metric"] if samples else "metric"
    bottom.plot(xs, [s["value"] for s in samples], color="#7aa6d6", marker=".", label="measured")
    bottom.plot(xs, [s["average"] for s in samples], color="#1f77b4", linewidth=2, label="average (what the policy sees)")
    if samples:
        bottom.axhline(samples[0]["target"], color="#b3261e", linestyle=":", label=f"target {samples[0]['target']:g}")
    bottom.set_ylabel(metric.replace("ECSServiceAverage", "").replace("Utilization", " %"))
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    for label, at in (marks or {}).items():
        for ax in (top, bottom):
            ax.axvline(at, color="black", linestyle="--", linewidth=1)
        top.text(at, 1.02, label, fontsize=8, transform=top.get_xaxis_transform())
    return axes


# -- one call for what notebook 06 builds step by step (notebook 06a starts from it) ------------------------


@dataclass(frozen=True)
class WebService:
    """A Fargate service behind an ALB, as notebook 06 builds it: names, ARNs and the listener's URL."""

    cluster: str
    service: str
    load_balancer_arn: str
    target_group_arn: str
    listener_arn: str
    task_def_arn: str
    alb_security_group: str
    task_security_group: str
    url: str


def create_app_target_group(elbv2: Any, name: str, vpc_id: str, deregistration_delay: int = 2, port: int = 8080) -> str:
    """The course's target group for the sample app; returns its ARN.

    ``ip`` targets (what awsvpc tasks register) on HTTP ``port``, ``GET /health`` every 5 s with a 2 s timeout, 2
    passes to be healthy and 2 failures to be unhealthy (the API's floors: ``HealthCheckIntervalSeconds`` min 5,
    ``HealthyThresholdCount``/``UnhealthyThresholdCount`` min 2), and ``deregistration_delay`` seconds of draining
    instead of the default 300."""
    arn = elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=port,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}]
    )
    return str(arn)


def web_service_names(prefix: str) -> dict[str, str]:
    """The names :func:`web_service_behind_alb` gives what it makes for ``prefix``."""
    return {
        "cluster": f"{prefix}-cluster",
        "service": f"{prefix}-service",
        "load_balancer": f"{prefix}-alb",
        "target_group": f"{prefix}-tg",
        "security_groups": f"{prefix}-tasks {prefix}-alb",
        "family": prefix,
    }


def web_service_behind_alb(
    lab: Any,
    prefix: str,
    image: str,
    *,
    execution_role_arn: str,
    desired_count: int = 3,
    deployment_configuration: dict[str, Any] | None = None,
    timeout: float = 180,
) -> WebService:
    """Notebook 06's sections 2 and 3 in one call: security groups, ALB, target group, HTTP listener on 80, service.

    The security groups ``PREFIX-alb`` (port 80 from anywhere) and ``PREFIX-tasks`` (8080 from the ALB's group), the
    ALB ``PREFIX-alb`` in the default VPC's subnets, the ``ip`` target group ``PREFIX-tg`` (``GET /health`` every 5 s,
    2 s timeout, thresholds 2 and 2, deregistration delay 2 s), a listener forwarding to it, the cluster
    ``PREFIX-cluster`` and the Fargate service ``PREFIX-service`` of ``desired_count`` tasks of ``image`` (task
    family ``PREFIX``, container ``web`` on 8080) registered in the target group. Returns once every task's target
    is healthy. Delete it all with :func:`ecslab.cleanup.remove` and the names of :func:`web_service_names`.
    """
    from ecslab import ecs as ecs_tools
    from ecslab import network

    names = web_service_names(prefix)
    vpc_id, subnet_ids = default_subnets(lab.ec2)
    alb_sg, task_sg = network.create_web_security_groups(lab.ec2, vpc_id, listener_port=80, container_port=8080, prefix=prefix)
    elbv2 = lab.elbv2
    balancer = elbv2.create_load_balancer(
        Name=names["load_balancer"], Subnets=subnet_ids, SecurityGroups=[alb_sg], Type="application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    group = create_app_target_group(elbv2, names["target_group"], vpc_id)
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}]
    )["Listeners"][0]["ListenerArn"]
    lab.ecs.create_cluster(clusterName=names["cluster"])
    definition = ecs_tools.task_definition(names["family"], image, execution_role_arn=execution_role_arn)
    task_def_arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=names["cluster"],
        serviceName=names["service"],
        taskDefinition=task_def_arn,
        desiredCount=desired_count,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [task_sg], "assignPublicIp": "ENABLED"}
        },
        loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 8080}],
        deploymentConfiguration=deployment_configuration
        or {"maximumPercent": 200, "minimumHealthyPercent": 100, "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    watch_target_health(elbv2, group, until=lambda rows: healthy_count(rows) == desired_count, timeout=timeout)
    return WebService(
        names["cluster"], names["service"], balancer, group, listener, task_def_arn, alb_sg, task_sg, listener_url(lab, balancer)
    )


def delete_certificates(acm: Any, elbv2: Any, domain_name: str) -> list[str]:
    """Delete the ACM certificates for ``domain_name`` that no listener uses any more (delete the listeners first);
    returns their ARNs. Notebook 06's cleanup."""
    in_use = {
        certificate["CertificateArn"]
        for balancer in elbv2.describe_load_balancers()["LoadBalancers"]
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
        for certificate in listener.get("Certificates") or []
    }
    deleted = []
    for summary in acm.list_certificates()["CertificateSummaryList"]:
        if summary["DomainName"] == domain_name and summary["CertificateArn"] not in in_use:
            acm.delete_certificate(CertificateArn=summary["CertificateArn"])
            deleted.append(str(summary["CertificateArn"]))
    return deleted
