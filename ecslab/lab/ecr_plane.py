"""ECR's data plane in the lab: a registry front that makes moto's ECR API real.

moto's ECR API stores repositories but has no registry behind it: its
``repositoryUri`` names ``ACCOUNT.dkr.ecr.REGION.amazonaws.com``, its login token is
fixed (and expired in 2015), images appear only through ``put_image``, IMMUTABLE
tags are not enforced at push time, lifecycle policies are never applied and the
lifecycle preview is not implemented.

The lab closes the gap with a small HTTP front on ``localhost:REGISTRY_PORT`` in
front of Debian's registry (which listens on a private port):

- ``repositoryUri`` becomes ``localhost:PORT/NAME``: the one registry name a
  learner's dockerd accepts over plain HTTP without root or daemon settings
  (LAB-FACTS); notebook 03 shows it next to the real ECR URI;
- ``get_authorization_token`` issues a 12-hour token (user ``AWS``) that the front
  checks on every request, as ECR does; a wrong or expired token gets ECR's words;
- a push to a repository that does not exist is refused with ECR's error;
  pushing an existing tag to an IMMUTABLE repository is refused at push time,
  even with the same digest, as ECR does;
- each pushed manifest is recorded in moto with the registry's digest, the real
  compressed size (sum of layers) and the push time; a tag pushed again moves;
- pulls see only what moto lists (a deleted tag cannot be pulled any more);
- ``batch_delete_image`` and ``delete_repository --force`` delete from the registry;
- ``start_lifecycle_policy_preview`` / ``get_lifecycle_policy_preview`` answer
  with :mod:`ecslab.ecr_lifecycle`.

Used by notebook 03 and every later notebook that pushes or pulls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import os
import re
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecslab.config import ACCOUNT_ID
from ecslab.ecr_lifecycle import ImageRecord
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller
from ecslab.lab.guard import refusal
from ecslab.lab.moto import ecr as moto_ecr

log = logging.getLogger("ecslab.lab.ecr")

TOKEN_HOURS = 12
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "host",
}
_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs|tags)/(?P<rest>.*)$")
"""A registry API path: greedy, so the LAST ``/manifests/``, ``/blobs/`` or ``/tags/`` ends the name, as in distribution."""
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*")
"""distribution's grammar for repository names (reference/regexp.go); at most NAME_MAX characters."""
NAME_MAX = 255
_REST = {
    "manifests": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]+"),
    "blobs": re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]+|uploads/(?:[A-Za-z0-9_.=-]+)?"),
    "tags": re.compile(r"list"),
}
"""What may follow each kind: a tag or digest; a digest or an upload (``uploads/`` and ``uploads/<uuid>``); ``list``."""
MANIFEST_LIMIT = 4 * 1024 * 1024
"""ECR's limit on an image manifest: 4 MiB (``imageManifest``'s maximum length, 4194304, in ECR's API reference)."""
API_BODY_LIMIT = 1024 * 1024
"""The largest body the front takes for any other request that is not a blob upload (those have no body in practice)."""
STREAM_PIECE = 1 << 20
"""Blob uploads are relayed in pieces of at most this many bytes, never held whole."""
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


class TokenIssuer:
    """ECR-style login tokens: ``base64("AWS:" + password)``, signed by the lab, expiring."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or os.urandom(32)

    def issue(self, lifetime: timedelta = timedelta(hours=TOKEN_HOURS)) -> tuple[str, datetime]:
        expires = datetime.now(UTC) + lifetime
        stamp = str(int(expires.timestamp()))
        signature = hmac.new(self.secret, stamp.encode(), hashlib.sha256).hexdigest()[:40]
        password = f"ecslab.{stamp}.{signature}"
        return base64.b64encode(f"AWS:{password}".encode()).decode(), expires

    def check(self, username: str, password: str) -> str | None:
        """``None`` when valid, else why not (in ECR's words)."""
        parts = password.split(".")
        if username != "AWS" or len(parts) != 3 or parts[0] != "ecslab":
            return "Your authorization token is invalid."
        expected = hmac.new(self.secret, parts[1].encode(), hashlib.sha256).hexdigest()[:40]
        if not hmac.compare_digest(
            expected.encode(), parts[2].encode("utf-8", "surrogateescape")
        ):  # bytes: str raises on non-ASCII
            return "Your authorization token is invalid."
        if int(parts[1]) < time.time():
            return "Your authorization token has expired. Reauthenticate and try again."
        return None


def _registry_error(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


class InvalidRepositoryName(ValueError):
    """A registry path whose repository name distribution's grammar refuses."""


def parse_route(path: str) -> tuple[str, str, str] | None:
    """``(repository name, kind, rest)`` of a registry API path (query string removed), or ``None``.

    The name ends at the LAST ``/manifests/``, ``/blobs/`` or ``/tags/`` segment, and what follows must be
    a route distribution serves (``manifests/<tag or digest>``, ``blobs/<digest>``, ``blobs/uploads/[<uuid>]``,
    ``tags/list``), so one path names one repository, the same one the registry stores under.
    Raises :class:`InvalidRepositoryName` when the name is not one distribution accepts."""
    route = _ROUTE.match(path)
    if route is None:
        return None
    name, kind, rest = route["name"], route["kind"], route["rest"]
    if not _REST[kind].fullmatch(rest):
        return None
    if len(name) > NAME_MAX or not REPOSITORY_NAME.fullmatch(name):
        raise InvalidRepositoryName(name)
    return name, kind, rest


class _BodyTooLarge(Exception):
    pass


class EcrDataPlane(GapFiller):
    name = "ECR data plane"
    gap = (
        "moto's ECR has no registry: repositoryUri names amazonaws.com, the login token is fixed and "
        "expired, docker push reaches nothing, immutable tags and lifecycle policies are not enforced."
    )
    fills = (
        "A registry front on localhost:PORT checks ECR-style tokens, refuses pushes ECR would refuse, "
        "records each pushed image in moto (real digest, size, push time), deletes from the registry "
        "when images or repositories are deleted, and previews lifecycle policies."
    )

    def __init__(self) -> None:
        self.tokens = TokenIssuer()
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self.context: FillerContext | None = None
        self.previews: dict[str, str] = {}  # repository ARN -> the lifecycle policy its last preview started with

    # -- the filler's life ---------------------------------------------------------

    def start(self, context: FillerContext) -> None:
        self.context = context
        moto_ecr.PATCHES.apply(self)
        config = context.config
        self.server = ThreadingHTTPServer((config.host, config.registry_port), _front_handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="ecr-front", daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        moto_ecr.PATCHES.remove()

    def after_reset(self, context: FillerContext) -> None:
        with self.lock:
            self.previews.clear()

    def control(self, method: str, path: str) -> dict[str, Any] | None:
        if method == "POST" and path == "/ecr/expired-token":
            token, expires = self.tokens.issue(timedelta(hours=-1))
            return {"authorizationToken": token, "expiresAt": expires.isoformat()}
        return None

    # -- what the front and the ECR patches ask of the lab -------------------------------------

    @property
    def port(self) -> int:
        """The front's own port (the one in ``Host: localhost:PORT`` from dockerd)."""
        assert self.context is not None
        return int(self.context.config.registry_port)

    @property
    def registry_address(self) -> str:
        assert self.context is not None
        return str(self.context.config.registry_address)

    @property
    def backend_url(self) -> str:
        assert self.context is not None and self.context.registry_url
        return str(self.context.registry_url)

    @property
    def region(self) -> str:
        assert self.context is not None
        return str(self.context.config.region)

    def storage_full(self, reserve: int = 8 * 2**20) -> str | None:
        """Why the registry's storage cannot take more (a sentence for the learner), or ``None``."""
        assert self.context is not None
        folder = self.context.config.registry_dir
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return None
        if free >= reserve:
            return None
        return (
            f"The lab's registry storage is full ({free / 2**20:.1f} MiB free in {folder}). Free disk space, "
            "delete images you no longer need (ecr batch_delete_image), or run `ecslab reset`, then push again."
        )

    def issue_token(self) -> tuple[str, datetime]:
        return self.tokens.issue()

    def start_preview(self, repository_arn: str, policy: str) -> None:
        self.preview_policy(policy)
        with self.lock:
            self.previews[repository_arn] = policy

    def preview(self, repository_arn: str, images: list[ImageRecord]) -> tuple[str, list[dict[str, Any]]] | None:
        with self.lock:
            policy = self.previews.get(repository_arn)
        if policy is None:
            return None
        return policy, self.preview_policy(policy, images)

    def preview_policy(self, policy: str, images: list[ImageRecord] | None = None) -> list[dict[str, Any]]:
        """The images ``policy`` would expire (raises :class:`~ecslab.lab.moto.ecr.InvalidLifecyclePolicy`)."""
        from ecslab.ecr_lifecycle import LifecyclePolicyError, evaluate, parse_policy

        try:
            rules = parse_policy(policy)
        except LifecyclePolicyError as error:
            raise moto_ecr.InvalidLifecyclePolicy(str(error)) from None
        return [verdict.to_preview() for verdict in evaluate(rules, images or [], datetime.now(UTC)).expired]

    def repository_exists(self, repository_name: str) -> bool:
        with LAB_LOCK:
            return moto_ecr.repository_exists(self.region, repository_name)

    def push_refusal(self, repository_name: str, tag: str, digest: str) -> tuple[int, bytes] | None:
        """ECR's answer to a manifest push it would refuse, or ``None`` (the digest does not matter to ECR)."""
        with LAB_LOCK:
            refused = moto_ecr.push_refusal(self.region, repository_name, tag)
        return None if refused is None else (400, _registry_error("TAG_INVALID", refused))

    def visible(self, repository_name: str, reference: str) -> bool:
        """Whether moto lists ``reference`` (a tag or a digest) in the repository."""
        with LAB_LOCK:
            return moto_ecr.visible(self.region, repository_name, reference)

    def record_push(self, repository_name: str, tag: str | None, digest: str, manifest: str, media_type: str) -> None:
        """A manifest reached the registry: make moto show it as ECR would."""
        with LAB_LOCK:
            moto_ecr.record_push(self.region, repository_name, tag, digest, manifest, media_type)

    # -- the registry behind the front ---------------------------------------------------

    def manifest_deleted(self, repository_name: str, digest: str) -> None:
        self.delete_manifest(repository_name, digest)

    def repository_deleted(self, repository_name: str, repository_arn: str) -> None:
        with self.lock:
            self.previews.pop(repository_arn, None)  # a new repository of the same name starts without one
        self.delete_storage(repository_name)

    def delete_manifest(self, repository_name: str, digest: str) -> None:
        request = urllib.request.Request(f"{self.backend_url}/v2/{repository_name}/manifests/{digest}", method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except Exception as error:  # an image put through the API alone never reached the registry
            log.info("registry delete of %s@%s: %s", repository_name, digest, error)

    def delete_storage(self, repository_name: str) -> None:
        assert self.context is not None
        folder = self.context.config.registry_dir / "docker/registry/v2/repositories" / repository_name
        shutil.rmtree(folder, ignore_errors=True)


class RegistryFront(BaseHTTPRequestHandler):
    """The registry front's request handler; :func:`_front_handler` binds it to one data plane."""

    plane: EcrDataPlane
    protocol_version = "HTTP/1.1"
    server_version = "ecslab-ecr"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None, *, close: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if close:  # the request's body was not read: the connection cannot carry another request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer_without_body(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer before the body is relayed: read a small one away (keep-alive), close on a large one."""
        if self._chunked() or self._length() > API_BODY_LIMIT:
            self._send(code, body, headers, close=True)
            return
        self.rfile.read(self._length())
        self._send(code, body, headers)

    def _unauthorized(self, message: str) -> None:
        self._answer_without_body(
            401,
            _registry_error("UNAUTHORIZED", message),
            {"WWW-Authenticate": f'Basic realm="ecslab ECR at {self.plane.registry_address}"'},
        )

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            self._unauthorized("authentication required: log in with the token from get_authorization_token (user AWS).")
            return False
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
            problem = self.plane.tokens.check(username, password)
        except Exception:
            problem = "Your authorization token is invalid."
        if problem:
            self._unauthorized(problem)
            return False
        return True

    def _chunked(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _length(self) -> int:
        length = int(self.headers.get("Content-Length") or 0)  # ValueError: answered 400 by _handle
        if length < 0:
            raise ValueError("negative Content-Length")
        return length

    def _chunks(self) -> Any:
        """The pieces of a chunked body as they arrive, none larger than STREAM_PIECE."""
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size < 0:
                raise ValueError("negative chunk size")
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return
            remaining = size
            while remaining > 0:
                piece = self.rfile.read(min(remaining, STREAM_PIECE))
                if not piece:
                    raise ConnectionError("the client closed the connection mid-chunk")
                remaining -= len(piece)
                yield piece
            self.rfile.readline(1024)

    def _pieces(self) -> Any:
        """The request's body as it arrives (Content-Length or chunked), in pieces of at most STREAM_PIECE."""
        if self._chunked():
            yield from self._chunks()
            return
        remaining = self._length()
        while remaining > 0:
            piece = self.rfile.read(min(remaining, STREAM_PIECE))
            if not piece:
                raise ConnectionError("the client closed the connection mid-body")
            remaining -= len(piece)
            yield piece

    def _bounded_body(self, limit: int) -> bytes:
        """The whole body, at most ``limit`` bytes (else _BodyTooLarge, before reading what was announced)."""
        if not self._chunked() and self._length() > limit:
            raise _BodyTooLarge
        parts: list[bytes] = []
        total = 0
        for piece in self._pieces():
            total += len(piece)
            if total > limit:
                raise _BodyTooLarge
            parts.append(piece)
        return b"".join(parts)

    def _too_large(self, what: str, limit: int) -> None:
        code = "MANIFEST_INVALID" if what == "manifest" else "SIZE_INVALID"
        message = f"The {what} is larger than {limit // (1024 * 1024)} MiB ({limit} bytes), the most " + (
            "ECR accepts for an image manifest." if what == "manifest" else "the lab's registry front takes for this request."
        )
        self._send(413, _registry_error(code, message), close=True)

    def _handle(self) -> None:
        reason = refusal(self.headers, self.plane.port)
        if reason is not None:
            self._send(403, _registry_error("DENIED", reason), close=True)
            return
        try:
            self._route()
        except ValueError as error:  # a malformed Content-Length or chunk size
            if not self.wfile.closed:
                self._send(400, _registry_error("UNSUPPORTED", f"malformed request: {error}"), close=True)
        except _BodyTooLarge:
            self._too_large("request body", API_BODY_LIMIT)
        except OSError as error:  # the client or the registry went away mid-request: nothing left to answer
            log.info("registry front: %s %s: %s", self.command, self.path[:200], error)
            self.close_connection = True

    def _route(self) -> None:
        if not self._authorized():
            return
        path = self.path.split("?", 1)[0]
        try:
            route = parse_route(path)
        except InvalidRepositoryName as error:
            self._answer_without_body(400, _registry_error("NAME_INVALID", f"invalid repository name: {str(error)[:300]!r}"))
            return
        if route is None:
            if path in ("/v2/", "/v2", "/v2/_catalog"):
                self._forward(self._bounded_body(API_BODY_LIMIT))
            else:
                self._answer_without_body(404, _registry_error("UNSUPPORTED", f"the registry has no API at {path[:300]!r}"))
            return
        name, kind, rest = route
        if not self.plane.repository_exists(name):
            self._answer_without_body(
                404,
                _registry_error(
                    "NAME_UNKNOWN", f"The repository with name '{name}' does not exist in the registry with id '{ACCOUNT_ID}'"
                ),
            )
            return
        if kind == "manifests" and self.command in ("GET", "HEAD") and not self.plane.visible(name, rest):
            self._answer_without_body(404, _registry_error("MANIFEST_UNKNOWN", f"Requested image not found: {name}:{rest}"))
            return
        if kind == "manifests" and self.command == "PUT":
            self._push_manifest(name, rest)
            return
        if kind == "blobs" and rest.startswith("uploads/"):
            self._forward(None)  # a layer (~235 MB for a base image): relayed as it arrives, never held whole
            return
        self._forward(self._bounded_body(API_BODY_LIMIT))

    def _push_manifest(self, name: str, reference: str) -> None:
        try:
            body = self._bounded_body(MANIFEST_LIMIT)
        except _BodyTooLarge:
            self._too_large("manifest", MANIFEST_LIMIT)
            return
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        tag = None if reference.startswith("sha256:") else reference
        if tag is not None:
            refused = self.plane.push_refusal(name, tag, digest)
            if refused:
                self._send(*refused)
                return

        def record(status: int, headers: dict[str, str]) -> None:
            if status == 201:  # recorded before docker hears 201, so describe_images right after the push shows it
                media_type = self.headers.get("Content-Type", MANIFEST_TYPES[0])
                self.plane.record_push(
                    name, tag, headers.get("Docker-Content-Digest", digest), body.decode("utf-8", "replace"), media_type
                )

        self._forward(body, before_reply=record)

    def _forward(self, body: bytes | None, before_reply: Callable[[int, dict[str, str]], None] | None = None) -> None:
        """Relay the request to the registry; ``body`` ``None``: stream the request's own body through.

        ``before_reply(status, headers)`` runs once the registry answered, before the client hears it."""
        host, port = self.plane.backend_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=300)
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", self.headers.get("Host", self.plane.registry_address))
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    connection.putheader(key, value)
            if body is None and self._chunked():
                connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                for chunk in self._chunks():
                    connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                connection.send(b"0\r\n\r\n")
            elif body is None:
                connection.putheader("Content-Length", str(self._length()))
                connection.endheaders()
                for piece in self._pieces():
                    connection.send(piece)
            else:
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders()
                if body:
                    connection.send(body)
            response = connection.getresponse()
            full = self.plane.storage_full() if response.status >= 500 and self.command in ("PUT", "PATCH", "POST") else None
            if full is not None:
                # docker hides a 5xx answer's body and retries for about a minute; a 4xx with the
                # registry's error body makes it stop and print the reason ("denied: ...")
                response.read()
                self._send(403, _registry_error("DENIED", full), close=True)
                return
            headers = {key: value for key, value in response.getheaders() if key.lower() not in HOP_BY_HOP}
            if before_reply is not None:
                try:
                    before_reply(response.status, headers)
                except Exception:  # the registry has the push: docker must hear so; the log says what moto missed
                    log.exception("recording %s %s in ECR", self.command, self.path[:200])
            self._relay(response, headers)
        finally:
            connection.close()

    def _relay(self, response: http.client.HTTPResponse, headers: dict[str, str]) -> None:
        """Send the registry's answer on to the client, its body streamed in pieces of at most STREAM_PIECE."""
        self.send_response(response.status)
        for key, value in headers.items():
            self.send_header(key, value)
        length = response.getheader("Content-Length")
        if self.command == "HEAD" or response.status in (204, 304):
            self.end_headers()
        elif length is not None:
            self.end_headers()
            remaining = int(length)
            while remaining > 0:
                piece = response.read(min(remaining, STREAM_PIECE))
                if not piece:
                    break
                self.wfile.write(piece)
                remaining -= len(piece)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while piece := response.read(STREAM_PIECE):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_GET
    do_PUT = do_GET
    do_POST = do_GET
    do_PATCH = do_GET
    do_DELETE = do_GET


def _front_handler(plane: EcrDataPlane) -> type[RegistryFront]:
    return type("RegistryFront", (RegistryFront,), {"plane": plane})
