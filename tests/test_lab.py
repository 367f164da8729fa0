"""The lab's lifecycle: up, status, env, reset, down, and the ways they go wrong.

Every test here runs a private lab (``isolated_config``) so the default lab that
notebooks use is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from ecslab.config import LAB_LABEL, LabConfig
from ecslab.lab import manage

quiet = {"say": lambda _message: None}


def _ec2(config: LabConfig):  # type: ignore[no-untyped-def]
    return boto3.client(
        "ec2", endpoint_url=config.endpoint_url, region_name=config.region, aws_access_key_id="x", aws_secret_access_key="x"
    )


def _alive(pid: int) -> bool:
    return manage._pid_alive(pid)


def test_up_starts_every_part_and_status_reports_them(isolated_config: LabConfig) -> None:
    # when
    result = manage.up(isolated_config, **quiet)
    # then
    data = result.to_dict()
    assert data["running"] is True
    assert data["aws_api"]["url"] == f"http://127.0.0.1:{isolated_config.aws_port}"
    assert data["registry"]["ok"] is True
    assert "ecslab lab running" in result.render()
    # and status, which waits until the lab has warmed up (moto loaded, fillers started), lists every filler
    from ecslab.lab.wiring import filler_classes

    fillers = manage.status(isolated_config).to_dict()["fillers"]
    assert [f["name"] for f in fillers] == [filler.name for filler in filler_classes()]


def test_second_up_is_idempotent(isolated_config: LabConfig) -> None:
    # given
    first = manage.up(isolated_config, **quiet)
    messages: list[str] = []
    # when
    second = manage.up(isolated_config, say=messages.append)
    # then
    assert second.to_dict()["pid"] == first.to_dict()["pid"]
    assert messages == ["The lab is already running; nothing else to start."]


def test_env_exports_make_plain_boto3_and_cli_talk_to_the_lab(isolated_config: LabConfig) -> None:
    # given
    manage.up(isolated_config, **quiet)
    exports = manage.env_exports(isolated_config)
    # when: a fresh shell evaluates the exports and runs plain boto3
    script = (
        f"eval \"{exports}\"\n{sys.executable} -c \"import boto3; print(boto3.client('ecs').list_clusters()['clusterArns'])\""
    )
    clean_env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    output = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean_env, check=True).stdout
    # then
    assert output.strip() == "[]"
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{isolated_config.aws_port}" in exports


def test_up_with_a_port_taken_says_which_and_leaves_nothing(isolated_config: LabConfig) -> None:
    # given: another program holds the registry's port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", isolated_config.registry_port))
        blocker.listen()
        # when
        with pytest.raises(manage.LabError) as raised:
            manage.up(isolated_config, **quiet)
    # then
    message = str(raised.value)
    assert f"Port {isolated_config.registry_port}" in message and "ECSLAB_REGISTRY_PORT" in message
    assert not manage.is_running(isolated_config)
    assert not isolated_config.state_file.exists()
    assert manage.port_is_free("127.0.0.1", isolated_config.aws_port)


def test_down_stops_lab_registry_and_lab_containers(isolated_config: LabConfig) -> None:
    # given: a running lab with one container of its own and one stranger
    from ecslab.engine import docker_client

    manage.up(isolated_config, **quiet)
    state = json.loads(isolated_config.state_file.read_text())
    docker = docker_client()
    from ecslab.images import base_image

    image = base_image(docker)
    ours = docker.containers.run(image, ["sleep", "60"], detach=True, labels={LAB_LABEL: str(isolated_config.home)})
    stranger = docker.containers.run(image, ["sleep", "60"], detach=True, labels={LAB_LABEL: "/somewhere/else"})
    try:
        # when
        messages: list[str] = []
        manage.down(isolated_config, say=messages.append)
        # then
        assert not _alive(state["pid"]) and not _alive(state["registry_pid"])
        assert manage.lab_containers(isolated_config) == []
        stranger.reload()
        assert stranger.status == "running"
        assert any("Removed 1 lab container" in message for message in messages)
        assert all(manage.port_is_free("127.0.0.1", port) for port in (isolated_config.aws_port, isolated_config.registry_port))
    finally:
        stranger.remove(force=True)
        try:
            ours.remove(force=True)
        except Exception:
            pass


def test_down_with_nothing_running_says_so(isolated_config: LabConfig) -> None:
    messages: list[str] = []
    manage.down(isolated_config, say=messages.append)
    assert messages == ["The lab is not running; nothing to stop."]


def test_reset_gives_fresh_state_with_the_same_ids(isolated_config: LabConfig) -> None:
    # given
    manage.up(isolated_config, **quiet)
    first_vpc = _ec2(isolated_config).create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    # when
    manage.reset(isolated_config, **quiet)
    # then: seeded, the same first call makes the same ID again, and only one such VPC exists
    assert _ec2(isolated_config).create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"] == first_vpc
    cidrs = [vpc["CidrBlock"] for vpc in _ec2(isolated_config).describe_vpcs()["Vpcs"]]
    assert cidrs.count("10.1.0.0/16") == 1


def test_reset_without_a_lab_names_the_fix(isolated_config: LabConfig) -> None:
    with pytest.raises(manage.LabError, match="ecslab up"):
        manage.reset(isolated_config, **quiet)


def test_a_killed_lab_is_cleaned_up_by_the_next_up(isolated_config: LabConfig) -> None:
    # given: the lab process dies without `down`
    manage.up(isolated_config, **quiet)
    state = json.loads(isolated_config.state_file.read_text())
    os.kill(state["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(state["registry_pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    # then its registry went with it, and up starts a new lab
    assert not _alive(state["registry_pid"])
    assert not manage.is_running(isolated_config)
    result = manage.up(isolated_config, **quiet)
    assert result.running and result.to_dict()["pid"] != state["pid"]


def test_doctor_reports_each_part_with_fixes(isolated_config: LabConfig) -> None:
    # given: nothing running
    checks = {check.name: check for check in manage.doctor(isolated_config)}
    # then
    assert checks["lab process"].ok is False and checks["lab process"].fix == "Start it with `ecslab up`."
    # when the lab runs
    manage.up(isolated_config, **quiet)
    checks = {check.name: check for check in manage.doctor(isolated_config)}
    assert checks["lab process"].ok and checks["AWS API answers"].ok and checks["registry answers"].ok
    assert checks[f"port {isolated_config.aws_port} (AWS API)"].detail == "used by this lab"
    assert "All good." in manage.render_checks(list(checks.values())) or not all(c.ok for c in checks.values())


def test_every_server_binds_loopback_or_the_docker_bridge_gateway_only(isolated_config: LabConfig) -> None:
    from ecslab.engine import docker_client
    from ecslab.lab.bridge import bridge_gateway

    manage.up(isolated_config, **quiet)
    state = json.loads(isolated_config.state_file.read_text())
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines()
    ours = [line for line in listening if f"pid={state['pid']}," in line or f"pid={state['registry_pid']}," in line]
    assert len(ours) >= 3
    # containers reach the task-role gateway through the bridge's gateway; nothing else leaves loopback
    allowed = ("127.0.0.1:", bridge_gateway(docker_client()) + ":")
    assert all(line.split()[3].startswith(allowed) for line in ours), ours
    assert sum(not line.split()[3].startswith("127.0.0.1:") for line in ours) <= 1, ours


def test_up_without_a_docker_engine_starts_the_aws_apis_and_says_what_to_do(
    isolated_config: LabConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the engine the environment names does not answer
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    messages: list[str] = []
    # when
    result = manage.up(isolated_config, say=messages.append)
    # then
    assert result.running and result.docker is not None and not result.docker.ok
    warning = next(message for message in messages if message.startswith("WARNING"))
    assert "DOCKER_HOST=unix:///nonexistent/docker.sock does not answer" in warning
    assert "NOT ANSWERING" in result.render()


def test_doctor_says_when_a_disk_is_nearly_full_and_what_to_do(tmp_path: Path) -> None:
    # given: a folder on a disk with some free space
    free_now = shutil.disk_usage(tmp_path).free
    # when the minimum is above what is free, the line fails and names the fix
    full = manage.disk_check("disk for the Docker engine", tmp_path, "Free disk space.", minimum=free_now + 2**40)
    assert not full.ok and full.fix == "Free disk space." and "no space left on device" in full.detail
    # and below it, it passes with the figure
    roomy = manage.disk_check("disk for the Docker engine", tmp_path, "Free disk space.", minimum=1)
    assert roomy.ok and str(tmp_path) in roomy.detail and "GiB free" in roomy.detail
    # a path that cannot be read is a failed line, not a traceback
    missing = manage.disk_check("disk for the lab's state", tmp_path / "nowhere", "Free disk space.")
    assert not missing.ok and "cannot read the free space" in missing.detail


def test_doctor_checks_the_disks_of_the_lab_and_the_engine(isolated_config: LabConfig) -> None:
    names = [check.name for check in manage.doctor(isolated_config)]
    assert "disk for the lab's state" in names and "disk for the Docker engine" in names
