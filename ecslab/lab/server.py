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

import contextlib
import gc
import hmac
import io
import json
import logging
import logging.handlers
import os
import shutil
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

from ecslab.config import SEED, LabConfig
from ecslab.lab.fillers import LAB_LOCK, FillerContext, GapFiller, LabLock
from ecslab.lab.guard import GuardMiddleware, refusal
from ecslab.lab.logfiles import LOG_BACKUPS, LOG_LIMIT_BYTES
from ecslab.lab.manage import ENGINE_CHECKED, TOKEN_HEADER, process_start_time
from ecslab.lab.registry import RegistryError, RegistryProcess

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

    from ecslab.lab.wiring import LabFillers

log = logging.getLogger("ecslab.lab")
# moto reads every request body whole into memory: bodies over this are refused with 413 first
# (S3 multipart parts are 5 MiB to 5 GiB on AWS; boto3 switches to multipart at 8 MiB by default).
MAX_AWS_BODY = 32 * 2**20

MAX_CONTROL_BODY = 64 * 1024
"""The control API's paths take no body; anything bigger than this is refused (413)."""


SERVER_POLL = 0.05
"""How often the lab's own servers look whether they are asked to stop (socketserver's default, 0.5 s, is what `down` waited for)."""

START_SWITCH_INTERVAL = 0.001
"""How often Python hands the GIL between threads while the lab starts (its default is 0.005 s): the warm-up's
imports hold it, and binding, the registry's start and ``/ready`` each wait for it after every system call."""

WARM_TIMEOUT = 120.0
"""How long a request waits for the lab to finish warming before it is answered 503 (it takes about a second)."""


def _moto_server(host: str, port: int, warm: threading.Event, app: Callable[[], Any]) -> BaseWSGIServer:
    """The AWS endpoint, bound now and answering as soon as the lab is warm; raises OSError at once when the port is taken.

    Each request waits for ``warm`` (moto imported, IAM built, seeded, fillers started), then is
    read by moto's own request handler and answered by ``app()``: moto's WSGI app under the lab's
    lock, behind the lab's guard. moto adds ``Access-Control-Allow-Origin: *`` to every answer unless
    ``MOTO_DISABLE_GLOBAL_CORS`` is set before it is imported (``ecslab up`` sets it); the guard also
    strips such headers."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class HeldRequestHandler(WSGIRequestHandler):
        """werkzeug's handler until the lab is warm; then moto's (``MotoRequestHandler``) reads the request."""

        def make_environ(self) -> Any:
            warm.wait(WARM_TIMEOUT)
            handler = _moto_request_handler() if warm.is_set() else None
            if handler is None:
                return super().make_environ()
            self.__class__ = handler  # the same werkzeug handler, with moto's header handling
            return self.make_environ()

    held = GuardMiddleware(WarmApp(warm, app), port, strip_cors=True, max_body=MAX_AWS_BODY)
    return make_server(host, port, held, threaded=True, request_handler=HeldRequestHandler)


def _moto_request_handler() -> Any:
    """moto's request handler class (imported with moto, once the lab is warm)."""
    from moto.moto_server.threaded_moto_server import MotoRequestHandler

    return MotoRequestHandler


def _moto_app() -> LockedApp:
    """moto's WSGI app (every service, loaded on its first request) under the lab's lock."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    return LockedApp(DomainDispatcherApplication(create_backend_app), LAB_LOCK)


class WarmApp:
    """WSGI: answers with ``app()`` once ``warm`` is set; 503 if the lab could not warm in time."""

    def __init__(self, warm: threading.Event, app: Callable[[], Any]) -> None:
        self.warm = warm
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.warm.wait(WARM_TIMEOUT) or self.app() is None:
            body = json.dumps({"message": "The lab failed to start its AWS services; see lab.log in its state folder."})
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [body.encode()]
        answer: Iterable[bytes] = self.app()(environ, start_response)
        return answer


class HeldPort:
    """The registry's port (ECR's data plane), listened on from the lab's start until the ECR filler's front binds it.

    The front starts with the fillers, once the lab is warm. A client that connects before (``docker
    login`` the moment ``ecslab up`` returns) waits in this socket's queue, its request unread; just
    before the front binds the port the queue is taken (:meth:`release`) and each connection handed to
    the front (:meth:`hand_to`), so it is answered, not refused."""

    def __init__(self, host: str, port: int) -> None:
        self.socket: socket.socket | None = socket.create_server((host, port), backlog=128)

    def release(self) -> list[tuple[socket.socket, Any]]:
        """Stop listening; the connections waiting in the queue, to hand on."""
        listening, self.socket = self.socket, None
        waiting: list[tuple[socket.socket, Any]] = []
        if listening is None:
            return waiting
        listening.setblocking(False)
        while True:
            try:
                connection, address = listening.accept()
            except OSError:  # BlockingIOError: no more
                break
            connection.setblocking(True)
            waiting.append((connection, address))
        listening.close()
        return waiting

    @staticmethod
    def hand_to(server: Any, waiting: list[tuple[socket.socket, Any]]) -> None:
        """Give each waiting connection to ``server`` (a socketserver), or close them when there is none."""
        for connection, address in waiting:
            if server is None:
                connection.close()
            else:
                server.process_request(connection, address)


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
    """Everything the lab runs; one instance per lab process.

    It starts in two steps at once (issue 17). :meth:`start` binds the AWS endpoint and the control
    API, starts the registry and writes the state file: ``ecslab up`` returns then. :meth:`warm_up`,
    in a thread started first, imports moto and the fillers, builds IAM's managed policies, seeds
    moto and, once ``ecslab up`` has seen to the Docker engine (:meth:`await_engine_check`), starts
    the fillers, in the order the lab always did, then sets :attr:`warm`. Until then every AWS
    request, every control path but ``/ready`` and every reset waits for it, so no request sees a
    half-started lab and the seeded IDs are drawn exactly as before."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.started_at = datetime.now(UTC)
        self._began = time.monotonic()
        self._phases: list[tuple[str, float]] = [("python", _process_age())]
        """What the lab's start did, each with the seconds after :attr:`_began` it ended (``python``: before it, negative)."""
        self.shutdown_requested = threading.Event()
        self.warm = threading.Event()
        """Set once moto is seeded and every filler has started (or warming failed: :attr:`warm_error`)."""
        self.warm_error: str | None = None
        self.engine_checked = threading.Event()
        """Set once ``ecslab up`` has started the Docker engine and removed a crashed lab's containers
        (:meth:`await_engine_check`; set at once for a lab started otherwise): the fillers start after it."""
        self.engine_checked.set()
        self.start_failed = threading.Event()
        """Set when :meth:`start` failed (a port taken, no registry): the warm-up gives up at its next step."""
        self.registry = RegistryProcess(config, port=_free_port(config.host))
        self.wired: LabFillers | None = None
        self.fillers: list[GapFiller] = []
        self._docker: Any = None  # docker.DockerClient (untyped), made once, closed at stop
        self._docker_lock = threading.Lock()  # one maker of it at a time (the warm-up and the thread that makes it early)
        self._imported = threading.Event()  # moto and the fillers are imported (the warm-up's first step)
        self._moto: BaseWSGIServer | None = None
        self._moto_app: LockedApp | None = None
        self._control: ThreadingHTTPServer | None = None
        self._warming: threading.Thread | None = None
        self._registry_port: HeldPort | None = None
        self._registry_started = threading.Event()  # the fillers are told the registry's port: it may change at start
        self._resetting = threading.Lock()  # one reset at a time (not the lab lock: a reset calls the lab's own API)
        self.token = b""

    # -- start and stop -------------------------------------------------

    def start(self, warm_in_background: bool = True) -> None:
        """Warm up in the background, and meanwhile bind the AWS endpoint and the control API, start the registry and write the state file.

        The warm-up starts first: binding and the registry's start mostly wait (on the registry's
        process), and moto's imports use that time. They hold the GIL in turns with this thread
        and the control API's (Python hands it over every :data:`START_SWITCH_INTERVAL` until ready,
        5 ms after), which costs ``ecslab up`` a few hundredths of a second and saves the first AWS
        call about a tenth."""
        switching = sys.getswitchinterval()
        sys.setswitchinterval(START_SWITCH_INTERVAL)  # this thread and /ready get the GIL sooner from the imports
        self._warming = threading.Thread(target=self.warm_up, name="warm-up", daemon=True)
        self._warming.start()
        # the Docker client (its import, a ping: waiting on the engine, mostly) is made beside IAM and the seed
        threading.Thread(target=self._connect_docker, name="docker-client", daemon=True).start()
        try:
            self._start_serving()
        except BaseException:
            self.start_failed.set()  # the warm-up stops at its next step
            raise
        finally:
            self._registry_started.set()
            sys.setswitchinterval(switching)
        if not warm_in_background:
            self._warming.join()
            if self.warm_error is not None:
                raise RuntimeError(self.warm_error)

    def _start_serving(self) -> None:
        self.config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.token = _read_token(self.config)
        # moto's state is new: images a previous lab stored could never be pulled, only fill the disk
        shutil.rmtree(self.config.registry_dir, ignore_errors=True)
        self._control = ThreadingHTTPServer((self.config.host, self.config.control_port), _handler(self))
        self._control.daemon_threads = True
        self._moto = _moto_server(self.config.host, self.config.aws_port, self.warm, self._serving_app)
        self._registry_port = HeldPort(self.config.host, self.config.registry_port)
        self._mark("bound")
        for name, server in (("moto", self._moto), ("control", self._control)):  # a short poll: `ecslab down` waits for it
            threading.Thread(target=server.serve_forever, args=(SERVER_POLL,), name=name, daemon=True).start()
        for attempt in range(3):
            try:
                self.registry.start()
                break
            except RegistryError as error:
                if "address already in use" not in str(error) or attempt == 2:
                    raise
                # another process took the private port between choosing it and the registry binding it
                self.registry.port = _free_port(self.config.host)
        self._mark("registry")
        self._write_state()
        self._mark("ready")

    def warm_up(self) -> None:
        """Import moto and the fillers, build IAM, seed, start the fillers; then set :attr:`warm`.

        The order is the lab's of old: IAM's managed policies are built before seeding (they draw
        random numbers), the seed comes next, the fillers start after it and draw none, and no AWS
        request runs before :attr:`warm` is set. So the seeded IDs repeat exactly as they did.

        Python's cyclic garbage collector is off meanwhile: the imports make some 100,000 objects that
        live as long as the lab, and the collector went through them again and again (about 15% of the
        warm-up's CPU). They are then frozen (``gc.freeze``: later collections skip them, and the first
        calls meet no collection of them), the few hundred cycles the imports left with them (about
        100 kB) included, and the collector is on again. :meth:`reset` hands them back to the collector
        (``gc.unfreeze``): moto's state made in the warm-up is garbage after it."""
        gc.disable()
        try:
            from ecslab.lab.moto import quick_imports, regions

            with quick_imports(self.config.region):
                regions.PATCHES.apply(regions.RegionIndex.for_this_machine())
                from ecslab.lab.wiring import wire

                self._moto_app = _moto_app()
            self._mark("imports")
            self._imported.set()
            self.wired = wire()
            from ecslab.lab.moto.ec2 import keep_instance_type_offerings
            from ecslab.lab.moto.iam import PARTITION_PATCHES

            keep_instance_type_offerings(self.config.region)

            PARTITION_PATCHES.apply(_lab_partition(self.config.region))
            _make_iam()
            self._mark("iam")
            self._seed_in_process()
            self._mark("seed")
            self._registry_started.wait()
            while not self.engine_checked.wait(0.1):
                if self.shutdown_requested.is_set() or self.start_failed.is_set():
                    break
            if self.start_failed.is_set() or self.registry.pid is None:
                self.warm_error = (
                    "The lab did not start its servers or its registry; see lab.log and registry.log in its state folder."
                )
                return  # start() raises, and the lab stops
            context = self._filler_context()
            fillers = self.wired.in_start_order()
            for filler in fillers:
                began = time.monotonic()
                if self.shutdown_requested.is_set():
                    self.warm_error = "The lab is stopping."
                    return
                if filler is self.wired.ecr and self._registry_port is not None:  # it binds the port held until now
                    waiting = self._registry_port.release()
                    filler.start(context)
                    HeldPort.hand_to(self.wired.ecr.server, waiting)
                else:
                    filler.start(context)
                self.fillers.append(filler)
                if time.monotonic() - began >= 0.02:  # a slow start (the Docker engine's answers, mostly): named in the log
                    self._mark(f"{filler.name} ({time.monotonic() - began:.2f} s)")
            self._mark("fillers")
        except Exception as error:  # the lab cannot serve: say why, then stop
            log.exception("the lab failed to warm up")
            self.warm_error = f"The lab failed to start ({type(error).__name__}: {error}); see lab.log in {self.config.home}."
            self.shutdown_requested.set()
        finally:
            gc.freeze()
            gc.enable()
            self.warm.set()
        print(
            f"ecslab lab warm at {time.strftime('%H:%M:%S')} ({time.monotonic() - self._began:.2f} s after start; "
            + ", ".join(f"{name} {seconds:+.2f}" for name, seconds in self._phases)
            + ")",
            flush=True,
        )

    def await_engine_check(self) -> None:
        """Start the fillers only once ``ecslab up`` says the engine is seen to: a line on stdin, or its end.

        ``ecslab up`` starts this process first and sees to the Docker engine meanwhile (starting it,
        removing a crashed lab's containers, which have this lab's names and ports); the fillers use
        the engine. When ``ecslab up`` dies instead, stdin ends and the lab goes on."""
        self.engine_checked.clear()

        def read() -> None:
            try:
                while (chunk := os.read(0, 4096)) and b"\n" not in chunk:
                    pass
            except OSError:
                pass
            finally:
                self._mark("engine")
                self.engine_checked.set()
                with contextlib.suppress(OSError):
                    devnull = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(devnull, 0)  # no child of the lab's inherits ``ecslab up``'s pipe
                    os.close(devnull)

        threading.Thread(target=read, name="engine-check", daemon=True).start()

    def _mark(self, phase: str) -> None:
        """Note that ``phase`` of the start ended now (the lab logs them once warm: where its start went)."""
        self._phases.append((phase, time.monotonic() - self._began))

    def _serving_app(self) -> LockedApp | None:
        """moto's app once the lab is warm; ``None`` (answered 503) when warming failed: no half-started lab serves."""
        return self._moto_app if self.warm_error is None else None

    def wait_warm(self) -> None:
        """Wait until the lab is warm; :class:`RuntimeError` saying why when it cannot be."""
        if not self.warm.wait(WARM_TIMEOUT):
            raise RuntimeError(f"The lab did not finish starting within {WARM_TIMEOUT:.0f} s; see lab.log in {self.config.home}.")
        if self.warm_error is not None:
            raise RuntimeError(self.warm_error)

    def stop(self) -> None:
        """Stop everything at once, in parallel: each filler, the registry, the servers (no server's poll is waited for)."""
        if self._warming is not None and self._warming is not threading.current_thread():
            self._warming.join(timeout=30)  # fillers stop only once none is half started
        stopping = [threading.Thread(target=self._stop_filler, args=(filler,), daemon=True) for filler in reversed(self.fillers)]
        stopping.append(threading.Thread(target=self.registry.stop, daemon=True))
        stopping += [threading.Thread(target=server.shutdown, daemon=True) for server in (self._moto, self._control) if server]
        for thread in stopping:
            thread.start()
        for filler, thread in zip(reversed(self.fillers), stopping, strict=False):
            server = getattr(filler, "server", None)  # a filler's own HTTP server (the ECR front, the task-role gateway)
            if isinstance(server, socketserver.BaseServer):
                threading.Thread(target=_wake, args=(server.server_address, thread), daemon=True).start()
        for thread in stopping:
            thread.join(timeout=10)
        for server in (self._moto, self._control):  # the ports are free again
            if server is not None:
                server.server_close()
        if self._registry_port is not None:
            HeldPort.hand_to(None, self._registry_port.release())  # a lab that never warmed
        if self._docker is not None:
            try:
                self._docker.close()
            except Exception:
                log.exception("closing the Docker client")
            self._docker = None
        shutil.rmtree(self.config.registry_dir, ignore_errors=True)  # nothing could pull it after this lab
        try:
            if json.loads(self.config.state_file.read_text()).get("pid") == os.getpid():
                self.config.state_file.unlink()
        except (OSError, ValueError):
            pass

    @staticmethod
    def _stop_filler(filler: GapFiller) -> None:
        try:
            filler.stop()
        except Exception:  # one broken filler must not keep the others running
            log.exception("filler %s failed to stop", filler.name)

    def reset(self) -> None:
        """Fresh AWS state (same seed, so the same IDs again) and an empty registry."""
        self.wait_warm()
        with self._resetting:
            LAB_LOCK.forbid("ecslab reset (it calls the lab's own API)")
            gc.unfreeze()  # the warm-up's objects (warm_up): moto's old state among them is collectable again
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

    def _seed_in_process(self) -> None:
        """The same request to moto as :meth:`_seed`, made in this process (the endpoint holds requests until warm)."""
        from werkzeug.test import Client

        assert self._moto_app is not None
        host = f"{self.config.host}:{self.config.aws_port}"
        answer = Client(self._moto_app).post(f"/moto-api/seed?a={SEED}", headers={"Host": host})
        if answer.status_code != 200:
            raise RuntimeError(f"moto refused its seed: {answer.status}")

    @staticmethod
    def _post(url: str) -> None:
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _connect_docker(self) -> None:
        """Make the Docker client while IAM is built and moto seeded, so the fillers find it made.

        It waits for ``ecslab up`` to have seen to the engine, and for moto's imports: two threads
        importing the same packages (requests, urllib3) at once can meet a module half imported."""
        self.engine_checked.wait()
        self._imported.wait()
        self._filler_context()
        self._mark("docker client")

    def _filler_context(self) -> FillerContext:
        """The fillers' context; one Docker client for the lab's life (made again only while no engine answered)."""
        with self._docker_lock:
            return self._filler_context_locked()

    def _filler_context_locked(self) -> FillerContext:
        if self._docker is None:
            try:
                import docker

                client: Any = docker.from_env(timeout=5)
                client.ping()
                self._docker = client
            except Exception:
                self._docker = None
        return FillerContext(config=self.config, docker=self._docker, registry_url=self.registry.url)

    def ready(self) -> dict[str, Any]:
        """What answers at once, warm or not (``GET /ready``: what ``ecslab up`` waits for)."""
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
            "warm": self.warm.is_set(),
        }

    def status(self) -> dict[str, Any]:
        self.wait_warm()
        assert self.wired is not None
        report = self.ready()
        del report["warm"]
        return (
            report | {"fillers": [filler.describe() for filler in self.wired.in_display_order()]} | fillers_status(self.fillers)
        )

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


def _wake(address: Any, stopping: threading.Thread) -> None:
    """Connect to a stopping server now and then until it has stopped: its ``serve_forever`` notices
    ``shutdown()`` only when its 0.5 s poll ends or a connection wakes it, and ``ecslab down`` waits for that."""
    while stopping.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection(address[:2], timeout=0.2).close()
        stopping.join(0.02)


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


def _process_age() -> float:
    """Minus the seconds this process has run (from /proc, 10 ms ticks; 0 where there is none): when Python started."""
    started = process_start_time(os.getpid())
    try:
        with open("/proc/uptime") as uptime:
            now = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return 0.0 if started is None else -(now - started / os.sysconf("SC_CLK_TCK"))


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
        if self.path == "/ready":
            self._reply(200, self.lab.ready())
            return
        if self.path == "/status":
            self._reply(200, self.lab.status())
            return
        self.lab.wait_warm()
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
            self.lab.wait_warm()
            for filler in self.lab.fillers:
                answer = filler.control("POST", self.path)
                if answer is not None:
                    self._reply(200, answer)
                    return
            self._reply(404, {"error": f"no such control path {self.path}"})


def _handler(lab: LabProcess) -> type[BaseHTTPRequestHandler]:
    return type("ControlHandler", (ControlHandler,), {"lab": lab})


def _lab_partition(region: str) -> str:
    """The partition of the lab's region (``aws`` for ``us-east-1``), as moto names IAM's backends."""
    from moto.utilities.utils import get_partition

    return str(get_partition(region))


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
    if ENGINE_CHECKED in argv[2:]:
        lab.await_engine_check()
    signal.signal(signal.SIGTERM, lambda *_: lab.shutdown_requested.set())
    signal.signal(signal.SIGINT, lambda *_: lab.shutdown_requested.set())
    try:
        lab.start()
    except Exception as error:
        print(f"ecslab lab failed to start: {error}", file=sys.stderr, flush=True)
        lab.stop()
        return 1
    print(f"ecslab lab ready at {time.strftime('%H:%M:%S')}: {json.dumps(lab.ready())}", flush=True)
    lab.shutdown_requested.wait()
    stopping = time.monotonic()
    lab.stop()
    print(f"ecslab lab stopped in {time.monotonic() - stopping:.2f} s", flush=True)
    return 1 if lab.warm_error is not None and lab.warm_error != "The lab is stopping." else 0


def _exit(code: int) -> None:
    """Leave at once once the lab has stopped: its threads are done with, and tearing down the
    interpreter's objects (moto's backends) would only keep `ecslab down` waiting."""
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main(sys.argv))
