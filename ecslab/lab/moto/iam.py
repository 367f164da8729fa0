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


PARTITION_PATCHES: PatchSet[str] = declare(PatchSet("iam-partitions"))
"""Applied by the lab process before IAM is first built (``ecslab.lab.server``), with the lab's partition."""


@PARTITION_PATCHES.patch(
    "moto.iam.models:IAMBackend",
    "_init_aws_policies",
    "(self) -> 'list[ManagedPolicy]'",
    "AWS's managed policies in the lab's own partition only: moto builds IAM for all six partitions on its first request",
)
def _aws_policies_in_the_lab_partition(original: Any, partition: str) -> Any:
    """moto answers a request by looking for its access key in IAM in every partition (aws, aws-cn, aws-us-gov,
    aws-iso, ...), which builds each partition's IAM with its own copy of AWS's ~1,600 managed policies: 0.8 s
    and about 30 MB for partitions no call of the lab's region reaches. Those partitions' IAM starts without
    them. They are built before the lab seeds moto, so no seeded ID moves."""

    def init_aws_policies(backend: Any) -> Any:
        if backend.region_name != partition:
            return []
        return original(backend)

    return init_aws_policies
