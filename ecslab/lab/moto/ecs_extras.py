"""ECS API fields moto drops, kept: capacity provider strategies, ``enableExecuteCommand``, Service Connect.

moto's ``create_service`` handler passes neither ``capacityProviderStrategy``, ``enableExecuteCommand`` nor
``serviceConnectConfiguration`` to its backend (and makes every such service EC2), its ``run_task`` drops
``enableExecuteCommand`` and puts every task on the strategy's first provider. Its ``update_service`` keeps
all three (it sets every request field on the service). This patch set:

- remembers the parameters of the ECS request being answered (``call_action``; read by the patches below only,
  cleared when the request ends), since the backend is not given them;
- ``create_service``: keeps the three fields on moto's ``Service`` (where ``describe_services`` reads them; the
  Service Connect configuration on the deployment, as ECS reports it), with no ``launchType`` when a strategy
  (the request's or the cluster's default) places the tasks, and refuses in ECS's words a capacity provider the
  cluster does not have, a Service Connect namespace that does not exist or a ``portName`` no port mapping has;
- ``run_task``: refuses the same, spreads the tasks over the strategy by base and weight
  (:func:`ecslab.lab.capacity.split`), reports ``launchType`` FARGATE for Fargate providers, and keeps
  ``enableExecuteCommand`` on each task;
- ``create_cluster``/``put_cluster_capacity_providers``: a default strategy naming a provider the cluster does not
  list is refused; ``update_service``: the same refusals as ``create_service``, before moto changes anything.

Only API fields go on moto's objects (as :mod:`ecslab.lab.moto.ecs` does for ``deploymentConfiguration``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException

from ecslab.config import ACCOUNT_ID
from ecslab.lab.capacity_strategy import FARGATE_PROVIDERS, split, strategy_problem
from ecslab.lab.moto.patching import PatchSet, declare

MODELS = "moto.ecs.models"
BACKEND = f"{MODELS}:EC2ContainerServiceBackend"
RESPONSE = "moto.ecs.responses:EC2ContainerServiceResponse"

PATCHES: PatchSet[None] = declare(PatchSet("ecs-extras"))

_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("ecs_request", default=None)


def request_parameters() -> dict[str, Any]:
    """The parameters of the ECS request being answered in this thread ({} outside one)."""
    return dict(_REQUEST.get() or {})


class NamespaceNotFoundException(ServiceException):
    """botocore's ECS ``NamespaceNotFoundException``: "The specified namespace wasn't found."."""

    code = "NamespaceNotFoundException"


@PATCHES.patch(RESPONSE, "call_action", "(self) -> 'TYPE_RESPONSE'", "the backend patches below read the request's parameters")
def _call_action(original: Callable[..., Any], lab: None) -> Callable[..., object]:
    def call_action_remembering(response: Any) -> Any:
        try:
            parameters = response._get_params()
        except Exception:
            parameters = {}
        token = _REQUEST.set(parameters if isinstance(parameters, dict) else {})
        try:
            if response._get_action() == "UpdateService":
                try:
                    _check_update(response.ecs_backend, parameters)
                except ServiceException as error:
                    return _refused(response, error)
            return original(response)
        finally:
            _REQUEST.reset(token)

    return call_action_remembering


def _refused(response: Any, error: ServiceException) -> Any:
    """The error answer moto's ``call_action`` gives for an exception its handlers raise (same three steps)."""
    from moto.core.responses import ActionResult

    status, headers, body = response.serialized(ActionResult(error))
    headers["status"] = status
    status, headers, body = response._transform_response(response.response_headers, (body, headers))
    headers, body = response._enrich_response(headers, body)
    return status, headers, body


def _check_update(backend: Any, parameters: dict[str, Any]) -> None:
    """update_service: the same refusals as create_service, before moto changes anything (its update keeps the fields)."""
    cluster = backend._get_cluster(parameters.get("cluster", "default"))
    strategy = parameters.get("capacityProviderStrategy")
    problem = strategy_problem(strategy, cluster.capacity_providers)
    if problem:
        raise _invalid(problem)
    connect = parameters.get("serviceConnectConfiguration")
    if connect:
        service = backend._get_service(parameters.get("cluster", "default"), str(parameters.get("service", "")).split("/")[-1])
        definition = backend.describe_task_definition(parameters.get("taskDefinition") or service.task_definition)
        service_connect_problem(connect, cluster, definition, backend.region_name)


def _invalid(message: str) -> Exception:
    from moto.ecs.exceptions import InvalidParameterException

    return InvalidParameterException(message)


def _namespace(name_or_arn: str, region: str) -> Any | None:
    from moto.servicediscovery.models import servicediscovery_backends

    for namespace in servicediscovery_backends[ACCOUNT_ID][region].namespaces.values():
        if name_or_arn in (namespace.name, namespace.arn, namespace.id):
            return namespace
    return None


def service_connect_problem(configuration: dict[str, Any] | None, cluster: Any, definition: Any, region: str) -> None:
    """Raise ECS's refusal of a Service Connect configuration, or return (the lab's limits said as such)."""
    if not configuration or not configuration.get("enabled"):
        return
    namespace = configuration.get("namespace") or (getattr(cluster, "service_connect_defaults", None) or {}).get("namespace")
    if not namespace or _namespace(str(namespace), region) is None:
        raise NamespaceNotFoundException("The specified namespace wasn't found.")
    named = {
        mapping.get("name"): mapping
        for container in (definition.container_definitions if definition is not None else [])
        for mapping in container.get("portMappings") or []
        if mapping.get("name")
    }
    for entry in configuration.get("services") or []:
        port_name = entry.get("portName")
        if port_name not in named:
            raise _invalid(f"portName({port_name}) does not refer to any named PortMapping in the container definitions")
        for alias in entry.get("clientAliases") or []:
            if int(alias.get("port", 0)) != int(named[port_name]["containerPort"]):
                raise _invalid(
                    f"The lab does not model a Service Connect proxy: a client alias must use the container's own port "
                    f"({named[port_name]['containerPort']} for portName {port_name}), not {alias.get('port')}."
                )


def _strategy(parameters: dict[str, Any], cluster: Any, launch_type: str | None) -> list[dict[str, Any]]:
    strategy = parameters.get("capacityProviderStrategy")
    if strategy is None and not launch_type:
        strategy = getattr(cluster, "default_capacity_provider_strategy", None)
    return list(strategy or [])


CREATE_SERVICE = (
    "(self, cluster_str: str, service_name: str, desired_count: int, task_definition_str: str | None = None, "
    "load_balancers: list[dict[str, typing.Any]] | None = None, scheduling_strategy: list[dict[str, typing.Any]] | None "
    "= None, tags: list[dict[str, str]] | None = None, deployment_controller: dict[str, str] | None = None, launch_type: "
    "str | None = None, service_registries: list[dict[str, typing.Any]] | None = None, platform_version: str | None = "
    "None, propagate_tags: str = 'NONE', network_configuration: dict[str, dict[str, list[str]]] | None = None, "
    "role_arn: str | None = None) -> moto.ecs.models.Service"
)


@PATCHES.patch(
    BACKEND, "create_service", CREATE_SERVICE, "capacityProviderStrategy, enableExecuteCommand, serviceConnectConfiguration"
)
def _create_service(original: Callable[..., Any], lab: None) -> Callable[..., object]:
    def create_service_with_fields(backend: Any, cluster_str: str, service_name: str, *args: Any, **kwargs: Any) -> Any:
        parameters = request_parameters()
        cluster = backend._get_cluster(cluster_str)
        launch_type = parameters.get("launchType")
        strategy = _strategy(parameters, cluster, launch_type)
        problem = strategy_problem(strategy, cluster.capacity_providers)
        if problem:
            raise _invalid(problem)
        definition_name = parameters.get("taskDefinition")
        definition = backend.describe_task_definition(definition_name) if definition_name else None
        connect = parameters.get("serviceConnectConfiguration")
        service_connect_problem(connect, cluster, definition, backend.region_name)
        service = original(backend, cluster_str, service_name, *args, **kwargs)
        service.enable_execute_command = bool(parameters.get("enableExecuteCommand", False))
        if strategy and not launch_type:
            service.capacity_provider_strategy = strategy
            service.launch_type = None  # the strategy places the tasks (moto made the service EC2)
            for deployment in service.deployments:
                deployment["launchType"] = None
                deployment["capacityProviderStrategy"] = strategy
        if connect is not None:
            service.service_connect_configuration = connect
            for deployment in service.deployments:
                deployment["serviceConnectConfiguration"] = connect
        return service

    return create_service_with_fields


RUN_TASK = (
    "(self, cluster_str: str, task_definition_str: str, count: int, overrides: dict[str, typing.Any] | None, started_by: "
    "str, tags: list[dict[str, str]] | None, launch_type: str | None, networking_configuration: dict[str, typing.Any] | "
    "None = None, group: str | None = None, platform_version: str | None = None, capacity_provider_strategy: "
    "list[dict[str, typing.Any]] | None = None) -> list[moto.ecs.models.Task]"
)


@PATCHES.patch(BACKEND, "run_task", RUN_TASK, "tasks spread by base and weight; enableExecuteCommand kept")
def _run_task(original: Callable[..., Any], lab: None) -> Callable[..., object]:
    def run_task_by_strategy(backend: Any, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
        parameters = request_parameters()
        cluster = backend._get_cluster(cluster_str)
        launch_type = parameters.get("launchType")
        strategy = [] if launch_type else _strategy(parameters, cluster, launch_type)
        problem = strategy_problem(strategy, cluster.capacity_providers)
        if problem:
            raise _invalid(problem)
        tasks = original(backend, cluster_str, *args, **kwargs)
        if strategy and all(item.get("capacityProvider") in FARGATE_PROVIDERS for item in strategy):
            for task, provider in zip(tasks, split(strategy, len(tasks)), strict=False):
                task.capacity_provider_name = provider
                task.launch_type = "FARGATE"
        for task in tasks:
            task.enable_execute_command = bool(parameters.get("enableExecuteCommand", False))
        return tasks

    return run_task_by_strategy


CREATE_CLUSTER = (
    "(self, cluster_name: str, tags: Any = None, cluster_settings: Any = None, configuration: dict[str, typing.Any] | None "
    "= None, capacity_providers: list[str] | None = None, default_capacity_provider_strategy: list[dict[str, typing.Any]] "
    "| None = None, service_connect_defaults: dict[str, str] | None = None) -> moto.ecs.models.Cluster"
)


@PATCHES.patch(BACKEND, "create_cluster", CREATE_CLUSTER, "a default strategy names providers the cluster has")
def _create_cluster(original: Callable[..., Any], lab: None) -> Callable[..., object]:
    def create_cluster_checked(backend: Any, cluster_name: str, *args: Any, **kwargs: Any) -> Any:
        problem = strategy_problem(kwargs.get("default_capacity_provider_strategy"), kwargs.get("capacity_providers"))
        if problem:
            raise _invalid(problem)
        return original(backend, cluster_name, *args, **kwargs)

    return create_cluster_checked


PUT_PROVIDERS = (
    "(self, cluster_name: str, capacity_providers: list[str] | None, default_capacity_provider_strategy: "
    "list[dict[str, typing.Any]] | None) -> moto.ecs.models.Cluster"
)


@PATCHES.patch(BACKEND, "put_cluster_capacity_providers", PUT_PROVIDERS, "a default strategy names providers the cluster has")
def _put_providers(original: Callable[..., Any], lab: None) -> Callable[..., object]:
    def put_providers_checked(
        backend: Any, cluster_name: str, capacity_providers: list[str] | None, default_strategy: list[dict[str, Any]] | None
    ) -> Any:
        problem = strategy_problem(default_strategy, capacity_providers)
        if problem:
            raise _invalid(problem)
        return original(backend, cluster_name, capacity_providers, default_strategy)

    return put_providers_checked
