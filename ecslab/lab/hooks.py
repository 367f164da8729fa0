"""Deployment lifecycle hooks of type PAUSE: a service deployment that waits at a stage for ContinueServiceDeployment.

Since 2025 a BLUE_GREEN, CANARY or LINEAR deployment can run *lifecycle hooks* at chosen stages
(``deploymentConfiguration.lifecycleHooks``). A hook of ``targetType`` ``AWS_LAMBDA`` calls a Lambda function,
which the lab cannot run (no Lambda runtime image can be pulled here): it refuses such hooks at create/update.
A ``PAUSE`` hook needs no code: the deployment stops at the stage, the hook's detail in
``describe_service_deployments`` says ``AWAITING_ACTION`` with its ``hookId`` and ``expiresAt``, and
``continue_service_deployment(hookId=..., action="CONTINUE" | "ROLLBACK")`` moves it on or back. If nobody
answers before ``timeoutConfiguration.timeoutInMinutes`` (default 1440), ECS takes the ``timeoutConfiguration.action``
(default ``ROLLBACK``) and the hook is ``TIMED_OUT``. The lab models exactly that, its timeout on the lab's
deployment clock (:data:`ecslab.config.LAB_SECONDS_PER_AWS_MINUTE`).

Sources, botocore's ECS model (1.44): ``DeploymentLifecycleHook`` ("PAUSE - Pauses the deployment at the specified
lifecycle stage until you call ContinueServiceDeployment to continue or roll back"; "PAUSE hooks cannot be configured
at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages"), ``DeploymentLifecycleHookTimeoutConfiguration``
("Default: 1440 (24 hours)", action "Default: ROLLBACK"), ``ServiceDeploymentLifecycleHookDetail`` (status
AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT) and ``ContinueServiceDeployment`` ("If no value is
specified, the default action is CONTINUE").

Pure: no moto, no Docker, no clock of its own (the caller passes ``now``, seconds on a monotonic clock).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecslab.config import LAB_SECONDS_PER_AWS_MINUTE

HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
"""botocore's ``DeploymentLifecycleHookStage`` enum: where a hook may run."""

NO_PAUSE_AT = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
""""PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages." (botocore)"""

LAB_PAUSES_AT = ("POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT")
"""The stages where the lab holds a deployment for a PAUSE hook: after the green tasks are up, after test traffic moved
(before any production traffic does). The others (before scale-up, before each production step, after the last one)
are refused at create/update as not modelled."""

DEFAULT_TIMEOUT_MINUTES = 1440
DEFAULT_TIMEOUT_ACTION = "ROLLBACK"
ACTIONS = ("CONTINUE", "ROLLBACK")


def problem(hooks: Sequence[Mapping[str, Any]] | None) -> str | None:
    """ECS's refusal of ``lifecycleHooks`` (an InvalidParameterException message), or the lab's for a Lambda hook; ``None``
    when every hook is a PAUSE hook the lab can run."""
    for hook in hooks or ():
        kind = hook.get("targetType") or "AWS_LAMBDA"
        if kind not in ("AWS_LAMBDA", "PAUSE"):
            return f"Invalid lifecycle hook targetType {kind!r}: valid values are AWS_LAMBDA, PAUSE."
        stages = list(hook.get("lifecycleStages") or [])
        if not stages:
            return "lifecycleStages must be provided when configuring a deployment lifecycle hook."
        for stage in stages:
            if stage not in HOOK_STAGES:
                return f"Invalid lifecycle stage {stage!r}: valid values are {', '.join(HOOK_STAGES)}."
        if kind == "AWS_LAMBDA":
            return (
                "lifecycleHooks with targetType AWS_LAMBDA are not modelled in the lab: it cannot run Lambda functions here. "
                "Use a PAUSE hook (continue_service_deployment moves the deployment on) or try Lambda hooks on AWS."
            )
        if hook.get("hookTargetArn"):
            return "hookTargetArn is not applicable for PAUSE hooks."
        if any(stage in NO_PAUSE_AT for stage in stages):
            return "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages."
        timeout = hook.get("timeoutConfiguration") or {}
        minutes = timeout.get("timeoutInMinutes")
        if minutes is not None and not 1 <= int(minutes) <= DEFAULT_TIMEOUT_MINUTES:
            return f"timeoutInMinutes must be between 1 and {DEFAULT_TIMEOUT_MINUTES}."
        if timeout.get("action") is not None and timeout["action"] not in ACTIONS:
            return f"Invalid timeout action {timeout['action']!r}: valid values are CONTINUE, ROLLBACK."
    return None


@dataclass
class Pause:
    """One PAUSE hook of one service deployment, at one stage."""

    hook_id: str
    stage: str
    timeout_minutes: float
    timeout_action: str
    status: str = "PENDING"  # not reached yet; then AWAITING_ACTION, SUCCEEDED, FAILED (rolled back) or TIMED_OUT
    reached_at: float | None = None

    def expires(self) -> float | None:
        """When (on the caller's clock) the hook times out, once reached."""
        return None if self.reached_at is None else self.reached_at + self.timeout_minutes * LAB_SECONDS_PER_AWS_MINUTE


@dataclass
class Pauses:
    """The PAUSE hooks of one service deployment and what was decided at each."""

    hooks: list[Pause] = field(default_factory=list)

    @classmethod
    def of(cls, deployment_arn: str, configuration: Mapping[str, Any]) -> Pauses:
        made = []
        for index, hook in enumerate(configuration.get("lifecycleHooks") or ()):
            if (hook.get("targetType") or "AWS_LAMBDA") != "PAUSE":
                continue
            timeout = hook.get("timeoutConfiguration") or {}
            for stage in hook.get("lifecycleStages") or ():
                digest = hashlib.sha256(f"{deployment_arn}/{index}/{stage}".encode()).hexdigest()[:20]
                made.append(
                    Pause(
                        hook_id=f"hook-{digest}",
                        stage=stage,
                        timeout_minutes=float(timeout.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES),
                        timeout_action=str(timeout.get("action") or DEFAULT_TIMEOUT_ACTION),
                    )
                )
        return cls(made)

    def hold(self, stage: str, now: float) -> str | None:
        """At ``stage``: ``None`` to go on, ``"WAIT"`` while a hook awaits action, ``"ROLLBACK"`` when a hook's answer
        (or its timeout) says so. Reaching a stage starts its hooks' timers."""
        for pause in self.hooks:
            if pause.stage != stage:
                continue
            if pause.status == "PENDING":
                pause.status, pause.reached_at = "AWAITING_ACTION", now
            if pause.status == "AWAITING_ACTION":
                expires = pause.expires()
                if expires is not None and now >= expires:
                    pause.status = "TIMED_OUT"
                    if pause.timeout_action == "ROLLBACK":
                        return "ROLLBACK"
                    continue
                return "WAIT"
            if pause.status == "FAILED":
                return "ROLLBACK"
        return None

    def answer(self, hook_id: str, action: str | None) -> str | None:
        """``continue_service_deployment``: the refusal's message, or ``None`` once the hook is answered."""
        chosen = action or "CONTINUE"
        if chosen not in ACTIONS:
            return f"Invalid action {chosen!r}: valid values are CONTINUE, ROLLBACK."
        for pause in self.hooks:
            if pause.hook_id == hook_id:
                if pause.status != "AWAITING_ACTION":
                    return f"The lifecycle hook {hook_id} is not awaiting action: its status is {pause.status}."
                pause.status = "SUCCEEDED" if chosen == "CONTINUE" else "FAILED"
                return None
        return f"The lifecycle hook {hook_id} was not found in this service deployment."

    def details(self) -> list[dict[str, Any]]:
        """``lifecycleHookDetails`` in AWS's shape, for the hooks reached so far (``expiresAt`` on the caller's clock,
        converted by the caller)."""
        return [
            {
                "hookId": pause.hook_id,
                "targetType": "PAUSE",
                "status": pause.status,
                "timeoutAction": pause.timeout_action,
                "expires": pause.expires(),
            }
            for pause in self.hooks
            if pause.status != "PENDING"
        ]
