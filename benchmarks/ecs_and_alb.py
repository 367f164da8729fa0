"""ECS services and the ALB in the lab: how fast, how many failures, against nginx.

Goals (from the issues; printed, never asserted):

- a service with 3 tasks, from ``create_service`` to all RUNNING: at most 5 s on a
  2-core machine (real Fargate takes 30-60 s);
- a rolling deployment v1 -> v2 of 3 tasks under 50 requests/s: at most 15 s, and
  0 failed requests of at least 1000;
- the lab's listener against nginx as a reverse proxy over the same 3 containers,
  same client, same concurrency, in one run: at least 0.5x nginx's throughput and
  at most 5 ms added p99 latency. Skipped with a note when nginx is not installed
  (``apt-get install nginx``).

Runs a private lab (own state folder and ports), so the default lab is untouched.

    python -m benchmarks.ecs_and_alb
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.report import Goal, free_ports, machine_header, print_series, print_value

if TYPE_CHECKING:
    from ecslab.config import LabConfig

START_GOAL = Goal(5, "s")
ROLL_GOAL = Goal(15, "s")
FAILED_GOAL = Goal(0, "failed requests")
ADDED_P99_GOAL = Goal(5, "ms")


def _lab(config: LabConfig) -> Any:
    """Clients, the sample app pushed as ``bench:v1`` and the execution role, in the running lab ``config`` describes."""
    import boto3

    from ecslab import ecr as ecr_tools
    from ecslab import security
    from ecslab.engine import docker_client
    from ecslab.images import build_sample_app

    arguments = {
        "endpoint_url": config.endpoint_url,
        "region_name": config.region,
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }

    class Lab:
        pass

    lab: Any = Lab()
    lab.config, lab.is_local = config, True
    for name in ("ecs", "ecr", "ec2", "elbv2", "iam"):
        setattr(lab, name, boto3.client(name, **arguments))
    lab.docker = docker_client()
    build_sample_app(tag="ecslab-sample:v1", show_progress=False)
    uri = lab.ecr.create_repository(repositoryName="bench")["repository"]["repositoryUri"]
    ecr_tools.push_image(lab.docker, "ecslab-sample:v1", uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
    lab.image = f"{uri}:v1"
    lab.execution_role_arn = security.ensure_execution_role(lab.iam)  # Fargate pulls from ECR with it
    lab.subnets = [s["SubnetId"] for s in lab.ec2.describe_subnets()["Subnets"]][:2]
    return lab


def service_start(lab: Any, runs: int = 3) -> list[float]:
    from ecslab import ecs as ecs_tools

    durations = []
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("start", lab.image, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    for run in range(runs):
        cluster = f"start-{run}"
        lab.ecs.create_cluster(clusterName=cluster)
        started = time.monotonic()
        lab.ecs.create_service(
            cluster=cluster,
            serviceName="s",
            taskDefinition=definition,
            desiredCount=3,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": lab.subnets}},
        )
        while lab.ecs.describe_services(cluster=cluster, services=["s"])["services"][0]["runningCount"] < 3:
            time.sleep(0.05)
        durations.append(time.monotonic() - started)
        lab.ecs.delete_service(cluster=cluster, service="s", force=True)
    return durations


def load_balanced(lab: Any) -> dict[str, str]:
    from ecslab import ecs as ecs_tools
    from ecslab import elb as elb_tools
    from ecslab import network

    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    lab.ecs.create_cluster(clusterName="alb")
    alb_group, task_group = network.create_web_security_groups(
        lab.ec2, vpc, prefix="bench"
    )  # the listener admits no one without them
    balancer = lab.elbv2.create_load_balancer(Name="bench", Subnets=lab.subnets, SecurityGroups=[alb_group])["LoadBalancers"][0]
    group = lab.elbv2.create_target_group(
        Name="bench",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]
    lab.elbv2.modify_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}]
    )
    lab.elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("web", lab.image, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster="alb",
        serviceName="web",
        taskDefinition=definition,
        desiredCount=3,
        launchType="FARGATE",
        # a public IP: nginx_over calls the tasks directly, as a reverse proxy outside the VPC would
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": lab.subnets, "securityGroups": [task_group], "assignPublicIp": "ENABLED"}
        },
        loadBalancers=[{"targetGroupArn": group["TargetGroupArn"], "containerName": "web", "containerPort": 8080}],
    )
    lab.elbv2.get_waiter("target_in_service").wait(
        TargetGroupArn=group["TargetGroupArn"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return {"url": elb_tools.listener_url(lab, balancer["LoadBalancerArn"]), "tg": group["TargetGroupArn"]}


def rolling_deploy(lab: Any, url: str) -> tuple[float, dict[str, Any]]:
    from ecslab import ecs as ecs_tools
    from ecslab import elb as elb_tools

    second = lab.ecs.register_task_definition(
        **ecs_tools.task_definition(
            "web", lab.image, environment={"APP_VERSION": "v2"}, execution_role_arn=lab.execution_role_arn
        )
    )["taskDefinition"]["taskDefinitionArn"]
    with elb_tools.TrafficGenerator(url, rate=50, concurrency=5) as traffic:
        time.sleep(2)
        started = time.monotonic()
        lab.ecs.update_service(cluster="alb", service="web", taskDefinition=second)
        time.sleep(0.5)
        while True:
            described = lab.ecs.describe_services(cluster="alb", services=["web"])["services"][0]
            if len(described["deployments"]) == 1 and described["deployments"][0]["rolloutState"] == "COMPLETED":
                break
            time.sleep(0.1)
        duration = time.monotonic() - started
        while len(traffic.responses) < 1000:
            time.sleep(0.2)
    return duration, traffic.summary()


def hammer(host: str, port: int, seconds: float = 8, concurrency: int = 8) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) with keep-alive clients."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def work() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        mine = []
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                connection.request("GET", "/")
                connection.getresponse().read()
                mine.append(time.monotonic() - started)
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=10)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return len(latencies) / seconds, 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan")


def nginx_over(lab: Any, tg: str) -> tuple[subprocess.Popen[bytes], int] | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        return None
    from ecslab import ecs as ecs_tools

    tasks = ecs_tools.service_tasks(lab.ecs, "alb", "web")
    upstreams = "\n".join(f"server {ecs_tools.lab_internal_task_url(task, config=lab.config)[7:]};" for task in tasks)
    (port,) = free_ports(1)
    folder = Path(tempfile.mkdtemp(prefix="ecslab-nginx-"))
    (folder / "nginx.conf").write_text(
        f"worker_processes 1; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; client_body_temp_path {folder}; proxy_temp_path {folder}; fastcgi_temp_path {folder}; uwsgi_temp_path {folder}; scgi_temp_path {folder};\n"  # noqa: E501 (nginx.conf, one line)
        f"  upstream tasks {{ {upstreams} }}\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://tasks; }} }} }}\n"
    )
    process = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return process, port


def main(argv: list[str] | None = None) -> int:
    from ecslab.lab.private import PrivateLab

    print(machine_header("ECS services and the ALB"))
    with PrivateLab() as private_lab:  # own temp folder and reserved ports; down, containers removed, at the end
        lab = _lab(private_lab.config)
        print_series("service of 3 tasks, create to all RUNNING", service_start(lab), START_GOAL)
        alb = load_balanced(lab)
        duration, summary = rolling_deploy(lab, alb["url"])
        print_value("rolling deploy v1 -> v2, 3 tasks, 50 req/s", duration, "s", ROLL_GOAL)
        print_value(
            "failed requests during it",
            summary["failed"],
            "requests",
            FAILED_GOAL,
            note=f"of {summary['requests']}; {summary['by_version']}",
        )
        lab_port = int(alb["url"].rsplit(":", 1)[1])
        nginx = nginx_over(lab, alb["tg"])
        lab_rps, lab_p99 = hammer("127.0.0.1", lab_port)
        if nginx is None:
            print_value("lab listener throughput", lab_rps, "req/s", note="nginx not installed: apt-get install nginx to compare")
            print_value("lab listener p99", lab_p99, "ms")
        else:
            process, port = nginx
            try:
                nginx_rps, nginx_p99 = hammer("127.0.0.1", port)
            finally:
                process.terminate()
            print_value(
                "lab listener throughput / nginx",
                lab_rps / nginx_rps,
                "x",
                note=f"lab {lab_rps:.0f} req/s, nginx {nginx_rps:.0f} req/s; goal ≥ 0.5x",
            )
            print_value(
                "added p99 latency vs nginx",
                lab_p99 - nginx_p99,
                "ms",
                ADDED_P99_GOAL,
                note=f"lab {lab_p99:.1f} ms, nginx {nginx_p99:.1f} ms",
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
