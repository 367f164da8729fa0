"""ECS ``ExecuteCommand``, which moto lacks: added to its backend and given a response handler.

The backend method checks the request as ECS does (the task, ``interactive``, whether exec was enabled when
the task was run and it still runs) and asks the lab (:class:`ExecLab`, :class:`ecslab.lab.exec.EcsExec`) to
start a session; the lab runs the command in the container for real, outside the lab lock, and keeps its
output where :func:`ecslab.ecs_exec.run` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ecslab.lab.moto.patching import ABSENT, PatchSet, declare

BACKEND = "moto.ecs.models:EC2ContainerServiceBackend"
RESPONSE = "moto.ecs.responses:EC2ContainerServiceResponse"

NOT_ENABLED = (
    "The execute command failed because execute command was not enabled when the task was run or the execute command "
    "agent isn't running. Wait and try again or run a new task with execute command enabled and try again."
)
"""ECS's words (InvalidParameterException) for a task without exec, or whose agent is not running (a stopped task)."""

NOT_INTERACTIVE = "Interactive is the only mode supported currently."
"""ECS's words (InvalidParameterException) for ``interactive=False``."""


class ExecLab(Protocol):
    def start_session(self, task: Any, container: Any, command: str) -> dict[str, str]:
        """Start running ``command`` in ``container`` of ``task`` (under the lab lock: no I/O); the session's fields."""
        ...


PATCHES: PatchSet[ExecLab] = declare(PatchSet("ecs-exec"))


@PATCHES.patch(BACKEND, "execute_command", ABSENT, "moto has no ExecuteCommand")
def _execute_command(original: None, lab: ExecLab) -> Callable[..., dict[str, Any]]:
    from moto.ecs.exceptions import InvalidParameterException

    def execute_command(
        backend: Any, cluster_str: str, task_str: str, container_name: str | None, command: str, interactive: bool
    ) -> dict[str, Any]:
        cluster = backend._get_cluster(cluster_str)  # ClusterNotFoundException, as ECS
        task_id = task_str.split("/")[-1]
        task = next((t for arn, t in backend.tasks.get(cluster.name, {}).items() if arn.split("/")[-1] == task_id), None)
        if task is None:
            raise InvalidParameterException("The referenced task was not found.")
        if not interactive:
            raise InvalidParameterException(NOT_INTERACTIVE)
        if not getattr(task, "enable_execute_command", False) or task.last_status != "RUNNING":
            raise InvalidParameterException(NOT_ENABLED)
        containers = list(task.containers)
        if container_name:
            chosen = next((c for c in containers if c.name == container_name), None)
            if chosen is None:
                raise InvalidParameterException(f"The container {container_name} does not exist in the task.")
        elif len(containers) == 1:
            chosen = containers[0]
        else:
            raise InvalidParameterException("A container name must be specified for tasks containing multiple containers.")
        session = lab.start_session(task, chosen, command)
        return {
            "clusterArn": cluster.arn,
            "containerArn": chosen.container_arn,
            "containerName": chosen.name,
            "interactive": True,
            "session": session,
            "taskArn": task.task_arn,
        }

    return execute_command


@PATCHES.patch(RESPONSE, "execute_command", ABSENT, "moto has no handler for ExecuteCommand")
def _respond(original: None, lab: ExecLab) -> Callable[[Any], Any]:
    def execute_command(response: Any) -> Any:
        from moto.core.responses import ActionResult

        param = response._get_param
        answer = response.ecs_backend.execute_command(
            param("cluster", "default"), param("task"), param("container"), param("command"), bool(param("interactive"))
        )
        return ActionResult(answer)

    return execute_command
