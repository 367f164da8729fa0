"""Fixtures shared by the unit tests.

``lab``: the default lab (started when needed), as a notebook would get it.
``isolated_config``: settings for a second, private lab in a temp folder on free
ports, for tests that start, break and stop labs without touching the default one.
:func:`execution_role_arn`: ``ecsTaskExecutionRole`` in a lab, which every Fargate task
definition pulling from the lab's registry (ECR) needs, as on AWS.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import ecslab
from ecslab.config import LabConfig
from ecslab.lab import manage


def execution_role_arn(config: LabConfig, create_log_groups: bool = False) -> str:
    """The ARN of ``ecsTaskExecutionRole`` in the lab ``config`` describes, created when missing.

    With ``create_log_groups`` it is another role, ``ecsTaskExecutionRoleWithLogGroups``, that may
    also ``logs:CreateLogGroup``, which ``awslogs-create-group`` needs and AWS's managed policy lacks."""
    import json

    import boto3

    from ecslab.security import ensure_execution_role

    iam = boto3.client("iam", endpoint_url=config.endpoint_url, region_name=config.region, aws_access_key_id="x", aws_secret_access_key="x")
    if not create_log_groups:
        return str(ensure_execution_role(iam))
    arn = ensure_execution_role(iam, name="ecsTaskExecutionRoleWithLogGroups")
    statement = {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"}
    iam.put_role_policy(RoleName="ecsTaskExecutionRoleWithLogGroups", PolicyName="create-log-groups",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    return str(arn)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def lab() -> ecslab.Lab:
    return ecslab.connect()


@pytest.fixture
def isolated_config(tmp_path: Path) -> Iterator[LabConfig]:
    config = LabConfig(home=tmp_path / "lab", aws_port=free_port(), registry_port=free_port(), control_port=free_port())
    yield config
    manage.down(config, say=lambda _message: None)


@pytest.fixture(scope="module")
def running_isolated_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabConfig]:
    """One private lab shared by the tests of a module that only read from it."""
    home = tmp_path_factory.mktemp("shared-lab")
    config = LabConfig(home=home, aws_port=free_port(), registry_port=free_port(), control_port=free_port())
    manage.up(config, say=lambda _message: None)
    yield config
    manage.down(config, say=lambda _message: None)
