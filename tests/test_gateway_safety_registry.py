"""The ECR registry front (ecslab.lab.ecr_plane): Host checks, one repository per path, bounded memory.

No Docker and no lab: the front runs on 127.0.0.1 between a fake ECR (which repositories exist, what was
pushed) and a fake registry that hashes what reaches it without keeping it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ecslab.lab.ecr_plane import MANIFEST_LIMIT, InvalidRepositoryName, TokenIssuer, _front_handler, parse_route


@dataclass
class FakeRegistry:
    """Stands in for Debian's registry: records each request and the sha256 and size of its body."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                digest, size = hashlib.sha256(), 0
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    while (length := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                        while length:
                            piece = self.rfile.read(min(length, 1 << 16))
                            digest.update(piece)
                            size += len(piece)
                            length -= len(piece)
                        self.rfile.readline()
                    self.rfile.readline()
                else:
                    remaining = int(self.headers.get("Content-Length") or 0)
                    while remaining:
                        piece = self.rfile.read(min(remaining, 1 << 16))
                        digest.update(piece)
                        size += len(piece)
                        remaining -= len(piece)
                fake.seen.append({"method": self.command, "path": self.path, "sha256": digest.hexdigest(), "size": size})
                status = 201 if self.command == "PUT" else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_POST = do_PATCH = do_HEAD = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"


class FakeEcr:
    """What the front asks of ECR (``EcrDataPlane``): tokens, which repositories exist, pushes."""

    def __init__(self, backend_url: str, repositories: list[str]) -> None:
        self.tokens = TokenIssuer()
        self.lock = threading.RLock()
        self.backend_url = backend_url
        self.repositories = {name: object() for name in repositories}
        self.pushes: list[tuple[str, str | None]] = []
        self.refusal_checks: list[str] = []
        self.port = 0

    @property
    def registry_address(self) -> str:
        return f"localhost:{self.port}"

    def repository_exists(self, name: str) -> bool:
        return name in self.repositories

    def visible(self, name: str, reference: str) -> bool:
        return True

    def push_refusal(self, name: str, tag: str, digest: str) -> None:
        self.refusal_checks.append(name)

    def record_push(self, name: str, tag: str | None, digest: str, manifest: str, media_type: str) -> None:
        self.pushes.append((name, tag))


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    fake.start()
    yield fake
    assert fake.server is not None
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def ecr(registry: FakeRegistry) -> Iterator[FakeEcr]:
    assert registry.server is not None
    plane = FakeEcr(f"http://127.0.0.1:{registry.server.server_address[1]}", ["app", "team/manifests/app"])
    front = ThreadingHTTPServer(("127.0.0.1", 0), _front_handler(plane))  # type: ignore[arg-type]
    front.daemon_threads = True
    plane.port = int(front.server_address[1])
    threading.Thread(target=front.serve_forever, daemon=True).start()
    yield plane
    front.shutdown()
    front.server_close()


def auth(plane: FakeEcr) -> dict[str, str]:
    token, _ = plane.tokens.issue()
    return {"Authorization": f"Basic {token}", "Host": plane.registry_address}


def request(plane: FakeEcr, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", plane.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        connection.close()


def stream(plane: FakeEcr, method: str, path: str, headers: dict[str, str], pieces: Iterator[bytes], chunked: bool) -> int:
    """Send a body piece by piece (the test never holds it whole either); the response's status."""
    connection = http.client.HTTPConnection("127.0.0.1", plane.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        for piece in pieces:
            connection.send(piece)
        if chunked:
            connection.send(b"0\r\n\r\n")
        return connection.getresponse().status
    finally:
        connection.close()


def test_parse_route_takes_the_last_kind_segment_and_distributions_names() -> None:
    assert parse_route("/v2/app/manifests/latest") == ("app", "manifests", "latest")
    assert parse_route("/v2/team/manifests/app/manifests/latest") == ("team/manifests/app", "manifests", "latest")
    assert parse_route("/v2/a/tags/b/blobs/uploads/") == ("a/tags/b", "blobs", "uploads/")
    assert parse_route("/v2/a/blobs/uploads/0f3e-11") == ("a", "blobs", "uploads/0f3e-11")
    assert parse_route("/v2/a/blobs/sha256:" + "0" * 64) == ("a", "blobs", "sha256:" + "0" * 64)
    assert parse_route("/v2/a/tags/list") == ("a", "tags", "list")
    assert parse_route("/v2/") is None and parse_route("/v2/_catalog") is None
    for bad in (
        "/v2/App/manifests/latest",
        "/v2/a/../b/manifests/latest",
        "/v2/a%2Fb/manifests/x",
        "/v2/-a/blobs/uploads/",
        "/v2/a//b/tags/list",
    ):
        with pytest.raises(InvalidRepositoryName):
            parse_route(bad)


def test_a_crafted_path_is_checked_and_stored_under_the_same_repository(ecr: FakeEcr, registry: FakeRegistry) -> None:
    # before: the name ended at the FIRST /manifests/, so this was checked as "team" with tag "app/manifests/latest"
    status, _ = request(
        ecr, "PUT", "/v2/team/manifests/app/manifests/latest", {**auth(ecr), "Content-Type": "application/json"}, b"{}"
    )
    assert status == 201
    assert ecr.refusal_checks == ["team/manifests/app"]
    assert ecr.pushes == [("team/manifests/app", "latest")]
    assert [seen["path"] for seen in registry.seen] == ["/v2/team/manifests/app/manifests/latest"]


@pytest.mark.parametrize(
    "path", ["/v2/App/manifests/latest", "/v2/app/../other/manifests/latest", "/v2/app%2Fother/blobs/uploads/"]
)
def test_invalid_repository_names_get_name_invalid(ecr: FakeEcr, registry: FakeRegistry, path: str) -> None:
    status, answer = request(ecr, "PUT", path, auth(ecr), b"{}")
    assert (status, answer["errors"][0]["code"]) == (400, "NAME_INVALID")
    assert registry.seen == []


def test_paths_outside_the_registry_api_are_not_forwarded(ecr: FakeEcr, registry: FakeRegistry) -> None:
    status, answer = request(ecr, "GET", "/debug/vars", auth(ecr))
    assert (status, answer["errors"][0]["code"]) == (404, "UNSUPPORTED")
    assert request(ecr, "GET", "/v2/", auth(ecr))[0] == 202
    assert [seen["path"] for seen in registry.seen] == ["/v2/"]


@pytest.mark.parametrize(
    "extra", [{"Host": "attacker.example:{port}"}, {"Host": "localhost:1"}, {"Origin": "http://localhost:8888"}]
)
def test_requests_not_addressed_to_the_front_or_from_a_page_are_refused(
    ecr: FakeEcr, registry: FakeRegistry, extra: dict[str, str]
) -> None:
    headers = {**auth(ecr), **{name: value.format(port=ecr.port) for name, value in extra.items()}}
    status, answer = request(ecr, "GET", "/v2/", headers)
    assert (status, answer["errors"][0]["code"]) == (403, "DENIED")
    assert registry.seen == []


def test_the_front_answers_dockerds_hosts(ecr: FakeEcr) -> None:
    for host in ("localhost", "127.0.0.1"):
        assert request(ecr, "GET", "/v2/", {**auth(ecr), "Host": f"{host}:{ecr.port}"})[0] == 202


def test_a_non_ascii_password_gets_401() -> None:
    assert TokenIssuer().check("AWS", "ecslab.1999999999.tökén") == "Your authorization token is invalid."


def test_a_non_ascii_password_over_http_gets_401(ecr: FakeEcr, registry: FakeRegistry) -> None:
    token = base64.b64encode("AWS:ecslab.1999999999.tökén".encode()).decode()
    status, answer = request(ecr, "GET", "/v2/", {"Authorization": f"Basic {token}", "Host": ecr.registry_address})
    assert (status, answer["errors"][0]["code"]) == (401, "UNAUTHORIZED")
    assert registry.seen == []


def test_a_manifest_over_ecrs_4_mib_limit_gets_413(ecr: FakeEcr, registry: FakeRegistry) -> None:
    headers = {
        **auth(ecr),
        "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
        "Content-Length": str(MANIFEST_LIMIT + 1),
    }
    status, answer = request(ecr, "PUT", "/v2/app/manifests/latest", headers)  # refused before the body is sent
    assert status == 413 and answer["errors"][0]["code"] == "MANIFEST_INVALID" and "4 MiB" in answer["errors"][0]["message"]
    chunked = {**auth(ecr), "Transfer-Encoding": "chunked"}
    pieces = (f"{1 << 20:x}\r\n".encode() + b"{" * (1 << 20) + b"\r\n" for _ in range(5))
    assert stream(ecr, "PUT", "/v2/app/manifests/latest", chunked, pieces, chunked=True) == 413
    assert registry.seen == [] and ecr.pushes == []


BLOB_MIB = 64


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "one-huge-chunk"])
def test_blob_uploads_are_relayed_without_holding_them(ecr: FakeEcr, registry: FakeRegistry, chunked: bool) -> None:
    piece = bytes(range(256)) * 4096  # 1 MiB
    expected = hashlib.sha256()
    for _ in range(BLOB_MIB):
        expected.update(piece)
    size = BLOB_MIB * len(piece)
    if chunked:  # dockerd's PATCH uploads are chunked; one chunk as large as the layer must not be read whole either
        headers = {**auth(ecr), "Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}
        pieces = iter([f"{size:x}\r\n".encode(), *(piece for _ in range(BLOB_MIB)), b"\r\n"])
    else:
        headers = {**auth(ecr), "Content-Length": str(size), "Content-Type": "application/octet-stream"}
        pieces = (piece for _ in range(BLOB_MIB))
    tracemalloc.start()
    try:
        status = stream(ecr, "PATCH", "/v2/app/blobs/uploads/0f3e-11", headers, pieces, chunked)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 202
    [seen] = registry.seen
    assert (seen["size"], seen["sha256"]) == (size, expected.hexdigest())
    assert peak < 16 * 1024 * 1024, f"the front held {peak / 2**20:.0f} MiB while relaying a {BLOB_MIB} MiB blob"
