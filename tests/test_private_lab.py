"""Tests of ``ecslab.lab.private``: ports reserved race-free across threads and processes, and a
private lab that leaves nothing behind and that ``.env()`` points boto3 at."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from ecslab.config import LAB_LABEL, LabConfig
from ecslab.lab import manage, private

REPO = Path(__file__).resolve().parents[1]


def _ports(config: LabConfig) -> list[int]:
    return [config.aws_port, config.registry_port, config.control_port]


def test_configs_made_at_once_in_threads_get_distinct_ports(tmp_path: Path) -> None:
    # given: 16 threads, released together
    configs: list[LabConfig] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def make(index: int) -> None:
        start.wait()
        config = private.private_config(tmp_path / f"lab-{index}")
        with lock:
            configs.append(config)

    threads = [threading.Thread(target=make, args=(index,)) for index in range(16)]
    # when: each makes a config at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        # then: 48 ports, all different, in the private range, none of the default lab's
        ports = [port for config in configs for port in _ports(config)]
        assert len(configs) == 16
        assert len(set(ports)) == len(ports) == 48
        assert all(port in private.PORT_RANGE and port not in private.DEFAULT_PORTS for port in ports)
    finally:
        for config in configs:
            private.release_config(config)


RESERVER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from ecslab.lab import private
    time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # both processes start reserving at once
    configs = [private.private_config(Path("/nonexistent")) for _ in range(20)]
    print(json.dumps([port for c in configs for port in (c.aws_port, c.registry_port, c.control_port)]), flush=True)
    sys.stdin.read()  # hold the ports until the test has compared them
""")


def test_configs_made_at_once_in_two_processes_get_distinct_ports() -> None:
    # given: two processes that reserve 60 ports each at the same moment, and this one holding 3
    mine = private.private_config(Path("/nonexistent"))
    at = time.time() + 2.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVER, str(at)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        for _ in range(2)
    ]
    try:
        # when: each prints what it holds
        reserved = [json.loads(process.stdout.readline()) for process in processes if process.stdout is not None]
    finally:
        for process in processes:
            process.communicate(timeout=30)
        private.release_config(mine)
    # then: no port is held twice
    ports = [*reserved[0], *reserved[1], *_ports(mine)]
    assert len(reserved) == 2 and len(reserved[0]) == len(reserved[1]) == 60
    assert len(set(ports)) == len(ports)


def test_a_port_another_program_holds_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: two ports of the range, one of them bound by a program that does not reserve ports
    reservation = private.reserve_ports(2)
    taken, free = reservation.ports
    reservation.release()
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", taken))
        other_program.listen()
        monkeypatch.setattr(private, "PORT_RANGE", range(min(taken, free), max(taken, free) + 1))
        monkeypatch.setattr(private, "DEFAULT_PORTS", frozenset(set(private.PORT_RANGE) - {taken, free}))
        # when: one port is reserved from those two
        got = private.reserve_ports(1)
        try:
            # then: it is the free one
            assert got.ports == (free,)
        finally:
            got.release()


def test_released_ports_can_be_reserved_again(tmp_path: Path) -> None:
    config = private.private_config(tmp_path)
    locked = [port for port in _ports(config) if private._try_lock(port) is not None]
    assert locked == [], "ports reserved by this process were handed out again"
    private.release_config(config)
    descriptors = [private._try_lock(port) for port in _ports(config)]
    try:
        assert all(descriptor is not None for descriptor in descriptors)
    finally:
        for descriptor in descriptors:
            if descriptor is not None:
                os.close(descriptor)


def _labelled_container(config: LabConfig) -> str | None:
    """A container labelled as the lab's (as the lab's ECS agent labels tasks), or None without an engine or image.

    Made from the base image, which no test removes: any other tagged image may be deleted by a test
    running beside this one between listing it and creating the container (CI saw that)."""
    from ecslab.engine import EngineError, docker_client
    from ecslab.images import base_image, image_present

    try:
        docker = docker_client()
        image = base_image(docker)
        if not image_present(image, docker):
            return None
    except EngineError:
        return None
    container = docker.containers.create(
        image, command=["true"], labels={LAB_LABEL: str(config.home), "ecslab.test": "private-lab"}
    )
    return str(container.id)


@pytest.mark.lab  # starts a lab of its own (and a container)
def test_a_private_lab_is_reachable_with_its_env_and_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    # given: a program not taking part in reservations, holding the first port the lab would get
    foreign = socket.socket()
    first_choice: list[LabConfig] = []
    real_private_config = private.private_config

    def private_config_with_a_port_taken(home: Path, host: str = "127.0.0.1") -> LabConfig:
        config = real_private_config(home, host)
        if not first_choice:
            first_choice.append(config)
            foreign.bind((host, config.aws_port))
            foreign.listen()
        return config

    monkeypatch.setattr(private, "private_config", private_config_with_a_port_taken)
    messages: list[str] = []
    try:
        # when: a private lab starts, is used through its environment, and stops
        with private.PrivateLab(say=messages.append) as lab:
            config = lab.config
            state = json.loads(config.state_file.read_text())
            container_id = _labelled_container(config)
            with monkeypatch.context() as env:
                for key in [key for key in os.environ if key.startswith("AWS_")]:
                    env.delenv(key)
                for key, value in lab.env().items():
                    env.setenv(key, value)
                ecs = boto3.client("ecs")
                ecs.create_cluster(clusterName="private")
                clusters = ecs.list_clusters()["clusterArns"]
                from_env = LabConfig.from_env()
    finally:
        foreign.close()

    # then: it started on other ports than the taken one
    assert config.aws_port != first_choice[0].aws_port
    assert any("taken by another program" in message for message in messages)
    # and: boto3 and ecslab reached this lab through .env()
    assert [arn.rsplit("/", 1)[1] for arn in clusters] == ["private"]
    assert from_env == config
    # and: nothing is left: no process, no container with its label, no folder, no reserved port
    time.sleep(0.2)
    for pid in (state.get("pid"), state.get("registry_pid")):
        assert pid is None or not manage._pid_alive(pid), f"process {pid} of the private lab survived"
    if container_id is not None:
        assert manage.lab_containers(config) == []
    assert not config.home.exists()
    assert all(manage.port_is_free(config.host, port) for port in _ports(config))
    assert not set(_ports(config)) & set(private._HELD)
    with pytest.raises(RuntimeError):
        lab.config  # noqa: B018 - only inside the with


OWNER = textwrap.dedent("""
    import json, sys
    from ecslab.lab.private import PrivateLab
    lab = PrivateLab()
    lab.start()
    state = json.loads(lab.config.state_file.read_text())
    print(json.dumps({"home": str(lab.config.home), "pid": state["pid"], "registry_pid": state["registry_pid"]}), flush=True)
    sys.stdin.read()  # until killed
""")


@pytest.mark.lab
def test_a_private_lab_whose_owner_was_killed_is_stopped_and_one_whose_owner_lives_is_not() -> None:
    # given: a process that started a private lab, killed by SIGKILL (no stop, no atexit), and a lab of this process
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert owner.stdout is not None
    orphan = json.loads(owner.stdout.readline())
    owner.kill()
    owner.wait()
    assert manage._pid_alive(orphan["pid"])  # the lab outlived its owner
    with private.PrivateLab() as mine:
        # when: the orphans are reaped (PrivateLab.start did it once already; another test worker may have too)
        private.reap_orphaned_labs()
        # then: the orphan's lab process and registry are gone, with its temporary folder and its record
        deadline = time.monotonic() + 30
        while (manage._pid_alive(orphan["pid"]) or Path(orphan["home"]).exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not manage._pid_alive(orphan["pid"]) and not manage._pid_alive(orphan["registry_pid"])
        assert not Path(orphan["home"]).exists()
        records = [json.loads(path.read_text()) for path in private.OWNERS.glob("*.json")]
        assert orphan["home"] not in [record["config"]["home"] for record in records]
        # and this process's own lab runs on
        assert manage.is_running(mine.config)
        assert str(mine.config.home) in [record["config"]["home"] for record in records]


def test_reaping_a_lab_whose_folder_is_gone_leaves_no_folder(tmp_path: Path) -> None:
    # given: the record of a private lab whose owner died after removing the lab's folder (a grading worker does that)
    home = tmp_path / "ecslab-grade-worker9-gone" / "lab"
    config = private.private_config(home)
    record = {"config": json.loads(config.to_json()), "owner_pid": 2**22 + 12345, "owner_start": None, "temporary": None}
    private.OWNERS.mkdir(mode=0o1777, exist_ok=True)
    path = private.OWNERS / f"test-gone-{os.getpid()}.json"
    path.write_text(json.dumps(record))
    try:
        # when
        reaped = private.reap_orphaned_labs()
        # then: the record is gone, and reaping did not make the folder again (manage.down takes its lock file in it)
        assert home in [c.home for c in reaped] and not path.exists()
        assert not (tmp_path / "ecslab-grade-worker9-gone").exists()
    finally:
        path.unlink(missing_ok=True)
        private.release_config(config)


@pytest.mark.lab  # builds two small images in the Docker engine
def test_an_untagged_image_a_lab_built_goes_and_a_tagged_one_stays() -> None:
    """A name built again moves to the new image; the old one, untagged, goes with the lab that built it."""
    from ecslab.engine import EngineError, docker_client
    from ecslab.images import base_image, image_present

    try:
        docker = docker_client()
        base = base_image(docker)
    except EngineError:
        pytest.skip("no Docker engine")
    if not image_present(base, docker):
        pytest.skip(f"no base image {base}")
    home = f"/tmp/ecslab-private-gone{uuid.uuid4().hex[:8]}/lab"
    tag = f"ecslab-test-untagged:{uuid.uuid4().hex[:8]}"
    built = []
    try:
        for nonce in ("first", "second"):
            dockerfile = f"FROM {base}\nLABEL {LAB_LABEL}={home} ecslab.test={nonce}\n"
            image, _ = docker.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
            built.append(image.id)
        assert private._gone_private_lab(home)
        assert not private._gone_private_lab("/tmp")  # not a private lab's folder
        assert private.remove_untagged_images(lambda folder: folder == home) == 1
        assert not image_present(built[0], docker)  # the untagged one went
        assert image_present(built[1], docker)  # the one named so stays
    finally:
        for reference in (tag, *built):
            with contextlib.suppress(Exception):
                docker.images.remove(reference)
