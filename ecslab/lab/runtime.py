"""The container engine as the ECS agent needs it: a small protocol, with Docker behind it.

:class:`ContainerRuntime` is all the agent asks of an engine: list the lab's task containers,
pull, run, inspect, stop and remove. :mod:`ecslab.lab.docker_runtime` implements it with the
Docker SDK; tests can give the agent any object with these methods. None of these may be called
while holding the lab's lock (they are I/O; see :mod:`ecslab.lab`).

Engine handles (``Any``): the Docker SDK has no types; hooks such as the task-role relay and the
log shipper receive the handle :meth:`ContainerRuntime.run` returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

TASK_LABEL = "com.amazonaws.ecs.task-arn"
CONTAINER_NAME_LABEL = "com.amazonaws.ecs.container-name"


class EngineUnavailable(Exception):
    """The engine did not answer (dockerd gone, socket refused)."""


@dataclass(frozen=True)
class ContainerState:
    """What ECS reports of a container that is not running (or is)."""

    running: bool
    exit_code: int | None = None
    oom_killed: bool = False


@dataclass(frozen=True)
class Listed:
    """A task container as the engine lists it (no inspect)."""

    id: str
    name: str
    running: bool


@dataclass(frozen=True)
class RunSpec:
    """One task container to run: what the agent derived from the task definition and its overrides."""

    image: str
    name: str
    labels: dict[str, str]
    environment: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    ports: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # "80/tcp" -> (host ip, host port or None)
    memory_mib: int | None = None
    memory_reservation_mib: int | None = None
    nano_cpus: int | None = None
    cpu_shares: int | None = None
    working_dir: str | None = None


class ContainerRuntime(Protocol):
    def task_containers(self) -> dict[str, dict[str, Listed]]:
        """The lab's task containers by task ARN and container name; raises :class:`EngineUnavailable`."""
        ...

    def state(self, container: Listed) -> ContainerState:
        """Its state now (inspects a container that is not running)."""
        ...

    def pull(self, image: str, auth: dict[str, str] | None) -> str | None:
        """Pull ``image``; ``None`` when it worked, else the engine's words."""
        ...

    def image_digest(self, image: str) -> str | None:
        """The manifest digest ``image`` was pulled at (``sha256:...``), or ``None`` when the engine does not know it."""
        ...

    def run(self, spec: RunSpec) -> Any:
        """Create and start the container; the engine's handle (given to the task hooks)."""
        ...

    def bindings(self, handle: Any) -> list[dict[str, Any]]:
        """Its published ports as ECS's ``networkBindings`` (after it started)."""
        ...

    def stop(self, container: Listed, timeout: int) -> ContainerState:
        """Stop it (SIGTERM, then SIGKILL after ``timeout`` s) and say how it ended."""
        ...

    def remove(self, container: Listed | Any) -> None:
        """Remove it with its anonymous volumes; quietly nothing when it is gone."""
        ...
