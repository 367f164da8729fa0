"""The task execution role: what ECS does with it before a task's containers start.

A task definition names two roles. The *task role* (``taskRoleArn``) is for the
application inside the containers (see :mod:`ecslab.lab.task_roles`). The
*execution role* (``executionRoleArn``) is for ECS itself, while it prepares the
task: it assumes the role to get an ECR token and pull the images, to create the
``awslogs`` log stream, and to read the container ``secrets`` from Secrets Manager
or SSM Parameter Store. moto stores the ARN and the secrets and uses neither: every
task pulls every image, and a secret never reaches its container.

This filler does ECS's part, in ECS's order and words, from the agent's
``prepare_task`` hook (before the pull), deciding every call with
:func:`ecslab.iam_policy.evaluate` over the role's policies
(:func:`ecslab.security.role_policies`):

1. the role must exist and trust ``ecs-tasks.amazonaws.com``, else the task stops
   with "ECS was unable to assume the role '...' that was provided for this task. ...";
2. for an image in ECR (the lab's registry is ECR): ``ecr:GetAuthorizationToken`` on
   ``*``, else ``ResourceInitializationError: unable to pull secrets or registry auth:
   ... unable to retrieve ecr registry auth: ...``;
3. each secret: ``secretsmanager:GetSecretValue`` on the secret's ARN or
   ``ssm:GetParameters`` on the parameter's ARN, then the value itself (a missing
   secret, parameter or JSON key fails the task as on AWS);
4. ``ecr:BatchGetImage`` and ``ecr:GetDownloadUrlForLayer`` on the repository's ARN
   (an explicit Deny in the repository policy counts too), else ``CannotPullContainerError``
   with the registry's 403;
5. for the ``awslogs`` driver on Fargate: ``logs:CreateLogStream`` (and
   ``logs:CreateLogGroup`` with ``awslogs-create-group``), else the logger's
   ``ResourceInitializationError``. Without ``logs:PutLogEvents`` a task on AWS runs
   but its lines never arrive; the lab still ships them and says so in the agent log.

The AccessDenied texts are those of :func:`ecslab.iam_policy.access_denied_message`
for the session ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/TASK_ID``. AWS appends the
SDK's ``status code: 400, request id: ...`` to them; the lab leaves that out so a
stopped reason reads the same on every run.

On the EC2 launch type without an execution role, the container instance's role pulls
the image and writes the logs; the lab's simulated instances count as having
``ecsInstanceRole`` with the AmazonEC2ContainerServiceforEC2Role policy, which allows
both, so nothing is checked. With an execution role, ECS uses it on EC2 too for the
ECR pull and the secrets (the instance still writes the logs).

Secret values are read once per task, kept only in this process's memory, handed to
the containers as environment variables by ``container_environment`` and forgotten
when the task stops. They are never logged: the agent's journal and the lab log name
secrets, never their values. Notebook 07b-networks-and-secrets shows all of it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ecslab import iam_policy
from ecslab.config import ACCOUNT_ID
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, NoTaskHooks, TaskNotes

log = logging.getLogger("ecslab.lab.execution_role")

ECS_TASKS = "ecs-tasks.amazonaws.com"
RETRIEVAL = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "


def unable_to_assume(role_arn: str) -> str:
    """ECS's reason when the execution role is missing or does not trust ecs-tasks.amazonaws.com."""
    return (
        f"ECS was unable to assume the role '{role_arn}' that was provided for this task. Please verify that the role being passed "
        "has the proper trust relationship and permissions and that your IAM user has permissions to pass this role."
    )


def ecr_auth_denied(message: str) -> str:
    return f"{RETRIEVAL}unable to retrieve ecr registry auth: service call has been retried 1 time(s): AccessDeniedException: {message}"


def asm_failed(secret_arn: str, error: str) -> str:
    return f"{RETRIEVAL}unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret {secret_arn} from secrets manager: {error}"  # noqa: E501 (the agent's own words)


def asm_missing_json_key(key: str) -> str:
    return f"{RETRIEVAL}unable to retrieve secret from asm: service call has been retried 1 time(s): retrieved secret from Secrets Manager did not contain json key {key}"  # noqa: E501 (the agent's own words)


def ssm_failed(error: str) -> str:
    return f"{RETRIEVAL}unable to retrieve secrets from ssm: service call has been retried 1 time(s): {error}"


def logger_denied(what: str, message: str) -> str:
    return (
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        f"failed to create Cloudwatch log {what}: AccessDeniedException: {message} : exit status 1"
    )


class Denied(Protocol):
    """ECS's check of one call with the execution role: the AccessDenied text, or ``None`` when allowed."""

    def __call__(self, action: str, resource: str, resource_policy: iam_policy.Policy | None = None) -> str | None: ...


@dataclass(frozen=True)
class SecretReference:
    """Where one container secret comes from, parsed from its ``valueFrom``."""

    service: str  # "secretsmanager" or "ssm"
    identifier: str  # secret ARN (without the json-key suffix) or parameter name/ARN as given
    arn: str  # the resource IAM decides on
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""


def parse_value_from(value_from: str, region: str, account: str = ACCOUNT_ID) -> SecretReference:
    """Read a ``valueFrom``: a Secrets Manager secret ARN, optionally ``:json-key:version-stage:version-id``,
    or an SSM parameter ARN or (same Region) name."""
    parts = value_from.split(":")
    if value_from.startswith("arn:") and len(parts) >= 7 and parts[2] == "secretsmanager":
        extra = parts[7:] + ["", "", ""]
        base = ":".join(parts[:7])
        return SecretReference("secretsmanager", base, base, extra[0], extra[1], extra[2])
    if value_from.startswith("arn:") and len(parts) >= 6 and parts[2] == "ssm":
        return SecretReference("ssm", value_from, value_from)
    name = value_from.lstrip("/")
    return SecretReference("ssm", value_from, f"arn:aws:ssm:{region}:{account}:parameter/{name}")


def repository_of(image: str) -> tuple[str, str, str]:
    """``(host, repository, tag or digest)`` of an image reference."""
    host, _, rest = image.partition("/")
    if "@" in rest:
        repository, reference = rest.split("@", 1)
    elif ":" in rest:
        repository, reference = rest.rsplit(":", 1)
    else:
        repository, reference = rest, "latest"
    return host, repository, reference


class ExecutionRoles(GapFiller, NoTaskHooks):
    """ECS's use of a task's execution role: ECR pull, awslogs and secrets, checked before the pull."""

    name = "ECS execution roles"
    gap = (
        "moto stores a task definition's executionRoleArn and its containers' secrets but uses neither: any task "
        "pulls any image and writes any log group, and a secret never reaches its container."
    )
    fills = (
        "Before a task's images are pulled, the lab assumes its execution role as ECS does: the role must trust "
        "ecs-tasks.amazonaws.com and its policies must allow the ECR pull, the awslogs stream and each secret, or the "
        "task stops with ECS's reason. Secrets from Secrets Manager and SSM Parameter Store become the containers' "
        "environment variables, held in the lab's memory only while the task lives."
    )

    def __init__(self, *, notes: TaskNotes | None) -> None:
        """``notes``: the ECS agent's journal, where the lab says which secrets it read (never their values)."""
        self.notes = notes
        self.context: FillerContext | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._secrets: dict[str, dict[str, dict[str, str]]] = {}  # task ARN -> container name -> variables

    def collaborators(self) -> Sequence[object]:
        return [self.notes] if self.notes is not None else []

    def start(self, context: FillerContext) -> None:
        self.context = context

    def after_reset(self, context: FillerContext) -> None:
        with self._lock:
            self._secrets.clear()

    def stop(self) -> None:
        with self._lock:
            self._secrets.clear()

    def client(self, service: str) -> Any:
        import boto3

        assert self.context is not None
        if service not in self._clients:
            config = self.context.config
            self._clients[service] = boto3.client(
                service,
                endpoint_url=config.endpoint_url,
                region_name=config.region,
                aws_access_key_id="ecs",
                aws_secret_access_key="ecs",
            )
        return self._clients[service]

    @property
    def region(self) -> str:
        assert self.context is not None
        return str(self.context.config.region)

    # -- the agent's hooks ----------------------------------------------------------------------

    def prepare_task(self, task: Any, definition: Any) -> str | None:
        """``definition``: moto's task definition the task was made from (the ECS agent's record of the task)."""
        LAB_LOCK.forbid("calls to the lab's IAM, ECR, Secrets Manager and SSM")
        role_arn = getattr(definition, "execution_role_arn", None)
        if not role_arn:
            return None  # EC2 without an execution role: the instance role (AmazonEC2ContainerServiceforEC2Role) does it all
        role_name = role_arn.split("/")[-1]
        role = self._role(role_arn, role_name)
        if role is None or not _trusts(role.get("AssumeRolePolicyDocument")):
            return unable_to_assume(role_arn)
        from ecslab.security import role_policies

        policies = role_policies(self.client("iam"), role_name)
        session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{task.id}"

        def denied(action: str, resource: str, resource_policy: iam_policy.Policy | None = None) -> str | None:
            decision = iam_policy.evaluate(action, resource, policies, resource_policy=resource_policy, principal_arn=session)
            return None if decision.allowed else iam_policy.access_denied_message(session, action, resource, decision)

        containers = list(definition.container_definitions)
        ecr_images = [c["image"] for c in containers if self._is_ecr(c.get("image") or "")]
        if ecr_images:
            problem = denied("ecr:GetAuthorizationToken", "*")
            if problem:
                return ecr_auth_denied(problem)
        values: dict[str, dict[str, str]] = {}
        for container in containers:
            for secret in container.get("secrets") or []:
                value, problem = self._secret(secret["valueFrom"], denied)
                if problem:
                    return problem
                values.setdefault(container.get("name", ""), {})[secret["name"]] = value or ""
        for image in ecr_images:
            problem = self._pull_permissions(image, denied)
            if problem:
                return problem
        if "FARGATE" in str(getattr(task, "launch_type", "") or "").upper():
            for container in containers:
                problem = self._logger_permissions(task, container, denied)
                if problem:
                    return problem
        if values:
            with self._lock:
                self._secrets[task.task_arn] = values
            if self.notes is not None:
                names = sorted(name for variables in values.values() for name in variables)
                self.notes.note(
                    task, f"execution role {role_name} read {len(names)} secret(s) for the containers: {', '.join(names)}"
                )
        return None

    def container_environment(self, task: Any, container_definition: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            return dict(self._secrets.get(task.task_arn, {}).get(container_definition.get("name", ""), {}))

    def task_stopped(self, task: Any) -> None:
        with self._lock:
            self._secrets.pop(task.task_arn, None)

    def secrets_held(self) -> int:
        """How many tasks' secrets the lab holds in memory now (never the values)."""
        with self._lock:
            return len(self._secrets)

    # -- pieces ----------------------------------------------------------------------------------

    def _is_ecr(self, image: str) -> bool:
        from ecslab.ecs_validation import is_ecr_image

        assert self.context is not None
        return is_ecr_image(image, self.context.config.registry_address)

    def _role(self, role_arn: str, role_name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            role: dict[str, Any] = self.client("iam").get_role(RoleName=role_name)["Role"]
        except ClientError:
            return None
        return role if role.get("Arn") == role_arn else None

    def _secret(self, value_from: str, denied: Denied) -> tuple[str | None, str | None]:
        """The secret's value, or ECS's reason for failing the task (never the value in a reason)."""
        reference = parse_value_from(value_from, self.region)
        if reference.service == "secretsmanager":
            return self._secrets_manager(reference, denied)
        return self._parameter(reference, denied)

    def _secrets_manager(self, reference: SecretReference, denied: Denied) -> tuple[str | None, str | None]:
        from botocore.exceptions import ClientError

        secretsmanager = self.client("secretsmanager")
        try:
            actual_arn: str | None = secretsmanager.describe_secret(SecretId=reference.identifier)["ARN"]
        except ClientError:
            actual_arn = None
        problem = denied("secretsmanager:GetSecretValue", actual_arn or reference.arn)
        if problem:
            return None, asm_failed(reference.identifier, f"AccessDeniedException: {problem}")
        arguments: dict[str, str] = {"SecretId": reference.identifier}
        if reference.version_stage:
            arguments["VersionStage"] = reference.version_stage
        if reference.version_id:
            arguments["VersionId"] = reference.version_id
        try:
            answer = secretsmanager.get_secret_value(**arguments)
        except ClientError as error:
            details = error.response.get("Error", {})
            return None, asm_failed(reference.identifier, f"{details.get('Code')}: {details.get('Message')}")
        text = answer.get("SecretString")
        if text is None:
            text = (answer.get("SecretBinary") or b"").decode("utf-8", "replace")
        if not reference.json_key:
            return text, None
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict) or reference.json_key not in document:
            return None, asm_missing_json_key(reference.json_key)
        value = document[reference.json_key]
        return (value if isinstance(value, str) else json.dumps(value)), None

    def _parameter(self, reference: SecretReference, denied: Denied) -> tuple[str | None, str | None]:
        problem = denied("ssm:GetParameters", reference.arn)
        if problem:
            return None, ssm_failed(f"AccessDeniedException: {problem}")
        answer = self.client("ssm").get_parameters(Names=[reference.identifier], WithDecryption=True)
        if answer.get("InvalidParameters"):
            return None, ssm_failed(f"invalid ssm parameters: {', '.join(answer['InvalidParameters'])}")
        return str(answer["Parameters"][0]["Value"]), None

    def _repository_arn(self, host: str, repository: str) -> str:
        from ecslab.ecs_validation import ECR_HOST

        if ECR_HOST.fullmatch(host):
            account, _, _, region = host.split(".")[:4]
            return f"arn:aws:ecr:{region}:{account}:repository/{repository}"
        return f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{repository}"

    def _repository_policy(self, repository: str) -> iam_policy.Policy | None:
        from botocore.exceptions import ClientError

        try:
            text = self.client("ecr").get_repository_policy(repositoryName=repository)["policyText"]
            return iam_policy.parse_policy(text, f"repository policy of {repository}", kind="resource")
        except (ClientError, iam_policy.MalformedPolicyDocument):
            return None

    def _pull_permissions(self, image: str, denied: Denied) -> str | None:
        host, repository, reference = repository_of(image)
        arn = self._repository_arn(host, repository)
        policy = self._repository_policy(repository)
        if denied("ecr:BatchGetImage", arn, policy):
            return (
                f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: "
                f"pulling from host {host} failed with status code [manifests {reference}]: 403 Forbidden"
            )
        if denied("ecr:GetDownloadUrlForLayer", arn, policy):
            layer = self._first_layer(repository, reference) or "sha256:" + "0" * 64
            return (
                f"CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: httpReadSeeker: failed open: "
                f"unexpected status code https://{host}/v2/{repository}/blobs/{layer}: 403 Forbidden"
            )
        return None

    def _first_layer(self, repository: str, reference: str) -> str | None:
        image_id = {"imageDigest": reference} if reference.startswith("sha256:") else {"imageTag": reference}
        try:
            images = self.client("ecr").batch_get_image(repositoryName=repository, imageIds=[image_id])["images"]
            manifest = json.loads(images[0]["imageManifest"])
            return str(manifest["layers"][0]["digest"])
        except Exception:
            return None

    def _logger_permissions(self, task: Any, container: dict[str, Any], denied: Denied) -> str | None:
        configuration = container.get("logConfiguration") or {}
        if configuration.get("logDriver") != "awslogs":
            return None
        options = configuration.get("options") or {}
        group = options.get("awslogs-group")
        if not group:
            return None  # the CloudWatch filler reports the missing option in ECS's words
        region = options.get("awslogs-region") or self.region
        group_arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}"
        if str(options.get("awslogs-create-group", "false")).lower() == "true":
            problem = denied("logs:CreateLogGroup", f"{group_arn}:log-stream:")
            if problem:
                return logger_denied("group", problem)
        problem = denied("logs:CreateLogStream", f"{group_arn}:log-stream:")
        if problem:
            return logger_denied("stream", problem)
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{container.get('name')}/{task.id}" if prefix else task.id
        if denied("logs:PutLogEvents", f"{group_arn}:log-stream:{stream}"):
            if self.notes is not None:
                self.notes.note(
                    task,
                    f"the execution role may not logs:PutLogEvents to {group}: on AWS this task runs but its log lines "
                    "never reach CloudWatch (the lab still ships them)",
                )
        return None


def _trusts(document: str | dict[str, Any] | None) -> bool:
    """Whether a role's trust policy (as ``get_role`` returns it) lets ECS tasks assume the role."""
    if not document:
        return False
    if isinstance(document, str):
        from urllib.parse import unquote

        document = unquote(document)
    try:
        return bool(iam_policy.trusts(document, ECS_TASKS))
    except Exception:
        return False
