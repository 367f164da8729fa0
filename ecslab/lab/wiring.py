"""The lab's fillers, made and wired together in one place, and the order they start in.

Each filler receives the others it works with by constructor, typed with the protocols of
:mod:`ecslab.lab.fillers`; nothing looks a filler up by its display name, so renaming one
cannot switch a feature off. This is the only module that imports every filler (the lab's
composition root), which keeps :mod:`ecslab.lab.fillers` free of import cycles.

Start order (:data:`START_ORDER`): moto is patched before anything can call it; a filler
starts after every collaborator it was given (:func:`check_start_order`, run by the tests
and at every start); stopping goes the other way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ecslab.lab.autoscaling import AutoScaling
from ecslab.lab.capacity import CapacityProviders
from ecslab.lab.ecr_plane import EcrDataPlane
from ecslab.lab.ecs_agent import EcsAgent
from ecslab.lab.ecs_exec import EcsExec
from ecslab.lab.elb import LoadBalancing
from ecslab.lab.execution_role import ExecutionRoles
from ecslab.lab.fillers import GapFiller, PinTaskTransitions, TaskJournal, TrustPolicyValidation
from ecslab.lab.monitoring import CloudWatch, ContainerSampler
from ecslab.lab.service_connect import ServiceConnect
from ecslab.lab.task_roles import TaskRoles

START_ORDER = (
    "task_states",  # moto's ECS task transitions pinned before any task exists
    "trust_policies",  # IAM patched before any role is made
    "ecr",  # ECR's data plane: images can be pushed as soon as the lab says it is ready
    "load_balancing",  # ALB: the agent registers targets with it; autoscaling reads its request counts
    "autoscaling",  # target tracking: sets desired counts the agent acts on; CloudWatch records its alarm actions in it
    "cloudwatch",  # logs for the agent's containers; alarms that scale services
    "execution_roles",  # task hooks of the agent: started before the agent launches a task
    "task_roles",
    "capacity",  # issue 16: capacity providers, Spot, the ECS fields moto drops (before exec and Service Connect read them)
    "ecs_exec",  # issue 16: task hooks of the agent, and ExecuteCommand
    "service_connect",  # issue 16: task hooks of the agent
    "agent",  # the ECS agent: runs tasks, keeps services at their desired count
)

DISPLAY_ORDER = (
    "task_states",
    "trust_policies",
    "ecr",
    "load_balancing",
    "cloudwatch",
    "execution_roles",
    "task_roles",
    "agent",
    "autoscaling",
    "capacity",
    "ecs_exec",
    "service_connect",
)
"""How ``ecslab status`` and notebook 00 list the fillers (the course's order, kept apart from the start order)."""


@dataclass(frozen=True)
class LabFillers:
    """Every filler of one lab process, each under a name the code uses (not its display name)."""

    journal: TaskJournal
    task_states: PinTaskTransitions
    trust_policies: TrustPolicyValidation
    ecr: EcrDataPlane
    load_balancing: LoadBalancing
    cloudwatch: CloudWatch
    execution_roles: ExecutionRoles
    task_roles: TaskRoles
    agent: EcsAgent
    autoscaling: AutoScaling
    capacity: CapacityProviders
    ecs_exec: EcsExec
    service_connect: ServiceConnect

    def in_start_order(self) -> list[GapFiller]:
        found: list[GapFiller] = [getattr(self, name) for name in START_ORDER]
        return found

    def in_display_order(self) -> list[GapFiller]:
        found: list[GapFiller] = [getattr(self, name) for name in DISPLAY_ORDER]
        return found


def wire() -> LabFillers:
    """Make every filler with its collaborators."""
    journal = TaskJournal()
    sampler = ContainerSampler()  # one reader of docker stats, for CloudWatch's metrics and target tracking
    load_balancing = LoadBalancing()
    autoscaling = AutoScaling(load_balancing=load_balancing, sampler=sampler)
    cloudwatch = CloudWatch(load_balancing=load_balancing, scaling=autoscaling, sampler=sampler)
    execution_roles = ExecutionRoles(notes=journal)
    task_roles = TaskRoles(notes=journal)
    capacity = CapacityProviders(notes=journal)
    ecs_exec = EcsExec(notes=journal)
    service_connect = ServiceConnect(notes=journal)
    agent = EcsAgent(
        journal=journal,
        targets=load_balancing,
        logs=cloudwatch,
        hooks=(execution_roles, task_roles, load_balancing, ecs_exec, service_connect),
    )
    fillers = LabFillers(
        journal=journal,
        task_states=PinTaskTransitions(),
        trust_policies=TrustPolicyValidation(),
        ecr=EcrDataPlane(),
        load_balancing=load_balancing,
        cloudwatch=cloudwatch,
        execution_roles=execution_roles,
        task_roles=task_roles,
        agent=agent,
        autoscaling=autoscaling,
        capacity=capacity,
        ecs_exec=ecs_exec,
        service_connect=service_connect,
    )
    check_start_order(fillers)
    return fillers


def check_start_order(fillers: LabFillers) -> None:
    """Raise when a filler would start before a filler it was given, or a filler is missing from the order."""
    names = {f.name for f in fields(fillers)} - {"journal"}
    for order in (START_ORDER, DISPLAY_ORDER):
        if set(order) != names or len(order) != len(names):
            raise ValueError(f"START_ORDER and DISPLAY_ORDER must name every filler of LabFillers once: {sorted(names)}")
    started: list[object] = []
    for filler in fillers.in_start_order():
        late = [c for c in filler.collaborators() if isinstance(c, GapFiller) and c not in started]
        if late:
            raise ValueError(f"{filler.name} starts before {', '.join(c.name for c in late)}, which it was given")
        started.append(filler)


def filler_classes() -> list[type[GapFiller]]:
    """Every filler class, in the order ``ecslab status`` lists them."""
    hints = {f.name: f.type for f in fields(LabFillers)}
    return [_resolve(str(hints[name])) for name in DISPLAY_ORDER]


def _resolve(type_name: str) -> type[GapFiller]:
    found = globals()[type_name]
    assert isinstance(found, type) and issubclass(found, GapFiller)
    return found
