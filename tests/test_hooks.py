"""PAUSE lifecycle hooks as pure logic (ecslab.lab.hooks): what is refused, when a deployment waits, goes on or rolls back."""

from __future__ import annotations

import pytest

from ecslab.config import LAB_SECONDS_PER_AWS_MINUTE
from ecslab.lab import hooks


def pause(*stages: str, **timeout: object) -> dict[str, object]:
    made: dict[str, object] = {"targetType": "PAUSE", "lifecycleStages": list(stages)}
    if timeout:
        made["timeoutConfiguration"] = timeout
    return made


@pytest.mark.parametrize(
    ("hook", "words"),
    [
        (
            {"lifecycleStages": ["POST_SCALE_UP"], "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:f"},
            "AWS_LAMBDA",
        ),
        (pause("PRODUCTION_TRAFFIC_SHIFT"), "cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT"),
        (pause("TEST_TRAFFIC_SHIFT"), "cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT"),
        (pause("BAKE_TIME"), "Invalid lifecycle stage"),
        (pause(), "lifecycleStages must be provided"),
        ({**pause("POST_SCALE_UP"), "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}, "not applicable"),
        (pause("POST_SCALE_UP", timeoutInMinutes=0), "timeoutInMinutes"),
        (pause("POST_SCALE_UP", action="WAIT"), "Invalid timeout action"),
    ],
)
def test_hooks_the_lab_cannot_run_or_aws_refuses_are_refused(hook: dict[str, object], words: str) -> None:
    assert words in (hooks.problem([hook]) or "")


def test_a_pause_hook_at_an_allowed_stage_is_accepted() -> None:
    assert hooks.problem([pause("POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT")]) is None
    assert hooks.problem(None) is None


def test_a_deployment_waits_at_the_stage_until_continued() -> None:
    pauses = hooks.Pauses.of("arn:deployment/1", {"lifecycleHooks": [pause("POST_TEST_TRAFFIC_SHIFT")]})
    assert pauses.hold("SCALE_UP", now=0) is None  # no hook there
    assert pauses.hold("POST_TEST_TRAFFIC_SHIFT", now=10) == "WAIT"
    assert pauses.hold("POST_TEST_TRAFFIC_SHIFT", now=11) == "WAIT"
    (detail,) = pauses.details()
    assert detail["status"] == "AWAITING_ACTION" and detail["timeoutAction"] == "ROLLBACK"
    assert detail["expires"] == 10 + 1440 * LAB_SECONDS_PER_AWS_MINUTE  # AWS's default timeout, on the lab's clock
    assert pauses.answer(detail["hookId"], None) is None  # "If no value is specified, the default action is CONTINUE."
    assert pauses.hold("POST_TEST_TRAFFIC_SHIFT", now=12) is None
    assert pauses.details()[0]["status"] == "SUCCEEDED"
    assert "not awaiting action" in (pauses.answer(detail["hookId"], "CONTINUE") or "")


def test_rollback_answer_and_timeouts() -> None:
    pauses = hooks.Pauses.of(
        "arn:d/2", {"lifecycleHooks": [pause("POST_SCALE_UP"), pause("POST_PRODUCTION_TRAFFIC_SHIFT", timeoutInMinutes=5)]}
    )
    assert pauses.hold("POST_SCALE_UP", now=0) == "WAIT"
    first = pauses.details()[0]["hookId"]
    assert "not found" in (pauses.answer("hook-nope", "CONTINUE") or "")
    assert "Invalid action" in (pauses.answer(first, "SKIP") or "")
    assert pauses.answer(first, "ROLLBACK") is None
    assert pauses.hold("POST_SCALE_UP", now=1) == "ROLLBACK"
    later = hooks.Pauses.of(
        "arn:d/3", {"lifecycleHooks": [pause("POST_PRODUCTION_TRAFFIC_SHIFT", timeoutInMinutes=5, action="CONTINUE")]}
    )
    assert later.hold("POST_PRODUCTION_TRAFFIC_SHIFT", now=100) == "WAIT"
    assert later.hold("POST_PRODUCTION_TRAFFIC_SHIFT", now=100 + 5 * LAB_SECONDS_PER_AWS_MINUTE) is None  # timed out: continue
    assert later.details()[0]["status"] == "TIMED_OUT"


def test_hook_ids_repeat_for_the_same_deployment() -> None:
    configuration = {"lifecycleHooks": [pause("POST_SCALE_UP")]}
    first, second = hooks.Pauses.of("arn:d/4", configuration), hooks.Pauses.of("arn:d/4", configuration)
    assert [p.hook_id for p in first.hooks] == [p.hook_id for p in second.hooks]


def test_the_lab_refuses_pause_hooks_at_stages_it_does_not_hold() -> None:
    from ecslab.lab import strategies

    load_balancers = [{"advancedConfiguration": {"alternateTargetGroupArn": "g", "productionListenerRule": "r", "roleArn": "x"}}]
    held = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [pause("POST_TEST_TRAFFIC_SHIFT")]}
    assert strategies.problem(held, load_balancers) is None
    early = {**held, "lifecycleHooks": [pause("PRE_SCALE_UP")]}
    assert "not modelled in the lab" in (strategies.problem(early, load_balancers) or "")
