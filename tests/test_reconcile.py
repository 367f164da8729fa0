"""ECS's scheduler decisions as pure functions: no Docker, no moto, no lab (milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecslab.lab import reconcile as r

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def resources(cpu: int, memory: int, ports: list[str] | None = None) -> list[dict[str, object]]:
    return [
        {"name": "CPU", "integerValue": cpu},
        {"name": "MEMORY", "integerValue": memory},
        {"name": "PORTS", "stringSetValue": ports or []},
    ]


def test_placement_takes_the_first_active_instance_the_task_fits_on() -> None:
    needs = {"CPU": 256, "MEMORY": 512, "PORTS": [8080]}
    small = r.Instance("small", True, resources(1024, 256))
    taken = r.Instance("taken", True, resources(1024, 1024, ["8080"]))
    draining = r.Instance("draining", False, resources(4096, 4096))
    good = r.Instance("good", True, resources(1024, 1024))
    assert r.place([small, taken, draining, good], needs) == good
    assert r.place([small, taken, draining], needs) is None


def test_placement_failure_names_the_resource_that_is_short() -> None:
    assert r.placement_failure(resources(1024, 256), {"CPU": 256, "MEMORY": 512}) == "RESOURCE:MEMORY"
    assert r.placement_failure(resources(128, 1024), {"CPU": 256, "MEMORY": 512}) == "RESOURCE:CPU"
    assert r.placement_failure(resources(1024, 1024), {"CPU": 256, "MEMORY": 512, "PORTS": [80]}) == "RESOURCE:PORTS"


def test_deployment_configuration_percentages_as_ecs_refuses_them() -> None:
    assert r.deployment_configuration_problem({"maximumPercent": 200, "minimumHealthyPercent": 100}) is None
    assert (
        r.deployment_configuration_problem({"minimumHealthyPercent": 101}) == "minimumHealthyPercent must be between 0 and 100."
    )
    assert r.deployment_configuration_problem({"maximumPercent": 50}) == "maximumPercent must be at least 100."
    assert (
        r.deployment_configuration_problem({"maximumPercent": 100, "minimumHealthyPercent": 100})
        == "maximumPercent must be greater than minimumHealthyPercent."
    )


def test_bounds_round_as_ecs_does() -> None:
    assert r.bounds(4, {"maximumPercent": 150, "minimumHealthyPercent": 100}) == r.Bounds(4, 6, 4)
    assert r.bounds(3, {"maximumPercent": 150, "minimumHealthyPercent": 50}) == r.Bounds(3, 4, 2)  # floor 4.5, ceil 1.5


def test_a_rollout_starts_new_tasks_only_within_maximum_percent() -> None:
    limits = r.bounds(4, {"maximumPercent": 150, "minimumHealthyPercent": 100})
    assert r.tasks_to_start(limits, primary=0, active=4, rolling=True) == 2
    assert r.tasks_to_start(limits, primary=2, active=6, rolling=True) == 0
    assert r.tasks_to_start(limits, primary=0, active=0, rolling=False) == 4
    assert r.tasks_to_start(r.bounds(2, {"maximumPercent": 100, "minimumHealthyPercent": 0}), 0, 2, True) == 0


def test_old_tasks_stop_while_enough_healthy_tasks_remain() -> None:
    old = [r.OldTask(f"old-{i}", NOW + timedelta(seconds=i), serving=True) for i in range(4)]
    # minimumHealthyPercent 100 of 4: two healthy new tasks let two old ones go, oldest first
    assert r.old_tasks_to_stop(old, healthy_primary=2, minimum_healthy=4) == ["old-0", "old-1"]
    assert r.old_tasks_to_stop(old, healthy_primary=0, minimum_healthy=4) == []
    broken = [r.OldTask("broken", NOW, serving=False), *old]
    assert r.old_tasks_to_stop(broken, healthy_primary=0, minimum_healthy=4) == ["broken"]


def test_scaling_in_stops_the_newest_tasks() -> None:
    created = {"a": NOW, "b": NOW + timedelta(seconds=1), "c": NOW + timedelta(seconds=2)}
    assert r.extra_tasks(created, desired=1) == ["c", "b"]
    assert r.extra_tasks(created, desired=3) == []


def test_failing_tasks_back_off_doubling_up_to_30_seconds() -> None:
    assert not r.backing_off([], NOW)
    assert r.backing_off([NOW - timedelta(seconds=0.5)], NOW)  # one failure: wait 1 s
    assert not r.backing_off([NOW - timedelta(seconds=1.5)], NOW)
    many = [NOW - timedelta(seconds=20 + i) for i in range(8)]  # 8 failures: 30 s at most
    assert r.backing_off(many, NOW)
    assert not r.backing_off([NOW - timedelta(seconds=61)], NOW)  # older than a minute: forgotten


def test_the_circuit_breaker_trips_at_half_the_desired_count_at_least_three() -> None:
    breaker = {"enable": True, "rollback": True}
    assert [r.breaker_threshold(n) for n in (1, 6, 10, 1000)] == [3, 3, 5, 200]
    assert r.breaker_trips(breaker, "IN_PROGRESS", failed_tasks=3, desired=2)
    assert not r.breaker_trips(breaker, "IN_PROGRESS", failed_tasks=2, desired=2)
    assert not r.breaker_trips(breaker, "FAILED", failed_tasks=9, desired=2)
    assert not r.breaker_trips({"enable": False}, "IN_PROGRESS", failed_tasks=9, desired=2)


def test_rollback_goes_to_the_last_completed_revision_only() -> None:
    assert r.rollback_target({"enable": True, "rollback": True}, "web:1", "web:2") == "web:1"
    assert r.rollback_target({"enable": True, "rollback": True}, "web:2", "web:2") is None
    assert r.rollback_target({"enable": True, "rollback": True}, None, "web:2") is None
    assert r.rollback_target({"enable": True, "rollback": False}, "web:1", "web:2") is None


def test_steady_means_one_deployment_at_its_desired_count_all_healthy() -> None:
    assert r.steady(deployments=1, healthy_primary=2, primary=2, desired=2)
    assert not r.steady(deployments=2, healthy_primary=2, primary=2, desired=2)
    assert not r.steady(deployments=1, healthy_primary=1, primary=2, desired=2)
