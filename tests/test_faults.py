"""Fault tests: the lab on a learner's laptop survives crashes, a vanishing engine, a full disk,
hostile web pages and garbage on its ports (issue 11, "Fault tests"; README "Reliability").

Each test runs a private lab (``isolated_config``: its own folder and free ports), never the
default one. The engine test stops and starts a second Docker engine of its own
(:mod:`tests.second_engine`), never the machine's; the disk test mounts a small tmpfs under the
test's own folder. Every loop is bounded in count and time. About four minutes in all on 2 cores.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab.config import LabConfig
from ecslab.lab import manage
from tests.conftest import SAMPLE_APP, LabClients, push_app_image
from tests.second_engine import SecondEngine, second_engine, skip_reason

pytestmark = pytest.mark.docker

quiet: dict[str, Any] = {"say": lambda _message: None}
CLUSTER = "faults"
SERVICE = "app"
TRACEBACK_MARKERS = (b"Traceback (most recent call last)", b'File "/', b"most recent call last")


# -- helpers ----------------------------------------------------------------------------------------


def register(lab: LabClients, image: str, version: str) -> str:
    definition = ecs_tools.task_definition(
        SERVICE, image, environment={"APP_VERSION": version}, execution_role_arn=lab.execution_role_arn
    )
    return str(lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"])


def create_service(lab: LabClients, image: str, count: int = 2) -> str:
    """What notebook 05 does: a cluster, a task definition, a Fargate service; gives the definition's ARN."""
    lab.ecs.create_cluster(clusterName=CLUSTER)
    definition = register(lab, image, "v1")
    lab.ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=definition,
        desiredCount=count,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": lab.default_subnets(1)}},
    )
    return definition


def wait_stable(lab: LabClients, attempts: int = 60) -> dict[str, Any]:
    lab.ecs.get_waiter("services_stable").wait(
        cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 0.5, "MaxAttempts": attempts}
    )
    return dict(lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0])


def answering_versions(lab: LabClients) -> list[str]:
    """What each running task of the service answers when called by the lab's internal path (its published 127.0.0.1 port)."""
    return sorted(
        str(ecs_tools.lab_call_task(task, timeout=10, config=lab.config)["version"])
        for task in ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
    )


def start_rolling(lab: LabClients, config: LabConfig, image: str, timeout: float = 60) -> str:
    """``update_service`` to a v2 revision; return mid-roll: a v2 task started (its container made) while the
    v1 tasks still run.

    Watched through the engine's containers, not only the API: without a load balancer the agent may start
    v2 and stop v1 within one tick, so a moment when both are RUNNING can be too short to see (CI saw that),
    while the v1 containers stay until v2 runs and then are stopped, which takes longer."""
    second = register(lab, image, "v2")
    lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=second)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arns = lab.ecs.list_tasks(cluster=CLUSTER)["taskArns"]
        tasks = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []
        new = [task for task in tasks if task["taskDefinitionArn"] == second and task["lastStatus"] != "STOPPED"]
        old = [task for task in tasks if task["taskDefinitionArn"] != second and task["lastStatus"] == "RUNNING"]
        if new and old and len(manage.lab_containers(config)) > len(old):
            return second
        time.sleep(0.05)
    raise AssertionError(f"no moment within {timeout:.0f} s of update_service when a v2 task started while v1 ran")


def task_host_ports(lab: LabClients) -> set[int]:
    """The 127.0.0.1 ports Docker published the service's containers on (the lab's internal path; awsvpc tasks report
    no networkBindings, as on AWS)."""
    return {
        int(binding["HostPort"])
        for container in manage.lab_containers(lab.config)
        for bindings in (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).values()
        for binding in bindings or []
    }


def lab_state(config: LabConfig) -> dict[str, Any]:
    return dict(json.loads(config.state_file.read_text()))


def alive(pid: int | None) -> bool:
    return manage._pid_alive(pid)


def kill_9(config: LabConfig, timeout: float = 10) -> dict[str, Any]:
    """SIGKILL the lab process (as the OOM killer or a crash would) and wait until it and its registry are gone."""
    state = lab_state(config)
    os.kill(state["pid"], signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while (alive(state["pid"]) or alive(state.get("registry_pid"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(state["pid"]), "the lab survived SIGKILL"
    # a killed thread group shows as a zombie before its last thread has let go of the sockets
    ports = (config.aws_port, config.registry_port, config.control_port)
    while not all(manage.port_is_free(config.host, port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


def log_lines(config: LabConfig) -> int:
    """Lines in the lab's log, rotated files included."""
    return sum(len(path.read_bytes().splitlines()) for path in config.home.glob("lab.log*") if path.is_file())


def fresh_lab_clients(config: LabConfig, timeout: float = 10) -> LabClients:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return LabClients(config)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- 1. kill -9 during a rolling deployment, then up ------------------------------------------------


def deploy_again_problems(config: LabConfig, what: str) -> list[str]:
    """What is wrong with a fresh push, service and steady state on the lab (empty when it works)."""
    try:
        lab = fresh_lab_clients(config)
        image = push_app_image(lab, "faults-app", build=False)
        create_service(lab, image)
        service = wait_stable(lab)
        if (service["runningCount"], answering_versions(lab)) != (2, ["v1", "v1"]):
            return [f"the new deployment runs {service['runningCount']} tasks answering {answering_versions(lab)}"]
    except Exception as error:
        return [f"{what} failed: {type(error).__name__}: {error}"[:600]]
    return []


def killed_lab_may_hold(port: int, killed: set[str]) -> bool:
    """Whether a taken port can still be the killed lab's: a task's port is held by a docker-proxy while its
    container exists. The ports are in the ephemeral range, so under parallel tests another lab's load balancer
    listener (a Python process) or task (a container that exists now, not one of ``killed``) may take the same
    number the moment it is freed; those are not the killed lab's."""
    from ecslab.engine import docker_client

    published_now = {
        int(binding["HostPort"])
        for container in docker_client().containers.list()
        if container.id not in killed
        for bindings in (container.ports or {}).values()
        for binding in bindings or []
        if binding.get("HostPort")
    }
    if port in published_now:
        return False
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if cmdline and cmdline[0].endswith(b"docker-proxy") and str(port).encode() in cmdline:
                return True
    return False


def test_kill_9_during_a_deployment_then_up_leaves_no_orphan_and_deploys_again(isolated_config: LabConfig) -> None:
    config = isolated_config
    # given: a service rolling from v1 to v2 when the lab process is killed
    manage.up(config, **quiet)
    lab = LabClients(config)
    image = push_app_image(lab, "faults-app")
    create_service(lab, image)
    wait_stable(lab)
    start_rolling(lab, config, image)
    before = {container.id for container in manage.lab_containers(config)}
    ports = task_host_ports(lab)
    assert len(before) >= 3 and ports, "the roll should have old and new tasks running"
    kill_9(config)
    # when
    manage.up(config, **quiet)
    # then: nothing of the killed lab is left, and its tasks' ports are free again
    problems = []
    left = [container.name for container in manage.lab_containers(config) if container.id in before]
    if left:
        problems.append(f"orphan containers of the killed lab still exist: {left}")
    taken = sorted(port for port in ports if not manage.port_is_free("127.0.0.1", port) and killed_lab_may_hold(port, before))
    if taken:
        problems.append(f"ports the killed lab's tasks published are still taken: {taken}")
    # and the notebook's sequence runs again: push, register, create service, wait stable
    problems += deploy_again_problems(config, "deploying again after up")
    assert not problems, "\n".join(problems)


# -- 2. the Docker engine stops while a service runs, then starts again -----------------------------


@pytest.fixture
def engine2(tmp_path: Path) -> Iterator[SecondEngine]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with second_engine(tmp_path / "engine2") as engine:
        yield engine


def test_engine_gone_is_reported_logged_briefly_and_the_service_heals(
    engine2: SecondEngine, monkeypatch: pytest.MonkeyPatch, isolated_config: LabConfig
) -> None:
    from ecslab.engine import docker_client
    from ecslab.images import build_sample_app

    config = isolated_config
    main_docker = docker_client()  # the machine's engine builds and pushes; the lab runs tasks on engine2
    build_sample_app(SAMPLE_APP, client=main_docker, show_progress=False)
    monkeypatch.setenv("DOCKER_HOST", engine2.docker_host)
    uri = ""
    try:
        manage.up(config, **quiet)
        lab = LabClients(config)
        uri = str(lab.ecr.create_repository(repositoryName="faults-app")["repository"]["repositoryUri"])
        ecr_tools.push_image(main_docker, SAMPLE_APP, uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
        create_service(lab, f"{uri}:v1")
        wait_stable(lab, attempts=120)  # the first pull into an empty engine
        # the second engine publishes task ports on 127.0.0.1 as the machine's does
        assert answering_versions(lab) == ["v1", "v1"]
        problems: list[str] = []
        # when: the engine stops (its containers stop with it, ~10 s: the app ignores SIGTERM)
        lines_before, log_offset = log_lines(config), config.log_file.stat().st_size
        engine2.stop()
        gone_at = time.monotonic()
        lines_when_gone = log_lines(config)
        # then: status and doctor say so, and the lab keeps answering
        status = manage.status(config)
        if status.docker is None or status.docker.ok or "NOT ANSWERING" not in status.render():
            problems.append(f"status does not report the engine gone:\n{status.render()}")
        if not status.running:
            problems.append("the lab stopped answering when the engine went")
        doctor = {check.name: check for check in manage.doctor(config)}
        if doctor["Docker engine"].ok or not doctor["Docker engine"].fix:
            problems.append(f"doctor does not report the engine gone: {doctor['Docker engine']}")
        time.sleep(max(0.0, 10 - (time.monotonic() - gone_at)))
        logged_gone = log_lines(config) - lines_when_gone
        logged_stopping = lines_when_gone - lines_before
        with open(config.log_file, "rb") as log:
            log.seek(log_offset)
            logged_text = log.read().decode(errors="replace")
        print(
            f"lab.log: {logged_stopping} lines while the engine stopped, {logged_gone} lines in the {time.monotonic() - gone_at:.1f} s "
            f"it stayed gone, {logged_text.count('Traceback (most recent call last)')} tracebacks"
        )
        if logged_gone > 10:
            problems.append(
                f"the lab logged {logged_gone} lines in 10 s without an engine (a handful expected); it ends:\n{logged_text[-1500:]}"
            )
        if "Traceback (most recent call last)" in logged_text:
            first = logged_text[logged_text.index("Traceback (most recent call last)") - 200 :][:1500]
            problems.append(
                f"the lab logged {logged_text.count('Traceback (most recent call last)')} Python tracebacks "
                f"({logged_stopping + logged_gone} lines) while the engine stopped and stayed gone; one line each expected. The first:\n{first}"
            )
        # when: the engine is back
        engine2.start()
        healed_at = time.monotonic()
        seen: str = "nothing yet"
        while time.monotonic() - healed_at < 60:
            try:  # healed: two running tasks, each answering on its published port
                count = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["runningCount"]
                versions = sorted(
                    str(ecs_tools.lab_call_task(task, timeout=2, config=lab.config)["version"])
                    for task in ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
                )
                seen = f"runningCount {count}, tasks answer {versions}"
                if count == 2 and versions == ["v1", "v1"]:
                    print(f"service healed {time.monotonic() - healed_at:.1f} s after the engine came back")
                    break
            except Exception as error:
                seen = f"{type(error).__name__}: {error}"[:300]
            time.sleep(0.5)
        else:
            problems.append(f"the service did not heal within 60 s of the engine coming back; last seen: {seen}")
        if not manage.is_running(config):
            problems.append("the lab is not running after the engine came back")
        assert not problems, "\n".join(problems)
    finally:
        manage.down(config, **quiet)  # while DOCKER_HOST still names engine2, which holds the lab's containers
        if uri:
            with contextlib.suppress(Exception):
                main_docker.images.remove(f"{uri}:v1")


# -- 3. reset during a rolling deployment -----------------------------------------------------------


def test_reset_during_a_rolling_deployment_answers_and_leaves_no_orphan(isolated_config: LabConfig) -> None:
    config = isolated_config
    # given
    manage.up(config, **quiet)
    lab = LabClients(config)
    image = push_app_image(lab, "faults-app")
    create_service(lab, image)
    wait_stable(lab)
    start_rolling(lab, config, image)
    state = lab_state(config)
    # when
    started = time.monotonic()
    manage.reset(config, **quiet)
    took = time.monotonic() - started
    # then
    problems = []
    if took > 30:
        problems.append(f"reset took {took:.0f} s")
    report = manage.process_status(config)
    if report is None or report["pid"] != state["pid"]:
        problems.append("the lab does not answer after reset")
    elif not report["registry"]["ok"]:
        problems.append(f"the registry does not answer after reset (pid {report['registry'].get('pid')})")
    time.sleep(1.5)  # a service that survived the reset would have started tasks again by now
    left = [container.name for container in manage.lab_containers(config)]
    if left:
        problems.append(f"containers left after reset: {left}")
    if lab.ecs.list_clusters()["clusterArns"]:
        problems.append("clusters survived the reset")
    # and a new deployment works: push, register, create service, wait stable
    problems += deploy_again_problems(config, "deploying after reset")
    assert not problems, "\n".join(problems)


# -- 4. the registry's disk is full -----------------------------------------------------------------


def _import_image(docker: Any, name: str, size: int, seed: int) -> None:
    """A one-layer image of ``size`` random (incompressible) bytes, imported: no build, no base image."""
    payload = random.Random(seed).randbytes(size)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    repository, tag = name.split(":")
    docker.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)


@contextlib.contextmanager
def small_tmpfs(path: Path, megabytes: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_push_to_a_full_registry_disk_fails_clearly_and_the_lab_keeps_answering(isolated_config: LabConfig) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the registry needs root")
    config = isolated_config
    # given: the registry's storage (the state folder's registry/) on a 20 MB tmpfs
    with small_tmpfs(config.registry_dir, 20):
        from ecslab.engine import docker_client

        docker = docker_client()
        small, big = "ecslab-faults-small:v1", "ecslab-faults-big:v1"
        _import_image(docker, small, 64 * 1024, seed=1)
        _import_image(docker, big, 32 * 1024 * 1024, seed=2)
        uri = ""
        try:
            manage.up(config, **quiet)
            lab = LabClients(config)
            login = ecr_tools.get_login(lab.ecr)
            uri = str(lab.ecr.create_repository(repositoryName="faults-disk")["repository"]["repositoryUri"])
            ecr_tools.push_image(docker, small, uri, "small", login, show_progress=False)  # the registry works on the tmpfs
            # when: an image bigger than the free space is pushed
            started = time.monotonic()
            with pytest.raises(ecr_tools.EcrError) as raised:
                ecr_tools.push_image(docker, big, uri, "big", login, show_progress=False)
            took = time.monotonic() - started
            message = str(raised.value)
            usage = shutil.disk_usage(config.registry_dir)
            print(
                f"push to a full disk failed after {took:.1f} s: {message!r}; the registry's disk is then {usage.used * 100 // usage.total}% used"
            )
            # then: the error says why, and every part of the lab still answers
            problems = []
            if not any(word in message.lower() for word in ("no space", "disk", "storage", "full")):
                problems.append(f"the push failed without saying the registry's disk is full: {message!r}")
            report = manage.process_status(config)
            if report is None:
                problems.append("the lab does not answer after the failed push")
            elif not report["registry"]["ok"]:
                problems.append("the registry does not answer after the failed push")
            tags = sorted(
                tag
                for image in lab.ecr.describe_images(repositoryName="faults-disk")["imageDetails"]
                for tag in image.get("imageTags", [])
            )
            if tags != ["small"]:
                problems.append(f"ECR lists {tags} after the failed push (only 'small' was pushed)")
            lab.ecs.list_clusters()
            assert not problems, "\n".join(problems)
        finally:
            manage.down(config, **quiet)
            for name in (small, big, *((f"{uri}:small", f"{uri}:big") if uri else ())):
                with contextlib.suppress(Exception):
                    docker.images.remove(name, force=True)


# -- 5. a web page on another origin ---------------------------------------------------------------

PAGE = """<!doctype html><title>not the lab</title><p>A page on another origin.</p>
<script>
async function attack(targets) {
  const results = [];
  for (const target of targets) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 5000);
    try {
      const response = await fetch(target.url, {method: target.method, mode: target.mode, headers: target.headers,
                                                body: target.body, signal: controller.signal, credentials: "omit"});
      let text = null;
      if (response.type !== "opaque") { try { text = (await response.text()).slice(0, 300); } catch (error) {} }
      results.push({name: target.name, outcome: "response", type: response.type, status: response.status, text: text});
    } catch (error) {
      results.push({name: target.name, outcome: "error", error: String(error)});
    } finally {
      clearTimeout(timer);
    }
  }
  return results;
}
</script>"""


@contextlib.contextmanager
def page_server(root: Path, port: int = 0) -> Iterator[str]:
    """A static page on 127.0.0.1:``port`` (0: a free one, another origin than every lab port)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _ecs_call(config: LabConfig, name: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "url": config.endpoint_url + "/",
        "method": "POST",
        "mode": "cors",
        "headers": {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{operation}",
        },
        "body": json.dumps(body),
    }


def _simple(name: str, url: str, method: str = "GET", mode: str = "cors") -> dict[str, Any]:
    """A request a page can send without a preflight (no-cors POSTs still reach the server)."""
    return {
        "name": name,
        "url": url,
        "method": method,
        "mode": mode,
        "headers": {"Content-Type": "text/plain"} if method == "POST" else {},
        "body": "" if method == "POST" else None,
    }


@pytest.mark.browser
def test_a_page_on_another_origin_can_neither_read_nor_change_the_lab(isolated_config: LabConfig, tmp_path: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.test_browser import CHROMIUM_ARGS

    config = isolated_config
    # given: a lab holding something of the learner's
    manage.up(config, **quiet)
    lab = LabClients(config)
    lab.ecs.create_cluster(clusterName="precious")
    pid = lab_state(config)["pid"]
    aws, control = config.endpoint_url, config.control_url
    targets = [
        _ecs_call(config, "read: ECS ListClusters", "ListClusters", {}),
        _simple("read: moto's data.json", aws + "/moto-api/data.json"),
        _simple("read: control /status", control + "/status"),
        _ecs_call(config, "change: ECS DeleteCluster", "DeleteCluster", {"cluster": "precious"}),
        _simple("change: moto reset (no-cors)", aws + "/moto-api/reset", "POST", "no-cors"),
        _simple("change: moto reset", aws + "/moto-api/reset", "POST"),
        _simple("change: control /reset (no-cors)", control + "/reset", "POST", "no-cors"),
        _simple("change: control /shutdown (no-cors)", control + "/shutdown", "POST", "no-cors"),
    ]
    # when: the learner opens the page
    with page_server(tmp_path / "site") as url, playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = context.new_page()
            page.goto(url, timeout=30_000)
            results = page.evaluate("targets => attack(targets)", targets)
        finally:
            context.close()
    time.sleep(0.5)  # a shutdown takes a moment to land
    # then: nothing was readable, nothing changed, the lab answers
    for result in results:
        print(result)
    problems = [
        f"{r['name']}: the page read {r['status']} {r.get('text')!r}"
        for r in results
        if r["outcome"] == "response" and r["type"] != "opaque" and r.get("text")
    ]
    if not alive(pid) or not manage.is_running(config):
        problems.append("the lab is gone after the page's visit")
    else:
        clusters = lab.ecs.describe_clusters(clusters=["precious"])["clusters"]
        if [cluster["status"] for cluster in clusters] != ["ACTIVE"]:
            problems.append(f"the learner's cluster is gone after the page's visit: {clusters}")
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_a_dns_rebinding_page_can_neither_read_nor_change_the_lab(isolated_config: LabConfig, tmp_path: Path) -> None:
    """The attacker's name first resolves to the attacker's server, which serves the page on the port the
    lab will use; then it resolves to 127.0.0.1, so the page's same-origin requests (no CORS, no preflight)
    reach the lab with ``Host: rebind.ecslab.test:PORT``. chromium's resolver rule maps the name to
    127.0.0.1 throughout: the page server stands for the attacker's, and the lab takes its port after it."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.test_browser import CHROMIUM_ARGS

    config = isolated_config
    name = "rebind.ecslab.test"
    json_call = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonEC2ContainerServiceV20141113."}
    targets = [
        {
            "name": "read: ECS ListClusters",
            "url": "/",
            "method": "POST",
            "mode": "same-origin",
            "headers": {**json_call, "X-Amz-Target": json_call["X-Amz-Target"] + "ListClusters"},
            "body": "{}",
        },
        {
            "name": "read: moto's data.json",
            "url": "/moto-api/data.json",
            "method": "GET",
            "mode": "same-origin",
            "headers": {},
            "body": None,
        },
        {
            "name": "change: ECS DeleteCluster",
            "url": "/",
            "method": "POST",
            "mode": "same-origin",
            "headers": {**json_call, "X-Amz-Target": json_call["X-Amz-Target"] + "DeleteCluster"},
            "body": json.dumps({"cluster": "precious"}),
        },
        {
            "name": "change: moto reset",
            "url": "/moto-api/reset",
            "method": "POST",
            "mode": "same-origin",
            "headers": {},
            "body": "",
        },
    ]
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(chromium),
            headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {name} 127.0.0.1"],
        )
        try:
            page = context.new_page()
            # given: the learner opened the attacker's page, served on the port the lab is about to use
            with page_server(tmp_path / "site", port=config.aws_port) as url:
                page.goto(url.replace("127.0.0.1", name), timeout=30_000)
            # and the lab now answers on that port, holding something of the learner's
            manage.up(config, **quiet)
            lab = LabClients(config)
            lab.ecs.create_cluster(clusterName="precious")
            pid = lab_state(config)["pid"]
            # when: the page calls "its own" server again
            results = page.evaluate("targets => attack(targets)", targets)
        finally:
            context.close()
    for result in results:
        print(result)
    # then
    problems = [
        f"{r['name']}: the page got {r['status']} {r.get('text')!r}"
        for r in results
        if r["outcome"] == "response" and (200 <= r["status"] < 300 or "precious" in (r.get("text") or ""))
    ]
    if not alive(pid) or not manage.is_running(config):
        problems.append("the lab is gone after the page's visit")
    elif [cluster["status"] for cluster in lab.ecs.describe_clusters(clusters=["precious"])["clusters"]] != ["ACTIVE"]:
        problems.append("the learner's cluster is gone after the page's visit")
    assert not problems, "\n".join(problems)


# -- 6. malformed requests to every port ------------------------------------------------------------

Request = Callable[[random.Random, str], bytes]


def _http(
    method: str, path: str, host: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"", length: int | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers or [])]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def _json_call(body: bytes, target: str = "AmazonEC2ContainerServiceV20141113.CreateCluster") -> Request:
    return lambda rng, host: _http(
        "POST", "/", host, [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target)], body
    )


def _random_path(rng: random.Random, host: str) -> bytes:
    alphabet = "abc/._-%?#&=~:;@!$'()*+,ü名💥"
    path = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
    return _http(
        rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "BREW"]),
        urllib.parse.quote(path, safe="/%?#&=~:;@!$'()*+,") if rng.random() < 0.5 else path,
        host,
    )


def _raw_bytes(rng: random.Random, host: str) -> bytes:
    return rng.randbytes(rng.randint(1, 400))


def _huge_body(rng: random.Random, host: str) -> bytes:
    size = rng.choice([256 * 1024, 1024 * 1024, 3 * 1024 * 1024])
    return _http(
        "POST",
        "/",
        host,
        [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters")],
        b'{"a": "' + b"x" * size + b'"}',
    )


def _declared_huge(rng: random.Random, host: str) -> bytes:
    """Declares 50 MB, sends 256 KB and stops: the server must not wait or allocate for the rest."""
    return _http(
        "PUT",
        "/v2/faults/blobs/uploads/x",
        host,
        [("Content-Type", "application/octet-stream")],
        b"z" * (256 * 1024),
        length=50 * 1024 * 1024,
    )


def _non_ascii_auth(rng: random.Random, host: str) -> bytes:
    token = base64.b64encode("AWS:ecslab.9999999999.ünïcødé-tökén".encode()).decode()
    return _http("GET", "/v2/faults/manifests/latest", host, [("Authorization", f"Basic {token}"), ("X-Token", "ü")])


CASES: list[Request] = [
    _json_call(b"{"),
    _json_call(b"null"),
    _json_call(b"[]"),
    _json_call(b'{"clusterName": '),
    _json_call(b"[" * 3000 + b"]" * 3000),
    _json_call(b"\xff\xfe\x00garbage"),
    _json_call(json.dumps({"clusterName": "ü名💥" * 50, "tags": [{"key": "k" * 5000, "value": None}]}).encode()),
    _json_call(b"{}", target="AmazonEC2ContainerServiceV20141113.Nope\u00fc"),
    _json_call(b'{"repositoryName": "../../etc"}', target="AmazonEC2ContainerRegistry_V20150921.CreateRepository"),
    lambda rng, host: b"GARBAGE\r\n\r\n",
    lambda rng, host: b"GET\r\n\r\n",
    lambda rng, host: f"GET / HTTP/9.9\r\nHost: {host}\r\n\r\n".encode(),
    lambda rng, host: f"GET /{'a' * 70_000} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
    lambda rng, host: _http("GET", "/", host, [("NoColonHere", "")]).replace(b"NoColonHere: ", b"NoColonHere"),
    lambda rng, host: _http("GET", "/", host, [("Bad Header Name", "x"), ("X-Nul", "a\x00b")]),
    lambda rng, host: _http("GET", "/", host, [(f"X-Many-{index}", "y") for index in range(150)]),
    lambda rng, host: _http("GET", "/", host, [("X-Huge", "h" * 100_000)]),
    lambda rng, host: _http("POST", "/", host, [("Content-Length", "5")], b"abc"),
    lambda rng, host: _http("POST", "/", host, length=-5),
    lambda rng, host: _http("POST", "/", host, [("Transfer-Encoding", "chunked")], b"zz\r\nnot hex\r\n0\r\n"),
    lambda rng, host: _http("GET", "/", host, [("Host", "evil.example"), ("Origin", "http://evil.example")]),
    lambda rng, host: _http("GET", "/", "rebound.attacker.example:80"),
    lambda rng, host: f"GET /v2/ü名/manifests/💥 HTTP/1.1\r\nHost: {host}\r\n".encode() + b"X-Latin: \xff\xfe\r\n\r\n",
    lambda rng, host: _http("POST", "/", host, body=b"0123456789", length=100),
    lambda rng, host: f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Le".encode(),
    _random_path,
    _raw_bytes,
    _huge_body,
    _declared_huge,
    _non_ascii_auth,
    lambda rng, host: _http("GET", "/moto-api/../../../../etc/passwd", host),
    lambda rng, host: _http("GET", "/%00%ff%c0%af", host),
]


def exchange(address: tuple[str, int], payload: bytes, timeout: float = 3.0, limit: int = 256 * 1024) -> bytes | None:
    """Send ``payload`` on a new connection, close our side, read the answer (bounded); ``None`` when none came in time."""
    with socket.create_connection(address, timeout=timeout) as connection:
        try:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered (413, 431) and closed before reading everything: read what it said
        answer = b""
        deadline = time.monotonic() + timeout
        try:
            while len(answer) < limit and time.monotonic() < deadline:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            return answer or None
        except OSError:
            pass
        return answer


def good_request(address: tuple[str, int], path: str = "/") -> int | None:
    """The status of a plain, well-formed GET, or ``None`` when no HTTP answer came."""
    host = f"{address[0]}:{address[1]}"
    try:
        answer = exchange(address, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(), timeout=10)
    except OSError:
        return None
    if not answer or not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def malformed_targets(config: LabConfig, lab: LabClients) -> dict[str, tuple[tuple[str, int], str]]:
    """Every port of the lab on 127.0.0.1, with a path a well-formed request may ask for."""
    from ecslab import elb as elb_tools
    from ecslab import network

    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    alb_group, _tasks_group = network.create_web_security_groups(lab.ec2, vpc)
    balancer = lab.elbv2.create_load_balancer(
        Name="faults", Subnets=lab.default_subnets(2), SecurityGroups=[alb_group], Type="application"
    )["LoadBalancers"][0]
    group = lab.elbv2.create_target_group(Name="faults", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")["TargetGroups"][
        0
    ]
    lab.elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    listener = urllib.parse.urlsplit(elb_tools.listener_url(lab, balancer["LoadBalancerArn"]))
    return {
        "AWS endpoint": ((config.host, config.aws_port), "/moto-api/"),
        "registry front": ((config.host, config.registry_port), "/v2/"),
        "control API": ((config.host, config.control_port), "/status"),
        "ALB listener": ((str(listener.hostname), int(listener.port or 80)), "/"),
    }


def barrage(address: tuple[str, int], path: str, rng: random.Random, count: int = 200, seconds: float = 30) -> dict[str, Any]:
    """``count`` malformed requests to ``address`` (at most ``seconds``), then a well-formed one: what came back."""
    result: dict[str, Any] = {
        "before": good_request(address, path),
        "sent": 0,
        "silent": 0,
        "statuses": {},
        "tracebacks": [],
        "refused": None,
        "server_errors": [],
    }
    deadline = time.monotonic() + seconds
    for index in range(count):
        if time.monotonic() > deadline:
            break
        payload = CASES[index % len(CASES)](rng, f"{address[0]}:{address[1]}")
        try:
            answer = exchange(address, payload)
        except OSError as error:
            result["refused"] = f"connection {index}: {error}"
            break
        result["sent"] += 1
        if answer is None:
            result["silent"] += 1
            continue
        status = (
            answer.split(b" ", 2)[1].decode(errors="replace")
            if answer.startswith(b"HTTP/1.") and b" " in answer
            else "no status line"
        )
        result["statuses"][status] = result["statuses"].get(status, 0) + 1
        case = f"case {index % len(CASES)}"
        if status.startswith("5") and status not in ("501", "503") and case not in result["server_errors"]:
            result["server_errors"].append(case)
        if any(marker in answer for marker in TRACEBACK_MARKERS):
            result["tracebacks"].append(f"{payload[:80]!r} -> {answer[:300]!r}")
    result["after"] = good_request(address, path)
    return result


def judge(name: str, result: dict[str, Any], problems: list[str], measured: list[str], count: int = 200) -> None:
    statuses = dict(sorted(result["statuses"].items()))
    measured.append(
        f"{name}: {result['sent']} sent, {result['silent']} silent; statuses {statuses}; well-formed before/after: {result['before']}/{result['after']}"
        + (f"; 5xx for e.g. {', '.join(result['server_errors'])}" if result["server_errors"] else "")
    )
    problems.extend(f"{name}: a Python traceback came back: {text}" for text in result["tracebacks"])
    if result["refused"]:
        problems.append(f"{name}: refused a connection mid-way ({result['refused']})")
    if result["sent"] < count:
        problems.append(f"{name}: only {result['sent']} of {count} requests within the time bound")
    if result["before"] is not None and result["after"] is None:
        problems.append(f"{name} no longer answers a well-formed request")


RUNNER = """from __future__ import annotations  # the helpers' annotations name types this script does not import
import json, os, socket, sys, time
sys.path.insert(0, "/faults")
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
payloads = sorted(os.listdir("/faults/payloads"))
TRACEBACK_MARKERS = %r
%s
import random
CASES = [lambda rng, host, name=name: open("/faults/payloads/" + name, "rb").read() for name in payloads]
%s
print(json.dumps(barrage((host, port), path, random.Random(0), count=len(CASES))))
"""


def barrage_from_a_container(
    docker: Any, address: tuple[str, int], path: str, rng: random.Random, folder: Path
) -> dict[str, Any]:
    """:func:`barrage` run inside a container on the Docker bridge: where the task-role gateway takes connections from."""
    import inspect

    from ecslab.images import base_image

    (folder / "payloads").mkdir(parents=True)
    for index in range(200):
        (folder / "payloads" / f"{index:03d}.bin").write_bytes(CASES[index % len(CASES)](rng, f"{address[0]}:{address[1]}"))
    helpers = "\n".join(inspect.getsource(function) for function in (exchange, good_request))
    (folder / "runner.py").write_text(RUNNER % (TRACEBACK_MARKERS, helpers, inspect.getsource(barrage)))
    container = docker.containers.run(
        base_image(docker),
        ["python3", "/faults/runner.py", address[0], str(address[1]), path],
        detach=True,
        volumes={str(folder): {"bind": "/faults", "mode": "ro"}},
        labels={"ecslab.test": "faults"},
    )
    try:
        container.wait(timeout=90)
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True)
    try:
        return dict(json.loads(output.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        raise AssertionError(f"the barrage inside a container did not finish:\n{output[-2000:]}") from None


def test_malformed_requests_to_every_port_crash_nothing_and_leak_no_traceback(isolated_config: LabConfig, tmp_path: Path) -> None:
    config = isolated_config
    manage.up(config, **quiet)
    lab = LabClients(config)
    state = lab_state(config)
    rng = random.Random(11)
    problems: list[str] = []
    measured: list[str] = []
    for name, (address, path) in malformed_targets(config, lab).items():
        result = barrage(address, path, rng)
        judge(name, result, problems, measured)
        if result["before"] is None:
            problems.append(f"{name} did not answer a well-formed request before the barrage")
        if not alive(state["pid"]):
            problems.append(f"the lab process died during the requests to the {name}")
            break
    gateway = ((manage.process_status(config) or {}).get("task_roles") or {}).get("gateway_url")
    if gateway and alive(state["pid"]):
        parts = urllib.parse.urlsplit(gateway)
        address = (str(parts.hostname), int(parts.port or 80))
        judge(
            "task-role gateway (from a container)",
            barrage_from_a_container(lab.docker, address, "/", rng, tmp_path / "gateway"),
            problems,
            measured,
        )
    else:
        measured.append("task-role gateway: not running in this lab")
    print("\n".join(measured))
    try:
        lab.ecs.list_clusters()
    except Exception as error:
        problems.append(f"boto3 no longer gets an answer: {error}")
    if not alive(state["pid"]) or not manage.is_running(config):
        problems.append("the lab does not report running afterwards")
    assert not problems, "\n".join(problems + measured)


def test_second_engine_helper_cleans_up_after_itself(tmp_path: Path) -> None:
    """The helper the engine test relies on leaves no engine, bridge, socket or mount behind."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "engine"
    with second_engine(root) as engine:
        assert engine.answers()
    from tests import second_engine as module

    assert not engine.answers() and not module.SOCKET.exists() and not module.EXEC_ROOT.exists()
    assert subprocess.run(["ip", "link", "show", module.BRIDGE], capture_output=True).returncode != 0
    assert str(root) not in Path("/proc/self/mounts").read_text()
    assert shutil.which("dockerd")
