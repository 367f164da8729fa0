"""A service deployment stopped by hand (StopServiceDeployment) under load: the blue tasks keep serving.

Found by the notebook 06b rehearsal: between ``stop_service_deployment`` and the agent's next look, the deployment was
taken for a rolling update and its blue tasks were stopped as old ones (hundreds of 503s until the rollback had started
new ones). The stack and helpers are those of tests/test_deployment_strategies.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecslab import deployments
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from tests.conftest import LabClients
from tests.test_deployment_strategies import definition, image, lab, load_balancers, stack  # noqa: F401  (fixtures)

pytestmark = pytest.mark.lab


def test_a_canary_stopped_by_hand_after_a_rolling_deployment_keeps_blue_serving(
    lab: LabClients,  # noqa: F811
    stack: dict[str, Any],  # noqa: F811
    image: str,  # noqa: F811
) -> None:
    # given: a service created ROLLING (with the blue/green pair ready), rolled once to v2
    lab.ecs.create_service(
        cluster=stack["cluster"],
        serviceName="web",
        taskDefinition=definition(lab, image, "v1"),
        desiredCount=3,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": stack["subnets"], "securityGroups": [stack["task_group"]]}},
        loadBalancers=load_balancers(stack),
        deploymentConfiguration={"strategy": "ROLLING"},
    )
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=stack["blue"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    lab.ecs.update_service(cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v2"))
    first = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    assert deployments.wait_for_deployment(lab.ecs, first, timeout=120).status == "SUCCESSFUL"
    blue_tasks = {t["taskArn"] for t in ecs_tools.service_tasks(lab.ecs, stack["cluster"], "web")}
    canary = {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 2,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 60},
    }
    url = elb_tools.listener_url(lab, stack["lb"])
    # when: a canary of v3 is stopped by hand while it takes its 10 %
    with elb_tools.TrafficGenerator(url, rate=40, concurrency=6, timeout=2) as traffic:
        lab.ecs.update_service(
            cluster=stack["cluster"], service="web", taskDefinition=definition(lab, image, "v3"), deploymentConfiguration=canary
        )
        arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
        for reading in deployments.watch(lab.ecs, arn, interval=0.2, timeout=120):
            if reading.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT" and reading.status == "IN_PROGRESS":
                lab.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        final = reading
    # then: rolled back, no request failed, and the same v2 tasks serve (none was stopped and replaced)
    assert final.status == "ROLLBACK_SUCCESSFUL"
    assert [r for r in traffic.responses if r.status != 200] == []
    assert {t["taskArn"] for t in ecs_tools.service_tasks(lab.ecs, stack["cluster"], "web")} == blue_tasks
