"""Checks for exercises/06b-deployment-strategies.ipynb: a canary guarded by an alarm, the blue/green load balancer entry, a
guarded rollout that an alarm rolls back.

The exercise's setup cell calls :func:`prepare_image`, which pushes the sample app to the repository ``ex06b-app`` as
``:v1`` (releases differ by ``APP_VERSION`` in their task definitions). Check 6b.3 builds a web front of its own
(``ex06b-check-...``: security groups, load balancer, a blue and a green target group, a production and a test
listener rule, a cluster and a three-task CANARY service), deleted before the check (leftovers of an interrupted run)
and after it; the notebook's Cleanup cell (:func:`clean_up`) deletes the repository.

Every value a checker hands the learner's function (percentages, minutes, alarm names, ARNs, names) is new on every
run: a function that types in values instead of using its arguments cannot pass.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ecslab import cleanup, deployments, security
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab.checks import setup
from ecslab.checks.core import Passed, expect, run_student
from ecslab.lab.strategies import problem

POINTS: dict[str, int] = {"6b.1": 1, "6b.2": 1, "6b.3": 2}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""

EXERCISE_REPOSITORY = "ex06b-app"
CHECK = "ex06b-check"  # cluster, load balancer, security groups ex06b-check-alb/-tasks
BLUE, GREEN = f"{CHECK}-blue", f"{CHECK}-green"
SERVICE = "web"
ALARM_PREFIX = f"{CHECK}-alarm"


def prepare_image(lab: Any, repository: str = EXERCISE_REPOSITORY, show_progress: bool = True) -> str:
    """Setup of the exercise: the sample app (v1) pushed to a fresh ``repository``; returns ``URI:v1``."""
    return setup.prepare_image(lab, repository, show_progress=show_progress)


def exercise_image(lab: Any, repository: str = EXERCISE_REPOSITORY) -> str:
    """The image the setup cell pushed (``URI:v1``); fails kindly when it is not there."""
    return setup.exercise_image(lab, "6b", repository)


def _alarms_left(lab: Any) -> list[str]:
    found = lab.client("cloudwatch").describe_alarms(AlarmNamePrefix=ALARM_PREFIX)["MetricAlarms"]
    return [alarm["AlarmName"] for alarm in found]


def remove_check_objects(lab: Any) -> None:
    """Delete what check 6b.3 makes, in AWS's order (with :func:`ecslab.cleanup.remove`: by name in the lab, only what the
    course made for this learner on AWS), and the task definitions its service ran."""
    definitions: set[str] = set()
    described = lab.ecs.describe_clusters(clusters=[CHECK])["clusters"]
    if lab.is_local and described and described[0]["status"] == "ACTIVE":
        arns = lab.ecs.list_services(cluster=CHECK)["serviceArns"]
        if arns:
            definitions = {s["taskDefinition"] for s in lab.ecs.describe_services(cluster=CHECK, services=arns)["services"]}
    cleanup.remove(
        lab,
        cleanup.CourseResources(
            alarms=_alarms_left(lab),
            clusters=[CHECK],
            load_balancers=[CHECK],
            target_groups=[BLUE, GREEN],
            security_groups=[f"{CHECK}-tasks", f"{CHECK}-alb"],
            task_families=[CHECK] if lab.is_local else [],
        ),
        say=setup.quiet,
    )
    for definition in definitions:
        try:
            lab.ecs.deregister_task_definition(taskDefinition=definition)
        except ClientError:
            pass


def clean_up(lab: Any, repository: str = EXERCISE_REPOSITORY) -> dict[str, Any]:
    """The exercise's Cleanup: whatever a check left (if interrupted), and the repository."""
    remove_check_objects(lab)
    setup.remove_exercise_image(lab, repository)
    return {
        "repositories left": setup.repositories_left(lab, repository),
        "check clusters left": setup.clusters_left(lab, [CHECK]),
        "check load balancers left": [
            b["LoadBalancerName"] for b in lab.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == CHECK
        ],
        "check alarms left": _alarms_left(lab),
    }


# -- 6b.1 ----------------------------------------------------------------------------------------------------------------


def check_canary_configuration(canary_with_alarm: Callable[[float, int, int, str], dict[str, Any]]) -> Passed:
    """6b.1: ``canary_with_alarm(percent, canary_minutes, bake_minutes, alarm_name)`` gives a deploymentConfiguration
    for a CANARY rollout that shifts ``percent`` for ``canary_minutes``, bakes ``bake_minutes`` and rolls back when
    ``alarm_name`` goes into ALARM."""
    percent = round(random.uniform(1, 30), 1)
    canary_minutes, bake_minutes = random.randint(2, 30), random.randint(1, 20)
    alarm = f"release-{random.randint(1000, 9999)}-errors"
    made = run_student("6b.1", canary_with_alarm, percent, canary_minutes, bake_minutes, alarm)
    expect(isinstance(made, dict), "6b.1", f"return a dict (the deploymentConfiguration), not {type(made).__name__}.")
    expect(
        made.get("strategy") == "CANARY",
        "6b.1",
        f"strategy is {made.get('strategy')!r}: a canary is deploymentConfiguration['strategy'] = 'CANARY'.",
    )
    canary = made.get("canaryConfiguration") or {}
    expect(
        canary.get("canaryPercent") == percent and canary.get("canaryBakeTimeInMinutes") == canary_minutes,
        "6b.1",
        f"called with percent={percent} and canary_minutes={canary_minutes}, canaryConfiguration is {canary!r}: it takes "
        "canaryPercent (the share of production traffic for the canary) and canaryBakeTimeInMinutes (how long it stays).",
    )
    expect(
        made.get("bakeTimeInMinutes") == bake_minutes,
        "6b.1",
        f"bakeTimeInMinutes is {made.get('bakeTimeInMinutes')!r}, expected bake_minutes ({bake_minutes}): the time both "
        "revisions keep running after all traffic has moved.",
    )
    alarms = made.get("alarms") or {}
    expect(
        alarms.get("alarmNames") == [alarm] and alarms.get("enable") is True and alarms.get("rollback") is True,
        "6b.1",
        f"alarms is {alarms!r}: ECS watches the alarms named in alarms['alarmNames'] (a list: [{alarm!r}]) only with "
        "'enable': True, and rolls back only with 'rollback': True.",
    )
    refused = problem(
        made,
        [
            {
                "targetGroupArn": "blue",
                "advancedConfiguration": {
                    "alternateTargetGroupArn": "green",
                    "productionListenerRule": "rule",
                    "roleArn": "role",
                },
            }
        ],
    )
    expect(refused is None, "6b.1", f"ECS would refuse this configuration: {refused}")
    return Passed("6b.1", "a CANARY rollout with the percent and both bake times asked for, rolled back by the alarm named.")


# -- 6b.2 ----------------------------------------------------------------------------------------------------------------


def _arn(kind: str) -> str:
    return f"arn:aws:elasticloadbalancing:us-east-1:123456789012:{kind}/{random.getrandbits(64):016x}"


def check_blue_green_entry(blue_green_load_balancer: Callable[..., list[dict[str, Any]]]) -> Passed:
    """6b.2: ``blue_green_load_balancer(blue_arn, green_arn, production_rule_arn, test_rule_arn, role_arn)`` gives
    ``create_service``'s ``loadBalancers`` for container ``web`` port 8080, with the advancedConfiguration a BLUE_GREEN,
    CANARY or LINEAR rollout needs."""
    blue, green = _arn("targetgroup/blue"), _arn("targetgroup/green")
    production, test = _arn("listener-rule/app/production"), _arn("listener-rule/app/test")
    role = f"arn:aws:iam::123456789012:role/ecs-lb-{random.randint(1000, 9999)}"
    made = run_student("6b.2", blue_green_load_balancer, blue, green, production, test, role)
    expect(
        isinstance(made, list) and len(made) == 1 and isinstance(made[0], dict),
        "6b.2",
        f"return loadBalancers as create_service takes it: a list with one dict, not {made!r}.",
    )
    entry = made[0]
    expect(
        (entry.get("targetGroupArn"), entry.get("containerName"), entry.get("containerPort")) == (blue, "web", 8080),
        "6b.2",
        "targetGroupArn is the production (blue) target group, blue_arn; containerName 'web' and containerPort 8080 say which "
        f"container receives the traffic. Got { ({k: entry.get(k) for k in ('targetGroupArn', 'containerName', 'containerPort')})!r}.",
    )
    advanced = entry.get("advancedConfiguration") or {}
    wanted = {"alternateTargetGroupArn": green, "productionListenerRule": production, "testListenerRule": test, "roleArn": role}
    wrong = sorted(key for key, value in wanted.items() if advanced.get(key) != value)
    expect(
        not wrong,
        "6b.2",
        f"advancedConfiguration's {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not the argument given: "
        "alternateTargetGroupArn = green_arn, productionListenerRule = production_rule_arn, testListenerRule = test_rule_arn, "
        "roleArn = role_arn.",
    )
    return Passed("6b.2", "the service's tasks go to blue now; ECS has green, both rules and a role for the next rollout.")


# -- 6b.3 ----------------------------------------------------------------------------------------------------------------


def _forward(blue: str, green: str) -> list[dict[str, Any]]:
    return [
        {
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": blue, "Weight": 1}, {"TargetGroupArn": green, "Weight": 0}]},
        }
    ]


def _build_front(lab: Any, image: str) -> dict[str, str]:
    """Security groups, ALB, blue and green groups, production and test rules, a three-task CANARY service on v1."""
    subnets = setup.default_subnets(lab)
    vpc_id = lab.ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    alb_arn, blue, _, task_group = setup.create_web_front(lab, CHECK, CHECK, BLUE, subnets, vpc_id, deregistration_delay=2)
    green = elb_tools.create_app_target_group(lab.elbv2, GREEN, vpc_id)
    listener = lab.elbv2.create_listener(LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=_forward(blue, green))
    listener_arn = listener["Listeners"][0]["ListenerArn"]
    production = lab.elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=_forward(blue, green),
    )["Rules"][0]["RuleArn"]
    test = lab.elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=5,
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Test", "Values": ["green"]}}],
        Actions=_forward(blue, green),
    )["Rules"][0]["RuleArn"]
    role = security.ensure_execution_role(lab.iam)
    first = _release(lab, image, "v1", role)
    lab.ecs.create_cluster(clusterName=CHECK)
    lab.ecs.create_service(
        cluster=CHECK,
        serviceName=SERVICE,
        taskDefinition=first,
        desiredCount=3,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [task_group]}},
        loadBalancers=[
            {
                "targetGroupArn": blue,
                "containerName": "web",
                "containerPort": 8080,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": green,
                    "productionListenerRule": production,
                    "testListenerRule": test,
                    "roleArn": f"arn:aws:iam::{lab.account_id}:role/ecsInfrastructureRoleForLoadBalancers",
                },
            }
        ],
        deploymentConfiguration={"strategy": "CANARY", "bakeTimeInMinutes": 1,
                                 "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}},
    )  # fmt: skip
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=blue, WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    return {"alb": alb_arn, "blue": blue, "green": green, "first": first, "execution_role": role}


def _release(lab: Any, image: str, version: str, execution_role: str) -> str:
    made = ecs_tools.task_definition(CHECK, image, environment={"APP_VERSION": version}, execution_role_arn=execution_role)
    return str(lab.ecs.register_task_definition(**made)["taskDefinition"]["taskDefinitionArn"])


def check_guarded_rollout(roll_out: Callable[[Any, str, str, str, dict[str, Any]], str], lab: Any) -> Passed:
    """6b.3: ``roll_out(lab, cluster, service, task_definition_arn, configuration)`` starts a rollout of the task
    definition with that deploymentConfiguration and returns the new service deployment's ARN. The check raises the
    rollout's alarm while the canary runs: ECS must roll back, and every request through the listener must succeed."""
    image = exercise_image(lab)
    remove_check_objects(lab)
    cloudwatch = lab.client("cloudwatch")
    alarm = f"{ALARM_PREFIX}-{random.randint(1000, 9999)}"
    try:
        front = _build_front(lab, image)
        cloudwatch.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )  # fmt: skip
        configuration: dict[str, Any] = {
            "strategy": "CANARY",
            "bakeTimeInMinutes": 5,
            "canaryConfiguration": {"canaryPercent": round(random.uniform(10, 30), 1), "canaryBakeTimeInMinutes": 600},
            "alarms": {"alarmNames": [alarm], "enable": True, "rollback": True},
        }
        second = _release(lab, image, "v2", front["execution_role"])
        before = {
            d["serviceDeploymentArn"]
            for d in lab.ecs.list_service_deployments(cluster=CHECK, service=SERVICE)["serviceDeployments"]
        }
        url = elb_tools.listener_url(lab, front["alb"])
        with elb_tools.TrafficGenerator(url, rate=20, concurrency=4, timeout=2) as traffic:
            returned = run_student("6b.3", roll_out, lab, CHECK, SERVICE, second, configuration)
            listed = lab.ecs.list_service_deployments(cluster=CHECK, service=SERVICE)["serviceDeployments"]
            new = [d["serviceDeploymentArn"] for d in listed if d["serviceDeploymentArn"] not in before]
            expect(
                bool(new),
                "6b.3",
                "no new service deployment: roll_out must call lab.ecs.update_service(cluster=..., service=..., "
                "taskDefinition=task_definition_arn, deploymentConfiguration=configuration).",
            )
            expect(
                returned == new[0],
                "6b.3",
                f"return the new service deployment's ARN ({new[0]!r}: list_service_deployments lists the newest first), "
                f"not {returned!r}.",
            )
            described = lab.ecs.describe_service_deployments(serviceDeploymentArns=[new[0]])["serviceDeployments"][0]
            used = described.get("deploymentConfiguration") or {}
            expect(
                used.get("strategy") == "CANARY" and (used.get("alarms") or {}).get("alarmNames") == [alarm],
                "6b.3",
                "the rollout did not use the configuration given: pass deploymentConfiguration=configuration to update_service.",
            )
            readings = []
            raised = False
            for reading in deployments.watch(lab.ecs, new[0], clock=traffic.elapsed, interval=0.25, timeout=120):
                readings.append(reading)
                # raised at the first production shift, and again at each reading until ECS acts: the lab evaluates its
                # alarms from their metrics too and may set this one back before the agent's next look (CI saw that)
                shifting = raised or reading.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT"
                if shifting and reading.status == "IN_PROGRESS":
                    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="check 6b.3: a bad release")
                    raised = True
            time.sleep(1)
        status = readings[-1].status if readings else "?"
        expect(
            status == "ROLLBACK_SUCCESSFUL",
            "6b.3",
            f"the rollout ended {status}, not ROLLBACK_SUCCESSFUL, after the check raised its alarm: "
            + "; ".join(deployments.story(readings)[-4:]),
        )
        failed = [r for r in traffic.responses if r.status != 200]
        expect(
            not failed, "6b.3", f"{len(failed)} of {len(traffic.responses)} requests failed during the rollout and its rollback."
        )
        versions = {  # lab only: the tasks have no public IP; the lab's internal path reaches them
            ecs_tools.lab_call_task(task, config=lab.config)["version"]
            for task in ecs_tools.service_tasks(lab.ecs, CHECK, SERVICE)
        }
        expect(versions == {"v1"}, "6b.3", f"after the rollback the service's tasks answer {sorted(versions)}, expected v1 only.")
        return Passed(
            "6b.3", "the alarm went off during the canary; ECS rolled back to v1, and no request through the listener failed."
        )
    finally:
        remove_check_objects(lab)
        try:
            cloudwatch.delete_alarms(AlarmNames=[alarm])
        except ClientError:
            pass
