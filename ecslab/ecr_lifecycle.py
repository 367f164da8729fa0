"""ECR lifecycle policies, evaluated the way ECR documents it.

moto validates lifecycle policies but never applies them and has no preview. This
module is the evaluator: the lab answers ``start_lifecycle_policy_preview`` /
``get_lifecycle_policy_preview`` with it, and :func:`ecslab.ecr.apply_lifecycle_policy`
deletes what it selects. Notebook 03 plays with it.

The rules, from ECR's documentation ("Lifecycle policy properties in Amazon ECR",
https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html):

- rules are evaluated by ``rulePriority``, lowest number first;
- ``tagStatus`` is ``tagged`` (needs ``tagPrefixList`` or ``tagPatternList``;
  an image is selected when, for every prefix/pattern, one of its tags matches;
  ``*`` is the wildcard of a pattern), ``untagged`` or ``any`` (which must be the rule
  with the highest priority number);
- ``storageClass`` (``standard``, the default, or ``archive``) says which images a rule
  looks at: ``sinceImageTransitioned`` needs ``archive``, the other count types ``standard``;
- ``countType`` ``imageCountMoreThan`` keeps the newest ``countNumber`` selected
  images and acts on the rest; ``sinceImagePushed``, ``sinceImagePulled`` and
  ``sinceImageTransitioned`` act on selected images pushed, last pulled, or archived more
  than ``countNumber`` ``countUnit`` (``days``) ago;
- ``action`` is ``expire`` (delete) or ``transition`` with ``targetStorageClass``
  ``archive`` (move to the cheaper archive class, where an image cannot be pulled);
  ``sinceImageTransitioned`` rules can only expire;
- an image gets at most one action, and an image whose tags a rule selects
  cannot be acted on by a rule of lower priority (but still counts for it);
- older images always go before newer ones.

Where the documentation is silent the lab chooses, and says so: an image never pulled
counts for ``sinceImagePulled`` from its push time. The lab keeps no pull times (every image
counts from its push) and has no archive: ``transition`` is previewed, never applied.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class LifecyclePolicyError(ValueError):
    """The policy text breaks one of ECR's rules; the message says which, in ECR's words where it has them."""


COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
STORAGE_CLASSES = ("standard", "archive")


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str
    count_type: str
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    count_unit: str | None = None
    description: str = ""
    storage_class: str = "standard"
    action: str = "expire"
    """``expire`` or ``transition`` (to the archive storage class)."""

    def selects(self, tags: list[str]) -> bool:
        """Whether the rule's tag requirement selects an image with these tags."""
        if self.tag_status == "untagged":
            return not tags
        if self.tag_status == "any":
            return True
        if not tags:
            return False
        if self.tag_prefixes:
            return all(any(tag.startswith(prefix) for tag in tags) for prefix in self.tag_prefixes)
        return all(any(fnmatch.fnmatchcase(tag, pattern) for tag in tags) for pattern in self.tag_patterns)


@dataclass(frozen=True)
class ImageRecord:
    """What the evaluator needs of an image."""

    digest: str
    tags: list[str]
    pushed_at: datetime
    size: int = 0
    last_pulled_at: datetime | None = None
    """ECR's ``lastRecordedPullTime``; ``None``: never pulled (counts from the push)."""
    storage_class: str = "standard"
    """``standard`` or ``archive`` (ECR's ``imageStatus`` ARCHIVED)."""
    transitioned_at: datetime | None = None
    """When the image was archived (ECR's ``lastArchivedAt``)."""

    def since(self, count_type: str) -> datetime:
        """The moment a ``since...`` count type measures from."""
        if count_type == "sinceImagePulled":
            return self.last_pulled_at or self.pushed_at
        if count_type == "sinceImageTransitioned":
            return self.transitioned_at or self.pushed_at
        return self.pushed_at


@dataclass
class Verdict:
    image: ImageRecord
    rule: Rule

    def to_preview(self) -> dict[str, Any]:
        """The shape of one entry of ECR's ``previewResults``."""
        action: dict[str, str] = {"type": self.rule.action.upper()}
        if self.rule.action == "transition":
            action["targetStorageClass"] = "ARCHIVE"
        return {
            "imageTags": list(self.image.tags),
            "imageDigest": self.image.digest,
            "imagePushedAt": self.image.pushed_at,
            "action": action,
            "appliedRulePriority": self.rule.priority,
            "storageClass": self.image.storage_class.upper(),
        }


@dataclass
class Evaluation:
    expired: list[Verdict] = field(default_factory=list)
    kept: list[ImageRecord] = field(default_factory=list)


def parse_policy(text: str) -> list[Rule]:
    """Parse and validate a lifecycle policy; rules come back in evaluation order."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise LifecyclePolicyError(
            f"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: invalid JSON ({error.msg})'"
        ) from None
    raw_rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(raw_rules, list) or not raw_rules:
        raise LifecyclePolicyError('Lifecycle policy validation failure: the policy needs a non-empty "rules" list.')
    rules = [_parse_rule(raw) for raw in raw_rules]
    priorities = [rule.priority for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise LifecyclePolicyError("Lifecycle policy validation failure: rulePriority must be unique across rules.")
    rules.sort(key=lambda rule: rule.priority)
    if sum(rule.tag_status == "untagged" for rule in rules) > 1:
        raise LifecyclePolicyError("Lifecycle policy validation failure: only one rule may select untagged images.")
    anys = [rule for rule in rules if rule.tag_status == "any"]
    if anys and rules[-1].tag_status != "any":
        raise LifecyclePolicyError(
            'Lifecycle policy validation failure: a rule with tagStatus "any" must have the highest rulePriority.'
        )
    prefixes = [prefix for rule in rules for prefix in rule.tag_prefixes]
    if len(set(prefixes)) != len(prefixes):
        raise LifecyclePolicyError("Lifecycle policy validation failure: each tag prefix may appear in one rule only.")
    return rules


def _parse_rule(raw: object) -> Rule:
    if not isinstance(raw, dict):
        raise LifecyclePolicyError("Lifecycle policy validation failure: each rule must be a JSON object.")
    priority = raw.get("rulePriority")
    if not isinstance(priority, int) or priority < 1:
        raise LifecyclePolicyError("Lifecycle policy validation failure: rulePriority must be an integer of 1 or more.")
    selection = raw.get("selection")
    if not isinstance(selection, dict):
        raise LifecyclePolicyError(f'Lifecycle policy validation failure: rule {priority} has no "selection".')
    action_type = _rule_action(raw.get("action"), priority)
    tag_status, prefixes, patterns = _rule_tags(selection, priority)
    count_type, count_number, count_unit = _rule_count(selection, priority)
    storage_class = _rule_storage_class(selection, priority, count_type, action_type)
    description = str(raw.get("description", ""))
    return Rule(
        priority, tag_status, count_type, count_number, prefixes, patterns, count_unit, description, storage_class, action_type
    )


def _invalid(priority: int, problem: str) -> LifecyclePolicyError:
    return LifecyclePolicyError(f"Lifecycle policy validation failure: rule {priority}: {problem}")


def _rule_action(action: object, priority: int) -> str:
    if not isinstance(action, dict) or action.get("type") not in ("expire", "transition"):
        raise LifecyclePolicyError(
            f'Lifecycle policy validation failure: rule {priority} needs "action": {{"type": "expire"}} '
            'or {"type": "transition", "targetStorageClass": "archive"}.'
        )
    action_type = str(action["type"])
    if action_type == "transition" and action.get("targetStorageClass") != "archive":
        raise _invalid(priority, 'a transition needs "targetStorageClass": "archive".')
    if action_type == "expire" and "targetStorageClass" in action:
        raise _invalid(priority, 'targetStorageClass is only allowed with "type": "transition".')
    return action_type


def _rule_tags(selection: dict[str, Any], priority: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    tag_status = selection.get("tagStatus")
    if tag_status not in ("tagged", "untagged", "any"):
        raise _invalid(priority, f'tagStatus must be "tagged", "untagged" or "any", not {tag_status!r}.')
    prefixes = tuple(selection.get("tagPrefixList") or ())
    patterns = tuple(selection.get("tagPatternList") or ())
    if tag_status == "tagged" and not prefixes and not patterns:
        raise _invalid(priority, 'tagStatus "tagged" needs a tagPrefixList or tagPatternList.')
    if tag_status != "tagged" and (prefixes or patterns):
        raise _invalid(priority, 'tagPrefixList and tagPatternList are only allowed with tagStatus "tagged".')
    if prefixes and patterns:
        raise _invalid(priority, "use tagPrefixList or tagPatternList, not both.")
    return str(tag_status), prefixes, patterns


def _rule_count(selection: dict[str, Any], priority: int) -> tuple[str, int, str | None]:
    count_type = selection.get("countType")
    count_number = selection.get("countNumber")
    if count_type not in COUNT_TYPES:
        raise _invalid(priority, f"countType must be one of {', '.join(COUNT_TYPES)}.")
    if not isinstance(count_number, int) or count_number < 1:
        raise _invalid(priority, "countNumber must be an integer of 1 or more.")
    count_unit = selection.get("countUnit")
    if count_type != "imageCountMoreThan" and count_unit != "days":
        raise _invalid(priority, f'{count_type} needs "countUnit": "days".')
    if count_type == "imageCountMoreThan" and count_unit is not None:
        raise _invalid(priority, "countUnit is not allowed with imageCountMoreThan.")
    return str(count_type), count_number, count_unit


def _rule_storage_class(selection: dict[str, Any], priority: int, count_type: str, action_type: str) -> str:
    storage_class = selection.get("storageClass", "archive" if count_type == "sinceImageTransitioned" else "standard")
    if storage_class not in STORAGE_CLASSES:
        raise _invalid(priority, 'storageClass must be "standard" or "archive".')
    if count_type == "sinceImageTransitioned" and storage_class != "archive":
        raise _invalid(priority, 'sinceImageTransitioned selects archived images: "storageClass": "archive".')
    if count_type != "sinceImageTransitioned" and storage_class != "standard":
        raise _invalid(priority, f'{count_type} selects images in the "standard" storage class.')
    if action_type == "transition" and count_type == "sinceImageTransitioned":
        raise _invalid(priority, "archived images can only expire, not transition again.")
    return str(storage_class)


def evaluate(policy: str | list[Rule], images: list[ImageRecord], now: datetime) -> Evaluation:
    """Which images the policy acts on (expires or archives), and by which rule."""
    rules = parse_policy(policy) if isinstance(policy, str) else sorted(policy, key=lambda rule: rule.priority)
    claimed: set[str] = set()  # digests selected by a higher-priority rule
    expired: dict[str, Verdict] = {}
    for rule in rules:
        in_class = (image for image in images if image.storage_class == rule.storage_class)
        selected = sorted(
            (image for image in in_class if rule.selects(image.tags)), key=lambda image: image.pushed_at, reverse=True
        )
        if rule.count_type == "imageCountMoreThan":
            candidates = selected[rule.count_number :]
        else:
            cutoff = now - timedelta(days=rule.count_number)
            candidates = [image for image in selected if image.since(rule.count_type) < cutoff]
        for image in candidates:
            if image.digest not in claimed and image.digest not in expired:
                expired[image.digest] = Verdict(image, rule)
        claimed.update(image.digest for image in selected)
    ordered = sorted(expired.values(), key=lambda verdict: verdict.image.pushed_at)
    return Evaluation(expired=ordered, kept=[image for image in images if image.digest not in expired])
