"""The Docker engine behind :class:`ecslab.lab.runtime.ContainerRuntime` (the only module of the ECS agent using Docker)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ecslab.config import LAB_LABEL
from ecslab.lab.runtime import CONTAINER_NAME_LABEL, TASK_LABEL, ContainerState, EngineUnavailable, Listed, RunSpec

LAUNCH_TIMEOUT_S = 120
"""How long a launch waits for one answer of the engine (pull, create, start, inspect). The lab's shared client
gives up after 5 s, which a busy engine starting 20 containers at once exceeds (the task then failed with
``CannotStartContainerError: Read timed out`` and was started again after a back-off); AWS's agent waits 3 minutes
for a container to start (``ECS_CONTAINER_START_TIMEOUT``, 3m on Linux)."""

LAUNCH_POOL = 64
"""Connections the launch client keeps to the engine: one per launch in flight (urllib3 logs a warning for each
connection it must discard beyond its pool)."""


class DockerRuntime:
    """Task containers on this machine's Docker engine, labelled with the lab's home folder."""

    def __init__(self, client: Callable[[], Any], lab_home: str) -> None:
        self._client = client  # docker.DockerClient (untyped), made lazily while no engine answered
        self.lab_home = lab_home
        self._launch_lock = threading.Lock()  # guards _launch_client
        self._launch_client: Any = None  # docker.DockerClient with LAUNCH_TIMEOUT_S, made at the first launch

    def _launcher(self) -> Any:
        """The client for a launch's engine calls: patient (:data:`LAUNCH_TIMEOUT_S`), or the shared one when none can
        be made (no engine answers: the call fails as it would have)."""
        with self._launch_lock:
            if self._launch_client is None:
                import docker

                try:
                    self._launch_client = docker.from_env(timeout=LAUNCH_TIMEOUT_S, max_pool_size=LAUNCH_POOL)
                except Exception:
                    return self._client()
            return self._launch_client

    def close(self) -> None:
        """Close the launch client's connections (the shared client is the lab's to close)."""
        with self._launch_lock:
            client, self._launch_client = self._launch_client, None
        if client is not None:
            client.close()

    def task_containers(self) -> dict[str, dict[str, Listed]]:
        """One ``docker ps`` (summaries, no inspect per container): the agent asks five times a second."""
        try:
            summaries = self._client().api.containers(all=True, filters={"label": [f"{LAB_LABEL}={self.lab_home}", TASK_LABEL]})
        except Exception as error:
            raise EngineUnavailable(f"{type(error).__name__}: {error}") from error
        found: dict[str, dict[str, Listed]] = {}
        for summary in summaries:
            labels = summary.get("Labels") or {}
            name = (summary.get("Names") or ["/?"])[0].lstrip("/")
            listed = Listed(summary["Id"], name, summary.get("State", "") == "running")
            found.setdefault(labels[TASK_LABEL], {})[labels.get(CONTAINER_NAME_LABEL, "")] = listed
        return found

    def state(self, container: Listed) -> ContainerState:
        if container.running:
            return ContainerState(running=True)
        from docker.errors import APIError

        try:
            return _state(self._client().api.inspect_container(container.id))
        except APIError:
            raise  # the engine answered (e.g. no such container)
        except Exception as error:  # it stopped answering between the listing and this inspect
            raise EngineUnavailable(f"{type(error).__name__}: {error}") from error

    def pull(self, image: str, auth: dict[str, str] | None) -> str | None:
        from docker.errors import APIError, DockerException

        from ecslab import imageref

        try:
            ref = imageref.parse(image)
        except ValueError as error:
            return str(error)
        try:
            for event in self._launcher().api.pull(
                ref.name, tag=ref.digest or ref.tag or "latest", stream=True, decode=True, auth_config=auth
            ):
                if "error" in event:
                    return str(event["error"])
        except (APIError, DockerException) as error:
            return str(getattr(error, "explanation", None) or error)
        return None

    def image_digest(self, image: str) -> str | None:
        """From the reference itself (``NAME@sha256:...``) or the engine's ``RepoDigests`` for the image's name."""
        from ecslab import imageref

        try:
            ref = imageref.parse(image)
        except ValueError:
            return None
        if ref.digest:
            return str(ref.digest)
        try:
            repo_digests = self._launcher().api.inspect_image(image).get("RepoDigests") or []
        except Exception:
            return None
        return next((d.split("@", 1)[1] for d in repo_digests if d.split("@", 1)[0] == ref.name), None)

    def run(self, spec: RunSpec) -> Any:
        """Create and start the container, then inspect it once (its published ports are known after the start).

        The Docker SDK's ``containers.run`` inspects after the create too, and :meth:`bindings` inspected again:
        two calls of four per container, which 20 launches at once make on an engine already busy starting them."""
        client = self._launcher()
        api = client.api
        host_config = api.create_host_config(
            port_bindings=dict(spec.ports) or None,
            mem_limit=f"{spec.memory_mib}m" if spec.memory_mib else None,
            mem_reservation=f"{spec.memory_reservation_mib}m" if spec.memory_reservation_mib else None,
            nano_cpus=spec.nano_cpus,
            cpu_shares=spec.cpu_shares,
            extra_hosts={"host.docker.internal": "host-gateway"},
        )
        created = api.create_container(
            spec.image,
            name=spec.name,
            command=spec.command,
            entrypoint=spec.entrypoint,
            environment=spec.environment,
            ports=[tuple(port.split("/", 1)) for port in spec.ports] or None,
            labels=spec.labels,
            detach=True,
            working_dir=spec.working_dir,
            host_config=host_config,
        )
        try:
            api.start(created["Id"])
            return client.containers.get(created["Id"])
        except Exception:
            self.remove(_Created(created["Id"]))  # created, not started: nothing may be left behind
            raise

    def bindings(self, handle: Any) -> list[dict[str, Any]]:
        """Its published ports, from the inspect :meth:`run` made after the start (inspected again otherwise)."""
        if not ((handle.attrs.get("State") or {}).get("Running") and handle.attrs.get("NetworkSettings")):
            handle.reload()
        bindings = []
        for port, binds in (handle.attrs["NetworkSettings"]["Ports"] or {}).items():
            number, _, protocol = port.partition("/")
            for bind in binds or []:
                bindings.append(
                    {
                        "bindIP": bind["HostIp"],
                        "containerPort": int(number),
                        "hostPort": int(bind["HostPort"]),
                        "protocol": protocol,
                    }
                )
        return bindings

    def stop(self, container: Listed, timeout: int) -> ContainerState:
        api = self._client().api
        if container.running:
            api.stop(container.id, timeout=timeout)
        return _state(api.inspect_container(container.id))

    def remove(self, container: Listed | Any) -> None:
        """``docker rm -fv``: a VOLUME in the image must not outlive the task."""
        try:
            self._client().api.remove_container(container.id, v=True, force=True)
        except Exception:
            pass


class _Created:
    """A container known by its id alone (for :meth:`DockerRuntime.remove`)."""

    def __init__(self, container_id: str) -> None:
        self.id = container_id


def _state(inspected: dict[str, Any]) -> ContainerState:
    state = inspected.get("State") or {}
    return ContainerState(bool(state.get("Running")), state.get("ExitCode"), bool(state.get("OOMKilled")))
