"""ecslab.ecr: names, URIs, token decoding, push with progress, lifecycle helpers, hints."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ecslab import ecr as ecr_tools
from ecslab.config import LabConfig
from ecslab.engine import docker_client


@pytest.mark.parametrize(
    "name, problem",
    [
        ("MyRepo", "lower case"),
        ("a", "2 to 256"),
        ("x" * 257, "2 to 256"),
        ("my repo!", "not ' ' '!'"),
        ("-demo", "start and end with a letter or digit"),
        ("demo--app", "single '.', '_' or '-'"),
    ],
)
def test_bad_repository_names_say_why(name: str, problem: str) -> None:
    assert any(problem in text for text in ecr_tools.repository_name_problems(name)), ecr_tools.repository_name_problems(name)


@pytest.mark.parametrize("name", ["aws-node-demo", "team/aws-node-demo", "a.b_c-d", "ab"])
def test_good_repository_names(name: str) -> None:
    assert ecr_tools.repository_name_problems(name) == []


def test_uri_of_the_notes() -> None:
    uri = ecr_tools.ecr_uri("123456789012", "ap-south-1", "aws-node-demo", "latest")
    assert uri == "123456789012.dkr.ecr.ap-south-1.amazonaws.com/aws-node-demo:latest"
    parts = ecr_tools.parse_image_uri(uri)
    assert (parts.account_id, parts.region, parts.repository, parts.tag) == (
        "123456789012",
        "ap-south-1",
        "aws-node-demo",
        "latest",
    )


def test_parse_image_uri_needs_a_registry_and_a_valid_reference() -> None:
    with pytest.raises(ValueError, match="has no registry host"):
        ecr_tools.parse_image_uri("aws-node-demo:latest")
    with pytest.raises(ValueError, match="must be lowercase"):
        ecr_tools.parse_image_uri("123456789012.dkr.ecr.ap-south-1.amazonaws.com/AWS-node-demo")
    digest = "sha256:" + "ab" * 32
    parts = ecr_tools.parse_image_uri(f"localhost:5050/aws-node-demo@{digest}")
    assert (parts.registry, parts.repository, parts.tag, parts.digest, parts.account_id) == (
        "localhost:5050",
        "aws-node-demo",
        None,
        digest,
        None,
    )


@pytest.mark.parametrize(
    "account, region, repo, tag, message",
    [
        ("12345", "us-east-1", "demo", "v1", "12 digits"),
        ("123456789012", "mars", "demo", "v1", "not a region"),
        ("123456789012", "us-east-1", "Demo", "v1", "lower case"),
        ("123456789012", "us-east-1", "demo", "-v1", "cannot start with"),
    ],
)
def test_uri_errors(account: str, region: str, repo: str, tag: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ecr_tools.ecr_uri(account, region, repo, tag)


def test_decode_token_masks_the_password() -> None:
    token = base64.b64encode(b"AWS:secret-password-123").decode()
    login = ecr_tools.decode_token(
        {
            "authorizationToken": token,
            "proxyEndpoint": "https://1.dkr.ecr.x.amazonaws.com",
            "expiresAt": datetime(2030, 1, 1, tzinfo=UTC),
        }
    )
    assert (login.username, login.password, login.registry) == ("AWS", "secret-password-123", "1.dkr.ecr.x.amazonaws.com")
    assert "secret-password-123" not in repr(login) and "secret…(19 characters)" in repr(login)


def test_uri_builder_widget_validates_as_you_type() -> None:
    box = ecr_tools.uri_builder()
    result = box.children[-1]
    assert "123456789012.dkr.ecr.ap-south-1.amazonaws.com/aws-node-demo:latest" in result.value
    box.children[2].value = "Bad Name"
    assert "lower case" in result.value


def test_hints_name_the_fix() -> None:
    assert "create_repository" in ecr_tools.explain_message(
        "name unknown: The repository with name 'x' does not exist in the registry with id '1'"
    )
    assert "put_image_tag_mutability" in ecr_tools.explain_message("tag invalid: ... because the repository is immutable.")


@pytest.fixture(scope="module")
def lab_ecr(running_isolated_lab: LabConfig) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=running_isolated_lab.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_login_push_and_lifecycle_against_the_lab(lab_ecr: Any, running_isolated_lab: LabConfig) -> None:
    # given
    docker = docker_client()
    import io
    import tarfile

    def tiny(content: str) -> str:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, text in {"Dockerfile": "FROM scratch\nCOPY f /\n", "f": content}.items():
                info = tarfile.TarInfo(name)
                info.size = len(text)
                archive.addfile(info, io.BytesIO(text.encode()))
        buffer.seek(0)
        image, _ = docker.images.build(
            fileobj=buffer,
            custom_context=True,
            tag=f"ecslab-test/tiny-ecr:{content}",
            labels={"ecslab.test": "ecr"},
            rm=True,  # no intermediate containers left behind (the SDK keeps them by default)
            forcerm=True,
        )
        return str(image.id)

    uri = lab_ecr.create_repository(repositoryName="helpers-demo")["repository"]["repositoryUri"]
    try:
        login = ecr_tools.get_login(lab_ecr)
        assert timedelta(hours=11) < timedelta(seconds=login.expires_in()) <= timedelta(hours=12)
        assert ecr_tools.docker_login(docker, login) == "Login Succeeded"
        # when
        first = ecr_tools.push_image(docker, tiny("one"), uri, "v1", login, show_progress=False)
        second = ecr_tools.push_image(docker, tiny("two"), uri, "v2", login, show_progress=False)
        # then
        records = ecr_tools.image_records(lab_ecr, "helpers-demo")
        assert [r.digest for r in records] == [first.digest, second.digest]
        assert first.uploaded and first.manifest_size > 0
        with pytest.raises(ecr_tools.EcrError, match="Hint: tags in an IMMUTABLE") as raised:
            lab_ecr.put_image_tag_mutability(repositoryName="helpers-demo", imageTagMutability="IMMUTABLE")
            ecr_tools.push_image(docker, tiny("three"), uri, "v1", login, show_progress=False)
        assert "already exists" in str(raised.value)
        policy = (
            '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", '
            '"countNumber": 1}, "action": {"type": "expire"}}]}'
        )
        lab_ecr.put_lifecycle_policy(repositoryName="helpers-demo", lifecyclePolicyText=policy)
        assert [r["imageDigest"] for r in ecr_tools.lifecycle_preview(lab_ecr, "helpers-demo")] == [first.digest]
        assert ecr_tools.apply_lifecycle_policy(lab_ecr, "helpers-demo") == [first.digest]
        assert [r.digest for r in ecr_tools.image_records(lab_ecr, "helpers-demo")] == [second.digest]
    finally:
        lab_ecr.delete_repository(repositoryName="helpers-demo", force=True)
        for image in docker.images.list(filters={"label": "ecslab.test=ecr"}):
            docker.images.remove(image.id, force=True)
