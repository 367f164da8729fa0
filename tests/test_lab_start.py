"""The lab's start in two steps (issue 17): ``ecslab up`` returns once the AWS endpoint, the registry
and the control API answer; moto and the fillers warm up after it, and nothing reached in that time
sees a half-started lab."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import boto3
import pytest

from ecslab.config import LabConfig
from ecslab.lab import manage

pytestmark = pytest.mark.lab


def _quiet(_message: str) -> None:
    pass


def test_what_is_reached_the_moment_up_returns_waits_for_the_warm_up(isolated_config: LabConfig) -> None:
    # given: a lab just started
    manage.up(isolated_config, say=_quiet)
    answers: dict[str, object] = {}

    def registry() -> None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{isolated_config.registry_port}/v2/", timeout=60)
        except urllib.error.HTTPError as error:
            answers["registry"] = (error.code, error.headers.get("Www-Authenticate", ""))

    def aws() -> None:
        ecs = boto3.client(
            "ecs",
            endpoint_url=isolated_config.endpoint_url,
            region_name=isolated_config.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        answers["aws"] = ecs.list_clusters()["clusterArns"]

    # when: the registry's port and the AWS endpoint are called at once, before the lab is warm
    threads = [threading.Thread(target=registry), threading.Thread(target=aws)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    # then: both are answered by the warm lab (the registry front asks for ECR's token; moto answers), none refused
    assert answers["aws"] == []
    code, challenge = answers["registry"]  # type: ignore[misc]
    assert code == 401 and "ecslab ECR" in challenge
    # and status, which lists the fillers, comes once the lab is warm
    report = manage.control(isolated_config, "GET", "/ready")
    assert report["warm"] is True and report["registry"]["ok"] is True
    assert manage.status(isolated_config, with_docker=False).to_dict()["fillers"]
