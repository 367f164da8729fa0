"""ECS task roles in the lab: credentials inside the container, and AccessDenied for real.

On AWS, a task definition's ``taskRoleArn`` makes ECS assume that role for each task
(the session is named after the task ID) and serve the temporary credentials to the
task's containers from a credentials endpoint; the AWS SDK in the container finds
them through ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` (Fargate: at
``http://169.254.170.2``), with no key anywhere in the image or the task definition.
Every call the application then makes is allowed or denied by the role's policies.
A task without a task role gets no credentials at all.

moto stores ``taskRoleArn`` and does nothing with it, and it answers every request
whoever signs it. This filler closes both gaps for the lab:

- before a task with a task role starts, the lab checks that the role exists and
  trusts ``ecs-tasks.amazonaws.com`` (else the task stops with ECS's words) and
  calls STS ``AssumeRole`` on the lab's own endpoint with ``RoleSessionName`` = the
  task ID, so ``sts get-caller-identity`` in the container shows
  ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/TASK_ID``;
- a small HTTP server on the Docker bridge's gateway address (the one address of
  this machine a container reaches; nothing else is bound beyond 127.0.0.1) serves
  ``GET /v2/credentials/<id>`` in ECS's JSON (``AccessKeyId``, ``SecretAccessKey``,
  ``Token``, ``Expiration``, ``RoleArn``) to callers with the task's
  ``Authorization`` token, renewing the session before it expires;
- botocore takes container credentials only from loopback or 169.254.170.2 (which
  the lab cannot claim without root and a network route), so for each container of
  such a task the lab starts a *credentials relay*: a sidecar container (the base
  image, ``python3`` and the standard library only) that shares the container's
  network namespace, listens on ``127.0.0.1:51679`` inside it and forwards to the
  endpoint on the gateway. The app therefore gets the *full* URI form,
  ``AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:51679/v2/credentials/<id>``
  plus ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, which every AWS SDK reads as well.
  (51679 is the port the ECS agent serves credentials on, on EC2 instances.)
  Relays carry the lab's label, ``ecslab.lab.purpose=credentials-relay`` and
  ``ecslab.lab.relay-for=<task ARN>`` but not ECS's task label, so whatever lists a
  task's containers by ``com.amazonaws.ecs.task-arn`` sees the app's containers only;
  the lab removes them when the task stops;
- the same server is an AWS API gateway: every task gets ``AWS_REGION`` and
  ``AWS_DEFAULT_REGION`` (ECS sets those too) and ``AWS_ENDPOINT_URL`` pointing at it
  (the lab's addition: on AWS the SDK finds the real endpoints by itself). An IP
  address in the URL makes S3 use path-style requests. A request goes on to moto only
  when it is signed with task-role credentials the lab issued to a task that still
  runs (access key *and* session token) and the role's policies, read afresh on every
  request (so removing a permission bites at once), allow the action on the resource;
  otherwise the gateway answers in the service's own error format, with AWS's words:
  InvalidClientTokenId / UnrecognizedClientException / InvalidAccessKeyId for keys it
  did not issue (or whose task stopped), AccessDenied for what the role may not do.

What the gateway refuses before any of that, because a container must not reach past
its task role (and a web page or another machine must not reach the gateway at all):

- connections from anywhere but the Docker bridge's subnets and this machine itself
  are closed unanswered (:class:`GatewayServer`);
- a ``Host`` that is not the gateway's address, ``host.docker.internal`` or a loopback
  name with the gateway's port, and any ``Origin`` (:func:`ecslab.lab.guard.refusal`);
- moto's admin API (``/moto-api/...``: state dump with secrets, reset, seed), whatever
  the credentials; unsigned requests; bodies over ``GATEWAY_BODY_LIMIT`` (413).

Requests reach moto with ``Host`` set to moto's own loopback address and no ``Origin``.

What the gateway checks (:func:`requested_actions`) and what it does not:

- S3 (path-style): buckets (ListAllMyBuckets, ListBucket for GET and HEAD of a
  bucket, CreateBucket, DeleteBucket and the common sub-resources like ``?policy``,
  ``?tagging``, ``?versioning``, ``?location``) and objects (GetObject for GET and
  HEAD, PutObject also for multipart parts, DeleteObject, DeleteObjects as one
  DeleteObject per key, CopyObject as GetObject on the source plus PutObject);
- DynamoDB: ``dynamodb:ACTION`` on ``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME``
  (``.../index/INDEX`` for an index), one per table for the batch and transaction calls;
- STS ``GetCallerIdentity`` is always allowed, as on AWS; ``AssumeRole`` is checked on the role;
- any other JSON (``X-Amz-Target``), query (``Action=``) or CBOR
  (``/service/.../operation/...``) call: ``SERVICE:ACTION`` with the resource unknown
  (``*``): allowed when some statement allows the action on some resource and no
  Deny covers it, so here a policy scoped to one log group also lets the task write
  to another, which AWS would refuse; REST APIs other than S3 (e.g. Lambda) are not
  checked at all;
- the lab does not verify signatures: it reads the access key from the SigV4
  ``Authorization`` header (or ``X-Amz-Credential``) and checks that it and the
  session token are a live task's, so a container that learned another live task's
  key and token could act as that task (on AWS it would also need the secret key). Conditions,
  permission boundaries, SCPs and session policies are whatever
  :func:`ecslab.iam_policy.evaluate` models; resource policies (bucket policies) are
  not consulted.

Notebook 07 (``07-security``) uses it.
"""

from __future__ import annotations

import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecslab import iam_policy
from ecslab.config import ACCOUNT_ID, LAB_LABEL
from ecslab.lab.bridge import bridge_gateway, is_local_address
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, NoTaskHooks, TaskNotes
from ecslab.lab.guard import refusal

log = logging.getLogger("ecslab.lab.task_roles")

RELAY_PORT = 51679
"""Where the credentials relay listens inside each task container (the ECS agent's own credentials port on EC2)."""

RELAY_PURPOSE = "credentials-relay"
RELAY_TASK_LABEL = f"{LAB_LABEL}.relay-for"
"""Label on a credentials relay: the ARN of the task it serves."""

RELAY_START_TIMEOUT = 15.0
RENEW_BEFORE = timedelta(minutes=15)
"""The endpoint assumes the role again when the session has less than this left, as ECS renews early."""

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"

UNABLE_TO_ASSUME = (
    "ECS was unable to assume the role '{role_arn}' that was provided for this task. Please verify that the role being passed "
    "has the proper trust relationship and permissions and that your IAM user has permissions to pass this role."
)

IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "elasticloadbalancing": "elasticloadbalancing"}
"""Signing names whose IAM action prefix differs."""

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}

GATEWAY_BODY_LIMIT = 32 * 1024 * 1024
"""The largest request body the gateway takes (it reads a body whole to name the IAM action); larger gets 413."""

INVALID_TOKEN = "The security token included in the request is invalid."
"""AWS's words for credentials it did not issue (InvalidClientTokenId, UnrecognizedClientException)."""

S3_UNKNOWN_KEY = "The AWS Access Key Id you provided does not exist in our records."
S3_INVALID_TOKEN = "The provided token is malformed or otherwise invalid."
EC2_AUTH_FAILURE = "AWS was not able to validate the provided access credentials"

RELAY_SCRIPT = r"""
import http.server, sys, urllib.error, urllib.request
UPSTREAM, PORT = sys.argv[1], int(sys.argv[2])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
class Relay(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        headers = {"Authorization": self.headers.get("Authorization", "")}
        try:
            with opener.open(urllib.request.Request(UPSTREAM + self.path, headers=headers), timeout=5) as answer:
                code, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            code, body = error.code, error.read()
        except Exception as error:
            code, body = 502, ('{"code": "RelayError", "message": "%s"}' % str(error).replace('"', "'")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Relay)
print("credentials relay listening on 127.0.0.1:%d for %s" % (PORT, UPSTREAM), flush=True)
server.serve_forever()
"""
"""The relay's program, run as ``python3 -c RELAY_SCRIPT UPSTREAM PORT``: the standard library only."""


@dataclass
class TaskCredentials:
    """What the lab issued to one task: its role session and the token that guards the endpoint."""

    task_arn: str
    role_arn: str
    credentials_id: str
    token: str
    credentials: dict[str, Any]
    assumed_role_arn: str
    relays: list[str] = field(default_factory=list)

    @property
    def relative_uri(self) -> str:
        return f"/v2/credentials/{self.credentials_id}"


@dataclass(frozen=True)
class IssuedKey:
    """An access key the lab handed to a task: whose it is, with which session token, until when it works."""

    role_arn: str
    principal_arn: str
    expiration: datetime
    task_arn: str = ""
    session_token: str = ""


@dataclass(frozen=True)
class AwsRequest:
    """The parts of an HTTP request the gateway needs to name its IAM action."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    service: str  # the SigV4 signing name from the credential scope, e.g. "s3", "dynamodb", "sts"
    region: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def parameter(self, name: str) -> str | None:
        """A query-protocol parameter (form body or query string)."""
        values = self.query.get(name)
        if values:
            return values[0]
        if "x-www-form-urlencoded" in self.header("content-type"):
            values = urllib.parse.parse_qs(self.body.decode("utf-8", "replace")).get(name)
            if values:
                return values[0]
        return None


# -- which IAM actions a request needs ---------------------------------------------------------------

_S3_BUCKET_SUBRESOURCES = {
    ("GET", "location"): "s3:GetBucketLocation",
    ("GET", "policy"): "s3:GetBucketPolicy",
    ("PUT", "policy"): "s3:PutBucketPolicy",
    ("DELETE", "policy"): "s3:DeleteBucketPolicy",
    ("GET", "acl"): "s3:GetBucketAcl",
    ("PUT", "acl"): "s3:PutBucketAcl",
    ("GET", "tagging"): "s3:GetBucketTagging",
    ("PUT", "tagging"): "s3:PutBucketTagging",
    ("DELETE", "tagging"): "s3:PutBucketTagging",
    ("GET", "versioning"): "s3:GetBucketVersioning",
    ("PUT", "versioning"): "s3:PutBucketVersioning",
    ("GET", "versions"): "s3:ListBucketVersions",
    ("GET", "uploads"): "s3:ListBucketMultipartUploads",
    ("GET", "encryption"): "s3:GetEncryptionConfiguration",
    ("PUT", "encryption"): "s3:PutEncryptionConfiguration",
    ("GET", "lifecycle"): "s3:GetLifecycleConfiguration",
    ("PUT", "lifecycle"): "s3:PutLifecycleConfiguration",
    ("GET", "cors"): "s3:GetBucketCORS",
    ("PUT", "cors"): "s3:PutBucketCORS",
    ("GET", "website"): "s3:GetBucketWebsite",
    ("GET", "notification"): "s3:GetBucketNotification",
    ("GET", "publicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("PUT", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("GET", "ownershipControls"): "s3:GetBucketOwnershipControls",
    ("GET", "policyStatus"): "s3:GetBucketPolicyStatus",
}
_S3_OBJECT_SUBRESOURCES = {
    ("GET", "acl"): "s3:GetObjectAcl",
    ("PUT", "acl"): "s3:PutObjectAcl",
    ("GET", "tagging"): "s3:GetObjectTagging",
    ("PUT", "tagging"): "s3:PutObjectTagging",
    ("DELETE", "tagging"): "s3:DeleteObjectTagging",
    ("GET", "uploadId"): "s3:ListMultipartUploadParts",
    ("DELETE", "uploadId"): "s3:AbortMultipartUpload",
    ("GET", "attributes"): "s3:GetObjectAttributes",
}


def _s3_actions(request: AwsRequest) -> list[tuple[str, str]]:
    bucket, _, key = urllib.parse.unquote(request.path.lstrip("/")).partition("/")
    method = "GET" if request.method == "HEAD" else request.method
    if not bucket:
        return [("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        if method == "POST" and "delete" in request.query:
            keys = [element.text or "" for element in _xml_elements(request.body, "Key")]
            return [("s3:DeleteObject", f"{bucket_arn}/{name}") for name in keys] or [("s3:DeleteObject", f"{bucket_arn}/*")]
        for (verb, subresource), action in _S3_BUCKET_SUBRESOURCES.items():
            if verb == method and subresource in request.query:
                return [(action, bucket_arn)]
        if method == "GET":
            return [("s3:ListBucket", bucket_arn)]
        if method == "PUT":
            return [("s3:CreateBucket", bucket_arn)]
        if method == "DELETE":
            return [("s3:DeleteBucket", bucket_arn)]
        return [(f"s3:{method.title()}Bucket", bucket_arn)]
    object_arn = f"{bucket_arn}/{key}"
    for (verb, subresource), action in _S3_OBJECT_SUBRESOURCES.items():
        if verb == method and subresource in request.query and not (subresource == "uploadId" and "partNumber" in request.query):
            return [(action, object_arn)]
    if method == "GET":
        return [("s3:GetObjectVersion" if "versionId" in request.query else "s3:GetObject", object_arn)]
    if method == "DELETE":
        return [("s3:DeleteObjectVersion" if "versionId" in request.query else "s3:DeleteObject", object_arn)]
    if method in ("PUT", "POST"):  # PutObject, UploadPart, Create/CompleteMultipartUpload
        actions = [("s3:PutObject", object_arn)]
        source = request.header("x-amz-copy-source")
        if source:
            source_bucket, _, source_key = urllib.parse.unquote(source.lstrip("/")).partition("/")
            actions.insert(0, ("s3:GetObject", f"arn:aws:s3:::{source_bucket}/{source_key.split('?')[0]}"))
        return actions
    return [(f"s3:{method.title()}Object", object_arn)]


def _xml_elements(body: bytes, local_name: str) -> list[ElementTree.Element]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [element for element in root.iter() if element.tag.rsplit("}", 1)[-1] == local_name]


def _dynamodb_actions(action: str, body: dict[str, Any], region: str) -> list[tuple[str, str]]:
    def table_arn(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    iam_action = f"dynamodb:{action}"
    if body.get("TableName"):
        return [(iam_action, table_arn(str(body["TableName"]), body.get("IndexName")))]
    if isinstance(body.get("RequestItems"), dict):  # BatchGetItem, BatchWriteItem
        return [(iam_action, table_arn(name)) for name in body["RequestItems"]]
    if isinstance(body.get("TransactItems"), list):  # TransactGetItems, TransactWriteItems: each item's own action
        found = []
        for item in body["TransactItems"]:
            for operation, detail in item.items():
                item_action = {
                    "Get": "GetItem",
                    "Put": "PutItem",
                    "Update": "UpdateItem",
                    "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem",
                }.get(operation, operation)
                if isinstance(detail, dict) and detail.get("TableName"):
                    found.append((f"dynamodb:{item_action}", table_arn(str(detail["TableName"]))))
        return found or [(iam_action, "*")]
    if body.get("ResourceArn"):
        return [(iam_action, str(body["ResourceArn"]))]
    return [(iam_action, "*")]


def requested_actions(request: AwsRequest) -> list[tuple[str, str]]:
    """The IAM actions and resources one AWS API request needs; all must be allowed.

    An empty list means "always allowed" (STS ``GetCallerIdentity``) or "not checked"
    (a REST API other than S3). See the module's docstring for the limits.
    """
    prefix = IAM_PREFIX.get(request.service, request.service)
    target = request.header("x-amz-target")
    if target and "." in target:  # JSON protocols: X-Amz-Target: DynamoDB_20120810.GetItem
        operation = target.rsplit(".", 1)[1]
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        if request.service == "dynamodb" and isinstance(body, dict):
            return _dynamodb_actions(operation, body, request.region)
        return [(f"{prefix}:{operation}", "*")]
    cbor = re.match(r"^/service/[^/]+/operation/([^/?]+)", request.path)
    if cbor:  # Smithy RPC v2 CBOR (CloudWatch)
        return [(f"{prefix}:{cbor[1]}", "*")]
    if request.service == "s3":
        return _s3_actions(request)
    action = request.parameter("Action")
    if action:  # query protocol: STS, IAM, EC2, ELBv2, SNS ...
        if request.service == "sts" and action == "GetCallerIdentity":
            return []
        if request.service == "sts" and action.startswith("AssumeRole"):
            return [(f"sts:{action}", request.parameter("RoleArn") or "*")]
        return [(f"{prefix}:{action}", "*")]
    return []


# -- the error AWS would answer ----------------------------------------------------------------------


def aws_error_response(request: AwsRequest, status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the error ``code`` in the protocol ``request`` was made in.

    JSON (``X-Amz-Target``) and RPC v2 CBOR get ``{"__type", "message"}``; S3 its REST XML
    ``<Error>``; EC2 its ``<Response><Errors>``; every other query API ``<ErrorResponse>``."""
    request_id = str(uuid.uuid4())
    if request.header("x-amz-target"):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = request.header("content-type") or "application/x-amz-json-1.0"
        return status, {"Content-Type": content_type, "x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}, body
    if re.match(r"^/service/[^/]+/operation/", request.path):
        body = _cbor_map({"__type": code, "message": message})
        return (
            status,
            {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id},
            body,
        )
    if request.service == "s3":
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{_xml_escape(message)}</Message><RequestId>{request_id[:16].upper()}</RequestId>"
            f"<HostId>{secrets.token_urlsafe(48)}</HostId></Error>"
        )
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id[:16].upper()}, text.encode()
    if request.service == "ec2":
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{_xml_escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return status, {"Content-Type": "text/xml"}, text.encode()
    text = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{_xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, text.encode()


def access_denied_response(request: AwsRequest, message: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of AccessDenied in the protocol ``request`` was made in."""
    if request.header("x-amz-target") or re.match(r"^/service/[^/]+/operation/", request.path):
        return aws_error_response(request, 400, "AccessDeniedException", message)
    if request.service == "ec2":
        return aws_error_response(
            request, 403, "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}"
        )
    return aws_error_response(request, 403, "AccessDenied", message)


def invalid_credentials_response(request: AwsRequest, *, known_key: bool) -> tuple[int, dict[str, str], bytes]:
    """AWS's answer to credentials it did not issue, in the request's protocol.

    ``known_key``: the access key is one the lab issued, but the session token does not go with it."""
    if request.header("x-amz-target") or re.match(r"^/service/[^/]+/operation/", request.path):
        return aws_error_response(request, 400, "UnrecognizedClientException", INVALID_TOKEN)
    if request.service == "s3":
        if known_key:
            return aws_error_response(request, 400, "InvalidToken", S3_INVALID_TOKEN)
        return aws_error_response(request, 403, "InvalidAccessKeyId", S3_UNKNOWN_KEY)
    if request.service == "ec2":
        return aws_error_response(request, 401, "AuthFailure", EC2_AUTH_FAILURE)
    return aws_error_response(request, 403, "InvalidClientTokenId", INVALID_TOKEN)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _cbor_map(values: dict[str, str]) -> bytes:
    """A CBOR map of short text keys to text values (all the error body of RPC v2 CBOR needs)."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        if length < 256:
            return bytes([major << 5 | 24, length])
        if length < 65536:
            return bytes([major << 5 | 25]) + length.to_bytes(2, "big")
        return bytes([major << 5 | 26]) + length.to_bytes(4, "big")

    out = head(5, len(values))
    for key, value in values.items():
        for text in (key, value):
            data = text.encode()
            out += head(3, len(data)) + data
    return out


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


def signing_identity(headers: dict[str, str], query: dict[str, list[str]]) -> tuple[str, str, str] | None:
    """``(access key ID, region, service)`` from a SigV4 ``Authorization`` header or presigned URL.

    The lab reads, and does not verify, the signature's credential scope."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match:
        return match[1], match[3], match[4]
    credential = (query.get("X-Amz-Credential") or [""])[0]
    parts = credential.split("/")
    if len(parts) >= 5:
        return parts[0], parts[2], parts[3]
    return None


# -- the filler --------------------------------------------------------------------------------------


class TaskRoles(GapFiller, NoTaskHooks):
    """Task-role credentials inside task containers, and a gateway that enforces the role's policies."""

    name = "ECS task roles"
    gap = (
        "moto stores a task definition's taskRoleArn and does nothing with it: containers get no credentials, "
        "and moto answers every request whatever the caller's IAM policies say."
    )
    fills = (
        "The lab assumes each task's role (moto's STS, session named after the task), serves the credentials "
        "at an ECS-style endpoint reached through a relay sidecar on the task's 127.0.0.1 "
        "(AWS_CONTAINER_CREDENTIALS_FULL_URI), and points the task's SDK (AWS_ENDPOINT_URL) at a gateway that "
        "answers AccessDenied when the task role's policies do not allow a call (S3, DynamoDB, and by action "
        "name for other services); signatures are not verified."
    )

    def __init__(self, *, notes: TaskNotes | None) -> None:
        """``notes``: the ECS agent's journal, where the lab says how long each credentials relay took to start."""
        self.notes = notes
        self.context: FillerContext | None = None
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.gateway_ip: str | None = None
        self.port: int | None = None
        self.problem: str | None = None
        self.tasks: dict[str, TaskCredentials] = {}  # task ARN ->
        self.by_id: dict[str, TaskCredentials] = {}  # credentials id ->
        self.keys: dict[str, IssuedKey] = {}  # access key ID -> (dropped when its task stops or the key expires)
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []  # who may connect: the bridge's subnets
        self.timings: dict[str, list[float]] = {"credentials_fetch_ms": [], "relay_start_s": []}
        self._clients: dict[str, Any] = {}
        self._relay_removal_failing = False

    # -- life ---------------------------------------------------------------------------------

    def collaborators(self) -> Sequence[object]:
        return [self.notes] if self.notes is not None else []

    def start(self, context: FillerContext) -> None:
        self.context = context
        if context.docker is None:
            self.problem = "no Docker engine answered when the lab started"
            return
        try:
            gateway = bridge_gateway(context.docker)
        except Exception as error:
            self.problem = f"the Docker bridge's gateway address is unknown: {error}"
            log.warning("task roles disabled: %s", self.problem)
            return
        try:
            networks = bridge_subnets(context.docker.networks.get("bridge").attrs)
        except Exception as error:
            networks = []
            log.warning("reading the Docker bridge's subnets: %s", error)
        if not networks:
            self.problem = "the Docker bridge reports no subnet, so the lab cannot tell containers from other callers; check `docker network inspect bridge`"
            log.warning("task roles disabled: %s", self.problem)
            return
        try:
            self.serve(gateway, 0, networks)
        except OSError as error:
            self.problem = f"cannot listen on the Docker bridge gateway {gateway}: {error}"
            log.warning("task roles disabled: %s", self.problem)
            return
        self._remove_relays(None)  # left by an earlier lab process on this state folder

    def serve(
        self,
        address: str,
        port: int,
        allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
        owns_address: Callable[[str], bool] = is_local_address,
    ) -> None:
        """Start the gateway on ``address:port`` (0: any free port), taking connections from ``allowed_networks``
        and this machine only (see :class:`GatewayServer`)."""
        self.allowed_networks = list(allowed_networks)
        self.server = GatewayServer((address, port), _handler(self), self.allowed_networks, owns_address)
        self.gateway_ip, self.port = address, int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, name="task-roles", daemon=True).start()

    def after_reset(self, context: FillerContext) -> None:
        with self.lock:
            self.tasks.clear()
            self.by_id.clear()
            self.keys.clear()
        self._remove_relays(None)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self._remove_relays(None)

    @property
    def url(self) -> str | None:
        """The gateway as containers reach it, e.g. ``http://172.17.0.1:41234``; ``None`` when not running."""
        return f"http://{self.gateway_ip}:{self.port}" if self.gateway_ip and self.port else None

    def status(self) -> dict[str, Any]:
        with self.lock:
            active = len(self.tasks)
        return {
            "task_roles": {
                "gateway_url": self.url,
                "problem": self.problem,
                "tasks_with_credentials": active,
                "timings": self._timing_summary(),
            }
        }

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method == "GET" and path == "/ecs/task-roles":
            with self.lock:
                tasks = [
                    {"task": c.task_arn, "role": c.role_arn, "principal": c.assumed_role_arn, "relays": len(c.relays)}
                    for c in self.tasks.values()
                ]
            return {"gateway_url": self.url, "problem": self.problem, "tasks": tasks, "timings": self._timing_summary()}
        return None

    def _timing_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        with self.lock:
            for name, values in self.timings.items():
                if values:
                    ordered = sorted(values)
                    summary[name] = {
                        "count": len(values),
                        "median": round(ordered[len(ordered) // 2], 3),
                        "max": round(ordered[-1], 3),
                    }
        return summary

    def _record(self, name: str, value: float) -> None:
        with self.lock:
            self.timings[name].append(value)
            del self.timings[name][:-500]

    def client(self, service: str) -> Any:
        """A boto3 client on the lab's own endpoint, as the lab (never as a task)."""
        import boto3

        assert self.context is not None
        with self.lock:
            if service not in self._clients:
                config = self.context.config
                self._clients[service] = boto3.client(
                    service,
                    endpoint_url=config.endpoint_url,
                    region_name=config.region,
                    aws_access_key_id="ecslab",
                    aws_secret_access_key="ecslab",
                )
            return self._clients[service]

    # -- hooks the ECS agent calls -------------------------------------------------------------------

    def prepare_task(self, task: Any, definition: Any) -> str | None:
        """``definition``: moto's task definition the task was made from (the ECS agent's record of the task)."""
        role_arn = task_role_arn(task, definition)
        if not role_arn:
            return None
        LAB_LOCK.forbid("calls to the lab's IAM and STS")
        if self.url is None:
            return f"ResourceInitializationError: the lab cannot serve task-role credentials ({self.problem or 'not started'})."
        iam = self.client("iam")
        try:
            role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        except Exception:
            return UNABLE_TO_ASSUME.format(role_arn=role_arn)
        document = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(document, str) and document.startswith("%"):
            document = urllib.parse.unquote(document)
        try:
            trusted = iam_policy.trusts(document, service=ECS_TASKS_PRINCIPAL)
        except iam_policy.MalformedPolicyDocument:
            trusted = False
        if role["Arn"] != role_arn or not trusted:
            return UNABLE_TO_ASSUME.format(role_arn=role_arn)
        started = time.monotonic()
        issued = self._assume(role_arn, task.id, task.task_arn)
        entry = TaskCredentials(
            task_arn=task.task_arn,
            role_arn=role_arn,
            credentials_id=str(uuid.uuid4()),
            token=secrets.token_urlsafe(32),
            credentials=issued["Credentials"],
            assumed_role_arn=issued["AssumedRoleUser"]["Arn"],
        )
        with self.lock:
            self.tasks[task.task_arn] = entry
            self.by_id[entry.credentials_id] = entry
        log.debug("assumed %s for %s in %.3f s", role_arn, task.id, time.monotonic() - started)
        return None

    def container_environment(self, task: Any, container_definition: dict[str, Any]) -> dict[str, str]:
        assert self.context is not None
        region = self.context.config.region
        given = {item.get("name") for item in container_definition.get("environment") or []}
        environment = {
            name: value
            for name, value in (("AWS_REGION", region), ("AWS_DEFAULT_REGION", region), ("AWS_ENDPOINT_URL", self.url))
            if value and name not in given
        }
        with self.lock:
            entry = self.tasks.get(task.task_arn)
        if entry is not None:
            environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://127.0.0.1:{RELAY_PORT}{entry.relative_uri}"
            environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = entry.token
        return environment

    def task_started(self, task: Any, containers: list[Any]) -> str | None:
        with self.lock:
            entry = self.tasks.get(task.task_arn)
        if entry is None:
            return None
        started = time.monotonic()
        try:
            relays = [self._start_relay(task, container) for container in containers]
        except Exception as error:
            self._remove_relays(task.task_arn)
            return f"ResourceInitializationError: unable to start the lab's credentials relay for the task role: {error}"
        entry.relays = [relay.id for relay in relays]
        deadline = time.monotonic() + RELAY_START_TIMEOUT
        for relay in relays:
            problem = _wait_for_relay(relay, deadline)
            if problem:
                self._remove_relays(task.task_arn)
                return f"ResourceInitializationError: the lab's credentials relay did not start: {problem}"
        self._record("relay_start_s", time.monotonic() - started)
        self._note(
            task,
            f"credentials relay listening on 127.0.0.1:{RELAY_PORT} in {time.monotonic() - started:.2f} s; role {entry.role_arn.split('/')[-1]}",
        )
        return None

    def task_stopped(self, task: Any) -> None:
        with self.lock:
            entry = self.tasks.pop(task.task_arn, None)
            if entry is not None:
                self.by_id.pop(entry.credentials_id, None)
            for key in [key for key, issued in self.keys.items() if issued.task_arn == task.task_arn]:
                del self.keys[key]  # a stopped task's credentials stop working at the gateway at once
        self._remove_relays(task.task_arn)

    # -- helpers ------------------------------------------------------------------------------------

    def _note(self, task: Any, message: str) -> None:
        if self.notes is not None:
            self.notes.note(task, message)

    def _assume(self, role_arn: str, session_name: str, task_arn: str = "") -> dict[str, Any]:
        issued: dict[str, Any] = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        credentials = issued["Credentials"]
        expiration = credentials["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        with self.lock:
            for key in [key for key, old in self.keys.items() if old.expiration <= now]:
                del self.keys[key]
            self.keys[credentials["AccessKeyId"]] = IssuedKey(
                role_arn, issued["AssumedRoleUser"]["Arn"], expiration, task_arn, str(credentials.get("SessionToken") or "")
            )
        return issued

    def issued_key(self, access_key: str, session_token: str | None) -> tuple[IssuedKey | None, bool]:
        """``(the key, True)`` when the lab issued ``access_key`` with ``session_token`` to a task that still runs.

        ``(None, True)``: the key is the lab's but the token is missing or wrong; ``(None, False)``: unknown or expired."""
        with self.lock:
            issued = self.keys.get(access_key)
        if issued is None or issued.expiration <= datetime.now(UTC):
            return None, False
        if not _same_secret(session_token or "", issued.session_token):
            return None, True
        return issued, True

    def credentials_for(self, credentials_id: str, token: str) -> tuple[int, dict[str, Any]]:
        """The endpoint's answer to ``GET /v2/credentials/<id>`` with ``Authorization: token``."""
        with self.lock:
            entry = self.by_id.get(credentials_id)
        if entry is None:
            return 400, {"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"}
        if not _same_secret(token, entry.token):
            return 401, {"code": "AccessDenied", "message": "Authorization token does not match the task's credentials"}
        expiration = entry.credentials["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        if expiration - datetime.now(UTC) < RENEW_BEFORE:
            issued = self._assume(entry.role_arn, entry.task_arn.rsplit("/", 1)[-1], entry.task_arn)
            entry.credentials = issued["Credentials"]
            expiration = (
                entry.credentials["Expiration"].replace(tzinfo=UTC)
                if entry.credentials["Expiration"].tzinfo is None
                else entry.credentials["Expiration"]
            )
        credentials = entry.credentials
        return 200, {
            "RoleArn": entry.role_arn,
            "AccessKeyId": credentials["AccessKeyId"],
            "SecretAccessKey": credentials["SecretAccessKey"],
            "Token": credentials["SessionToken"],
            "Expiration": expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def decide(self, request: AwsRequest, access_key: str) -> str | None:
        """AccessDenied's message when ``access_key`` is a task's and its role may not do ``request``; else ``None``."""
        with self.lock:
            issued = self.keys.get(access_key)
        if issued is None:
            return None  # not a task's credentials: moto answers, as it does for the notebooks
        needed = requested_actions(request)
        if not needed:
            return None
        from ecslab import security

        policies = security.role_policies(self.client("iam"), issued.role_arn)
        for action, resource in needed:
            decision = iam_policy.evaluate(action, resource, policies, principal_arn=issued.principal_arn)
            if decision.allowed:
                continue
            if (
                resource == "*"
                and decision.kind == "implicit deny"
                and _allowed_somewhere(action, policies, issued.principal_arn)
            ):
                continue  # the lab does not know which resource the call touches; a statement naming one lets it through
            return str(iam_policy.access_denied_message(issued.principal_arn, action, resource, decision))
        return None

    def _start_relay(self, task: Any, container: Any) -> Any:
        from ecslab.images import base_image

        assert self.context is not None and self.context.docker is not None
        docker = self.context.docker
        upstream = self.url
        return docker.containers.run(
            base_image(docker),
            entrypoint=["python3", "-c", RELAY_SCRIPT],
            command=[str(upstream), str(RELAY_PORT)],
            name=f"{container.name}-credentials-relay",
            network_mode=f"container:{container.id}",
            labels={
                LAB_LABEL: str(self.context.config.home),
                f"{LAB_LABEL}.purpose": RELAY_PURPOSE,
                RELAY_TASK_LABEL: task.task_arn,
            },
            detach=True,
            mem_limit="64m",
            environment={"PYTHONDONTWRITEBYTECODE": "1"},
        )

    def _remove_relays(self, task_arn: str | None) -> None:
        """Remove the relays of one task, or every relay of this lab (``None``)."""
        if self.context is None or self.context.docker is None:
            return
        labels = [f"{LAB_LABEL}={self.context.config.home}", f"{LAB_LABEL}.purpose={RELAY_PURPOSE}"]
        if task_arn:
            labels.append(f"{RELAY_TASK_LABEL}={task_arn}")
        try:
            for summary in self.context.docker.api.containers(all=True, filters={"label": labels}):
                try:
                    self.context.docker.api.remove_container(summary["Id"], v=True, force=True)
                except Exception:
                    pass
        except Exception as error:
            # the engine is gone (stopping, restarting): relays left now are removed by label at the
            # next reset, down or up. One line until it works again, not a traceback per stopping task.
            if not self._relay_removal_failing:
                log.warning(
                    "cannot remove credentials relays (%s: %s); they go at the next reset, down or up",
                    type(error).__name__,
                    error,
                )
            self._relay_removal_failing = True
        else:
            self._relay_removal_failing = False


def _same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret from a request (any characters) with one the lab issued.

    ``hmac.compare_digest`` on ``str`` raises TypeError for non-ASCII text, so both sides are bytes."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def bridge_subnets(network: dict[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The subnets of a Docker network (``docker network inspect`` output): where its containers' addresses are."""
    found: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for config in (network.get("IPAM") or {}).get("Config") or []:
        subnet = config.get("Subnet") if isinstance(config, dict) else None
        if subnet:
            try:
                found.append(ipaddress.ip_network(str(subnet), strict=False))
            except ValueError:
                log.warning("the Docker bridge reports an invalid subnet %r", subnet)
    return found


class GatewayServer(ThreadingHTTPServer):
    """The gateway's HTTP server: a connection is closed unanswered unless it comes from a container on the
    Docker bridge (its address is in the bridge's subnets) or from this machine itself (one of its own
    addresses: on Linux the host reaches the gateway from 172.17.0.1, on some VMs from another of its
    interfaces). ``owns_address`` answers the second question; tests pass their own."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
        owns_address: Callable[[str], bool] = is_local_address,
    ) -> None:
        self.allowed_networks = list(allowed_networks)
        self.owns_address = owns_address
        super().__init__(address, handler)

    def verify_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: tuple[str, int] | str) -> bool:
        try:
            client = ipaddress.ip_address(str(client_address[0]).split("%")[0])
        except ValueError:
            return False
        if any(client in network for network in self.allowed_networks) or (
            client.version == 4 and self.owns_address(str(client))
        ):
            return True
        log.info("task-role gateway: refused a connection from %s (not on the Docker bridge)", client_address[0])
        return False


def _allowed_somewhere(action: str, policies: list[iam_policy.Policy], principal_arn: str) -> bool:
    """Whether some Allow statement grants ``action`` on some named resource (and no Deny takes it back)."""
    patterns = {
        pattern
        for policy in policies
        for statement in policy.statements
        if statement.effect == "Allow"
        for pattern in statement.resources
    }
    return any(iam_policy.evaluate(action, pattern, policies, principal_arn=principal_arn).allowed for pattern in patterns)


def task_role_arn(task: Any, definition: Any) -> str | None:
    """The role a task runs as: ``overrides.taskRoleArn`` of ``run_task``, else its task definition's."""
    override = (getattr(task, "overrides", None) or {}).get("taskRoleArn")
    return override or getattr(definition, "task_role_arn", None) or None


def _wait_for_relay(relay: Any, deadline: float) -> str | None:
    while time.monotonic() < deadline:
        relay.reload()
        if relay.status in ("exited", "dead"):
            return relay.logs(tail=5).decode(errors="replace").strip() or f"the relay container {relay.status}"
        if b"listening" in relay.logs():
            return None
        time.sleep(0.05)
    return f"not listening after {RELAY_START_TIMEOUT:.0f} s"


class _BodyTooLarge(Exception):
    pass


class Gateway(BaseHTTPRequestHandler):
    """The task-role gateway's request handler; :func:`_handler` binds it to the lab's :class:`TaskRoles`."""

    roles: TaskRoles
    protocol_version = "HTTP/1.1"
    server_version = "ecslab-task-roles"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def _reply(self, code: int, headers: dict[str, str], body: bytes, *, close: bool = False) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if close:  # the request's body was not read: the connection cannot carry another request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, code: int, message: str, *, close: bool = False) -> None:
        self._reply(
            code,
            {"Content-Type": "application/json"},
            json.dumps({"code": "Refused", "message": message}).encode(),
            close=close,
        )

    def _body(self) -> bytes:
        """The request's body, at most GATEWAY_BODY_LIMIT bytes (else _BodyTooLarge); ValueError when malformed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size < 0:
                    raise ValueError("negative chunk size")
                if size == 0:
                    while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > GATEWAY_BODY_LIMIT:
                    raise _BodyTooLarge
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > GATEWAY_BODY_LIMIT:
            raise _BodyTooLarge
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        assert self.roles.gateway_ip is not None and self.roles.port is not None
        reason = refusal(self.headers, self.roles.port, extra_hosts=[self.roles.gateway_ip, "host.docker.internal"])
        if reason is not None:
            self._refuse(403, reason, close=True)
            return
        try:
            body = self._body()
        except _BodyTooLarge:
            self._refuse(
                413,
                f"The lab's AWS gateway takes request bodies up to {GATEWAY_BODY_LIMIT // (1024 * 1024)} MiB; send less per request (for S3, use "
                "a multipart upload).",
                close=True,
            )
            return
        except ValueError:
            self._refuse(400, "Malformed request body (Content-Length or chunked encoding).", close=True)
            return
        path, _, query_string = self.path.partition("?")
        authorization = self.headers.get("Authorization", "")
        if self.command == "GET" and path.startswith("/v2/credentials/") and not authorization.startswith("AWS4-"):
            started = time.monotonic()
            code, answer = self.roles.credentials_for(path.rsplit("/", 1)[-1], authorization)
            self.roles._record("credentials_fetch_ms", 1000 * (time.monotonic() - started))
            self._reply(code, {"Content-Type": "application/json"}, json.dumps(answer).encode())
            return
        if _is_admin_path(path):
            self._refuse(
                403, "moto's admin API (/moto-api/) is not reachable from containers: the gateway passes AWS API calls only."
            )
            return
        query = urllib.parse.parse_qs(query_string, keep_blank_values=True)
        headers = {key.lower(): value for key, value in self.headers.items()}
        identity = signing_identity(headers, query)
        if identity is None:
            self._reply(
                *missing_authentication_response(
                    AwsRequest(self.command, path, query, headers, body, _unsigned_service(headers, path), "")
                )
            )
            return
        access_key, region, service = identity
        request = AwsRequest(self.command, path, query, headers, body, service, region)
        token = headers.get("x-amz-security-token") or (query.get("X-Amz-Security-Token") or [""])[0]
        issued, known_key = self.roles.issued_key(access_key, token)
        if issued is None:
            self._reply(*invalid_credentials_response(request, known_key=known_key))
            return
        try:
            message = self.roles.decide(request, access_key)
        except Exception as error:  # a broken policy check must not pass a call through
            log.exception("task-role check failed")
            message = f"The lab could not evaluate the task role's policies: {error}"
        if message is not None:
            self._reply(*access_denied_response(request, message))
            return
        self._forward(body)

    def _forward(self, body: bytes) -> None:
        assert self.roles.context is not None
        config = self.roles.context.config
        connection = http.client.HTTPConnection(config.host, config.aws_port, timeout=60)
        try:
            headers = {
                key: value
                for key, value in self.headers.items()
                if key.lower() not in HOP_BY_HOP | {"content-length", "host", "origin"}
            }
            headers["Host"] = f"{config.host}:{config.aws_port}"  # the AWS endpoint answers its own loopback name only
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = {
                key: value
                for key, value in response.getheaders()
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length"
            }
            self.send_response(response.status)
            for key, value in answer.items():
                self.send_header(key, value)
            length = response.getheader("Content-Length")
            if self.command == "HEAD" or response.status in (204, 304):
                self.send_header("Content-Length", length or "0")
                self.end_headers()
            elif length is not None:
                self.send_header("Content-Length", length)
                self.end_headers()
                while piece := response.read(1 << 20):
                    self.wfile.write(piece)
            else:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while piece := response.read(1 << 20):
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
        except OSError as error:
            self._reply(502, {"Content-Type": "text/plain"}, f"the lab's AWS API did not answer: {error}".encode(), close=True)
        finally:
            connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle


def _handler(roles: TaskRoles) -> type[Gateway]:
    return type("Gateway", (Gateway,), {"roles": roles})


def _is_admin_path(path: str) -> bool:
    """Whether moto would take ``path`` (raw, maybe percent-encoded) for its admin API."""
    decoded = urllib.parse.unquote(path)
    return re.sub("/+", "/", decoded).lower().startswith("/moto-api")


def _unsigned_service(headers: dict[str, str], path: str) -> str:
    """The protocol family of a request that names no service (no signature): REST (S3) unless it says otherwise."""
    if (
        headers.get("x-amz-target")
        or re.match(r"^/service/[^/]+/operation/", path)
        or "x-www-form-urlencoded" in headers.get("content-type", "")
    ):
        return ""
    return "s3"


def missing_authentication_response(request: AwsRequest) -> tuple[int, dict[str, str], bytes]:
    """AWS's answer to a request without credentials, in its protocol (the gateway passes signed calls only)."""
    if request.header("x-amz-target") or re.match(r"^/service/[^/]+/operation/", request.path):
        return aws_error_response(request, 400, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if request.service == "s3":
        return aws_error_response(request, 403, "AccessDenied", "Access Denied")
    return aws_error_response(request, 403, "MissingAuthenticationToken", "Request is missing Authentication Token")
