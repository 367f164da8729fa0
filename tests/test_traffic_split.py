"""ecslab.traffic_split without a lab: the predicted split of each strategy, and the measured one from recorded responses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ecslab import traffic_split
from ecslab.deployments import Snapshot


@dataclass
class Response:
    at: float
    status: int
    version: str | None


class Traffic:
    def __init__(self, responses: list[Response]) -> None:
        self.responses = responses

    def between(self, since: float, until: float) -> list[Response]:
        return [r for r in self.responses if since <= r.at < until]


def test_each_strategy_predicts_its_steps_and_bake() -> None:
    assert traffic_split.predicted_split({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}) == [
        (0.0, 0.0), (0.0, 100.0), (0.0, 100.0), (5.0, 100.0)
    ]  # fmt: skip
    canary = {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 2,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
    }
    assert traffic_split.split_summary(canary) == {
        "shifts": [10.0, 100.0],
        "minutes until 100% on the new revision": 3.0,
        "minutes until the old tasks end": 5.0,
    }
    linear = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 30.0, "stepBakeTimeInMinutes": 2}}
    assert traffic_split.split_summary(linear)["shifts"] == [30.0, 60.0, 90.0, 100.0]
    assert traffic_split.split_summary(linear)["minutes until 100% on the new revision"] == 6.0  # no bake after 100 %
    defaults = traffic_split.split_summary({"strategy": "CANARY"})  # AWS's defaults: 5 % for 10 minutes
    assert defaults["shifts"] == [5.0, 100.0] and defaults["minutes until 100% on the new revision"] == 10.0


def test_rolling_has_no_traffic_split_to_predict() -> None:
    with pytest.raises(ValueError, match="does not shift traffic"):
        traffic_split.predicted_split({"strategy": "ROLLING"})


def test_measured_split_and_share_per_weight_count_only_answers() -> None:
    responses = [Response(0.1 * i, 200, "v2" if i % 4 == 0 else "v1") for i in range(100)]  # 25 % v2 over 10 s
    responses += [Response(5.0, 503, None)]
    assert traffic_split.measured_split(responses, "v2", bucket=5.0) == [(0.0, 26.0, 50), (5.0, 24.0, 50)]
    readings = [
        Snapshot(at=0.0, status="IN_PROGRESS", lifecycle_stage="PRODUCTION_TRAFFIC_SHIFT", target_production_weight=25.0,
                 target_test_weight=100.0, target_running=3, source_running=3),
        Snapshot(at=10.0, status="SUCCESSFUL", lifecycle_stage="CLEAN_UP", target_production_weight=100.0,
                 target_test_weight=100.0, target_running=3, source_running=0),
    ]  # fmt: skip
    rollout = traffic_split.Rollout(Traffic(responses), readings, "arn")
    assert traffic_split.share_per_weight(rollout, "v2") == {25.0: 25.0}
    assert rollout.weights() == [25.0, 100.0] and rollout.stages() == ["PRODUCTION_TRAFFIC_SHIFT", "CLEAN_UP"]
    assert rollout.status == "SUCCESSFUL"


def test_the_widget_shows_a_refusal_for_a_canary_of_zero() -> None:
    widget = traffic_split.split_widget()
    strategy, canary_percent = widget.children[0], widget.children[1]
    note = widget.children[6]
    assert "Shifts to 5%, 100%" in note.value
    assert bytes(widget.children[7].value).startswith(b"\x89PNG")  # the predicted split, drawn off-screen
    canary_percent.value = 0.0
    assert "ECS refuses this" in note.value and "canaryPercent" in note.value
    strategy.value = "BLUE_GREEN"
    assert "Shifts to 100%" in note.value
