# %% [markdown]
# # 06a · Rolling deployments, the circuit breaker and auto scaling behind a load balancer
#
# Notebook 06 put an Application Load Balancer in front of a service and watched its health checks.
# The lecture notes (section 8) promise more from that pairing: **zero-downtime deployments** and
# **auto scaling**. This notebook makes both happen under load, and measures them: a rolling
# deployment v1 → v2 while 20 requests a second go through the ALB, a broken v3 that the deployment
# circuit breaker rolls back, and target tracking that adds tasks under CPU load and removes them
# afterwards. (Notebook 06b continues with the other deployment strategies.)
#
# **Goals.** By the end of this notebook you will
# - know what `minimumHealthyPercent` and `maximumPercent` allow during a rollout, and have checked
#   it under load: v1 → v2 with zero failed requests;
# - have watched the deployment circuit breaker roll back a broken v3 that never got a request;
# - have watched target tracking scale the service out under CPU load and back in afterwards;
# - recognise the deployment and scaling settings AWS refuses, in AWS's words.
#
# **Time:** about 40 minutes (an estimate of reading and trying things out: no learner has been
# timed yet); the cells alone run in about 3½ minutes (197 s measured on a fresh lab, 2-core VM,
# December 2026; the auto scaling experiment takes 75 s of it). It runs on its own: the first section
# builds, with one call, the service behind a load balancer that notebook 06 built step by step.
#
# ```
# 20 req/s ──► ALB :80 ──► target group ──┬─► v1 task ┐  update_service(v2):
#                                         ├─► v1 task ├─ v2 tasks start, pass health checks,
#                                         └─► v1 task ┘  then v1 tasks drain and stop
# ```

# %% [markdown]
# ## 1. Setup: a service behind a load balancer
#
# Names of this notebook's own: repository and task family `roll-demo`, and what
# `elb_tools.web_service_behind_alb` makes for the prefix `roll-demo`: security groups
# `roll-demo-alb` (port 80 from anywhere) and `roll-demo-tasks` (8080 from the ALB only), the ALB
# `roll-demo-alb`, its target group `roll-demo-tg` (`GET /health` every 5 s, healthy after 2 passes,
# unhealthy after 2 failures, 2 s deregistration delay), an HTTP listener on 80, the cluster
# `roll-demo-cluster` and the service `roll-demo-service` (3 Fargate tasks, the deployment circuit
# breaker on with rollback). `MADE_HERE` lists them in the order they are deleted, with the scaling
# target of section 4; the first cell removes what an earlier run left.

# %%
import re
import time
from datetime import UTC, datetime

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import cleanup, images, security

lab = ecslab.connect()
elbv2 = lab.elbv2
autoscaling = lab.client("application-autoscaling")
REPOSITORY = FAMILY = PREFIX = "roll-demo"
NAMES = elb_tools.web_service_names(PREFIX)
CLUSTER, SERVICE = NAMES["cluster"], NAMES["service"]
RESOURCE_ID = f"service/{CLUSTER}/{SERVICE}"  # how Application Auto Scaling names the service

MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    scalable_targets=[RESOURCE_ID], clusters=[CLUSTER], load_balancers=[NAMES["load_balancer"]], target_groups=[NAMES["target_group"]],
    security_groups=NAMES["security_groups"].split(), task_families=[FAMILY], repositories=[REPOSITORY],
)


def without_ids(message):
    """Service events name tasks, deployments and target groups by IDs that change on every run."""
    return re.sub(r"\((task|deployment|target-group) [^)]+\)", r"(\1 …)", message)


cleanup.remove(lab, MADE_HERE)

# %% [markdown]
# Build the sample app as v1 and v2 and push both to ECR (a few seconds, from the build cache).

# %% tags=["nbval-ignore-output"]
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
login = ecr_tools.get_login(lab.ecr)
for version in ("v1", "v2"):
    images.build_sample_app(f"{REPOSITORY}:{version}", version=version, client=lab.docker, config=lab.config, show_progress=False)
    ecr_tools.push_image(lab.docker, f"{REPOSITORY}:{version}", repo_uri, version, login, show_progress=False)
sorted(tag for image in lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for tag in image["imageTags"])

# %% [markdown]
# Now the service behind the load balancer, v1, 3 tasks; the call returns once all three targets
# are healthy.

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
web = elb_tools.web_service_behind_alb(lab, PREFIX, f"{repo_uri}:v1", execution_role_arn=execution_role_arn, desired_count=3)
tg_arn, url, task_def_arn = web.target_group_arn, web.url, web.task_def_arn
described = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
{"running": described["runningCount"], "healthy targets": elb_tools.healthy_count(elb_tools.target_health(elbv2, tg_arn)),
 "deploymentConfiguration": described["deploymentConfiguration"]}

# %% [markdown]
# ## 2. A rolling deployment under load
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
# ## 3. A broken v3 and the circuit breaker
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
# ## 4. Auto scaling on CPU
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
# ## 5. What is AWS here, and what is the lab
#
# The API calls, the states, reasons and events, and the rules (the deployment bounds, health
# checks and draining, the circuit breaker's threshold and rollback, min/max, cooldowns) are AWS's.
# What differs:
#
# | | AWS | the lab |
# |---|---|---|
# | health checks, draining | as configured (here 5 s checks, 2 s delay; defaults 30 s and 300 s) | the same, for real |
# | a rollout of 3 tasks | minutes (task start, health checks, draining) | seconds |
# | metrics for target tracking | CloudWatch, 1-minute datapoints; scale-out after 3 in a row, scale-in after 15 | **compressed**: a sample every 2 s plus the time `docker stats` takes (2–4 s apart), averaged over 10 s |
# | how many tasks target tracking asks for | AWS's own calculation, not published | the lab's model: ⌈running × metric ÷ target⌉ |
# | cooldowns | default 300 s | 5 s, as we asked (AWS accepts such values) |
# | CPU utilization | Fargate's own measurement | `docker stats` of the task's container, against its quarter CPU |
#
# So on AWS the same autoscaling story takes minutes, not seconds, and scale-in is deliberately
# slower than scale-out.
#
# ## 6. When AWS says no
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
            "They are valid: minimumHealthyPercent below 100 and maximumPercent above it (section 6 shows what ECS refuses).",
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
        "COMPLETED revision (section 3). Meanwhile the old tasks kept serving.",
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
        "close to the target; it publishes no formula. ⌈running × metric ÷ target⌉ is the lab's model (section 4).",
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
# - A **rolling deployment** behind an ALB lost no request of about 300: new tasks get traffic only
#   once healthy, old ones drain before they stop, and ECS stays within `minimumHealthyPercent` and
#   `maximumPercent` (at least ⌈desired × minimum ÷ 100⌉ healthy, at most ⌊desired × maximum ÷ 100⌋ running).
# - The **deployment circuit breaker** fails a deployment whose tasks keep failing and, with
#   rollback, returns to the last COMPLETED revision; the broken tasks never got traffic.
# - **Target tracking** moves `desiredCount` to bring the metric back to its target, within
#   min/max and cooldowns; AWS publishes no formula for how many tasks (the lab's model is
#   ⌈running × metric ÷ target⌉); in the lab in seconds, on AWS in minutes.
# - AWS's words: `InvalidParameterException` for percentages ECS cannot honour,
#   `ValidationException` for scaling a service that does not exist.
#
# **Next:** notebook 06b: blue/green, canary and linear deployments, and what ECS offers since 2025.
#
# **Exercise:** `exercises/06a-rolling-deployments-and-scaling.ipynb`: choose deployment percentages
# for a budget.
#
# ## Cleanup
#
# In order (`MADE_HERE`, removed by `ecslab.cleanup.remove`): the scalable target with its scaling
# policy, the service and its tasks, the cluster, the load balancer with its listener, the target
# group, the security groups, the task definitions, the repository, then the local images. What it
# returns is what is left under those names: nothing. The execution role stays: it is the account's,
# used by every notebook's tasks.

# %%
left = cleanup.remove(lab, MADE_HERE)
images.remove_images([f"{REPOSITORY}:v1", f"{REPOSITORY}:v2", *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
left
