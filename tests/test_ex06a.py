"""The checker of exercise 06a passes right deployment percentages and explains wrong ones.

Given a cluster of the tests' own (``t06a-percentages``, never the exercise's), when the checker runs a learner's
function, then it passes or names what to change, and leaves nothing behind either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import ecslab
from ecslab.checks import CheckFailed, ex06a, setup

PERCENTAGES_CLUSTER = "t06a-percentages"


def nothing_left(lab: ecslab.Lab) -> bool:
    return setup.clusters_left(lab, [PERCENTAGES_CLUSTER]) == []


def check_percentages(answer: Callable[[], Any], lab: ecslab.Lab) -> Any:
    return ex06a.check_deployment_configuration(answer, lab, cluster=PERCENTAGES_CLUSTER)


def test_right_percentages_pass(lab: ecslab.Lab) -> None:
    passed = check_percentages(lambda: {"minimumHealthyPercent": 100, "maximumPercent": 150}, lab)
    assert "2 new tasks at a time" in passed.message and nothing_left(lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda: (100, 150), "return a dict"),
        (lambda: {"minimumHealthyPercent": 100}, "lacks \\['maximumPercent'\\]"),
        (lambda: {"minimumHealthyPercent": 1.0, "maximumPercent": 1.5}, "whole numbers"),
        (
            lambda: {"minimumHealthyPercent": 100, "maximumPercent": 100},
            "ECS refuses these percentages: .*InvalidParameterException",
        ),
        (lambda: {"minimumHealthyPercent": 50, "maximumPercent": 150}, "only ⌈4 × 50 / 100⌉ = 2 are healthy"),
        (lambda: {"minimumHealthyPercent": 100, "maximumPercent": 200}, "up to ⌊4 × 200 / 100⌋ = 8 tasks"),
        (lambda: {"minimumHealthyPercent": 100, "maximumPercent": 125}, "replaces only 1 at a time"),
    ],
    ids=["tuple", "missing-key", "fractions", "refused", "too-few-healthy", "too-many-running", "too-slow"],
)
def test_wrong_percentages_are_explained(lab: ecslab.Lab, answer: Callable[[], Any], message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_percentages(answer, lab)
    assert nothing_left(lab)


def test_the_points_are_6a_1() -> None:
    assert ex06a.POINTS == {"6a.1": 1}
