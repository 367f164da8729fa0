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
    fake_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/exercise-00-check"
    with pytest.raises(CheckFailed, match="no ACTIVE cluster"):
        ex00.check_create_cluster(lambda lab, name: fake_arn, lab)


def test_a_client_aimed_at_aws_is_caught(lab: ecslab.Lab) -> None:
    def aimed_at_aws(endpoint_url: str, region: str):  # type: ignore[no-untyped-def]
        return boto3.client("ecs", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")

    with pytest.raises(CheckFailed, match="not the lab's"):
        ex00.check_plain_client(aimed_at_aws, lab)
