"""Containers: run, list, read logs, stop, and measure them.

Notebook 01 measures start time and footprint; notebook 02 runs many containers
from one image. Every container started here carries the lab's label, so
``ecslab down`` and ``ecslab reset`` remove it, and publishes its ports on
127.0.0.1 only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ecslab.config import LAB_LABEL, LabConfig
from ecslab.engine import docker_client


class ContainerError(RuntimeError):
    """A container did not start or answer; the message includes its last log lines."""


def lab_labels(config: LabConfig | None = None, purpose: str = "notebook") -> dict[str, str]:
    config = config or LabConfig.from_env()
    return {LAB_LABEL: str(config.home), f"{LAB_LABEL}.purpose": purpose}


@dataclass
class RunningContainer:
    """A container the lab started, with the URL its port is published on."""

    container: Any
    port: int | None

    @property
    def name(self) -> str:
        return str(self.container.name)

    @property
    def url(self) -> str:
        if self.port is None:
            raise ContainerError(f"{self.name} publishes no port.")
        return f"http://127.0.0.1:{self.port}"

    def get_json(self, path: str = "/", timeout: float = 5.0) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return dict(json.loads(response.read()))

    def logs(self, tail: int = 20) -> str:
        return str(self.container.logs(tail=tail).decode(errors="replace"))

    def stop(self, timeout: int = 2) -> None:
        stop_container(self.container, timeout=timeout)

    def __repr__(self) -> str:
        return f"RunningContainer(name={self.name!r}, url={self.url if self.port else None!r})"


def run_container(
    image: str,
    name: str | None = None,
    container_port: int | None = 8080,
    environment: dict[str, str] | None = None,
    command: list[str] | None = None,
    mem_limit: str | None = None,
    nano_cpus: int | None = None,
    purpose: str = "notebook",
    client: Any | None = None,
    config: LabConfig | None = None,
    wait_for_http: str | None = "/health",
    timeout: float = 15.0,
) -> RunningContainer:
    """``docker run -d -p 127.0.0.1::PORT IMAGE`` with the lab's label; waits until it answers.

    A container that exits or does not answer within ``timeout`` is removed (nothing
    left behind) and :class:`ContainerError` shows its last log lines.
    """
    client = client or docker_client()
    ports = {f"{container_port}/tcp": ("127.0.0.1", None)} if container_port else {}
    if name is not None:
        _remove_if_lab_owned(client, name, config)
    container = client.containers.run(
        image,
        command=command,
        name=name,
        detach=True,
        ports=ports,
        environment=environment or {},
        labels=lab_labels(config, purpose),
        mem_limit=mem_limit,
        nano_cpus=nano_cpus,
    )
    try:
        port = published_port(container, container_port) if container_port else None
        running = RunningContainer(container, port)
        if container_port and wait_for_http:
            wait_until_answers(running, wait_for_http, timeout)
        return running
    except BaseException:
        stop_container(container)
        raise


def _remove_if_lab_owned(client: Any, name: str, config: LabConfig | None) -> None:
    """Re-running a notebook reuses names: replace the lab's own old container, never a stranger's."""
    from docker.errors import NotFound

    try:
        old = client.containers.get(name)
    except NotFound:
        return
    if old.labels.get(LAB_LABEL) != str((config or LabConfig.from_env()).home):
        raise ContainerError(
            f"A container named {name!r} exists and is not the lab's. Pick another name, "
            f"or remove it yourself with `docker rm -f {name}`."
        )
    old.remove(force=True)


def published_port(container: Any, container_port: int, timeout: float = 5.0) -> int:
    """The host port docker chose on 127.0.0.1 for ``container_port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{container_port}/tcp")
        if bindings:
            return int(bindings[0]["HostPort"])
        if container.status == "exited":
            break
        time.sleep(0.02)
    raise ContainerError(f"{container.name} did not publish port {container_port}:\n{_last_logs(container)}")


def wait_until_answers(running: RunningContainer, path: str = "/health", timeout: float = 15.0) -> float:
    """Poll ``path`` until it answers 200; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(running.url + path, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        running.container.reload()
        if running.container.status == "exited":
            raise ContainerError(f"{running.name} exited before answering:\n{_last_logs(running.container)}")
        time.sleep(0.02)
    raise ContainerError(f"{running.name} did not answer {path} within {timeout:.0f} s:\n{_last_logs(running.container)}")


def _last_logs(container: Any, lines: int = 10) -> str:
    try:
        return str(container.logs(tail=lines).decode(errors="replace")).rstrip() or "(no output)"
    except Exception:
        return "(logs unavailable)"


def stop_container(container: Any, timeout: int = 2) -> None:
    """Stop and remove a container; quiet when it is already gone."""
    from docker.errors import APIError, NotFound

    try:
        container.stop(timeout=timeout)
    except (NotFound, APIError):
        pass
    try:
        container.remove(force=True)
    except (NotFound, APIError):
        pass


def list_containers(purpose: str | None = None, client: Any | None = None, config: LabConfig | None = None) -> list[dict[str, Any]]:
    """Like ``docker ps -a`` for the lab's containers: name, image, status, ports."""
    client = client or docker_client()
    home = str((config or LabConfig.from_env()).home)
    filters = {"label": [f"{LAB_LABEL}={home}"] + ([f"{LAB_LABEL}.purpose={purpose}"] if purpose else [])}
    rows = []
    for container in client.containers.list(all=True, filters=filters):
        ports = container.attrs["NetworkSettings"]["Ports"] or {}
        published = [f"{b['HostIp']}:{b['HostPort']}->{p}" for p, binds in ports.items() for b in (binds or [])]
        rows.append({"name": container.name, "image": container.attrs["Config"]["Image"], "status": container.status, "ports": published})
    return sorted(rows, key=lambda row: row["name"])


def remove_containers(purpose: str, client: Any | None = None, config: LabConfig | None = None) -> int:
    """Remove the lab's containers started for ``purpose`` (a notebook's cleanup cell)."""
    client = client or docker_client()
    home = str((config or LabConfig.from_env()).home)
    containers = client.containers.list(all=True, filters={"label": [f"{LAB_LABEL}={home}", f"{LAB_LABEL}.purpose={purpose}"]})
    for container in containers:
        stop_container(container, timeout=1)
    return len(containers)


@dataclass
class Footprint:
    """What one running container costs: measured, not estimated."""

    start_seconds: float
    memory_bytes: int
    image_bytes: int


def measure_start(image: str, purpose: str = "measure", client: Any | None = None, config: LabConfig | None = None) -> Footprint:
    """Start a container of ``image`` and time until its ``/health`` answers; read its memory use.

    The container is removed afterwards.
    """
    client = client or docker_client()
    started = time.monotonic()
    running = run_container(image, purpose=purpose, client=client, config=config)
    seconds = time.monotonic() - started
    try:
        stats = running.container.stats(stream=False)
        memory = stats.get("memory_stats", {})
        usage = int(memory.get("usage", 0)) - int(memory.get("stats", {}).get("inactive_file", 0))
        size = int(client.images.get(image).attrs["Size"])
    finally:
        running.stop(timeout=1)
    return Footprint(start_seconds=seconds, memory_bytes=max(usage, 0), image_bytes=size)
