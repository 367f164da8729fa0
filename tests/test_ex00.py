"""The checkers of exercise 00 fail wrong answers with useful messages."""

from __future__ import annotations

import boto3
import pytest

import ecslab
from ecslab.checks import CheckFailed, ex00


def test_a_wrong_arn_is_explained(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="not a cluster ARN"):
        ex00.check_create_cluster(lambda lab, name: "my-cluster", lab)


def test_not_creating_the_cluster_is_caught(lab: ecslab.Lab) -> None:
    with pytest.raises(CheckFailed, match="no ACTIVE cluster"):
        ex00.check_create_cluster(lambda lab, name: f"arn:aws:ecs:us-east-1:123456789012:cluster/{name}", lab)


def test_a_constant_cluster_name_does_not_pass(lab: ecslab.Lab) -> None:
    """The hole issue 13 closed: the name used to be fixed, so a function ignoring it passed."""

    def constant(lab: ecslab.Lab, name: str) -> str:
        return str(lab.ecs.create_cluster(clusterName="exercise-00-check")["cluster"]["clusterArn"])

    try:
        with pytest.raises(CheckFailed, match="not a cluster ARN for"):
            ex00.check_create_cluster(constant, lab)
    finally:
        lab.ecs.delete_cluster(cluster="exercise-00-check")


def test_a_client_aimed_at_aws_is_caught(lab: ecslab.Lab) -> None:
    def aimed_at_aws(endpoint_url: str, region: str):  # type: ignore[no-untyped-def]
        return boto3.client("ecs", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")

    with pytest.raises(CheckFailed, match="not the lab's"):
        ex00.check_plain_client(aimed_at_aws, lab)
