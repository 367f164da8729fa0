"""Helpers that left the notebooks for ecslab (issue 14, pedagogy): each does what the pasted code did."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import matplotlib

matplotlib.use("Agg")

from ecslab import ecs as ecs_tools  # noqa: E402
from ecslab import monitoring, network  # noqa: E402


def test_security_group_from_aws_keeps_outbound_rules() -> None:
    group = network.SecurityGroup.from_aws(
        {
            "GroupId": "sg-1",
            "GroupName": "web",
            "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        }
    )
    assert [str(rule) for rule in group.ingress] == ["tcp 80 from 0.0.0.0/0"]
    assert [(rule.ports, rule.source) for rule in group.egress] == [("all traffic", "0.0.0.0/0")]


def test_plot_task_phases_draws_each_phase_a_task_went_through() -> None:
    import matplotlib.pyplot as plt

    since = datetime(2026, 1, 1, tzinfo=UTC)
    task = {
        name: since + timedelta(seconds=n) for n, name in enumerate(("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"))
    }
    _, ax = plt.subplots()
    ecs_tools.plot_task_phases(ax, [task], ["task 1"], since, until=10)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "provisioning",
        "pulling the image",
        "starting the container",
        "RUNNING",
    ]
    assert ax.patches[-1].get_width() == 7  # RUNNING from 3 s until the chart's end, 10 s
    plt.close("all")


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        status = 403 if self.path == "/denied" else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve() -> tuple[HTTPServer, dict[str, Any]]:
    server = HTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/abc",
        "containers": [{"networkBindings": [{"bindIP": "127.0.0.1", "hostPort": port, "containerPort": 8080}]}],
    }
    return server, task


def test_request_task_returns_http_errors_as_answers(monkeypatch: Any) -> None:
    server, task = _serve()
    monkeypatch.setattr(
        ecs_tools, "task_url", lambda task, container_port=8080, ec2=None: f"http://127.0.0.1:{server.server_address[1]}"
    )
    try:
        assert ecs_tools.request_task(task, "/fine") == (200, {"path": "/fine"})
        assert ecs_tools.request_task(task, "/denied") == (403, {"path": "/denied"})
    finally:
        server.shutdown()


class _Logs:
    def __init__(self) -> None:
        self.calls = 0

    def get_log_events(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"events": [{"message": "GET /where-is-my-line-0 200"}] if self.calls >= 3 else []}


def test_seconds_until_logged_waits_for_the_line_naming_the_path() -> None:
    server, _ = _serve()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        url = base + "/where-is-my-line-0"
        logs = _Logs()
        seconds = monitoring.seconds_until_logged(logs, "/ecs/demo", "stream", url)
        assert seconds is not None and seconds < 2 and logs.calls == 3
        assert monitoring.seconds_until_logged(_Logs(), "/ecs/demo", "stream", base + "/never-logged", timeout=0.1) is None
    finally:
        server.shutdown()
