"""Image references taken apart the way Docker reads them: the one parser of the package.

An image reference is ``[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`` (notebooks 02 and 03). The grammar is
Docker's (the ``distribution/reference`` package that the Docker CLI and engine use):

- the **registry** is the part before the first ``/``, but only when it contains a ``.`` or a ``:``
  (a port, ``localhost:5050``), is ``localhost``, or has an upper-case letter (repositories cannot);
  ``team/app`` is a repository on Docker Hub, ``registry.example.com/team/app`` is not. A registry is
  a host name, an IPv4 address or an ``[IPv6]`` address, optionally followed by ``:PORT``;
- the **repository** is one or more ``/``-separated components of lower-case letters and digits,
  joined inside a component by ``.``, ``_``, ``__`` or dashes; at most 255 characters;
- the **tag** is up to 128 letters, digits, ``_``, ``.`` and ``-``, not starting with ``.`` or ``-``;
- the **digest** is ``ALGORITHM:HEX`` (``sha256:`` and 64 lower-case hex digits, or ``sha512:`` and 128).

:func:`parse` keeps what was written: ``parse("python").registry`` is ``None`` and its tag is ``None``, and
``str(parse(text)) == text`` for every reference it accepts. :meth:`ImageRef.normalized` applies Docker's
defaults: no registry means Docker Hub (``docker.io``, and ``index.docker.io`` is the same registry), a
one-component repository there lives under ``library/``, and a reference with neither tag nor digest means
the tag ``latest`` (a digest alone gets no tag). ``str(ref.normalized())`` is the fully qualified
reference Docker shows, e.g. ``docker.io/library/python:latest``.

Checked against the Docker CLI 28.2 (``docker tag``), which agrees on every case in tests/test_imageref.py but
two: it reads ``exa_mple.com/app`` (a first part with a dot that is no valid host) as a path without
registry, where this parser refuses it. The lab's Docker engine (20.10) is older and also refuses
``[IPv6]`` registries and upper-case registry names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["DEFAULT_REGISTRY", "DEFAULT_TAG", "ECR_REGISTRY", "ImageRef", "parse"]

DEFAULT_REGISTRY = "docker.io"
"""Where a reference without a registry points: Docker Hub."""
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
OFFICIAL_NAMESPACE = "library/"
DEFAULT_TAG = "latest"
"""The tag Docker uses when a reference has neither tag nor digest."""
MAX_REPOSITORY_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")
ECR_REGISTRY = re.compile(r"(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
"""An Amazon ECR private registry's host: ``ACCOUNT.dkr.ecr.REGION.amazonaws.com`` (``.cn`` in China, ``ecr-fips``)."""


@dataclass(frozen=True)
class ImageRef:
    """An image reference taken apart: ``[registry/]repository[:tag][@digest]``; ``str()`` puts it back together."""

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def name(self) -> str:
        """The repository with its registry, without tag or digest: what ``docker images`` lists as REPOSITORY."""
        return f"{self.registry}/{self.repository}" if self.registry is not None else self.repository

    @property
    def host(self) -> str | None:
        """The registry without its port (``localhost`` for ``localhost:5050``)."""
        if self.registry is None:
            return None
        return self.registry.rsplit(":", 1)[0] if re.search(r":[0-9]+$", self.registry) else self.registry

    @property
    def port(self) -> int | None:
        """The registry's port when the reference names one (``5050`` for ``localhost:5050``)."""
        match = re.search(r":([0-9]+)$", self.registry or "")
        return int(match[1]) if match else None

    @property
    def account_id(self) -> str | None:
        """For an ECR private registry (``ACCOUNT.dkr.ecr.REGION.amazonaws.com``), its account ID."""
        match = ECR_REGISTRY.fullmatch(self.registry or "")
        return match[1] if match else None

    @property
    def region(self) -> str | None:
        """For an ECR private registry (``ACCOUNT.dkr.ecr.REGION.amazonaws.com``), its region."""
        match = ECR_REGISTRY.fullmatch(self.registry or "")
        return match[2] if match else None

    def normalized(self) -> ImageRef:
        """Docker's fully qualified form: ``python`` is ``docker.io/library/python:latest``."""
        registry = self.registry
        if registry is None or registry == LEGACY_DEFAULT_REGISTRY:
            registry = DEFAULT_REGISTRY
        repository = self.repository
        if registry == DEFAULT_REGISTRY and "/" not in repository:
            repository = OFFICIAL_NAMESPACE + repository
        tag = DEFAULT_TAG if self.tag is None and self.digest is None else self.tag
        return ImageRef(registry, repository, tag, self.digest)

    def familiar(self) -> ImageRef:
        """The short form Docker prints: no ``docker.io/`` and no ``library/`` (tag and digest as they are)."""
        ref = self.normalized()
        if ref.registry != DEFAULT_REGISTRY:
            return replace(ref, tag=self.tag)
        repository = ref.repository
        if repository.startswith(OFFICIAL_NAMESPACE) and "/" not in repository[len(OFFICIAL_NAMESPACE) :]:
            repository = repository[len(OFFICIAL_NAMESPACE) :]
        return ImageRef(None, repository, self.tag, self.digest)


def parse(reference: str) -> ImageRef:
    """Take ``reference`` apart as Docker does; ``ValueError`` (saying what is wrong) when Docker would refuse it."""
    if not reference:
        raise ValueError("invalid reference format: an image reference cannot be empty")
    if _IMAGE_ID.fullmatch(reference):
        raise ValueError(f"invalid reference format: {reference!r} is an image ID (64 hex digits), not a repository name")
    rest, at, digest = reference.partition("@")
    registry, path = _split_registry(rest)
    repository, colon, tag = path.partition(":")
    ref = ImageRef(registry, repository, tag if colon else None, digest if at else None)
    _check(ref, reference)
    return ref


def _split_registry(name: str) -> tuple[str | None, str]:
    first, slash, remainder = name.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first or first != first.lower()):
        return first, remainder
    return None, name


def _check(ref: ImageRef, reference: str) -> None:
    problem = _problem(ref)
    if problem:
        raise ValueError(f"invalid reference format: {problem} (in {reference!r})")


def _problem(ref: ImageRef) -> str | None:
    if ref.registry is not None and not _REGISTRY.fullmatch(ref.registry):
        return f"{ref.registry!r} is not a registry host (a host name or IP address, optionally with :PORT)"
    if not _REPOSITORY.fullmatch(ref.repository):
        if _REPOSITORY.fullmatch(ref.repository.lower()):
            return f"repository name {ref.repository!r} must be lowercase"
        return (
            f"{ref.repository!r} is not a repository name: '/'-separated parts of lower-case letters and digits, "
            "joined by '.', '_', '__' or '-'"
        )
    if len(ref.repository) > MAX_REPOSITORY_LENGTH:
        return f"a repository name has at most {MAX_REPOSITORY_LENGTH} characters (this one has {len(ref.repository)})"
    if ref.tag is not None and not _TAG.fullmatch(ref.tag):
        return f"{ref.tag!r} is not a tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
    if ref.digest is not None:
        return _digest_problem(ref.digest)
    return None


def _digest_problem(digest: str) -> str | None:
    if not _DIGEST.fullmatch(digest):
        return f"{digest!r} is not a digest: ALGORITHM:HEX, e.g. sha256: and 64 hex digits"
    algorithm, _, encoded = digest.partition(":")
    if algorithm not in _DIGEST_LENGTHS:
        return f"unsupported digest algorithm {algorithm!r} (sha256 or sha512)"
    if not re.fullmatch(rf"[a-f0-9]{{{_DIGEST_LENGTHS[algorithm]}}}", encoded):
        return f"a {algorithm} digest is {_DIGEST_LENGTHS[algorithm]} lower-case hex digits"
    return None
