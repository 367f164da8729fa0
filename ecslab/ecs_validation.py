"""Task definition checks that ECS makes and moto does not.

The lab refuses such task definitions at ``register_task_definition`` with ECS's
``ClientException`` (through :mod:`ecslab.lab.ecs_agent`), and notebook 04's task
definition builder shows the same messages as you type. Where AWS's exact wording
is not documented, the message follows ECS's style and says what to change.

The execution role rules (notebook 07) are ECS's: a Fargate task definition needs an
``executionRoleArn`` to pull an image from ECR or to use the ``awslogs`` log driver,
and any task definition with container ``secrets`` needs one. For the lab, an image
in the lab's registry (``localhost:5050/...``) is an ECR image, as is any
``ACCOUNT.dkr.ecr.REGION.amazonaws.com/...`` name.
"""

from __future__ import annotations

import re
from typing import Any

from ecslab import imageref

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
ECR_HOST = imageref.ECR_REGISTRY
"""An Amazon ECR private registry's host name."""


def is_ecr_image(image: str, registry_address: str | None = None) -> bool:
    """Whether ECS pulls ``image`` from ECR (the lab's registry counts as ECR)."""
    if registry_address is None:
        from ecslab.config import LabConfig

        registry_address = LabConfig.from_env().registry_address
    try:
        host = imageref.parse(image).registry or ""
    except ValueError:
        return False
    return host == registry_address or bool(ECR_HOST.fullmatch(host))


def image_problem(image: str) -> str | None:
    """Why ``image`` is no image reference Docker could pull (:func:`ecslab.imageref.parse`), or None."""
    try:
        imageref.parse(image)
    except ValueError as error:
        return str(error)
    return None


class TaskDefinitionError(ValueError):
    """A task definition ECS would refuse; the message is ECS's ``ClientException`` text."""


def _units(value: object, what: str) -> int | None:
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


def problems(definition: dict[str, Any], registry_address: str | None = None) -> list[str]:
    """Everything ECS would object to in a ``register_task_definition`` request (empty when fine).

    ``registry_address`` is the lab registry's ``host:port`` whose images count as ECR images;
    by default the one of the lab ``ECSLAB_*`` settings point at."""
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
        found += _fargate_problems(network_mode, cpu, memory)
    names: set[str] = set()
    for container in containers:
        found += _container_problems(container, names, memory, network_mode)
    found += execution_role_problems(definition, registry_address)
    if containers and not any(container.get("essential", True) for container in containers):
        found.append("A task definition must have at least one essential container.")
    total_memory = sum(container.get("memory") or container.get("memoryReservation") or 0 for container in containers)
    if memory is not None and total_memory > memory:
        found.append(
            f"The sum of the containers' memory ({total_memory} MiB) exceeds the task's memory ({memory} MiB); lower a container's memory or raise the task's."
        )
    return found


def _fargate_problems(network_mode: str, cpu: int | None, memory: int | None) -> list[str]:
    found = []
    if network_mode != "awsvpc":
        found.append("Fargate only supports network mode 'awsvpc'.")
    if cpu is None:
        found.append("Fargate requires that 'cpu' be defined at the task level.")
    if memory is None:
        found.append("Fargate requires that 'memory' be defined at the task level.")
    if cpu is not None and memory is not None and memory not in FARGATE_SIZES.get(cpu, []):
        valid = FARGATE_SIZES.get(cpu)
        if valid and len(valid) <= 8:
            hint = f" With {cpu} CPU units, memory can be {', '.join(str(m) for m in valid)} MiB."
        elif valid:
            hint = f" With {cpu} CPU units, memory can be {valid[0]} to {valid[-1]} MiB."
        else:
            hint = f" CPU must be one of {', '.join(str(c) for c in FARGATE_SIZES)}."
        found.append(f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory.{hint}")
    return found


def _container_problems(container: dict[str, Any], names: set[str], memory: int | None, network_mode: str) -> list[str]:
    """One container's problems; ``names`` (the names seen so far) gets its name."""
    found = []
    name = container.get("name") or ""
    if not name:
        found.append("Container.name should not be null or empty.")
    elif name in names:
        found.append(f"Duplicate container name '{name}'; each container in a task definition needs its own name.")
    names.add(name)
    image = container.get("image") or ""
    if not image:
        found.append(f"Container.image should not be null or empty (container '{name}').")
    elif image_problem(image):
        found.append(
            f"Invalid image reference format for container '{name}': {image!r} (expected [registry/]repository[:tag][@digest], repository in lower case)."
        )
    container_memory = container.get("memory")
    reservation = container.get("memoryReservation")
    if memory is None and container_memory is None and reservation is None:
        found.append(
            f"Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified."
        )
    if container_memory is not None and reservation is not None and reservation > container_memory:
        found.append(
            f"Invalid setting for container '{name}': memoryReservation ({reservation}) must be less than or equal to memory ({container_memory})."
        )
    for mapping in container.get("portMappings") or []:
        port = mapping.get("containerPort")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            found.append(f"Invalid containerPort {port!r} in container '{name}': use 1-65535.")
        host_port = mapping.get("hostPort")
        if network_mode == "awsvpc" and host_port not in (None, port):
            found.append("When networkMode=awsvpc, the host ports and container ports in port mappings must match.")
    return found


def secrets_problems(container: dict[str, Any]) -> list[str]:
    """ECS's objections to one container's ``secrets`` (each a ``name`` and a ``valueFrom``)."""
    found: list[str] = []
    names: list[str] = []
    for secret in container.get("secrets") or []:
        name = secret.get("name") or ""
        if not name:
            found.append("Container.secrets.name should not be null or empty.")  # boto3 refuses this before ECS sees it
        if not secret.get("valueFrom"):
            found.append(f"Container.secrets.valueFrom should not be null or empty (secret '{name}').")
        if name:
            names.append(name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        found.append(f"Duplicate secret names found: {', '.join(duplicates)}. Each secret name must be unique.")
    environment = {item.get("name") for item in container.get("environment") or []}
    shared = [name for name in dict.fromkeys(names) if name in environment]
    if shared:
        found.append(
            f"The secret name must be unique and not shared with any new or existing environment variables set on the container, such as '{shared[0]}'."
        )
    return found


def execution_role_problems(definition: dict[str, Any], registry_address: str | None = None) -> list[str]:
    """What needs an ``executionRoleArn`` that the task definition does not give (ECS's words)."""
    containers = definition.get("containerDefinitions") or []
    found: list[str] = []
    for container in containers:
        found += secrets_problems(container)
    if definition.get("executionRoleArn"):
        return found
    if any(container.get("secrets") for container in containers):
        found.append("When you are specifying container secrets, you must also specify a value for 'executionRoleArn'.")
    if "FARGATE" in (definition.get("requiresCompatibilities") or []):
        if any(is_ecr_image(container.get("image") or "", registry_address) for container in containers):
            found.append("Fargate requires task definition to have execution role ARN to support ECR images.")
        if any((container.get("logConfiguration") or {}).get("logDriver") == "awslogs" for container in containers):
            found.append("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
    return found


def validate(definition: dict[str, Any], registry_address: str | None = None) -> None:
    """Raise :class:`TaskDefinitionError` with the first problem, as ECS does."""
    found = problems(definition, registry_address)
    if found:
        raise TaskDefinitionError(found[0])
