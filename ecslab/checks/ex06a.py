"""Checks for exercises/06a-rolling-deployments-and-scaling.ipynb: deployment percentages for a budget.

Check 6a.1 (check 6.3 before notebook 06 was split) asks ECS itself whether it accepts the learner's
percentages: it makes a cluster of its own (``ex06a-check-percentages``) with a service of 0 tasks, and
deletes both; the notebook's Cleanup cell (:func:`clean_up`) deletes anything an interrupted check left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab.checks import setup
from ecslab.checks.core import Passed, expect, run_student

POINTS: dict[str, int] = {"6a.1": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

PERCENTAGES_CLUSTER = "ex06a-check-percentages"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def clean_up(lab: Any) -> dict[str, Any]:
    """The exercise's Cleanup: the cluster check 6a.1 makes, if an interrupted run left it."""
    ecs_tools.remove_cluster(lab, PERCENTAGES_CLUSTER)
    return {"check clusters left": setup.clusters_left(lab, [PERCENTAGES_CLUSTER])}


# -- 6a.1 ------------------------------------------------------------------------------------


def _ecs_refusal(lab: Any, configuration: dict[str, Any], cluster: str) -> str | None:
    """ECS's own answer to these percentages: a service of 0 tasks is created with them (and deleted); the error, if any."""
    ecs_tools.remove_cluster(lab, cluster)
    try:
        lab.ecs.create_cluster(clusterName=cluster)
        definition = lab.ecs.register_task_definition(**ecs_tools.task_definition(cluster, "localhost/ex06a-never-pulled:v1"))[
            "taskDefinition"
        ]["taskDefinitionArn"]
        _, subnets = elb_tools.default_subnets(lab.ec2)
        try:
            lab.ecs.create_service(
                cluster=cluster,
                serviceName="percentages",
                taskDefinition=definition,
                desiredCount=0,
                launchType="FARGATE",
                networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
                deploymentConfiguration=configuration,
            )
        except ClientError as error:
            return str(error)
        finally:
            lab.ecs.deregister_task_definition(taskDefinition=definition)
        return None
    finally:
        ecs_tools.remove_cluster(lab, cluster)


def check_deployment_configuration(
    deployment_configuration: Callable[[], dict[str, int]], lab: Any, cluster: str = PERCENTAGES_CLUSTER
) -> Passed:
    """6a.1: ``deployment_configuration()`` keeps a 4-task service at 4 healthy tasks during a rollout, with at most 6 running."""
    configuration = run_student("6a.1", deployment_configuration)
    expect(
        isinstance(configuration, dict),
        "6a.1",
        f"return a dict like {{'minimumHealthyPercent': ..., 'maximumPercent': ...}}, not {_short(configuration)}.",
    )
    missing = [key for key in ("minimumHealthyPercent", "maximumPercent") if key not in configuration]
    expect(
        not missing,
        "6a.1",
        f"the dict lacks {missing}; ECS's deploymentConfiguration spells them minimumHealthyPercent and maximumPercent.",
    )
    minimum, maximum = configuration["minimumHealthyPercent"], configuration["maximumPercent"]
    expect(
        all(isinstance(v, int) and not isinstance(v, bool) for v in (minimum, maximum)),
        "6a.1",
        f"percentages are whole numbers (100 means 100 %), not {minimum!r} and {maximum!r}.",
    )
    refusal = _ecs_refusal(lab, {"minimumHealthyPercent": minimum, "maximumPercent": maximum}, cluster)
    expect(refusal is None, "6a.1", f"ECS refuses these percentages: {refusal}")
    bounds = elb_tools.deployment_bounds(4, minimum, maximum)
    expect(
        bounds["at_least_healthy"] >= 4,
        "6a.1",
        f"with minimumHealthyPercent {minimum}, ECS may stop old tasks until only ⌈4 × {minimum} / 100⌉ = {bounds['at_least_healthy']} are healthy. "
        "To keep all 4, that must be 4.",
    )
    expect(
        bounds["at_most_running"] <= 6,
        "6a.1",
        f"with maximumPercent {maximum}, ECS may run up to ⌊4 × {maximum} / 100⌋ = {bounds['at_most_running']} tasks during a rollout; at most 6 are allowed.",
    )
    expect(
        bounds["at_most_running"] == 6,
        "6a.1",
        f"with maximumPercent {maximum}, ECS runs at most {bounds['at_most_running']} tasks, so it replaces only "
        f"{bounds['at_most_running'] - 4} at a time"
        + (" (none: the rollout could never start)" if bounds["at_most_running"] == 4 else "")
        + ". 6 are allowed: replace 2 at a time.",
    )
    return Passed(
        "6a.1",
        f"ECS accepts minimumHealthyPercent {minimum} and maximumPercent {maximum}: a rollout of 4 tasks keeps 4 healthy, runs at most 6, "
        "starting 2 new tasks at a time.",
    )
