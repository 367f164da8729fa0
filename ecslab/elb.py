"""Application Load Balancers from the learner's side: listener URLs, health, traffic.

Notebook 06 introduces everything here. :class:`TrafficGenerator` sends steady load
through a listener and records every response (time, status, which task, which
version), so claims like "zero-downtime deployments" can be measured, not believed.
"""

from __future__ import annotations

import html
import json
import math
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


def listener_url(lab: Any, load_balancer_arn: str, port: int = 80, timeout: float = 10) -> str:
    """Where to send HTTP requests for a listener.

    In the lab: ``http://127.0.0.1:PORT``, the listener's real proxy (from ``ecslab status --json``).
    On AWS: ``http://DNS_NAME:PORT``.
    """
    if not lab.is_local:
        balancer = lab.elbv2.describe_load_balancers(LoadBalancerArns=[load_balancer_arn])["LoadBalancers"][0]
        return f"http://{balancer['DNSName']}:{port}"
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(lab.config.control_url + "/status", timeout=5) as response:
            status = json.loads(response.read())
        for balancer in status.get("load_balancers", []):
            if balancer["arn"] == load_balancer_arn:
                for listener in balancer["listeners"]:
                    if listener["port"] == port and listener["url"]:
                        return str(listener["url"])
        if time.monotonic() > deadline:
            raise ValueError(f"No HTTP listener on port {port} for {load_balancer_arn.split('/')[-2]}: create one with create_listener.")
        time.sleep(0.1)


def target_health(elbv2: Any, target_group_arn: str) -> list[dict[str, str]]:
    """``describe_target_health`` flattened: target, state, reason."""
    rows = []
    for entry in elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]:
        rows.append({
            "target": f"{entry['Target']['Id']}:{entry['Target'].get('Port', '')}",
            "state": entry["TargetHealth"]["State"],
            "reason": entry["TargetHealth"].get("Reason", ""),
        })
    return sorted(rows, key=lambda row: row["target"])


def health_check_timing(interval: int, timeout: int, healthy_threshold: int, unhealthy_threshold: int) -> dict[str, int]:
    """Worst-case seconds until a new target is healthy, and until a broken one is found unhealthy."""
    if not 5 <= interval <= 300:
        raise ValueError("HealthCheckIntervalSeconds must be between 5 and 300.")
    if not 2 <= timeout < interval:
        raise ValueError("HealthCheckTimeoutSeconds must be at least 2 and less than the interval.")
    if not (2 <= healthy_threshold <= 10 and 2 <= unhealthy_threshold <= 10):
        raise ValueError("Threshold counts must be between 2 and 10.")
    return {"healthy_after": interval * (healthy_threshold - 1) + timeout, "unhealthy_after": interval * unhealthy_threshold}


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

    ``rate`` is requests per second in total, shared by ``concurrency`` workers.
    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, url: str, rate: float = 20, concurrency: int = 4, path: str = "/", timeout: float = 5) -> None:
        if not url.startswith(("http://127.0.0.1", "http://localhost")) and "amazonaws.com" not in url:
            raise ValueError(f"{url} is neither the lab (127.0.0.1) nor AWS: the course sends traffic nowhere else.")
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
            next_at += interval
            self._record(self._one())

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

    def summary(self) -> dict[str, Any]:
        responses = list(self.responses)
        failed = [r for r in responses if r.status != 200]
        times = sorted(r.seconds for r in responses if r.status == 200)
        return {
            "requests": len(responses),
            "failed": len(failed),
            "by_version": {v: sum(r.version == v for r in responses) for v in sorted({r.version for r in responses if r.version})},
            "tasks_seen": len({r.hostname for r in responses if r.hostname}),
            "p50_ms": round(1000 * times[len(times) // 2], 1) if times else None,
            "p99_ms": round(1000 * times[int(len(times) * 0.99) - 1], 1) if len(times) >= 100 else None,
        }

    def by_task(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for response in self.responses:
            if response.hostname:
                counts[response.hostname] = counts.get(response.hostname, 0) + 1
        return dict(sorted(counts.items()))

    def plot_timeline(self, ax: Any | None = None, bucket: float = 0.5) -> Any:
        """Responses per time bucket, stacked by version, with failures in red."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 3))
        responses = list(self.responses)
        if not responses:
            ax.set_title("no responses recorded")
            return ax
        buckets = int(max(r.at for r in responses) / bucket) + 1
        versions = sorted({r.version for r in responses if r.version and r.status == 200})
        colours = ["#1f77b4", "#ff9900", "#2ca02c", "#9467bd"]
        bottom = [0] * buckets
        xs = [i * bucket for i in range(buckets)]
        for index, version in enumerate(versions):
            counts = [0] * buckets
            for r in responses:
                if r.status == 200 and r.version == version:
                    counts[int(r.at / bucket)] += 1
            ax.bar(xs, counts, width=bucket, bottom=bottom, align="edge", color=colours[index % len(colours)], label=version)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        errors = [0] * buckets
        for r in responses:
            if r.status != 200:
                errors[int(r.at / bucket)] += 1
        if any(errors):
            ax.bar(xs, errors, width=bucket, bottom=bottom, align="edge", color="#b3261e", label="failed")
        ax.set_xlabel("seconds")
        ax.set_ylabel(f"responses per {bucket:g} s")
        ax.legend(loc="upper right", fontsize=8)
        return ax
