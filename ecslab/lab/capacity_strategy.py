"""A capacity provider strategy's rule as pure functions: base first, then by weight (:mod:`ecslab.lab.capacity` uses it).

No moto, no Docker: ``tests/test_capacity.py`` runs it in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
"""The capacity providers every account has (they only need associating with a cluster)."""

NOT_IN_CLUSTER = (
    "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster."
)


def next_provider(strategy: Sequence[Mapping[str, Any]], counts: Mapping[str, int]) -> str | None:
    """The provider the next task goes to, given how many tasks each provider already has.

    The provider with a ``base`` gets tasks until it has ``base``; after that each task goes where
    ``(tasks beyond base + 1) / weight`` is smallest (ties: the first in the strategy), so the tasks beyond
    the base follow the weights. A provider with weight 0 gets no task beyond its base. ``None``: no strategy."""
    if not strategy:
        return None
    for item in strategy:
        name = str(item["capacityProvider"])
        if counts.get(name, 0) < int(item.get("base") or 0):
            return name
    best: tuple[float, str] | None = None
    for item in strategy:
        name, weight = str(item["capacityProvider"]), int(item.get("weight") or 0)
        if weight <= 0:
            continue
        beyond = counts.get(name, 0) - int(item.get("base") or 0)
        score = (beyond + 1) / weight
        if best is None or score < best[0]:
            best = (score, name)
    return best[1] if best is not None else str(strategy[0]["capacityProvider"])


def split(strategy: Sequence[Mapping[str, Any]], count: int, already: Mapping[str, int] | None = None) -> list[str]:
    """The providers of ``count`` new tasks, in launch order (``already``: tasks each provider has)."""
    counts = dict(already or {})
    chosen = []
    for _ in range(count):
        name = next_provider(strategy, counts)
        if name is None:
            break
        chosen.append(name)
        counts[name] = counts.get(name, 0) + 1
    return chosen


def strategy_problem(strategy: Sequence[Mapping[str, Any]] | None, cluster_providers: Sequence[str] | None) -> str | None:
    """ECS's refusal of a strategy for a cluster, or ``None``."""
    if not strategy:
        return None
    if any(item.get("capacityProvider") not in (cluster_providers or []) for item in strategy):
        return NOT_IN_CLUSTER
    return None
