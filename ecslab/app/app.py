"""The course's sample app: a tiny JSON API on the standard library only.

Routes: ``/`` (a greeting with the version and the container's hostname),
``/health`` (for health checks), ``/work?ms=N`` (burns CPU for N ms, for load
tests). It logs one line per request to stdout, as a container should.
Built by every notebook from ``ecslab/app/Dockerfile``.
"""

import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "v1")
GREETINGS = {
    "v1": "Hello from the ecslab sample API",
    "v2": "Hello again: v2 of the ecslab sample API, now with a fortune",
}
FORTUNES = ["Small images start fast.", "Tags move; digests do not.", "A service heals itself."]
STARTED = time.time()


class Handler(BaseHTTPRequestHandler):
    server_version = "ecslab-sample/" + VERSION

    def _send(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/":
            body = {"message": GREETINGS.get(VERSION, "Hello"), "version": VERSION, "hostname": socket.gethostname()}
            if VERSION != "v1":
                body["fortune"] = FORTUNES[int(time.time()) % len(FORTUNES)]
            self._send(200, body)
        elif path == "/health":
            self._send(200, {"status": "ok", "version": VERSION, "uptime_s": round(time.time() - STARTED, 1)})
        elif path == "/work":
            params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
            ms = min(int(params.get("ms", "50")), 5000)
            end = time.perf_counter() + ms / 1000
            count = 0
            while time.perf_counter() < end:
                count += 1
            self._send(200, {"worked_ms": ms, "loops": count, "hostname": socket.gethostname()})
        else:
            self._send(404, {"error": "not found", "path": path})

    def log_message(self, format, *args):
        sys.stdout.write("%s %s %s\n" % (self.log_date_time_string(), VERSION, format % args))
        sys.stdout.flush()


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, stop)
    print(f"sample app {VERSION} listening on port {port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def stop(signum, frame):
    # As PID 1 in a container, a process that does not handle SIGTERM ignores it,
    # and `docker stop` (or ECS) waits out its grace period, then kills it.
    print(f"sample app {VERSION} got SIGTERM: stopping", flush=True)
    raise SystemExit(0)


if __name__ == "__main__":
    main()
