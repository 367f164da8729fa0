"""The session: ``ecslab.connect()``, the first code cell of every notebook.

It returns a :class:`Lab`: boto3 clients named as the course names them (``ecr``,
``ecs``, ``elbv2``, ``iam``, ``logs``, ``cloudwatch``, ``ec2``, ``sts``), a Docker
client, and where things are. Against the local lab (the default) it starts the
lab when it is not running and never starts a second one. Against real AWS
(``target="aws"`` or ``ECSLAB_TARGET=aws``) the very same clients are made with
no endpoint override, so notebook code never depends on being local; the learner
must name the account first and every client tags what it creates
(:mod:`ecslab.aws_target`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecslab.config import ACCOUNT_ID, FAKE_CREDENTIALS, LabConfig

TARGETS = ("local", "aws")


@dataclass
class Lab:
    """Where the course's AWS calls and containers go, and the clients to make them."""

    target: str
    region: str
    endpoint_url: str | None
    config: LabConfig = field(repr=False)  # its state folder differs from machine to machine
    _session: Any = field(repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _docker: Any = field(default=None, repr=False)
    _client_hooks: list[Callable[[Any], None]] = field(default_factory=list, repr=False)  # aws: course tagging
    _confirmed_account: str | None = field(default=None, repr=False)

    @property
    def is_local(self) -> bool:
        return self.target == "local"

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` aimed at this target (cached)."""
        if service not in self._clients:
            client = self._session.client(service, endpoint_url=self.endpoint_url)
            for hook in self._client_hooks:
                hook(client)
            self._clients[service] = client
        return self._clients[service]

    ecr = property(lambda self: self.client("ecr"))
    ecs = property(lambda self: self.client("ecs"))
    elbv2 = property(lambda self: self.client("elbv2"))
    iam = property(lambda self: self.client("iam"))
    logs = property(lambda self: self.client("logs"))
    cloudwatch = property(lambda self: self.client("cloudwatch"))
    ec2 = property(lambda self: self.client("ec2"))
    sts = property(lambda self: self.client("sts"))

    @property
    def docker(self) -> Any:
        """The Docker engine (``docker.DockerClient``); raises with the fix when none answers."""
        if self._docker is None:
            from ecslab.engine import docker_client

            self._docker = docker_client()
        return self._docker

    @property
    def account_id(self) -> str:
        if self.is_local:
            return ACCOUNT_ID
        if self._confirmed_account:
            return self._confirmed_account
        return str(self.sts.get_caller_identity()["Account"])

    def describe(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "region": self.region,
            "account_id": self.account_id,
            "aws_endpoint": self.endpoint_url or "AWS's own endpoints",
            "registry": self.config.registry_address
            if self.is_local
            else f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com",
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{key}</th><td><code>{value}</code></td></tr>"
            for key, value in self.describe().items()
        )
        if self.is_local:
            return f"<table>{rows}</table>"
        from ecslab.aws_target import banner_html

        return banner_html(self.account_id, self.region) + f"<table>{rows}</table>"


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
        session = boto3.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or config.region)
        if session.get_credentials() is None:
            raise RuntimeError(
                "target 'aws' needs AWS credentials: run `aws configure` or set AWS_PROFILE; or use the local lab."
            )
        from ecslab.aws_target import open_lab

        return open_lab(session, config, account=account)

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

    def show(change: Any = None) -> None:
        rows = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in facts[toggle.value].items()
        )
        table.value = f"<table>{rows}</table><p>The code, identical for both targets:</p><pre>{html.escape(code)}</pre>"

    toggle.observe(show, names="value")
    show()
    return widgets.VBox([toggle, table])
