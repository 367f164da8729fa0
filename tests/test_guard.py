"""The Host and Origin checks every lab server applies (ecslab/lab/guard.py)."""

from __future__ import annotations

from typing import Any

from ecslab.lab.guard import GuardMiddleware, host_allowed, refusal


def test_loopback_names_with_the_servers_own_port_are_allowed() -> None:
    for host in ("127.0.0.1:4566", "localhost:4566", "LOCALHOST:4566", "[::1]:4566", "my-bucket.localhost:4566"):
        assert host_allowed(host, 4566), host


def test_other_names_other_ports_and_no_host_are_refused() -> None:
    for host in (
        None,
        "",
        "127.0.0.1",
        "127.0.0.1:4567",
        "evil.example:4566",
        "localhost.evil.example:4566",
        "127.0.0.1.nip.io:4566",
        ".localhost:4566",
        "a..localhost:4566",
    ):
        assert not host_allowed(host, 4566), host


def test_extra_hosts_are_for_servers_containers_reach() -> None:
    assert host_allowed("host.docker.internal:41234", 41234, extra_hosts=["host.docker.internal", "172.17.0.1"])
    assert host_allowed("172.17.0.1:41234", 41234, extra_hosts=["host.docker.internal", "172.17.0.1"])
    assert not host_allowed("172.17.0.1:41234", 41234)


def test_any_origin_is_refused_where_asked_and_the_reason_says_what_to_do() -> None:
    assert refusal({"Host": "127.0.0.1:4566"}, 4566) is None
    reason = refusal({"Host": "127.0.0.1:4566", "Origin": "http://127.0.0.1:8888"}, 4566)
    assert reason is not None and "does not answer web pages" in reason and "boto3" in reason
    assert refusal({"Host": "127.0.0.1:5050", "Origin": "null"}, 5050, refuse_origin=False) is None
    rebound = refusal({"Host": "rebind.example:4566"}, 4566)
    assert rebound is not None and "127.0.0.1:4566" in rebound and "ecslab status" in rebound


def test_the_wsgi_middleware_answers_403_before_the_app_runs() -> None:
    called: list[bool] = []
    statuses: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(True)
        start_response("200 OK", [])
        return [b"ok"]

    guarded = GuardMiddleware(app, 4566)
    assert guarded({"HTTP_HOST": "127.0.0.1:4566"}, lambda status, headers: statuses.append(status)) == [b"ok"]
    body = guarded(
        {"HTTP_HOST": "127.0.0.1:4566", "HTTP_ORIGIN": "https://evil.example"}, lambda status, headers: statuses.append(status)
    )
    assert statuses == ["200 OK", "403 Forbidden"] and called == [True]
    assert b"AccessDeniedException" in b"".join(body)


def test_the_wsgi_middleware_refuses_a_body_over_its_limit_before_the_app_reads_it() -> None:
    statuses: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    guarded = GuardMiddleware(app, 4566, max_body=1024)
    assert guarded(
        {"HTTP_HOST": "127.0.0.1:4566", "CONTENT_LENGTH": "1024"}, lambda status, headers: statuses.append(status)
    ) == [b"ok"]
    body = b"".join(
        guarded({"HTTP_HOST": "127.0.0.1:4566", "CONTENT_LENGTH": "1025"}, lambda status, headers: statuses.append(status))
    )
    assert statuses == ["200 OK", "413 Request Entity Too Large"]
    assert b"multipart upload" in body and b"RequestEntityTooLarge" in body
