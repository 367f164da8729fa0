# %% [markdown]
# # 06b · Deployment strategies: rolling, blue/green, canary and linear
#
# Notebook 06 rolled v1 → v2 the way ECS did for years: a **rolling update** that replaces tasks a
# few at a time, bounded by `minimumHealthyPercent` and `maximumPercent`. Since 2025 ECS offers three
# more strategies in `deploymentConfiguration.strategy`, all built on the load balancer: the new
# version (**green**) starts in full beside the old one (**blue**) in a second target group, and ECS
# moves production traffic over by changing the *weights* of the listener rule: all at once
# (`BLUE_GREEN`), a small share first (`CANARY`), or in equal steps (`LINEAR`). The old tasks keep
# running through a **bake time**, so going back is only a change of weights.
#
# **Goals.** By the end of this notebook you will
# - have set up what these strategies need: two target groups, a production listener rule with a
#   weighted `forward`, a test listener rule, and the service's `advancedConfiguration`;
# - have predicted a strategy's traffic split with a widget, then measured it under steady traffic;
# - have rolled a release train (v1 → v2 → v3 → v4 → v5) with ROLLING, BLUE_GREEN, CANARY and LINEAR, each with
#   zero failed requests, and compared them on one chart each;
# - have read each rollout's story from `list_service_deployments` and `describe_service_deployments`;
# - have watched a CloudWatch alarm roll a bad release back during the bake time, the blue tasks
#   serving throughout, and rolled one back by hand with `stop_service_deployment`.
#
# **Time:** 45–60 minutes (an estimate of reading and trying things out; the cells alone run in about
# 3 minutes, measured on a 2-core VM in December 2026).
#
# **The lab's clock.** AWS counts bake times in minutes (`bakeTimeInMinutes`, `canaryBakeTimeInMinutes`,
# `stepBakeTimeInMinutes`; 0 to 1440). The API keeps AWS's numbers, but the lab waits **one second per
# AWS minute**, so a canary that bakes for 10 minutes on AWS bakes for 10 seconds here. Everything else
# (tasks starting, health checks, draining) runs at its real speed. `ecslab status` shows the factor.
#
# ```
#                         production rule (path /*)            ┌─► blue  target group ─► v1 tasks
# client ──► listener ──► forward, weights blue 90 · green 10 ─┤
#                         test rule (header X-Test: green) ─────└─► green target group ─► v2 tasks
# ```

# %% [markdown]
# ## 1. Setup
#
# This notebook's own names: repository and task family `ds-demo`, cluster `ds-cluster`, service
# `ds-service`, load balancer `ds-alb`, target groups `ds-blue` and `ds-green`, security groups
# `ds-alb` and `ds-tasks`, alarm `ds-5xx`. The first cell removes whatever an earlier run left.

# %%
import json
import time
import urllib.request

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import cleanup, deployments, ecs_exec, images, network, security, spot, traffic_split
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools

lab = ecslab.connect()
elbv2 = lab.elbv2
cloudwatch = lab.client("cloudwatch")
servicediscovery = lab.client("servicediscovery")
REPOSITORY = FAMILY = "ds-demo"
CLUSTER, SERVICE = "ds-cluster", "ds-service"
ALB_NAME, BLUE_TG, GREEN_TG = "ds-alb", "ds-blue", "ds-green"
SG_PREFIX = "ds"  # security groups ds-alb and ds-tasks
ALARM = "ds-5xx"
NAMESPACE = "ds-shop"  # section 10

MADE_HERE = cleanup.CourseResources(
    alarms=[ALARM], clusters=[CLUSTER], load_balancers=[ALB_NAME], target_groups=[BLUE_TG, GREEN_TG],
    security_groups=[f"{SG_PREFIX}-tasks", f"{SG_PREFIX}-alb"], task_families=[FAMILY], repositories=[REPOSITORY],
)
cleanup.remove(lab, MADE_HERE)
network.delete_namespace(servicediscovery, NAMESPACE)

# %% [markdown]
# One image serves every release: the sample app reports the version it is given in the environment
# variable `APP_VERSION`, and each release is a new task definition revision with a new value. (A
# real release train builds a new image each time; what the strategies do with it is the same.)

# %% tags=["nbval-ignore-output"]
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
images.build_sample_app(f"{REPOSITORY}:v1", show_progress=False)
ecr_tools.push_image(lab.docker, f"{REPOSITORY}:v1", repo_uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
execution_role_arn = security.ensure_execution_role(lab.iam)


def release(version):
    """A task definition revision of ds-demo that answers with this version."""
    made = ecs_tools.task_definition(FAMILY, f"{repo_uri}:v1", environment={"APP_VERSION": version}, execution_role_arn=execution_role_arn)
    return lab.ecs.register_task_definition(**made)["taskDefinition"]["taskDefinitionArn"]


revisions = {version: release(version) for version in ("v1", "v2", "v3", "v4", "v5", "v6")}
{version: arn.rsplit("/", 1)[1] for version, arn in revisions.items()}

# %% [markdown]
# ## 2. Two target groups, a production rule and a test rule
#
# What AWS's guide for these strategies asks of an ALB
# ([ALB resources for blue/green, linear and canary deployments](https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html)):
#
# - **two target groups** with the same settings (`ip` targets, the app's port, a health check):
#   `ds-blue` for the revision in production now, `ds-green` for the next one. They swap roles at
#   every deployment;
# - a **production listener rule** whose action is a weighted `forward` to both groups; ECS changes
#   its weights during a deployment (it needs a role that allows it, `advancedConfiguration.roleArn`);
# - optionally a **test listener rule**: requests that match it (here: the header `X-Test: green`)
#   reach the green tasks before any production traffic does, so you can try the new version first.
#
# The security groups are notebook 06's pair: `ds-alb` admits port 80 from anywhere, `ds-tasks`
# admits 8080 from `ds-alb` only.

# %%
vpc_id, subnet_ids = elb_tools.default_subnets(lab.ec2)
alb_sg, task_sg = network.create_web_security_groups(lab.ec2, vpc_id, listener_port=80, container_port=8080, prefix=SG_PREFIX)
alb_arn = elbv2.create_load_balancer(Name=ALB_NAME, Subnets=subnet_ids, SecurityGroups=[alb_sg], Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
groups = {}
for name in (BLUE_TG, GREEN_TG):
    groups[name] = elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip", HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2, UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=groups[name], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
blue_arn, green_arn = groups[BLUE_TG], groups[GREEN_TG]


def weighted_forward(blue, green):
    """A forward action that splits requests between the two groups by weight."""
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue_arn, "Weight": blue}, {"TargetGroupArn": green_arn, "Weight": green}]}}]


listener_arn = elbv2.create_listener(LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=weighted_forward(1, 0))["Listeners"][0]["ListenerArn"]
production_rule = elbv2.create_rule(
    ListenerArn=listener_arn, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/*"]}], Actions=weighted_forward(1, 0)
)["Rules"][0]["RuleArn"]
test_rule = elbv2.create_rule(
    ListenerArn=listener_arn, Priority=5, Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Test", "Values": ["green"]}}],
    Actions=weighted_forward(1, 0),
)["Rules"][0]["RuleArn"]
url = elb_tools.listener_url(lab, alb_arn)
[(rule["Priority"], [c["Field"] for c in rule["Conditions"]], [(g["TargetGroupArn"] == blue_arn and "blue" or "green", g["Weight"])
  for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]]) for rule in elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]]

# %% [markdown]
# ECS's part of the set-up is one entry of `loadBalancers`: the production target group as usual,
# and `advancedConfiguration` naming the alternate group, the two rules and the role. On AWS the role
# is one you create with the managed policy `AmazonECSInfrastructureRolePolicyForLoadBalancers`; the
# lab takes its ARN as given.

# %%
INFRASTRUCTURE_ROLE = f"arn:aws:iam::{lab.account_id}:role/ecsInfrastructureRoleForLoadBalancers"
load_balancers = [{
    "targetGroupArn": blue_arn, "containerName": "web", "containerPort": 8080,
    "advancedConfiguration": {"alternateTargetGroupArn": green_arn, "productionListenerRule": production_rule,
                              "testListenerRule": test_rule, "roleArn": INFRASTRUCTURE_ROLE},
}]
lab.ecs.create_cluster(clusterName=CLUSTER)
network_configuration = {"awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [task_sg]}}

# %% [markdown]
# ## 3. Predict first
#
# Choose a strategy and its settings. The chart is the green revision's share of production traffic
# from the first shift on, in AWS minutes; ECS's refusals appear in red (try a canary of 0 % or a
# linear step of 2 %). AWS's defaults: canary 5 % for 10 minutes, linear steps of 10 % every 6
# minutes.

# %%
traffic_split.split_widget()

# %% [markdown]
# ## 4. ROLLING: the baseline
#
# The service starts with the rolling strategy (the default) and v1. The rollout to v2 is notebook 06's:
# new tasks join the production target group as they pass their health checks while old ones drain, so
# for a while both versions answer, in proportion to how many tasks of each are healthy. We send 40
# requests a second through the listener the whole time.

# %%
lab.ecs.create_service(
    cluster=CLUSTER, serviceName=SERVICE, taskDefinition=revisions["v1"], desiredCount=3, launchType="FARGATE",
    networkConfiguration=network_configuration, loadBalancers=load_balancers,
    deploymentConfiguration={"strategy": "ROLLING", "maximumPercent": 200, "minimumHealthyPercent": 100},
)
lab.ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
elbv2.get_waiter("target_in_service").wait(TargetGroupArn=blue_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
json.loads(urllib.request.urlopen(url).read())["version"]

# %% [markdown]
# `traffic_split.deploy_under_load` does what every section below does: start 40 requests a second
# through the listener, call `update_service`, and read `describe_service_deployments` four times a
# second until the deployment is done, both on one clock.

# %%
def roll(version, configuration=None, on_reading=None):
    """Deploy one release of the train under load."""
    changes = {"deploymentConfiguration": configuration} if configuration else {}
    return traffic_split.deploy_under_load(lab.ecs, url, CLUSTER, SERVICE, taskDefinition=revisions[version], on_reading=on_reading, **changes)


rolling = roll("v2")
summary = rolling.traffic.summary()
{"status": rolling.status, "failed requests": summary["failed"], "at least 200 requests": summary["requests"] >= 200,
 "versions that answered": sorted(summary["by_version"])}

# %%
fig, ax = plt.subplots(figsize=(9, 2.8))
rolling.traffic.plot_timeline(ax, by="version")
ax.set_title("ROLLING v1 → v2: responses per 0.5 s, by version", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. BLUE_GREEN: test first, then everything at once
#
# The same service, now with `strategy="BLUE_GREEN"` and a bake time of 3 minutes. ECS starts three v3
# tasks in full in `ds-green` (stage `SCALE_UP`), points the test rule at them (`TEST_TRAFFIC_SHIFT`),
# moves all production traffic in one change of weights (`PRODUCTION_TRAFFIC_SHIFT`), keeps the v2
# tasks running for the bake time (`BAKE_TIME`), and only then ends them (`CLEAN_UP`).
#
# When does a person (or a test suite) try the green tasks? ECS's answer is a **lifecycle hook**: at
# chosen stages it calls a Lambda function, or, with `targetType="PAUSE"`, it simply waits until you
# call `continue_service_deployment` (or the hook times out: by default after 24 hours, and then it
# rolls back). We pause after the test traffic shift, send one request through the test rule and one
# through production, and let the deployment go on. (The lab runs PAUSE hooks; Lambda hooks it
# refuses, since it cannot run Lambda functions.)

# %%
tried = {}


def test_then_continue(reading, deployment_arn):
    """At the PAUSE hook: a request through the test rule, one through production, then CONTINUE."""
    if reading.lifecycle_stage != "POST_TEST_TRAFFIC_SHIFT" or tried:
        return
    hook = lab.ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn])["serviceDeployments"][0]["lifecycleHookDetails"][0]
    test_request = urllib.request.Request(url + "/", headers={"X-Test": "green"})
    tried.update(hook=hook["status"], test_rule=json.loads(urllib.request.urlopen(test_request).read())["version"],
                 production=json.loads(urllib.request.urlopen(url).read())["version"])
    lab.ecs.continue_service_deployment(serviceDeploymentArn=deployment_arn, hookId=hook["hookId"], action="CONTINUE")


blue_green = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 3,
              "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]}
green = roll("v3", blue_green, on_reading=test_then_continue)
{"status": green.status, "failed requests": green.traffic.summary()["failed"], "at the pause": tried}

# %% [markdown]
# The deployment's story, read from `describe_service_deployments` as it went (times on the traffic's
# clock; the stages are AWS's `lifecycleStage` values):

# %% tags=["nbval-ignore-output"]
print("\n".join(deployments.story(green.readings)))

# %%
green.stages()

# %%
ax = traffic_split.plot_split(green.traffic, "v3", green.readings, blue_green)
ax.set_title("BLUE_GREEN v2 → v3: share of responses from v3", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. CANARY and LINEAR: a share first, or in steps
#
# A **canary** sends `canaryPercent` of production traffic to green for `canaryBakeTimeInMinutes`, then
# the rest. A **linear** rollout adds `stepPercent` every `stepBakeTimeInMinutes` until green has it
# all. Each chart shows three lines: what the configuration predicts (dashed), the weight ECS reports
# in `describe_service_deployments` (steps), and the share of v4/v5 among the responses we measured
# (dots).

# %%
canary = {"strategy": "CANARY", "bakeTimeInMinutes": 2, "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 8}}
canary_rollout = roll("v4", canary)
{"status": canary_rollout.status, "failed requests": canary_rollout.traffic.summary()["failed"], "weights ECS reported": canary_rollout.weights()}

# %%
ax = traffic_split.plot_split(canary_rollout.traffic, "v4", canary_rollout.readings, canary)
ax.set_title("CANARY 20 % for 8 min (8 s here), then the rest", fontsize=10)
plt.tight_layout()
plt.show()

# %%
linear = {"strategy": "LINEAR", "bakeTimeInMinutes": 2, "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 4}}
linear_rollout = roll("v5", linear)
{"status": linear_rollout.status, "failed requests": linear_rollout.traffic.summary()["failed"], "weights ECS reported": linear_rollout.weights()}

# %%
ax = traffic_split.plot_split(linear_rollout.traffic, "v5", linear_rollout.readings, linear)
ax.set_title("LINEAR steps of 25 % every 4 min (4 s here)", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# How close did the listener keep to each weight? The share of v5 among the responses to requests sent
# while each weight held:

# %%
linear_shares = traffic_split.share_per_weight(linear_rollout, "v5")
{"within 10 points of every weight": all(abs(share - weight) <= 10 for weight, share in linear_shares.items()),
 "weights measured": sorted(linear_shares)}

# %% tags=["nbval-ignore-output"]
linear_shares

# %% [markdown]
# ## 7. The deployment history
#
# Every update of the service was a **service deployment**, whatever its strategy; each deploys a
# **service revision** (the task definition with the service's settings at that moment).
# `list_service_deployments` lists them newest first. (A service deleted and made again under the same
# name has the same ARN, and the old one's deployments may still be listed: we keep those that deployed
# this run's task definitions.)

# %%
version_of = {arn: version for version, arn in revisions.items()}


def revision_version(revision_arn):
    """The release a service revision runs (None: a task definition of an earlier run)."""
    return version_of.get(lab.ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"][0]["taskDefinition"])


listed = lab.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"]
history = [(entry, revision_version(entry["targetServiceRevisionArn"])) for entry in listed]
history = [(entry, version) for entry, version in history if version]
described = {d["serviceDeploymentArn"]: d for d in lab.ecs.describe_service_deployments(
    serviceDeploymentArns=[entry["serviceDeploymentArn"] for entry, _ in history])["serviceDeployments"]}
[{"status": entry["status"], "strategy": described[entry["serviceDeploymentArn"]]["deploymentConfiguration"].get("strategy", "ROLLING"),
  "to": version} for entry, version in history]

# %% [markdown]
# ## 8. A bad release, rolled back by an alarm
#
# `deploymentConfiguration.alarms` names CloudWatch alarms that ECS watches during the deployment,
# through the traffic shift and the bake time; with `rollback`, an alarm in state `ALARM` sends
# production traffic back to blue and ends the green tasks. Because blue kept running through the
# bake, going back is only a change of weights.
#
# The alarm here counts the 5xx answers of the targets behind the ALB. Our v6 is not really broken, so
# we play the bad release's part with `set_alarm_state`, which CloudWatch offers for testing alarms:
# it sets the state until the alarm is next evaluated.

# %%
cloudwatch.put_metric_alarm(
    AlarmName=ALARM, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum",
    Dimensions=[{"Name": "LoadBalancer", "Value": alb_arn.split(":loadbalancer/", 1)[1]}],
    Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
)


def bad_release(reading, deployment_arn):
    if reading.lifecycle_stage == "BAKE_TIME" and reading.status == "IN_PROGRESS":
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="v6 answers 500 (played by hand)")


guarded = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 30, "alarms": {"alarmNames": [ALARM], "enable": True, "rollback": True}}
bad_rollout = roll("v6", guarded, on_reading=bad_release)
bad = lab.ecs.describe_service_deployments(serviceDeploymentArns=[bad_rollout.arn])["serviceDeployments"][0]
{"status": bad["status"], "alarms": {key: bad["alarms"][key] for key in ("status", "triggeredAlarmNames")},
 "failed requests": bad_rollout.traffic.summary()["failed"], "the last response came from": bad_rollout.traffic.responses[-1].version,
 "rolled back to": revision_version(bad["rollback"]["serviceRevisionArn"])}

# %%
fig, ax = plt.subplots(figsize=(9, 2.8))
bad_rollout.traffic.plot_timeline(ax, by="version")
ax.set_title("BLUE_GREEN v5 → v6, rolled back by the alarm during the bake time", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# **By hand.** `stop_service_deployment` with `stopType="ROLLBACK"` does the same without an alarm: a
# canary you do not like the look of goes back before the rest of the traffic follows it.

# %%
cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="reset for the next deployment")
slow_canary = {"strategy": "CANARY", "bakeTimeInMinutes": 2, "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 60}}


def stop_during_canary(reading, deployment_arn):
    if reading.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT" and reading.status == "IN_PROGRESS":
        lab.ecs.stop_service_deployment(serviceDeploymentArn=deployment_arn, stopType="ROLLBACK")


stopped = roll("v6", slow_canary, on_reading=stop_during_canary)
{"status": stopped.status, "weights ECS reported": stopped.weights(), "failed requests": stopped.traffic.summary()["failed"],
 "the last response came from": stopped.traffic.responses[-1].version}

# %% [markdown]
# ## 9. What ECS refuses
#
# The rules come from the API reference: a strategy that shifts traffic needs `advancedConfiguration`;
# bake times are 0 to 1440 minutes; `canaryPercent` is a multiple of 0.1 from 0.1 to 100,
# `stepPercent` from 3 to 100. (The lab also refuses `lifecycleHooks`: it cannot run the Lambda
# functions they call; try them on AWS.)

# %%
for configuration in ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}},
                      {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}},
                      {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2000}):
    try:
        lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, deploymentConfiguration=configuration)
    except ClientError as error:
        print(error.response["Error"]["Code"], "|", error.response["Error"]["Message"])

# %% [markdown]
# ## 10. Three more things ECS does since 2023-2025: Exec, Fargate Spot, Service Connect
#
# **ECS Exec** runs a command inside a running task's container, for debugging: start the task with
# `enableExecuteCommand=True` and call `execute_command`. On AWS the answer is a Session Manager
# session, and the output reaches you through the Session Manager plugin
# (`aws ecs execute-command --cluster ... --task ... --command "..." --interactive`); the lab runs the
# command for real in the container and `ecs_exec.run` prints what it printed.

# %%
exec_task = lab.ecs.run_task(cluster=CLUSTER, taskDefinition=revisions["v1"], launchType="FARGATE", enableExecuteCommand=True,
                             networkConfiguration=network_configuration)["tasks"][0]["taskArn"]
lab.ecs.get_waiter("tasks_running").wait(cluster=CLUSTER, tasks=[exec_task], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
answer = ecs_exec.run(lab.ecs, CLUSTER, exec_task, "printenv APP_VERSION", lab=lab)
{"exit code": answer["exitCode"], "interactive": answer["interactive"]}

# %% [markdown]
# A task started without it is refused, in ECS's words:

# %%
plain_task = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)[0]["taskArn"]
try:
    lab.ecs.execute_command(cluster=CLUSTER, task=plain_task, command="ls", interactive=True)
except ClientError as error:
    print(error.response["Error"]["Code"], "|", error.response["Error"]["Message"])
lab.ecs.stop_task(cluster=CLUSTER, task=exec_task, reason="done with exec")["task"]["desiredStatus"]

# %% [markdown]
# **Fargate Spot** runs tasks on spare capacity at a discount, and AWS may take that capacity back with
# a two-minute warning (a SIGTERM to the task; in the lab, two seconds). A **capacity provider
# strategy** says where a service's tasks go: the first `base` tasks on one provider, the rest split
# by `weight`. Here: one task always on regular Fargate, then one on FARGATE for every three on
# FARGATE_SPOT.

# %%
lab.ecs.put_cluster_capacity_providers(cluster=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=[])
lab.ecs.create_service(
    cluster=CLUSTER, serviceName="ds-mixed", taskDefinition=revisions["v1"], desiredCount=5, networkConfiguration=network_configuration,
    capacityProviderStrategy=[{"capacityProvider": "FARGATE", "base": 1, "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 3}],
)
lab.ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["ds-mixed"], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
spot.providers(lab.ecs, CLUSTER, "ds-mixed")

# %% [markdown]
# Now AWS wants a Spot task's capacity back. The task stops with `stopCode` `SpotInterruption`, and the
# service, one task short, starts a replacement (placed by the same strategy):

# %%
spot_task = next(task for task in ecs_tools.service_tasks(lab.ecs, CLUSTER, "ds-mixed") if task["capacityProviderName"] == "FARGATE_SPOT")
spot.interrupt(lab, spot_task["taskArn"])
stopped = spot.wait_stopped(lab.ecs, CLUSTER, spot_task["taskArn"])
lab.ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["ds-mixed"], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
{"stopCode": stopped["stopCode"], "stoppedReason": stopped["stoppedReason"], "running again": len(ecs_tools.service_tasks(lab.ecs, CLUSTER, "ds-mixed"))}

# %% [markdown]
# **Service Connect** lets one service call another by a short name, inside the VPC: the notes'
# private subnets for internal communication. Both services join a Cloud Map namespace; the API
# publishes its port under a client alias (`api:8080`), the front only joins. We ask the front's
# container, through ECS Exec, to call `http://api:8080/`.

# %%
servicediscovery.create_http_namespace(Name=NAMESPACE)
api_definition = ecs_tools.task_definition(FAMILY, f"{repo_uri}:v1", environment={"APP_VERSION": "api"}, execution_role_arn=execution_role_arn)
api_definition["containerDefinitions"][0]["portMappings"][0]["name"] = "http"
lab.ecs.create_service(
    cluster=CLUSTER, serviceName="ds-api", desiredCount=2, launchType="FARGATE", networkConfiguration=network_configuration,
    taskDefinition=lab.ecs.register_task_definition(**api_definition)["taskDefinition"]["taskDefinitionArn"],
    serviceConnectConfiguration={"enabled": True, "namespace": NAMESPACE, "services": [
        {"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]},
)
lab.ecs.create_service(
    cluster=CLUSTER, serviceName="ds-front", taskDefinition=revisions["v1"], desiredCount=1, launchType="FARGATE",
    networkConfiguration=network_configuration, enableExecuteCommand=True, serviceConnectConfiguration={"enabled": True, "namespace": NAMESPACE},
)
lab.ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["ds-api", "ds-front"], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
front_task = ecs_tools.service_tasks(lab.ecs, CLUSTER, "ds-front")[0]["taskArn"]
call_api = "python3 -c \"import json, urllib.request; print(json.load(urllib.request.urlopen('http://api:8080/'))['version'])\""
ecs_exec.run(lab.ecs, CLUSTER, front_task, call_api, lab=lab)["exitCode"]

# %% [markdown]
# `api` answered with its version. A task outside the namespace cannot even resolve the name (a
# fresh task of the same definition, exec enabled, no Service Connect):

# %%
outsider = lab.ecs.run_task(cluster=CLUSTER, taskDefinition=revisions["v1"], launchType="FARGATE", enableExecuteCommand=True,
                            networkConfiguration=network_configuration)["tasks"][0]["taskArn"]
lab.ecs.get_waiter("tasks_running").wait(cluster=CLUSTER, tasks=[outsider], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
resolve = "python3 -c \"import socket; socket.gethostbyname('api')\""
{"exit code": ecs_exec.run(lab.ecs, CLUSTER, outsider, resolve, lab=lab, show=False)["exitCode"]}

# %% [markdown]
# What the lab does not model here (say so when you move to AWS): Service Connect's Envoy proxy and its
# metrics and retries, Cloud Map service instances, Spot capacity running out, an interactive exec
# terminal.

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "Your service runs 10 tasks. You deploy with CANARY, canaryPercent 10, canaryBakeTimeInMinutes 15. How many tasks of the new "
        "revision run during the canary?",
        ("1: one tenth of 10 tasks", "10: the green revision starts in full; only the traffic is split", "0 until the canary bake ends"),
        1,
        "In BLUE_GREEN, CANARY and LINEAR deployments ECS scales the green revision up in full before it shifts any production traffic "
        "(stage SCALE_UP); the percent is a weight in the listener rule, not a task count. You pay for both revisions until the bake ends.",
        why_not=(
            "The canary percent is a share of requests (the rule's weights), not of tasks.",
            "",
            "Green tasks start before any production traffic moves; the canary bake is when they already take 10 %.",
        ),
    ),
    Question(
        "A CloudWatch alarm named in deploymentConfiguration.alarms goes into ALARM during the bake time of a BLUE_GREEN deployment, "
        "rollback enabled. What happens?",
        (
            "Nothing: once production traffic has shifted, the deployment can no longer roll back",
            "ECS shifts production traffic back to blue, which kept running through the bake, and ends the green tasks",
            "ECS starts new blue tasks from the old task definition, as a rolling deployment would",
        ),
        1,
        "Blue tasks keep running until the bake time ends, so a rollback is a change of listener weights (section 8).",
        why_not=(
            "ECS watches the alarms through the traffic shift and the bake time; that is what the bake is for.",
            "",
            "No new tasks are needed: the blue tasks are still there during the bake.",
        ),
    ),
    Question(
        "Which strategy fits a team that wants to try the new version with its own requests before any customer sees it, "
        "then move everyone at once?",
        ("ROLLING", "BLUE_GREEN with a test listener rule", "LINEAR with 3 % steps"),
        1,
        "The test listener rule sends matching requests (e.g. a header) to green while production stays on blue; then BLUE_GREEN moves "
        "all production traffic in one step.",
        why_not=(
            "A rolling update gives new tasks production traffic as soon as they pass health checks; there is no test phase.",
            "",
            "LINEAR moves customers over in steps; it does not keep them off the new version while you test.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - `deploymentConfiguration.strategy` is `ROLLING` (replace tasks within `minimumHealthyPercent` and
#   `maximumPercent`), `BLUE_GREEN`, `CANARY` or `LINEAR`. The last three need two target groups, a
#   production listener rule with a weighted `forward`, optionally a test rule, and
#   `advancedConfiguration` in the service's `loadBalancers`.
# - They start the new revision **in full** first, then move production traffic by the rule's weights:
#   at once, a canary share then the rest, or equal linear steps; then the **bake time**, with both
#   revisions running, then clean-up. Every rollout here lost no request.
# - `list_service_deployments` / `describe_service_deployments` tell each rollout's story: status,
#   `lifecycleStage`, the weight asked for, and what a rollback went back to.
# - CloudWatch **alarms** named in `deploymentConfiguration.alarms` roll back during shift and bake;
#   `stop_service_deployment(stopType="ROLLBACK")` does it by hand.
# - In the lab one AWS minute of bake time lasts one second.
#
# **Exercise:** `exercises/06b-deployment-strategies.ipynb`: configure a canary guarded by an alarm, and
# roll a bad release back.
#
# ## Cleanup

# %%
left = cleanup.remove(lab, MADE_HERE)
network.delete_namespace(servicediscovery, NAMESPACE)
images.remove_images([f"{REPOSITORY}:v1", *ecr_tools.local_references(lab.docker, repo_uri)])
left
