"""The lab's changes to moto's ECS, declared as one patch set (the only module touching moto's ECS internals).

The patches call back into the lab through :class:`EcsLab` (the ECS agent implements it); the lab's
own state goes into :mod:`ecslab.lab.records`, never onto moto's objects. Most act on moto's backend;
four act on its response handlers because moto's handler never passes the parameter to the backend
(``deploymentConfiguration``, ``healthCheckGracePeriodSeconds``, ``totalResources``) or because the
answer has a part the backend does not return (``run_task``'s ``failures``). The service deployments
API (``ListServiceDeployments``, ``DescribeServiceDeployments``, ``DescribeServiceRevisions``,
``StopServiceDeployment``), which moto lacks, is added to its backend (answered from the lab's records) with a
response handler that only reads the request's parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from ecslab.config import ACCOUNT_ID
from ecslab.lab import strategies
from ecslab.lab.moto.patching import ABSENT, PatchSet, declare
from ecslab.lab.reconcile import deployment_configuration_problem, placement_failure
from ecslab.lab.records import DEFAULT_DEPLOYMENT_CONFIGURATION, ServiceRecord

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.ecs.models import Cluster, EC2ContainerServiceBackend, Service, Task, TaskDefinition
    from moto.ecs.responses import EC2ContainerServiceResponse

MODELS = "moto.ecs.models"
BACKEND = f"{MODELS}:EC2ContainerServiceBackend"
RESPONSE = "moto.ecs.responses:EC2ContainerServiceResponse"


class EcsTask(Protocol):
    """moto's ECS ``Task`` as the lab uses it (with what the patched ``__init__`` adds: containers, timestamps)."""

    task_arn: str
    id: str
    cluster_arn: str
    cluster_name: str
    group: str
    started_by: str
    last_status: str
    desired_status: str
    stop_code: str | None
    stopped_reason: str | None
    containers: list[LabContainer]
    overrides: dict[str, Any] | None
    attachments: list[dict[str, Any]]
    container_instance_arn: str | None
    resource_requirements: dict[str, Any] | None
    created_at: datetime
    started_at: datetime
    stopped_at: datetime
    stopping_at: datetime
    execution_stopped_at: datetime
    pull_started_at: datetime
    pull_stopped_at: datetime
    connectivity: str
    connectivity_at: datetime
    version: int
    cpu: str | None
    memory: str | None
    availability_zone: str


class EcsService(Protocol):
    """moto's ECS ``Service`` as the lab uses it (with the API fields the lab keeps on it)."""

    arn: str
    name: str
    status: str
    cluster_arn: str
    cluster_name: str
    task_definition: str
    desired_count: int
    running_count: int
    pending_count: int
    launch_type: str | None
    platform_version: str | None
    network_configuration: dict[str, Any] | None
    load_balancers: list[dict[str, Any]]
    deployments: list[dict[str, Any]]
    events: list[dict[str, Any]]
    deployment_configuration: dict[str, Any]  # API fields moto's handlers drop; the lab keeps them on the service
    health_check_grace_period_seconds: int


class EcsLab(Protocol):
    """What the patches need from the lab."""

    @property
    def registry_address(self) -> str: ...

    def task_created(self, task: EcsTask, task_definition: TaskDefinition) -> None:
        """moto made a task (``run_task``, ``start_task`` or the lab's scheduler)."""

    def new_deployment(self, service: EcsService) -> None:
        """``update_service`` changed the service's task definition (or forced a new deployment)."""

    def service_record(self, service_arn: str, *, new: bool = False) -> ServiceRecord:
        """The lab's record of a service; ``new``: a fresh one (a service made again under the same name)."""
        ...

    def deployment_started(self, service: EcsService, *, creating: bool) -> None:
        """create_service/update_service finished: the service deployment of its primary deployment, if new, begins."""

    def service_deployments(self, cluster_arn: str, service_arn: str) -> list[dict[str, Any]]:
        """The service's deployments, newest first, as ``ListServiceDeployments`` lists them (ServiceDeploymentBrief)."""
        ...

    def describe_service_deployments(self, arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(ServiceDeployment shapes, failures) for these ARNs."""
        ...

    def describe_service_revisions(self, arns: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(ServiceRevision shapes, failures) for these ARNs."""
        ...

    def stop_service_deployment(self, arn: str, stop_type: str) -> str:
        """Stop (ROLLBACK) a service deployment; its ARN. Raises ``ValueError`` with ECS's words when it cannot."""
        ...

    def continue_service_deployment(self, arn: str, hook_id: str, action: str | None) -> str:
        """Answer a PAUSE lifecycle hook (CONTINUE or ROLLBACK); the deployment's ARN. ``ValueError`` when it cannot."""
        ...


PATCHES: PatchSet[EcsLab] = declare(PatchSet("ecs"))


class LabContainer:
    """A container of a task, as ``describe_tasks`` reports it (moto's task has no containers of its own)."""

    def __init__(self, task_arn: str, task_definition_arn: str, definition: dict[str, Any], index: int) -> None:
        from moto.moto_api._internal import mock_random

        self.container_arn = f"arn:aws:ecs:{task_definition_arn.split(':')[3]}:{ACCOUNT_ID}:container/{mock_random.uuid4()}"
        self.task_arn = task_arn
        self.name = definition.get("name", f"container-{index}")
        self.image = str(definition.get("image") or "")
        self.image_digest: str | None = None  # the manifest digest pulled, set by the agent (AWS reports it)
        self.last_status = "PENDING"
        self.exit_code: int | None = None
        self.reason: str | None = None
        self.network_bindings: list[dict[str, Any]] = []
        self.network_interfaces: list[dict[str, Any]] = []
        self.health_status = "UNKNOWN"
        self.runtime_id: str | None = None
        self.cpu = str(definition.get("cpu", 0))
        self.memory = str(definition["memory"]) if definition.get("memory") is not None else None
        self.memory_reservation = (
            str(definition["memoryReservation"]) if definition.get("memoryReservation") is not None else None
        )
        self.essential = definition.get("essential", True)
        self.definition = definition


def pin_task_transitions() -> None:
    """moto moves a task one state per ``describe_tasks``; the lab moves them itself (manual progression)."""
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})


def backend(region: str) -> EC2ContainerServiceBackend:
    from moto.ecs.models import ecs_backends

    return ecs_backends[ACCOUNT_ID][region]


def task_requirements(task_definition: TaskDefinition) -> dict[str, Any]:
    """The cpu, memory and host ports a task needs on a container instance (task level wins when larger)."""
    cpu = 0
    memory = 0
    ports = []
    for definition in cast("list[dict[str, Any]]", task_definition.container_definitions):
        cpu += int(definition.get("cpu") or 0)
        memory += int(definition.get("memory") or definition.get("memoryReservation") or 0)
        ports += [m["hostPort"] for m in definition.get("portMappings") or [] if m.get("hostPort")]
    if task_definition.cpu:
        cpu = max(cpu, int(str(task_definition.cpu)))
    if task_definition.memory:
        memory = max(memory, int(str(task_definition.memory)))
    return {"CPU": cpu, "MEMORY": memory, "PORTS": ports, "PORTS_UDP": []}


def with_default_security_group(configuration: dict[str, Any] | None, region: str) -> dict[str, Any] | None:
    """AWS uses the VPC's default security group when none is given; moto crashes."""
    if not configuration or configuration.get("awsvpcConfiguration", {}).get("securityGroups"):
        return configuration
    from moto.ec2.models import ec2_backends

    awsvpc = dict(configuration.get("awsvpcConfiguration", {}))
    ec2 = ec2_backends[ACCOUNT_ID][region]
    try:
        subnet = ec2.get_subnet(awsvpc["subnets"][0])
    except Exception:
        return configuration  # moto's own check reports the missing subnet in AWS's words
    default_group = ec2.get_security_group_from_name("default", vpc_id=subnet.vpc_id)
    if default_group is not None:
        awsvpc["securityGroups"] = [default_group.id]
    return {**configuration, "awsvpcConfiguration": awsvpc}


@PATCHES.patch(
    f"{MODELS}:Service",
    "_validate_network",
    "(self, nc: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]",
    "a service without security groups gets its VPC's default group",
)
def _validate_network(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    def validate_network_with_default_group(service: Service, configuration: dict[str, Any]) -> Any:
        return original(service, with_default_security_group(configuration, service.region_name))

    return validate_network_with_default_group


TASK_INIT = (
    "(self, cluster: moto.ecs.models.Cluster, task_definition: moto.ecs.models.TaskDefinition, container_instance_arn: "
    "str | None, resource_requirements: dict[str, str] | None, backend: 'EC2ContainerServiceBackend', group: str, "
    "launch_type: str = '', overrides: dict[str, typing.Any] | None = None, started_by: str = '', tags: "
    "list[dict[str, str]] | None = None, networking_configuration: dict[str, typing.Any] | None = None, platform_version: "
    "str | None = None, capacity_provider_name: str | None = None)"
)


@PATCHES.patch(f"{MODELS}:Task", "__init__", TASK_INIT, "a task starts PROVISIONING with its containers and timestamps")
def _task_init(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    def task_init_for_real(task: EcsTask, cluster: Cluster, task_definition: TaskDefinition, *args: Any, **kwargs: Any) -> None:
        kwargs["networking_configuration"] = with_default_security_group(
            kwargs.get("networking_configuration"), cluster.region_name
        )
        original(task, cluster, task_definition, *args, **kwargs)
        task.created_at = datetime.now(UTC)
        task.version = 1
        task.cpu = task_definition.cpu
        task.memory = task_definition.memory
        task.availability_zone = f"{cluster.region_name}a"
        task.last_status = "PROVISIONING"
        task.stop_code = None
        task.stopped_reason = None
        task.containers = [
            LabContainer(task.task_arn, task_definition.arn, definition, index)
            for index, definition in enumerate(task_definition.container_definitions)
        ]
        lab.task_created(task, task_definition)

    return task_init_for_real


@PATCHES.patch(
    BACKEND,
    "_calculate_task_resource_requirements",
    "(task_definition: moto.ecs.models.TaskDefinition) -> dict[str, typing.Any]",
    "task-level cpu/memory count, and memoryReservation",
)
def _requirements(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    return staticmethod(task_requirements)


REGISTER = (
    "(self, family: str, container_definitions: list[dict[str, typing.Any]], volumes: list[dict[str, typing.Any]] | None "
    "= None, network_mode: str | None = None, tags: list[dict[str, str]] | None = None, placement_constraints: "
    "list[dict[str, str]] | None = None, requires_compatibilities: list[str] | None = None, cpu: str | None = None, "
    "memory: str | None = None, task_role_arn: str | None = None, execution_role_arn: str | None = None, "
    "proxy_configuration: dict[str, typing.Any] | None = None, inference_accelerators: list[dict[str, str]] | None = "
    "None, runtime_platform: dict[str, str] | None = None, ipc_mode: str | None = None, pid_mode: str | None = None, "
    "ephemeral_storage: dict[str, int] | None = None) -> moto.ecs.models.TaskDefinition"
)


@PATCHES.patch(BACKEND, "register_task_definition", REGISTER, "ECS's validation of task definitions")
def _register(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    from moto.ecs.exceptions import EcsClientException

    from ecslab import ecs_validation

    def register_checked(
        backend: Any, family: str, container_definitions: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Any:
        request = {
            "family": family,
            "containerDefinitions": container_definitions,
            "networkMode": kwargs.get("network_mode"),
            "requiresCompatibilities": kwargs.get("requires_compatibilities"),
            "cpu": kwargs.get("cpu"),
            "memory": kwargs.get("memory"),
            "executionRoleArn": kwargs.get("execution_role_arn"),
        }
        found = ecs_validation.problems(request, lab.registry_address)
        if found:
            raise EcsClientException(found[0])
        return original(backend, family, container_definitions, *args, **kwargs)

    return register_checked


LIST_TASKS = (
    "(self, cluster_str: str | None = None, container_instance: str | None = None, family: str | None = None, started_by: "
    "str | None = None, service_name: str | None = None, desiredStatus: str | None = None) -> list[moto.ecs.models.Task]"
)


@PATCHES.patch(BACKEND, "list_tasks", LIST_TASKS, "serviceName filters; the cluster matches by name, not substring")
def _list_tasks(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    def list_tasks_by_service(
        backend: EC2ContainerServiceBackend,
        cluster_str: str | None = None,
        container_instance: str | None = None,
        family: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        desiredStatus: str | None = None,
    ) -> Any:
        tasks = original(backend, cluster_str, container_instance, family, started_by, None, desiredStatus or "RUNNING")
        if cluster_str:  # moto keeps every task whose cluster ARN merely contains the name
            cluster_name = backend._get_cluster(cluster_str).name
            tasks = [task for task in tasks if task.cluster_name == cluster_name]
        if service_name:
            tasks = [task for task in tasks if task.group == f"service:{service_name.split('/')[-1]}"]
        return tasks

    return list_tasks_by_service


@PATCHES.patch(
    BACKEND,
    "stop_task",
    "(self, cluster_str: str, task_str: str, reason: str) -> moto.ecs.models.Task",
    "stop_task asks the agent to stop the task (DEACTIVATING ... STOPPED), not STOPPED at once",
)
def _stop_task(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    from moto.ecs.exceptions import InvalidParameterException

    def stop_task_gracefully(backend: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Task:
        cluster = backend._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in backend.tasks.get(cluster.name, {}).items():
            if arn.endswith(task_id):
                lab_task = cast("EcsTask", task)
                if lab_task.desired_status != "STOPPED":
                    lab_task.desired_status = "STOPPED"
                    lab_task.stopped_reason = reason or "Task stopped by user"
                    lab_task.stop_code = "UserInitiated"
                return task
        raise InvalidParameterException("The referenced task was not found.")

    return stop_task_gracefully


@PATCHES.patch(
    BACKEND,
    "delete_cluster",
    "(self, cluster_str: str) -> moto.ecs.models.Cluster",
    "a cluster with active services or tasks cannot be deleted",
)
def _delete_cluster(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    from moto.ecs.exceptions import EcsClientException

    def delete_cluster_if_empty(backend: EC2ContainerServiceBackend, cluster_str: str) -> Cluster:
        cluster = backend._get_cluster(cluster_str)
        if any(s.cluster_name == cluster.name and s.status == "ACTIVE" for s in backend.services.values()):
            raise EcsClientException("The Cluster cannot be deleted while Services are active.")
        if any(t.desired_status == "RUNNING" for t in backend.tasks.get(cluster.name, {}).values()):
            raise EcsClientException("The Cluster cannot be deleted while Tasks are active.")
        return original(backend, cluster_str)

    return delete_cluster_if_empty


@PATCHES.patch(
    BACKEND,
    "update_service",
    "(self, service_properties: dict[str, typing.Any]) -> moto.ecs.models.Service",
    "a new task definition starts a deployment the agent rolls out; counts stay what they are",
)
def _update_service(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    def update_service_for_real(backend: EC2ContainerServiceBackend, properties: dict[str, Any]) -> Service:
        cluster_str = properties.get("cluster", "default")
        name = properties["service"].split("/")[-1]
        old = backend._get_service(cluster_str, name)
        old_definition, old_running, old_pending = old.task_definition, old.running_count, old.pending_count
        force = bool(properties.get("force_new_deployment"))
        service = original(backend, properties)
        service.running_count, service.pending_count = old_running, old_pending  # moto pretends all are running
        new_definition = service.task_definition
        if new_definition and ":" not in new_definition.split("/")[-1]:
            new_definition = backend.describe_task_definition(new_definition).arn
            service.task_definition = new_definition
        if new_definition != old_definition or force:
            lab.new_deployment(service)
        return service

    return update_service_for_real


def _remember_deployment_configuration(creating: bool) -> Callable[[Callable[..., Any], EcsLab], Callable[..., object]]:
    """create_service/update_service: ECS's deploymentConfiguration and grace period (moto's handler drops both).

    Both are API fields: they go on moto's ``Service``, whose ``describe_services`` answer carries them."""

    def wrap(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
        from moto.ecs.exceptions import InvalidParameterException

        def handler(response: EC2ContainerServiceResponse) -> ActionResult:
            param = response._get_param
            configuration = param("deploymentConfiguration") or {}
            cluster, name = param("cluster", "default"), param("serviceName") or param("service")
            earlier: dict[str, Any] = {}
            if not creating:  # a new service never inherits from a deleted one of the same name
                try:
                    earlier = getattr(response.ecs_backend._get_service(cluster, name), "deployment_configuration", None) or {}
                except Exception:
                    earlier = {}
            definition_name = param("taskDefinition")
            if definition_name and not param("networkConfiguration") and not earlier:
                if response.ecs_backend.describe_task_definition(definition_name).network_mode == "awsvpc":
                    raise InvalidParameterException(
                        "Network Configuration must be provided when networkMode 'awsvpc' is specified."
                    )
            merged = {**DEFAULT_DEPLOYMENT_CONFIGURATION, **earlier, **configuration}
            if configuration.get("strategy") and configuration["strategy"] != earlier.get("strategy"):
                # a strategy's settings and lifecycle hooks go with it (the lab's choice where AWS's docs are silent)
                for other in ("canaryConfiguration", "linearConfiguration", "lifecycleHooks"):
                    if other not in configuration:
                        merged.pop(other, None)
            load_balancers = param("loadBalancers")
            if load_balancers is None and not creating:
                try:
                    load_balancers = response.ecs_backend._get_service(cluster, name).load_balancers
                except Exception:
                    load_balancers = None
            problem = deployment_configuration_problem(merged) or strategies.problem(merged, load_balancers)
            if problem:  # refuse before anything is created or changed
                raise InvalidParameterException(problem)
            result = original(response)
            service = cast("EcsService", response.ecs_backend._get_service(cluster, name))
            lab.service_record(service.arn, new=creating)
            service.deployment_configuration = merged  # moto's Service answers describe_services with it
            grace = param("healthCheckGracePeriodSeconds")
            if grace is not None:
                service.health_check_grace_period_seconds = int(grace)
            lab.deployment_started(service, creating=creating)
            return result

        return handler

    return wrap


PATCHES.patch(RESPONSE, "create_service", "(self) -> 'ActionResult'", "deploymentConfiguration, grace period")(
    _remember_deployment_configuration(creating=True)
)
PATCHES.patch(RESPONSE, "update_service", "(self) -> 'ActionResult'", "deploymentConfiguration, grace period")(
    _remember_deployment_configuration(creating=False)
)


@PATCHES.patch(RESPONSE, "register_container_instance", "(self) -> 'ActionResult'", "totalResources sets cpu/memory")
def _register_instance(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    def register_instance_with_resources(response: EC2ContainerServiceResponse) -> ActionResult:
        result = original(response)
        total = {r["name"]: r for r in response._get_param("totalResources") or []}
        instance = result.result["containerInstance"]
        for resources in (instance.registered_resources, instance.remaining_resources):
            for resource in resources:
                if resource["name"] in ("CPU", "MEMORY") and resource["name"] in total:
                    resource["integerValue"] = int(total[resource["name"]]["integerValue"])
        return result

    return register_instance_with_resources


@PATCHES.patch(RESPONSE, "run_task", "(self) -> 'ActionResult'", "EC2 placement failures are reported, as on AWS")
def _run_task(original: Callable[..., Any], lab: EcsLab) -> Callable[..., object]:
    from moto.ecs.exceptions import InvalidParameterException

    def run_task_with_failures(response: EC2ContainerServiceResponse) -> ActionResult:
        backend = response.ecs_backend
        cluster = backend._get_cluster(response._get_param("cluster", "default"))
        launch_type = response._get_param("launchType")
        definition = backend.describe_task_definition(response._get_param("taskDefinition"))
        uses_ec2 = launch_type == "EC2" or (
            not launch_type
            and not response._get_param("capacityProviderStrategy")
            and not cluster.default_capacity_provider_strategy
        )
        if uses_ec2 and not backend.container_instances.get(cluster.name):
            raise InvalidParameterException("No Container Instances were found in your cluster.")
        result = original(response)
        body: dict[str, Any] = result.result
        count = response._get_int_param("count", 1)
        if uses_ec2 and len(body["tasks"]) < count:
            needs = task_requirements(definition)
            body["failures"] = [
                {"arn": instance.container_instance_arn, "reason": placement_failure(instance.remaining_resources, needs)}
                for instance in backend.container_instances[cluster.name].values()
            ]
        return result

    return run_task_with_failures


# -- the service deployments API (moto has none of it): the lab's records, in AWS's shapes --------------------


@PATCHES.patch(BACKEND, "list_service_deployments", ABSENT, "answered from the lab's service deployment records")
def _list_service_deployments(original: None, lab: EcsLab) -> Callable[..., object]:
    def list_service_deployments(
        backend: EC2ContainerServiceBackend, cluster_str: str, service_str: str, statuses: list[str] | None
    ) -> list[dict[str, Any]]:
        cluster = backend._get_cluster(cluster_str)
        service = backend._get_service(cluster.name, service_str.split("/")[-1])
        found = lab.service_deployments(cluster.arn, service.arn)
        return [brief for brief in found if not statuses or brief["status"] in statuses]

    return list_service_deployments


@PATCHES.patch(BACKEND, "describe_service_deployments", ABSENT, "answered from the lab's service deployment records")
def _describe_service_deployments(original: None, lab: EcsLab) -> Callable[..., object]:
    def describe_service_deployments(
        backend: EC2ContainerServiceBackend, arns: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return lab.describe_service_deployments(arns)

    return describe_service_deployments


@PATCHES.patch(BACKEND, "describe_service_revisions", ABSENT, "answered from the lab's service revision records")
def _describe_service_revisions(original: None, lab: EcsLab) -> Callable[..., object]:
    def describe_service_revisions(
        backend: EC2ContainerServiceBackend, arns: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return lab.describe_service_revisions(arns)

    return describe_service_revisions


@PATCHES.patch(BACKEND, "stop_service_deployment", ABSENT, "the lab's ECS agent rolls the deployment back")
def _stop_service_deployment(original: None, lab: EcsLab) -> Callable[..., object]:
    from moto.ecs.exceptions import InvalidParameterException

    def stop_service_deployment(backend: EC2ContainerServiceBackend, arn: str, stop_type: str) -> str:
        try:
            return lab.stop_service_deployment(arn, stop_type)
        except ValueError as error:
            raise InvalidParameterException(str(error)) from None

    return stop_service_deployment


@PATCHES.patch(BACKEND, "continue_service_deployment", ABSENT, "the lab's ECS agent holds PAUSE hooks (ecslab.lab.hooks)")
def _continue_service_deployment(original: None, lab: EcsLab) -> Callable[..., object]:
    from moto.ecs.exceptions import InvalidParameterException

    def continue_service_deployment(backend: EC2ContainerServiceBackend, arn: str, hook_id: str, action: str | None) -> str:
        try:
            return lab.continue_service_deployment(arn, hook_id, action)
        except ValueError as error:
            raise InvalidParameterException(str(error)) from None

    return continue_service_deployment


def _respond(operation: str, answer: Callable[[EC2ContainerServiceResponse], dict[str, Any]]) -> None:
    """A response handler for an operation moto lacks: it reads the request's parameters and asks the backend."""

    def wrap(original: None, lab: EcsLab) -> Callable[[EC2ContainerServiceResponse], ActionResult]:
        from moto.core.responses import ActionResult

        def handler(response: EC2ContainerServiceResponse) -> ActionResult:
            return ActionResult(answer(response))

        return handler

    PATCHES.patch(RESPONSE, operation, ABSENT, "moto has no handler for it")(wrap)


def _list_answer(response: EC2ContainerServiceResponse) -> dict[str, Any]:
    found = response.ecs_backend.list_service_deployments(  # type: ignore[attr-defined]
        response._get_param("cluster", "default"), response._get_param("service"), response._get_param("status")
    )
    return {"serviceDeployments": found}


def _describe_answer(response: EC2ContainerServiceResponse) -> dict[str, Any]:
    found, failures = response.ecs_backend.describe_service_deployments(response._get_param("serviceDeploymentArns") or [])  # type: ignore[attr-defined]
    return {"serviceDeployments": found, "failures": failures}


def _revisions_answer(response: EC2ContainerServiceResponse) -> dict[str, Any]:
    found, failures = response.ecs_backend.describe_service_revisions(response._get_param("serviceRevisionArns") or [])  # type: ignore[attr-defined]
    return {"serviceRevisions": found, "failures": failures}


def _stop_answer(response: EC2ContainerServiceResponse) -> dict[str, Any]:
    arn = response.ecs_backend.stop_service_deployment(  # type: ignore[attr-defined]
        response._get_param("serviceDeploymentArn"), response._get_param("stopType") or "ROLLBACK"
    )
    return {"serviceDeploymentArn": arn}


_respond("list_service_deployments", _list_answer)
_respond("describe_service_deployments", _describe_answer)
_respond("describe_service_revisions", _revisions_answer)
_respond("stop_service_deployment", _stop_answer)


def _continue_answer(response: EC2ContainerServiceResponse) -> dict[str, Any]:
    arn = response.ecs_backend.continue_service_deployment(  # type: ignore[attr-defined]
        response._get_param("serviceDeploymentArn"), response._get_param("hookId"), response._get_param("action")
    )
    return {"serviceDeploymentArn": arn}


_respond("continue_service_deployment", _continue_answer)
