"""elb.watch_rollout: looks at a deployment until it is steady (notebook 06, sections 6 and 7), with fake clients."""

from __future__ import annotations

from typing import Any

import pytest

from ecslab import elb

V1, V2 = "arn:td/demo:1", "arn:td/demo:2"
VERSIONS = {V1: "v1", V2: "v2"}


class FakeECS:
    def __init__(self, states: list[list[tuple[str, str, str]]]) -> None:
        self.states = states  # each look: [(status, task definition, rolloutState)]
        self.calls = 0

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        state = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        return {"services": [{"deployments": [{"status": s, "taskDefinition": td, "rolloutState": r} for s, td, r in state]}]}

    def list_tasks(self, cluster: str, serviceName: str, desiredStatus: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        return {"taskArns": [f"task/{self.calls}", "task/0"]}


class FakeELB:
    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:  # noqa: N803
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": f"10.0.0.{i}", "Port": 8080}, "TargetHealth": {"State": "healthy"}} for i in range(3)
            ]
        }


def test_watch_rollout_stops_when_steady_and_phases_name_each_change_once() -> None:
    ecs = FakeECS(
        [
            [("PRIMARY", V2, "IN_PROGRESS"), ("ACTIVE", V1, "COMPLETED")],
            [("PRIMARY", V2, "IN_PROGRESS"), ("ACTIVE", V1, "COMPLETED")],
            [("PRIMARY", V2, "COMPLETED")],
        ]
    )
    clock = iter(range(100))
    looks = elb.watch_rollout(
        ecs, FakeELB(), "c", "s", "tg", VERSIONS, clock=lambda: float(next(clock)), ends_on=V2, healthy=3, every=0
    )
    assert len(looks) == 3 and looks[-1].deployments == ("PRIMARY v2 COMPLETED",) and looks[-1].healthy == 3
    assert elb.rollout_phases(looks) == [("PRIMARY v2 IN_PROGRESS", "ACTIVE v1 COMPLETED"), ("PRIMARY v2 COMPLETED",)]
    assert [look.at for look in looks] == [0.0, 1.0, 2.0]
    assert all(len(look.task_arns) == 2 for look in looks)


def test_watch_rollout_times_out_with_the_last_look() -> None:
    ecs = FakeECS([[("PRIMARY", V2, "IN_PROGRESS")]])
    clock = iter(range(0, 1000, 50))
    with pytest.raises(TimeoutError, match="PRIMARY v2 IN_PROGRESS"):
        elb.watch_rollout(
            ecs,
            FakeELB(),
            "c",
            "s",
            "tg",
            VERSIONS,
            clock=lambda: float(next(clock)),
            ends_on=V2,
            healthy=3,
            timeout=120,
            every=0,
        )
