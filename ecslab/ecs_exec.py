"""ECS Exec from the learner's side: run a command in a task's container and see its output.

On AWS, ``execute_command`` only opens a Session Manager session; the output reaches you through the
``session-manager-plugin`` that ``aws ecs execute-command ... --interactive`` starts. In the lab the same call
runs the command for real in the container and keeps its output, which :func:`run` prints. Notebook 05 (ECS Exec)
uses it.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ExecResult", "aws_cli_command", "run"]


class ExecResult(dict[str, Any]):
    """What :func:`run` found: ``execute_command``'s answer plus, in the lab, ``output``, ``exitCode`` and ``status``."""


def aws_cli_command(cluster: str, task: str, command: str, container: str | None = None) -> str:
    """The AWS CLI command that opens the same session on AWS (it needs the Session Manager plugin)."""
    parts = ["aws ecs execute-command", f"--cluster {cluster}", f"--task {task.split('/')[-1]}"]
    if container:
        parts.append(f"--container {container}")
    parts += [f'--command "{command}"', "--interactive"]
    return " ".join(parts)


def run(
    ecs: Any,
    cluster: str,
    task: str,
    command: str,
    container: str | None = None,
    lab: Any | None = None,
    timeout: float = 30,
    show: bool = True,
) -> ExecResult:
    """Run ``command`` in ``task``'s container with ECS Exec; in the lab, print its output and return it.

    ``lab`` is the :class:`ecslab.Lab` (``ecslab.connect()``); without it (or on AWS) the call is made, the
    session is returned, and how to use it with the Session Manager plugin is printed. The task must have been
    started with ``enableExecuteCommand=True``: ECS refuses otherwise (``InvalidParameterException``)."""
    request: dict[str, Any] = {"cluster": cluster, "task": task, "command": command, "interactive": True}
    if container:
        request["container"] = container
    answer = ExecResult(ecs.execute_command(**request))
    answer.pop("ResponseMetadata", None)
    if lab is None or not getattr(lab, "is_local", False):
        if show:
            print(
                f"Session {answer['session']['sessionId']} opened. On AWS the output comes through the Session Manager "
                f"plugin: run\n  {aws_cli_command(cluster, task, command, container)}"
            )
        return answer
    from ecslab.lab.manage import control

    path = "/ecs/exec/" + answer["session"]["sessionId"]
    deadline = time.monotonic() + timeout
    while True:
        session = control(lab.config, "GET", path, timeout=5)
        if session.get("status") != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    answer.update(output=session.get("output", ""), exitCode=session.get("exitCode"), status=session.get("status"))
    if show:
        print(answer["output"], end="" if str(answer["output"]).endswith("\n") else "\n")
    return answer
