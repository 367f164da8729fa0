"""Checks for exercises/00-setup.ipynb: first calls to the lab with plain boto3."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ecslab.checks.core import Passed, expect, run_student

POINTS: dict[str, int] = {"0.1": 1, "0.2": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""


def check_create_cluster(create_cluster: Callable[[Any, str], str], lab: Any) -> Passed:
    """0.1: ``create_cluster(lab, name)`` creates an ECS cluster and returns its ARN."""
    name = f"exercise-00-{secrets.token_hex(3)}"  # a new name each run: a function that ignores `name` cannot pass
    arn = run_student("0.1", create_cluster, lab, name)
    expect(isinstance(arn, str), "0.1", f"return the cluster's ARN as a string, not {type(arn).__name__}.")
    expect(
        arn.startswith("arn:aws:ecs:") and arn.endswith(f":cluster/{name}"),
        "0.1",
        f"{arn!r} is not a cluster ARN for {name!r}; return response['cluster']['clusterArn'].",
    )
    clusters = lab.ecs.describe_clusters(clusters=[name])["clusters"]
    expect(
        bool(clusters) and clusters[0]["status"] == "ACTIVE",
        "0.1",
        f"no ACTIVE cluster named {name!r} exists; did you pass the name to create_cluster?",
    )
    lab.ecs.delete_cluster(cluster=name)
    return Passed("0.1", "created an ACTIVE cluster with the name asked for, and returned its ARN.")


def check_plain_client(make_ecs_client: Callable[[str, str], Any], lab: Any) -> Passed:
    """0.2: ``make_ecs_client(endpoint_url, region)`` returns a plain boto3 ECS client for the lab."""
    client = run_student("0.2", make_ecs_client, lab.endpoint_url, lab.region)
    expect(hasattr(client, "list_clusters"), "0.2", "return boto3.client('ecs', ...), an object with list_clusters().")
    expect(
        client.meta.endpoint_url == lab.endpoint_url,
        "0.2",
        f"your client sends requests to {client.meta.endpoint_url}, not the lab's {lab.endpoint_url}; pass endpoint_url=...",
    )
    expect(
        client.meta.region_name == lab.region,
        "0.2",
        f"your client's region is {client.meta.region_name}; pass region_name={lab.region!r}.",
    )
    lab.ecs.create_cluster(clusterName="exercise-00-plain")
    try:
        seen = client.list_clusters()["clusterArns"]
    finally:
        lab.ecs.delete_cluster(cluster="exercise-00-plain")
    expect(any(arn.endswith("/exercise-00-plain") for arn in seen), "0.2", "your client does not see the lab's clusters.")
    return Passed("0.2", "a plain boto3 client reaches the lab.")
