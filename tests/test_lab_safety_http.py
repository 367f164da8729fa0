"""Issue 11, items 1, 2 and 7: a web page cannot drive the lab's AWS endpoint or control API;
the control API needs the lab's token and refuses big bodies; boto3 and the CLI keep working.

Every test talks to a private lab (``running_isolated_lab``), never the default one.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
from typing import Any

import boto3
import pytest

from ecslab.config import LabConfig
from ecslab.lab import manage


def _request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None and "Content-Length" not in (headers or {}):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _client(config: LabConfig, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=config.endpoint_url, region_name=config.region, aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_the_aws_endpoint_refuses_a_web_page_and_a_rebound_host(running_isolated_lab: LabConfig) -> None:
    port = running_isolated_lab.aws_port
    # when: a page on another origin reads moto's dump, preflights a call, or comes through DNS rebinding
    read = _request(port, "GET", "/moto-api/data.json", {"Host": f"127.0.0.1:{port}", "Origin": "https://evil.example"})
    preflight = _request(
        port,
        "OPTIONS",
        "/",
        {"Host": f"127.0.0.1:{port}", "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    jupyter = _request(port, "POST", "/moto-api/reset", {"Host": f"127.0.0.1:{port}", "Origin": "http://127.0.0.1:8888"}, b"")
    rebound = _request(port, "GET", "/moto-api/data.json", {"Host": f"rebind.evil.example:{port}"})
    # then: each refused before moto sees it, and no answer tells a browser it may read it
    for status, headers, body in (read, preflight, jupyter, rebound):
        assert status == 403
        assert not any(name.startswith("access-control-") for name in headers), headers
        assert b"AccessDeniedException" in body
    assert b"does not answer web pages" in read[2] and b"ecslab status" in rebound[2]


def test_the_aws_endpoint_sends_no_cors_headers_to_anyone(running_isolated_lab: LabConfig) -> None:
    port = running_isolated_lab.aws_port
    status, headers, _ = _request(port, "GET", "/moto-api/data.json", {"Host": f"127.0.0.1:{port}"})
    assert status == 200
    assert not any(name.startswith("access-control-") for name in headers), headers


def test_boto3_keeps_working_through_the_guard(running_isolated_lab: LabConfig) -> None:
    # boto3 sends Host 127.0.0.1:PORT and no Origin
    assert isinstance(_client(running_isolated_lab, "ecs").list_clusters()["clusterArns"], list)
    s3 = _client(running_isolated_lab, "s3")
    s3.create_bucket(Bucket="guard-check")
    s3.put_object(Bucket="guard-check", Key="k", Body=b"v")
    assert s3.get_object(Bucket="guard-check", Key="k")["Body"].read() == b"v"


def test_the_control_api_refuses_posts_without_the_right_token(running_isolated_lab: LabConfig) -> None:
    # given: some AWS state a reset would wipe
    ec2 = _client(running_isolated_lab, "ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    port = running_isolated_lab.control_port
    host = {"Host": f"127.0.0.1:{port}"}
    token = running_isolated_lab.token_file.read_text().strip()
    # when: a simple cross-origin POST, a POST without a token, one with a wrong token, and a rebound one
    attempts = {
        "page": _request(port, "POST", "/reset", {**host, "Origin": "https://evil.example", manage.TOKEN_HEADER: token}, b""),
        "no token": _request(port, "POST", "/reset", host, b""),
        "wrong token": _request(port, "POST", "/shutdown", {**host, manage.TOKEN_HEADER: "guess"}, b""),
        "non-ASCII token": _request(
            port, "POST", "/shutdown", {**host, manage.TOKEN_HEADER: "gu\u00e9ss".encode().decode("latin-1")}, b""
        ),
        "rebound": _request(port, "POST", "/reset", {"Host": f"evil.example:{port}", manage.TOKEN_HEADER: token}, b""),
        "filler path": _request(port, "POST", "/ecr/expired-token", host, b""),
    }
    # then: refused with a message that says what to do, and the lab is intact
    codes = {name: status for name, (status, _, _) in attempts.items()}
    assert codes == {"page": 403, "no token": 401, "wrong token": 403, "non-ASCII token": 403, "rebound": 403, "filler path": 401}
    assert str(running_isolated_lab.token_file).encode() in attempts["no token"][2]
    assert b"Wrong control token" in attempts["wrong token"][2]
    assert manage.is_running(running_isolated_lab)
    assert [vpc["VpcId"] for vpc in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]] == [vpc_id]


def test_control_sends_the_token_and_a_wrong_one_is_a_clear_error(running_isolated_lab: LabConfig) -> None:
    assert manage.control(running_isolated_lab, "POST", "/ecr/expired-token")["authorizationToken"]
    assert manage.control(running_isolated_lab, "GET", "/status")["pid"] == manage.process_status(running_isolated_lab)["pid"]  # type: ignore[index]
    # given: the token file no longer holds the lab's token
    real = running_isolated_lab.token_file.read_text()
    running_isolated_lab.token_file.write_text("stale")
    try:
        with pytest.raises(manage.LabError, match="answered 403 to POST /ecr/expired-token: Wrong control token"):
            manage.control(running_isolated_lab, "POST", "/ecr/expired-token")
    finally:
        running_isolated_lab.token_file.write_text(real)


def test_the_token_and_the_state_folder_are_private(running_isolated_lab: LabConfig) -> None:
    assert stat.S_IMODE(os.stat(running_isolated_lab.home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(running_isolated_lab.token_file).st_mode) == 0o600
    assert len(running_isolated_lab.token_file.read_text().strip()) >= 32


def test_a_big_control_body_is_refused_with_413_and_the_lab_keeps_answering(running_isolated_lab: LabConfig) -> None:
    port = running_isolated_lab.control_port
    token = running_isolated_lab.token_file.read_text().strip()
    headers = {"Host": f"127.0.0.1:{port}", manage.TOKEN_HEADER: token, "Content-Length": str(50 * 1024 * 1024)}
    # when: a client announces 50 MB (and sends only the start of it)
    status, _, body = _request(port, "POST", "/reset", headers, b"x" * 1024)
    # then
    assert status == 413
    assert "takes no request body" in json.loads(body)["error"]
    assert manage.control(running_isolated_lab, "GET", "/status")["pid"]


def test_the_guard_strips_cors_headers_the_app_adds() -> None:
    from ecslab.lab.guard import GuardMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "200 OK",
            [("Access-Control-Allow-Origin", "*"), ("access-control-allow-methods", "POST"), ("Content-Type", "text/plain")],
        )
        return [b"ok"]

    seen: list[list[tuple[str, str]]] = []
    guarded = GuardMiddleware(app, 4566, strip_cors=True)
    assert guarded({"HTTP_HOST": "127.0.0.1:4566"}, lambda status, headers: seen.append(headers)) == [b"ok"]
    assert seen == [[("Content-Type", "text/plain")]]


def test_a_browser_request_without_origin_is_refused_too(running_isolated_lab: LabConfig) -> None:
    # an <img> or no-cors GET from a page: no Origin, but browsers mark it with Sec-Fetch-*
    marks = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    for port, path in ((running_isolated_lab.aws_port, "/moto-api/data.json"), (running_isolated_lab.control_port, "/status")):
        status, _, body = _request(port, "GET", path, {"Host": f"127.0.0.1:{port}", **marks})
        assert status == 403 and b"does not answer web pages" in body, (port, body)
