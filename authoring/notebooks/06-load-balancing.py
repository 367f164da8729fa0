# %% [markdown]
# # 06 · Load balancing: one address in front of many tasks
#
# The lecture notes (section 8) say: put an **Application Load Balancer** (ALB) in front of the
# service; ECS integrates with it; it routes requests to the containers that are available; and
# you get auto scaling, zero-downtime deployments and health checks. This notebook makes each of
# those claims happen, and measures it.
#
# **Goals.** By the end of this notebook you will
# - have put an ALB (load balancer, target group, listener) in front of an ECS service and watched
#   ECS register its tasks as targets;
# - have seen round robin: requests spread evenly over the healthy tasks;
# - have frozen a task and watched the health checks find it, traffic leave it, and ECS replace it;
# - have rolled v1 → v2 under steady load and counted the failed requests (zero), within the
#   bounds that `minimumHealthyPercent` and `maximumPercent` set;
# - have watched the deployment circuit breaker roll back a broken v3;
# - have watched target tracking add tasks under CPU load and remove them afterwards;
# - recognise four mistakes by the words AWS uses for them.
#
# **Time:** 75–90 minutes if load balancers are new to you (a reviewer's estimate of reading and
# trying things out; the cells alone run in about 3 minutes, measured on a 2-core VM in December
# 2026). Sections 1–6 are the core and make a sitting of their own; sections 7 (circuit breaker) and
# 8 (auto scaling) can be a second sitting; section 10 (AWS's error messages) is optional.
#
# ```
# client ──► listener :80 ──► target group ───┬─► task 10.x.x.x:8080
#            (on the ALB)     ip targets,      ├─► task 10.x.x.x:8080
#                             GET /health      └─► task 10.x.x.x:8080
#                                                  (registered by ECS)
# ```

# %% [markdown]
# ## 1. Setup
#
# Names of this notebook's own: repository and task family `lb-demo`, cluster `lb-cluster`,
# service `lb-service`, load balancer `lb-demo-alb`, target group `lb-demo-tg`, security groups
# `lb-demo-alb` and `lb-demo-tasks`. The first cell lists them in `MADE_HERE` and removes
# whatever an earlier run left with `ecslab.cleanup.remove`, in the order AWS requires: the
# scalable target with its scaling policy, the service and its tasks, the cluster, the load
# balancer with its listeners, the target groups (a target group in use cannot be deleted), the
# security groups (the tasks' first: its rule names the other), the repository. In the lab it
# deletes by name; on AWS only what the course tagged as yours (`ecslab:course` and
# `ecslab:owner`), so a resource of yours that happens to share a name is never touched.

# %%
import collections
import json
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import cleanup, images, network, security

lab = ecslab.connect()
elbv2 = lab.elbv2
autoscaling = lab.client("application-autoscaling")
REPOSITORY = FAMILY = "lb-demo"
CLUSTER = "lb-cluster"
SERVICE = "lb-service"
ALB_NAME = "lb-demo-alb"
TG_NAME = "lb-demo-tg"
TG_404_NAME = "lb-demo-tg-404"  # section 10
SG_PREFIX = "lb-demo"  # security groups lb-demo-alb and lb-demo-tasks
RESOURCE_ID = f"service/{CLUSTER}/{SERVICE}"  # how Application Auto Scaling names the service


MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    scalable_targets=[RESOURCE_ID], clusters=[CLUSTER], load_balancers=[ALB_NAME], target_groups=[TG_NAME, TG_404_NAME],
    security_groups=[f"{SG_PREFIX}-tasks", f"{SG_PREFIX}-alb"], repositories=[REPOSITORY],
)


def without_ids(message):
    """Service events name tasks, deployments and target groups by IDs that change on every run."""
    return re.sub(r"\((task|deployment|target-group) [^)]+\)", r"(\1 …)", message)


cleanup.remove(lab, MADE_HERE)

# %% [markdown]
# Build the sample app as v1 and v2 and push both to ECR (notebooks 02, 03 and 05 took these
# steps apart; here they take a few seconds, from the build cache).

# %% tags=["nbval-ignore-output"]
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
login = ecr_tools.get_login(lab.ecr)
for version in ("v1", "v2"):
    images.build_sample_app(f"{REPOSITORY}:{version}", version=version, client=lab.docker, config=lab.config, show_progress=False)
    ecr_tools.push_image(lab.docker, f"{REPOSITORY}:{version}", repo_uri, version, login, show_progress=False)
sorted(tag for image in lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for tag in image["imageTags"])

# %% [markdown]
# ## 2. Load balancer, target group, listener
#
# An ALB is three API objects:
#
# - the **load balancer**: a name and the subnets (at least two Availability Zones) it lives in;
# - a **target group**: where requests go (here `ip` targets on port 8080, which is how Fargate
#   tasks are registered) and how to check that a target is healthy;
# - a **listener**: a port and protocol on the load balancer (HTTP 80) and what to do with the
#   requests (forward them to the target group).
#
# Traffic is filtered by **security groups**, and the lab enforces them as AWS does: a listener
# admits clients only when a security group of the ALB allows its port from `0.0.0.0/0` (an ALB
# created without `SecurityGroups` gets the VPC's default group, which admits nobody from
# outside), and the ALB reaches a task only when a security group of the task admits the ALB's
# group on the container port (otherwise the health checks time out: `Target.Timeout`). Notebook
# 07 takes the rules apart. Here we make the classic pair: `lb-demo-alb` admits port 80 from
# anywhere, `lb-demo-tasks` admits port 8080 from members of `lb-demo-alb` only.
#
# ```
# aws ec2 create-security-group --group-name lb-demo-alb --description "..." --vpc-id vpc-...
# aws ec2 authorize-security-group-ingress --group-id sg-ALB --protocol tcp --port 80 --cidr 0.0.0.0/0
# aws ec2 create-security-group --group-name lb-demo-tasks --description "..." --vpc-id vpc-...
# aws ec2 authorize-security-group-ingress --group-id sg-TASKS --protocol tcp --port 8080 --source-group sg-ALB
# ```

# %%
vpc_id, subnet_ids = elb_tools.default_subnets(lab.ec2)
alb_sg, task_sg = network.create_web_security_groups(lab.ec2, vpc_id, listener_port=80, container_port=8080, prefix=SG_PREFIX)
group_names = {alb_sg: f"{SG_PREFIX}-alb", task_sg: f"{SG_PREFIX}-tasks"}
{group_names[group_id]: [f"{rule.ports} from {group_names.get(rule.source, rule.source)}" for rule in network.security_group(lab.ec2, group_id).ingress]
 for group_id in (alb_sg, task_sg)}

# %% [markdown]
# The inbound rules, with each group named by its name (AWS names the source group of a rule by
# its ID, `sg-...`, which differs from run to run). Now the load balancer, in its security group:
#
# ```
# aws elbv2 create-load-balancer --name lb-demo-alb --type application \
#   --subnets subnet-... subnet-... --security-groups sg-ALB
# ```

# %%
alb = elbv2.create_load_balancer(Name=ALB_NAME, Subnets=subnet_ids, SecurityGroups=[alb_sg], Type="application", Scheme="internet-facing")["LoadBalancers"][0]
alb_arn = alb["LoadBalancerArn"]
{"type": alb["Type"], "scheme": alb["Scheme"], "Availability Zones": sorted(zone["ZoneName"] for zone in alb["AvailabilityZones"]),
 "DNS name ends in": alb["DNSName"].split(".", 1)[1], "in the group lb-demo-alb": alb["SecurityGroups"] == [alb_sg]}

# %% [markdown]
# The target group holds the **health check**: every `HealthCheckIntervalSeconds` the ALB sends
# `GET /health` to each target and waits `HealthCheckTimeoutSeconds` for a 200. A target is
# healthy after `HealthyThresholdCount` passes in a row, unhealthy after
# `UnhealthyThresholdCount` failures in a row. AWS's defaults are 30 s, 5 s, 5 and 2; we take
# the smallest values AWS allows, so a lesson does not wait minutes.
#
# When a target leaves the group, the ALB stops sending it new requests and lets the requests in
# flight finish: **deregistration delay**, 300 s by default. Our app answers in milliseconds, so
# 2 s are plenty.

# %%
target_group = elbv2.create_target_group(
    Name=TG_NAME,
    Protocol="HTTP",
    Port=8080,
    VpcId=vpc_id,
    TargetType="ip",
    HealthCheckPath="/health",
    HealthCheckIntervalSeconds=5,
    HealthCheckTimeoutSeconds=2,
    HealthyThresholdCount=2,
    UnhealthyThresholdCount=2,
)["TargetGroups"][0]
tg_arn = target_group["TargetGroupArn"]
elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
{key: target_group[key] for key in ("TargetType", "Protocol", "Port", "HealthCheckPath", "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
                                    "HealthyThresholdCount", "UnhealthyThresholdCount", "Matcher")}

# %% [markdown]
# The listener: HTTP on port 80, everything forwarded to the target group.
# `elb_tools.listener_url` says where to send requests: on AWS the ALB's DNS name; in the lab a
# real proxy on 127.0.0.1 at a port of its own (port 80 would need root on your machine).

# %%
listener_arn = elbv2.create_listener(
    LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
)["Listeners"][0]["ListenerArn"]
url = elb_tools.listener_url(lab, alb_arn)
url

# %% [markdown]
# Nothing is registered yet, so the ALB has nowhere to send a request. It answers itself, with a
# 503:

# %%
try:
    urllib.request.urlopen(url)
except urllib.error.HTTPError as error:
    print(error.code, error.reason, "|", re.sub("<[^>]+>", "", error.read().decode()))

# %% [markdown]
# ## 3. A service behind the load balancer
#
# `create_service` takes one more argument than in notebook 05: `loadBalancers` names the target
# group and which container and port of the task receive the traffic. ECS then registers every
# task of the service (its IP and port 8080) once it runs, and deregisters it before stopping it.
# The tasks go in the security group `lb-demo-tasks` (`securityGroups`), so that only the ALB
# reaches them; their task definition names the execution role that pulls the image from ECR
# (notebook 05).
#
# Two deployment settings for later: the defaults `maximumPercent` 200 and
# `minimumHealthyPercent` 100 (section 6), and the **deployment circuit breaker** with rollback
# (section 7).

# %%
lab.ecs.create_cluster(clusterName=CLUSTER)
execution_role_arn = security.ensure_execution_role(lab.iam)
task_def_arn = lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, f"{repo_uri}:v1", execution_role_arn=execution_role_arn))["taskDefinition"]["taskDefinitionArn"]
created_at = time.monotonic()
service = lab.ecs.create_service(
    cluster=CLUSTER,
    serviceName=SERVICE,
    taskDefinition=task_def_arn,
    desiredCount=3,
    launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [task_sg], "assignPublicIp": "ENABLED"}},
    loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
    deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100, "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
)["service"]
[{"our target group": entry["targetGroupArn"] == tg_arn, "containerName": entry["containerName"], "containerPort": entry["containerPort"]}
 for entry in service["loadBalancers"]]

# %% [markdown]
# Watch `describe_target_health` until all three targets are healthy. Each task appears as
# `initial` once ECS registers it, and turns `healthy` after two passed checks, 5 s apart.

# %%
changes = elb_tools.watch_target_health(elbv2, tg_arn, until=lambda rows: elb_tools.healthy_count(rows) == 3)
first_seen = next(rows for _, rows in changes if rows)
{"first": sorted({row["state"] for row in first_seen}), "last": [row["state"] for row in changes[-1][1]]}

# %%
healthy_seconds = time.monotonic() - created_at
print(f"create_service → 3 healthy targets: {healthy_seconds:.1f} s")

# %% [markdown]
# The targets are the tasks' own addresses: the `privateIPv4Address` of each task's network
# interface (in the lab, moto's made-up addresses that the lab maps to the task's port on
# 127.0.0.1):

# %%
tasks = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
sorted(elb_tools.target_of(task) for task in tasks) == sorted(row["target"] for row in changes[-1][1])

# %% [markdown]
# ## 4. Round robin
#
# Send 60 requests, one after the other, and count which task answered each (the sample app says
# its container's hostname). The ALB takes the healthy targets in turn:

# %%
names = {task["containers"][0]["runtimeId"][:12]: f"task {number}" for number, task in enumerate(tasks, 1)}
answered = [json.loads(urllib.request.urlopen(url).read())["hostname"] for _ in range(60)]
counts = collections.Counter(names[hostname] for hostname in answered)
{"per task": dict(sorted(counts.items())), "same order every 3 requests": answered[:3] == answered[3:6] == answered[57:60]}

# %%
ax = elb_tools.plot_requests_by_task(dict(sorted(counts.items())))
ax.set_title("60 requests through the ALB, by the task that answered", fontsize=10)
plt.show()

# %% [markdown]
# On AWS the default algorithm is also round robin; `least_outstanding_requests` (a target group
# attribute) sends each request to the target with the fewest in flight instead. An ALB also
# runs in every Availability Zone you gave it, each node taking its own turns, so real counts are
# even only on average.
#
# ## 5. Health checks: a task stops answering
#
# How long does a new task wait before it gets traffic, and how long does a broken one keep
# getting it? Move the sliders (AWS's defaults first):

# %%
elb_tools.health_check_widget()

# %% [markdown]
# Our target group's numbers:

# %%
elb_tools.health_check_timing(interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)

# %% [markdown]
# Now the experiment. We freeze one task's container with `docker pause` (as a deadlocked app
# would: the port stays open, nothing answers) while 20 requests a second go through the ALB.
#
# ECS replaces a task that fails its health checks, except during the service's
# `healthCheckGracePeriodSeconds` after the task starts (meant for apps that start slowly). We
# misuse it for a minute: a long grace period keeps ECS's hands off the frozen task while we look
# at the ALB, then we set it back to 0 and let ECS act.

# %%
victim = tasks[0]
victim_target = elb_tools.target_of(victim)
victim_host = victim["containers"][0]["runtimeId"][:12]
lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, healthCheckGracePeriodSeconds=3600)

traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=8, timeout=2)
traffic.start()
time.sleep(2)
frozen = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={victim['taskArn']}"})[0]
frozen.pause()
paused_at = traffic.elapsed()
changes = elb_tools.watch_target_health(
    elbv2, tg_arn, until=lambda rows: any(row["target"] == victim_target and row["state"] == "unhealthy" for row in rows), every=0.1
)
unhealthy_at = traffic.elapsed()
time.sleep(3)  # the traffic goes on
victim_states = [(row["state"], row["reason"]) for _, rows in changes for row in rows if row["target"] == victim_target]
[state for index, state in enumerate(victim_states) if index == 0 or state != victim_states[index - 1]]

# %%
print(f"docker pause → unhealthy: {unhealthy_at - paused_at:.1f} s (at most {elb_tools.health_check_timing(5, 2, 2, 2)['unhealthy_after']} s)")

# %% [markdown]
# `Target.Timeout`: the ALB connected, asked for `/health` and got no answer within 2 s, twice.
# What the traffic saw: requests the ALB sent to the frozen task before it was marked unhealthy
# waited and failed (the generator gives up after 2 s, and its workers send less while they wait);
# after that, none went there.

# %%
before = traffic.by_task(until=paused_at)
after = traffic.by_task(since=unhealthy_at)
failed = [r for r in traffic.between(since=paused_at) if r.status != 200]
{
    "tasks answering before the pause": len(before),
    "the frozen task answered before": victim_host in before,
    "tasks answering after 'unhealthy'": len(after),
    "the frozen task answered after": victim_host in after,
    "failed requests sent after 'unhealthy'": sum(r.at > unhealthy_at for r in failed),
}

# %% tags=["nbval-ignore-output"]
print(f"{len(failed)} requests failed, all sent in the {unhealthy_at - paused_at:.1f} s between the pause and 'unhealthy'")

# %% [markdown]
# Now let ECS do its part: grace period back to 0, and ECS replaces the task that fails its
# health checks. It deregisters the task first (`draining`), stops it, and starts a new one that
# gets traffic once healthy.

# %%
lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, healthCheckGracePeriodSeconds=0)
grace_off_at = traffic.elapsed()
elb_tools.watch_target_health(
    elbv2, tg_arn, until=lambda rows: elb_tools.healthy_count(rows) == 3 and victim_target not in [row["target"] for row in rows]
)
replaced_at = traffic.elapsed()
time.sleep(1.5)
traffic.stop()
stopped_victim = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[victim["taskArn"]])["tasks"][0]
{"lastStatus": stopped_victim["lastStatus"], "stopCode": stopped_victim["stopCode"], "stoppedReason": without_ids(stopped_victim["stoppedReason"])}

# %%
print(f"grace period 0 → replacement healthy: {replaced_at - grace_off_at:.1f} s")

# %% [markdown]
# The whole experiment, by the task that answered (red: failed requests):

# %%
tasks_now = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
names |= {task["containers"][0]["runtimeId"][:12]: "task 4 (replacement)" for task in tasks_now if task["containers"][0]["runtimeId"][:12] not in names}
names[victim_host] = "task 1 (frozen)"
fig, ax = plt.subplots(figsize=(9, 3))
traffic.plot_timeline(ax, by="task", names=names)
for label, at in {"pause": paused_at, "unhealthy": unhealthy_at, "grace 0": grace_off_at, "replaced": replaced_at}.items():
    ax.axvline(at, color="black", linestyle="--", linewidth=1)
    ax.text(at, 1.02, label, fontsize=8, transform=ax.get_xaxis_transform())
ax.set_title("20 requests/s through the ALB while task 1 freezes", fontsize=10, pad=14)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. A rolling deployment under load
#
# `maximumPercent` and `minimumHealthyPercent` bound a rolling deployment: ECS may run up to
# `desiredCount × maximumPercent / 100` tasks (rounded down) and keeps at least
# `desiredCount × minimumHealthyPercent / 100` healthy (rounded up). With an ALB, "healthy"
# means: passing the target group's health checks. Try some values:

# %%
elb_tools.deployment_widget()

# %% [markdown]
# Our service: 3 tasks, the defaults.

# %%
bounds = elb_tools.deployment_bounds(3, minimum_healthy_percent=100, maximum_percent=200)
bounds

# %% [markdown]
# So ECS should start three v2 tasks next to the three v1 tasks, wait until the new ones pass their
# health checks, then deregister the old ones, let them drain, and stop them. Let us check that
# nobody notices: 20 requests a second through the ALB, `update_service` to v2, and every 0.25 s a
# look at the deployments, the healthy targets and the tasks (`elb_tools.watch_rollout` takes the
# looks: `describe_services`, `list_tasks` and `describe_target_health`, until the service is steady).

# %%
task_def_v2_arn = lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, f"{repo_uri}:v2", execution_role_arn=execution_role_arn))["taskDefinition"]["taskDefinitionArn"]
version_of = {task_def_arn: "v1", task_def_v2_arn: "v2"}


def roll(traffic, task_definition, ends_on=None):
    """update_service, then a look every 0.25 s until one COMPLETED deployment of `ends_on` (default: the new one) has 3 healthy targets."""
    lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=task_definition)
    return elb_tools.watch_rollout(lab.ecs, elbv2, CLUSTER, SERVICE, tg_arn, version_of, clock=traffic.elapsed,
                                   ends_on=ends_on or task_definition, healthy=3)


traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=4)
traffic.start()
time.sleep(1.5)
looks = roll(traffic, task_def_v2_arn)
time.sleep(1.5)
traffic.stop()
elb_tools.rollout_phases(looks)

# %% [markdown]
# The measurement: failed requests, which versions answered at the end, and the bounds.

# %%
summary = traffic.summary()
last_second = traffic.between(since=traffic.responses[-1].at - 1)
{
    "no request failed": summary["failed"] == 0,
    "versions that answered": sorted(summary["by_version"]),
    "versions in the last second": sorted({r.version for r in last_second}),
    "fewest healthy targets": min(look.healthy for look in looks),
    "most tasks at once": max(len(look.task_arns) for look in looks),
    "within the bounds": min(look.healthy for look in looks) >= bounds["at_least_healthy"]
    and max(len(look.task_arns) for look in looks) <= bounds["at_most_running"],
}

# %% tags=["nbval-ignore-output"]
rollout_seconds = looks[-1].at - looks[0].at
print(f"update_service → v2 only: {rollout_seconds:.1f} s; {summary['requests']} requests, {summary['failed']} failed; "
      f"answers v1/v2: {summary['by_version']}; median {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms")

# %%
fig, ax = plt.subplots(figsize=(9, 3))
traffic.plot_timeline(ax)
ax.axvline(looks[0].at, color="black", linestyle="--", linewidth=1)
ax.axvline(looks[-1].at, color="black", linestyle="--", linewidth=1)
ax.text(looks[0].at, 1.02, "update_service", fontsize=8, transform=ax.get_xaxis_transform())
ax.text(looks[-1].at, 1.02, "COMPLETED", fontsize=8, transform=ax.get_xaxis_transform())
ax.set_title("v1 → v2 under 20 requests/s: responses by version (a failure would be red)", fontsize=10, pad=14)
fig.tight_layout()
plt.show()

# %% [markdown]
# Zero failed requests comes from three things working together: new tasks get traffic only
# once healthy; old tasks leave the target group *before* they stop, and finish their requests
# in flight while draining; and ECS never goes below `minimumHealthyPercent`. Take one away (a
# health check that passes before the app can serve, `minimumHealthyPercent` 0, an app that dies
# on SIGTERM mid-request) and requests can fail.
#
# ## 7. A broken v3 and the circuit breaker
#
# A classic mistake: the app listens on another port than the task definition maps. Here v3 sets
# `PORT=9090`, so the container runs, ECS reports the task RUNNING, and every health check on 8080
# fails. ECS replaces such tasks; with the **deployment circuit breaker** on, it counts them and
# after enough failures (at least 3, or half of `desiredCount`) gives up on the deployment, and
# with `rollback` goes back to the last deployment that COMPLETED. Meanwhile, traffic goes on.

# %%
v3 = ecs_tools.task_definition(FAMILY, f"{repo_uri}:v2", environment={"APP_VERSION": "v3", "PORT": "9090"}, execution_role_arn=execution_role_arn)
task_def_v3_arn = lab.ecs.register_task_definition(**v3)["taskDefinition"]["taskDefinitionArn"]
version_of[task_def_v3_arn] = "v3"
broken_since = datetime.now(UTC)
traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=4)
traffic.start()
time.sleep(1)
looks = roll(traffic, task_def_v3_arn, ends_on=task_def_v2_arn)
time.sleep(1)
traffic.stop()
primary = [deployments[0] for deployments in elb_tools.rollout_phases(looks)]
[state for index, state in enumerate(primary) if index == 0 or state != primary[index - 1]]

# %% [markdown]
# The PRIMARY deployment, as it changed: v3 IN_PROGRESS; then a new deployment of the v2 revision
# (the rollback), IN_PROGRESS and finally COMPLETED. In ECS's words, from the service's events since
# the update (oldest first):

# %%
described = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
revision_names = {f"{FAMILY}:{arn.rsplit(':', 1)[1]}": f"{FAMILY}:<{version}>" for arn, version in version_of.items()}


def named(message):
    """An event without IDs, with revisions named by the version they run (revision numbers grow with every run)."""
    message = without_ids(message)
    for revision, name in revision_names.items():
        message = re.sub(re.escape(revision) + r"\b", name, message)
    return message


events = [named(e["message"]) for e in reversed(described["events"]) if e["createdAt"] >= broken_since]
[e for e in events if "deployment" in e and ("failed" in e or "rolling back" in e or "completed" in e)]

# %% [markdown]
# Why ECS stopped the v3 tasks, from `describe_tasks` (a v3 task still starting when the rollback
# began was stopped by the rollback instead):

# %%
v3_tasks = [t for t in lab.ecs.describe_tasks(cluster=CLUSTER, tasks=sorted({arn for look in looks for arn in look.task_arns}))["tasks"] if t["taskDefinitionArn"] == task_def_v3_arn]
failed_checks = [t for t in v3_tasks if "health checks" in t["stoppedReason"]]
threshold = max(3, -(-described["desiredCount"] // 2))  # the circuit breaker's: at least 3, or half of desiredCount rounded up
{
    "v3 tasks that failed health checks, at least the threshold": len(failed_checks) >= threshold,
    "their stoppedReason": sorted({without_ids(t["stoppedReason"]) for t in failed_checks}),
    "the service runs": version_of[described["taskDefinition"]],
}

# %% [markdown]
# And the traffic, all along:

# %%
summary = traffic.summary()
{"no request failed": summary["failed"] == 0, "versions that answered": sorted(summary["by_version"])}

# %% tags=["nbval-ignore-output"]
print(f"update_service(v3) → back on v2, steady: {looks[-1].at - looks[0].at:.1f} s; {summary['requests']} requests, {summary['failed']} failed")

# %% [markdown]
# The v3 tasks never got a single request: a target gets traffic only once healthy, and they never
# were. Without a load balancer (or with a health check that always passes) the same v3 would have
# replaced v2 and answered nothing. Without the circuit breaker, ECS would keep starting v3 tasks,
# waiting longer each time, for hours.
#
# ## 8. Auto scaling on CPU
#
# A service's `desiredCount` can follow the load: **Application Auto Scaling** with a **target
# tracking** policy keeps a metric near a target value. For ECS services there are three
# predefined metrics: `ECSServiceAverageCPUUtilization`, `ECSServiceAverageMemoryUtilization` (as
# a percentage of what the tasks reserve) and `ALBRequestCountPerTarget`. Two calls: register the
# service's desired count as a **scalable target** with its minimum and maximum, then put the
# policy.
#
# ```
# aws application-autoscaling register-scalable-target --service-namespace ecs \
#   --resource-id service/lb-cluster/lb-service --scalable-dimension ecs:service:DesiredCount \
#   --min-capacity 1 --max-capacity 4
# ```

# %%
scaling_since = time.time()
autoscaling.register_scalable_target(
    ServiceNamespace="ecs", ResourceId=RESOURCE_ID, ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=4
)
autoscaling.put_scaling_policy(
    PolicyName="cpu50",
    ServiceNamespace="ecs",
    ResourceId=RESOURCE_ID,
    ScalableDimension="ecs:service:DesiredCount",
    PolicyType="TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration={
        "TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        "ScaleOutCooldown": 5,
        "ScaleInCooldown": 5,
    },
)
[(p["PolicyName"], p["PolicyType"]) for p in autoscaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=RESOURCE_ID)["ScalingPolicies"]]

# %% [markdown]
# How many tasks does the policy ask for? **AWS publishes no formula.** Its documentation says
# that Application Auto Scaling "calculates the scaling adjustment based on the metric and the
# target value" and adds or removes capacity "to keep the metric at, or close to, the specified
# target value", between min and max, with cooldowns between activities; and it asks for a metric
# that changes in inverse proportion to capacity (twice the tasks, half the CPU each).
#
# The lab needs *some* rule, so it uses a proportional one. **This is the lab's model, not
# AWS's:** new desired count = ⌈running tasks × metric ÷ target⌉, kept within min and max, not
# changed again before the cooldown has passed. Do not expect AWS to pick the same numbers; expect
# it to move the same way. With no load, the CPU is near 0 %, so three tasks are too many: the
# policy scales in to the minimum, 1.

# %%
def wait_for_running(count, timeout=60):
    """Wait until the service runs `count` tasks and wants no other number; returns the seconds waited."""
    started = time.monotonic()
    while True:
        described = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
        if described["desiredCount"] == described["runningCount"] == count:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{described['runningCount']} running, {described['desiredCount']} desired after {timeout} s")
        time.sleep(0.5)


print(f"at rest → 1 task: {wait_for_running(1):.1f} s")

# %% [markdown]
# Now load: 12 requests a second to `/work?ms=200`, which keeps a task's CPU busy for 200 ms each.
# One task (256 CPU units, a quarter of a CPU) cannot keep up: its CPU goes to 100 %, so the
# lab's model wants ⌈1 × 100 ÷ 50⌉ = 2 tasks, then more as the average stays above 50 % (AWS would
# scale out too, by its own amounts). We keep the
# load on until the service reaches its maximum (4) or a minute passes, then switch it off and wait
# for the scale-in.

# %% tags=["nbval-ignore-output"]
load = elb_tools.TrafficGenerator(url, rate=12, concurrency=12, path="/work?ms=200")
load_on = time.time()
load.start()
try:
    print(f"load on → 4 tasks running: {wait_for_running(4):.1f} s")
except TimeoutError as error:
    print(f"no 4 tasks within a minute: {error}")
time.sleep(3)  # a little longer at 4 tasks, for the chart
load.stop()
load_off = time.time()
print(f"load off → 1 task: {wait_for_running(1):.1f} s")
time.sleep(3)  # one more sample at rest

# %% [markdown]
# The lab's samples of the policy's metric and the service's counts, from the moment the policy
# was put:

# %%
samples = elb_tools.autoscaling_history(lab, RESOURCE_ID, since=scaling_since)
axes = elb_tools.plot_autoscaling(samples, since=scaling_since, marks={"load on": load_on - scaling_since, "load off": load_off - scaling_since})
axes[0].set_title("Target tracking on CPU (target 50 %): desired and running tasks, and the CPU they report", fontsize=10, pad=14)
axes[0].figure.tight_layout()
plt.show()

# %%
under_load = [s for s in samples if load_on <= s["time"] <= load_off]
{
    "scaled out under load": max(s["desired"] for s in under_load) > 1,
    "never above MaxCapacity": max(s["desired"] for s in samples) <= 4,
    "back to MinCapacity after": samples[-1]["desired"] == 1,
}

# %% [markdown]
# Each change of `desiredCount` is a **scaling activity**, with the alarm that caused it
# (`AlarmHigh` to scale out, `AlarmLow` to scale in). The newest first:

# %%
activities = [a for a in autoscaling.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=RESOURCE_ID)["ScalingActivities"]
              if a["StartTime"].timestamp() >= scaling_since]
{"all successful": {a["StatusCode"] for a in activities} == {"Successful"},
 "newest": {key: activities[0][key] for key in ("Description", "Cause", "StatusCode")}}

# %% tags=["nbval-ignore-output"]
print(f"requests under load: {load.summary()['requests']}, failed: {load.summary()['failed']}; scaling activities, oldest first:")
for activity in reversed(activities):
    print(f"{activity['StartTime'].timestamp() - scaling_since:5.1f} s  {activity['Description']}")

# %% [markdown]
# ## 9. What is AWS here, and what is the lab
#
# The API calls, the states, reasons, events and the rules (round robin over healthy targets,
# health-check thresholds, draining, the deployment bounds, the circuit breaker's threshold and
# rollback, min/max, cooldowns) are AWS's. What differs:
#
# | | AWS | the lab |
# |---|---|---|
# | listener | the ALB's DNS name, port 80, nodes in each AZ | one proxy on 127.0.0.1, a port of its own |
# | targets | each task's IP in your VPC | moto's made-up IPs, mapped to the task's port on 127.0.0.1 |
# | security groups | decide who may reach the ALB and the tasks | enforced at the listener (its port from 0.0.0.0/0) and from the ALB to the targets; not between tasks, nor for direct calls to a task (notebook 07) |
# | health checks, draining | as configured (we chose 5 s checks, 2 s delay; defaults 30 s and 300 s) | the same, for real |
# | ECS noticing an unhealthy target | tens of seconds | within a fraction of a second |
# | metrics for target tracking | CloudWatch, 1-minute datapoints; scale-out after 3 in a row, scale-in after 15 | **compressed**: a sample every 2 s plus the time `docker stats` takes (2–4 s apart), averaged over 10 s |
# | how many tasks target tracking asks for | AWS's own calculation, not published | the lab's model: ⌈running × metric ÷ target⌉ |
# | cooldowns | default 300 s | 5 s, as we asked (AWS accepts such values) |
# | CPU utilization | Fargate's own measurement | `docker stats` of the task's container, against its quarter CPU |
#
# So on AWS the same autoscaling story takes minutes, not seconds, and scale-in is deliberately
# slower than scale-out.
#
# ## 10. When AWS says no
#
# **A second listener on a port that has one.** (Creating the very same listener again is
# accepted: AWS returns the existing one. Different settings on the same port are not.)

# %%
try:
    elbv2.create_listener(
        LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "hello"}}],
    )
except ClientError as error:
    print(error)

# %% [markdown]
# **A health check path the app does not serve.** A second target group checks `/healthz` (the
# app serves `/health`); a listener rule sends `/typo/*` to it, and we register one of our tasks by
# hand. The target never becomes healthy:

# %%
tg_404_arn = elbv2.create_target_group(
    Name=TG_404_NAME, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip", HealthCheckPath="/healthz",
    HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2, UnhealthyThresholdCount=2,
)["TargetGroups"][0]["TargetGroupArn"]
rule_arn = elbv2.create_rule(
    ListenerArn=listener_arn, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/typo/*"]}],
    Actions=[{"Type": "forward", "TargetGroupArn": tg_404_arn}],
)["Rules"][0]["RuleArn"]
some_task = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)[0]
ip, port = elb_tools.target_of(some_task).split(":")
elbv2.register_targets(TargetGroupArn=tg_404_arn, Targets=[{"Id": ip, "Port": int(port)}])
elb_tools.watch_target_health(elbv2, tg_404_arn, until=lambda rows: rows and rows[0]["state"] == "unhealthy", timeout=30)
elbv2.describe_target_health(TargetGroupArn=tg_404_arn)["TargetHealthDescriptions"][0]["TargetHealth"]

# %%
elbv2.delete_rule(RuleArn=rule_arn)
elbv2.delete_target_group(TargetGroupArn=tg_404_arn)
[group["TargetGroupName"] for group in elbv2.describe_target_groups()["TargetGroups"] if group["TargetGroupName"].startswith(TG_NAME)]

# %% [markdown]
# `Target.ResponseCodeMismatch` with the code the app gave: the first thing to read when targets
# stay unhealthy. (A `Matcher` of `200-399` would not help here: 404 is a real answer, "not here".)
#
# **Deployment percentages ECS cannot honour.** `minimumHealthyPercent` above 100, or a
# `maximumPercent` not above it:

# %%
for percentages in ({"minimumHealthyPercent": 150, "maximumPercent": 200}, {"minimumHealthyPercent": 100, "maximumPercent": 100}):
    try:
        lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, deploymentConfiguration=percentages)
    except ClientError as error:
        print(percentages, "→", error)

# %% [markdown]
# **Scaling a service that does not exist.** Application Auto Scaling checks the resource when
# you register it:

# %%
try:
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=f"service/{CLUSTER}/no-such-service", ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=4
    )
except ClientError as error:
    print(error)

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "A target group checks every 5 s with UnhealthyThresholdCount 2. A task's app hangs. What happens to requests?",
        (
            "The ALB keeps sending it requests until ECS replaces the task",
            "Requests sent to it in the next ~10 s fail or wait; then the ALB sends it none, while ECS replaces the task",
            "The ALB retries each failed request on another task, so no client notices",
        ),
        1,
        "Health checks find a broken target only after the threshold of failures (section 5 measured it); until then it gets its share. "
        "An ALB does not retry a request that a target accepted.",
        why_not=(
            "Once the target is marked unhealthy (2 failed checks, about 10 s) the ALB stops routing to it, before ECS replaces the task.",
            "",
            "An ALB does not retry a request a target accepted: the clients whose requests reached the hung task see them fail or time out.",
        ),
    ),
    Question(
        "desiredCount 4, minimumHealthyPercent 50, maximumPercent 100. How does a rolling deployment go?",
        (
            "ECS starts 4 new tasks, then stops the 4 old ones",
            "ECS stops 2 old tasks first, starts 2 new ones, and repeats: never more than 4 tasks, at least 2 healthy",
            "ECS refuses these percentages",
        ),
        1,
        "At most 100 % of 4 = 4 tasks may run, so there is no room for new tasks until old ones go; at least 50 % of 4 = 2 stay healthy. "
        "Cheaper than 200 %, but half the capacity during the rollout.",
        why_not=(
            "8 tasks at once would need maximumPercent 200; with 100 no task can start before another stops.",
            "",
            "They are valid: minimumHealthyPercent below 100 and maximumPercent above it (section 10 shows what ECS refuses).",
        ),
    ),
    Question(
        "A new revision's tasks all fail their health checks. The circuit breaker is on with rollback. What does the service end up running?",
        (
            "Nothing: ECS stopped the broken tasks",
            "The new revision, retried forever",
            "The revision of the last deployment that COMPLETED",
        ),
        2,
        "After enough failed tasks (at least 3, or half of desiredCount) the deployment is FAILED and ECS starts a new deployment of the last "
        "COMPLETED revision (section 7). Meanwhile the old tasks kept serving.",
        why_not=(
            "The old tasks keep running during the failed deployment, and the rollback brings the service back to full strength.",
            "That is what happens without the circuit breaker; with it, ECS gives up after the threshold of failed tasks.",
            "",
        ),
    ),
    Question(
        "On AWS, a service scales with target tracking on ECSServiceAverageCPUUtilization, target 50 %, MaxCapacity 10. Two tasks have run "
        "at 90 % CPU for several minutes. What can you rely on?",
        (
            "desiredCount becomes exactly ⌈2 × 90 ÷ 50⌉ = 4",
            "desiredCount goes up, within MaxCapacity, to bring the average back toward 50 %; the exact number is AWS's own calculation",
            "desiredCount jumps to MaxCapacity, 10",
        ),
        1,
        "AWS says target tracking \"calculates the scaling adjustment based on the metric and the target value\" to keep the metric at or "
        "close to the target; it publishes no formula. ⌈running × metric ÷ target⌉ is the lab's model (section 8).",
        why_not=(
            "That is the lab's model, not a rule AWS publishes; AWS may choose another number.",
            "",
            "Target tracking adds what it calculates the metric needs, not the maximum; MaxCapacity is only a ceiling.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - An ALB is a **load balancer** (subnets in two or more AZs), a **target group** (`ip` targets
#   for Fargate, port, health check) and a **listener** (port 80, forward). `loadBalancers` in
#   `create_service` makes ECS register each task as a target when it runs and deregister it
#   before it stops.
# - **Security groups** decide who gets in: the ALB's admits port 80 from anywhere, the tasks'
#   admits 8080 from the ALB's group only, so clients reach the tasks through the ALB alone.
# - The ALB sends requests **round robin** to the **healthy** targets only; with none at all it
#   answers 503 itself.
# - **Health checks** find a target that stops answering after `interval × UnhealthyThreshold`;
#   until then some requests fail. ECS replaces such a task (after any
#   `healthCheckGracePeriodSeconds`), with the stoppedReason "Task failed ELB health checks".
# - A **rolling deployment** behind an ALB lost no request of about 300: new tasks get traffic only
#   once healthy, old ones drain before they stop, and ECS stays within `minimumHealthyPercent` and
#   `maximumPercent`.
# - The **deployment circuit breaker** fails a deployment whose tasks keep failing and, with
#   rollback, returns to the last COMPLETED revision; the broken tasks never got traffic.
# - **Target tracking** moves `desiredCount` to bring the metric back to its target, within
#   min/max and cooldowns; AWS publishes no formula for how many tasks (the lab's model is
#   ⌈running × metric ÷ target⌉); in the lab in seconds, on AWS in minutes.
# - AWS's words: `DuplicateListener`, `Target.ResponseCodeMismatch`, `InvalidParameterException`,
#   `ValidationException`.
#
# **Exercise:** `exercises/06-load-balancing.ipynb`: create a target group, put a two-task service
# behind an ALB, and choose deployment percentages.
#
# ## Cleanup
#
# In order (`MADE_HERE`, removed by `ecslab.cleanup.remove`): the scalable target with its scaling
# policy, the service and its tasks, the cluster, the load balancer with its listener, the target
# groups, the security groups, the repository, then this notebook's task definitions and local
# images. What it returns is what is left under those names: nothing. The execution role stays: it is the
# account's, used by every notebook's tasks.

# %%
left = cleanup.remove(lab, MADE_HERE)
for arn in version_of:
    lab.ecs.deregister_task_definition(taskDefinition=arn)
images.remove_images([f"{REPOSITORY}:v1", f"{REPOSITORY}:v2", *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
left
