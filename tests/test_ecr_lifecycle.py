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
    assert expired([rule(1, "tagged", "sinceImagePushed", 15, tagPatternList=["*-1"], countUnit="days")], IMAGES) == [
        ("a", 1),
        ("c", 1),
    ]


def test_oldest_expire_first_and_each_image_once() -> None:
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod"]),
        rule(2, "tagged", "imageCountMoreThan", 1, tagPrefixList=["beta"]),
    ]
    assert expired(rules, IMAGES) == [("a", 1), ("b", 1)]


@pytest.mark.parametrize(
    "rules, message",
    [
        ([rule(1, "tagged", "imageCountMoreThan", 1)], "needs a tagPrefixList or tagPatternList"),
        (
            [rule(1, "any", "imageCountMoreThan", 1), rule(2, "untagged", "imageCountMoreThan", 1)],
            "must have the highest rulePriority",
        ),
        (
            [rule(1, "untagged", "imageCountMoreThan", 1), rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["v"])],
            "unique",
        ),
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


# -- 2023-2025 additions to ECR's lifecycle rules: patterns, pull time, archive ----------------


def transition(priority: int, tag_status: str, count_type: str, number: int, **extra: object) -> dict[str, object]:
    return {
        **rule(priority, tag_status, count_type, number, **extra),
        "action": {"type": "transition", "targetStorageClass": "archive"},
    }


def pulled(name: str, pushed_days_ago: float, pulled_days_ago: float | None, *tags: str) -> ImageRecord:
    last = NOW - timedelta(days=pulled_days_ago) if pulled_days_ago is not None else None
    return ImageRecord(f"sha256:{name}", list(tags), NOW - timedelta(days=pushed_days_ago), last_pulled_at=last)


def test_tag_pattern_list_keeps_the_newest_n_matching() -> None:
    # given prod-1, prod-2, prod-3 (and beta-1, which the pattern does not match)
    rules = [rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["prod-*"])]
    # then the two older prod images go, newest first kept
    assert expired(rules, IMAGES) == [("a", 1), ("b", 1)]


def test_since_image_pulled_counts_from_the_last_pull() -> None:
    # given images pushed long ago; one pulled yesterday, one pulled 20 days ago, one never pulled
    images = [pulled("old-busy", 90, 1, "v1"), pulled("old-idle", 90, 20, "v2"), pulled("never", 30, None, "v3")]
    # when images not pulled for 14 days expire
    rules = [rule(1, "any", "sinceImagePulled", 14, countUnit="days")]
    # then the busy one stays although it was pushed 90 days ago; the never-pulled one counts from its push
    assert expired(rules, images) == [("old-idle", 1), ("never", 1)]


def test_transition_archives_instead_of_deleting() -> None:
    # given a rule that archives all but the newest 2 images
    result = evaluate(json.dumps({"rules": [transition(1, "any", "imageCountMoreThan", 2)]}), IMAGES, NOW)
    previews = [verdict.to_preview() for verdict in result.expired]
    # then the 4 oldest are TRANSITIONed to ARCHIVE, not expired
    assert [p["imageDigest"] for p in previews] == ["sha256:a", "sha256:b", "sha256:c", "sha256:d"]
    assert {json.dumps(p["action"], sort_keys=True) for p in previews} == {
        '{"targetStorageClass": "ARCHIVE", "type": "TRANSITION"}'
    }
    assert {p["storageClass"] for p in previews} == {"STANDARD"}


def test_since_image_transitioned_expires_archived_images_only() -> None:
    # given two archived images (archived 100 and 10 days ago) and a standard one pushed long ago
    archived_long = ImageRecord(
        "sha256:x", ["v1"], NOW - timedelta(days=400), storage_class="archive", transitioned_at=NOW - timedelta(days=100)
    )
    archived_recent = ImageRecord(
        "sha256:y", ["v2"], NOW - timedelta(days=300), storage_class="archive", transitioned_at=NOW - timedelta(days=10)
    )
    standard = ImageRecord("sha256:z", ["v3"], NOW - timedelta(days=500))
    rules = [rule(1, "any", "sinceImageTransitioned", 90, countUnit="days", storageClass="archive")]
    # then only the image archived more than 90 days ago expires
    assert expired(rules, [archived_long, archived_recent, standard]) == [("x", 1)]


def test_standard_rules_do_not_see_archived_images() -> None:
    archived = ImageRecord(
        "sha256:x", [], NOW - timedelta(days=400), storage_class="archive", transitioned_at=NOW - timedelta(days=100)
    )
    assert expired([rule(1, "untagged", "sinceImagePushed", 1, countUnit="days")], [archived]) == []


@pytest.mark.parametrize(
    "rules, message",
    [
        ([rule(1, "any", "sinceImagePulled", 3)], 'sinceImagePulled needs "countUnit": "days"'),
        ([rule(1, "any", "sinceImageTransitioned", 90, countUnit="days", storageClass="standard")], 'storageClass": "archive'),
        ([rule(1, "any", "sinceImagePushed", 9, countUnit="days", storageClass="archive")], '"standard" storage class'),
        ([transition(1, "any", "sinceImageTransitioned", 90, countUnit="days", storageClass="archive")], "can only expire"),
        ([{**rule(1, "any", "imageCountMoreThan", 1), "action": {"type": "transition"}}], "targetStorageClass"),
        ([{**rule(1, "any", "imageCountMoreThan", 1), "action": {"type": "archive"}}], 'needs "action"'),
    ],
)
def test_bad_new_rules_say_what_is_wrong(rules: list[dict[str, object]], message: str) -> None:
    with pytest.raises(LifecyclePolicyError, match=message):
        parse_policy(json.dumps({"rules": rules}))
