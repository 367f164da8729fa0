"""The checkers of exercise 03 fail wrong answers with useful messages, and leave nothing behind."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import ecslab
from ecslab import ecr as ecr_tools
from ecslab.checks import CheckFailed, NotDone, ex03


def stub(*_args: Any) -> Any:
    raise NotImplementedError()


def repository_names(lab: ecslab.Lab) -> set[str]:
    return {repository["repositoryName"] for repository in lab.ecr.describe_repositories()["repositories"]}


def local_checker_names(lab: ecslab.Lab) -> list[str]:
    """The checks' own images, and every local name under their repositories' URIs."""
    names = [tag for image in lab.docker.images.list() for tag in image.tags if tag.startswith(f"{ex03.TINY_IMAGE}:")]
    for repository in (ex03.RELEASE_REPOSITORY, ex03.PUSH_REPOSITORY, ex03.LIFECYCLE_REPOSITORY):
        names += ecr_tools.local_references(lab.docker, f"{lab.config.registry_address}/{repository}")
    return names


@pytest.fixture
def no_leftovers(lab: ecslab.Lab) -> Any:
    """Given a lab, when a check runs, then no ex03-check repository and no local name of the checks is left."""
    yield
    assert not {name for name in repository_names(lab) if name.startswith("ex03-check")}
    assert local_checker_names(lab) == []


# -- 3.1 -------------------------------------------------------------------------------------


def create(lab: ecslab.Lab, name: str, **settings: Any) -> dict[str, Any]:
    return dict(lab.ecr.create_repository(repositoryName=name, **settings)["repository"])


RELEASE = {"imageTagMutability": "IMMUTABLE"}


def scan_on_push(lab: ecslab.Lab, pattern: str, scan_type: str = "BASIC", frequency: str = "SCAN_ON_PUSH") -> None:
    lab.ecr.put_registry_scanning_configuration(
        scanType=scan_type,
        rules=[{"scanFrequency": frequency, "repositoryFilters": [{"filter": pattern, "filterType": "WILDCARD"}]}],
    )


def release(lab: ecslab.Lab, name: str, pattern: str | None = None, **scanning: str) -> dict[str, Any]:
    repository = create(lab, name, **RELEASE)
    scan_on_push(lab, pattern or name, **scanning)
    return repository


@pytest.fixture
def registry_scanning_restored(lab: ecslab.Lab) -> Any:
    """Given the registry's scanning configuration, when a check runs, then it is the same afterwards."""
    before = lab.ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    yield
    assert lab.ecr.get_registry_scanning_configuration()["scanningConfiguration"] == before


@pytest.mark.parametrize(
    "answer",
    [
        lambda lab, name: release(lab, name)["repositoryUri"],
        lambda lab, name: release(lab, name, pattern="ex03-check-*")["repositoryUri"],
        lambda lab, name: release(lab, name, scan_type="ENHANCED", frequency="CONTINUOUS_SCAN")["repositoryUri"],
    ],
    ids=["basic-exact", "basic-wildcard", "enhanced-continuous"],
)
def test_the_right_repository_passes(lab: ecslab.Lab, no_leftovers: None, registry_scanning_restored: None, answer: Any) -> None:
    passed = ex03.check_release_repository(answer, lab)
    assert "IMMUTABLE" in passed.message and "scans it on push" in passed.message


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, name: release(lab, name)["repositoryArn"], "ARN"),
        (
            lambda lab, name: release(lab, name) and f"{lab.account_id}.dkr.ecr.{lab.region}.amazonaws.com/{name}",
            "rather than building it yourself",
        ),
        (lambda lab, name: create(lab, name)["repositoryUri"], "imageTagMutability='IMMUTABLE'"),
        (
            lambda lab, name: create(lab, name, imageTagMutability="IMMUTABLE", imageScanningConfiguration={"scanOnPush": True})[
                "repositoryUri"
            ],
            "deprecat",
        ),
        (lambda lab, name: create(lab, name, **RELEASE)["repositoryUri"], "does not scan"),
        (lambda lab, name: release(lab, name, pattern="other-*")["repositoryUri"], "does not scan"),
        (
            lambda lab, name: release(lab, "ex03-check-other")["repositoryUri"],
            "no repository named 'ex03-check-releases-[0-9a-f]{6}'",
        ),
        (lambda lab, name: release(lab, name), "as a string"),
    ],
    ids=[
        "arn",
        "hand-built-uri",
        "mutable",
        "deprecated-scan-on-push",
        "no-scan",
        "filter-misses",
        "wrong-name",
        "whole-response",
    ],
)
def test_wrong_repositories_are_explained(lab: ecslab.Lab, registry_scanning_restored: None, answer: Any, message: str) -> None:
    try:
        with pytest.raises(CheckFailed, match=message):
            ex03.check_release_repository(answer, lab)
    finally:
        if "ex03-check-other" in repository_names(lab):
            lab.ecr.delete_repository(repositoryName="ex03-check-other", force=True)
    assert not [name for name in repository_names(lab) if name.startswith("ex03-check-releases")]


def test_a_constant_repository_name_does_not_pass(lab: ecslab.Lab, registry_scanning_restored: None) -> None:
    """The hole issue 13 closed: the name used to be ex03-check-releases on every run, so a function ignoring it passed."""
    try:
        with pytest.raises(CheckFailed, match="no repository named"):
            ex03.check_release_repository(lambda lab, name: release(lab, "ex03-check-releases")["repositoryUri"], lab)
    finally:
        if "ex03-check-releases" in repository_names(lab):
            lab.ecr.delete_repository(repositoryName="ex03-check-releases", force=True)


# -- 3.2 -------------------------------------------------------------------------------------


class Pushed:
    """What a push reported, as the learner's loop over docker's events finds it."""

    def __init__(self, digest: str | None) -> None:
        self.digest = digest


def push(lab: ecslab.Lab, repo_uri: str, image: str, tag: str = "v1") -> Pushed:
    """The four steps with the Docker SDK, as exercise 3.2 asks (no ecslab helper)."""
    data = lab.ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
    lab.docker.login(username=username, password=password, registry=registry, reauth=True)
    lab.docker.images.get(image).tag(repo_uri, tag)
    digest = None
    for event in lab.docker.images.push(
        repo_uri, tag, stream=True, decode=True, auth_config={"username": username, "password": password}
    ):
        if "error" in event:
            raise RuntimeError(event["error"])
        digest = event.get("aux", {}).get("Digest", digest)
    return Pushed(digest)


def test_the_four_steps_pass(lab: ecslab.Lab, no_leftovers: None) -> None:
    passed = ex03.check_push_release(lambda lab, uri, image: push(lab, uri, image).digest, lab)
    assert "v1" in passed.message


def with_ecslab_push_image(lab: ecslab.Lab, repo_uri: str, image: str) -> str:
    login = ecr_tools.get_login(lab.ecr)
    return ecr_tools.push_image(lab.docker, image, repo_uri, "v1", login, show_progress=False).digest


def test_ecslab_push_image_is_not_accepted(lab: ecslab.Lab, no_leftovers: None) -> None:
    """The hole issue 13 closed: the exercise is to write the push; ecslab's push_image did it all."""
    with pytest.raises(CheckFailed, match="not with ecslab's push_image"):
        ex03.check_push_release(with_ecslab_push_image, lab)
    # also when the name is hidden from the function's code (the helper is refused while the function runs)
    hidden = getattr(ecr_tools, "push_" + "image")
    with pytest.raises(CheckFailed, match="not with ecslab's push_image"):
        ex03.check_push_release(lambda lab, uri, image: hidden_push(lab, uri, image), lab)
    assert hidden is ecr_tools.push_image  # given back afterwards


def hidden_push(lab: ecslab.Lab, repo_uri: str, image: str) -> str:
    function = getattr(ecr_tools, "push_" + "image")
    return function(lab.docker, image, repo_uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False).digest


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda lab, uri, image: push(lab, uri, image, "latest").digest, r"its tags are \['latest'\]; tag and push it as 'v1'"),
        (lambda lab, uri, image: push(lab, uri, image) and lab.docker.images.get(image).id, "local image ID"),
        (lambda lab, uri, image: push(lab, uri, image), "only its digest"),
        (lambda lab, uri, image: "sha256:" + "0" * 64, "still empty"),
    ],
    ids=["tag-latest", "image-id", "push-result", "no-push"],
)
def test_wrong_pushes_are_explained(lab: ecslab.Lab, no_leftovers: None, answer: Any, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        ex03.check_push_release(answer, lab)


# -- 3.3 -------------------------------------------------------------------------------------


def policy(**selection: Any) -> str:
    return json.dumps({"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]})


def test_the_right_policy_passes(lab: ecslab.Lab, no_leftovers: None) -> None:
    passed = ex03.check_lifecycle_policy(
        lambda: policy(tagStatus="tagged", tagPrefixList=["v"], countType="imageCountMoreThan", countNumber=2), lab
    )
    assert "expires v1 and v2" in passed.message


def test_a_pattern_list_passes_too(lab: ecslab.Lab) -> None:
    ex03.check_lifecycle_policy(
        lambda: policy(tagStatus="tagged", tagPatternList=["v*"], countType="imageCountMoreThan", countNumber=2), lab
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            policy(tagStatus="any", countType="imageCountMoreThan", countNumber=2),
            "Only images with a tag starting with 'v' may go",
        ),
        (
            policy(tagStatus="tagged", tagPrefixList=["v"], countType="imageCountMoreThan", countNumber=3),
            "expires only v1; v1 and v2 should both go",
        ),
        (
            policy(tagStatus="tagged", tagPrefixList=["v"], countType="imageCountMoreThan", countNumber=1),
            "v3 and v4\\) must stay",
        ),
        (
            policy(tagStatus="tagged", tagPrefixList=["v"], countType="sinceImagePushed", countNumber=2, countUnit="days"),
            "seconds old",
        ),
        (
            policy(tagStatus="tagged", tagPrefixList=["v1", "v2"], countType="imageCountMoreThan", countNumber=2),
            "matching \\*every\\* entry",
        ),
        (policy(tagStatus="untagged", countType="imageCountMoreThan", countNumber=2), "selects no image tagged v"),
    ],
    ids=["any", "keeps-three", "keeps-one", "by-age", "two-prefixes", "untagged"],
)
def test_wrong_policies_are_explained(lab: ecslab.Lab, no_leftovers: None, text: str, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        ex03.check_lifecycle_policy(lambda: text, lab)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda: {"rules": []}, "json.dumps"),
        (
            lambda: policy(tagStatus="tagged", countType="imageCountMoreThan", countNumber=2),
            "ECR would refuse this policy: .*tagPrefixList or tagPatternList",
        ),
        (lambda: "{not json", "ECR would refuse this policy: .*invalid JSON"),
    ],
    ids=["dict", "tagged-without-prefix", "not-json"],
)
def test_malformed_policies_fail_before_pushing(lab: ecslab.Lab, answer: Any, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        ex03.check_lifecycle_policy(answer, lab)
    assert "ex03-check-lifecycle" not in repository_names(lab)


# -- blank exercises -------------------------------------------------------------------------


@pytest.mark.parametrize("check", [ex03.check_release_repository, ex03.check_push_release, ex03.check_lifecycle_policy])
def test_a_blank_exercise_is_not_done(lab: ecslab.Lab, no_leftovers: None, check: Any) -> None:
    with pytest.raises(NotDone, match="is not done yet"):
        check(stub, lab)
