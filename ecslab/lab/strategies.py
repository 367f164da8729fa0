"""ECS's deployment strategies as pure functions: BLUE_GREEN, CANARY and LINEAR traffic shifts, and their refusals.

Since 2025 an ECS service with ``deploymentConfiguration.strategy`` = ``BLUE_GREEN``, ``CANARY`` or
``LINEAR`` (and a load balancer with ``advancedConfiguration``) deploys a new revision beside the old one:
the green tasks start in full and join the alternate target group, test traffic reaches them through the
test listener rule, then ECS rewrites the production listener rule's weighted ``forward`` to move production
traffic (at once, canary percent then the rest, or in linear steps), waits the bake time and ends the blue
tasks. ``ROLLING`` is the rolling update of :mod:`ecslab.lab.reconcile`.

Nothing here touches moto, Docker or a clock: :func:`shift_plan` turns a deploymentConfiguration into the
production weights and the minutes to wait after each, :func:`problem` gives ECS's refusal of a bad one, and
:func:`lab_seconds` converts AWS minutes to the lab's clock (:data:`ecslab.config.LAB_SECONDS_PER_AWS_MINUTE`).
The ECS agent (:mod:`ecslab.lab.ecs_agent`) carries the plan out; ``tests/test_strategies.py`` runs this module
in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecslab.config import LAB_SECONDS_PER_AWS_MINUTE
from ecslab.lab import hooks as lab_hooks

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
"""botocore's ``DeploymentStrategy`` enum."""

SHIFTING = ("BLUE_GREEN", "LINEAR", "CANARY")
"""The strategies that shift traffic between two target groups."""

LIFECYCLE_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
"""botocore's ``ServiceDeploymentLifecycleStage`` enum, in the order a deployment goes through them."""

CANARY_DEFAULTS = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}
"""CanaryConfiguration's defaults (AWS API reference: "The default value is 5.0." / "The default value is 10.")."""

LINEAR_DEFAULTS = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
"""LinearConfiguration's defaults (AWS API reference: "The default value is 10.0." / "The default value is 6.")."""

MAX_MINUTES = 1440
"""Bake times: "Valid values are 0 to 1440 minutes (24 hours)." (Canary/LinearConfiguration)."""


def lab_seconds(minutes: float) -> float:
    """How long ``minutes`` AWS minutes last on the lab's deployment clock."""
    return float(minutes) * LAB_SECONDS_PER_AWS_MINUTE


def strategy_of(configuration: Mapping[str, Any]) -> str:
    return str(configuration.get("strategy") or "ROLLING")


@dataclass(frozen=True)
class Shift:
    """One production traffic shift: the green target group's weight (percent), then the minutes to wait."""

    green_percent: float
    wait_minutes: float


def shift_plan(configuration: Mapping[str, Any]) -> list[Shift]:
    """The production traffic shifts of a BLUE_GREEN, CANARY or LINEAR deployment; the last reaches 100 percent.

    BLUE_GREEN: all at once. CANARY: ``canaryPercent``, wait ``canaryBakeTimeInMinutes``, then the rest.
    LINEAR: ``stepPercent`` more at each step, ``stepBakeTimeInMinutes`` between steps ("This bake time is not
    applied after reaching 100 percent traffic."). The deployment's ``bakeTimeInMinutes`` follows the last shift
    (see :func:`bake_minutes`)."""
    strategy = strategy_of(configuration)
    if strategy == "CANARY":
        canary = {**CANARY_DEFAULTS, **(configuration.get("canaryConfiguration") or {})}
        percent = float(canary["canaryPercent"])
        if percent >= 100:
            return [Shift(100.0, 0)]
        return [Shift(percent, float(canary["canaryBakeTimeInMinutes"])), Shift(100.0, 0)]
    if strategy == "LINEAR":
        linear = {**LINEAR_DEFAULTS, **(configuration.get("linearConfiguration") or {})}
        step, wait = float(linear["stepPercent"]), float(linear["stepBakeTimeInMinutes"])
        shifts = []
        done = 0.0
        while done < 100 - 1e-9:
            done = min(round(done + step, 1), 100.0)
            shifts.append(Shift(done, wait if done < 100 else 0))
        return shifts
    return [Shift(100.0, 0)]


def bake_minutes(configuration: Mapping[str, Any]) -> float:
    """The deployment bake time: blue and green both run after production traffic has fully shifted."""
    return float(configuration.get("bakeTimeInMinutes") or 0)


def weights(green_percent: float) -> tuple[int, int]:
    """(blue, green) ELBv2 weights for a green share: integers, as ``ForwardConfig.TargetGroups[].Weight`` takes them.

    Tenths of a percent (weights 0-999 are allowed; canary/linear percents are multiples of 0.1), so 5.0 -> (950, 50)."""
    green = round(green_percent * 10)
    green = min(max(green, 0), 1000)
    if green == 1000:
        return 0, 1
    if green == 0:
        return 1, 0
    divisor = math.gcd(1000 - green, green)
    return (1000 - green) // divisor, green // divisor


def _multiple_of_tenth(value: float) -> bool:
    return abs(value * 10 - round(value * 10)) < 1e-6


def problem(configuration: Mapping[str, Any], load_balancers: Sequence[Mapping[str, Any]] | None) -> str | None:
    """ECS's refusal (an InvalidParameterException message) of a deploymentConfiguration, or ``None``.

    The ranges are the API reference's (botocore's CanaryConfiguration, LinearConfiguration,
    DeploymentConfiguration.bakeTimeInMinutes); the lab refuses ``lifecycleHooks`` (it cannot run Lambda)."""
    strategy = strategy_of(configuration)
    if strategy not in STRATEGIES:
        return f"Invalid deployment strategy {strategy!r}: valid values are {', '.join(STRATEGIES)}."
    bake = configuration.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= int(bake) <= MAX_MINUTES:
        return f"bakeTimeInMinutes must be between 0 and {MAX_MINUTES}."
    hooks_problem = lab_hooks.problem(configuration.get("lifecycleHooks"))
    if hooks_problem:
        return hooks_problem
    for hook in configuration.get("lifecycleHooks") or ():
        held = [stage for stage in hook.get("lifecycleStages") or () if stage not in lab_hooks.LAB_PAUSES_AT]
        if held:
            return (
                f"A PAUSE hook at {', '.join(held)} is not modelled in the lab: it pauses at "
                f"{', '.join(lab_hooks.LAB_PAUSES_AT)}. Try the others on AWS."
            )
    canary = configuration.get("canaryConfiguration")
    if canary is not None:
        if strategy != "CANARY":
            return "canaryConfiguration is only valid when the deployment strategy is CANARY."
        percent = canary.get("canaryPercent")
        if percent is not None and (not 0.1 <= float(percent) <= 100.0 or not _multiple_of_tenth(float(percent))):
            return "canaryPercent must be a multiple of 0.1 from 0.1 to 100.0."
        minutes = canary.get("canaryBakeTimeInMinutes")
        if minutes is not None and not 0 <= int(minutes) <= MAX_MINUTES:
            return f"canaryBakeTimeInMinutes must be between 0 and {MAX_MINUTES}."
    linear = configuration.get("linearConfiguration")
    if linear is not None:
        if strategy != "LINEAR":
            return "linearConfiguration is only valid when the deployment strategy is LINEAR."
        percent = linear.get("stepPercent")
        if percent is not None and (not 3.0 <= float(percent) <= 100.0 or not _multiple_of_tenth(float(percent))):
            return "stepPercent must be a multiple of 0.1 from 3.0 to 100.0."
        minutes = linear.get("stepBakeTimeInMinutes")
        if minutes is not None and not 0 <= int(minutes) <= MAX_MINUTES:
            return f"stepBakeTimeInMinutes must be between 0 and {MAX_MINUTES}."
    if strategy in SHIFTING:
        if strategy == "BLUE_GREEN" and bake is None:
            return "bakeTimeInMinutes must be provided when the deployment strategy is BLUE_GREEN."
        if not load_balancers:
            return f"A {strategy} deployment needs a load balancer: loadBalancers with advancedConfiguration."
        for entry in load_balancers:
            advanced = entry.get("advancedConfiguration")
            if not advanced:
                return f"advancedConfiguration is required for each load balancer when the deployment strategy is {strategy}."
            for name in ("alternateTargetGroupArn", "productionListenerRule", "roleArn"):
                if not advanced.get(name):
                    return f"advancedConfiguration.{name} is required when the deployment strategy is {strategy}."
            if advanced["alternateTargetGroupArn"] == entry.get("targetGroupArn"):
                return "advancedConfiguration.alternateTargetGroupArn must differ from the load balancer's targetGroupArn."
    return None


# -- a deployment's progress ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a shifting deployment stands after the green tasks are healthy, ``elapsed`` lab seconds ago."""

    stage: str  # PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME or CLEAN_UP
    green_percent: float
    shift_index: int  # how many shifts were made (1 = the first)


def progress(plan: Sequence[Shift], bake: float, elapsed: float) -> Progress:
    """The stage and green share ``elapsed`` lab seconds after the first production shift (pure: the agent's clock)."""
    at = 0.0
    for index, shift in enumerate(plan):
        last = index == len(plan) - 1
        if last:
            if elapsed < at + lab_seconds(bake):
                return Progress("BAKE_TIME", shift.green_percent, index + 1)
            return Progress("CLEAN_UP", shift.green_percent, index + 1)
        if elapsed < at + lab_seconds(shift.wait_minutes):
            return Progress("PRODUCTION_TRAFFIC_SHIFT", shift.green_percent, index + 1)
        at += lab_seconds(shift.wait_minutes)
    return Progress("CLEAN_UP", 100.0, len(plan))
