"""Task definition checks that ECS makes and moto does not.

The lab refuses such task definitions at ``register_task_definition`` with ECS's
``ClientException`` (through :mod:`ecslab.lab.ecs_agent`), and notebook 04's task
definition builder shows the same messages as you type. Where AWS's exact wording
is not documented, the message follows ECS's style and says what to change.
"""

from __future__ import annotations

import re
from typing import Any

FARGATE_SIZES: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}
"""Valid Fargate task sizes, CPU units -> memory MiB (AWS documentation, "Task CPU and memory", 2026)."""

FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")
IMAGE = re.compile(
    r"(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?)/)?"
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


class TaskDefinitionError(ValueError):
    """A task definition ECS would refuse; the message is ECS's ``ClientException`` text."""


def _units(value: Any, what: str) -> int | None:
    """Task-level cpu and memory arrive as strings ("256", "1 vCPU", "0.5 GB")."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(vcpu|gb)?", text, re.IGNORECASE)
    if not match:
        raise TaskDefinitionError(f"Invalid '{what}' setting for task: {text!r}.")
    number, unit = float(match[1]), (match[2] or "").lower()
    if unit == "vcpu":
        return int(number * 1024)
    if unit == "gb":
        return int(number * 1024)
    return int(number)


def problems(definition: dict[str, Any]) -> list[str]:
    """Everything ECS would object to in a ``register_task_definition`` request (empty when fine)."""
    found: list[str] = []
    family = definition.get("family", "")
    if not FAMILY.fullmatch(family or ""):
        found.append("Family name can be up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.")
    containers = definition.get("containerDefinitions") or []
    if not containers:
        found.append("Container list cannot be empty.")
    compatibilities = definition.get("requiresCompatibilities") or []
    network_mode = definition.get("networkMode") or "bridge"  # ECS's default, which Fargate refuses
    try:
        cpu = _units(definition.get("cpu"), "cpu")
        memory = _units(definition.get("memory"), "memory")
    except TaskDefinitionError as error:
        return found + [str(error)]
    if "FARGATE" in compatibilities:
        if network_mode != "awsvpc":
            found.append("Fargate only supports network mode 'awsvpc'.")
        if cpu is None:
            found.append("Fargate requires that 'cpu' be defined at the task level.")
        if memory is None:
            found.append("Fargate requires that 'memory' be defined at the task level.")
        if cpu is not None and memory is not None and memory not in FARGATE_SIZES.get(cpu, []):
            valid = FARGATE_SIZES.get(cpu)
            hint = f" With {cpu} CPU units, memory can be {', '.join(str(m) for m in valid)} MiB." if valid and len(valid) <= 8 else (
                f" With {cpu} CPU units, memory can be {valid[0]} to {valid[-1]} MiB." if valid else f" CPU must be one of {', '.join(str(c) for c in FARGATE_SIZES)}."
            )
            found.append(f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory.{hint}")
    essential = 0
    names: set[str] = set()
    total_memory = 0
    for container in containers:
        name = container.get("name") or ""
        if not name:
            found.append("Container.name should not be null or empty.")
        elif name in names:
            found.append(f"Duplicate container name '{name}'; each container in a task definition needs its own name.")
        names.add(name)
        image = container.get("image") or ""
        if not image:
            found.append(f"Container.image should not be null or empty (container '{name}').")
        elif not IMAGE.fullmatch(image):
            found.append(f"Invalid image reference format for container '{name}': {image!r} (expected [registry/]repository[:tag][@digest], repository in lower case).")
        if container.get("essential", True):
            essential += 1
        container_memory = container.get("memory")
        reservation = container.get("memoryReservation")
        if memory is None and container_memory is None and reservation is None:
            found.append(f"Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified.")
        if container_memory is not None and reservation is not None and reservation > container_memory:
            found.append(f"Invalid setting for container '{name}': memoryReservation ({reservation}) must be less than or equal to memory ({container_memory}).")
        total_memory += container_memory or reservation or 0
        for mapping in container.get("portMappings") or []:
            port = mapping.get("containerPort")
            if not isinstance(port, int) or not 1 <= port <= 65535:
                found.append(f"Invalid containerPort {port!r} in container '{name}': use 1-65535.")
            host_port = mapping.get("hostPort")
            if network_mode == "awsvpc" and host_port not in (None, port):
                found.append("When networkMode=awsvpc, the host ports and container ports in port mappings must match.")
    if containers and essential == 0:
        found.append("A task definition must have at least one essential container.")
    if memory is not None and total_memory > memory:
        found.append(f"The sum of the containers' memory ({total_memory} MiB) exceeds the task's memory ({memory} MiB); lower a container's memory or raise the task's.")
    return found


def validate(definition: dict[str, Any]) -> None:
    """Raise :class:`TaskDefinitionError` with the first problem, as ECS does."""
    found = problems(definition)
    if found:
        raise TaskDefinitionError(found[0])
