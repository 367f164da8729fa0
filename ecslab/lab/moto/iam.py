"""The lab's changes to moto's IAM: ``create_role`` checks its trust policy (as ``update_assume_role_policy`` does)."""

from __future__ import annotations

from typing import Any

from ecslab.lab.moto.patching import PatchSet, declare

PATCHES: PatchSet[None] = declare(PatchSet("iam"))

CREATE_ROLE = (
    "(self, role_name: 'str', assume_role_policy_document: 'str', path: 'str', permissions_boundary: 'str | None', "
    "description: 'str', tags: 'list[dict[str, str]]', max_session_duration: 'str | None', linked_service: "
    "'str | None' = None) -> 'Role'"
)


@PATCHES.patch("moto.iam.models:IAMBackend", "create_role", CREATE_ROLE, "a malformed trust policy is refused")
def _create_role(original: Any, lab: None) -> Any:
    from moto.iam.policy_validation import IAMTrustPolicyDocumentValidator

    def create_role_checked(backend: Any, role_name: str, assume_role_policy_document: str, *args: Any, **kwargs: Any) -> Any:
        IAMTrustPolicyDocumentValidator(assume_role_policy_document).validate()
        return original(backend, role_name, assume_role_policy_document, *args, **kwargs)

    return create_role_checked
