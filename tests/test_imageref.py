"""The one image-reference parser: Docker's grammar, what is kept, what is defaulted, what is refused."""

from __future__ import annotations

import dataclasses

import pytest

from ecslab import imageref
from ecslab.imageref import ImageRef, parse

SHA = "sha256:" + "0123456789abcdef" * 4
ECR = "123456789012.dkr.ecr.ap-south-1.amazonaws.com"


@pytest.mark.parametrize(
    "text, registry, repository, tag, digest",
    [
        ("python", None, "python", None, None),
        ("python:3.12-slim", None, "python", "3.12-slim", None),
        ("team/app", None, "team/app", None, None),
        ("team/app:v1", None, "team/app", "v1", None),
        ("library/python:3.12", None, "library/python", "3.12", None),
        ("a/b/c/d:e", None, "a/b/c/d", "e", None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5050/ecslab-sample:v1", "localhost:5050", "ecslab-sample", "v1", None),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None),
        ("[::1]:5000/app:v2", "[::1]:5000", "app", "v2", None),
        ("[2001:db8::1]/app", "[2001:db8::1]", "app", None, None),
        ("registry:5000/app", "registry:5000", "app", None, None),
        ("Registry/app", "Registry", "app", None, None),
        ("my-registry.example.com/team/app:v1", "my-registry.example.com", "team/app", "v1", None),
        (f"{ECR}/aws-node-demo:latest", ECR, "aws-node-demo", "latest", None),
        ("public.ecr.aws/docker/library/python:3.12", "public.ecr.aws", "docker/library/python", "3.12", None),
        ("docker.io/library/python", "docker.io", "library/python", None, None),
        ("index.docker.io/python", "index.docker.io", "python", None, None),
        (f"app@{SHA}", None, "app", None, SHA),
        (f"app:v1@{SHA}", None, "app", "v1", SHA),
        (f"localhost:5050/app@{SHA}", "localhost:5050", "app", None, SHA),
        ("ab_c__d-e--f/g.h", None, "ab_c__d-e--f/g.h", None, None),
        ("localhost", None, "localhost", None, None),
        ("example.com", None, "example.com", None, None),
        ("app:V1_x.y-z", None, "app", "V1_x.y-z", None),
        ("app:_", None, "app", "_", None),
        ("app:" + "t" * 128, None, "app", "t" * 128, None),
        ("app@sha512:" + "ab" * 64, None, "app", None, "sha512:" + "ab" * 64),
    ],
)
def test_parse_keeps_what_was_written(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == text
    assert parse(str(ref)) == ref


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("python", "docker.io/library/python:latest"),
        ("python:3.12-slim", "docker.io/library/python:3.12-slim"),
        ("team/app", "docker.io/team/app:latest"),
        ("docker.io/python", "docker.io/library/python:latest"),
        ("index.docker.io/python:3", "docker.io/library/python:3"),
        ("index.docker.io/team/app", "docker.io/team/app:latest"),
        (f"app@{SHA}", f"docker.io/library/app@{SHA}"),
        (f"app:v1@{SHA}", f"docker.io/library/app:v1@{SHA}"),
        ("localhost:5050/app", "localhost:5050/app:latest"),
        ("localhost:5050/app:v1", "localhost:5050/app:v1"),
        ("public.ecr.aws/nginx/nginx", "public.ecr.aws/nginx/nginx:latest"),
        (f"{ECR}/demo", f"{ECR}/demo:latest"),
    ],
)
def test_normalized_applies_dockers_defaults(text: str, canonical: str) -> None:
    ref = parse(text).normalized()
    assert str(ref) == canonical
    assert ref.normalized() == ref
    assert parse(canonical) == ref


@pytest.mark.parametrize(
    "text, familiar",
    [
        ("docker.io/library/python:latest", "python:latest"),
        ("python", "python"),
        ("docker.io/team/app", "team/app"),
        ("index.docker.io/library/redis", "redis"),
        ("docker.io/library/a/b", "library/a/b"),
        ("localhost:5050/app", "localhost:5050/app"),
        (f"docker.io/library/app@{SHA}", f"app@{SHA}"),
    ],
)
def test_familiar_is_the_short_form_docker_prints(text: str, familiar: str) -> None:
    assert str(parse(text).familiar()) == familiar


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "cannot be empty"),
        ("0123456789abcdef" * 4, "image ID"),
        ("Python", "must be lowercase"),
        ("team/App", "must be lowercase"),
        ("localhost:5050/App", "must be lowercase"),
        ("app:", "is not a tag"),
        ("app:-v1", "is not a tag"),
        ("app:.v1", "is not a tag"),
        ("app:" + "t" * 129, "is not a tag"),
        ("app:v1:v2", "is not a tag"),
        ("app:v 1", "is not a tag"),
        ("my app", "is not a repository name"),
        ("-app", "is not a repository name"),
        ("app-", "is not a repository name"),
        ("a..b", "is not a repository name"),
        ("a___b", "is not a repository name"),
        ("team//app", "is not a repository name"),
        ("team/", "is not a repository name"),
        ("/app", "is not a repository name"),
        ("localhost:5050/", "is not a repository name"),
        ("a:b/app", "is not a registry host"),
        ("-bad.example.com/app", "is not a registry host"),
        # the Docker CLI (28.2) takes these two as a registry-less path, an accident of its regular expression
        ("exa_mple.com/app", "is not a registry host"),
        ("a.b_c/app", "is not a registry host"),
        ("app@", "is not a digest"),
        ("app@sha256", "is not a digest"),
        ("app@sha256:abc", "is not a digest"),
        ("app@md5:" + "0" * 32, "unsupported digest algorithm"),
        ("app@sha256:" + "0" * 63, "64 lower-case hex digits"),
        ("app@sha256:" + "A" * 64, "64 lower-case hex digits"),
        ("app@" + SHA + "@" + SHA, "is not a digest"),
        ("a/" + "b" * 255, "at most 255 characters"),
    ],
)
def test_parse_refuses_what_docker_refuses(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="invalid reference format") as error:
        parse(text)
    assert problem in str(error.value)


def test_a_repository_of_255_characters_is_fine() -> None:
    assert len(parse("a/" + "b" * 253).repository) == 255


def test_registry_host_and_port() -> None:
    assert (parse("localhost:5050/app").host, parse("localhost:5050/app").port) == ("localhost", 5050)
    assert (parse("[::1]:5000/app").host, parse("[::1]:5000/app").port) == ("[::1]", 5000)
    assert (parse("[::1]/app").host, parse("[::1]/app").port) == ("[::1]", None)
    assert (parse("example.com/app").host, parse("example.com/app").port) == ("example.com", None)
    assert (parse("app").host, parse("app").port) == (None, None)


def test_name_is_registry_and_repository() -> None:
    assert parse(f"localhost:5050/team/app:v1@{SHA}").name == "localhost:5050/team/app"
    assert parse("python:3").name == "python"


def test_ecr_account_and_region_only_for_ecr_registries() -> None:
    ref = parse(f"{ECR}/aws-node-demo:latest")
    assert (ref.account_id, ref.region) == ("123456789012", "ap-south-1")
    china = parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app")
    fips = parse("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app")
    assert [(r.account_id, r.region) for r in (china, fips)] == [("123456789012", "cn-north-1"), ("123456789012", "us-east-1")]
    for other in ("public.ecr.aws/nginx/nginx", "localhost:5050/app", "python", "12345.dkr.ecr.us-east-1.amazonaws.com/app"):
        assert (parse(other).account_id, parse(other).region) == (None, None)


def test_image_ref_is_frozen_and_hashable() -> None:
    ref = parse("python:3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.tag = "4"  # type: ignore[misc]
    assert {ref, parse("python:3")} == {ImageRef(None, "python", "3")}


def test_defaults_are_named() -> None:
    assert (imageref.DEFAULT_REGISTRY, imageref.DEFAULT_TAG) == ("docker.io", "latest")
