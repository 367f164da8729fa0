"""PAUSE lifecycle hooks in the lab: a BLUE_GREEN deployment waits after the test traffic shift for
continue_service_deployment, rolls back when told to, and takes its timeout action when nobody answers."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import deployments
from ecslab import elb as elb_tools
from tests.conftest import LabClients
from tests.test_deployment_strategies import create, definition, image, lab, stack  # noqa: F401  (fixtures)

pytestmark = pytest.mark.lab


def paused(lab: LabClients, stack: dict[str, Any], image: str, **timeout: Any) -> tuple[str, dict[str, Any]]:  # noqa: F811
    """Deploy v2 with a PAUSE hook after the test traffic shift; the deployment's ARN and its hook once it waits there."""
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
    if timeout:
        hook["timeoutConfiguration"] = timeout
    configuration = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [hook]}
    lab.ecs.update_service(
        cluster=stack["cluster"],
        service="web",
        taskDefinition=definition(lab, image, "v2"),
        deploymentConfiguration=configuration,
    )
    arn = deployments.latest_deployment_arn(lab.ecs, stack["cluster"], "web")
    for reading in deployments.watch(lab.ecs, arn, interval=0.2, timeout=90):
        if reading.lifecycle_stage == "POST_TEST_TRAFFIC_SHIFT":
            break
    described = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    return arn, described


def version(url: str, **headers: str) -> str:
    return str(
        json.loads(urllib.request.urlopen(urllib.request.Request(url + "/", headers=headers), timeout=5).read())["version"]
    )


def test_a_pause_hook_holds_the_deployment_until_continued(lab: LabClients, stack: dict[str, Any], image: str) -> None:  # noqa: F811
    create(lab, stack, image, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    arn, described = paused(lab, stack, image)
    (hook,) = described["lifecycleHookDetails"]
    assert hook["status"] == "AWAITING_ACTION" and hook["targetType"] == "PAUSE" and hook["timeoutAction"] == "ROLLBACK"
    assert hook["expiresAt"] > described["updatedAt"]
    time.sleep(2)  # held: still there, production still on blue, test traffic on green
    url = elb_tools.listener_url(lab, stack["lb"])
    again = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert again["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT" and again["status"] == "IN_PROGRESS"
    assert version(url, **{"X-Test": "green"}) == "v2" and version(url) == "v1"
    with pytest.raises(ClientError, match="not found"):
        lab.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="hook-nope", action="CONTINUE")
    lab.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=90).status == "SUCCESSFUL"
    assert version(url) == "v2"
    done = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert done["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"


def test_a_pause_hook_answered_rollback_or_timing_out_rolls_back(lab: LabClients, stack: dict[str, Any], image: str) -> None:  # noqa: F811
    create(lab, stack, image, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    url = elb_tools.listener_url(lab, stack["lb"])
    arn, described = paused(lab, stack, image)
    lab.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=described["lifecycleHookDetails"][0]["hookId"], action="ROLLBACK"
    )
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=90).status == "ROLLBACK_SUCCESSFUL"
    assert version(url) == "v1" and version(url, **{"X-Test": "green"}) == "v1"
    # nobody answers: after timeoutInMinutes (1 minute, one lab second) the default timeout action, ROLLBACK
    arn, described = paused(lab, stack, image, timeoutInMinutes=1)
    assert deployments.wait_for_deployment(lab.ecs, arn, timeout=90).status == "ROLLBACK_SUCCESSFUL"
    done = lab.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert done["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
