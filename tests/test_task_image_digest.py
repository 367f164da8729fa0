"""describe_tasks reports the image digest each container was pulled at, as ECS does (moto leaves it out)."""

from __future__ import annotations

import time

import pytest

from ecslab import ecs as ecs_tools
from ecslab.config import LabConfig
from tests.conftest import LabClients, push_app_image

pytestmark = pytest.mark.lab


def test_a_running_task_reports_the_digest_its_image_was_pulled_at(running_isolated_lab: LabConfig) -> None:
    # given: an image pushed to the lab's ECR and a task of it
    lab = LabClients(running_isolated_lab)
    image = push_app_image(lab, "digest-test")
    repository, tag = image.rsplit("/", 1)[1].split(":")
    pushed = lab.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"]
    lab.ecs.create_cluster(clusterName="digest")
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("digest", image, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    subnet = lab.default_subnets(1)[0]
    arn = lab.ecs.run_task(
        cluster="digest",
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "assignPublicIp": "ENABLED"}},
    )["tasks"][0]["taskArn"]
    try:
        # when: it runs
        lab.ecs.get_waiter("tasks_running").wait(cluster="digest", tasks=[arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
        container = lab.ecs.describe_tasks(cluster="digest", tasks=[arn])["tasks"][0]["containers"][0]
        # then: its container names the digest ECR holds for the tag
        assert container["image"] == image and container["imageDigest"] == pushed
    finally:
        lab.ecs.stop_task(cluster="digest", task=arn)
        deadline = time.monotonic() + 30
        while lab.ecs.list_tasks(cluster="digest")["taskArns"] and time.monotonic() < deadline:
            time.sleep(0.2)
        lab.ecs.delete_cluster(cluster="digest")
