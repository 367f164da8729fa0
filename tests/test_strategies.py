"""ECS's deployment strategies as pure functions (ecslab.lab.strategies) and the ALB's weighted choice: no Docker, no moto."""

from __future__ import annotations

import collections

import pytest

from ecslab.config import LAB_SECONDS_PER_AWS_MINUTE
from ecslab.lab import strategies
from ecslab.lab.elb import forward_weights, weighted_choice
from ecslab.lab.strategies import Shift

LB = [
    {
        "targetGroupArn": "tg-a",
        "containerName": "web",
        "containerPort": 8080,
        "advancedConfiguration": {"alternateTargetGroupArn": "tg-b", "productionListenerRule": "rule", "roleArn": "role"},
    }
]


def test_blue_green_shifts_everything_at_once_then_bakes() -> None:
    configuration = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}
    plan = strategies.shift_plan(configuration)
    assert plan == [Shift(100.0, 0)]
    assert strategies.progress(plan, 5, 0).stage == "BAKE_TIME"
    assert strategies.progress(plan, 5, strategies.lab_seconds(5)).stage == "CLEAN_UP"


def test_canary_shifts_its_percent_waits_then_shifts_the_rest() -> None:
    configuration = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 4}}
    plan = strategies.shift_plan(configuration)
    assert plan == [Shift(20.0, 4), Shift(100.0, 0)]
    minute = LAB_SECONDS_PER_AWS_MINUTE
    assert strategies.progress(plan, 2, 3.9 * minute) == strategies.Progress("PRODUCTION_TRAFFIC_SHIFT", 20.0, 1)
    assert strategies.progress(plan, 2, 4.1 * minute) == strategies.Progress("BAKE_TIME", 100.0, 2)
    assert strategies.progress(plan, 2, 6.1 * minute).stage == "CLEAN_UP"


def test_canary_defaults_are_awss() -> None:
    assert strategies.shift_plan({"strategy": "CANARY"}) == [Shift(5.0, 10), Shift(100.0, 0)]


def test_linear_steps_with_no_bake_after_the_last() -> None:
    plan = strategies.shift_plan({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 30.0, "stepBakeTimeInMinutes": 2}})
    assert plan == [Shift(30.0, 2), Shift(60.0, 2), Shift(90.0, 2), Shift(100.0, 0)]
    assert [s.green_percent for s in strategies.shift_plan({"strategy": "LINEAR"})] == [10.0 * n for n in range(1, 11)]


def test_weights_are_integers_in_elbv2s_range_with_the_right_ratio() -> None:
    assert strategies.weights(5.0) == (19, 1)
    assert strategies.weights(0) == (1, 0) and strategies.weights(100) == (0, 1)
    blue, green = strategies.weights(33.3)
    assert 0 <= blue <= 999 and 0 <= green <= 999 and green / (blue + green) == pytest.approx(0.333)


@pytest.mark.parametrize(
    ("configuration", "load_balancers", "words"),
    [
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}, [{"targetGroupArn": "tg-a"}], "advancedConfiguration is required"),
        ({"strategy": "CANARY"}, None, "needs a load balancer"),
        ({"strategy": "BLUE_GREEN"}, LB, "bakeTimeInMinutes must be provided"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, LB, "bakeTimeInMinutes must be between 0 and 1440"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.05}}, LB, "canaryPercent must be a multiple of 0.1"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 5.55}}, LB, "canaryPercent must be a multiple of 0.1"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": -1}}, LB, "canaryBakeTimeInMinutes must be"),
        (
            {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}},
            LB,
            "stepPercent must be a multiple of 0.1 from 3.0",
        ),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepBakeTimeInMinutes": 2000}}, LB, "stepBakeTimeInMinutes must be"),
        ({"strategy": "LINEAR", "canaryConfiguration": {}}, LB, "only valid when the deployment strategy is CANARY"),
        ({"strategy": "SIDEWAYS"}, LB, "Invalid deployment strategy"),
        (
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 1,
                "lifecycleHooks": [{"hookTargetArn": "x", "lifecycleStages": ["POST_SCALE_UP"]}],
            },
            LB,
            "not modelled",
        ),
    ],
)
def test_bad_configurations_are_refused_in_ecss_words(
    configuration: dict[str, object], load_balancers: list[dict[str, object]] | None, words: str
) -> None:
    found = strategies.problem(configuration, load_balancers)
    assert found is not None and words in found


def test_good_configurations_and_rolling_pass() -> None:
    assert strategies.problem({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 12.5}}, LB) is None
    assert strategies.problem({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}, LB) is None
    assert strategies.problem({"maximumPercent": 200}, None) is None


def test_weighted_choice_follows_the_weights_evenly() -> None:
    state: dict[str, float] = {}
    picks = [weighted_choice([("blue", 19), ("green", 1)], state) for _ in range(1000)]
    assert collections.Counter(picks) == {"blue": 950, "green": 50}
    # spread out: never two greens in a row with these weights
    assert all(not (a == b == "green") for a, b in zip(picks, picks[1:], strict=False))
    assert weighted_choice([("blue", 0), ("green", 0)], {}) is None
    assert weighted_choice([("blue", 1), ("green", 0)], {}) == "blue"


def test_forward_actions_read_as_weights() -> None:
    assert forward_weights({"Type": "forward", "TargetGroupArn": "a"}) == [("a", 1)]
    action = {"ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "a", "Weight": "3"}, {"TargetGroupArn": "b"}]}}
    assert forward_weights(action) == [("a", 3), ("b", 1)]


class FakeAlb:
    """The load balancer as the deployment controller sees it: listener rules' weighted forwards, in memory."""

    def __init__(self, rules: dict[str, list[tuple[str, int]]]) -> None:
        self.rules = rules
        self.writes: list[tuple[str, list[tuple[str, int]]]] = []

    def forward_weights(self, rule_arn: str) -> list[tuple[str, int]] | None:
        return self.rules.get(rule_arn)

    def set_forward_weights(self, rule_arn: str, weights: list[tuple[str, int]]) -> bool:
        self.rules[rule_arn] = list(weights)
        self.writes.append((rule_arn, list(weights)))
        return True


def test_a_canary_deployment_moves_the_production_rule_on_the_lab_clock() -> None:
    import types
    from datetime import UTC, datetime

    from ecslab.lab.records import Records
    from ecslab.lab.service_deployments import ServiceDeployments

    alb = FakeAlb({"prod": [("tg-a", 1), ("tg-b", 0)], "test": [("tg-a", 1), ("tg-b", 0)]})
    now = [0.0]
    controller = ServiceDeployments(Records(), lambda: alb, lambda: "us-east-1")  # type: ignore[arg-type, return-value]
    controller.clock = lambda: now[0]
    entry = {
        **LB[0],
        "advancedConfiguration": {**LB[0]["advancedConfiguration"], "productionListenerRule": "prod", "testListenerRule": "test"},
    }  # type: ignore[dict-item]
    service = types.SimpleNamespace(
        arn="svc",
        name="web",
        cluster_name="c",
        cluster_arn="cluster",
        launch_type="FARGATE",
        platform_version=None,
        network_configuration=None,
        load_balancers=[entry],
        desired_count=2,
        deployment_configuration={
            "strategy": "CANARY",
            "bakeTimeInMinutes": 2,
            "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
        },
        deployments=[
            {"id": "green", "status": "PRIMARY", "taskDefinition": "td:2", "createdAt": datetime.now(UTC)},
            {"id": "blue", "status": "ACTIVE", "taskDefinition": "td:1", "createdAt": datetime.now(UTC)},
        ],
    )
    definition = types.SimpleNamespace(container_definitions=[{"name": "web", "image": "app:v2"}])
    record = controller.started(service, lambda arn: definition)  # type: ignore[arg-type]
    assert record is not None and (record.blue_group, record.green_group) == ("tg-a", "tg-b")
    assert controller.shifting(service) is record  # type: ignore[arg-type]
    # green not yet healthy: nothing moves
    assert controller.shift(service, record, healthy_green=1) is False and alb.writes == []  # type: ignore[arg-type]
    # all green healthy: test traffic to green, then the canary's 10%
    assert controller.shift(service, record, healthy_green=2) is False  # type: ignore[arg-type]
    assert alb.rules["test"] == [("tg-a", 0), ("tg-b", 1)] and alb.rules["prod"] == [("tg-a", 9), ("tg-b", 1)]
    now[0] = strategies.lab_seconds(3.1)  # the canary bake time passed: the rest, then the bake
    assert controller.shift(service, record, healthy_green=2) is False  # type: ignore[arg-type]
    assert alb.rules["prod"] == [("tg-a", 0), ("tg-b", 1)] and record.lifecycle_stage == "BAKE_TIME"
    now[0] = strategies.lab_seconds(5.1)
    assert controller.shift(service, record, healthy_green=2) is True  # type: ignore[arg-type]
    assert [stage for _, stage, _ in record.stages] == [
        "PRE_SCALE_UP",
        "SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ]
    # the next deployment finds green serving production: its tasks go to the other group
    assert controller.production_group(entry) == "tg-b"
