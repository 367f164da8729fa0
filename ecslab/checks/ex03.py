"""Checks for exercises/03-ecr.ipynb: a release repository scanned on push, the four push steps, a lifecycle policy.

Each checker works in repositories of its own (``ex03-check-...``), deleted before and
after the check, and pushes small ``FROM scratch`` images it builds itself, so a check
takes seconds and leaves nothing behind: no repository, no local tag.
"""

from __future__ import annotations

import fnmatch
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from ecslab import ecr as ecr_tools
from ecslab import images
from ecslab.checks.core import CheckFailed, Passed, expect, run_student
from ecslab.ecr_lifecycle import LifecyclePolicyError

POINTS: dict[str, int] = {"3.1": 1, "3.2": 1, "3.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

RELEASE_REPOSITORY = "ex03-check-releases"
PUSH_REPOSITORY = "ex03-check-push"
LIFECYCLE_REPOSITORY = "ex03-check-lifecycle"
TINY_IMAGE = "ecslab-ex03-tiny"
"""Local name of the checks' images: ``ecslab-ex03-tiny:NAME``, one file each, ``FROM scratch``."""


def _delete_repository(lab: Any, name: str) -> None:
    try:
        lab.ecr.delete_repository(repositoryName=name, force=True)
    except lab.ecr.exceptions.RepositoryNotFoundException:
        pass


def _tiny_image(lab: Any, name: str, content: str) -> str:
    """Build a one-file image (the same text always gives the same image); returns its local name."""
    tag = f"{TINY_IMAGE}:{name}"
    images.build_from_text(
        "FROM scratch\nCOPY release.txt /\n", tag, files={"release.txt": content}, client=lab.docker, config=lab.config
    )
    return tag


@contextmanager
def _scratch_repository(lab: Any, name: str, **settings: Any) -> Iterator[str]:
    """A fresh repository for one check; yields its URI, then deletes it and every local name made for it."""
    _delete_repository(lab, name)
    uri = str(lab.ecr.create_repository(repositoryName=name, **settings)["repository"]["repositoryUri"])
    try:
        yield uri
    finally:
        _delete_repository(lab, name)
        images.remove_images(ecr_tools.local_references(lab.docker, uri), client=lab.docker, config=lab.config)


def _remove_tiny_images(lab: Any, names: list[str]) -> None:
    images.remove_images([f"{TINY_IMAGE}:{name}" for name in names], client=lab.docker, config=lab.config)


# -- 3.1 ---------------------------------------------------------------------------------


def _registry_scanning(lab: Any) -> dict[str, Any]:
    return dict(lab.ecr.get_registry_scanning_configuration()["scanningConfiguration"])


def _restore_registry_scanning(lab: Any, saved: dict[str, Any]) -> None:
    lab.ecr.put_registry_scanning_configuration(scanType=saved.get("scanType", "BASIC"), rules=saved.get("rules", []))


def scans_on_push(configuration: dict[str, Any], name: str) -> bool:
    """Whether the registry's scanning configuration scans repository ``name`` when an image is pushed.

    A rule counts when its frequency is ``SCAN_ON_PUSH`` (or ``CONTINUOUS_SCAN`` with ENHANCED scanning,
    which scans on push too) and one of its ``WILDCARD`` filters matches the name (``*`` matches anything)."""
    frequencies = {"SCAN_ON_PUSH"} | ({"CONTINUOUS_SCAN"} if configuration.get("scanType") == "ENHANCED" else set())
    for rule in configuration.get("rules", []):
        if rule.get("scanFrequency") not in frequencies:
            continue
        for repository_filter in rule.get("repositoryFilters", []):
            if repository_filter.get("filterType", "WILDCARD") == "WILDCARD" and fnmatch.fnmatchcase(
                name, repository_filter.get("filter", "")
            ):
                return True
    return False


def check_release_repository(create_release_repository: Callable[[Any, str], str], lab: Any) -> Passed:
    """3.1: ``create_release_repository(lab, name)`` makes an IMMUTABLE repository the registry scans on push, and returns its URI."""
    name = f"{RELEASE_REPOSITORY}-{secrets.token_hex(3)}"  # new each run: a function that ignores `name` cannot pass
    _delete_repository(lab, name)
    saved = _registry_scanning(lab)
    try:
        uri = run_student("3.1", create_release_repository, lab, name)
        try:
            repository = lab.ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except lab.ecr.exceptions.RepositoryNotFoundException:
            raise CheckFailed(
                f"Exercise 3.1: there is no repository named {name!r}: pass the `name` argument as repositoryName to create_repository."
            ) from None
        expect(isinstance(uri, str), "3.1", f"return the repository's URI as a string, not {type(uri).__name__}.")
        expect(
            uri != repository["repositoryArn"],
            "3.1",
            "you returned the repository's ARN (IAM policies use it); return its URI, response['repository']['repositoryUri'], which docker push uses.",
        )
        expect(
            uri == repository["repositoryUri"],
            "3.1",
            f"you returned {uri!r}, but the repository's URI is {repository['repositoryUri']!r}. Return response['repository']['repositoryUri'] "
            "rather than building it yourself: the API knows the registry's real name.",
        )
        expect(
            repository["imageTagMutability"] == "IMMUTABLE",
            "3.1",
            f"the repository's tags are {repository['imageTagMutability']}, so a push could move v1; pass imageTagMutability='IMMUTABLE' to create_repository.",
        )
        scanning = _registry_scanning(lab)
        if not scans_on_push(scanning, name):
            if repository.get("imageScanningConfiguration", {}).get("scanOnPush") is True:
                raise CheckFailed(
                    "Exercise 3.1: you turned on the repository's own scanOnPush, which AWS is deprecating. Set it on the registry instead: "
                    "lab.ecr.put_registry_scanning_configuration(scanType='BASIC', rules=[{'scanFrequency': 'SCAN_ON_PUSH', "
                    "'repositoryFilters': [{'filter': name, 'filterType': 'WILDCARD'}]}])."
                )
            raise CheckFailed(
                f"Exercise 3.1: the registry's scanning configuration ({scanning.get('scanType')}, rules {scanning.get('rules', [])}) does not scan {name!r} "
                "on push. Add a rule with 'scanFrequency': 'SCAN_ON_PUSH' and a WILDCARD filter matching the name, through "
                "lab.ecr.put_registry_scanning_configuration(scanType='BASIC', rules=[...])."
            )
    finally:
        _delete_repository(lab, name)
        _restore_registry_scanning(lab, saved)
    return Passed(
        "3.1",
        f"the repository has IMMUTABLE tags and the registry scans it on push ({scanning.get('scanType')}); you returned its URI.",
    )


# -- 3.2 ---------------------------------------------------------------------------------


def check_push_release(push_release: Callable[[Any, str, str], str], lab: Any) -> Passed:
    """3.2: ``push_release(lab, repo_uri, image)`` logs in, tags ``image`` as ``repo_uri:v1``, pushes it, returns the digest."""
    image = _tiny_image(lab, "push", "exercise 3.2: a release to push\n")
    try:
        with _scratch_repository(lab, PUSH_REPOSITORY) as repo_uri:
            digest = run_student("3.2", push_release, lab, repo_uri, image, forbid=("push_image",))
            details = lab.ecr.describe_images(repositoryName=PUSH_REPOSITORY)["imageDetails"]
            expect(
                bool(details),
                "3.2",
                "the repository is still empty, so no push reached it. Push with lab.docker.images.push(repo_uri, 'v1', stream=True, "
                "decode=True, auth_config=...) and look for {'error': ...} events in the stream.",
            )
            tagged_v1 = [detail for detail in details if "v1" in detail.get("imageTags", [])]
            pushed_tags = sorted(tag for detail in details for tag in detail.get("imageTags", []))
            expect(
                bool(tagged_v1),
                "3.2",
                f"the repository holds an image, but its tags are {pushed_tags or 'none'}; tag and push it as 'v1'.",
            )
            if hasattr(digest, "digest"):
                raise CheckFailed(
                    "Exercise 3.2: you returned what push_image gives back; return only its digest: push_image(...).digest."
                )
            expect(isinstance(digest, str), "3.2", f"return the digest as a string ('sha256:...'), not {type(digest).__name__}.")
            local_id = lab.docker.images.get(image).id
            expect(
                digest != local_id,
                "3.2",
                "you returned the local image ID (the digest of the image's config, as `docker images` shows it). Return the digest the "
                "push reported: the 'Digest' in the push's last {'aux': ...} event.",
            )
            expect(
                digest == tagged_v1[0]["imageDigest"],
                "3.2",
                f"ECR holds v1 as {tagged_v1[0]['imageDigest']}, but you returned {digest!r}. Return the digest the push reported.",
            )
    finally:
        _remove_tiny_images(lab, ["push"])
    return Passed("3.2", f"describe_images shows v1 with the digest your push reported, {digest[:19]}….")


# -- 3.3 ---------------------------------------------------------------------------------

LIFECYCLE_HISTORY: list[tuple[str, list[str]]] = [
    ("release 1", ["v1"]),
    ("nightly build", ["dev-1"]),
    ("release 2", ["v2"]),
    ("an old latest", ["latest"]),
    ("release 3", ["v3"]),
    ("release 4", ["v4", "latest"]),
]
"""What the 3.3 check pushes, oldest first: (file content, tags). ``latest`` moves, leaving one image untagged."""

PAUSE_BEFORE = {2, 4, 5}
"""Entries of :data:`LIFECYCLE_HISTORY` pushed a second after the one before: push times are kept
to the second, and the v-images must be strictly ordered for "newest" to mean one thing."""

EXPECTED_EXPIRED = {"release 1", "release 2"}


def _describe(label: str, tags: list[str]) -> str:
    return "+".join(tags) if tags else f"the untagged image ({label})"


def check_lifecycle_policy(release_policy: Callable[[], str], lab: Any) -> Passed:
    """3.3: ``release_policy()`` returns a lifecycle policy (JSON text) that keeps only the 2 newest images tagged ``v...``."""
    policy = run_student("3.3", release_policy)
    if isinstance(policy, dict):
        raise CheckFailed("Exercise 3.3: return the policy as JSON text: json.dumps(policy), not the dict itself.")
    expect(isinstance(policy, str), "3.3", f"return the policy as JSON text (a str), not {type(policy).__name__}.")
    try:
        rules = ecr_tools.check_policy(policy)
    except LifecyclePolicyError as error:
        raise CheckFailed(f"Exercise 3.3: ECR would refuse this policy: {error}") from None
    built = {content: _tiny_image(lab, f"lc{index}", f"{content}\n") for index, (content, _) in enumerate(LIFECYCLE_HISTORY)}
    try:
        with _scratch_repository(lab, LIFECYCLE_REPOSITORY) as repo_uri:
            login = ecr_tools.get_login(lab.ecr)
            digests: dict[str, str] = {}
            for index, (content, tags) in enumerate(LIFECYCLE_HISTORY):
                if index in PAUSE_BEFORE:
                    time.sleep(1.1)
                for tag in tags:
                    digests[content] = ecr_tools.push_image(
                        lab.docker, built[content], repo_uri, tag, login, show_progress=False
                    ).digest
            records = {record.digest: record for record in ecr_tools.image_records(lab.ecr, LIFECYCLE_REPOSITORY)}
            names = {digest: _describe(content, records[digest].tags) for content, digest in digests.items()}
            try:
                lab.ecr.put_lifecycle_policy(repositoryName=LIFECYCLE_REPOSITORY, lifecyclePolicyText=policy)
                expired = {result["imageDigest"] for result in ecr_tools.lifecycle_preview(lab.ecr, LIFECYCLE_REPOSITORY)}
            except (ClientError, ParamValidationError) as error:
                raise CheckFailed(f"Exercise 3.3: ECR refused the policy.\n{ecr_tools.explain(error)}") from None
    finally:
        _remove_tiny_images(lab, [f"lc{index}" for index in range(len(LIFECYCLE_HISTORY))])
    expected = {digests[content] for content in EXPECTED_EXPIRED}
    history = ", ".join(names[digests[content]] for content, _ in LIFECYCLE_HISTORY)
    if expired != expected:
        raise CheckFailed(
            f"Exercise 3.3: {_lifecycle_feedback(policy, expired, expected, digests, names)}\n(The check's repository held, oldest first: {history}.)"
        )
    return Passed(
        "3.3", f"your policy ({'; '.join(rules)}) expires v1 and v2 and keeps v3, v4 (latest), dev-1 and the untagged image."
    )


def _lifecycle_feedback(
    policy: str, expired: set[str], expected: set[str], digests: dict[str, str], names: dict[str, str]
) -> str:
    """Why the preview differs from what exercise 3.3 asks, in one kind sentence."""
    gone = ", ".join(names[digest] for digest in digests.values() if digest in expired)  # oldest first
    selections = [rule.get("selection", {}) for rule in json.loads(policy)["rules"]]
    not_releases = {digests["nightly build"], digests["an old latest"]}
    newest = {digests["release 3"], digests["release 4"]}
    if expired & not_releases:
        return (
            f"your policy expires {gone}. Only images with a tag starting with 'v' may go: select them with "
            '"tagStatus": "tagged" and "tagPrefixList": ["v"] ("any" and "untagged" also select images without such a tag).'
        )
    if not expired:
        if any(selection.get("countType") == "sinceImagePushed" for selection in selections):
            return (
                "your policy expires nothing: sinceImagePushed counts days since each push, and these images are seconds old. "
                'Count images instead: "countType": "imageCountMoreThan".'
            )
        tagged = [selection for selection in selections if selection.get("tagStatus") == "tagged"]
        if not tagged:
            return 'your policy expires nothing: it selects no image tagged v... ; use "tagStatus": "tagged" with "tagPrefixList": ["v"].'
        prefixes = [selection.get("tagPrefixList") or selection.get("tagPatternList") for selection in tagged]
        if not any(choice in (["v"], ["v*"]) for choice in prefixes):
            return (
                f"your policy expires nothing: its tag list {prefixes[0]} selects no release. An image is selected when it has a tag "
                'matching *every* entry, so list the one prefix the releases share: "tagPrefixList": ["v"].'
            )
        return 'your policy expires nothing; v1 and v2 should go. With "imageCountMoreThan", "countNumber" is how many images stay: 2.'
    if expired & newest:
        return f'your policy expires {gone}, but the 2 newest v-images (v3 and v4) must stay: keep 2 with "countNumber": 2.'
    if expired < expected:
        return f'your policy expires only {gone}; v1 and v2 should both go. With "imageCountMoreThan", "countNumber" is how many images stay: 2.'
    return f"your policy expires {gone}; it should expire v1 and v2, the v-images older than the newest two."
