"""The containers' AWS gateway (ecslab.lab.task_roles) passes only AWS calls signed with a live task's credentials.

No Docker and no lab: the gateway runs on 127.0.0.1 in front of a fake AWS endpoint that records what
reaches it, and boto3 (or a raw request) plays the container.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ecslab.lab import task_roles
from ecslab.lab.fillers import FillerContext
from ecslab.lab.task_roles import INVALID_TOKEN, IssuedKey, TaskCredentials, TaskRoles, bridge_subnets

KEY, SECRET, TOKEN = "ASIALABTASKKEY000001", "task-secret", "task-session-token"
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/roles/0123456789abcdef"
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@dataclass
class FakeAws:
    """Stands in for the lab's AWS endpoint: records every request, answers 200 ``{}``."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body})
                answer = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return int(self.server.server_address[1])


class AllowAllRoles(TaskRoles):
    """Task roles whose policies allow everything: these tests are about who may call, not what."""

    def decide(self, request: Any, access_key: str) -> str | None:
        return None


@pytest.fixture
def upstream() -> Iterator[FakeAws]:
    fake = FakeAws()
    fake.start()
    yield fake
    assert fake.server is not None
    fake.server.shutdown()
    fake.server.server_close()


def gateway(upstream: FakeAws, allowed: list[Any] = LOOPBACK, owns_address: Any = lambda _address: False) -> AllowAllRoles:
    assert upstream.server is not None
    config = SimpleNamespace(
        host="127.0.0.1", aws_port=upstream.server.server_address[1], region="us-east-1", home="/nonexistent"
    )
    roles = AllowAllRoles(notes=None)
    roles.context = FillerContext(config=config, docker=None)
    roles.serve("127.0.0.1", 0, allowed, owns_address)
    roles.keys[KEY] = IssuedKey(
        "arn:aws:iam::123456789012:role/app",
        "arn:aws:sts::123456789012:assumed-role/app/0123",
        datetime.now(UTC) + timedelta(hours=1),
        TASK_ARN,
        TOKEN,
    )
    return roles


@pytest.fixture
def roles(upstream: FakeAws) -> Iterator[AllowAllRoles]:
    started = gateway(upstream)
    yield started
    started.stop()


def client(roles: TaskRoles, service: str, key: str = KEY, token: str | None = TOKEN) -> Any:
    return boto3.client(
        service,
        endpoint_url=roles.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def signed_headers(service: str = "sts", key: str = KEY, token: str = TOKEN) -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00",
        "X-Amz-Security-Token": token,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def raw(roles: TaskRoles, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", roles.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_live_tasks_signed_call_reaches_the_aws_endpoint_under_its_own_host(roles: AllowAllRoles, upstream: FakeAws) -> None:
    status, _ = raw(roles, "POST", "/", signed_headers(), b"Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 200
    [seen] = upstream.seen
    assert seen["headers"]["Host"] == f"127.0.0.1:{upstream.server.server_address[1]}"  # type: ignore[union-attr]
    assert seen["body"] == b"Action=GetCallerIdentity&Version=2011-06-15"


@pytest.mark.parametrize(
    "path", ["/moto-api/reset", "/moto-api/data.json", "/%6Doto-api/reset", "//moto-api/seed?a=1", "/MOTO-API/reset"]
)
def test_moto_admin_api_is_refused_even_with_a_live_tasks_credentials(roles: AllowAllRoles, upstream: FakeAws, path: str) -> None:
    status, body = raw(roles, "POST", path, signed_headers())
    assert status == 403 and b"/moto-api/" in body
    assert upstream.seen == []


def test_credentials_the_lab_never_issued_get_aws_words_in_each_protocol(roles: AllowAllRoles, upstream: FakeAws) -> None:
    with pytest.raises(ClientError) as query:
        client(roles, "sts", key="AKIAFORGEDKEY0000000", token=None).get_caller_identity()
    assert query.value.response["Error"] == {"Type": "Sender", "Code": "InvalidClientTokenId", "Message": INVALID_TOKEN}
    assert query.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as json_protocol:
        client(roles, "dynamodb", key="testing", token=None).list_tables()
    assert json_protocol.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert json_protocol.value.response["Error"]["Message"] == INVALID_TOKEN
    with pytest.raises(ClientError) as rest:
        client(roles, "s3", key="testing", token=None).list_objects_v2(Bucket="reports")
    assert rest.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert rest.value.response["Error"]["Message"] == "The AWS Access Key Id you provided does not exist in our records."
    assert upstream.seen == []


def test_a_tasks_key_with_another_session_token_is_refused(roles: AllowAllRoles, upstream: FakeAws) -> None:
    with pytest.raises(ClientError) as wrong:
        client(roles, "sts", token="not-the-session-token").get_caller_identity()
    assert wrong.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as missing:
        client(roles, "s3", token=None).list_objects_v2(Bucket="reports")
    assert missing.value.response["Error"]["Code"] == "InvalidToken"
    assert upstream.seen == []


def test_unsigned_requests_are_refused(roles: AllowAllRoles, upstream: FakeAws) -> None:
    status, body = raw(
        roles, "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=ListUsers&Version=2010-05-08"
    )
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in body
    status, body = raw(roles, "GET", "/reports/secret.csv", {})
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert upstream.seen == []


def test_a_stopped_tasks_credentials_stop_working_at_once(roles: AllowAllRoles, upstream: FakeAws) -> None:
    client(roles, "dynamodb").list_tables()
    assert len(upstream.seen) == 1
    roles.task_stopped(SimpleNamespace(task_arn=TASK_ARN))
    assert KEY not in roles.keys
    with pytest.raises(ClientError) as refused:
        client(roles, "dynamodb").list_tables()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert len(upstream.seen) == 1


def test_expired_keys_are_refused(roles: AllowAllRoles, upstream: FakeAws) -> None:
    issued = roles.keys[KEY]
    roles.keys[KEY] = IssuedKey(issued.role_arn, issued.principal_arn, datetime.now(UTC) - timedelta(seconds=1), TASK_ARN, TOKEN)
    with pytest.raises(ClientError) as refused:
        client(roles, "sts").get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"


@pytest.mark.parametrize(
    "headers", [{"Host": "attacker.example:{port}"}, {"Host": "127.0.0.1:1"}, {"Origin": "http://127.0.0.1:8888"}]
)
def test_foreign_hosts_and_web_pages_are_refused(roles: AllowAllRoles, upstream: FakeAws, headers: dict[str, str]) -> None:
    sent = {**signed_headers(), **{name: value.format(port=roles.port) for name, value in headers.items()}}
    status, body = raw(roles, "POST", "/", sent, b"Action=GetCallerIdentity")
    assert status == 403 and b"ecslab" in body
    assert upstream.seen == []


def test_the_gateway_answers_by_the_names_containers_use(roles: AllowAllRoles, upstream: FakeAws) -> None:
    for host in ("127.0.0.1", "host.docker.internal"):
        status, _ = raw(roles, "POST", "/", {**signed_headers(), "Host": f"{host}:{roles.port}"}, b"Action=GetCallerIdentity")
        assert status == 200, host
    assert len(upstream.seen) == 2


def test_connections_from_outside_the_docker_bridge_and_this_machine_are_closed(upstream: FakeAws) -> None:
    roles = gateway(upstream, allowed=[ipaddress.ip_network("10.254.0.0/16")], owns_address=lambda _address: False)
    try:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            raw(roles, "POST", "/", signed_headers(), b"Action=GetCallerIdentity")
    finally:
        roles.stop()
    assert upstream.seen == []


def test_this_machine_may_connect_from_any_of_its_own_addresses(upstream: FakeAws) -> None:
    asked: list[str] = []

    def owns_address(address: str) -> bool:
        asked.append(address)
        return True

    roles = gateway(upstream, allowed=[ipaddress.ip_network("10.254.0.0/16")], owns_address=owns_address)
    try:
        assert raw(roles, "POST", "/", signed_headers(), b"Action=GetCallerIdentity")[0] == 200
    finally:
        roles.stop()
    assert asked == ["127.0.0.1"]


def test_request_bodies_are_capped(roles: AllowAllRoles, upstream: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_roles, "GATEWAY_BODY_LIMIT", 1024)
    status, body = raw(roles, "PUT", "/reports/big.bin", {**signed_headers("s3"), "Content-Length": str(10 * 1024 * 1024)})
    assert status == 413 and b"MiB" in body  # answered without reading the 10 MiB it was promised
    connection = http.client.HTTPConnection("127.0.0.1", roles.port, timeout=10)
    connection.putrequest("PUT", "/reports/big.bin")
    for name, value in {**signed_headers("s3"), "Transfer-Encoding": "chunked"}.items():
        connection.putheader(name, value)
    connection.endheaders()
    try:
        for _ in range(4):
            connection.send(b"200\r\n" + b"x" * 512 + b"\r\n")
        connection.send(b"0\r\n\r\n")
    except OSError:
        pass  # the gateway may close before the last chunk
    assert connection.getresponse().status == 413
    connection.close()
    assert upstream.seen == []


def test_a_non_ascii_endpoint_token_gets_401_not_a_crash(roles: AllowAllRoles) -> None:
    entry = TaskCredentials(TASK_ARN, "arn:aws:iam::123456789012:role/app", "c0ffee", "the-token", {}, "arn")
    roles.by_id[entry.credentials_id] = entry
    assert roles.credentials_for("c0ffee", "tökén")[0] == 401
    request = urllib.request.Request(f"{roles.url}/v2/credentials/c0ffee", headers={"Authorization": "tökén"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["code"] == "AccessDenied"


def test_bridge_subnets_come_from_ipam() -> None:
    inspect = {
        "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}, {"Subnet": "fd00::/64", "Gateway": "fd00::1"}, {"Gateway": "10.0.0.1"}]}
    }
    assert [str(n) for n in bridge_subnets(inspect)] == ["172.17.0.0/16", "fd00::/64"]
    assert bridge_subnets({"IPAM": {"Config": None}}) == []


def test_relays_are_removed_with_their_anonymous_volumes() -> None:
    removed: list[tuple[str, dict[str, Any]]] = []
    api = SimpleNamespace(
        containers=lambda **_: [{"Id": "relay1"}],
        remove_container=lambda container, **kwargs: removed.append((container, kwargs)),
    )
    roles = TaskRoles(notes=None)
    roles.context = FillerContext(config=SimpleNamespace(home="/lab"), docker=SimpleNamespace(api=api))
    roles._remove_relays(TASK_ARN)
    assert removed == [("relay1", {"v": True, "force": True})]
