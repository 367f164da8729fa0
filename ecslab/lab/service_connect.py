"""Service Connect in the lab: services in one Cloud Map namespace call each other by name, for real.

On AWS a service with ``serviceConnectConfiguration`` (``enabled``, a Cloud Map ``namespace``, and for a server
its ``services``: ``portName``, ``discoveryName``, ``clientAliases`` with ``dnsName`` and ``port``) gets an Envoy
proxy in each task; every task of every Service Connect service in the namespace can then reach
``dnsName:port``, and nothing outside the namespace can resolve those names.

The lab models it with one Docker user-defined network per namespace (``internal``: nothing on it reaches
beyond the Docker bridge): each task of a service with Service Connect joins its namespace's network, and the
container holding the named port mapping answers to the client aliases' ``dnsName`` (default
``discoveryName.namespace``, as ECS) through Docker's DNS. A service without the
configuration never joins, so the names do not resolve in its tasks. Running tasks keep what they were
started with; a changed configuration reaches new tasks (``update_service(..., forceNewDeployment=True)``).

Not modelled: the Envoy proxy itself (so a client alias's port must be the container's own port: other ports
are refused when the service is created), its metrics, retries, outlier detection and TLS; Cloud Map service
instances are not registered.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

from ecslab.config import ACCOUNT_ID, LAB_LABEL
from ecslab.lab.capacity import docker_of
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, TaskNotes

log = logging.getLogger("ecslab.lab.service_connect")

PURPOSE = "service-connect"


def aliases(configuration: dict[str, Any], namespace: str) -> dict[str, list[str]]:
    """The names each named port mapping answers to in the namespace: ``{portName: [dnsName, ...]}``.

    Clients reach a Service Connect service only through its client aliases (botocore's
    ``ServiceConnectClientAlias``: "The dnsName is the name that you use in the applications of client tasks to
    connect to this service"); a ``dnsName`` left out is ``discoveryName.namespace``, and a ``discoveryName`` left
    out is the ``portName``. A service without client aliases answers to no name."""
    found: dict[str, list[str]] = {}
    for entry in configuration.get("services") or []:
        port_name = str(entry["portName"])
        discovery = str(entry.get("discoveryName") or port_name)
        names = found.setdefault(port_name, [])
        for alias in entry.get("clientAliases") or []:
            name = str(alias.get("dnsName") or f"{discovery}.{namespace}")
            if name not in names:
                names.append(name)
    return found


class ServiceConnect(GapFiller):
    name = "Service Connect"
    gap = "moto drops serviceConnectConfiguration and no task can reach another by name."
    fills = (
        "Each task of a Service Connect service joins its namespace's own Docker network (internal), and the API "
        "container answers to its client alias (dnsName) there; tasks of other services cannot resolve the name."
    )

    def __init__(self, notes: TaskNotes | None = None) -> None:
        self.notes = notes
        self.context: FillerContext | None = None
        self._creating = threading.Lock()  # two tasks starting at once make one network

    def collaborators(self) -> Sequence[object]:
        return (self.notes,) if self.notes is not None else ()

    def start(self, context: FillerContext) -> None:
        self.context = context
        self._remove_networks()  # a lab killed before it could stop left its namespaces' networks

    def after_reset(self, context: FillerContext) -> None:
        self.context = context
        self._remove_networks()

    def stop(self) -> None:
        self._remove_networks()

    def network_name(self, namespace: str) -> str:
        assert self.context is not None
        lab = hashlib.sha256(str(self.context.config.home).encode()).hexdigest()[:8]
        return f"ecslab-sc-{lab}-{namespace}"

    # -- task hooks (outside the lock) ----------------------------------------------------------------------

    def task_started(self, task: Any, containers: list[Any]) -> str | None:
        plan = self._plan(task)
        if plan is None:
            return None
        namespace, by_container = plan
        network = self._network(namespace)
        for handle, names in zip(containers, by_container, strict=False):
            try:
                network.connect(handle, aliases=names or None)
            except Exception as error:
                return f"ResourceInitializationError: the lab could not join Service Connect namespace {namespace}: {error}"
        if self.notes is not None:
            answered = sorted({name for names in by_container for name in names})
            self.notes.note(
                task,
                f"joined Service Connect namespace {namespace}"
                + (f" as {', '.join(answered)}" if answered else " (client only)"),
            )
        return None

    def _plan(self, task: Any) -> tuple[str, list[list[str]]] | None:
        """The task's namespace and each container's aliases, or ``None`` (no Service Connect), read under the lock."""
        from moto.servicediscovery.models import servicediscovery_backends

        from ecslab.lab.moto.ecs import backend

        assert self.context is not None
        region = self.context.config.region
        with LAB_LOCK:
            if not str(task.group).startswith("service:"):
                return None
            ecs = backend(region)
            service = ecs.services.get(f"{task.cluster_name}:{task.group.split(':', 1)[1]}")
            configuration = getattr(service, "service_connect_configuration", None) or {}
            if not configuration.get("enabled"):
                return None
            cluster = ecs.clusters.get(task.cluster_name)
            wanted = configuration.get("namespace") or (getattr(cluster, "service_connect_defaults", None) or {}).get("namespace")
            namespace = next(
                (
                    n.name
                    for n in servicediscovery_backends[ACCOUNT_ID][region].namespaces.values()
                    if wanted in (n.name, n.arn, n.id)
                ),
                None,
            )
            if namespace is None:
                return None
            names = aliases(configuration, namespace)
            by_container = [
                [name for mapping in c.definition.get("portMappings") or [] for name in names.get(mapping.get("name"), [])]
                for c in task.containers
            ]
            return namespace, by_container

    def _network(self, namespace: str) -> Any:
        LAB_LOCK.forbid("Docker I/O")
        assert self.context is not None
        docker = docker_of(self.context)
        name = self.network_name(namespace)
        with self._creating:
            existing = [n for n in docker.networks.list(names=[name]) if n.name == name]
            if existing:
                return existing[0]
            return docker.networks.create(
                name,
                driver="bridge",
                internal=True,
                labels={LAB_LABEL: str(self.context.config.home), f"{LAB_LABEL}.purpose": PURPOSE},
            )

    def _remove_networks(self) -> None:
        """The namespaces' networks this lab made (its label), each emptied first."""
        if self.context is None or self.context.docker is None:
            return
        try:
            networks = self.context.docker.networks.list(
                filters={"label": [f"{LAB_LABEL}={self.context.config.home}", f"{LAB_LABEL}.purpose={PURPOSE}"]}
            )
            for network in networks:
                network.reload()
                for container in network.containers:
                    try:
                        network.disconnect(container, force=True)
                    except Exception:
                        pass
                network.remove()
        except Exception:
            log.exception("removing the Service Connect networks")
