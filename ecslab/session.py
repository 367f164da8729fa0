"""The session: ``ecslab.connect()``, the first code cell of every notebook.

It returns a :class:`~ecslab.target.Lab`: boto3 clients named as the course names them (``ecr``,
``ecs``, ``elbv2``, ``iam``, ``logs``, ``cloudwatch``, ``ec2``, ``sts``), a Docker
client, and where things are. Against the local lab (the default) it starts the
lab when it is not running and never starts a second one. Against real AWS
(``target="aws"`` or ``ECSLAB_TARGET=aws``) the very same clients are made with
no endpoint override, so notebook code never depends on being local; the learner
must name the account first and every client tags what it creates
(:mod:`ecslab.aws_target`).

Layers, so that nothing imports in a circle: :mod:`ecslab.target` (the ``Lab``) knows neither
this module nor the real-AWS rules; :mod:`ecslab.aws_target` builds an aws ``Lab``; this module
picks the target and, for the local one, starts the lab (:mod:`ecslab.lab.manage`).
"""

from __future__ import annotations

import os
from typing import Any

from ecslab.config import ACCOUNT_ID, FAKE_CREDENTIALS, LabConfig
from ecslab.target import Lab

__all__ = ["TARGETS", "Lab", "connect", "target_explorer"]

TARGETS = ("local", "aws")


def connect(target: str | None = None, config: LabConfig | None = None, quiet: bool = True, account: str | None = None) -> Lab:
    """Connect to the lab (starting it when needed) or, when asked, to real AWS.

    Real AWS needs ``account`` (or ``ECSLAB_AWS_ACCOUNT``): the 12-digit account the
    credentials belong to, so nobody spends in an account by mistake
    (:func:`ecslab.aws_target.confirm_account` says why and what it costs)."""
    import boto3

    target = (target or os.environ.get("ECSLAB_TARGET") or "local").lower()
    if target not in TARGETS:
        raise ValueError(f"Unknown target {target!r}: use 'local' (the lab on 127.0.0.1) or 'aws' (your real account).")
    config = config or LabConfig.from_env()
    if target == "aws":
        from ecslab.aws_target import connect_aws

        return connect_aws(config, account=account)

    from ecslab.lab import manage

    if not manage.is_running(config):
        manage.up(config, say=(lambda _message: None) if quiet else print)
    session = boto3.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=config.region,
    )
    return Lab("local", config.region, config.endpoint_url, config, session)


def target_explorer(config: LabConfig | None = None) -> Any:
    """A toggle between the local lab and real AWS showing that the code stays the same.

    Notebook 00: the learner flips the target and sees what changes (endpoint,
    credentials, cost, what a mistake costs) and what does not (every line of code).
    """
    import html

    import ipywidgets as widgets

    config = config or LabConfig.from_env()
    facts = {
        "local": {
            "AWS_ENDPOINT_URL": config.endpoint_url,
            "credentials": "fake (testing/testing): moto accepts anything",
            "account": f"{ACCOUNT_ID} (moto's pretend account)",
            "image registry": config.registry_address,
            "containers run on": "this machine's Docker engine",
            "cost of a mistake": "nothing: `ecslab reset` and start again",
        },
        "aws": {
            "AWS_ENDPOINT_URL": "(unset: boto3 picks https://ecs.REGION.amazonaws.com)",
            "credentials": "yours, from `aws configure` or AWS_PROFILE",
            "account": "your 12-digit account",
            "image registry": "ACCOUNT.dkr.ecr.REGION.amazonaws.com",
            "containers run on": "Fargate or your EC2 instances",
            "cost of a mistake": "real money: ALBs and Fargate bill by the hour",
        },
    }
    code = 'lab = ecslab.connect()          # or ECSLAB_TARGET=aws\nclusters = lab.ecs.list_clusters()["clusterArns"]'
    toggle = widgets.ToggleButtons(options=[("local lab", "local"), ("real AWS", "aws")], value="local", description="target")
    table = widgets.HTML()

    def show(change: object = None) -> None:
        rows = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in facts[toggle.value].items()
        )
        table.value = f"<table>{rows}</table><p>The code, identical for both targets:</p><pre>{html.escape(code)}</pre>"

    toggle.observe(show, names="value")
    show()
    return widgets.VBox([toggle, table])
