"""The lab's ECS agent: tasks as real containers, services that keep them running.

On AWS, an ECS agent on each EC2 instance (or Fargate's own machinery) pulls the
images, starts the containers, reports their state, and the ECS scheduler keeps
each service at its desired count. moto only stores the API objects: its services
never start tasks, ``runningCount`` stays 0, ``list_tasks(serviceName=)`` ignores
the service, ``update_service`` keeps one deployment on the old revision,
``stop_task`` jumps straight to STOPPED, Fargate ``run_task`` crashes without a
container memory or security groups, EC2 placement failures are silent and task
definitions are barely validated.

This filler is the agent and the scheduler for the lab:

- every task (from ``run_task`` or a service) runs as one real container per
  container definition: image pulled from the lab's registry with an ECR token,
  environment, command, port mappings published on 127.0.0.1, and the task's cpu
  and memory as container limits; its labels tie it to the lab, the task and the cluster;
  an awsvpc task reports no ``networkBindings`` (as on AWS) and, with a public IP, is
  reached at an address of its own that obeys its security groups (:mod:`ecslab.lab.task_network`);
- tasks move PROVISIONING -> PENDING -> RUNNING and, when stopped, DEACTIVATING ->
  STOPPING -> DEPROVISIONING -> STOPPED in step with their containers, with
  ``createdAt``, ``pullStartedAt``, ``startedAt``, ``stoppingAt``, ``stoppedAt``,
  ``stopCode``, ``stoppedReason``, exit codes and ``networkBindings``;
- a container that exits, is killed or runs out of memory stops its task with the
  reason AWS gives, and its service starts a replacement;
- services keep ``desiredCount`` tasks, roll to a new task definition within
  ``maximumPercent``/``minimumHealthyPercent`` (a new task counts as healthy once
  RUNNING here; the load balancer issue adds health checks), and report counts,
  deployments and events as ECS does, so boto3's waiters work;
- EC2 container instances are simulated hosts: their cpu and memory are numbers
  the placement honours (RESOURCE:MEMORY, RESOURCE:CPU), while their tasks are real
  containers on this machine's engine.
- services with ``deploymentConfiguration.strategy`` BLUE_GREEN, CANARY or LINEAR deploy
  as ECS does since 2025 (green tasks in full, test and production traffic shifted by the
  load balancer's weighted rules on the lab's deployment clock, bake time, rollback on
  alarms), and every rollout is a service deployment (:mod:`ecslab.lab.service_deployments`,
  :mod:`ecslab.lab.strategies`);

Notebooks 04 and 05 show it at work.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from ecslab.config import LAB_LABEL, LAB_SECONDS_PER_AWS_MINUTE
from ecslab.lab import capacity, task_network
from ecslab.lab import reconcile as plan
from ecslab.lab.docker_runtime import DockerRuntime
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, QuietErrors, TargetHealth, TaskHooks, TaskJournal, TaskLogs
from ecslab.lab.launch_timings import LaunchClock, LaunchTimings
from ecslab.lab.moto import ecs as moto_ecs
from ecslab.lab.moto.ecs import EcsService, EcsTask, LabContainer
from ecslab.lab.records import (
    DEFAULT_DEPLOYMENT_CONFIGURATION,
    Records,
    ServiceDeploymentRecord,
    ServiceRecord,
    Target,
    TaskRecord,
)
from ecslab.lab.runtime import (
    CONTAINER_NAME_LABEL,
    TASK_LABEL,
    ContainerRuntime,
    ContainerState,
    EngineUnavailable,
    Listed,
    RunSpec,
)
from ecslab.lab.service_deployments import ServiceDeployments
from ecslab.lab.shared_pulls import SharedPulls
from ecslab.lab.task_network import TaskNetwork

log = logging.getLogger("ecslab.lab.ecs")

TICK = 0.2
STOP_TIMEOUT = 2
REMOVE_ATTEMPTS = 6
REMOVE_RETRY_S = 0.1  # times the attempt: 0.1 s, 0.2 s, ... (2.1 s at most in all)
PREPARE_AT_ONCE = 4
"""Launches whose hooks prepare at once (execution role, secrets, task role: calls to the lab's own API, all under
the lab's lock). With 20 at once each waited for all the others (1.1-2.5 s), the lab's CPU grew with the contention
and the engine started nothing meanwhile; four at a time hand the first tasks to the engine within 0.1 s while the
others prepare (benchmarks/scale.py: 20 tasks RUNNING in 4.9 s instead of 5.8-6.5 s at load 3.5-4.5)."""
TOKEN_REUSE_MARGIN_S = 3600  # the agent's registry token is used until an hour before it expires (ECR's last 12 h)
ACTIVE_STATES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")
PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")


def _now() -> datetime:
    return datetime.now(UTC)


class EngineWatch:
    """Whether the Docker engine answers, logged when that changes: once when it goes, once when it is back.

    The agent asks the engine five times a second; a traceback per failed tick would fill the lab's log
    (15-20 MB an hour) while dockerd is down."""

    def __init__(self, logger: logging.Logger = log, clock: Any = time.monotonic) -> None:
        self.logger = logger
        self.clock = clock
        self.gone_since: float | None = None
        self.gone_at: str | None = None
        self.problem: str | None = None

    def failed(self, error: BaseException) -> None:
        if self.gone_since is not None:
            return
        self.gone_since, self.gone_at = self.clock(), _now().isoformat(timespec="seconds")
        self.problem = f"{type(error).__name__}: {error}"[:500]
        self.logger.warning(
            "Docker engine not answering (%s): the ECS agent waits for it; tasks keep their last known state", self.problem
        )

    def answered(self) -> None:
        if self.gone_since is None:
            return
        self.logger.warning("Docker engine answering again after %.0f s: the ECS agent resumes", self.clock() - self.gone_since)
        self.gone_since = self.gone_at = self.problem = None

    @property
    def up(self) -> bool:
        return self.gone_since is None

    def status(self) -> dict[str, Any]:
        return {
            "engine": "answering" if self.up else "not answering",
            "engine_problem": self.problem,
            "engine_gone_since": self.gone_at,
        }


class EcsAgent(GapFiller):
    name = "ECS agent"
    gap = (
        "moto's ECS runs nothing: services never start tasks, runningCount stays 0, list_tasks ignores "
        "serviceName, update_service does not roll, stop_task jumps to STOPPED, Fargate run_task crashes, "
        "task definitions are barely validated."
    )
    fills = (
        "The lab's ECS agent runs every task as real containers (pulled from the lab's registry, ports on "
        "127.0.0.1, cpu/memory limits), moves tasks through AWS's states with their containers, keeps services "
        "at their desired count and rolls them to new revisions; EC2 instances are simulated capacity."
    )

    def __init__(
        self,
        journal: TaskJournal | None = None,
        targets: TargetHealth | None = None,
        logs: TaskLogs | None = None,
        hooks: Sequence[TaskHooks] = (),
        runtime: ContainerRuntime | None = None,
    ) -> None:
        self.journal = journal if journal is not None else TaskJournal()
        self.targets = targets  # the load balancer: ECS registers service tasks with their target groups
        self.logs = logs  # CloudWatch Logs: the awslogs driver of task containers
        self.hooks = tuple(hooks)  # fillers that act on each task launched and stopped
        self._runtime = runtime  # the container engine; Docker unless given (made at first use)
        self.context: FillerContext | None = None
        self.lock = LAB_LOCK
        self.idle = LAB_LOCK.condition()  # notified whenever a launch or stop in flight ends
        self.stopping = threading.Event()
        self.wake = threading.Event()  # set when the next tick should not wait for TICK (a service created or updated)
        self.busy: set[str] = set()  # task ARNs with a launch or stop in flight
        self.thread: threading.Thread | None = None
        self.records = Records()
        self.deployments = ServiceDeployments(self.records, lambda: self.targets, lambda: self.region)
        self.engine = EngineWatch()
        self.tick_errors = QuietErrors("ECS agent tick", log)
        self.network: TaskNetwork | None = None  # awsvpc tasks' public IPs and the gates on them (made at start)
        self.timings = LaunchTimings()  # where each launch's time went (GET /ecs/launch-timings)
        self.preparing = threading.BoundedSemaphore(PREPARE_AT_ONCE)  # launches whose hooks prepare now
        self.pulls: SharedPulls[tuple[str | None, str | None]] = SharedPulls()  # launches at once share a pull
        self._token_lock = threading.Lock()  # guards the two below (held while the lab issues a token)
        self._ecr: Any = None  # the agent's ECR client on the lab's endpoint (boto3, made once)
        self._token: tuple[dict[str, str], float] | None = None  # registry credentials, usable until (monotonic)

    def collaborators(self) -> Sequence[object]:
        return (self.journal, self.targets, self.logs, *self.hooks)

    def note(self, task: EcsTask, message: str) -> None:
        """One line of the agent's journal (``GET /ecs/agent-log``): what it did, for notebooks to show."""
        self.journal.note(task, message)

    def status(self) -> dict[str, Any]:
        return {
            "ecs_agent": self.engine.status(),
            "task_addresses": self.network.status() if self.network is not None else None,
            "deployment_clock": {
                "lab_seconds_per_aws_minute": LAB_SECONDS_PER_AWS_MINUTE,
                "says": f"ECS deployment timers (bake times, canary and linear intervals) run {60 / LAB_SECONDS_PER_AWS_MINUTE:g} "
                f"times faster in the lab: one AWS minute lasts {LAB_SECONDS_PER_AWS_MINUTE:g} s",
            },
        }

    @property
    def region(self) -> str:
        assert self.context is not None
        return str(self.context.config.region)

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method == "GET" and path == "/ecs/agent-log":
            return {"entries": list(self.journal.entries)}
        if method == "GET" and path == "/ecs/task-addresses":
            return self.task_addresses()
        if method == "GET" and path == "/ecs/launch-timings":
            return self.timings.shape()
        if method == "POST" and path == "/ecs/launch-timings/clear":
            self.timings.clear()
            return {"cleared": True}
        return None

    def task_addresses(self) -> dict[str, Any]:
        """Every task's public address and gates (:mod:`ecslab.lab.task_network`) and the lab's internal path to each
        container port (``internal``: Docker's ports on 127.0.0.1, what the lab's load balancer uses)."""
        found = self.network.status() if self.network is not None else {"tasks": {}}
        with LAB_LOCK:
            internal = {arn: record.bindings for arn, record in self.records.tasks.items() if record.bindings}
        for arn, bindings in internal.items():
            found["tasks"].setdefault(arn, {})["internal"] = [
                {"container": name, "container_port": b["containerPort"], "address": f"{b['bindIP']}:{b['hostPort']}"}
                for name, bound in bindings.items()
                for b in bound
            ]
        return found

    # -- what moto's patched ECS calls (ecslab.lab.moto.ecs.EcsLab), under the lab lock -------------------

    @property
    def registry_address(self) -> str:
        assert self.context is not None
        return self.context.config.registry_address

    def task_created(self, task: EcsTask, task_definition: Any) -> None:
        with LAB_LOCK:
            self.records.tasks[task.task_arn] = TaskRecord(task.task_arn, task_definition)

    def service_record(self, service_arn: str, *, new: bool = False) -> ServiceRecord:
        with LAB_LOCK:
            if new:
                self.records.services.pop(service_arn, None)
            return self.records.service(service_arn)

    def deployment_started(self, service: EcsService, *, creating: bool) -> None:
        with LAB_LOCK:
            self.deployments.started(service, self.backend().describe_task_definition, creating=creating)
        self.wake.set()  # the scheduler looks at the service now, not at the next tick

    def service_deployments(self, cluster_arn: str, service_arn: str) -> list[dict[str, Any]]:
        with LAB_LOCK:
            found = [
                d for d in self.records.deployments.values() if d.service_arn == service_arn and d.cluster_arn == cluster_arn
            ]
            return [self.deployments.brief(d) for d in sorted(found, key=lambda d: d.created_at, reverse=True)]

    def describe_service_deployments(self, arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with LAB_LOCK:
            tasks = [task for cluster in self.backend().tasks.values() for task in cluster.values()]
            found, failures = [], []
            for arn in arns:
                record = self.records.deployments.get(arn)
                if record is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(self.deployments.described(record, tasks))
            return found, failures

    def describe_service_revisions(self, arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with LAB_LOCK:
            found, failures = [], []
            for arn in arns:
                revision = self.records.revisions.get(arn)
                if revision is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(self.deployments.revision_shape(revision))
            return found, failures

    def stop_service_deployment(self, arn: str, stop_type: str) -> str:
        with LAB_LOCK:
            record = self.records.deployments.get(arn)
            if record is None:
                raise ValueError(f"The service deployment {arn} does not exist.")
            if record.status not in ("PENDING", "IN_PROGRESS"):
                raise ValueError(f"The service deployment {arn} cannot be stopped: its status is {record.status}.")
            record.stop_requested = stop_type
            record.status = "ROLLBACK_REQUESTED" if stop_type == "ROLLBACK" else "STOP_REQUESTED"
            record.updated_at = _now()
            return arn

    def continue_service_deployment(self, arn: str, hook_id: str, action: str | None) -> str:
        with LAB_LOCK:
            record = self.records.deployments.get(arn)
            if record is None:
                raise ValueError(f"The service deployment {arn} does not exist.")
            if record.status != "IN_PROGRESS":
                raise ValueError(f"The service deployment {arn} cannot be continued: its status is {record.status}.")
            refused = record.pauses.answer(hook_id, action)
            if refused:
                raise ValueError(refused)
            record.updated_at = _now()
            return arn

    def _task_record(self, task: EcsTask) -> TaskRecord:
        with LAB_LOCK:
            record = self.records.task(task.task_arn)
            if record is None:  # a task moto made before the patch (none in a running lab)
                record = self.records.tasks[task.task_arn] = TaskRecord(task.task_arn, None)
            return record

    # -- life -----------------------------------------------------------------------------

    def start(self, context: FillerContext) -> None:
        self.context = context
        if self.network is None and task_network.enabled():
            self.network = TaskNetwork(str(context.config.region))
        moto_ecs.PATCHES.apply(self)
        self.thread = threading.Thread(target=self._loop, name="ecs-agent", daemon=True)
        self.thread.start()

    def after_reset(self, context: FillerContext) -> None:
        """moto forgot every task: let launches in flight finish (10 s at most), then remove their containers."""
        self.context = context
        with LAB_LOCK:
            self.idle.wait_for(lambda: not self.busy, timeout=10)
            self.busy.clear()
            self.records.clear()
        if self.network is not None:
            self.network.reset()
        with self._token_lock:
            self._token = None
        try:
            containers = self.runtime.task_containers()
        except EngineUnavailable:
            return
        for by_name in containers.values():
            for container in by_name.values():
                self.runtime.remove(container)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        if self.network is not None:
            self.network.stop()
        if isinstance(self._runtime, DockerRuntime):
            self._runtime.close()
        moto_ecs.PATCHES.remove()

    @property
    def runtime(self) -> ContainerRuntime:
        if self._runtime is None:
            assert self.context is not None
            self._runtime = DockerRuntime(self._docker, str(self.context.config.home))
        return self._runtime

    def _docker(self) -> Any:
        assert self.context is not None
        if self.context.docker is None:
            from ecslab.engine import docker_client

            self.context.docker = docker_client()
        return self.context.docker

    def backend(self) -> Any:
        assert self.context is not None
        return moto_ecs.backend(self.context.config.region)

    # -- deployments ------------------------------------------------------------------------------

    def new_deployment(self, service: EcsService) -> None:
        from moto.moto_api._internal import mock_random

        with LAB_LOCK:
            now = _now()
            for deployment in service.deployments:
                if deployment["status"] == "PRIMARY":
                    deployment["status"] = "ACTIVE"
                    deployment["updatedAt"] = now
            deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
            service.deployments.insert(
                0,
                {
                    "id": deployment_id,
                    "status": "PRIMARY",
                    "taskDefinition": service.task_definition,
                    "desiredCount": service.desired_count,
                    "pendingCount": 0,
                    "runningCount": 0,
                    "failedTasks": 0,
                    "createdAt": now,
                    "updatedAt": now,
                    "launchType": service.launch_type,
                    "networkConfiguration": service.network_configuration or None,
                    "rolloutState": "IN_PROGRESS",
                    "rolloutStateReason": "ECS deployment " + deployment_id + " in progress.",
                },
            )
            self.service_record(service.arn).steady = False

    # -- the loop ----------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(TICK)
            self.wake.clear()
            if self.stopping.is_set():
                return
            self.run_tick()

    def run_tick(self) -> None:
        """One tick, kept alive whatever fails; the lab log says what happened, once per distinct error."""
        try:
            self.tick()
        except Exception as error:
            self.tick_errors.failed(error)
        else:
            self.tick_errors.succeeded()

    def tick(self) -> None:
        """Engine I/O first, without the lock; then every decision and change under it, at once."""
        backend = self.backend()
        with LAB_LOCK:
            tasks = [task for cluster_tasks in backend.tasks.values() for task in cluster_tasks.values()]
            busy_before = set(self.busy)
            running = {task.task_arn for task in tasks if task.last_status == "RUNNING" and task.desired_status != "STOPPED"}
        containers = self._task_containers()
        if containers is None:
            return  # the engine is gone: nothing can start or stop; services heal when it is back
        try:
            states = {  # inspected only when not running: the engine's I/O stays out of the lock
                arn: {name: self.runtime.state(c) for name, c in by_name.items()}
                for arn, by_name in containers.items()
                if arn in running
            }
        except EngineUnavailable as error:  # the engine went between the listing and an inspect
            self.engine.failed(error.__cause__ or error)
            return
        with LAB_LOCK:
            for task in tasks:
                # a launch that finished while the containers were being listed is not in the list yet
                if task.task_arn in self.busy or task.task_arn in busy_before or task.last_status == "STOPPED":
                    continue
                if task.desired_status == "STOPPED":
                    self._spawn(self.stop_task, task)
                elif task.last_status == "PROVISIONING":
                    self._spawn(self.launch_task, task)
                elif task.last_status == "RUNNING" and task.task_arn in running:
                    self._check_containers(task, states.get(task.task_arn, {}))
            services = list(backend.services.values())
            for service in services:
                self.reconcile(backend, service, tasks)
            self.records.forget_services_except({service.arn for service in services})  # a deleted one's records go with it
            self.records.forget_tasks_except({task.task_arn for cluster in backend.tasks.values() for task in cluster.values()})
        if self.network is not None:
            self.network.sync()  # the security groups of the tasks' public addresses, at most a second old

    def _task_containers(self) -> dict[str, dict[str, Listed]] | None:
        LAB_LOCK.forbid("Docker I/O")
        try:
            found = self.runtime.task_containers()
        except EngineUnavailable as error:
            self.engine.failed(error.__cause__ or error)
            return None
        self.engine.answered()
        return found

    def _spawn(self, work: Any, task: EcsTask) -> None:
        with LAB_LOCK:
            if task.task_arn in self.busy:
                return
            self.busy.add(task.task_arn)

        def run() -> None:
            try:
                work(task)
            except Exception as error:
                log.exception("ECS agent: %s failed for %s", work.__name__, task.task_arn)
                with LAB_LOCK:
                    pending = task.last_status in PENDING_STATES
                if pending:  # never leave a task PENDING for ever
                    try:
                        self._fail(task, "TaskFailedToStart", f"ResourceInitializationError: {error}", task.containers[0])
                    except Exception:
                        log.exception("failing %s", task.task_arn)
            finally:
                with LAB_LOCK:
                    self.busy.discard(task.task_arn)
                    self.idle.notify_all()

        threading.Thread(target=run, name=f"ecs-{work.__name__}", daemon=True).start()

    # -- one task -------------------------------------------------------------------------------------
    # A launch or a stop runs in its own thread: engine I/O and the hooks (which may call the lab's
    # AWS API) without the lock, each change to the task under it.

    def launch_task(self, task: EcsTask) -> None:
        """PROVISIONING -> PENDING -> (pull, start) -> RUNNING, or STOPPED with the reason."""
        clock = self.timings.begin(task.id, getattr(task, "created_at", None))
        with LAB_LOCK:
            definition = self._task_record(task).definition
            task.last_status = "PENDING"
            for container in task.containers:
                container.last_status = "PENDING"
            task.pull_started_at = _now()
        clock.mark("pending")
        with self.preparing:
            clock.mark("waiting to prepare")
            reason = None
            for hook in self.hooks:
                reason = hook.prepare_task(task, definition)
                clock.mark(f"prepare:{hook.name}")
                if reason:
                    break
        if reason:
            self._fail(task, "TaskFailedToStart", reason, task.containers[0])
            return
        if not self._pull_images(task, clock):
            return
        logs = self._prepare_logs(task)
        clock.mark("logs")
        if logs is None:
            return
        started = self._start_containers(task, definition, logs)
        clock.mark("run")
        if started is None:
            return
        for hook in self.hooks:
            reason = hook.task_started(task, started)
            clock.mark(f"started:{hook.name}")
            if reason:
                for running in started:
                    self.runtime.remove(running)
                self._fail(task, "TaskFailedToStart", reason, task.containers[0])
                return
        self._running(task, started, clock)

    def _pull_images(self, task: EcsTask, clock: LaunchClock | None = None) -> bool:
        self.note(task, f"PENDING: pulling {', '.join(c.image for c in task.containers)}")
        for container in task.containers:
            problem, digest = self.pulls.run(container.image, functools.partial(self._pull, container.image))
            if clock is not None:
                clock.mark("pull")
            if problem:
                with LAB_LOCK:
                    task.pull_stopped_at = _now()
                self._fail(task, "TaskFailedToStart", f"CannotPullContainerError: {problem}", container)
                return False
            with LAB_LOCK:
                container.image_digest = digest
        with LAB_LOCK:
            task.pull_stopped_at = _now()
            took = (task.pull_stopped_at - task.pull_started_at).total_seconds()
        self.note(task, f"pulled in {took:.2f} s; starting {len(task.containers)} container(s)")
        return True

    def _prepare_logs(self, task: EcsTask) -> dict[str, tuple[str, str]] | None:
        """Each container's awslogs ``(group, stream)``; ``None`` when the task failed (the reason is given)."""
        logs: dict[str, tuple[str, str]] = {}
        for container in task.containers:
            prepared = self.logs.prepare_logs(task, container.definition) if self.logs is not None else None
            if isinstance(prepared, str):
                self._fail(task, "TaskFailedToStart", prepared, container)
                return None
            if prepared is not None:
                logs[container.name] = prepared
        return logs

    def _start_containers(self, task: EcsTask, definition: Any, logs: dict[str, tuple[str, str]]) -> list[Any] | None:
        started: list[Any] = []
        for index, container in enumerate(task.containers):
            if self._stop_wanted(task):
                break
            try:
                started.append(self.runtime.run(self._run_spec(task, definition, container, index)))
                if container.name in logs and self.logs is not None:
                    self.logs.ship_logs(started[-1], *logs[container.name])
            except Exception as error:
                message = getattr(error, "explanation", None) or str(error)
                for running in started:
                    self.runtime.remove(running)
                self._fail(task, "TaskFailedToStart", f"CannotStartContainerError: {message}", container)
                return None
        return None if self._stop_wanted(task) else started

    def _stop_wanted(self, task: EcsTask) -> bool:
        with LAB_LOCK:
            return bool(task.desired_status == "STOPPED")

    def _running(self, task: EcsTask, started: list[Any], clock: LaunchClock | None = None) -> None:
        bindings = [self.runtime.bindings(handle) for handle in started]
        if clock is not None:
            clock.mark("bindings")
        internal = {container.name: bound for container, bound in zip(task.containers, bindings, strict=False)}
        reported = self.network.task_running(task, internal) if self.network is not None else internal
        if clock is not None:
            clock.mark("address")
        with LAB_LOCK:
            now = _now()
            self._task_record(task).bindings = internal  # the lab's own path to the containers (its load balancer's)
            for container, handle in zip(task.containers, started, strict=False):
                container.runtime_id = handle.id
                container.last_status = "RUNNING"
                container.network_bindings = reported.get(container.name, [])
            task.connectivity = "CONNECTED"
            task.connectivity_at = now
            task.started_at = now
            task.last_status = "RUNNING"
            self._register_targets(task)
        if clock is not None:
            clock.mark("running")
        ports = ", ".join(
            f"{name}:{b['containerPort']} -> 127.0.0.1:{b['hostPort']}" for name, bound in internal.items() for b in bound
        )
        self.note(
            task,
            f"RUNNING: {', '.join(c.runtime_id[:12] for c in task.containers if c.runtime_id)}"
            + (f" ({ports})" if ports else ""),
        )

    def _pull(self, image: str) -> tuple[str | None, str | None]:
        """Pull ``image`` as the agent would: ``(None, digest)`` when it worked, else ``(docker's words, None)``."""
        from ecslab import imageref

        assert self.context is not None
        try:
            ecr = imageref.parse(image).registry == self.context.config.registry_address
        except ValueError:
            ecr = False
        problem = self.runtime.pull(image, self._registry_auth() if ecr else None)
        if problem is not None and ecr:  # a token kept from before may have gone stale (a restarted front): once more
            problem = self.runtime.pull(image, self._registry_auth(fresh=True))
        if problem is not None:
            return f"pull image manifest has been retried 1 time(s): failed to resolve ref {image}: {problem}", None
        return None, self.runtime.image_digest(image)

    def _registry_auth(self, fresh: bool = False) -> dict[str, str]:
        """The agent's credentials for the lab's registry: one ECR token, used until an hour before it expires."""
        import base64

        import boto3

        assert self.context is not None
        LAB_LOCK.forbid("an HTTP call to the lab's own API")
        config = self.context.config
        with self._token_lock:
            if self._token is not None and not fresh and time.monotonic() < self._token[1]:
                return dict(self._token[0])
            if self._ecr is None:
                self._ecr = boto3.client(
                    "ecr",
                    endpoint_url=config.endpoint_url,
                    region_name=config.region,
                    aws_access_key_id="agent",
                    aws_secret_access_key="agent",
                )
            data = self._ecr.get_authorization_token()["authorizationData"][0]
            username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
            lasts = (data["expiresAt"] - _now()).total_seconds() - TOKEN_REUSE_MARGIN_S
            auth = {"username": username, "password": password}
            self._token = (auth, time.monotonic() + lasts)
            return dict(auth)

    def _run_spec(self, task: EcsTask, definition: Any, container: LabContainer, index: int) -> RunSpec:
        assert self.context is not None
        spec = container.definition
        extra = [hook.container_environment(task, spec) for hook in self.hooks]  # outside the lock: hooks may call the lab
        with LAB_LOCK:
            overrides: dict[str, Any] = next(
                (o for o in (task.overrides or {}).get("containerOverrides", []) if o.get("name") == container.name), {}
            )
            environment = {item["name"]: item["value"] for item in spec.get("environment") or []}
            for variables in extra:
                environment.update(variables)
            environment.update({item["name"]: item["value"] for item in overrides.get("environment") or []})
            # bridge mode honours a fixed hostPort (a second task needing it cannot start, as on one EC2 host);
            # under awsvpc each AWS task has its own IP, so the lab publishes each task on a free port instead
            fixed = definition.network_mode in (None, "bridge", "host")
            memory = spec.get("memory") or (
                int(str(definition.memory)) if definition.memory and len(task.containers) == 1 else None
            )
            task_cpu = int(str(definition.cpu)) if definition.cpu else None
            return RunSpec(
                image=spec["image"],
                name=f"ecs-{definition.family}-{definition.revision}-{container.name}-{task.id[:8]}",
                labels={
                    LAB_LABEL: str(self.context.config.home),
                    f"{LAB_LABEL}.purpose": "ecs-task",
                    TASK_LABEL: task.task_arn,
                    "com.amazonaws.ecs.cluster": task.cluster_arn,
                    CONTAINER_NAME_LABEL: container.name,
                    "com.amazonaws.ecs.task-definition-family": definition.family,
                    "com.amazonaws.ecs.task-definition-version": str(definition.revision),
                },
                environment=environment,
                command=overrides.get("command") or spec.get("command"),
                entrypoint=spec.get("entryPoint"),
                ports={
                    f"{m['containerPort']}/{m.get('protocol', 'tcp')}": (
                        "127.0.0.1",
                        m.get("hostPort") or None if fixed else None,
                    )
                    for m in spec.get("portMappings") or []
                },
                memory_mib=memory,
                memory_reservation_mib=spec.get("memoryReservation"),
                nano_cpus=int(task_cpu / 1024 * 1e9) if task_cpu else None,
                cpu_shares=int(spec["cpu"]) if spec.get("cpu") and int(spec["cpu"]) >= 2 else None,
                working_dir=spec.get("workingDirectory"),
            )

    def _check_containers(self, task: EcsTask, states: dict[str, ContainerState]) -> None:
        """A RUNNING task whose essential container is gone or exited stops, as on AWS (under the lock)."""
        for container in task.containers:
            state = states.get(container.name)
            if state is not None and state.running:
                continue
            container.last_status = "STOPPED"
            container.exit_code = state.exit_code if state is not None else None
            if state is not None and state.oom_killed:
                container.reason = "OutOfMemoryError: Container killed due to memory usage"
            elif state is None:
                container.reason = "The container was removed from the host"
            if container.essential and task.desired_status != "STOPPED":
                self.note(
                    task,
                    f"container {container.name} "
                    + (f"exited with code {container.exit_code}" if state is not None else "disappeared")
                    + (" (out of memory)" if state is not None and state.oom_killed else ""),
                )
                task.desired_status = "STOPPED"
                task.stop_code = "EssentialContainerExited"
                task.stopped_reason = "Essential container in task exited"

    def _fail(self, task: EcsTask, stop_code: str, reason: str, container: LabContainer) -> None:
        self.note(task, f"{stop_code}: {reason}")
        with LAB_LOCK:
            container.reason = reason
            task.stop_code = stop_code
            task.stopped_reason = reason
            task.desired_status = "STOPPED"
        self._finish(task)

    def stop_task(self, task: EcsTask) -> None:
        """RUNNING -> DEACTIVATING -> STOPPING -> (stop containers) -> DEPROVISIONING -> STOPPED."""
        self.note(task, f"stopping ({task.stop_code}: {task.stopped_reason})")
        with LAB_LOCK:
            task.last_status = "DEACTIVATING"
            task.stopping_at = _now()
        self._deregister_targets(task)
        with LAB_LOCK:
            task.last_status = "STOPPING"
        containers = (self._task_containers() or {}).get(task.task_arn, {})
        for container in task.containers:
            listed = containers.get(container.name)
            if listed is None:
                continue
            try:
                state = self.runtime.stop(listed, int(container.definition.get("stopTimeout") or STOP_TIMEOUT))
            except Exception:
                log.exception("stopping %s", listed.name)
                continue
            with LAB_LOCK:
                container.exit_code = state.exit_code
                if state.oom_killed:
                    container.reason = "OutOfMemoryError: Container killed due to memory usage"
        self._finish(task)

    def _remove_containers(self, task: EcsTask, attempts: int = REMOVE_ATTEMPTS) -> None:
        """Remove the task's containers and look again until none is left: STOPPED means deprovisioned.

        On a busy machine a ``docker ps`` or ``docker rm`` can time out; the task used to be reported
        STOPPED with its container still there, and a learner's ``docker rmi`` of its image right after
        ``aws ecs wait tasks-stopped`` then failed (image in use by a stopped container)."""
        for attempt in range(attempts):
            listed = self._task_containers()
            if listed is not None:
                left = listed.get(task.task_arn, {})
                if not left:
                    return
                for container in left.values():
                    self.runtime.remove(container)
            time.sleep(REMOVE_RETRY_S * (attempt + 1))
        log.warning("ECS agent: containers of %s still there after %d attempts to remove them", task.task_arn, attempts)

    def _finish(self, task: EcsTask) -> None:
        with LAB_LOCK:
            task.last_status = "DEPROVISIONING"
        self._remove_containers(task)
        if self.network is not None:
            try:
                self.network.task_stopped(task)
            except Exception:
                log.exception("freeing the address of task %s", task.task_arn)
        for hook in self.hooks:
            try:
                hook.task_stopped(task)
            except Exception:
                log.exception("%s when task %s stops", hook.name, task.task_arn)
        with LAB_LOCK:
            now = _now()
            for container in task.containers:
                container.last_status = "STOPPED"
            task.execution_stopped_at = now
            task.stopped_at = now
            task.desired_status = "STOPPED"
            task.last_status = "STOPPED"
            self._release_capacity(task)
        self.note(task, "STOPPED")

    def _release_capacity(self, task: EcsTask) -> None:
        if not task.container_instance_arn:
            return
        backend = self.backend()
        instances = backend.container_instances.get(task.cluster_name, {})
        instance = instances.get(task.container_instance_arn.split("/")[-1])
        if instance is not None and task.resource_requirements:
            backend.update_container_instance_resources(instance, task.resource_requirements, removing=True)

    # -- load balancers ---------------------------------------------------------------------------

    def _service_of(self, task: EcsTask) -> EcsService | None:
        if not str(task.group).startswith("service:"):
            return None
        return self.backend().services.get(f"{task.cluster_name}:{task.group.split(':', 1)[1]}")

    def _register_targets(self, task: EcsTask) -> None:
        """ECS registers a service's new task with each of its target groups once it runs (under the lock)."""
        service = self._service_of(task)
        alb = self.targets
        if service is None or not service.load_balancers or alb is None:
            return
        registered: list[Target] = []
        for entry in service.load_balancers:
            group = alb.target_group(self.deployments.target_group_for(service, entry, task))
            container = next((c for c in task.containers if c.name == entry.get("containerName")), None)
            if group is None or container is None:
                continue
            bound = self._task_record(task).bindings.get(container.name, container.network_bindings)
            binding = next((b for b in bound if b["containerPort"] == int(entry.get("containerPort", 0))), None)
            if binding is None:
                continue
            target_id, port = self._target_of(task, group.target_type, binding)
            if target_id is None:
                continue
            alb.address(target_id, port, binding["bindIP"], binding["hostPort"])
            if not alb.register_target(group.arn, target_id, port):
                continue
            registered.append(Target(group.arn, target_id, port))
            self.note(task, f"registered {target_id}:{port} with target group {group.name}")
        self._task_record(task).targets = registered

    def _target_of(self, task: EcsTask, target_type: str, binding: dict[str, Any]) -> tuple[str | None, int]:
        """The task's target: its ENI's IP and the container port (target type ip), or its instance and host port."""
        if target_type == "ip":
            address = next(
                (d["value"] for a in task.attachments for d in a.get("details", []) if d["name"] == "privateIPv4Address"), None
            )
            return address, int(binding["containerPort"])
        instances = self.backend().container_instances.get(task.cluster_name, {})
        instance = instances.get(str(task.container_instance_arn).split("/")[-1])
        return (instance.ec2_instance_id if instance else None), int(binding["hostPort"])

    def _deregister_targets(self, task: EcsTask) -> None:
        """Before its containers stop, a task leaves its target groups and drains (deregistration delay)."""
        alb = self.targets
        with LAB_LOCK:
            targets = list(self._task_record(task).targets)
            if not targets or alb is None:
                return
            delays = [delay for target in targets if (delay := alb.deregister_target(*_key(target))) is not None]
        self.note(task, f"deregistered from {len(delays)} target group(s); draining up to {max(delays, default=0)} s")
        deadline = time.monotonic() + max(delays, default=0) + 2
        while time.monotonic() < deadline and not all(alb.drained(*_key(t)) for t in targets):
            if self.stopping.wait(0.1):
                return

    def _healthy(self, task: EcsTask, service: EcsService) -> bool:
        """RUNNING, and healthy in every target group when the service has a load balancer."""
        if task.last_status != "RUNNING":
            return False
        if not service.load_balancers:
            return True
        targets = self._task_record(task).targets
        alb = self.targets
        return bool(targets) and alb is not None and all(alb.state_of(*_key(target)) == "healthy" for target in targets)

    def _known_unhealthy(self, task: EcsTask) -> bool:
        alb = self.targets
        targets = self._task_record(task).targets
        return alb is not None and any(alb.state_of(*_key(target)) in ("unhealthy", "draining") for target in targets)

    def _failed_health_checks(self, task: EcsTask, service: EcsService) -> str | None:
        alb = self.targets
        grace = int(getattr(service, "health_check_grace_period_seconds", 0) or 0)
        if alb is None or task.last_status != "RUNNING" or (_now() - task.started_at).total_seconds() < grace:
            return None
        for target in self._task_record(task).targets:
            if alb.state_of(*_key(target)) == "unhealthy":
                return target.target_group_arn
        return None

    # -- services (under the lock; the decisions are ecslab.lab.reconcile's pure functions) ---------------

    def reconcile(self, backend: Any, service: EcsService, tasks: list[EcsTask]) -> None:
        group = f"service:{service.name}"
        mine = [t for t in tasks if t.group == group and t.cluster_arn == service.cluster_arn]
        active = [t for t in mine if t.desired_status == "RUNNING"]
        if service.status != "ACTIVE":
            for task in active:
                self._scale_in(task, service, "Service deleted")
            service.running_count = sum(t.last_status == "RUNNING" for t in active)
            return
        if not service.deployments:
            return
        primary = service.deployments[0]
        stopped = self._replace_unhealthy(service, active)
        active = [t for t in active if t not in stopped]
        primary_tasks = [t for t in active if t.started_by == primary["id"]]
        old_tasks = [t for t in active if t.started_by != primary["id"]]
        configuration = getattr(service, "deployment_configuration", None) or dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
        limits = plan.bounds(int(service.desired_count), configuration)
        shifting = self.deployments.shifting(service)
        if shifting is not None:  # BLUE_GREEN, CANARY, LINEAR: the green tasks start in full beside the blue ones
            wanted = max(limits.desired - len(primary_tasks), 0)
        else:
            wanted = plan.tasks_to_start(limits, len(primary_tasks), len(active), bool(old_tasks))
        self._start_tasks(backend, service, mine, wanted)
        # Old revisions go only while enough healthy tasks remain. A new task counts once it passed
        # its health checks; an old RUNNING task counts unless its load balancer found it unhealthy.
        healthy_primary = [t for t in primary_tasks if self._healthy(t, service)]
        old = [
            plan.OldTask(t.task_arn, t.created_at, t.last_status == "RUNNING" and not self._known_unhealthy(t)) for t in old_tasks
        ]
        if shifting is not None:  # the blue tasks end only after the traffic shift and the bake time (CLEAN_UP)
            going = [t.arn for t in old] if self.deployments.shift(service, shifting, len(healthy_primary)) else []
        else:
            going = plan.old_tasks_to_stop(old, len(healthy_primary), limits.minimum_healthy)
        going += plan.extra_tasks({t.task_arn: t.created_at for t in primary_tasks}, limits.desired)
        by_arn = {t.task_arn: t for t in old_tasks + primary_tasks}
        for arn in going:
            self._scale_in(by_arn[arn], service, f"Scaling activity initiated by (deployment {primary['id']})")
            stopped.append(by_arn[arn])
        if stopped:
            self._event(
                service,
                f"(service {service.name}) has stopped {len(stopped)} running tasks: "
                + " ".join(f"(task {t.id})" for t in stopped)
                + ".",
            )
        self._update_counts(service, mine, active, stopped)
        self._circuit_breaker(service, configuration, limits.desired)
        self._watch_deployment(service)
        for deployment in list(service.deployments[1:]):
            if not any(t.started_by == deployment["id"] and t.desired_status == "RUNNING" for t in active if t not in stopped):
                service.deployments.remove(deployment)
        self._settle(service, plan.steady(len(service.deployments), len(healthy_primary), len(primary_tasks), limits.desired))
        self.deployments.follow(service)

    def _replace_unhealthy(self, service: EcsService, active: list[EcsTask]) -> list[EcsTask]:
        """ECS replaces tasks that fail their load balancer's health checks."""
        stopped = []
        for task in active:
            group_arn = self._failed_health_checks(task, service)
            if group_arn:
                self._scale_in(task, service, f"Task failed ELB health checks in (target-group {group_arn})")
                self._task_record(task).failed_health_checks = True
                stopped.append(task)
        return stopped

    def _start_tasks(self, backend: Any, service: EcsService, mine: list[EcsTask], wanted: int) -> None:
        """Start up to ``wanted`` tasks of the primary deployment, unless failing tasks back off or the rollout failed."""
        primary = service.deployments[0]
        record = self.service_record(service.arn)
        failures = [
            t.stopped_at for t in mine if self._failed(t) and t.last_status == "STOPPED" and getattr(t, "stopped_at", None)
        ]
        if wanted <= 0 or plan.backing_off(failures, _now()) or primary["rolloutState"] == "FAILED":
            return
        if time.monotonic() < record.next_launch:
            return
        started = [
            task for task in (self._launch_for_service(backend, service, primary) for _ in range(wanted)) if task is not None
        ]
        for task in started:  # the agent takes each new task now (PROVISIONING -> PENDING), not at the next tick
            self._spawn(self.launch_task, task)
        if started:
            self._event(
                service,
                f"(service {service.name}) has started {len(started)} tasks: "
                + " ".join(f"(task {t.id})" for t in started)
                + ".",
            )
            record.steady = False

    def _settle(self, service: EcsService, steady: bool) -> None:
        primary = service.deployments[0]
        record = self.service_record(service.arn)
        if steady and primary["rolloutState"] == "IN_PROGRESS":
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
            record.last_completed = primary["taskDefinition"]
            self._event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
        if steady and not record.steady:
            self._event(service, f"(service {service.name}) has reached a steady state.")
        record.steady = steady

    def _circuit_breaker(self, service: EcsService, configuration: dict[str, Any], desired: int) -> None:
        """ECS's deployment circuit breaker: too many failed tasks fail the rollout, and may roll back."""
        breaker = configuration.get("deploymentCircuitBreaker") or {}
        primary = service.deployments[0]
        if not plan.breaker_trips(breaker, primary["rolloutState"], primary["failedTasks"], desired):
            return
        record = self.records.deployment_of(service.arn, primary["id"])
        if record is not None:
            record.breaker_failures = int(primary["failedTasks"])
        self._fail_deployment(
            service,
            "ECS deployment circuit breaker: tasks failed to start.",
            "tasks failed to start",
            bool(breaker.get("rollback")),
        )

    def _watch_deployment(self, service: EcsService) -> None:
        """A deployment in progress fails on its CloudWatch alarms (``deploymentConfiguration.alarms``) or by request."""
        if not service.deployments:
            return
        primary = service.deployments[0]
        record = self.records.deployment_of(service.arn, primary["id"])
        if record is None:
            return
        if record.stop_requested is not None:
            stop_type, record.stop_requested = record.stop_requested, None
            self._fail_deployment(
                service, "Service deployment stopped by user request.", "stopped by user request", stop_type == "ROLLBACK", record
            )
            return
        if record.hook_rollback and record.status == "IN_PROGRESS":
            record.hook_rollback = False
            self._fail_deployment(
                service, "Service deployment rolled back by a lifecycle hook.", "rolled back by a lifecycle hook", True, record
            )
            return
        if record.status != "IN_PROGRESS":
            return
        if record.green_group is not None and record.lifecycle_stage in ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP"):
            return  # alarms are watched while traffic shifts and during the bake time
        triggered = self.deployments.triggered_alarms(record)
        if triggered:
            record.triggered_alarms = triggered
            alarms = record.configuration.get("alarms") or {}
            self._fail_deployment(
                service,
                f"ECS deployment alarm(s) {', '.join(triggered)} in ALARM state.",
                f"alarm(s) {', '.join(triggered)} in ALARM state",
                bool(alarms.get("rollback")),
                record,
            )

    def _fail_deployment(
        self, service: EcsService, reason: str, why: str, rollback: bool, record: ServiceDeploymentRecord | None = None
    ) -> None:
        """The primary deployment failed: roll back to the last completed one (production traffic back to blue), or stop."""
        primary = service.deployments[0]
        record = record or self.records.deployment_of(service.arn, primary["id"])
        now = _now()
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = reason
        self._event(service, f"(service {service.name}) (deployment {primary['id']}) deployment failed: {why}.")
        back_to: str | None = None
        if record is not None and record.green_group is not None:  # a shifting deployment: blue still runs
            blue = next((d for d in service.deployments[1:] if d["status"] != "PRIMARY"), None)
            if rollback and blue is not None:
                self.deployments.roll_back_traffic(service, record)
                service.deployments.remove(blue)
                blue["status"], blue["updatedAt"] = "PRIMARY", now
                primary["status"] = "ACTIVE"
                service.deployments.insert(0, blue)
                service.task_definition = blue["taskDefinition"]
                back_to = blue["id"]
                self._event(
                    service,
                    f"(service {service.name}) rolling back to {blue['taskDefinition'].split('/')[-1]} (deployment {blue['id']}).",
                )
        else:
            previous = plan.rollback_target(
                {"rollback": rollback}, self.service_record(service.arn).last_completed, primary["taskDefinition"]
            )
            if previous is not None:
                service.task_definition = previous
                self.new_deployment(service)
                back_to = service.deployments[0]["id"]
                self._event(
                    service, f"(service {service.name}) rolling back to {previous.split('/')[-1]} (deployment {back_to})."
                )
        if record is None:
            return
        record.status_reason, record.updated_at = reason, now
        if back_to is not None:
            record.status = "ROLLBACK_IN_PROGRESS"
            record.rollback_deployment_id = back_to
            good = self.deployments.last_good_revision(service.arn, record.arn)
            record.rollback = {
                "reason": reason,
                "startedAt": now,
                "serviceRevisionArn": good
                or (record.source_revisions[-1] if record.source_revisions else record.target_revision),
            }
        else:
            record.status, record.stopped_at = "STOPPED", now

    def _update_counts(self, service: EcsService, mine: list[EcsTask], active: list[EcsTask], stopped: list[EcsTask]) -> None:
        still = [t for t in active if t not in stopped]
        service.running_count = sum(t.last_status == "RUNNING" for t in still)
        service.pending_count = sum(t.last_status in PENDING_STATES for t in still)
        now = _now()
        for deployment in service.deployments:
            deployment["failedTasks"] = sum(t.started_by == deployment["id"] and self._failed(t) for t in mine)
            own = [t for t in still if t.started_by == deployment["id"]]
            counts = (sum(t.last_status == "RUNNING" for t in own), sum(t.last_status in PENDING_STATES for t in own))
            desired = service.desired_count if deployment["status"] == "PRIMARY" else len(own)
            if (deployment["runningCount"], deployment["pendingCount"], deployment["desiredCount"]) != (*counts, desired):
                deployment["runningCount"], deployment["pendingCount"], deployment["desiredCount"] = *counts, desired
                deployment["updatedAt"] = now

    def _failed(self, task: EcsTask) -> bool:
        """Whether a task counts as failed for back-off and the circuit breaker."""
        record = self.records.task(task.task_arn)
        return task.stop_code in ("TaskFailedToStart", "EssentialContainerExited") or (
            record is not None and record.failed_health_checks
        )

    def _scale_in(self, task: EcsTask, service: EcsService, reason: str) -> None:
        if task.desired_status == "RUNNING":
            task.desired_status = "STOPPED"
            task.stop_code = "ServiceSchedulerInitiated"
            task.stopped_reason = reason

    def _launch_for_service(self, backend: Any, service: EcsService, deployment: dict[str, Any]) -> EcsTask | None:
        from moto.ecs.models import Task

        cluster = backend._get_cluster(service.cluster_name)
        definition = backend.describe_task_definition(deployment["taskDefinition"])
        needs = backend._calculate_task_resource_requirements(definition)
        instance_arn = None
        provider = capacity.provider_for_next_task(backend, service)  # FARGATE/FARGATE_SPOT by base and weight (issue 16)
        launch_type = "FARGATE" if provider else service.launch_type or "EC2"
        if launch_type == "EC2":
            instance = self._place(backend, cluster, service, needs)
            if instance is None:
                return None
            instance_arn = instance.container_instance_arn
            backend.update_container_instance_resources(instance, needs)
        made = Task(
            cluster,
            definition,
            instance_arn,
            needs,
            backend=backend,
            group=f"service:{service.name}",
            launch_type=launch_type,
            started_by=deployment["id"],
            networking_configuration=service.network_configuration or None,
            platform_version=service.platform_version,
            capacity_provider_name=provider,
        )
        task = cast("EcsTask", made)  # moto's Task, with what the patched __init__ added
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return task

    def _place(self, backend: Any, cluster: Any, service: EcsService, needs: dict[str, Any]) -> Any | None:
        instances = list(backend.container_instances.get(cluster.name, {}).values())
        views = [plan.Instance(i.container_instance_arn, i.status == "ACTIVE", i.remaining_resources) for i in instances]
        chosen = plan.place(views, needs)
        if chosen is not None:
            return instances[views.index(chosen)]
        active = [i for i in instances if i.status == "ACTIVE"]
        if active:
            closest = active[0]
            what = plan.placement_failure(closest.remaining_resources, needs).split(":")[-1].lower()
            message = (
                f"(service {service.name}) was unable to place a task because no container instance met all of its requirements. "
                f"The closest matching (container-instance {closest.container_instance_arn.split('/')[-1]}) has insufficient {what} available. "
                "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
            )
        else:
            message = f"(service {service.name}) was unable to place a task because no container instance met all of its requirements. Reason: No Container Instances were found in your cluster."  # noqa: E501 (ECS's own words)
        if not service.events or service.events[0]["message"] != message:
            self._event(service, message)
        self.service_record(service.arn).next_launch = time.monotonic() + 2
        return None

    def _event(self, service: EcsService, message: str) -> None:
        from moto.moto_api._internal import mock_random

        service.events.insert(0, {"id": str(mock_random.uuid4()), "createdAt": _now(), "message": message})
        del service.events[100:]


def _key(target: Target) -> tuple[str, str, int]:
    return target.target_group_arn, target.target_id, target.port
