"""The lab's ECR: plain boto3 and the docker SDK, a real push, and what ECR would say.

A private lab (module scope) and tiny ``FROM scratch`` images keep pushes fast.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ecslab.config import LabConfig
from ecslab.engine import docker_client
from ecslab.lab import manage


@pytest.fixture(scope="module")
def ecr(running_isolated_lab: LabConfig) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=running_isolated_lab.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


@pytest.fixture(scope="module")
def docker() -> Iterator[Any]:
    client = docker_client()
    yield client
    for image in client.images.list(filters={"label": "ecslab.test=ecr"}):
        client.images.remove(image.id, force=True)


def tiny_image(docker: Any, content: str) -> str:
    """A one-file image FROM scratch; returns its id."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, text in {"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": content}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    context.seek(0)
    tag = "ecslab-test/tiny:" + hashlib.sha256(content.encode()).hexdigest()[:12]
    image, _ = docker.images.build(fileobj=context, custom_context=True, rm=True, tag=tag, labels={"ecslab.test": "ecr"})
    return str(image.id)


def login(ecr: Any) -> dict[str, str]:
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    return {"username": username, "password": password}


def push(docker: Any, image_id: str, uri: str, tag: str, auth: dict[str, str] | None) -> list[dict[str, Any]]:
    docker.images.get(image_id).tag(uri, tag)
    try:
        return list(docker.images.push(uri, tag, stream=True, decode=True, auth_config=auth))
    finally:
        docker.images.remove(f"{uri}:{tag}")


def error_of(events: list[dict[str, Any]]) -> str | None:
    return next((event["error"] for event in events if "error" in event), None)


def digest_of(events: list[dict[str, Any]]) -> str:
    return next(event["aux"]["Digest"] for event in events if "aux" in event)


@pytest.fixture
def repository(ecr: Any, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    mutability = getattr(request, "param", "MUTABLE")
    name = "test-" + request.node.name.split("[")[0].replace("_", "-")[:40].strip("-")
    repo = ecr.create_repository(repositoryName=name, imageTagMutability=mutability)["repository"]
    yield repo
    ecr.delete_repository(repositoryName=name, force=True)


def test_repository_uri_points_at_the_lab_registry(repository: dict[str, Any], running_isolated_lab: LabConfig) -> None:
    assert repository["repositoryUri"] == f"localhost:{running_isolated_lab.registry_port}/{repository['repositoryName']}"


def test_token_is_user_aws_and_expires_in_twelve_hours(ecr: Any, running_isolated_lab: LabConfig) -> None:
    data = ecr.get_authorization_token()["authorizationData"][0]
    assert base64.b64decode(data["authorizationToken"]).decode().startswith("AWS:")
    assert data["proxyEndpoint"] == f"http://localhost:{running_isolated_lab.registry_port}"
    assert timedelta(hours=11, minutes=59) < data["expiresAt"] - datetime.now(UTC) <= timedelta(hours=12)


def test_push_shows_up_in_describe_images_with_the_pushed_digest(ecr: Any, docker: Any, repository: dict[str, Any]) -> None:
    # given
    image = tiny_image(docker, "v1")
    before = datetime.now(UTC).replace(microsecond=0)
    # when
    events = push(docker, image, repository["repositoryUri"], "v1", login(ecr))
    # then
    assert error_of(events) is None
    details = ecr.describe_images(repositoryName=repository["repositoryName"])["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(digest_of(events), ["v1"])]
    manifest = json.loads(
        ecr.batch_get_image(repositoryName=repository["repositoryName"], imageIds=[{"imageTag": "v1"}])["images"][0][
            "imageManifest"
        ]
    )
    assert details[0]["imageSizeInBytes"] == sum(layer["size"] for layer in manifest["layers"]) > 0
    assert before <= details[0]["imagePushedAt"] <= datetime.now(UTC) + timedelta(seconds=1)


def test_nothing_is_invented_without_a_push(ecr: Any, repository: dict[str, Any]) -> None:
    assert ecr.describe_images(repositoryName=repository["repositoryName"])["imageDetails"] == []


def test_push_without_login_or_with_a_bad_token_is_refused(ecr: Any, docker: Any, repository: dict[str, Any]) -> None:
    image = tiny_image(docker, "auth")
    assert "no basic auth credentials" in (error_of(push(docker, image, repository["repositoryUri"], "x", None)) or "")
    wrong = {"username": "AWS", "password": "not-a-token"}
    assert "Your authorization token is invalid." in (
        error_of(push(docker, image, repository["repositoryUri"], "x", wrong)) or ""
    )


def test_an_expired_token_says_so(ecr: Any, docker: Any, repository: dict[str, Any], running_isolated_lab: LabConfig) -> None:
    token = manage.control(running_isolated_lab, "POST", "/ecr/expired-token")["authorizationToken"]
    username, password = base64.b64decode(token).decode().split(":", 1)
    error = error_of(
        push(docker, tiny_image(docker, "old"), repository["repositoryUri"], "x", {"username": username, "password": password})
    )
    assert error is not None and "Your authorization token has expired. Reauthenticate and try again." in error


def test_push_to_a_missing_repository_is_refused_in_ecr_words(ecr: Any, docker: Any, running_isolated_lab: LabConfig) -> None:
    uri = f"localhost:{running_isolated_lab.registry_port}/no-such-repo"
    error = error_of(push(docker, tiny_image(docker, "lost"), uri, "v1", login(ecr)))
    assert (
        error is not None
        and "The repository with name 'no-such-repo' does not exist in the registry with id '123456789012'" in error
    )


def test_a_tag_pushed_twice_moves_in_a_mutable_repository(ecr: Any, docker: Any, repository: dict[str, Any]) -> None:
    auth = login(ecr)
    first = digest_of(push(docker, tiny_image(docker, "one"), repository["repositoryUri"], "latest", auth))
    second = digest_of(push(docker, tiny_image(docker, "two"), repository["repositoryUri"], "latest", auth))
    name = repository["repositoryName"]
    tagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "TAGGED"})["imageIds"]
    untagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert tagged == [{"imageDigest": second, "imageTag": "latest"}]
    assert [image["imageDigest"] for image in untagged] == [first]


@pytest.mark.parametrize("repository", ["IMMUTABLE"], indirect=True)
def test_an_immutable_tag_is_refused_at_push_time(ecr: Any, docker: Any, repository: dict[str, Any]) -> None:
    auth = login(ecr)
    first = digest_of(push(docker, tiny_image(docker, "first"), repository["repositoryUri"], "v1", auth))
    error = error_of(push(docker, tiny_image(docker, "second"), repository["repositoryUri"], "v1", auth))
    name = repository["repositoryName"]
    assert (
        error is not None
        and f"The image tag 'v1' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable."
        in error
    )
    assert [d["imageDigest"] for d in ecr.describe_images(repositoryName=name)["imageDetails"]] == [first]
    # pushing the very same image again is refused too: ECR does not compare digests (aws/containers-roadmap#2179)
    again = error_of(push(docker, tiny_image(docker, "first"), repository["repositoryUri"], "v1", auth))
    assert again is not None and "tag invalid" in again and "cannot be overwritten because the repository is immutable." in again
    assert [d["imageDigest"] for d in ecr.describe_images(repositoryName=name)["imageDetails"]] == [first]
    # a new tag for the same image is fine
    assert error_of(push(docker, tiny_image(docker, "first"), repository["repositoryUri"], "v1-again", auth)) is None


@pytest.mark.parametrize("repository", ["IMMUTABLE"], indirect=True)
def test_put_image_on_an_immutable_tag_uses_aws_error_code(ecr: Any, repository: dict[str, Any]) -> None:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {},
            "layers": [{"digest": "sha256:" + "a" * 64, "size": 1}],
        }
    )
    other = manifest.replace("a" * 64, "b" * 64)
    ecr.put_image(repositoryName=repository["repositoryName"], imageManifest=manifest, imageTag="v1")
    with pytest.raises(ClientError) as raised:
        ecr.put_image(repositoryName=repository["repositoryName"], imageManifest=other, imageTag="v1")
    assert raised.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
    with pytest.raises(ClientError) as same:  # the identical manifest under the same tag: refused as well
        ecr.put_image(repositoryName=repository["repositoryName"], imageManifest=manifest, imageTag="v1")
    assert same.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"


def test_deleting_an_image_removes_it_from_the_registry(
    ecr: Any, docker: Any, repository: dict[str, Any], running_isolated_lab: LabConfig
) -> None:
    # given
    auth = login(ecr)
    digest = digest_of(push(docker, tiny_image(docker, "doomed"), repository["repositoryUri"], "v1", auth))
    status = manage.control(running_isolated_lab, "GET", "/status")
    manifest_url = f"{status['registry']['backend_url']}/v2/{repository['repositoryName']}/manifests/{digest}"
    headers = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    assert urllib.request.urlopen(urllib.request.Request(manifest_url, headers=headers)).status == 200
    # when
    result = ecr.batch_delete_image(repositoryName=repository["repositoryName"], imageIds=[{"imageDigest": digest}])
    # then
    assert result["failures"] == []
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(urllib.request.Request(manifest_url, headers=headers))
    assert raised.value.code == 404


def test_deleting_a_repository_needs_force_and_then_removes_storage(
    ecr: Any, docker: Any, running_isolated_lab: LabConfig
) -> None:
    name = "test-delete-repo"
    uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    push(docker, tiny_image(docker, "stored"), uri, "v1", login(ecr))
    with pytest.raises(ClientError) as raised:
        ecr.delete_repository(repositoryName=name)
    assert raised.value.response["Error"]["Code"] == "RepositoryNotEmptyException"
    ecr.delete_repository(repositoryName=name, force=True)
    assert not (running_isolated_lab.registry_dir / "docker/registry/v2/repositories" / name).exists()


def test_lifecycle_preview_through_plain_boto3(ecr: Any, docker: Any, repository: dict[str, Any]) -> None:
    # given: three tagged pushes, oldest first, and one untagged image (a moved tag)
    auth, name, uri = login(ecr), repository["repositoryName"], repository["repositoryUri"]
    digests = []
    for index, tag in enumerate(["v1", "v2", "v3"]):
        digests.append(digest_of(push(docker, tiny_image(docker, f"release {index}"), uri, tag, auth)))
        time.sleep(1.1)  # push times have one-second resolution
    moved = digest_of(push(docker, tiny_image(docker, "old latest"), uri, "latest", auth))
    push(docker, tiny_image(docker, "new latest"), uri, "latest", auth)
    policy = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["v"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )
    # when
    ecr.start_lifecycle_policy_preview(repositoryName=name, lifecyclePolicyText=policy)
    preview = ecr.get_lifecycle_policy_preview(repositoryName=name)
    # then: the two oldest v-images go; the single untagged image stays (count 1 is not more than 1)
    assert preview["status"] == "COMPLETE"
    assert [(r["imageDigest"], r["appliedRulePriority"]) for r in preview["previewResults"]] == [(digests[0], 2), (digests[1], 2)]
    assert moved not in [r["imageDigest"] for r in preview["previewResults"]]


def test_a_bad_lifecycle_rule_is_refused(ecr: Any, repository: dict[str, Any]) -> None:
    policy = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1},
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    with pytest.raises(ClientError) as raised:
        ecr.start_lifecycle_policy_preview(repositoryName=repository["repositoryName"], lifecyclePolicyText=policy)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "tagPrefixList or tagPatternList" in raised.value.response["Error"]["Message"]
