"""Lifecycle policy evaluation, rule by rule, as ECR documents it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ecslab.ecr_lifecycle import ImageRecord, LifecyclePolicyError, evaluate, parse_policy

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def image(name: str, days_ago: float, *tags: str) -> ImageRecord:
    return ImageRecord(f"sha256:{name}", list(tags), NOW - timedelta(days=days_ago))


def rule(priority: int, tag_status: str, count_type: str, number: int, **extra: object) -> dict[str, object]:
    selection: dict[str, object] = {"tagStatus": tag_status, "countType": count_type, "countNumber": number, **extra}
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def expired(rules: list[dict[str, object]], images: list[ImageRecord]) -> list[tuple[str, int]]:
    result = evaluate(json.dumps({"rules": rules}), images, NOW)
    return [(verdict.image.digest.removeprefix("sha256:"), verdict.rule.priority) for verdict in result.expired]


IMAGES = [
    image("a", 40, "prod-1"),
    image("b", 30, "prod-2"),
    image("c", 20, "beta-1"),
    image("d", 10),
    image("e", 5),
    image("f", 1, "prod-3", "latest"),
]


def test_keep_the_newest_n_tagged_images_with_a_prefix() -> None:
    assert expired([rule(1, "tagged", "imageCountMoreThan", 2, tagPrefixList=["prod"])], IMAGES) == [("a", 1)]


def test_untagged_images_older_than_n_days() -> None:
    assert expired([rule(1, "untagged", "sinceImagePushed", 7, countUnit="days")], IMAGES) == [("d", 1)]


def test_any_rule_is_last_and_cannot_expire_images_a_higher_rule_selected() -> None:
    rules = [rule(1, "tagged", "imageCountMoreThan", 5, tagPrefixList=["prod"]), rule(2, "any", "imageCountMoreThan", 1)]
    # prod images are selected (kept) by rule 1, so rule 2 may not expire them even though they count
    assert expired(rules, IMAGES) == [("c", 2), ("d", 2), ("e", 2)]


def test_all_prefixes_must_match_one_of_the_tags() -> None:
    rules = [rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod", "lat"])]
    assert expired(rules, IMAGES + [image("g", 0, "prod-4", "latest-2")]) == [("f", 1)]


def test_tag_pattern_wildcards() -> None:
    assert expired([rule(1, "tagged", "sinceImagePushed", 15, tagPatternList=["*-1"], countUnit="days")], IMAGES) == [("a", 1), ("c", 1)]


def test_oldest_expire_first_and_each_image_once() -> None:
    rules = [rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod"]), rule(2, "tagged", "imageCountMoreThan", 1, tagPrefixList=["beta"])]
    assert expired(rules, IMAGES) == [("a", 1), ("b", 1)]


@pytest.mark.parametrize(
    "rules, message",
    [
        ([rule(1, "tagged", "imageCountMoreThan", 1)], "needs a tagPrefixList or tagPatternList"),
        ([rule(1, "any", "imageCountMoreThan", 1), rule(2, "untagged", "imageCountMoreThan", 1)], "must have the highest rulePriority"),
        ([rule(1, "untagged", "imageCountMoreThan", 1), rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["v"])], "unique"),
        ([rule(1, "untagged", "sinceImagePushed", 3)], "countUnit"),
        ([rule(1, "untagged", "imageCountMoreThan", 0)], "countNumber must be an integer of 1 or more"),
        ([rule(1, "sometimes", "imageCountMoreThan", 1)], "tagStatus must be"),
        ([], "non-empty"),
    ],
)
def test_bad_policies_say_what_is_wrong(rules: list[dict[str, object]], message: str) -> None:
    with pytest.raises(LifecyclePolicyError, match=message):
        parse_policy(json.dumps({"rules": rules}))


def test_invalid_json() -> None:
    with pytest.raises(LifecyclePolicyError, match="invalid JSON"):
        parse_policy("{rules: [")
