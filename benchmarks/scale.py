"""Services that grow: how start time and the lab's memory grow with the task count.

Goals (issue 17; printed, never asserted): a service of 20 tasks, from ``create_service`` to every
task RUNNING and every target ``healthy`` behind an ALB with AWS's shortest health settings
(interval 5 s, healthy threshold 2: the minimums of ``HealthCheckIntervalSeconds`` and
``HealthyThresholdCount`` in the ELBv2 API), in at most 15 s; the lab's memory (RSS of the lab
process and its registry) at most 3 MB more per extra task.

For each size of ``--tasks`` (default 1, 5, 10, 20, 40), on one private lab: a new cluster, target
group and ALB; the service is created; the time until all its tasks are RUNNING and until all its
targets are healthy is taken, and the lab's memory before and once all are healthy; then the
service, ALB and target group are deleted and the next size starts from an idle lab. A service of
20 tasks is the issue's benchmark; the others make the table.

Under each row (unless ``--no-breakdown``), where the start went: the lab's clocks of the ECS agent's
launches (``GET /ecs/launch-timings``: each phase's median and maximum over the tasks, from the
scheduler making the task to RUNNING with its targets registered), the tasks that stopped on the way
(a failed start is replaced after a back-off), and the CPU seconds the lab process, the Docker engine's
processes and the whole machine used from ``create_service`` to all RUNNING: a machine whose CPUs were
all busy says the figure is the machine's, not the lab's.

    python -m benchmarks.scale [--tasks 1,5,10,20,40] [--no-breakdown]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.report import Goal, load_average, machine_busy_seconds, machine_header, print_value, processes

HEALTHY_GOAL = Goal(15, "s")
"""20 tasks, create -> all RUNNING and healthy behind an ALB (interval 5 s, threshold 2)."""
PER_TASK_GOAL = Goal(3, "MB")
"""The lab's RSS per extra task."""
GOAL_TASKS = 20
INTERVAL_S = 5
"""``HealthCheckIntervalSeconds``: 5-300 (the API's minimum)."""
HEALTHY_THRESHOLD = 2
"""``HealthyThresholdCount``: 2-10 (the API's minimum)."""


@dataclass(frozen=True)
class ScaleRun:
    """One service of ``tasks`` tasks: seconds to all RUNNING and to all healthy, the lab's RSS (MB) before and after."""

    tasks: int
    running_s: float
    healthy_s: float
    rss_before_mb: float
    rss_after_mb: float
    lab_threads: int
    launches: tuple[dict[str, Any], ...] = ()
    """The lab's clocks of this service's launches (``GET /ecs/launch-timings``): each phase's seconds."""
    created_wall: float = 0.0
    """``time.time()`` when ``create_service`` was called."""
    failures: dict[str, int] | None = None
    """Tasks that stopped before all were healthy, by stop code and reason (a failed start is replaced after a back-off)."""
    cpu_to_running: dict[str, float] | None = None
    """CPU seconds from ``create_service`` to all RUNNING: the lab process, the engine's processes, the whole machine."""

    @property
    def per_task_mb(self) -> float:
        return (self.rss_after_mb - self.rss_before_mb) / self.tasks


def lab_rss(home: Any) -> tuple[float, int]:
    """RSS (MB) of the lab process and its descendants, and the lab process's thread count."""
    from pathlib import Path

    from benchmarks.lab_cold_start import lab_memory

    memory = lab_memory(Path(home))
    threads = 0
    status = Path(f"/proc/{memory[0].pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
    return sum(process.rss_mb for process in memory), threads


def cpu_seconds(home: Any) -> dict[str, float]:
    """CPU seconds (user + system) so far of the lab process, of the engine's processes (machine-wide: other labs'
    use counts too), and of the whole machine."""
    import json
    from pathlib import Path

    lab_pid = int(json.loads((Path(home) / "lab.json").read_text())["pid"])
    running = processes().values()
    return {
        "lab": sum(process.cpu_s for process in running if process.pid == lab_pid),
        "engine": sum(process.cpu_s for process in running if process.is_engine),
        "machine": machine_busy_seconds(),
    }


def run_size(lab: Any, tasks: int, definition: str, vpc: str, groups: tuple[str, str], timeout: float = 300) -> ScaleRun:
    """Create a service of ``tasks`` tasks behind a new ALB; time it to RUNNING and healthy; remove it all."""
    from ecslab import ecs as ecs_tools
    from ecslab import elb as elb_tools
    from ecslab.lab import manage

    name = f"scale-{tasks}"
    alb_group, task_group = groups
    lab.ecs.create_cluster(clusterName=name)
    balancer = lab.elbv2.create_load_balancer(Name=name, Subnets=lab.subnets, SecurityGroups=[alb_group])["LoadBalancers"][0]
    group = lab.elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=INTERVAL_S,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=HEALTHY_THRESHOLD,
    )["TargetGroups"][0]
    lab.elbv2.modify_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]
    )
    lab.elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    time.sleep(1)
    rss_before, _threads = lab_rss(lab.config.home)
    manage.control(lab.config, "POST", "/ecs/launch-timings/clear")
    cpu_before = cpu_seconds(lab.config.home)
    cpu_running: dict[str, float] = {}
    created_wall = time.time()
    started = time.monotonic()
    lab.ecs.create_service(
        cluster=name,
        serviceName="web",
        taskDefinition=definition,
        desiredCount=tasks,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": lab.subnets, "securityGroups": [task_group]}},
        loadBalancers=[{"targetGroupArn": group["TargetGroupArn"], "containerName": "web", "containerPort": 8080}],
    )
    running_s = healthy_s = float("nan")
    deadline = started + timeout
    while time.monotonic() < deadline:
        now = time.monotonic() - started
        if running_s != running_s:  # nan: not all RUNNING yet
            if lab.ecs.describe_services(cluster=name, services=["web"])["services"][0]["runningCount"] >= tasks:
                running_s = now
                cpu_running = {key: value - cpu_before[key] for key, value in cpu_seconds(lab.config.home).items()}
        rows = elb_tools.target_health(lab.elbv2, group["TargetGroupArn"])
        if len(rows) >= tasks and elb_tools.healthy_count(rows) >= tasks:
            healthy_s = now
            break
        time.sleep(0.1)
    rss_after, threads = lab_rss(lab.config.home)
    launches = tuple(manage.control(lab.config, "GET", "/ecs/launch-timings")["launches"])
    stopped = lab.ecs.list_tasks(cluster=name, desiredStatus="STOPPED")["taskArns"]
    failures: dict[str, int] = {}
    for start in range(0, len(stopped), 100):
        for task in lab.ecs.describe_tasks(cluster=name, tasks=stopped[start : start + 100])["tasks"]:
            reason = f"{task.get('stopCode')}: {task.get('stoppedReason', '')}"[:160]
            failures[reason] = failures.get(reason, 0) + 1
    ecs_tools.remove_cluster(lab, name, timeout=120)
    lab.elbv2.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
    for _ in range(50):
        try:
            lab.elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            break
        except lab.elbv2.exceptions.ResourceInUseException:
            time.sleep(0.2)
    return ScaleRun(tasks, running_s, healthy_s, rss_before, rss_after, threads, launches, created_wall, failures, cpu_running)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def breakdown(run: ScaleRun) -> list[str]:
    """Where the tasks' start went: each phase of the agent's launch (median / max over the tasks), and the overlap."""
    if not run.launches:
        return ["    (the lab reported no launch timings)"]
    phases: dict[str, list[float]] = {}
    for launch in run.launches:
        for phase, seconds in launch["phases"].items():
            phases.setdefault(phase, []).append(float(seconds))
    lines = [f"    where the {run.tasks} task(s)' start went (the ECS agent's phases, s: median / max over the tasks):"]
    made = [launch["began"] - launch["phases"].get("queued", 0.0) - run.created_wall for launch in run.launches]
    lines.append(f"      {'create_service -> task made (tick, reconcile)':<48} {_quantile(made, 0.5):6.2f} / {max(made):6.2f}")
    for phase, values in phases.items():
        label = "made -> launch begins (tick, thread)" if phase == "queued" else phase
        lines.append(f"      {label:<48} {_quantile(values, 0.5):6.2f} / {max(values):6.2f}")
    for reason, count in (run.failures or {}).items():
        lines.append(f"      stopped before all were healthy: {count} task(s), {reason}")
    totals = [float(launch["total_s"]) for launch in run.launches]
    lines.append(f"      {'one launch, begin -> RUNNING':<48} {_quantile(totals, 0.5):6.2f} / {max(totals):6.2f}")
    if run.cpu_to_running:
        cpu, cores = run.cpu_to_running, os.cpu_count() or 1
        lines.append(
            f"      CPU from create_service to all RUNNING: lab process {cpu['lab']:.2f} s, Docker engine {cpu['engine']:.2f} s, "
            f"whole machine {cpu['machine']:.2f} s ({cores} CPUs x {run.running_s:.1f} s = {cores * run.running_s:.1f} s at most)"
        )
    first = min(launch["began"] for launch in run.launches)
    last = max(launch["began"] + launch["total_s"] for launch in run.launches)
    lines.append(
        f"      first launch begins {first - run.created_wall:.2f} s after create_service, the last is RUNNING at "
        f"{last - run.created_wall:.2f} s; launches at once: {sum(totals) / max(1e-9, last - first):.1f} on average"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="1,5,10,20,40", help="service sizes, comma-separated (default 1,5,10,20,40)")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false", help="no split of each size's start")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.tasks.split(",") if size.strip()]

    from benchmarks.ecs_and_alb import _lab
    from ecslab import ecs as ecs_tools
    from ecslab import network
    from ecslab.lab.private import PrivateLab

    print(machine_header("services that grow: 1 to 40 tasks behind an ALB"))
    with PrivateLab(timeout=120) as private_lab:
        lab = _lab(private_lab.config)
        vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        groups = network.create_web_security_groups(lab.ec2, vpc, prefix="scale")
        definition = lab.ecs.register_task_definition(
            **ecs_tools.task_definition("scale", lab.image, execution_role_arn=lab.execution_role_arn)
        )["taskDefinition"]["taskDefinitionArn"]
        idle, idle_threads = lab_rss(private_lab.config.home)
        print(f"  lab idle after setup: {idle:.0f} MB RSS, {idle_threads} threads in the lab process")
        print(
            f"  {'tasks':>5}  {'all RUNNING':>11}  {'all healthy':>11}  {'RSS before':>10}  {'RSS after':>9}  {'MB/task':>7}  threads"
            "  (healthy - RUNNING)"
        )
        runs = []
        for size in sizes:
            run = run_size(lab, size, definition, vpc, groups)
            runs.append(run)
            print(
                f"  {run.tasks:>5}  {run.running_s:>9.1f} s  {run.healthy_s:>9.1f} s  {run.rss_before_mb:>7.0f} MB"
                f"  {run.rss_after_mb:>6.0f} MB  {run.per_task_mb:>7.2f}  {run.lab_threads:>7}"
                f"  ({run.healthy_s - run.running_s:.1f} s)  load {load_average()}",
                flush=True,
            )
            if args.breakdown:
                print("\n".join(breakdown(run)), flush=True)
        for run in runs:
            if run.tasks == GOAL_TASKS:
                print_value(f"{GOAL_TASKS} tasks, create to all RUNNING", run.running_s, "s")
                print_value(
                    f"{GOAL_TASKS} tasks, create to all healthy (ALB, {INTERVAL_S} s, x{HEALTHY_THRESHOLD})",
                    run.healthy_s,
                    "s",
                    HEALTHY_GOAL,
                )
                print_value(f"lab RSS per extra task ({GOAL_TASKS} tasks)", run.per_task_mb, "MB", PER_TASK_GOAL)
                floor = INTERVAL_S * HEALTHY_THRESHOLD
                print(
                    f"    why: a target is healthy after {HEALTHY_THRESHOLD} passed checks {INTERVAL_S} s apart, the first one "
                    f"interval after it registers, so {floor} s after its task runs (the API's minimums); healthy came "
                    f"{run.healthy_s - run.running_s:.1f} s "
                    f"after all RUNNING, so the 15 s goal needs all {GOAL_TASKS} RUNNING within about {15 - floor} s "
                    f"(here {run.running_s:.1f} s)"
                )
        if len(runs) >= 2:
            first, last = runs[0], runs[-1]
            slope = (last.rss_after_mb - first.rss_after_mb) / max(1, last.tasks - first.tasks)
            print_value(f"lab RSS per extra task ({first.tasks} -> {last.tasks} tasks)", slope, "MB", PER_TASK_GOAL)
    print(f"  load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
