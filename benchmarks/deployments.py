"""ECS deployment strategies in the lab: blue/green and canary v1 -> v2 of 3 tasks under 50 requests/s.

Goals (issue 16; printed, never asserted):

- failed requests during each rollout: 0, of at least 1000 sent while it runs;
- how closely the traffic split follows the configured one: the listener's own per-target-group counts
  (``GET /elb/traffic``) in each step against the step's weight, at most 10 percentage points apart;
- the duration, from ``update_service`` to the service deployment's SUCCESSFUL, is printed beside what the
  configuration asks for on the lab's clock (one AWS minute lasts ``LAB_SECONDS_PER_AWS_MINUTE`` seconds)
  plus the green tasks' start and health checks.

Runs a private lab (own state folder and ports), so the default lab is untouched.

    python -m benchmarks.deployments
"""

from __future__ import annotations

import collections
import time
from typing import Any

from benchmarks.ecs_and_alb import _lab
from benchmarks.report import Goal, machine_header, print_value

FAILED_GOAL = Goal(0, "failed requests")
SPLIT_GOAL = Goal(10, "points")
REQUESTS_WANTED = 1000

STRATEGIES = {
    "blue/green": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 15},
    "canary 10%": {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 5,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 12},
    },
}


def stack(lab: Any, name: str, configuration: dict[str, Any]) -> dict[str, Any]:
    """An ALB with a blue and a green target group, a production rule and a test rule, and a service of 3 tasks (v1)."""
    from ecslab import ecs as ecs_tools
    from ecslab import elb as elb_tools
    from ecslab import network

    vpc = lab.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    lab.ecs.create_cluster(clusterName=name)
    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc, prefix=name)
    balancer = lab.elbv2.create_load_balancer(Name=name, Subnets=lab.subnets, SecurityGroups=[alb_group], Type="application")
    lb = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    groups = []
    for color in ("b", "g"):
        groups.append(elb_tools.create_app_target_group(lab.elbv2, f"{name}-{color}", vpc))
    listener = lab.elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    forward = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": groups[0], "Weight": 1}, {"TargetGroupArn": groups[1], "Weight": 0}]
            },
        }
    ]
    production = lab.elbv2.create_rule(
        ListenerArn=listener, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}], Actions=forward
    )["Rules"][0]["RuleArn"]
    test = lab.elbv2.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Test", "Values": ["green"]}}],
        Actions=forward,
    )["Rules"][0]["RuleArn"]
    definitions = [
        lab.ecs.register_task_definition(
            **ecs_tools.task_definition(
                name, lab.image, environment={"APP_VERSION": version}, execution_role_arn=lab.execution_role_arn
            )
        )["taskDefinition"]["taskDefinitionArn"]
        for version in ("v1", "v2")
    ]
    lab.ecs.create_service(
        cluster=name,
        serviceName="web",
        taskDefinition=definitions[0],
        desiredCount=3,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": lab.subnets, "securityGroups": [task_group]}},
        loadBalancers=[
            {
                "targetGroupArn": groups[0],
                "containerName": "web",
                "containerPort": 8080,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": groups[1],
                    "productionListenerRule": production,
                    "testListenerRule": test,
                    "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers",
                },
            }
        ],
        deploymentConfiguration=configuration,
    )
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=groups[0], WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    return {
        "cluster": name,
        "url": elb_tools.listener_url(lab, lb),
        "listener": listener,
        "blue": groups[0],
        "green": groups[1],
        "v2": definitions[1],
    }


def rollout(lab: Any, built: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2 under 50 requests/s: duration, requests and failures during it, the worst step's split error."""
    from ecslab import deployments
    from ecslab import elb as elb_tools
    from ecslab.lab import manage

    def counts() -> dict[str, int]:
        found: dict[str, int] = manage.control(lab.config, "GET", "/elb/traffic")["listeners"].get(built["listener"], {})
        return found

    readings: list[tuple[deployments.Snapshot, dict[str, int]]] = []
    with elb_tools.TrafficGenerator(built["url"], rate=50, concurrency=5) as traffic:
        time.sleep(1)
        started = traffic.elapsed()
        lab.ecs.update_service(cluster=built["cluster"], service="web", taskDefinition=built["v2"])
        arn = deployments.latest_deployment_arn(lab.ecs, built["cluster"], "web")
        for reading in deployments.watch(lab.ecs, arn, clock=traffic.elapsed, interval=0.2, timeout=300):
            readings.append((reading, counts()))
        finished = traffic.elapsed()
        time.sleep(1)
    during = [r for r in traffic.responses if started <= r.at <= finished]
    per_weight: dict[float, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for (before, first), (after, second) in zip(readings, readings[1:], strict=False):
        if before.target_production_weight == after.target_production_weight and before.status == "IN_PROGRESS":
            for color in ("blue", "green"):
                per_weight[before.target_production_weight or 0.0][color] += second.get(built[color], 0) - first.get(
                    built[color], 0
                )
    errors = {
        weight: abs(100 * c["green"] / (c["blue"] + c["green"]) - weight)
        for weight, c in per_weight.items()
        if c["blue"] + c["green"] >= 20
    }
    return {
        "status": readings[-1][0].status,
        "duration": finished - started,
        "requests": len(during),
        "failed": sum(r.status != 200 for r in during),
        "split_error": max(errors.values(), default=0.0),
        "steps": {f"{weight:g}%": dict(c) for weight, c in sorted(per_weight.items())},
        "story": deployments.story([r for r, _ in readings]),
    }


def main(argv: list[str] | None = None) -> int:
    from ecslab.config import LAB_SECONDS_PER_AWS_MINUTE
    from ecslab.lab.private import PrivateLab

    print(machine_header("ECS deployment strategies (blue/green, canary) in the lab"))
    print(f"  lab deployment clock: one AWS minute lasts {LAB_SECONDS_PER_AWS_MINUTE:g} s")
    with PrivateLab() as private_lab:
        lab = _lab(private_lab.config)
        for index, (label, configuration) in enumerate(STRATEGIES.items()):
            built = stack(lab, f"bench-dep{index}", configuration)
            found = rollout(lab, built)
            print_value(f"{label}: v1 -> v2, 3 tasks, 50 req/s", found["duration"], "s", note=f"ended {found['status']}")
            print_value(
                f"{label}: failed requests during it",
                found["failed"],
                "requests",
                FAILED_GOAL,
                note=f"of {found['requests']} (goal: at least {REQUESTS_WANTED} sent)",
            )
            print_value(
                f"{label}: worst step's split vs configured",
                found["split_error"],
                "points",
                SPLIT_GOAL,
                note=f"proxy counts per production weight: {found['steps']}",
            )
            for line in found["story"]:
                print(f"      {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
