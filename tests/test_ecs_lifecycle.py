"""Notebook 04's task lifecycle: watch_task records what describe_tasks reports, in AWS's documented order."""

from __future__ import annotations

from typing import Any

from ecslab import ecs as ecs_tools


class FakeEcs:
    """describe_tasks answers the statuses it was given, one per call, then repeats the last."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.calls = 0

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return {"tasks": [{"taskArn": tasks[0], "lastStatus": status}]}


def test_the_lifecycle_has_aws_eight_states_in_order() -> None:
    assert ecs_tools.LIFECYCLE_ORDER == [
        "PROVISIONING",
        "PENDING",
        "ACTIVATING",
        "RUNNING",
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
    ]


def test_watch_task_keeps_each_change_once_and_stops_at_the_target() -> None:
    ecs = FakeEcs(["PROVISIONING", "PROVISIONING", "PENDING", "RUNNING", "RUNNING"])
    seen = ecs_tools.watch_task(ecs, "c", "t", until="RUNNING", interval=0)
    assert [status for _, status in seen] == ["PROVISIONING", "PENDING", "RUNNING"]
    assert ecs.calls == 4  # stopped polling at the first RUNNING
    assert [moment for moment, _ in seen] == sorted(moment for moment, _ in seen)


def test_watch_task_stops_at_stopped_even_when_waiting_for_running() -> None:
    seen = ecs_tools.watch_task(FakeEcs(["PENDING", "DEPROVISIONING", "STOPPED"]), "c", "t", until="RUNNING", interval=0)
    assert seen[-1][1] == "STOPPED"


def test_watch_task_gives_up_after_its_timeout() -> None:
    seen = ecs_tools.watch_task(FakeEcs(["PENDING"]), "c", "t", timeout=0.05, interval=0.01)
    assert [status for _, status in seen] == ["PENDING"]


def test_merged_watches_count_a_shared_status_once_and_keep_aws_order() -> None:
    start = [(0.0, "PROVISIONING"), (0.1, "PENDING"), (0.5, "RUNNING")]
    stop = [(9.0, "RUNNING"), (9.1, "DEACTIVATING"), (9.2, "STOPPING"), (9.9, "STOPPED")]
    life = ecs_tools.merge_changes(start, stop)
    assert [status for _, status in life] == ["PROVISIONING", "PENDING", "RUNNING", "DEACTIVATING", "STOPPING", "STOPPED"]
    assert ecs_tools.in_lifecycle_order([status for _, status in life])
    assert not ecs_tools.in_lifecycle_order(["RUNNING", "PENDING"])
