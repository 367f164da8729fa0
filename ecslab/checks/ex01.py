"""Checks for exercises/01-containers.ipynb: run the sample app with the docker SDK.

1.1 run it and return the URL it answers on; 1.2 ask the app for its hostname;
1.3 give a container a memory limit and read back what docker applied. Every
check removes the containers it caused, whether it passes or fails.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from ecslab.checks.core import Passed, expect, run_student
from ecslab.config import LAB_LABEL

POINTS: dict[str, int] = {"1.1": 1, "1.2": 1, "1.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

PURPOSE = "exercise-01"
"""The ``purpose`` label the exercise asks for; the checks' own containers carry it too."""

SAMPLE_IMAGE = "ecslab-sample:v1"
MiB = 2**20


def sample_image(lab: Any) -> str:
    """The sample app's image, built when missing (notebook 01 and its exercise use it)."""
    from ecslab.images import build_sample_app, image_present

    if not image_present(SAMPLE_IMAGE, lab.docker):
        build_sample_app(SAMPLE_IMAGE, client=lab.docker, config=lab.config, show_progress=False)
    return SAMPLE_IMAGE


def _is_exercise_container(container: Any, image_id: str) -> bool:
    """Started from the sample image, and not another notebook's container (those carry another purpose)."""
    purpose = (container.labels or {}).get(f"{LAB_LABEL}.purpose")
    return container.attrs.get("Image") == image_id and purpose in (None, PURPOSE)


@contextmanager
def _new_containers(lab: Any, image: str) -> Iterator[set[str]]:
    """Yields the IDs of the containers that exist now; at the end removes the sample-app containers started since."""
    from docker.errors import APIError, NotFound

    before = {container.id for container in lab.docker.containers.list(all=True, ignore_removed=True)}
    try:
        yield before
    finally:
        for container in _containers_started(lab, image, before):
            try:
                container.remove(force=True)
            except (NotFound, APIError):
                pass


def _containers_started(lab: Any, image: str, before: set[str]) -> list[Any]:
    """The sample-app containers that did not exist in ``before``, oldest first."""
    image_id = lab.docker.images.get(image).id
    started = [
        c
        for c in lab.docker.containers.list(all=True, ignore_removed=True)
        if c.id not in before and _is_exercise_container(c, image_id)
    ]
    return sorted(started, key=lambda container: container.attrs["Created"])


def _get_json(url: str) -> tuple[int | None, Any]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


def _bindings(container: Any) -> list[tuple[str, int, str]]:
    """(host ip, host port, container port) for every port the container publishes."""
    container.reload()
    ports = container.attrs["NetworkSettings"]["Ports"] or {}
    return [(b["HostIp"], int(b["HostPort"]), inner) for inner, binds in ports.items() for b in (binds or [])]


def check_run_sample_app(run_sample_app: Callable[[Any, str], str], lab: Any) -> Passed:
    """1.1: ``run_sample_app(lab, image)`` starts the sample app, published on 127.0.0.1, and returns the URL it answers on."""
    image = sample_image(lab)
    with _new_containers(lab, image) as before:
        url = run_student("1.1", run_sample_app, lab, image)
        expect(
            isinstance(url, str), "1.1", f"return the URL as a string like 'http://127.0.0.1:32768', not {type(url).__name__}."
        )
        parsed = urlparse(url)
        expect(parsed.scheme == "http" and parsed.port is not None, "1.1", f"{url!r} is not a URL like 'http://127.0.0.1:PORT'.")
        expect(
            parsed.hostname == "127.0.0.1",
            "1.1",
            f"{url!r} does not point at 127.0.0.1. The course publishes ports on 127.0.0.1 only "
            "(ports={'8080/tcp': ('127.0.0.1', None)}) and reaches them there.",
        )
        started = _containers_started(lab, image, before)
        expect(
            bool(started),
            "1.1",
            f"no new container of {image} was started: call lab.docker.containers.run(image, detach=True, ...).",
        )
        bindings = [(container, binding) for container in started for binding in _bindings(container)]
        expect(
            bool(bindings),
            "1.1",
            "your container publishes no port: pass ports={'8080/tcp': ('127.0.0.1', None)}, like `docker run -p 127.0.0.1::8080`.",
        )
        matching = [(container, binding) for container, binding in bindings if binding[1] == parsed.port]
        if not matching and parsed.port == 8080:
            expect(
                False,
                "1.1",
                "8080 is the port inside the container. Return the host port docker published for it: "
                "container.reload(), then container.ports['8080/tcp'][0]['HostPort'].",
            )
        expect(
            bool(matching),
            "1.1",
            f"none of your containers publishes port {parsed.port}; read the port from container.ports after container.reload().",
        )
        host_ip = matching[0][1][0]
        expect(
            host_ip == "127.0.0.1",
            "1.1",
            f"the port is published on {host_ip}, open to your whole network: publish on 127.0.0.1 only.",
        )
        status, body = _get_json(url.rstrip("/") + "/health")
        expect(
            status == 200 and isinstance(body, dict) and body.get("status") == "ok",
            "1.1",
            f"{url}/health did not answer 200 when your function returned (got {status or 'no answer'}). "
            "The app needs a moment to start: poll /health until it answers, then return.",
        )
    return Passed("1.1", "the sample app answered /health on the URL you returned, published on 127.0.0.1 only.")


def check_app_hostname(app_hostname: Callable[[str], str], lab: Any) -> Passed:
    """1.2: ``app_hostname(url)`` asks the app at ``url`` for its hostname and returns it."""
    from ecslab.containers import run_container

    image = sample_image(lab)
    running = run_container(image, purpose=PURPOSE, client=lab.docker, config=lab.config)
    try:
        answer = run_student("1.2", app_hostname, running.url)
        expected = running.container.id[:12]
        expect(isinstance(answer, str), "1.2", f"return the hostname as a string, not {type(answer).__name__}.")
        expect(
            answer.strip() != socket.gethostname() or expected == socket.gethostname(),
            "1.2",
            f"{answer!r} is this machine's hostname: the notebook runs on the host. Ask the app instead: GET url + '/' and read 'hostname'.",
        )
        expect(
            answer.strip() == expected,
            "1.2",
            f"got {answer!r}; the app at {running.url} reports a different hostname. Read the 'hostname' field of the JSON from GET url + '/'.",
        )
    finally:
        running.stop(timeout=0)
    return Passed("1.2", "the app reports its container's short ID as its hostname: each container is its own host.")


def check_memory_limit(run_with_memory_limit: Callable[[Any, str, int], int], lab: Any) -> Passed:
    """1.3: ``run_with_memory_limit(lab, image, megabytes)`` starts a container limited to that many MiB and returns the bytes docker applied."""
    from ecslab.containers import cgroup_memory_limit

    image = sample_image(lab)
    for megabytes in (64, 96):  # two sizes, so a hard-coded number cannot pass
        with _new_containers(lab, image) as before:
            applied = run_student("1.3", run_with_memory_limit, lab, image, megabytes)
            wanted = megabytes * MiB
            expect(isinstance(applied, int), "1.3", f"return the limit as an int (bytes), not {type(applied).__name__}.")
            expect(
                applied != 0,
                "1.3",
                "docker applied no limit (0 means unlimited): pass mem_limit=f'{megabytes}m' to containers.run.",
            )
            expect(
                applied != megabytes * 1000 * 1000,
                "1.3",
                f"{applied} is {megabytes} million bytes, but docker's 'm' means MiB (2**20 bytes). "
                "Return what docker applied: container.attrs['HostConfig']['Memory'].",
            )
            expect(
                applied == wanted,
                "1.3",
                f"asked for {megabytes} MiB, you returned {applied}; docker would apply {wanted} ({megabytes} x 2**20).",
            )
            started = _containers_started(lab, image, before)
            expect(
                bool(started),
                "1.3",
                f"no new container of {image} was started: call lab.docker.containers.run(image, detach=True, mem_limit=...).",
            )
            limited = [c for c in started if c.attrs["HostConfig"].get("Memory") == wanted]
            expect(
                bool(limited),
                "1.3",
                f"none of your new containers has a {megabytes} MiB limit; pass mem_limit=f'{{megabytes}}m'.",
            )
            container = limited[0]
            container.reload()
            expect(
                container.status == "running",
                "1.3",
                f"your container is {container.status}, not running: use containers.run (not create), with detach=True.",
            )
            enforced = cgroup_memory_limit(container)
            expect(enforced == wanted, "1.3", f"the kernel enforces {enforced} bytes inside the container, not {wanted}.")
    return Passed("1.3", "docker applied 64 MiB and 96 MiB limits, and the kernel enforces them inside the containers.")
