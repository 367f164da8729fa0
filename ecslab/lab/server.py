"""The lab process: moto, the registry, the gap fillers and a control API.

Started in the background by ``ecslab up`` (``python -m ecslab.lab.server CONFIG``)
and stopped by ``ecslab down``. It binds 127.0.0.1 only:

- the AWS API (moto in server mode) on ``aws_port``; boto3 reaches it through
  ``AWS_ENDPOINT_URL``;
- ECR's data plane on ``registry_port``: the lab's registry front
  (:mod:`ecslab.lab.ecr_plane`) before Debian's registry on a private port;
- a control API on ``control_port``: ``GET /status``, ``POST /reset``,
  ``POST /shutdown``, plus what fillers add (``POST /ecr/expired-token``,
  ``GET /ecs/agent-log``).
  It is the lab's own, not an AWS API.

moto runs in this process (not as a separate ``moto_server``) so that the gap
fillers can read and change its state directly.

Who may talk to it (issue 11): the AWS API and the control API answer only requests
addressed to a loopback name with their own port and carrying no ``Origin``
(:mod:`ecslab.lab.guard`: no web page, no DNS rebinding), and moto's global CORS is
off. Every POST to the control API (``/reset``, ``/shutdown``, a filler's action) needs
the lab's token (header ``X-Ecslab-Token``, from ``control.token`` in the state folder,
0600); a GET that sends a token must send the right one. Control requests carry no
body worth reading: more than :data:`MAX_CONTROL_BODY` bytes is refused with 413.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import logging.handlers
import os
import shutil
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from ecslab.config import SEED, LabConfig
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, LabLock
from ecslab.lab.guard import GuardMiddleware, refusal
from ecslab.lab.logfiles import LOG_BACKUPS, LOG_LIMIT_BYTES
from ecslab.lab.manage import TOKEN_HEADER, process_start_time
from ecslab.lab.registry import RegistryError, RegistryProcess
from ecslab.lab.wiring import LabFillers, wire

log = logging.getLogger("ecslab.lab")
# moto reads every request body whole into memory: bodies over this are refused with 413 first
# (S3 multipart parts are 5 MiB to 5 GiB on AWS; boto3 switches to multipart at 8 MiB by default).
MAX_AWS_BODY = 32 * 2**20

MAX_CONTROL_BODY = 64 * 1024
"""The control API's paths take no body; anything bigger than this is refused (413)."""


def _moto_server(host: str, port: int) -> Any:
    """moto's WSGI app, behind the lab's guard, on a werkzeug server; raises OSError at once when the port is taken.

    moto adds ``Access-Control-Allow-Origin: *`` to every answer unless ``MOTO_DISABLE_GLOBAL_CORS``
    is set before it is imported (``ecslab up`` sets it); the guard also strips such headers."""
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    moto = LockedApp(DomainDispatcherApplication(create_backend_app), LAB_LOCK)
    app = GuardMiddleware(moto, port, strip_cors=True, max_body=MAX_AWS_BODY)
    return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)


class LockedApp:
    """WSGI middleware: every moto request runs under the lab's one lock, its answer made whole inside it."""

    def __init__(self, app: Callable[..., Iterable[bytes]], lock: LabLock) -> None:
        self.app = app
        self.lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            answer = self.app(environ, start_response)
            try:
                return list(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()


class LabProcess:
    """Everything the lab runs; one instance per lab process."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.started_at = datetime.now(UTC)
        self.shutdown_requested = threading.Event()
        self.registry = RegistryProcess(config, port=_free_port(config.host))
        self.wired: LabFillers = wire()
        self.fillers: list[GapFiller] = self.wired.in_start_order()
        self._docker: Any = None  # docker.DockerClient (untyped), made once, closed at stop
        self._moto: Any = None
        self._control: ThreadingHTTPServer | None = None
        self._resetting = threading.Lock()  # one reset at a time (not the lab lock: a reset calls the lab's own API)
        self.token = b""

    # -- start and stop -------------------------------------------------

    def start(self) -> None:
        self.config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.token = _read_token(self.config)
        # moto's state is new: images a previous lab stored could never be pulled, only fill the disk
        shutil.rmtree(self.config.registry_dir, ignore_errors=True)
        self._control = ThreadingHTTPServer((self.config.host, self.config.control_port), _handler(self))
        self._moto = _moto_server(self.config.host, self.config.aws_port)
        threading.Thread(target=self._moto.serve_forever, name="moto", daemon=True).start()
        threading.Thread(target=self._control.serve_forever, name="control", daemon=True).start()
        _make_iam()
        self._seed()
        for attempt in range(3):
            try:
                self.registry.start()
                break
            except RegistryError as error:
                if "address already in use" not in str(error) or attempt == 2:
                    raise
                # another process took the private port between choosing it and the registry binding it
                self.registry.port = _free_port(self.config.host)
        context = self._filler_context()
        for filler in self.fillers:
            filler.start(context)
        self._write_state()

    def stop(self) -> None:
        for filler in reversed(self.fillers):
            try:
                filler.stop()
            except Exception:  # one broken filler must not keep the others running
                log.exception("filler %s failed to stop", filler.name)
        self.registry.stop()
        if self._docker is not None:
            try:
                self._docker.close()
            except Exception:
                log.exception("closing the Docker client")
            self._docker = None
        shutil.rmtree(self.config.registry_dir, ignore_errors=True)  # nothing could pull it after this lab
        if self._moto is not None:
            self._moto.shutdown()
        if self._control is not None:
            self._control.shutdown()
        try:
            if json.loads(self.config.state_file.read_text()).get("pid") == os.getpid():
                self.config.state_file.unlink()
        except (OSError, ValueError):
            pass

    def reset(self) -> None:
        """Fresh AWS state (same seed, so the same IDs again) and an empty registry."""
        with self._resetting:
            LAB_LOCK.forbid("ecslab reset (it calls the lab's own API)")
            self._post(f"{self.config.endpoint_url}/moto-api/reset")
            _make_iam()
            self._seed()
            self.registry.wipe()
            context = self._filler_context()
            for filler in self.fillers:
                filler.after_reset(context)
            self._write_state()  # the registry has a new pid

    # -- helpers ----------------------------------------------------------

    def _seed(self) -> None:
        self._post(f"{self.config.endpoint_url}/moto-api/seed?a={SEED}")

    @staticmethod
    def _post(url: str) -> None:
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _filler_context(self) -> FillerContext:
        """The fillers' context; one Docker client for the lab's life (made again only while no engine answered)."""
        if self._docker is None:
            try:
                import docker

                client: Any = docker.from_env(timeout=5)
                client.ping()
                self._docker = client
            except Exception:
                self._docker = None
        return FillerContext(config=self.config, docker=self._docker, registry_url=self.registry.url)

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "config": json.loads(self.config.to_json()),
            "aws_api": {"url": self.config.endpoint_url, "ok": True},
            "registry": {
                "url": f"http://{self.config.host}:{self.config.registry_port}",
                "address": self.config.registry_address,
                "ok": self.registry.healthy(),
                "pid": self.registry.pid,
                "backend_url": self.registry.url,
            },
            "fillers": [filler.describe() for filler in self.wired.in_display_order()],
        } | fillers_status(self.fillers)

    def _write_state(self) -> None:
        registry_pid = self.registry.pid
        state = {
            "pid": os.getpid(),
            "pid_start": process_start_time(os.getpid()),  # with the pid, proves to `ecslab down` that a pid is this lab
            "registry_pid": registry_pid,
            "registry_start": None if registry_pid is None else process_start_time(registry_pid),
            "config": json.loads(self.config.to_json()),
        }
        tmp = self.config.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.config.state_file)


def fillers_status(fillers: list[GapFiller]) -> dict[str, Any]:
    """Every filler's extra status keys; two fillers giving the same key is a bug in the lab, said at once."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for filler in fillers:
        for key, value in filler.status().items():
            if key in merged or key in _STATUS_KEYS:
                raise ValueError(f"status key {key!r} of {filler.name} is already given by {owner.get(key, 'the lab')}")
            merged[key], owner[key] = value, filler.name
    return merged


_STATUS_KEYS = frozenset({"pid", "started_at", "config", "aws_api", "registry", "fillers"})


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _read_token(config: LabConfig) -> bytes:
    try:
        token = config.token_file.read_bytes().strip()
    except OSError as error:
        raise RuntimeError(
            f"cannot read the control token {config.token_file} ({error}); start the lab with `ecslab up`"
        ) from None
    if not token:
        raise RuntimeError(f"the control token {config.token_file} is empty; start the lab with `ecslab up`")
    return token


class ControlHandler(BaseHTTPRequestHandler):
    """The control API; :func:`_handler` makes one class per lab process."""

    lab: ClassVar[LabProcess]

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the lab log is for problems
        pass

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refused(self) -> bool:
        """Answer and return True when the request may not go on (guard, token, body size)."""
        reason = refusal(self.headers, self.lab.config.control_port)
        if reason is not None:
            self._reply(403, {"error": reason})
            return True
        given = self.headers.get(TOKEN_HEADER)
        if given is None:
            self._reply(
                401,
                {
                    "error": f"The control API needs the lab's token in the {TOKEN_HEADER} header "
                    f"(from {self.lab.config.token_file}). Use `ecslab` or ecslab.lab.manage.control()."
                },
            )
            return True
        if given is not None and not hmac.compare_digest(given.encode("utf-8", "replace"), self.lab.token):
            self._reply(
                403,
                {
                    "error": f"Wrong control token: it is not the one in {self.lab.config.token_file}, which "
                    "`ecslab up` makes anew for each lab. Read it again, or use `ecslab`."
                },
            )
            return True
        if self.headers.get("Transfer-Encoding") is not None:
            self._reply(411, {"error": "The control API takes no chunked body; send none."})
            return True
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_CONTROL_BODY:
            self._reply(
                413,
                {
                    "error": f"The control API takes no request body (at most {MAX_CONTROL_BODY} bytes, "
                    f"Content-Length was {self.headers.get('Content-Length')!r}); send none."
                },
            )
            return True
        self.rfile.read(length)
        return False

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:  # the client left (e.g. `ecslab up` polling with a short timeout): nothing to answer
            self.close_connection = True
        except Exception as error:  # the client gets a message, the lab log the traceback
            log.exception("control API: %s %s failed", getattr(self, "command", "?"), getattr(self, "path", "?"))
            try:
                self._reply(
                    500,
                    {"error": f"The lab failed at this request ({type(error).__name__}); see lab.log in {self.lab.config.home}."},
                )
            except OSError:
                pass
            self.close_connection = True

    def do_GET(self) -> None:
        if self._refused():
            return
        if self.path == "/status":
            self._reply(200, self.lab.status())
            return
        for filler in self.lab.fillers:
            answer = filler.control("GET", self.path)
            if answer is not None:
                self._reply(200, answer)
                return
        self._reply(404, {"error": f"no such control path {self.path}"})

    def do_POST(self) -> None:
        if self._refused():
            return
        if self.path == "/reset":
            self.lab.reset()
            self._reply(200, {"reset": True})
        elif self.path == "/shutdown":
            self._reply(200, {"stopping": True})
            self.lab.shutdown_requested.set()
        else:
            for filler in self.lab.fillers:
                answer = filler.control("POST", self.path)
                if answer is not None:
                    self._reply(200, answer)
                    return
            self._reply(404, {"error": f"no such control path {self.path}"})


def _handler(lab: LabProcess) -> type[BaseHTTPRequestHandler]:
    return type("ControlHandler", (ControlHandler,), {"lab": lab})


def _make_iam() -> None:
    """Make IAM's state (AWS's managed policies: ~0.7 s) before seeding, on start and reset alike.

    Made lazily, it would draw random numbers at a different point after ``up`` than after
    ``reset``, and IDs made afterwards would not repeat; two first IAM calls at once could
    also see the managed policies half-loaded."""
    from moto.backends import get_backend

    from ecslab.config import ACCOUNT_ID

    with LAB_LOCK:
        get_backend("iam")[ACCOUNT_ID]["global"]


class RotatingStream(io.TextIOBase):
    """The lab's ``sys.stdout``/``sys.stderr``: into the same rotating ``lab.log`` as its log
    records, so tracebacks that threads print (socketserver, threading's excepthook) are bounded too."""

    def __init__(self, handler: logging.handlers.RotatingFileHandler) -> None:
        self.handler = handler

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.handler.acquire()
        try:
            stream: Any = self.handler.stream  # opened at once (delay=False), reopened by doRollover
            if self.handler.maxBytes and stream.tell() + len(text) >= self.handler.maxBytes:
                self.handler.doRollover()
                stream = self.handler.stream
            stream.write(text)
            stream.flush()
        finally:
            self.handler.release()
        return len(text)


def _log_to(config: LabConfig) -> None:
    handler = logging.handlers.RotatingFileHandler(
        config.log_file, maxBytes=LOG_LIMIT_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sys.stdout = sys.stderr = RotatingStream(handler)


def main(argv: list[str]) -> int:
    config = LabConfig.from_json(argv[1])
    _log_to(config)
    lab = LabProcess(config)
    signal.signal(signal.SIGTERM, lambda *_: lab.shutdown_requested.set())
    signal.signal(signal.SIGINT, lambda *_: lab.shutdown_requested.set())
    try:
        lab.start()
    except Exception as error:
        print(f"ecslab lab failed to start: {error}", file=sys.stderr, flush=True)
        lab.stop()
        return 1
    print(f"ecslab lab ready at {time.strftime('%H:%M:%S')}: {json.dumps(lab.status())}", flush=True)
    lab.shutdown_requested.wait()
    lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
