"""The ECS agent's launches at scale, without Docker: shared pulls and the launch clocks (issue 17)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ecslab.lab.launch_timings import LaunchTimings
from ecslab.lab.shared_pulls import SharedPulls


def launch_while_held(pulls: SharedPulls[str], launch: Callable[[], object], count: int, gate: threading.Event) -> None:
    """``count`` launches at once while the first one's pull waits on ``gate``: released once the others wait for it."""
    threads = [threading.Thread(target=launch) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while pulls.shared < count - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    for thread in threads:
        thread.join(5)


def test_launches_asking_for_one_image_at_once_share_one_pull() -> None:
    # given: a pull that takes a while
    pulls: SharedPulls[str] = SharedPulls()
    calls: list[str] = []
    gate = threading.Event()

    def pull() -> str:
        calls.append("pulled")
        gate.wait(5)
        return "sha256:abc"

    results: list[str] = []
    # when: eight launches ask while it runs
    launch_while_held(pulls, lambda: results.append(pulls.run("app:v1", pull)), 8, gate)
    # then: one pull, eight answers
    assert (calls, results, pulls.shared) == (["pulled"], ["sha256:abc"] * 8, 7)


def test_a_launch_after_the_pull_ended_pulls_again_and_other_images_pull_apart() -> None:
    pulls: SharedPulls[str] = SharedPulls()
    calls: list[str] = []

    def pull(name: str) -> str:
        calls.append(name)
        return name

    assert [pulls.run("a", lambda: pull("a")), pulls.run("a", lambda: pull("a")), pulls.run("b", lambda: pull("b"))] == [
        "a",
        "a",
        "b",
    ]
    assert calls == ["a", "a", "b"]
    assert pulls.flights == {}


def test_a_failed_pull_fails_every_launch_waiting_for_it_and_the_next_one_tries_again() -> None:
    pulls: SharedPulls[str] = SharedPulls()
    gate = threading.Event()
    errors: list[str] = []

    def failing() -> str:
        gate.wait(5)
        raise OSError("engine gone")

    def launch() -> None:
        try:
            pulls.run("app", failing)
        except OSError as error:
            errors.append(str(error))

    launch_while_held(pulls, launch, 3, gate)
    assert errors == ["engine gone"] * 3
    assert pulls.run("app", lambda: "pulled") == "pulled"


def test_a_launch_clock_keeps_each_phase_and_the_time_queued() -> None:
    timings = LaunchTimings(keep=2)
    created = datetime.now(UTC) - timedelta(seconds=0.5)
    clock = timings.begin("task-1", created)
    clock.mark("pending")
    clock.mark("pull")
    clock.mark("pull")  # a second container's pull adds to the first
    shape = timings.shape()["launches"][0]
    assert shape["task"] == "task-1"
    assert list(shape["phases"]) == ["queued", "pending", "pull"]
    assert shape["phases"]["queued"] == pytest.approx(0.5, abs=0.2)
    assert shape["total_s"] >= shape["phases"]["pull"] >= 0
    for number in range(3):
        timings.begin(f"task-{number + 2}", None)
    assert [launch["task"] for launch in timings.shape()["launches"]] == ["task-3", "task-4"]  # the last two kept
    timings.clear()
    assert timings.shape() == {"launches": []}
