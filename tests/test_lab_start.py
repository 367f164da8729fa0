"""The lab's start in two steps (issue 17): ``ecslab up`` returns once the AWS endpoint, the registry
and the control API answer; moto and the fillers warm up meanwhile, and nothing reached in that time
sees a half-started lab. The lab process starts before ``up`` has seen to the Docker engine, and
starts its fillers (which use the engine) only once ``up`` says so on its stdin."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest

from ecslab.config import LabConfig
from ecslab.lab import manage

pytestmark = pytest.mark.lab


def _quiet(_message: str) -> None:
    pass


def test_what_is_reached_the_moment_up_returns_waits_for_the_warm_up(isolated_config: LabConfig) -> None:
    # given: a lab just started
    manage.up(isolated_config, say=_quiet)
    answers: dict[str, object] = {}

    def registry() -> None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{isolated_config.registry_port}/v2/", timeout=60)
        except urllib.error.HTTPError as error:
            answers["registry"] = (error.code, error.headers.get("Www-Authenticate", ""))

    def aws() -> None:
        ecs = boto3.client(
            "ecs",
            endpoint_url=isolated_config.endpoint_url,
            region_name=isolated_config.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        answers["aws"] = ecs.list_clusters()["clusterArns"]

    # when: the registry's port and the AWS endpoint are called at once, before the lab is warm
    threads = [threading.Thread(target=registry), threading.Thread(target=aws)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    # then: both are answered by the warm lab (the registry front asks for ECR's token; moto answers), none refused
    assert answers["aws"] == []
    code, challenge = answers["registry"]  # type: ignore[misc]
    assert code == 401 and "ecslab ECR" in challenge
    # and status, which lists the fillers, comes once the lab is warm
    report = manage.control(isolated_config, "GET", "/ready")
    assert report["warm"] is True and report["registry"]["ok"] is True
    assert manage.status(isolated_config, with_docker=False).to_dict()["fillers"]


def test_the_fillers_start_only_once_up_has_seen_to_the_engine(isolated_config: LabConfig) -> None:
    # given: a lab process started as `ecslab up` starts it, not yet told that the engine is seen to
    process = manage._launch(isolated_config)
    try:
        report = manage._wait_ready(isolated_config, process, timeout=60)
        # when: moto has had time to warm (about a second: it does not wait for the engine)
        time.sleep(3)
        # then: the lab answers /ready but is not warm: its fillers wait for `up`'s word
        assert report["warm"] is False and manage.control(isolated_config, "GET", "/ready")["warm"] is False
        # and once told, it warms
        manage._engine_checked(process)
        deadline = time.monotonic() + 60
        while not manage.control(isolated_config, "GET", "/ready")["warm"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manage.control(isolated_config, "GET", "/ready")["warm"] is True
    finally:
        manage._engine_checked(process)
        manage.down(isolated_config, say=_quiet)


def test_a_lab_whose_up_died_goes_on_warming(isolated_config: LabConfig) -> None:
    # given: a lab process whose `ecslab up` ended without a word (its stdin closes)
    process = manage._launch(isolated_config)
    try:
        assert process.stdin is not None
        process.stdin.close()
        manage._wait_ready(isolated_config, process, timeout=60)
        # when / then: its AWS endpoint answers (the warm lab, fillers started)
        ecs = boto3.client(
            "ecs",
            endpoint_url=isolated_config.endpoint_url,
            region_name=isolated_config.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert ecs.list_clusters()["clusterArns"] == []
        assert manage.status(isolated_config, with_docker=False).to_dict()["fillers"]
    finally:
        manage.down(isolated_config, say=_quiet)


def test_a_lab_that_cannot_bind_its_port_stops_while_warming(isolated_config: LabConfig) -> None:
    # given: the lab's AWS port taken by another program once `up` checked it (the warm-up has begun)
    with socket.create_server((isolated_config.host, isolated_config.aws_port)):
        process = manage._launch(isolated_config)
        manage._engine_checked(process)
        # when: the lab fails to bind it
        code = process.wait(timeout=60)
    # then: it stops (its warm-up gives up) and says why
    assert code == 1
    log = isolated_config.log_file.read_text()
    assert f"Port {isolated_config.aws_port} is in use" in log  # werkzeug's words, then it exits
