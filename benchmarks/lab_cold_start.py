"""How fast the lab starts and how much memory it holds.

Goals (issue 17): ``ecslab up`` from nothing to ready in at most 1.0 s on a 2-core machine
(with the seeded IDs still repeating), ``up`` plus the first AWS call at most 1.2 s, ``ecslab down``
at most 0.5 s; all lab processes (the lab process and its registry child) at most 200 MB resident
while idle (and at most 300 MB under the test suite, which this script does not run).

Each run uses a fresh state folder (``ECSLAB_HOME``) and free ports of its own, so
the default lab on 4566/5050/4567 is never touched. ``ecslab up`` and ``ecslab down``
run as a learner runs them, as commands in a shell (Python start included).

    python -m benchmarks.lab_cold_start [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import (
    Goal,
    descendants,
    load_average,
    machine_header,
    print_series,
    print_value,
    processes,
    python_bin,
)

UP_GOAL = Goal(1.0, "s")
UP_AND_CALL_GOAL = Goal(1.2, "s")
DOWN_GOAL = Goal(0.5, "s")
IDLE_MEMORY_GOAL = Goal(200, "MB")


@dataclass(frozen=True)
class ProcessMemory:
    """One process of the lab and its memory, from /proc."""

    pid: int
    name: str
    rss_mb: float
    """Resident set size: every page the process has in RAM, shared ones included."""
    pss_mb: float | None
    """Proportional set size: shared pages divided among the processes sharing them."""


def lab_env(home: Path) -> dict[str, str]:
    """The environment of a private lab: its own state folder and three ports reserved for it until
    this process ends (:func:`ecslab.lab.private.private_config`), as ``ECSLAB_*`` settings."""
    from ecslab.lab import private

    config = private.private_config(home)
    env = dict(os.environ)
    env.update(  # not ECSLAB_REGION: checking a region the learner set costs time `ecslab up` would be timed with
        ECSLAB_HOME=str(config.home),
        ECSLAB_AWS_PORT=str(config.aws_port),
        ECSLAB_REGISTRY_PORT=str(config.registry_port),
        ECSLAB_CONTROL_PORT=str(config.control_port),
    )
    return env


def run_ecslab(command: str, env: dict[str, str]) -> float:
    """Run ``ecslab COMMAND``; return its wall time in seconds. Raises with its output if it fails."""
    start = time.perf_counter()
    result = subprocess.run([python_bin("ecslab"), command], env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"`ecslab {command}` exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return elapsed


def cli_start_time(env: dict[str, str]) -> float:
    """``ecslab --help``: what Python and the CLI's imports cost before any lab work."""
    start = time.perf_counter()
    subprocess.run([python_bin("ecslab"), "--help"], env=env, capture_output=True, timeout=60, check=True)
    return time.perf_counter() - start


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the registry is the lab process's child)."""
    return descendants(pid, processes())


def process_memory(pid: int) -> ProcessMemory:
    """RSS from /proc/PID/status and PSS from /proc/PID/smaps_rollup (when the kernel has it)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rss_kb = float(fields["VmRSS"].split()[0])
    pss_mb: float | None = None
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss_mb = float(line.split()[1]) / 1024
                break
    except OSError:
        pass
    return ProcessMemory(pid=pid, name=fields["Name"].strip(), rss_mb=rss_kb / 1024, pss_mb=pss_mb)


def lab_memory(home: Path) -> list[ProcessMemory]:
    """Memory of every process of the lab whose state folder is ``home``."""
    state = json.loads((home / "lab.json").read_text())
    return [process_memory(pid) for pid in process_tree(int(state["pid"]))]


def wait_warm(env: dict[str, str], timeout: float = 60.0) -> None:
    """Until the lab of ``env`` says it is warm (``GET /ready``); it warms up in the background after ``up``."""
    from ecslab.config import LabConfig
    from ecslab.lab import manage

    config = LabConfig(
        home=Path(env["ECSLAB_HOME"]),
        aws_port=int(env["ECSLAB_AWS_PORT"]),
        registry_port=int(env["ECSLAB_REGISTRY_PORT"]),
        control_port=int(env["ECSLAB_CONTROL_PORT"]),
    )
    deadline = time.monotonic() + timeout
    while not manage.control(config, "GET", "/ready").get("warm") and time.monotonic() < deadline:
        time.sleep(0.05)


def slowest_imports(count: int = 6) -> list[tuple[str, float]]:
    """The modules whose own import code takes longest in the lab's warm-up (``python -X importtime``)."""
    code = (
        "from ecslab.lab.moto import quick_imports, regions\nwith quick_imports('us-east-1'):\n"
        "    regions.PATCHES.apply(regions.RegionIndex.for_this_machine())\n    import ecslab.lab.wiring, moto.server"
    )
    result = subprocess.run([python_bin("python"), "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=120)
    found: list[tuple[str, float]] = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and parts[0].split(":")[1].strip().isdigit():
            found.append((parts[2].strip(), int(parts[0].split(":")[1]) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:count]


def aws_clients(env: dict[str, str]) -> dict[str, Any]:
    """boto3 clients for the course's services, aimed at the lab of ``env`` (made before any timing)."""
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    endpoint = f"http://127.0.0.1:{env['ECSLAB_AWS_PORT']}"
    return {name: session.client(name, endpoint_url=endpoint) for name in ("ecs", "ecr", "elbv2", "iam", "logs")}


def first_call_time(clients: dict[str, Any]) -> float:
    """The first ``ecs.list_clusters()`` after ``up``: moto loads a service's code on its first call."""
    start = time.perf_counter()
    clients["ecs"].list_clusters()
    return time.perf_counter() - start


def a_few_aws_calls(clients: dict[str, Any]) -> float:
    """The calls notebook 00 and the first ECR/ECS notebooks make, across five services; returns seconds."""
    start = time.perf_counter()
    for name in ("bench-a", "bench-b", "bench-c"):
        clients["ecs"].create_cluster(clusterName=name)
    clients["ecs"].list_clusters()
    clients["ecs"].register_task_definition(
        family="bench", containerDefinitions=[{"name": "web", "image": "web:1", "memory": 128}]
    )
    clients["ecr"].create_repository(repositoryName="bench/web")
    clients["ecr"].describe_repositories()
    clients["elbv2"].describe_load_balancers()
    clients["iam"].list_roles()
    clients["logs"].create_log_group(logGroupName="/ecs/bench")
    return time.perf_counter() - start


def logged_seconds(home: Path, what: str) -> float | None:
    """Seconds the lab process logged for ``what`` ("warm": after its start; "stopped": its own stop)."""
    import re

    pattern = {"warm": r"ecslab lab warm at \S+ \(([\d.]+) s after start", "stopped": r"ecslab lab stopped in ([\d.]+) s"}[what]
    try:
        found = re.findall(pattern, (home / "lab.log").read_text(errors="replace"))
    except OSError:
        return None
    return float(found[-1]) if found else None


PIECES = """
import json, os, sys, tempfile, threading, time, tracemalloc
from pathlib import Path
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
traced = sys.argv[1] == "traced"
if traced:
    tracemalloc.start(12)
steps = []
clock = [time.perf_counter(), time.process_time()]

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))

def step(name):
    now, cpu = time.perf_counter(), time.process_time()
    steps.append({"step": name, "wall": now - clock[0], "cpu": cpu - clock[1], "rss": rss_mb(),
                  "traced": tracemalloc.get_traced_memory()[0] / 2**20 if traced else None})
    clock[:] = [time.perf_counter(), time.process_time()]

step("python started")
from ecslab.lab import manage, private, server
from ecslab.config import SEED
step("import ecslab.lab.server (what runs before ready)")
import gc
gc.disable()  # as the lab's warm-up does
from ecslab.lab.moto import quick_imports, regions
with quick_imports("us-east-1"):
    regions.PATCHES.apply(regions.RegionIndex.for_this_machine())
    from ecslab.lab.wiring import wire
    app = server._moto_app()
step("import moto and the fillers (warm-up)")
wired = wire()
from ecslab.lab.moto.ec2 import keep_instance_type_offerings
keep_instance_type_offerings("us-east-1")
step("make the fillers, keep one region's instance types")
from ecslab.lab.moto.iam import PARTITION_PATCHES
PARTITION_PATCHES.apply(server._lab_partition("us-east-1"))
server._make_iam()
step("IAM's managed policies")
from werkzeug.test import Client
client = Client(app)
client.post(f"/moto-api/seed?a={SEED}", headers={"Host": "127.0.0.1:4566"})
step("seed (moto's first request)")
config = private.private_config(Path(tempfile.mkdtemp()) / "lab")
manage.prepare_home(config)
from ecslab.lab.fillers import FillerContext
context = FillerContext(config=config, docker=None, registry_url="http://127.0.0.1:9")
for filler in wired.in_start_order():
    filler.start(context)
gc.freeze()
gc.enable()
step("start the fillers")
headers = {"Host": "127.0.0.1:4566", "Content-Type": "application/x-amz-json-1.1",
           "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x"}
client.post("/", headers={**headers, "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters"}, data="{}")
step("first ECS call (ECS backend made)")
ec2 = {**headers, "Authorization": headers["Authorization"].replace("/ecs/", "/ec2/"), "Content-Type": "application/x-www-form-urlencoded"}
client.post("/", headers=ec2, data="Action=DescribeVpcs&Version=2016-11-15")
step("first EC2 call (default VPC made)")
top = []
if traced:
    by_package = {}
    for stat in tracemalloc.take_snapshot().statistics("traceback"):
        key = "Python (stdlib, imports)"
        for frame in reversed(stat.traceback):  # the innermost frame of a package: who asked for the memory
            if "site-packages/" in frame.filename:
                parts = frame.filename.split("site-packages/")[-1].split("/")
                key = "/".join(parts[:2]) if parts[0] == "moto" and len(parts) > 2 else parts[0]
                break
            if "/ecslab/" in frame.filename:
                key = "ecslab"
                break
        by_package[key] = by_package.get(key, 0) + stat.size
    top = sorted(by_package.items(), key=lambda item: -item[1])[:8]
for filler in reversed(wired.in_start_order()):
    filler.stop()
private.release_config(config)
print(json.dumps({"steps": steps, "top": top, "threads": threading.active_count()}))
"""


def lab_pieces(traced: bool) -> dict[str, Any]:
    """The lab process's start in pieces, timed (or with tracemalloc) in a fresh Python of its own."""
    result = subprocess.run(
        [python_bin("python"), "-c", PIECES, "traced" if traced else "timed"], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"the breakdown failed:\n{result.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def print_breakdown() -> None:
    """Where the lab's start goes: each piece's wall and CPU seconds, RSS after it and what tracemalloc saw."""
    timed, traced = lab_pieces(traced=False), lab_pieces(traced=True)
    print("  where the lab process's start goes (one in-process run timed, one traced with tracemalloc):")
    print(f"    {'piece':<52} {'wall':>7} {'CPU':>7} {'RSS after':>10} {'traced':>8}")
    for plain, with_trace in zip(timed["steps"], traced["steps"], strict=True):
        print(
            f"    {plain['step']:<52} {plain['wall']:6.2f}s {plain['cpu']:6.2f}s {plain['rss']:8.0f}MB"
            f" {with_trace['traced'] or 0:6.0f}MB"
        )
    print(
        "    live Python memory after them by package (tracemalloc): "
        + ", ".join(f"{name} {size / 2**20:.0f} MB" for name, size in traced["top"])
    )
    print(f"    threads in the lab process with every filler started: {timed['threads']}")
    slowest = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in slowest_imports())
    print(f"    slowest imports of the warm-up (own code, -X importtime): {slowest}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=5, help="cold starts to time (default 5; one more lab, not timed, gives the memory figures)"
    )
    parser.add_argument("--no-breakdown", action="store_true", help="skip the in-process breakdown of the lab's start")
    args = parser.parse_args(argv)

    print(machine_header("lab cold start and memory"))
    up_times: list[float] = []
    first_call_times: list[float] = []
    down_times: list[float] = []
    cli_times: list[float] = []
    warm_times: list[float] = []
    stop_times: list[float] = []
    memory_idle: list[ProcessMemory] = []
    memory_used: list[ProcessMemory] = []
    calls_s = 0.0
    with tempfile.TemporaryDirectory(prefix="ecslab-bench-") as tmp:
        for run in range(args.runs + 1):
            env = lab_env(Path(tmp) / f"lab-{run}")
            clients = aws_clients(env)
            home = Path(env["ECSLAB_HOME"])
            if run == args.runs:  # one more lab for memory, idle (warm, no call yet), then after AWS calls: not timed,
                try:  # its first call comes after the warm-up, so it would lower the first-call figures
                    run_ecslab("up", env)
                    wait_warm(env)
                    memory_idle = lab_memory(home)
                    first_call_time(clients)
                    calls_s = a_few_aws_calls(clients)
                    memory_used = lab_memory(home)
                finally:
                    run_ecslab("down", env)
                break
            cli_times.append(cli_start_time(env))
            try:
                up_times.append(run_ecslab("up", env))
                first_call_times.append(first_call_time(clients))
            finally:
                down_times.append(run_ecslab("down", env))
            warm_times += [seconds for seconds in [logged_seconds(home, "warm")] if seconds is not None]
            stop_times += [seconds for seconds in [logged_seconds(home, "stopped")] if seconds is not None]

    print_series("ecslab up, nothing to ready", up_times, UP_GOAL)
    print_series("  lab warm (moto, IAM, seed, fillers) after start", warm_times)
    print_series("  of which Python + CLI start", cli_times)
    print_series("first AWS call after up", first_call_times)
    print_series(
        "up + first AWS call", [up + call for up, call in zip(up_times, first_call_times, strict=True)], UP_AND_CALL_GOAL
    )
    print_series("ecslab down", down_times, DOWN_GOAL)
    print_series("  of which the lab process's own stop", stop_times)
    print_value("10 more AWS calls, 5 services", calls_s, "s", note="moto loads each service on its first call")
    for label, memory, goal in (
        ("lab memory, idle", memory_idle, IDLE_MEMORY_GOAL),
        ("lab memory, after AWS calls", memory_used, None),
    ):
        total_rss = sum(process.rss_mb for process in memory)
        total_pss = sum(process.pss_mb or 0.0 for process in memory)
        parts = ", ".join(f"{process.name} {process.rss_mb:.0f}" for process in memory)
        print_value(label + " (RSS)", total_rss, "MB", goal, note=f"PSS {total_pss:.0f} MB; RSS by process: {parts}")
    if not args.no_breakdown:
        print_breakdown()
    print(f"  load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
