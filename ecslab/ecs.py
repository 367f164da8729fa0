"""Amazon ECS from the learner's side: task definitions, services, tasks, costs, pictures.

Notebook 04 (concepts) and 05 (the deployment flow) introduce what is here. Every
function takes the client it uses (``lab.ecs``, ``lab.docker``), so the same calls
work against the lab and a real account, except where a docstring says "lab only"
(reaching into the lab's own agent or simulated hosts).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from typing import Any

from ecslab.ecs_validation import FARGATE_SIZES, problems

# -- prices, for the EC2 vs Fargate estimate ----------------------------------------------------

PRICES: dict[str, Any] = {
    "as_of": "2024-2025 (not re-checked since; see the sources)",
    "region": "us-east-1 (N. Virginia), Linux/x86, on-demand",
    "sources": [
        "https://aws.amazon.com/fargate/pricing/",
        "https://aws.amazon.com/ec2/pricing/on-demand/",
    ],
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
    "ec2": {  # instance type: (vCPU, GiB, USD per hour)
        "t3.small": (2, 2, 0.0208),
        "t3.medium": (2, 4, 0.0416),
        "m5.large": (2, 8, 0.096),
        "c5.xlarge": (4, 8, 0.17),
    },
}
"""Published prices used by :func:`cost_estimate`. They change: check the sources before deciding anything."""

HOURS_PER_MONTH = 730


def fargate_cost(cpu_units: int, memory_mib: int, tasks: int, hours: float = HOURS_PER_MONTH) -> float:
    """USD for ``tasks`` Fargate tasks of this size running ``hours`` hours (compute only)."""
    per_hour = cpu_units / 1024 * PRICES["fargate_vcpu_hour"] + memory_mib / 1024 * PRICES["fargate_gb_hour"]
    return round(per_hour * tasks * hours, 2)


def ec2_hosts_needed(cpu_units: int, memory_mib: int, tasks: int, instance_type: str) -> int:
    """How many instances of ``instance_type`` hold ``tasks`` tasks (ECS agent reserves ~256 MiB each)."""
    vcpu, gib, _ = PRICES["ec2"][instance_type]
    per_host_cpu, per_host_memory = vcpu * 1024, gib * 1024 - 256
    if cpu_units > per_host_cpu or memory_mib > per_host_memory:
        raise ValueError(f"One task ({cpu_units} CPU units, {memory_mib} MiB) does not fit on a {instance_type}.")
    per_host = min(per_host_cpu // cpu_units, per_host_memory // memory_mib)
    return -(-tasks // per_host)


def ec2_cost(cpu_units: int, memory_mib: int, tasks: int, instance_type: str, hours: float = HOURS_PER_MONTH) -> float:
    """USD for the EC2 instances that hold the tasks (compute only; you also run and patch them)."""
    hosts = ec2_hosts_needed(cpu_units, memory_mib, tasks, instance_type)
    return round(hosts * PRICES["ec2"][instance_type][2] * hours, 2)


def cost_widget() -> Any:
    """Pick a task size, a task count and an instance type; compare a month of Fargate and EC2."""
    import ipywidgets as widgets

    cpu = widgets.Dropdown(options=[c for c in FARGATE_SIZES if c <= 4096], value=256, description="task CPU")
    memory = widgets.Dropdown(description="memory MiB")
    tasks = widgets.IntSlider(value=2, min=1, max=20, description="tasks")
    instance = widgets.Dropdown(options=list(PRICES["ec2"]), value="t3.medium", description="EC2 type")
    out = widgets.HTML()

    def sizes(_change: Any = None) -> None:
        memory.options = FARGATE_SIZES[cpu.value][:8]

    def show(_change: Any = None) -> None:
        if memory.value is None:
            return
        fargate = fargate_cost(cpu.value, memory.value, tasks.value)
        try:
            hosts = ec2_hosts_needed(cpu.value, memory.value, tasks.value, instance.value)
            ec2 = f"${ec2_cost(cpu.value, memory.value, tasks.value, instance.value):,.2f} for {hosts} × {instance.value}"
        except ValueError as error:
            ec2 = html.escape(str(error))
        out.value = (
            f"<table><tr><th>Fargate</th><td>${fargate:,.2f} / month</td><td>AWS runs the hosts</td></tr>"
            f"<tr><th>EC2</th><td>{ec2} / month</td><td>you run, patch and scale the hosts</td></tr></table>"
            f"<small>Compute only, {html.escape(PRICES['region'])}, prices as published {PRICES['as_of']}: "
            + " ".join(f"<a href='{s}'>{s}</a>" for s in PRICES["sources"])
            + "</small>"
        )

    cpu.observe(sizes, names="value")
    for control in (cpu, memory, tasks, instance):
        control.observe(show, names="value")
    sizes()
    show()
    return widgets.VBox([widgets.HBox([cpu, memory]), widgets.HBox([tasks, instance]), out])


# -- task definitions ---------------------------------------------------------------------------


def task_definition(
    family: str,
    image: str,
    cpu: int = 256,
    memory: int = 512,
    container_port: int | None = 8080,
    environment: dict[str, str] | None = None,
    launch_type: str = "FARGATE",
    container_name: str = "web",
    execution_role_arn: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``register_task_definition`` for a one-container task."""
    container: dict[str, Any] = {"name": container_name, "image": image, "essential": True}
    if container_port:
        container["portMappings"] = [{"containerPort": container_port, "protocol": "tcp"}]
    if environment:
        container["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
    definition: dict[str, Any] = {"family": family, "containerDefinitions": [container], "cpu": str(cpu), "memory": str(memory)}
    if launch_type == "FARGATE":
        definition |= {"requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}
    else:
        definition |= {"requiresCompatibilities": ["EC2"], "networkMode": "bridge"}
    if execution_role_arn:
        definition["executionRoleArn"] = execution_role_arn
    return definition


def task_definition_builder(
    image: str = "localhost:5050/aws-node-demo:v1",
    on_change: Callable[[dict[str, Any]], None] | None = None,
    execution_role_arn: str | None = None,
) -> Any:
    """A form for a task definition that shows its JSON and ECS's objections as you type.

    ``execution_role_arn`` goes into every definition it writes (a Fargate task definition with
    an ECR image needs one); a checkbox leaves it out, to see what ECS says then."""
    import ipywidgets as widgets

    family = widgets.Text(value="aws-node-demo", description="family")
    launch = widgets.ToggleButtons(options=["FARGATE", "EC2"], value="FARGATE", description="launch type")
    image_box = widgets.Text(value=image, description="image", layout=widgets.Layout(width="420px"))
    cpu = widgets.Dropdown(options=list(FARGATE_SIZES), value=256, description="cpu units")
    memory = widgets.BoundedIntText(value=512, min=0, max=122880, step=256, description="memory MiB")
    port = widgets.BoundedIntText(value=8080, min=0, max=70000, description="port")
    role = widgets.Checkbox(
        value=execution_role_arn is not None, description="execution role", disabled=execution_role_arn is None
    )
    verdict = widgets.HTML()
    document = widgets.HTML()

    def show(_change: Any = None) -> None:
        definition = task_definition(
            family.value,
            image_box.value,
            cpu.value,
            memory.value,
            port.value or None,
            launch_type=launch.value,
            execution_role_arn=execution_role_arn if role.value else None,
        )
        found = problems(definition)
        verdict.value = (
            "<span style='color:#1b7f3b'>&#10004; ECS would accept this task definition.</span>"
            if not found
            else "<br>".join(f"<span style='color:#b3261e'>&#10008; ClientException: {html.escape(p)}</span>" for p in found)
        )
        document.value = f"<pre>{html.escape(json.dumps(definition, indent=2))}</pre>"
        if on_change is not None:
            on_change(definition)

    for control in (family, launch, image_box, cpu, memory, port, role):
        control.observe(show, names="value")
    show()
    return widgets.VBox([family, launch, image_box, widgets.HBox([cpu, memory]), port, role, verdict, document])


# -- tasks and services ------------------------------------------------------------------------


def service_tasks(ecs: Any, cluster: str, service: str, desired_status: str = "RUNNING") -> list[dict[str, Any]]:
    """``describe_tasks`` of ``list_tasks(serviceName=...)``: the service's tasks, oldest first."""
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus=desired_status)["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    return sorted(tasks, key=lambda task: task["createdAt"])


_EC2_CLIENTS: dict[tuple[str, str], Any] = {}


def _ec2_for_this_notebook() -> Any:
    """An EC2 client for the target this process works on (the lab, or AWS with ``ECSLAB_TARGET=aws``), made once."""
    import os

    import boto3

    from ecslab.config import FAKE_CREDENTIALS, LabConfig

    config = LabConfig.from_env()
    target = (os.environ.get("ECSLAB_TARGET") or "local").lower()
    key = (target, config.endpoint_url)
    if key not in _EC2_CLIENTS:
        if target == "aws":
            _EC2_CLIENTS[key] = boto3.client("ec2", region_name=os.environ.get("AWS_REGION") or config.region)
        else:
            credentials = {name.lower(): value for name, value in FAKE_CREDENTIALS.items()}
            _EC2_CLIENTS[key] = boto3.client("ec2", endpoint_url=config.endpoint_url, region_name=config.region, **credentials)
    return _EC2_CLIENTS[key]


def task_address(task: dict[str, Any], ec2: Any | None = None) -> dict[str, Any]:
    """An awsvpc task's network interface, the AWS way: ``attachments`` -> ENI -> ``describe_network_interfaces``.

    Returns the interface ID, its private IP, its public IP (``Association.PublicIp``; None without
    ``assignPublicIp=ENABLED``) and its security groups (``describe_security_groups``). ``ValueError`` for a task
    without a network interface (network mode ``bridge`` or ``host``) or whose interface is gone (a stopped task)."""
    task_id = task["taskArn"].split("/")[-1]
    details = {
        d["name"]: d["value"]
        for a in task.get("attachments", [])
        if a.get("type") == "ElasticNetworkInterface"
        for d in a.get("details", [])
    }
    interface_id = details.get("networkInterfaceId")
    if not interface_id:
        raise ValueError(f"Task {task_id} has no network interface (its network mode is not awsvpc).")
    ec2 = ec2 if ec2 is not None else _ec2_for_this_notebook()
    try:
        interface = ec2.describe_network_interfaces(NetworkInterfaceIds=[interface_id])["NetworkInterfaces"][0]
    except Exception as error:
        if "NotFound" not in str(getattr(error, "response", {}).get("Error", {}).get("Code", "")):
            raise
        raise ValueError(
            f"Task {task_id}'s network interface {interface_id} is gone: ECS deletes it when the task stops "
            f"(lastStatus {task.get('lastStatus')}). Describe the task again, or call a running one."
        ) from error
    group_ids = [g["GroupId"] for g in interface.get("Groups", [])]
    groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"] if group_ids else []
    return {
        "task": task_id,
        "network_interface": interface_id,
        "private_ip": interface.get("PrivateIpAddress") or details.get("privateIPv4Address"),
        "public_ip": interface.get("Association", {}).get("PublicIp"),
        "security_groups": groups,
    }


def task_url(task: dict[str, Any], container_port: int = 8080, ec2: Any | None = None) -> str:
    """Where you reach a task's container port from your machine, the AWS way.

    An awsvpc (Fargate) task: its network interface's public IP (:func:`task_address`) and the container's own
    port, ``http://PUBLIC_IP:PORT`` (in the lab, the public IP is a loopback address of the task's own). Refused
    with ``ValueError`` naming the fix when the task has no public IP (launched with ``assignPublicIp=DISABLED``)
    or when none of its security groups admits TCP on that port from the internet (``0.0.0.0/0``), where your
    machine is: on AWS such a connection is dropped and only ever times out. A ``bridge``-mode task (EC2 launch
    type) is reached at its host port (``networkBindings``; in the lab the host is this machine, 127.0.0.1).
    ``ec2``: the EC2 client to read the interface with (default: one for this notebook's target)."""
    from ecslab.network import INTERNET, ingress_allows

    task_id = task["taskArn"].split("/")[-1]
    for container in task["containers"]:  # bridge mode; and the lab where tasks have no address of their own
        for binding in container.get("networkBindings", []):
            if binding["containerPort"] == container_port:
                if binding.get("bindIP") not in ("127.0.0.1", "localhost"):
                    raise ValueError(
                        f"Task port {container_port} is bound on {binding.get('bindIP')}: the course only calls 127.0.0.1."
                    )
                return f"http://127.0.0.1:{binding['hostPort']}"
    if not any(a.get("type") == "ElasticNetworkInterface" for a in task.get("attachments", [])):
        raise ValueError(f"Task {task_id} publishes no port {container_port} (is it RUNNING yet?).")
    address = task_address(task, ec2)
    if not address["public_ip"]:
        raise ValueError(
            f"Task {task_id} has no public IP (it was launched with assignPublicIp=DISABLED), so nothing outside its VPC "
            "can reach it: launch it with 'assignPublicIp': 'ENABLED' in its awsvpcConfiguration (in a public subnet), "
            "or reach it through its load balancer."
        )
    groups = address["security_groups"]
    allowed, why = ingress_allows(groups, container_port, source_cidr=INTERNET)
    if not allowed:
        allowed, _ = ingress_allows(groups, container_port, source_cidr="::/0")
    if not allowed:
        names = ", ".join(g["GroupId"] for g in groups) or "none"
        raise ValueError(
            f"Task {task_id}'s security groups ({names}) admit no TCP port {container_port} from the internet "
            f"({INTERNET}), where your machine is, so a connection to {address['public_ip']}:{container_port} would "
            f"only time out ({why}). Add an inbound rule for port {container_port} to one of its groups "
            "(ec2.authorize_security_group_ingress), or reach the task through its load balancer."
        )
    return f"http://{address['public_ip']}:{container_port}"


def lab_internal_task_url(task: dict[str, Any], container_port: int = 8080, config: Any | None = None) -> str:
    """Lab only: the lab's internal path to a task's container port, whatever its security groups and public IP.

    This is how the lab's own load balancer reaches tasks (Docker publishes each container port on a free
    127.0.0.1 port). No such path exists on AWS: tests and lab tooling use it, notebooks use :func:`task_url`."""
    from ecslab.config import LabConfig
    from ecslab.lab.manage import control

    config = config if config is not None else LabConfig.from_env()
    addresses = control(config, "GET", "/ecs/task-addresses", timeout=5).get("tasks", {})
    for binding in addresses.get(task["taskArn"], {}).get("internal", []):
        if binding["container_port"] == container_port:
            return f"http://{binding['address']}"
    raise ValueError(f"The lab has no internal path to port {container_port} of task {task['taskArn'].split('/')[-1]}.")


def call_task(
    task: dict[str, Any], path: str = "/", container_port: int = 8080, timeout: float = 5, ec2: Any | None = None
) -> dict[str, Any]:
    """GET ``path`` from a task at :func:`task_url` (its public IP and container port) and decode the JSON answer.

    Refuses (``ValueError``, naming the fix) a task with no public IP (``assignPublicIp=DISABLED``) or whose
    security groups do not admit your machine on that port: reach it through its load balancer.

    RUNNING means the container has started, not that the app in it listens yet: a
    refused or reset connection is tried again until ``timeout`` seconds have passed."""
    return _get_json(task_url(task, container_port, ec2) + path, timeout)


def lab_call_task(
    task: dict[str, Any], path: str = "/", container_port: int = 8080, timeout: float = 5, config: Any | None = None
) -> dict[str, Any]:
    """Lab only: :func:`call_task` by the lab's internal path (:func:`lab_internal_task_url`), whatever the task's
    security groups and public IP. For tests and checkers that reach tasks for another reason than networking."""
    return _get_json(lab_internal_task_url(task, container_port, config) + path, timeout)


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    """GET ``url`` and decode its JSON; a refused or reset connection is tried again until ``timeout`` seconds have passed."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError:
            raise
        except (ConnectionError, urllib.error.URLError) as error:
            reason = getattr(error, "reason", error)
            if not isinstance(reason, ConnectionError) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def request_task(
    task: dict[str, Any],
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    container_port: int = 8080,
    timeout: float = 10,
    ec2: Any | None = None,
) -> tuple[int, Any]:
    """Notebook 07: send ``method path`` to a task's app; (HTTP status, its decoded JSON answer), errors included.

    Unlike :func:`call_task`, an HTTP error is an answer here (the app explains an ``AccessDenied``
    in its JSON body). A refused connection is tried again until ``timeout`` seconds have passed."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(task_url(task, container_port, ec2) + path, data=body, method=method)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), json.loads(error.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- the task lifecycle, observed ---------------------------------------------------------------

TASK_LIFECYCLE: tuple[tuple[str, str], ...] = (
    ("PROVISIONING", "ECS prepares what the task needs before launch, e.g. the network interface of an awsvpc task"),
    ("PENDING", "waiting for the container agent (and for free resources)"),
    (
        "ACTIVATING",
        "after launch, before RUNNING: images pulled, containers created, networking, load balancer target groups, service discovery",
    ),
    ("RUNNING", "the task is running"),
    ("DEACTIVATING", "before stopping: e.g. deregistering from load balancer target groups (draining)"),
    ("STOPPING", "the containers are being stopped (SIGTERM, then SIGKILL after stopTimeout)"),
    ("DEPROVISIONING", "ECS cleans up after the task, e.g. detaches and deletes the network interface"),
    ("STOPPED", "the task has stopped; it stays visible for a while"),
)
"""The states of AWS's "Amazon ECS task lifecycle" page (developerguide/task-lifecycle-explanation.html), in order."""

LIFECYCLE_ORDER = [state for state, _ in TASK_LIFECYCLE]


def watch_task(
    ecs: Any,
    cluster: str,
    task_arn: str,
    until: str = "RUNNING",
    timeout: float = 60,
    interval: float = 0.02,
    origin: float | None = None,
) -> list[tuple[float, str]]:
    """Poll ``describe_tasks`` until the task's ``lastStatus`` is ``until`` (or STOPPED); returns each change seen.

    Notebook 04. Each entry is ``(seconds since origin, lastStatus)``; ``origin`` is a ``time.monotonic()`` value
    (default: now), the first entry the status found at once. A state shorter than one poll can slip by unseen:
    the result is what *this* run observed, nothing more.
    """
    started = time.monotonic() if origin is None else origin
    deadline = time.monotonic() + timeout
    seen: list[tuple[float, str]] = []
    while True:
        status = str(ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]["lastStatus"])
        if not seen or seen[-1][1] != status:
            seen.append((round(time.monotonic() - started, 3), status))
        if status in (until, "STOPPED") or time.monotonic() > deadline:
            return seen
        time.sleep(interval)


def merge_changes(*observations: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Several :func:`watch_task` results as one life: a status repeated where one watch ends and the next begins counts once."""
    merged: list[tuple[float, str]] = []
    for moment, status in sorted((change for observed in observations for change in observed), key=lambda change: change[0]):
        if not merged or merged[-1][1] != status:
            merged.append((moment, status))
    return merged


def in_lifecycle_order(statuses: list[str]) -> bool:
    """Whether ``statuses`` follow AWS's documented lifecycle order (states may be missing, never out of order)."""
    positions = [LIFECYCLE_ORDER.index(status) for status in statuses]
    return positions == sorted(positions)


def plot_task_timeline(changes: list[tuple[float, str]], ax: Any | None = None) -> Any:
    """Notebook 04: the states one task went through, as observed, on a time axis (a bar per state)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 2.6))
    end = changes[-1][0] + max(0.2, 0.05 * changes[-1][0])
    rows = {state: index for index, state in enumerate(LIFECYCLE_ORDER)}
    for (moment, status), following in zip(changes, [*changes[1:], (end, "")], strict=True):
        ax.barh(
            rows[status], following[0] - moment, left=moment, height=0.6, color="#1b7f3b" if status == "RUNNING" else "#6b8fc7"
        )
    ax.set_yticks(range(len(LIFECYCLE_ORDER)), LIFECYCLE_ORDER, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title("one task's lastStatus, as describe_tasks reported it (unseen states have no bar)", fontsize=9)
    return ax


TASK_PHASES: tuple[tuple[str, str, str, str], ...] = (
    ("createdAt", "pullStartedAt", "provisioning", "#bdbdbd"),
    ("pullStartedAt", "pullStoppedAt", "pulling the image", "#7aa6d6"),
    ("pullStoppedAt", "startedAt", "starting the container", "#ffd166"),
    ("startedAt", "stoppingAt", "RUNNING", "#1b7f3b"),
    ("stoppingAt", "stoppedAt", "stopping", "#b3261e"),
)
"""A task's phases between the timestamps ``describe_tasks`` reports: (from, to, phase, colour)."""


def plot_task_phases(
    ax: Any, tasks: list[dict[str, Any]], labels: list[str], since: Any, until: float, start: float = 0.0
) -> Any:
    """Notebook 05: one bar per task, its phases (:data:`TASK_PHASES`) in seconds after ``since`` (a datetime).

    Shown from ``start`` to ``until`` seconds; a phase still going (no end timestamp yet) ends at ``until``."""
    legend = {}
    for row, (task, _label) in enumerate(zip(tasks, labels, strict=True)):
        for begin, end, phase, colour in TASK_PHASES:
            if begin in task:
                left = (task[begin] - since).total_seconds()
                right = (task[end] - since).total_seconds() if end in task else until
                legend[phase] = ax.barh(row, max(right - left, 0.02), left=left, color=colour, height=0.6)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlim(start, until)
    ax.invert_yaxis()
    ax.legend(legend.values(), legend.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def wait_for_steady_state(
    ecs: Any, cluster: str, service: str, timeout: float = 120, show_progress: bool = True
) -> dict[str, Any]:
    """Poll ``describe_services`` until one deployment runs ``desiredCount`` tasks; shows progress.

    The same condition as boto3's ``services_stable`` waiter, with something to look at."""
    from ecslab.progress import Progress

    progress = Progress(f"service {service}", enabled=show_progress)
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        running, desired = described["runningCount"], described["desiredCount"]
        progress.update(
            running,
            max(desired, 1),
            f"{running}/{desired} running, {described['pendingCount']} pending, {len(described['deployments'])} deployment(s)",
        )
        if len(described["deployments"]) == 1 and running == desired:
            progress.done(f"steady: {running}/{desired} running after {time.monotonic() - started:.1f} s")
            return dict(described)
        if time.monotonic() > deadline:
            message = described["events"][0]["message"] if described["events"] else "no events"
            progress.done("not steady")
            raise TimeoutError(
                f"Service {service} is not steady after {timeout:.0f} s ({running}/{desired} running). Latest event: {message}"
            )
        time.sleep(0.3)


def kill_task_container(docker: Any, task_arn: str, signal: str = "SIGKILL") -> str:
    """Lab only: kill a task's container behind ECS's back (a crash); returns the container name."""
    containers = docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"})
    if not containers:
        raise ValueError(
            f"No running container belongs to task {task_arn.split('/')[-1]} on this machine's Docker engine "
            "(is it still RUNNING? On real AWS tasks do not run here: use ecs.stop_task instead)."
        )
    containers[0].kill(signal=signal)
    return str(containers[0].name)


def remove_cluster(lab: Any, cluster: str, timeout: float = 30) -> dict[str, int]:
    """Delete a cluster and what runs in it: services (forced), tasks, container instances.

    Waits until every task is STOPPED (ECS refuses to delete a cluster with active
    services or tasks), deregisters the container instances and, in the lab, terminates
    the simulated EC2 instances behind them. Returns how many of each it removed; a
    cluster that does not exist is not an error. Notebook 04 and exercise 04's checks
    start and end with it."""
    ecs = lab.ecs
    clusters = ecs.describe_clusters(clusters=[cluster])["clusters"]
    removed = {"services": 0, "tasks": 0, "container instances": 0, "clusters": 0}
    if not clusters or clusters[0]["status"] != "ACTIVE":
        return removed
    for arn in ecs.list_services(cluster=cluster)["serviceArns"]:
        ecs.delete_service(cluster=cluster, service=arn, force=True)
        removed["services"] += 1
    for arn in ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]:
        ecs.stop_task(cluster=cluster, task=arn, reason="Cluster removed")
        removed["tasks"] += 1
    deadline = time.monotonic() + timeout
    while True:
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        described = [
            task
            for start in range(0, len(arns), 100)
            for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
        ]
        running = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
        if not running and all(task["lastStatus"] == "STOPPED" for task in described):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"Tasks of cluster {cluster} are still stopping after {timeout:.0f} s.")
        time.sleep(0.2)
    instance_arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if instance_arns:
        instances = ecs.describe_container_instances(cluster=cluster, containerInstances=instance_arns)["containerInstances"]
        for instance in instances:
            ecs.deregister_container_instance(cluster=cluster, containerInstance=instance["containerInstanceArn"], force=True)
        if lab.is_local:  # the simulated hosts of add_container_instances
            lab.ec2.terminate_instances(InstanceIds=[instance["ec2InstanceId"] for instance in instances])
        removed["container instances"] = len(instances)
    ecs.delete_cluster(cluster=cluster)
    removed["clusters"] = 1
    return removed


def agent_log(lab: Any, last: int = 15) -> list[str]:
    """Lab only: what the lab's ECS agent did lately (pull, start, stop), one line each."""
    if not lab.is_local:
        raise RuntimeError("The agent log is the lab's; on AWS, look at the service's events and the task's stoppedReason.")
    from ecslab.lab.manage import control

    entries = control(lab.config, "GET", "/ecs/agent-log", timeout=5)["entries"]
    return [f"{e['time'][11:23]} task {e['task'][:8]}  {e['message']}" for e in entries[-last:]]


def add_container_instances(lab: Any, cluster: str, count: int = 1, instance_type: str = "t3.medium") -> list[str]:
    """Lab only: simulated EC2 hosts for the EC2 launch type; returns container instance ARNs.

    An EC2 instance is recorded in moto and registered to the cluster with the instance
    type's cpu and memory, as the ECS agent on a real instance would. Placement honours
    those numbers; the tasks still run as containers on this machine's engine.
    """
    if not lab.is_local:
        raise RuntimeError("On AWS, launch EC2 instances with the ECS-optimized AMI and the cluster name in /etc/ecs/ecs.config.")
    vcpu, gib, _ = PRICES["ec2"][instance_type]
    images = lab.ec2.describe_images(Owners=["amazon"])["Images"]
    instances = lab.ec2.run_instances(ImageId=images[0]["ImageId"], MinCount=count, MaxCount=count, InstanceType=instance_type)[
        "Instances"
    ]
    arns = []
    for instance in instances:
        document = json.dumps({"instanceId": instance["InstanceId"], "instanceType": instance_type, "region": lab.region})
        registered = lab.ecs.register_container_instance(
            cluster=cluster,
            instanceIdentityDocument=document,
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": vcpu * 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": gib * 1024 - 256},
            ],
        )
        arns.append(registered["containerInstance"]["containerInstanceArn"])
    return arns


def capacity(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    """Each container instance's registered and remaining CPU and memory."""
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    rows = []
    for instance in ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]:
        registered = {r["name"]: r.get("integerValue", 0) for r in instance["registeredResources"]}
        remaining = {r["name"]: r.get("integerValue", 0) for r in instance["remainingResources"]}
        rows.append(
            {
                "instance": instance["containerInstanceArn"].split("/")[-1][:8],
                "cpu": f"{remaining['CPU']}/{registered['CPU']}",
                "memory": f"{remaining['MEMORY']}/{registered['MEMORY']}",
                "running tasks": instance.get("runningTasksCount", 0),
            }
        )
    return rows


# -- pictures ---------------------------------------------------------------------------------


def cluster_state(ecs: Any, cluster: str) -> dict[str, Any]:
    """The cluster's services and their tasks, as plain data (for diagrams and tables)."""
    service_arns = ecs.list_services(cluster=cluster)["serviceArns"]
    services = ecs.describe_services(cluster=cluster, services=service_arns)["services"] if service_arns else []
    state: dict[str, Any] = {"cluster": cluster, "services": []}
    for service in services:
        tasks = service_tasks(ecs, cluster, service["serviceName"])
        state["services"].append(
            {
                "name": service["serviceName"],
                "desired": service["desiredCount"],
                "running": service["runningCount"],
                "launch_type": service.get("launchType", "EC2"),
                "tasks": [
                    {
                        "id": task["taskArn"].split("/")[-1][:8],
                        "status": task["lastStatus"],
                        "revision": task["taskDefinitionArn"].split("/")[-1],
                        "image": task["containers"][0].get("image", ""),
                    }
                    for task in tasks
                ],
            }
        )
    return state


def architecture_diagram(state: dict[str, Any], ax: Any | None = None) -> Any:
    """The lecture notes' ECS diagram, drawn from a real cluster (``cluster_state``)."""
    import matplotlib.pyplot as plt

    from ecslab.diagrams import NAVY, ORANGE, _arrow, _box

    services = state["services"] or [{"name": "(no service yet)", "tasks": [], "launch_type": "", "desired": 0, "running": 0}]
    width = max(sum(max(len(s["tasks"]), 1) for s in services) * 2.3, 7)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(width, 14), 5))
    ax.set_xlim(0, width + 0.2)
    ax.set_ylim(0, 6)
    ax.axis("off")
    _box(ax, width / 2 - 2, 5.0, 4, 0.8, f"ECS cluster {state['cluster']}", "", "#ffffff")
    x = 0.2
    for service in services:
        span = max(len(service["tasks"]), 1) * 2.3
        _box(
            ax,
            x + span / 2 - 1.5,
            3.6,
            3,
            0.9,
            f"service {service['name']}",
            f"{service['running']}/{service['desired']} running",
            ORANGE,
        )
        _arrow(ax, (width / 2, 5.0), (x + span / 2, 4.5))
        for index, task in enumerate(service["tasks"]):
            tx = x + index * 2.3
            colour = "#c8e6c9" if task["status"] == "RUNNING" else "#fff3cd"
            image = task["image"].rsplit("/", 1)[-1]  # repository:tag, as in the notes' "Image: from ECR"
            _box(ax, tx, 1.9, 2.1, 1.1, f"task {task['id']}", f"{task['revision']}\nimage {image}\n{task['status']}", colour)
            _arrow(ax, (x + span / 2, 3.6), (tx + 1.05, 3.0))
        _box(
            ax,
            x + 0.1,
            0.3,
            span - 0.4,
            0.9,
            "Fargate" if service["launch_type"] == "FARGATE" else "EC2 hosts",
            "containers on this machine's Docker engine (lab)",
            "#eeeeee",
        )
        x += span
    ax.set_title("Cluster → service → tasks → where they run, from describe_services/describe_tasks", fontsize=10, color=NAVY)
    return ax


def cluster_view(lab: Any, cluster: str) -> Any:
    """A live table of the cluster's services and tasks; ``watch(seconds)`` refreshes it while you wait."""
    import ipywidgets as widgets

    table = widgets.HTML()
    button = widgets.Button(description="refresh", icon="refresh")

    def render(_button: Any = None) -> None:
        state = cluster_state(lab.ecs, cluster)
        rows = []
        for service in state["services"]:
            for task in service["tasks"] or [{"id": "-", "status": "-", "revision": "-", "image": ""}]:
                colour = {"RUNNING": "#1b7f3b", "STOPPED": "#b3261e"}.get(task["status"], "#8a6d00")
                rows.append(
                    f"<tr><td>{html.escape(service['name'])} ({service['running']}/{service['desired']})</td><td>{task['id']}</td>"
                    f"<td style='color:{colour}'>{task['status']}</td><td>{html.escape(task['revision'])}</td></tr>"
                )
        table.value = f"<table><tr><th>service (running/desired)</th><th>task</th><th>last status</th><th>revision</th></tr>{''.join(rows)}</table>"

    button.on_click(render)
    render()
    box = widgets.VBox([button, table])

    def watch(seconds: float = 10, every: float = 0.5) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            render()
            time.sleep(every)

    box.watch = watch
    return box
