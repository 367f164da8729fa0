"""Live test of the workshop hub: three learners, each in their own course container.

Run it with `bash workshop/test-hub.sh` (it uses workshop/.venv, which has the docker SDK).
It starts workshop/jupyterhub_config.py on free 127.0.0.1 ports with a short cull timeout, then:

1. creates three learners and starts their servers through the hub's REST API (the first
   alone, then two at once), timing each from the spawn request to "ready";
2. reaches each learner's JupyterLab through the hub's proxy;
3. shows isolation: a cluster and a container made in one learner's lab are not in another's;
   another learner's container, lab ports and published port cannot be reached;
4. runs exercise checks (nbval on solution notebooks) in the three containers at once,
   sampling each container's memory and CPU (docker stats, nested task containers included);
5. keeps two learners active and lets the idle culler stop the third: its container and the
   task containers inside it are gone, the other two still run;
6. prints the figures and an estimate of learners per server, as JSON too (--json FILE).

Everything it starts (hub, proxy, containers, volumes, network) is removed, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker

HERE = Path(__file__).resolve().parent
PREFIX = "ecslab-hub-test"
LEARNERS = ["ada", "bob", "cy"]
CULL_TIMEOUT = 45
NOTEBOOKS = ["solutions/00-setup.ipynb", "solutions/02-images-and-containers.ipynb", "solutions/04-ecs-concepts.ipynb"]


def say(text: str) -> None:
    print(f"[hub-test {time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """The hub under test, reached through its proxy with the scripts' admin token."""

    def __init__(self, state: Path, image: str) -> None:
        self.state = state
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.env = {
            **os.environ,
            "ECSLAB_HUB_IMAGE": image,
            "ECSLAB_HUB_STATE": str(state),
            "ECSLAB_HUB_PREFIX": PREFIX,
            "ECSLAB_HUB_PORT": str(self.port),
            "ECSLAB_HUB_PROXY_API_PORT": str(free_port()),
            "ECSLAB_HUB_API_PORT": str(free_port()),
            "ECSLAB_HUB_PASSWORD": secrets.token_urlsafe(12),
            "ECSLAB_HUB_ADMIN_PASSWORD": secrets.token_urlsafe(40),
            "ECSLAB_HUB_API_TOKEN": self.token,
            "ECSLAB_HUB_CULL_TIMEOUT": str(CULL_TIMEOUT),
            "ECSLAB_HUB_CULL_EVERY": "5",
            "ECSLAB_HUB_ACTIVITY_INTERVAL": "5",
        }
        self.process: subprocess.Popen | None = None
        self.log_path = state / "hub.log"

    def start(self) -> None:
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(HERE / ".venv" / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
            cwd=self.state,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if self.request("GET", "/hub/api/", timeout=5)[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the hub did not answer within 90 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def api(self, method: str, path: str, body: dict | None = None) -> dict | list | None:
        status, data = self.request(method, f"/hub/api{path}", body)
        if status >= 400:
            raise RuntimeError(f"{method} /hub/api{path}: {status} {data[:300]!r}")
        return json.loads(data) if data else None

    def server(self, name: str) -> dict | None:
        user = self.api("GET", f"/users/{name}")
        assert isinstance(user, dict)
        return user["servers"].get("")

    def spawn(self, name: str) -> float:
        """Start a learner's server; seconds from the request until the hub says it is ready."""
        started = time.monotonic()
        self.api("POST", f"/users/{name}/server")
        while time.monotonic() - started < 400:
            server = self.server(name)
            if server and server["ready"]:
                return time.monotonic() - started
            if server is None and time.monotonic() - started > 5:
                raise RuntimeError(f"{name}'s server failed to start:\n{self.log_tail()}")
            time.sleep(0.5)
        raise RuntimeError(f"{name}'s server not ready after 400 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the hub stops its servers, culler, proxy
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        pid_file = self.state / "proxy.pid"
        if pid_file.exists():  # the proxy runs in its own session
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


def container(name: str) -> str:
    return f"{PREFIX}-{name}"


def sh(name: str, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a shell script in a learner's container (as `docker exec`)."""
    return subprocess.run(
        ["docker", "exec", "-w", "/course", container(name), "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lab_python(name: str, code: str) -> str:
    out = sh(name, f"python - <<'EOF'\nimport ecslab\nlab = ecslab.connect()\n{code}\nEOF")
    if out.returncode:
        raise RuntimeError(f"python in {name}'s container failed: {out.stderr[-800:]}")
    return out.stdout.strip()


def mem_and_cpu(client: docker.DockerClient, name: str) -> tuple[float, float, float | None]:
    """(memory as docker stats shows it MiB, CPU nanoseconds used so far, cgroup peak MiB or None)."""
    stats = client.containers.get(container(name)).stats(stream=False)
    mem = stats["memory_stats"]
    extra = mem.get("stats", {})
    cache = extra.get("total_inactive_file", extra.get("inactive_file", extra.get("cache", 0)))
    peak = mem.get("max_usage")
    return (
        (mem["usage"] - cache) / 2**20,
        float(stats["cpu_stats"]["cpu_usage"]["total_usage"]),
        peak / 2**20 if peak else None,
    )


def reachable(from_name: str, host: str, port: int) -> bool:
    code = f"import socket; socket.create_connection(('{host}', {port}), timeout=3).close()"
    return sh(from_name, f'python -c "{code}"', timeout=20).returncode == 0


def host_has_process(marker: str) -> bool:
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                return True
        except OSError:
            continue
    return False


def remove_leftovers(client: docker.DockerClient) -> None:
    """Only what this test names: containers, volumes and the network with its prefix."""
    for c in client.containers.list(all=True, filters={"name": f"^{PREFIX}-"}):
        c.remove(force=True)
    for v in client.volumes.list():
        if v.name.startswith(f"{PREFIX}-") and v.name.endswith(("-work", "-engine")):
            v.remove(force=True)
    for n in client.networks.list(names=[PREFIX]):
        if n.name == PREFIX:
            n.remove()


def estimate(per_learner_peak_mib: float, cpu_s_per_learner: float) -> dict:
    """Learners per 16-core 64 GB server from the measured figures, with the assumptions stated."""
    reserve_gib = 4  # the OS, dockerd, the hub and proxy, page cache headroom
    mem_learners = int((64 - reserve_gib) * 1024 // per_learner_peak_mib)
    burst_s = 60  # everyone runs the same step at once ("now run the checks"): done within a minute
    cpu_learners = int(burst_s * 16 // cpu_s_per_learner)
    return {
        "learners": min(mem_learners, cpu_learners),
        "by_memory": mem_learners,
        "by_cpu": cpu_learners,
        "assumptions": (
            f"memory: every learner at the measured peak at once, {reserve_gib} GiB kept for the host; "
            f"CPU: every learner runs the same checks ({cpu_s_per_learner:.0f} CPU-seconds each, measured) "
            f"at the same moment and they should all finish within {burst_s} s on 16 fully used cores; "
            "disk and the engine's image cache not limiting"
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("ECSLAB_HUB_IMAGE", "ecslab-course:latest"))
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep-state", action="store_true", help="keep the hub's state folder (its log)")
    args = parser.parse_args()

    client = docker.from_env()
    client.images.get(args.image)  # fails clearly when the course image is missing
    remove_leftovers(client)
    state = Path(tempfile.mkdtemp(prefix="ecslab-hub-test-"))
    hub = Hub(state, args.image)
    results: dict = {
        "image": args.image,
        "image_id": client.images.get(args.image).short_id,
        "host": f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Docker {client.version()['Version']}",
        "learners": {},
        "checks": {},
    }
    active: set[str] = set()
    stop_pinging = threading.Event()
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        say(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    def pinger() -> None:  # activity through the proxy, as a learner's browser makes it
        while not stop_pinging.wait(3):
            for name in list(active):
                hub.request("GET", f"/user/{name}/api/status", timeout=10)

    try:
        say(f"starting the hub on 127.0.0.1:{hub.port} (state {state})")
        hub.start()
        hub.api("POST", "/users", {"usernames": LEARNERS})
        threading.Thread(target=pinger, daemon=True).start()

        say(f"spawning {LEARNERS[0]} alone")
        results["learners"][LEARNERS[0]] = {"start_s": round(hub.spawn(LEARNERS[0]), 1), "started": "alone"}
        active.add(LEARNERS[0])
        say(f"spawning {LEARNERS[1:]} at once")
        times: dict[str, float] = {}
        threads = [threading.Thread(target=lambda n=n: times.__setitem__(n, hub.spawn(n))) for n in LEARNERS[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name in LEARNERS[1:]:
            check(name in times, f"{name}'s server started through the hub's REST API")
            results["learners"][name] = {"start_s": round(times[name], 1), "started": "two at once"}
            active.add(name)
        for name in LEARNERS:
            status, body = hub.request("GET", f"/user/{name}/api/contents")
            names = [item["name"] for item in json.loads(body)["content"]] if status == 200 else []
            check(
                status == 200 and "exercises" in names,
                f"{name}'s JupyterLab answers through the hub; exercises in its home: {names}",
            )

        time.sleep(5)
        for name in LEARNERS:
            mem, _, _ = mem_and_cpu(client, name)
            results["learners"][name]["idle_mib"] = round(mem)
        say("idle memory (MiB): " + ", ".join(f"{n} {results['learners'][n]['idle_mib']}" for n in LEARNERS))

        # -- isolation -------------------------------------------------------------------------
        base = sh(LEARNERS[0], "cat /opt/ecslab/sample-base.name").stdout.strip()
        markers = {}
        for i, name in enumerate(LEARNERS):
            lab_python(name, f"lab.ecs.create_cluster(clusterName='only-in-{name}')")
            markers[name] = f"sleep {3600 + i}{os.getpid() % 1000}"
            out = sh(name, f"docker run -d --name only-in-{name} {base} {markers[name]}")
            check(out.returncode == 0, f"{name} runs a container in its own engine")
        clusters = {
            name: json.loads(lab_python(name, "import json; print(json.dumps(lab.ecs.list_clusters()['clusterArns']))"))
            for name in LEARNERS
        }
        engines = {name: sh(name, "docker ps -a --format '{{.Names}}'").stdout.split() for name in LEARNERS}
        info = {name: client.containers.get(container(name)).attrs for name in LEARNERS}
        ips = {name: info[name]["NetworkSettings"]["Networks"][PREFIX]["IPAddress"] for name in LEARNERS}
        pools = client.networks.get(PREFIX).attrs["IPAM"]["Config"] or [{}]
        gateway = pools[0].get("Gateway", "").split("/")[0]
        if not gateway:  # some engines leave the key out; the config logs the address it found
            gateway = hub.log_path.read_text().split("hub API on ", 1)[1].split()[0]
        published = {name: int(info[name]["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]) for name in LEARNERS}
        hub_api_port = int(hub.env["ECSLAB_HUB_API_PORT"])
        for name in LEARNERS:
            # The control: the network works, the hub's API on the gateway answers each learner.
            check(reachable(name, gateway, hub_api_port), f"{name} reaches the hub's API at {gateway}:{hub_api_port}")
            check(any(a.endswith(f"/only-in-{name}") for a in clusters[name]), f"{name}'s lab has its own cluster")
            check(f"only-in-{name}" in engines[name], f"{name}'s engine has its own container")
            for other in LEARNERS:
                if other == name:
                    continue
                check(not any(a.endswith(f"/only-in-{other}") for a in clusters[name]), f"{name} does not see {other}'s cluster")
                check(f"only-in-{other}" not in engines[name], f"{name} does not see {other}'s containers")
            other = LEARNERS[(LEARNERS.index(name) + 1) % len(LEARNERS)]
            check(not reachable(name, ips[other], 8888), f"{name} cannot reach {other}'s JupyterLab at {ips[other]}:8888")
            check(not reachable(name, ips[other], 4566), f"{name} cannot reach {other}'s lab (AWS APIs) at {ips[other]}:4566")
            if gateway:
                check(
                    not reachable(name, gateway, published[other]),
                    f"{name} cannot reach {other}'s published port {gateway}:{published[other]}",
                )
        results["checks"]["isolation"] = "clusters, engine containers, container IPs, lab ports, published ports"

        # -- exercise checks in all three at once ----------------------------------------------
        say(f"running {', '.join(NOTEBOOKS)} with nbval in the three containers at once")
        samples: dict[str, list[float]] = {n: [] for n in LEARNERS}
        cpu_before = {n: mem_and_cpu(client, n)[1] for n in LEARNERS}
        done = threading.Event()

        def sample(name: str) -> None:
            while not done.is_set():
                samples[name].append(mem_and_cpu(client, name)[0])

        outcomes: dict[str, tuple[int, float, str]] = {}

        def run_checks(name: str) -> None:
            started = time.monotonic()
            out = sh(name, "python -m pytest -q -p no:cacheprovider --nbval-lax " + " ".join(NOTEBOOKS), timeout=900)
            outcomes[name] = (out.returncode, time.monotonic() - started, (out.stdout + out.stderr)[-600:])

        samplers = [threading.Thread(target=sample, args=(n,), daemon=True) for n in LEARNERS]
        runners = [threading.Thread(target=run_checks, args=(n,)) for n in LEARNERS]
        results["checks"]["host_load_average_1min_before"] = round(os.getloadavg()[0], 1)
        wall = time.monotonic()
        for t in samplers + runners:
            t.start()
        for t in runners:
            t.join()
        wall = time.monotonic() - wall
        done.set()
        results["checks"]["host_load_average_1min_after"] = round(os.getloadavg()[0], 1)
        for name in LEARNERS:
            rc, seconds, tail = outcomes[name]
            mem, cpu_after, peak = mem_and_cpu(client, name)
            cpu_s = (cpu_after - cpu_before[name]) / 1e9
            results["learners"][name].update(
                checks_s=round(seconds, 1),
                checks_peak_mib=round(max(samples[name] + [mem])),
                cgroup_peak_mib=round(peak) if peak else None,
                checks_cpu_s=round(cpu_s, 1),
                engine_volume_mib=int(sh(name, "du -smx /var/lib/docker | cut -f1").stdout.strip() or 0),
            )
            check(rc == 0, f"{name}'s checks pass ({seconds:.0f} s): {tail.strip().splitlines()[-1] if tail.strip() else ''}")
            if rc:
                say(tail)
        results["checks"]["notebooks"] = NOTEBOOKS
        results["checks"]["concurrent_wall_s"] = round(wall, 1)

        # -- the idle culler stops one learner -------------------------------------------------
        victim, others = LEARNERS[0], LEARNERS[1:]
        check(host_has_process(markers[victim]), f"{victim}'s task container runs (seen from the host: '{markers[victim]}')")
        active.discard(victim)
        say(f"{victim} goes idle; the culler should stop its server within {CULL_TIMEOUT} s + a few")
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < CULL_TIMEOUT + 90 and hub.server(victim) is not None:
            time.sleep(2)
        culled_after = time.monotonic() - idle_since
        check(hub.server(victim) is None, f"the culler stopped {victim}'s server after {culled_after:.0f} s idle")
        time.sleep(3)
        gone = not client.containers.list(all=True, filters={"name": f"^{container(victim)}$"})
        check(gone, f"{victim}'s container is removed")
        check(not host_has_process(markers[victim]), f"{victim}'s task containers are gone with it")
        for name in others:
            server = hub.server(name)
            check(bool(server and server["ready"]), f"{name} (active) still runs")
        results["checks"]["culled_after_idle_s"] = round(culled_after)

        for name in others:
            started = time.monotonic()
            hub.api("DELETE", f"/users/{name}/server")
            while hub.server(name) is not None and time.monotonic() - started < 90:
                time.sleep(1)
            results["learners"][name]["stop_s"] = round(time.monotonic() - started, 1)

        peak = max(v["checks_peak_mib"] for v in results["learners"].values())
        cpu_s = max(v["checks_cpu_s"] for v in results["learners"].values())
        results["estimate_16_cores_64_gb"] = estimate(peak, cpu_s)
    except Exception as error:  # report, then clean up
        failures.append(f"{type(error).__name__}: {error}")
        say(f"FAIL  {type(error).__name__}: {error}")
        say("hub log (end):\n" + hub.log_tail())
    finally:
        stop_pinging.set()
        say("removing the hub, the learners' containers, volumes and network")
        hub.stop()
        remove_leftovers(client)
        if not args.keep_state:
            subprocess.run(["rm", "-rf", str(state)], check=False)

    results["failures"] = failures
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    say("PASSED" if not failures else f"FAILED: {len(failures)} check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
