"""A capacity provider strategy's rule (base first, then by weight), without Docker or moto."""

from __future__ import annotations

from collections import Counter

from ecslab.lab.capacity_strategy import NOT_IN_CLUSTER, next_provider, split, strategy_problem
from ecslab.lab.service_connect import aliases

FARGATE = "FARGATE"
SPOT = "FARGATE_SPOT"


def test_base_first_then_the_rest_by_weight() -> None:
    strategy = [{"capacityProvider": FARGATE, "base": 2, "weight": 1}, {"capacityProvider": SPOT, "weight": 3}]
    placed = split(strategy, 6)
    assert placed[:2] == [FARGATE, FARGATE]  # the base, before any weight
    assert Counter(placed) == {FARGATE: 3, SPOT: 3}  # the 4 beyond the base: 1 to 3


def test_weights_alone_split_in_their_ratio_at_every_step() -> None:
    strategy = [{"capacityProvider": FARGATE, "weight": 1}, {"capacityProvider": SPOT, "weight": 4}]
    placed = split(strategy, 10)
    assert Counter(placed) == {FARGATE: 2, SPOT: 8}
    for n in range(1, 11):  # never more than one task away from the exact ratio
        assert abs(Counter(placed[:n])[SPOT] - n * 4 / 5) < 1


def test_a_service_continues_from_what_it_runs() -> None:
    strategy = [{"capacityProvider": FARGATE, "base": 1, "weight": 1}, {"capacityProvider": SPOT, "weight": 1}]
    assert next_provider(strategy, {SPOT: 3}) == FARGATE  # the base is not met yet
    assert next_provider(strategy, {FARGATE: 1, SPOT: 0}) == FARGATE  # tie beyond the base: the first listed
    assert next_provider(strategy, {FARGATE: 2, SPOT: 0}) == SPOT


def test_weight_zero_gets_only_its_base() -> None:
    strategy = [{"capacityProvider": FARGATE, "base": 1, "weight": 0}, {"capacityProvider": SPOT, "weight": 1}]
    assert split(strategy, 4) == [FARGATE, SPOT, SPOT, SPOT]


def test_no_strategy_places_nothing() -> None:
    assert next_provider([], {}) is None
    assert split([], 3) == []


def test_a_provider_the_cluster_lacks_is_refused_in_ecs_words() -> None:
    strategy = [{"capacityProvider": SPOT, "weight": 1}]
    assert strategy_problem(strategy, [FARGATE]) == NOT_IN_CLUSTER
    assert strategy_problem(strategy, None) == NOT_IN_CLUSTER
    assert strategy_problem(strategy, [FARGATE, SPOT]) is None
    assert strategy_problem(None, []) is None


def test_service_connect_names_follow_ecs_defaults() -> None:
    with_alias = {"services": [{"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]}
    assert aliases(with_alias, "shop") == {"http": ["api"]}
    default = {"services": [{"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 8080}]}]}
    assert aliases(default, "shop") == {"http": ["api.shop"]}  # dnsName defaults to discoveryName.namespace
    unnamed = {"services": [{"portName": "http", "clientAliases": [{"port": 8080}]}]}
    assert aliases(unnamed, "shop") == {"http": ["http.shop"]}  # discoveryName defaults to the portName
    assert aliases({"services": [{"portName": "http"}]}, "shop") == {"http": []}  # no client alias: no name
