"""The :class:`Lab`: where the course's AWS calls and containers go, and the clients to make them.

:func:`ecslab.connect` (:mod:`ecslab.session`) makes one, for the local lab or, through
:func:`ecslab.aws_target.open_lab`, for real AWS; every notebook calls it ``lab``. This module
knows neither how to start the lab nor the real-AWS rules: both build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecslab.config import ACCOUNT_ID, LabConfig

__all__ = ["Lab"]


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
    _banner_html: str = field(default="", repr=False)  # aws: whose money, where (ecslab.aws_target.banner_html)

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

    def describe(self) -> dict[str, str]:
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
        return f"{self._banner_html}<table>{rows}</table>"
