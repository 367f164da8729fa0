"""Containers: run, list, read logs, look inside, stop, and measure them.

Notebook 01 (``01-containers``) introduces everything here: it runs the sample
app, looks inside it (:func:`exec_text`, :func:`cgroup_memory_limit`), walks the
lifecycle (run, :func:`list_containers`, logs, stop) and measures start time and
footprint (:func:`measure_start`, :func:`memory_usage`,
:func:`writable_layer_bytes`; the VM comparison lives in :mod:`ecslab.footprint`).
Notebook 02 runs many containers from one image. Every container started here
carries the lab's label, so ``ecslab down`` and ``ecslab reset`` remove it, and
publishes its ports on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ecslab.config import LAB_LABEL, LabConfig
from ecslab.engine import docker_client

__all__ = [
    "ContainerError",
    "Footprint",
    "RunningContainer",
    "cgroup_memory_limit",
    "exec_text",
    "image_bytes",
    "lab_labels",
    "list_containers",
    "measure_start",
    "memory_usage",
    "memory_usages",
    "os_release",
    "published_port",
    "remove_containers",
    "request_log",
    "run_container",
    "stop_container",
    "stop_containers",
    "wait_until_answers",
    "writable_layer_bytes",
]


class ContainerError(RuntimeError):
    """A container did not start or answer; the message includes its last log lines."""


def lab_labels(config: LabConfig | None = None, purpose: str = "notebook") -> dict[str, str]:
    """The labels that mark a container as the lab's, and what it was started for.

    ``purpose`` groups containers so a notebook's cleanup cell can remove its own:
    ``remove_containers(purpose)``.
    """
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


def list_containers(
    purpose: str | None = None, client: Any | None = None, config: LabConfig | None = None
) -> list[dict[str, Any]]:
    """Like ``docker ps -a`` for the lab's containers: name, image, status, ports."""
    client = client or docker_client()
    home = str((config or LabConfig.from_env()).home)
    filters = {"label": [f"{LAB_LABEL}={home}"] + ([f"{LAB_LABEL}.purpose={purpose}"] if purpose else [])}
    rows = []
    for container in client.containers.list(all=True, ignore_removed=True, filters=filters):
        ports = container.attrs["NetworkSettings"]["Ports"] or {}
        published = [f"{b['HostIp']}:{b['HostPort']}->{p}" for p, binds in ports.items() for b in (binds or [])]
        rows.append(
            {"name": container.name, "image": container.attrs["Config"]["Image"], "status": container.status, "ports": published}
        )
    return sorted(rows, key=lambda row: row["name"])


def stop_containers(containers: list[Any], timeout: int = 2) -> None:
    """:func:`stop_container` for several containers at once (in parallel threads)."""
    from concurrent.futures import ThreadPoolExecutor

    if containers:
        with ThreadPoolExecutor(max_workers=min(len(containers), 16)) as pool:
            list(pool.map(lambda container: stop_container(container, timeout=timeout), containers))


def remove_containers(purpose: str, client: Any | None = None, config: LabConfig | None = None) -> int:
    """Remove the lab's containers started for ``purpose`` (a notebook's cleanup cell); returns how many."""
    client = client or docker_client()
    home = str((config or LabConfig.from_env()).home)
    containers = client.containers.list(
        all=True, ignore_removed=True, filters={"label": [f"{LAB_LABEL}={home}", f"{LAB_LABEL}.purpose={purpose}"]}
    )
    stop_containers(containers, timeout=1)
    return len(containers)


# -- looking inside a running container ------------------------------------------------


def exec_text(container: Any, command: list[str]) -> str:
    """``docker exec CONTAINER COMMAND``: run ``command`` inside and return its output as text.

    Raises :class:`ContainerError` with the output when the command exits non-zero.
    """
    exit_code, output = container.exec_run(command)
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    if exit_code != 0:
        raise ContainerError(f"`{' '.join(command)}` exited {exit_code} inside {container.name}:\n{text.rstrip()}")
    return text


def os_release(text: str) -> dict[str, str]:
    """Parse ``/etc/os-release`` (``KEY="value"`` lines) into a dict."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields


# cgroup v2 puts the limit in memory.max ("max" when unlimited); v1 in memory.limit_in_bytes
# (a huge number when unlimited). Reading it shows that the kernel, not docker, enforces it.
_CGROUP_LIMIT_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
_UNLIMITED = 2**62


def cgroup_memory_limit(container: Any) -> int | None:
    """The memory limit the kernel enforces on ``container``, read from inside it; None when unlimited."""
    for path in _CGROUP_LIMIT_FILES:
        exit_code, output = container.exec_run(["cat", path])
        if exit_code == 0:
            value = output.decode().strip()
            if value == "max" or int(value) >= _UNLIMITED:
                return None
            return int(value)
    raise ContainerError(f"{container.name}: no cgroup memory file found (looked at {', '.join(_CGROUP_LIMIT_FILES)}).")


_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def request_log(logs: str) -> list[str]:
    """The requests the sample app logged, as ``"GET /health -> 200"``, without their timestamps."""
    return [f"{m['method']} {m['path']} -> {m['status']}" for m in map(_REQUEST.search, logs.splitlines()) if m]


# -- measuring ------------------------------------------------------------------------------


def memory_usage(container: Any) -> int:
    """Bytes of memory ``container`` uses now, computed as ``docker stats`` computes it.

    The cgroup's usage minus its inactive page cache (``total_inactive_file`` on
    cgroup v1, ``inactive_file`` on v2). ``one_shot`` skips the second sample docker
    otherwise takes for CPU figures (1 s saved per call).
    """
    stats = container.stats(stream=False, one_shot=True)
    memory = stats.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return usage - int(cache) if 0 <= int(cache) < usage else usage


def memory_usages(containers: list[Any]) -> list[int]:
    """:func:`memory_usage` of several containers at once, in their order.

    The engine samples stats about once a second, so asking one container after
    another would take a second each; asking all at once takes about one.
    """
    from concurrent.futures import ThreadPoolExecutor

    if not containers:
        return []
    with ThreadPoolExecutor(max_workers=min(len(containers), 16)) as pool:
        return list(pool.map(memory_usage, containers))


def writable_layer_bytes(container: Any, client: Any | None = None) -> int:
    """Bytes the container wrote on top of its image (``SIZE`` in ``docker ps -s``).

    Everything else it sees is the image's read-only layers, shared by every
    container of that image.
    """
    client = client or docker_client()
    rows = client.api.containers(all=True, size=True, filters={"id": container.id})
    return int(rows[0].get("SizeRw", 0)) if rows else 0


def image_bytes(image: str, client: Any | None = None) -> int:
    """The image's size on disk (``SIZE`` in ``docker images``)."""
    client = client or docker_client()
    return int(client.images.get(image).attrs["Size"])


@dataclass
class Footprint:
    """What one running container costs: measured, not estimated."""

    start_seconds: float
    memory_bytes: int
    image_bytes: int


def measure_start(image: str, purpose: str = "measure", client: Any | None = None, config: LabConfig | None = None) -> Footprint:
    """Time ``docker run`` of ``image`` until its ``/health`` answers; read its memory use.

    The clock runs from the ``docker run`` call to the first 200 from ``/health``,
    so it includes creating the container, starting its process and the app's own
    start-up. The container is removed afterwards.
    """
    client = client or docker_client()
    started = time.monotonic()
    running = run_container(image, purpose=purpose, client=client, config=config)
    seconds = time.monotonic() - started
    try:
        memory = memory_usage(running.container)
        size = image_bytes(image, client)
    finally:
        stop_container(running.container, timeout=0)  # a measurement needs no graceful stop
    return Footprint(start_seconds=seconds, memory_bytes=memory, image_bytes=size)
