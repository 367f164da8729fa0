"""Who may talk to the lab's HTTP servers: programs on this machine, never a web page.

A learner runs the lab on their own laptop while browsing the web. A page in their browser can
send requests to ``http://127.0.0.1:PORT`` (and, through DNS rebinding, under a name of the
attacker's that resolves to 127.0.0.1). Two checks stop both:

- **Host**: the request's ``Host`` must name this server by a loopback name or address with the
  server's own port (``127.0.0.1:4566``, ``localhost:4566``, ``[::1]:4566``, or a name under
  ``.localhost``, which browsers resolve to loopback themselves). A rebound name fails it.
- **Origin**: browsers add ``Origin`` to cross-origin requests and to every POST, and
  ``Sec-Fetch-Site``/``Sec-Fetch-Mode`` to every request to a loopback address (an ``<img>`` or a
  no-cors GET included); boto3, the aws CLI, ``urllib`` and dockerd send none of them. The AWS
  endpoint and the control API refuse any request that carries one, JupyterLab's own origin
  included: notebooks talk to the lab through boto3 in the kernel, never through the browser.

Servers that containers reach (the task-role gateway on the Docker bridge's gateway) pass their
extra names (``host.docker.internal``, the gateway's address) as ``extra_hosts``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def host_allowed(host_header: str | None, port: int, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether ``Host: host_header`` names a server on this machine's loopback at ``port``."""
    if not host_header:
        return False
    name, separator, given_port = host_header.strip().lower().rpartition(":")
    if not separator or given_port != str(port) or not name:
        return False
    allowed = {*LOOPBACK_HOSTS, *(host.lower() for host in extra_hosts)}
    return name in allowed or (name.endswith(".localhost") and all(part for part in name.split(".")))


def refusal(
    headers: Mapping[str, str] | Any, port: int, *, refuse_origin: bool = True, extra_hosts: Iterable[str] = ()
) -> str | None:
    """Why a request with these headers is refused, or ``None`` when it may go on.

    ``headers`` is anything with ``.get`` (an ``http.server`` message, a dict of WSGI headers).
    """
    host = headers.get("Host")
    if not host_allowed(host, port, extra_hosts):
        return (
            f"This ecslab server answers only requests addressed to 127.0.0.1:{port} or localhost:{port} "
            f"(Host was {host!r}). Use the address `ecslab status` prints."
        )
    origin = headers.get("Origin")
    if refuse_origin and origin is not None:
        return (
            f"This ecslab server does not answer web pages (Origin {origin!r}). Call it from Python "
            "(boto3, ecslab) or the aws CLI, not from a browser."
        )
    fetch_site = headers.get("Sec-Fetch-Site") or headers.get("Sec-Fetch-Mode")
    if refuse_origin and fetch_site is not None:
        # browsers mark every request to a loopback address (an <img>, a no-cors GET: no Origin) with Sec-Fetch-*
        return (
            f"This ecslab server does not answer web pages (Sec-Fetch-* {fetch_site!r}). Call it from Python "
            "(boto3, ecslab) or the aws CLI, not from a browser."
        )
    return None


class GuardMiddleware:
    """WSGI middleware that answers 403 to requests :func:`refusal` refuses, before the app sees them.

    With ``strip_cors``, ``Access-Control-*`` headers the app adds (moto's global CORS) never
    leave: no browser is ever told it may read the answer."""

    def __init__(
        self,
        app: Callable[..., Any],
        port: int,
        *,
        refuse_origin: bool = True,
        strip_cors: bool = False,
        max_body: int | None = None,
    ) -> None:
        self.app = app
        self.port = port
        self.refuse_origin = refuse_origin
        self.strip_cors = strip_cors
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        headers = {"Host": environ.get("HTTP_HOST")}
        for name in ("Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode"):
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in environ:
                headers[name] = environ[key]
        reason = refusal(headers, self.port, refuse_origin=self.refuse_origin)
        too_large = self._too_large(environ.get("CONTENT_LENGTH"))
        if reason is None and too_large is not None:
            body = json.dumps({"__type": "RequestEntityTooLarge", "message": too_large}).encode()
            start_response(
                "413 Request Entity Too Large",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")],
            )
            return [body]
        if reason is None:
            if not self.strip_cors:
                return self.app(environ, start_response)

            def without_cors(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                kept = [(name, value) for name, value in response_headers if not name.lower().startswith("access-control-")]
                return start_response(status, kept, exc_info) if exc_info is not None else start_response(status, kept)

            return self.app(environ, without_cors)
        body = json.dumps({"__type": "AccessDeniedException", "message": reason}).encode()
        start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _too_large(self, content_length: str | None) -> str | None:
        """Why a body of ``Content-Length`` is refused, or ``None``: the app (moto) reads bodies whole."""
        if self.max_body is None or not content_length:
            return None
        try:
            length = int(content_length)
        except ValueError:
            return None  # the server itself answers 400 to a malformed length
        if length <= self.max_body:
            return None
        return (
            f"The lab's AWS endpoint takes request bodies up to {self.max_body // 2**20} MiB (this one: "
            f"{length / 2**20:.1f} MiB). For a large S3 object use a multipart upload (boto3's upload_file "
            "does it by itself)."
        )
