"""ECS Exec in the lab: ``execute_command`` runs the command in the task's container for real.

On AWS, ``enableExecuteCommand`` (on ``run_task``, ``create_service``, ``update_service``) makes ECS start the
SSM agent in every container of the task (``managedAgents``: ``ExecuteCommandAgent``), and ``execute_command``
opens a Session Manager session that the ``session-manager-plugin`` connects to (``aws ecs execute-command
... --interactive``). moto has no ``ExecuteCommand`` and no plugin can be installed here, so the lab:

- copies the service's ``enableExecuteCommand`` onto each task it launches (a running task keeps what it was
  started with, as on AWS) and reports the ``ExecuteCommandAgent`` as RUNNING in ``describe_tasks``;
- answers ``execute_command`` in AWS's shape (:mod:`ecslab.lab.moto.ecs_exec` refuses in ECS's words) and runs
  the command with ``docker exec`` in the container (split into words, no shell: pipes and redirections need
  ``sh -c '...'``), outside the lab lock; the session's ``streamUrl`` is the lab's control API path where its output waits
  (``GET /ecs/exec/<sessionId>``), which :func:`ecslab.ecs_exec.run` reads and prints.

Not modelled: an interactive terminal (stdin), session logging to CloudWatch/S3, the IAM checks of ``ssmmessages``.
"""

from __future__ import annotations

import collections
import logging
import secrets
import shlex
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ecslab.lab.capacity import docker_of
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, TaskNotes

log = logging.getLogger("ecslab.lab.exec")

AGENT = "ExecuteCommandAgent"
MAX_OUTPUT = 64 * 1024
"""Bytes of a command's output the lab keeps (the rest is cut, and the cut is said)."""
MAX_SESSIONS = 100


class EcsExec(GapFiller):
    name = "ECS Exec"
    gap = "moto has no ExecuteCommand and drops enableExecuteCommand; on AWS a session needs the Session Manager plugin."
    fills = (
        "The lab keeps enableExecuteCommand, reports the ExecuteCommandAgent, refuses exec in ECS's words when it was "
        "not enabled, and runs the command in the task's container for real (docker exec); ecslab.ecs_exec.run prints its output."
    )

    def __init__(self, notes: TaskNotes | None = None) -> None:
        self.notes = notes
        self.context: FillerContext | None = None
        self.sessions: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()

    def collaborators(self) -> Sequence[object]:
        return (self.notes,) if self.notes is not None else ()

    def start(self, context: FillerContext) -> None:
        from ecslab.lab.moto import ecs_exec

        self.context = context
        ecs_exec.PATCHES.apply(self)

    def after_reset(self, context: FillerContext) -> None:
        self.context = context
        with LAB_LOCK:
            self.sessions.clear()

    def stop(self) -> None:
        from ecslab.lab.moto import ecs_exec

        ecs_exec.PATCHES.remove()

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method != "GET" or not path.startswith("/ecs/exec/"):
            return None
        session_id = path.removeprefix("/ecs/exec/").split("?")[0]
        with LAB_LOCK:
            session = self.sessions.get(session_id)
            return dict(session) if session is not None else {"error": f"no exec session {session_id}"}

    # -- task hooks (the ECS agent calls them outside the lock) ---------------------------------------------

    def prepare_task(self, task: Any, definition: Any) -> str | None:
        with LAB_LOCK:
            if getattr(task, "enable_execute_command", None) is None and str(task.group).startswith("service:"):
                from ecslab.lab.moto.ecs import backend

                assert self.context is not None
                service = backend(self.context.config.region).services.get(f"{task.cluster_name}:{task.group.split(':', 1)[1]}")
                task.enable_execute_command = bool(getattr(service, "enable_execute_command", False))
        return None

    def task_started(self, task: Any, containers: list[Any]) -> str | None:
        with LAB_LOCK:
            if getattr(task, "enable_execute_command", False):
                now = datetime.now(UTC)
                for container in task.containers:
                    container.managed_agents = [{"name": AGENT, "lastStatus": "RUNNING", "lastStartedAt": now}]
        return None

    def task_stopped(self, task: Any) -> None:
        with LAB_LOCK:
            for container in task.containers:
                for agent in getattr(container, "managed_agents", None) or []:
                    agent["lastStatus"] = "STOPPED"

    # -- what moto's ExecuteCommand calls (under the lab lock) ------------------------------------------------

    def start_session(self, task: Any, container: Any, command: str) -> dict[str, str]:
        from moto.moto_api._internal import mock_random

        assert self.context is not None
        session_id = f"ecs-execute-command-{mock_random.get_random_hex(17)}"
        self.sessions[session_id] = {
            "sessionId": session_id,
            "taskArn": task.task_arn,
            "containerName": container.name,
            "command": command,
            "status": "RUNNING",
            "exitCode": None,
            "output": "",
            "startedAt": time.time(),
        }
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        runtime_id = container.runtime_id
        threading.Thread(target=self._run, args=(session_id, runtime_id, command), name="ecs-exec", daemon=True).start()
        if self.notes is not None:
            self.notes.note(task, f"ECS Exec session {session_id} in {container.name}: {command}")
        return {
            "sessionId": session_id,
            "streamUrl": f"{self.context.config.control_url}/ecs/exec/{session_id}",
            "tokenValue": secrets.token_urlsafe(32),
        }

    def _run(self, session_id: str, runtime_id: str | None, command: str) -> None:
        LAB_LOCK.forbid("Docker I/O")
        assert self.context is not None
        output, exit_code, status = "", None, "COMPLETED"
        try:
            if not runtime_id:
                raise RuntimeError("the container is not running on this machine's Docker engine")
            api = docker_of(self.context).api
            created = api.exec_create(runtime_id, cmd=shlex.split(command), stdout=True, stderr=True)
            raw = api.exec_start(created["Id"]) or b""
            exit_code = api.exec_inspect(created["Id"]).get("ExitCode")
            output = raw[:MAX_OUTPUT].decode("utf-8", "replace")
            if len(raw) > MAX_OUTPUT:
                output += f"\n[the lab kept the first {MAX_OUTPUT} bytes of {len(raw)}]"
        except Exception as error:
            status = "FAILED"
            output = str(getattr(error, "explanation", None) or error)
        with LAB_LOCK:
            session = self.sessions.get(session_id)
            if session is not None:
                session.update(status=status, exitCode=exit_code, output=output, endedAt=time.time())
