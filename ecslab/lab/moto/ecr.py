"""The one place the lab touches moto's ECR (:mod:`ecslab.lab.ecr_plane` is the lab's side).

Patches, declared as data in :data:`PATCHES`, make moto's ECR API agree with the lab's registry
front: the lab's ``repositoryUri`` and tokens, the real compressed size, ECR's word for an
immutable tag, deletes that reach the registry, and the lifecycle preview moto lacks. The
functions below them read and change moto's repositories for the front (exists, visible,
refused, record a push) so that :mod:`ecslab.lab.ecr_plane` never sees a moto object.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr import exceptions
from moto.ecr.models import ECRBackend, Image, Repository, ecr_backends
from moto.ecr.responses import ECRResponse

from ecslab.config import ACCOUNT_ID
from ecslab.ecr_lifecycle import ImageRecord
from ecslab.lab.moto.patching import ABSENT, PatchSet, declare


class ImageTagAlreadyExistsException(ServiceException):
    """ECR's error for an existing tag in an IMMUTABLE repository (moto names it ImageAlreadyExistsException)."""

    code = "ImageTagAlreadyExistsException"

    def __init__(self, image_tag: str, repository_name: str) -> None:
        super().__init__(
            f"The image tag '{image_tag}' already exists in the '{repository_name}' repository "
            "and cannot be overwritten because the repository is immutable."
        )


class InvalidLifecyclePolicy(ValueError):
    """A lifecycle policy ECR refuses (the lab's parser said why)."""


class EcrLab(Protocol):
    """What the patches need from the lab's ECR data plane."""

    @property
    def registry_address(self) -> str: ...

    def issue_token(self) -> tuple[str, datetime]: ...

    def manifest_deleted(self, repository_name: str, digest: str) -> None: ...

    def repository_deleted(self, repository_name: str, repository_arn: str) -> None: ...

    def start_preview(self, repository_arn: str, policy: str) -> None:
        """Validate ``policy`` (raise :class:`InvalidLifecyclePolicy`) and keep it as the repository's preview."""

    def preview(self, repository_arn: str, images: list[ImageRecord]) -> tuple[str, list[dict[str, Any]]] | None:
        """The kept policy and its preview results over ``images``, or ``None`` when no preview was started."""


def backend(region: str) -> ECRBackend:
    return ecr_backends[ACCOUNT_ID][region]


def image_records(repository: Repository) -> list[ImageRecord]:
    """The repository's images as :mod:`ecslab.ecr_lifecycle` reads them."""
    return [
        ImageRecord(
            image.get_image_digest(),
            list(image.image_tags),
            datetime.fromtimestamp(image.image_pushed_at, UTC),
            image.get_image_size_in_bytes() or 0,
        )
        for image in repository.images
    ]


# -- the patches -----------------------------------------------------------------------------------------

PATCHES: PatchSet[EcrLab] = declare(PatchSet("ecr"))

REPOSITORY_INIT = (
    "(self, account_id: 'str', region_name: 'str', repository_name: 'str', registry_id: 'str | None', "
    "encryption_config: 'dict[str, str] | None', image_scan_config: 'str', image_tag_mutability: 'str', "
    "image_tag_mutability_exclusion_filters: 'Optional[list[ImageTagMutabilityExclusionFilterT]]' = None)"
)
BATCH_DELETE_IMAGE = (
    "(self, repository_name: 'str', registry_id: 'str | None' = None, "
    "image_ids: 'list[dict[str, str]] | None' = None) -> 'dict[str, Any]'"
)
DELETE_REPOSITORY = "(self, repository_name: 'str', registry_id: 'str | None' = None, force: 'bool' = False) -> 'Repository'"
RESOLVE_MUTABILITY = "(self, repository: 'Repository', proposed_image_tag: 'str') -> 'list[Image]'"


@PATCHES.patch("moto.ecr.models:Repository", "__init__", REPOSITORY_INIT, "repositoryUri names the lab's registry front")
def _init_with_lab_uri(original: Callable[..., None], lab: EcrLab) -> Callable[..., None]:
    def init_with_lab_uri(repository: Repository, *args: Any, **kwargs: Any) -> None:
        original(repository, *args, **kwargs)
        repository.uri = f"{lab.registry_address}/{repository.name}"

    return init_with_lab_uri


@PATCHES.patch(
    "moto.ecr.models:Image", "get_image_size_in_bytes", "(self) -> 'int | None'", "the compressed size: the layers' sum"
)
def _real_size(original: object, lab: EcrLab) -> Callable[[Image], int | None]:
    def real_size(image: Image) -> int | None:
        manifest = json.loads(image.image_manifest)
        if "layers" in manifest:
            return int(sum(layer.get("size", 0) for layer in manifest["layers"]))
        return None

    return real_size


@PATCHES.patch("moto.ecr.models:ECRBackend", "_resolve_image_tag_mutability", RESOLVE_MUTABILITY, "ECR's exception name")
def _mutability_in_aws_words(original: Callable[..., list[Image]], lab: EcrLab) -> Callable[..., list[Image]]:
    def resolve_mutability_in_aws_words(backend: ECRBackend, repository: Repository, proposed_image_tag: str) -> list[Image]:
        try:
            return original(backend, repository, proposed_image_tag)
        except exceptions.ImageAlreadyExistsException:
            raise ImageTagAlreadyExistsException(proposed_image_tag, repository.name) from None

    return resolve_mutability_in_aws_words


@PATCHES.patch("moto.ecr.models:ECRBackend", "batch_delete_image", BATCH_DELETE_IMAGE, "deleted images leave the registry")
def _batch_delete_and_unregister(original: Callable[..., dict[str, Any]], lab: EcrLab) -> Callable[..., dict[str, Any]]:
    def batch_delete_and_unregister(
        backend: ECRBackend, repository_name: str, registry_id: str | None = None, image_ids: Any = None
    ) -> dict[str, Any]:
        repository = backend.repositories.get(repository_name)  # under the lab lock, as every moto request
        before = {image.get_image_digest() for image in repository.images} if repository else set()
        result = original(backend, repository_name, registry_id, image_ids)
        after = {image.get_image_digest() for image in repository.images} if repository else set()
        for digest in before - after:
            lab.manifest_deleted(repository_name, digest)
        return result

    return batch_delete_and_unregister


@PATCHES.patch("moto.ecr.models:ECRBackend", "delete_repository", DELETE_REPOSITORY, "a deleted repository leaves the registry")
def _delete_repository_and_storage(original: Callable[..., Repository], lab: EcrLab) -> Callable[..., Repository]:
    def delete_repository_and_storage(
        backend: ECRBackend, repository_name: str, registry_id: str | None = None, force: bool = False
    ) -> Repository:
        repository = original(backend, repository_name, registry_id, force)
        # under the lab lock, as every moto request: the registry is the lab's child process and never calls the
        # lab, so its DELETEs (a few ms each) cannot deadlock; nothing here calls the lab's own API or Docker
        for image in repository.images:
            lab.manifest_deleted(repository_name, image.get_image_digest())
        lab.repository_deleted(repository_name, repository.arn)
        return repository

    return delete_repository_and_storage


@PATCHES.patch("moto.ecr.models:ECRBackend", "get_authorization_token", ABSENT, "tokens the registry front checks")
def _backend_token(original: None, lab: EcrLab) -> Callable[..., list[dict[str, Any]]]:
    def get_authorization_token(backend: ECRBackend, registry_ids: list[str]) -> list[dict[str, Any]]:
        """moto answers from its response handler with a fixed token that expired in 2015; the lab issues its own."""
        token, expires = lab.issue_token()
        proxy = f"http://{lab.registry_address}"
        return [{"authorizationToken": token, "expiresAt": expires, "proxyEndpoint": proxy} for _ in registry_ids]

    return get_authorization_token


@PATCHES.patch("moto.ecr.models:ECRBackend", "start_lifecycle_policy_preview", ABSENT, "moto has no lifecycle preview")
def _backend_start_preview(original: None, lab: EcrLab) -> Callable[..., dict[str, Any]]:
    def start_lifecycle_policy_preview(
        backend: ECRBackend, repository_name: str, registry_id: str | None, policy_text: str | None
    ) -> dict[str, Any]:
        repository = backend._get_repository(repository_name, registry_id)
        policy = policy_text or repository.lifecycle_policy
        if not policy:
            raise exceptions.LifecyclePolicyNotFoundException(repository_name, repository.registry_id)
        try:
            lab.start_preview(repository.arn, policy)  # validates now, as ECR does
        except InvalidLifecyclePolicy as error:
            raise exceptions.InvalidParameterException(str(error)) from None
        return {
            "registryId": repository.registry_id,
            "repositoryName": repository_name,
            "lifecyclePolicyText": policy,
            "status": "IN_PROGRESS",
        }

    return start_lifecycle_policy_preview


@PATCHES.patch("moto.ecr.models:ECRBackend", "get_lifecycle_policy_preview", ABSENT, "moto has no lifecycle preview")
def _backend_get_preview(original: None, lab: EcrLab) -> Callable[..., dict[str, Any]]:
    def get_lifecycle_policy_preview(backend: ECRBackend, repository_name: str, registry_id: str | None) -> dict[str, Any]:
        repository = backend._get_repository(repository_name, registry_id)
        found = lab.preview(repository.arn, image_records(repository))
        if found is None:
            raise exceptions.LifecyclePolicyNotFoundException(repository_name, repository.registry_id)
        policy, results = found
        return {
            "registryId": repository.registry_id,
            "repositoryName": repository_name,
            "lifecyclePolicyText": policy,
            "status": "COMPLETE",
            "previewResults": results,
            "summary": {"expiringImageTotalCount": len(results)},
        }

    return get_lifecycle_policy_preview


# Response handlers only where moto answers without its backend (the token) or has no handler at
# all (the preview); each reads the request's parameters and calls the backend method above.


@PATCHES.patch("moto.ecr.responses:ECRResponse", "get_authorization_token", "(self) -> moto.core.responses.ActionResult")
def _respond_token(original: object, lab: EcrLab) -> Callable[[ECRResponse], ActionResult]:
    def get_authorization_token(response: ECRResponse) -> ActionResult:
        registry_ids = response._get_param("registryIds") or [response.current_account]
        return ActionResult({"authorizationData": response.ecr_backend.get_authorization_token(registry_ids)})  # type: ignore[attr-defined]

    return get_authorization_token


@PATCHES.patch("moto.ecr.responses:ECRResponse", "start_lifecycle_policy_preview", ABSENT)
def _respond_start_preview(original: None, lab: EcrLab) -> Callable[[ECRResponse], ActionResult]:
    def start_lifecycle_policy_preview(response: ECRResponse) -> ActionResult:
        name, registry_id = response._get_param("repositoryName"), response._get_param("registryId")
        text = response._get_param("lifecyclePolicyText")
        return ActionResult(response.ecr_backend.start_lifecycle_policy_preview(name, registry_id, text))  # type: ignore[attr-defined]

    return start_lifecycle_policy_preview


@PATCHES.patch("moto.ecr.responses:ECRResponse", "get_lifecycle_policy_preview", ABSENT)
def _respond_get_preview(original: None, lab: EcrLab) -> Callable[[ECRResponse], ActionResult]:
    def get_lifecycle_policy_preview(response: ECRResponse) -> ActionResult:
        name, registry_id = response._get_param("repositoryName"), response._get_param("registryId")
        return ActionResult(response.ecr_backend.get_lifecycle_policy_preview(name, registry_id))  # type: ignore[attr-defined]

    return get_lifecycle_policy_preview


# -- what the registry front asks of moto ------------------------------------------------------------------


def repository_exists(region: str, repository_name: str) -> bool:
    return repository_name in backend(region).repositories


def visible(region: str, repository_name: str, reference: str) -> bool:
    """Whether moto lists ``reference`` (a tag or a digest) in the repository."""
    repository = backend(region).repositories.get(repository_name)
    if repository is None:
        return False
    if reference.startswith("sha256:"):
        return any(image.get_image_digest() == reference for image in repository.images)
    return any(reference in image.image_tags for image in repository.images)


def push_refusal(region: str, repository_name: str, tag: str) -> str | None:
    """ECR's words refusing a push of ``tag`` (an existing tag in an IMMUTABLE repository), or ``None``.

    ECR refuses an existing tag in an IMMUTABLE repository even when the digest is the same (a re-run of
    the same push fails): the check does not look at the digest."""
    ecr = backend(region)
    repository = ecr.repositories.get(repository_name)
    if repository is None or not any(tag in image.image_tags for image in repository.images):
        return None
    try:
        ecr._resolve_image_tag_mutability(repository, tag)
    except ImageTagAlreadyExistsException as error:
        return str(error.message)
    return None


def record_push(region: str, repository_name: str, tag: str | None, digest: str, manifest: str, media_type: str) -> None:
    """A manifest reached the registry: make moto show it as ECR would (a tag pushed again moves)."""
    repository = backend(region).repositories.get(repository_name)
    if repository is None:
        return
    image = next((i for i in repository.images if i.get_image_digest() == digest), None)
    if image is None:
        image = Image(ACCOUNT_ID, tag, manifest, repository_name, media_type, digest)  # type: ignore[arg-type]
        repository.images.append(image)
    elif tag is not None:
        image.update_tag(tag)
    image.image_pushed_at = time.time()  # type: ignore[assignment]  # ECR keeps sub-second push times; moto whole seconds
    if tag is not None:
        for other in repository.images:
            if other is not image and tag in other.image_tags:
                other.remove_tag(tag)
                if not other.image_tags:
                    other.image_tag = None  # type: ignore[assignment]
