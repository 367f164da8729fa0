"""Traffic shifting, predicted and measured: what a BLUE_GREEN, CANARY or LINEAR deployment promises, and what happened.

A deployment that shifts traffic (``deploymentConfiguration.strategy`` BLUE_GREEN, CANARY or LINEAR) moves
production traffic from the old service revision (blue) to the new one (green) by rewriting the weights of the
production listener rule's ``forward`` action. How fast is set by the configuration, in AWS minutes:

- :func:`predicted_split` turns a deploymentConfiguration into the green share over time, from the first
  production shift to the end of the bake time (the rules are AWS's, :mod:`ecslab.lab.strategies` holds them
  once, for the lab and for this prediction);
- :func:`split_widget` lets a learner choose a strategy and its settings and see that prediction;
- :func:`measured_split` and :func:`plot_split` put beside it what the listener actually did: the share of
  responses that came from the new version, and the weights ``describe_service_deployments`` reported.

In the lab, deployment timers run on a faster clock (:data:`ecslab.config.LAB_SECONDS_PER_AWS_MINUTE` seconds per
AWS minute): :func:`plot_split` draws the prediction on that clock, so both lines share one time axis.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecslab.config import LAB_SECONDS_PER_AWS_MINUTE
from ecslab.lab.strategies import CANARY_DEFAULTS, LINEAR_DEFAULTS, SHIFTING, bake_minutes, problem, shift_plan

__all__ = [
    "Rollout",
    "deploy_under_load",
    "measured_split",
    "plot_split",
    "predicted_split",
    "share_per_weight",
    "split_summary",
    "split_widget",
]


def predicted_split(configuration: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The green revision's share of production traffic over time: ``(minute, percent)`` points of a step line.

    Minute 0 is the first production shift (green tasks are already running and healthy by then); the last point
    is the end of the bake time, when ECS ends the blue tasks. ROLLING shifts no traffic: it is refused here.
    """
    strategy = str(configuration.get("strategy") or "ROLLING")
    if strategy not in SHIFTING:
        raise ValueError(f"{strategy} does not shift traffic between two target groups: use BLUE_GREEN, CANARY or LINEAR")
    points = [(0.0, 0.0)]
    at = 0.0
    for shift in shift_plan(configuration):
        points.append((at, shift.green_percent))
        at += shift.wait_minutes
        points.append((at, shift.green_percent))
    points.append((at + bake_minutes(configuration), 100.0))
    return points


def split_summary(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The shifts (green percent after each), minutes until all traffic is on green, and minutes until blue is gone."""
    plan = shift_plan(configuration)
    shifted = sum(shift.wait_minutes for shift in plan)
    return {
        "shifts": [shift.green_percent for shift in plan],
        "minutes until 100% on the new revision": shifted,
        "minutes until the old tasks end": shifted + bake_minutes(configuration),
    }


def measured_split(responses: Sequence[Any], new_version: str, bucket: float = 1.0) -> list[tuple[float, float, int]]:
    """From a :class:`ecslab.elb.TrafficGenerator`'s responses: ``(start of bucket, percent from new_version, answered)``.

    Only successful responses count; a bucket with no successful response is left out."""
    buckets: dict[int, list[int]] = {}
    for response in responses:
        if response.status == 200 and response.version:
            counts = buckets.setdefault(int(response.at / bucket), [0, 0])
            counts[0] += response.version == new_version
            counts[1] += 1
    return [(index * bucket, 100.0 * new / total, total) for index, (new, total) in sorted(buckets.items())]


def plot_split(
    traffic: Any,
    new_version: str,
    readings: Sequence[Any] = (),
    configuration: Mapping[str, Any] | None = None,
    bucket: float = 1.0,
    ax: Any | None = None,
) -> Any:
    """Measured share of the new version (dots), the weight ECS reported (steps) and, given the deployment's
    configuration, the predicted split (dashed), on the traffic generator's clock, failed requests marked in red.

    ``readings`` are :class:`ecslab.deployments.Snapshot` taken on the same clock (``clock=traffic.elapsed``); the
    prediction starts at the first reading that reports production traffic on the new revision."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3))
    measured = measured_split(traffic.responses, new_version, bucket)
    ax.scatter(
        [at + bucket / 2 for at, _, _ in measured],
        [share for _, share, _ in measured],
        s=12,
        color="#ff9900",
        label=f"measured: share of responses from {new_version}",
        zorder=3,
    )
    weighted = [(r.at, r.target_production_weight) for r in readings if r.target_production_weight is not None]
    if weighted:
        ax.step(
            [at for at, _ in weighted],
            [weight for _, weight in weighted],
            where="post",
            color="#1f77b4",
            label="weight ECS reported (describe_service_deployments)",
        )
    started = next((r.at for r in readings if (r.target_production_weight or 0) > 0), None)
    if configuration is not None and started is not None:
        points = predicted_split(configuration)
        ax.plot(
            [started + minute * LAB_SECONDS_PER_AWS_MINUTE for minute, _ in points],
            [share for _, share in points],
            linestyle="--",
            color="grey",
            linewidth=2.5,
            zorder=1,
            label="predicted from the configuration",
        )
    failed = [r.at for r in traffic.responses if r.status != 200]
    if failed:
        ax.scatter(failed, [-4] * len(failed), marker="x", color="#b3261e", label=f"failed requests ({len(failed)})")
    ax.set_ylim(-8, 108)
    ax.set_xlabel("seconds (lab clock)")
    ax.set_ylabel(f"% of traffic to {new_version}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return ax


def split_widget() -> Any:
    """Choose a strategy and its settings; see the predicted traffic split over AWS minutes, or ECS's refusal."""
    import io

    import ipywidgets as widgets
    from matplotlib.figure import Figure

    strategy = widgets.Dropdown(options=list(SHIFTING), value="CANARY", description="strategy")
    canary_percent = widgets.FloatSlider(
        value=CANARY_DEFAULTS["canaryPercent"], min=0.0, max=100.0, step=0.1, description="canary %"
    )
    canary_bake = widgets.IntSlider(value=CANARY_DEFAULTS["canaryBakeTimeInMinutes"], min=0, max=60, description="canary bake")
    step_percent = widgets.FloatSlider(value=LINEAR_DEFAULTS["stepPercent"], min=0.0, max=100.0, step=0.1, description="step %")
    step_bake = widgets.IntSlider(value=LINEAR_DEFAULTS["stepBakeTimeInMinutes"], min=0, max=60, description="step bake")
    bake = widgets.IntSlider(value=10, min=0, max=60, description="bake time")
    note = widgets.HTML()
    chart = widgets.Image(format="png")  # drawn off-screen: no figure leaks into the cell's output

    def configuration() -> dict[str, Any]:
        made: dict[str, Any] = {"strategy": strategy.value, "bakeTimeInMinutes": bake.value}
        if strategy.value == "CANARY":
            made["canaryConfiguration"] = {"canaryPercent": canary_percent.value, "canaryBakeTimeInMinutes": canary_bake.value}
        if strategy.value == "LINEAR":
            made["linearConfiguration"] = {"stepPercent": step_percent.value, "stepBakeTimeInMinutes": step_bake.value}
        return made

    def show(_change: Any = None) -> None:
        made = configuration()
        canary_percent.layout.display = canary_bake.layout.display = "" if strategy.value == "CANARY" else "none"
        step_percent.layout.display = step_bake.layout.display = "" if strategy.value == "LINEAR" else "none"
        refused = problem(
            made,
            [
                {
                    "advancedConfiguration": {
                        "alternateTargetGroupArn": "green",
                        "productionListenerRule": "rule",
                        "roleArn": "role",
                    }
                }
            ],
        )
        if refused:
            note.value = f"<span style='color:#b3261e'>ECS refuses this: {html.escape(refused)}</span>"
            chart.layout.display = "none"
            return
        chart.layout.display = ""
        summary = split_summary(made)
        note.value = (
            f"Shifts to {', '.join(f'{share:g}%' for share in summary['shifts'])}; all traffic on the new revision "
            f"after <b>{summary['minutes until 100% on the new revision']:g}</b> min, old tasks ended after "
            f"<b>{summary['minutes until the old tasks end']:g}</b> min (plus the time green tasks take to start)."
        )
        points = predicted_split(made)
        figure = Figure(figsize=(7, 2.4))
        ax = figure.subplots()
        ax.step([minute for minute, _ in points], [share for _, share in points], where="post", color="#ff9900")
        ax.set_xlabel("AWS minutes after the first production shift")
        ax.set_ylabel("% to the new revision")
        ax.set_ylim(-5, 105)
        figure.tight_layout()
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=80)
        chart.value = png.getvalue()

    for control in (strategy, canary_percent, canary_bake, step_percent, step_bake, bake):
        control.observe(show, names="value")
    show()
    return widgets.VBox([strategy, canary_percent, canary_bake, step_percent, step_bake, bake, note, chart])


# -- a rollout under load, measured ---------------------------------------------------------------------------------


@dataclass
class Rollout:
    """One deployment watched under steady traffic: the traffic, the deployment's readings (same clock), its ARN."""

    traffic: Any
    readings: list[Any] = field(default_factory=list)
    arn: str = ""

    @property
    def status(self) -> str:
        return str(self.readings[-1].status) if self.readings else "NOT STARTED"

    def weights(self) -> list[float]:
        """The production weights ECS reported for the new revision, in the order they came."""
        found: list[float] = []
        for reading in self.readings:
            weight = reading.target_production_weight
            if weight is not None and (not found or found[-1] != weight):
                found.append(weight)
        return found

    def stages(self) -> list[str]:
        """The lifecycle stages the deployment went through, in order."""
        found: list[str] = []
        for reading in self.readings:
            if reading.lifecycle_stage and (not found or found[-1] != reading.lifecycle_stage):
                found.append(reading.lifecycle_stage)
        return found


def deploy_under_load(
    ecs: Any,
    url: str,
    cluster: str,
    service: str,
    rate: float = 40,
    on_reading: Callable[[Any, str], None] | None = None,
    timeout: float = 240,
    **changes: Any,
) -> Rollout:
    """``update_service(**changes)`` while ``rate`` requests/s go to ``url``; every reading of the new service deployment.

    ``on_reading(reading, deployment_arn)`` is called after each reading (e.g. to send a test request during
    TEST_TRAFFIC_SHIFT, or to stop the deployment). Traffic runs from a second before the update until a second after
    the deployment is done, so the chart shows both versions' steady state."""
    from ecslab import deployments
    from ecslab.elb import TrafficGenerator

    traffic = TrafficGenerator(url, rate=rate, concurrency=6, timeout=2)
    rollout = Rollout(traffic)
    traffic.start()
    try:
        time.sleep(1)
        ecs.update_service(cluster=cluster, service=service, **changes)
        rollout.arn = deployments.latest_deployment_arn(ecs, cluster, service)
        for reading in deployments.watch(ecs, rollout.arn, clock=traffic.elapsed, interval=0.25, timeout=timeout):
            rollout.readings.append(reading)
            if on_reading:
                on_reading(reading, rollout.arn)
        time.sleep(1)
    finally:
        traffic.stop()
    return rollout


def share_per_weight(rollout: Rollout, version: str, at_least: int = 40) -> dict[float, float]:
    """For each production weight ECS reported while IN_PROGRESS: the measured percent of successful responses from
    ``version`` to requests sent while that weight held (weights with fewer than ``at_least`` responses left out)."""
    counts: dict[float, list[int]] = {}
    for reading, following in zip(rollout.readings, rollout.readings[1:], strict=False):
        weight = reading.target_production_weight
        if weight is None or reading.status != "IN_PROGRESS":
            continue
        answered = [r for r in rollout.traffic.between(reading.at, following.at) if r.status == 200]
        tally = counts.setdefault(weight, [0, 0])
        tally[0] += sum(r.version == version for r in answered)
        tally[1] += len(answered)
    return {weight: round(100 * new / total, 1) for weight, (new, total) in sorted(counts.items()) if total >= at_least}
