"""The Docker engine behind :class:`ecslab.lab.runtime.ContainerRuntime` (the only module of the ECS agent using Docker)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecslab.config import LAB_LABEL
from ecslab.lab.runtime import CONTAINER_NAME_LABEL, TASK_LABEL, ContainerState, EngineUnavailable, Listed, RunSpec


class DockerRuntime:
    """Task containers on this machine's Docker engine, labelled with the lab's home folder."""

    def __init__(self, client: Callable[[], Any], lab_home: str) -> None:
        self._client = client  # docker.DockerClient (untyped), made lazily while no engine answered
        self.lab_home = lab_home

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
        return _state(self._client().api.inspect_container(container.id))

    def pull(self, image: str, auth: dict[str, str] | None) -> str | None:
        from docker.errors import APIError, DockerException

        from ecslab import imageref

        try:
            ref = imageref.parse(image)
        except ValueError as error:
            return str(error)
        try:
            for event in self._client().api.pull(
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
            repo_digests = self._client().api.inspect_image(image).get("RepoDigests") or []
        except Exception:
            return None
        return next((d.split("@", 1)[1] for d in repo_digests if d.split("@", 1)[0] == ref.name), None)

    def run(self, spec: RunSpec) -> Any:
        return self._client().containers.run(
            spec.image,
            name=spec.name,
            command=spec.command,
            entrypoint=spec.entrypoint,
            environment=spec.environment,
            ports=spec.ports,
            labels=spec.labels,
            detach=True,
            mem_limit=f"{spec.memory_mib}m" if spec.memory_mib else None,
            mem_reservation=f"{spec.memory_reservation_mib}m" if spec.memory_reservation_mib else None,
            nano_cpus=spec.nano_cpus,
            cpu_shares=spec.cpu_shares,
            extra_hosts={"host.docker.internal": "host-gateway"},
            working_dir=spec.working_dir,
        )

    def bindings(self, handle: Any) -> list[dict[str, Any]]:
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


def _state(inspected: dict[str, Any]) -> ContainerState:
    state = inspected.get("State") or {}
    return ContainerState(bool(state.get("Running")), state.get("ExitCode"), bool(state.get("OOMKilled")))
