"""The ECS agent while the Docker engine is gone: a bounded log, and a status that says so.

No Docker: a fake engine that refuses, then answers.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from ecslab.lab.docker_runtime import DockerRuntime
from ecslab.lab.ecs_agent import EcsAgent
from ecslab.lab.fillers import FillerContext, QuietErrors


class FlakyEngine:
    """``docker.api.containers`` fails while ``down``, as the SDK does when dockerd's socket is gone."""

    def __init__(self) -> None:
        self.down = True
        self.removed: list[tuple[str, dict[str, Any]]] = []
        self.api = SimpleNamespace(
            containers=self.containers, remove_container=lambda container, **kwargs: self.removed.append((container, kwargs))
        )

    def containers(self, **_: Any) -> list[dict[str, Any]]:
        if self.down:
            raise ConnectionError(
                "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
            )
        return []


def agent_with(engine: FlakyEngine) -> EcsAgent:
    agent = EcsAgent()
    agent.context = FillerContext(config=SimpleNamespace(home="/lab", region="us-east-1"), docker=engine)
    return agent


def test_an_engine_that_is_gone_is_logged_once_and_its_return_once(caplog: pytest.LogCaptureFixture) -> None:
    engine = FlakyEngine()
    agent = agent_with(engine)
    caplog.set_level(logging.INFO, logger="ecslab.lab.ecs")
    for _ in range(500):  # 100 s of ticks
        agent.run_tick()
    assert agent.status()["ecs_agent"]["engine"] == "not answering"
    assert "Connection aborted" in agent.status()["ecs_agent"]["engine_problem"]
    engine.down = False
    for _ in range(50):
        agent.run_tick()
    assert agent.status()["ecs_agent"] == {"engine": "answering", "engine_problem": None, "engine_gone_since": None}
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("Docker engine not answering (ConnectionError: ")
    assert messages[1].startswith("Docker engine answering again after ")
    assert not any(record.exc_info for record in caplog.records)


def test_a_tick_failing_the_same_way_logs_one_traceback_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    errors = QuietErrors("ECS agent tick", logging.getLogger("ecslab.lab.ecs"))
    caplog.set_level(logging.INFO, logger="ecslab.lab.ecs")
    for index in range(300):
        try:
            raise KeyError("cluster" if index % 2 else "service")
        except KeyError as error:
            errors.failed(error)
    errors.succeeded()
    for index in range(QuietErrors.MAX_KINDS * 3):  # many distinct errors: still bounded
        try:
            raise ValueError(f"error {index}")
        except ValueError as error:
            errors.failed(error)
    errors.succeeded()
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 2 + QuietErrors.MAX_KINDS
    summaries = [record.getMessage() for record in caplog.records if not record.exc_info]
    assert summaries == [
        "ECS agent tick failed 298 more times with errors logged above; it works again",
        f"ECS agent tick failed {QuietErrors.MAX_KINDS * 2} more times with errors logged above; it works again",
    ]


def test_task_containers_are_removed_with_their_anonymous_volumes() -> None:
    engine = FlakyEngine()
    engine.down = False
    runtime = DockerRuntime(lambda: engine, "/lab")
    listed = {"Id": "c1", "Names": ["/ecs-web-1-web-0123"], "State": "exited", "Labels": {"com.amazonaws.ecs.task-arn": "t"}}
    engine.containers = lambda **_: [listed]  # type: ignore[method-assign]
    engine.api.containers = engine.containers
    runtime.remove(runtime.task_containers()["t"][""])
    runtime.remove(SimpleNamespace(id="c2"))  # a docker SDK Container, as run() returned it
    assert engine.removed == [("c1", {"v": True, "force": True}), ("c2", {"v": True, "force": True})]


def test_a_deleted_services_bookkeeping_goes_with_it() -> None:
    engine = FlakyEngine()
    engine.down = False
    agent = agent_with(engine)
    gone = "arn:aws:ecs:us-east-1:123456789012:service/web/deleted-long-ago"
    agent.service_record(gone).steady = True
    agent.service_record(gone).next_launch = 5.0
    agent.run_tick()
    assert gone not in agent.records.services
