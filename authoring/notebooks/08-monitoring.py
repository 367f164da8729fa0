# %% [markdown]
# # 08 · Monitoring and logs: what your containers say, and what AWS measures
#
# **Goals.** By the end of this notebook you will
# - ship a container's output to CloudWatch Logs with the `awslogs` log driver, read one task's
#   log stream and search a whole log group, and know how soon a line shows up;
# - read the CPU and memory metrics ECS publishes for each service, and draw them as a small
#   dashboard while one service works hard and another idles;
# - make an alarm go to ALARM under load and back to OK, and read why, in CloudWatch's words;
# - find a service's event history and why its tasks stopped (the ECS console's view), and an
#   ECR repository's push history (the ECR console's view);
# - recognise three mistakes by what AWS answers.
#
# **Time:** about 35 minutes of reading and trying (an estimate); the cells alone run in 1.5 to 5
# minutes, much of it waiting for metrics and alarms (measured on a shared 2-core VM, December 2026:
# the busier the machine, the longer).
#
# The lecture notes list four places to look. Each has a section here, fed by the lab's real
# containers:
#
# | the notes' tool | what it is for | what you do with it here | sections |
# |---|---|---|---|
# | CloudWatch Logs | view container logs | the `awslogs` driver ships each task's stdout/stderr to a log group; `get_log_events`, `filter_log_events` | 3, 4 |
# | CloudWatch Metrics | CPU, memory usage, network I/O | `AWS/ECS` CPUUtilization and MemoryUtilization per service: a dashboard, alarms, a chart to explore | 5, 6, 7, 8 |
# | ECS console | task health, event history | a service's events; why its tasks stopped (`stopCode`, `stoppedReason`, exit code) | 9 |
# | ECR console | image versions and push history | each image of a repository with its tags, digest, size and push time | 10 |
#
# **What the lab compresses, and what it leaves out.** AWS/ECS publishes one datapoint a minute
# and CloudWatch evaluates a standard alarm once a minute; the lab does both **every 10 seconds**,
# so a lesson can watch them change. The names, dimensions, statistics, periods, alarm states and
# reasons are CloudWatch's; where else the lab differs, the section says so. Not modelled: **network
# I/O** metrics (on AWS they come from Container Insights), **Container Insights** itself
# (per-task metrics and its ready-made dashboards), alarm **actions** (an SNS e-mail, say), and
# **EventBridge** events (such as "ECS Task State Change").

# %% [markdown]
# ## 1. Setup
#
# This notebook's names: repository `monitoring-demo`, cluster `monitoring-cluster` with two
# services, `busy-api` (we will load it) and `idle-api` (we will not), log group
# `/ecs/monitoring-demo`, alarms whose names start with `monitoring-`. The first cell lists them
# in `MADE_HERE` and removes whatever an earlier run left with `ecslab.cleanup.remove`: alarms,
# then the cluster with its services and tasks, the log group and the repository.

# %%
import re
import statistics
import time
from datetime import UTC, datetime

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import network as network_tools
from ecslab import cleanup, images, monitoring, security
from ecslab.elb import TrafficGenerator

lab = ecslab.connect()
REPOSITORY = "monitoring-demo"
CLUSTER = "monitoring-cluster"
BUSY, IDLE = "busy-api", "idle-api"
LOG_GROUP = "/ecs/monitoring-demo"
ALARM = "monitoring-busy-api-cpu-high"


MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    alarms=[ALARM, "monitoring-typo-cpu-high"], clusters=[CLUSTER], log_groups=[LOG_GROUP], repositories=[REPOSITORY],
)
run_started = datetime.now(UTC)  # charts start here: metrics of an earlier run stay in CloudWatch
cleanup.remove(lab, MADE_HERE)

# %% [markdown]
# ## 2. The image
#
# The sample app as `monitoring-demo:v1`, pushed to ECR (notebook 03 took these steps apart).
# It comes from the build cache when an earlier notebook built it.

# %% tags=["nbval-ignore-output"]
v1 = images.build_sample_app(f"{REPOSITORY}:v1", version="v1", client=lab.docker, config=lab.config)
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
login = ecr_tools.get_login(lab.ecr)
push_v1 = ecr_tools.push_image(lab.docker, v1.tag, repo_uri, "v1", login)

# %%
pushed = lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
{"tags in ECR": [d["imageTags"] for d in pushed], "same digest as the push": [d["imageDigest"] for d in pushed] == [push_v1.digest]}

# %% [markdown]
# ## 3. Ship a container's logs: the `awslogs` log driver
#
# A container writes its logs to stdout and stderr; it knows nothing about CloudWatch. The sample
# app prints one line when it starts and one per request. What takes those lines to CloudWatch
# Logs is the container's **log driver**, chosen in the task definition:
#
# ```json
# "logConfiguration": {
#   "logDriver": "awslogs",
#   "options": {"awslogs-group": "/ecs/monitoring-demo", "awslogs-region": "us-east-1",
#               "awslogs-stream-prefix": "busy-api", "awslogs-create-group": "false"}
# }
# ```
#
# - `awslogs-group`: the **log group**, one folder of logs, with its own retention and access;
#   `awslogs-region`: the region it is in.
# - `awslogs-stream-prefix`: each task gets its own **log stream**, named
#   `prefix/container-name/task-id`, so you can tell the tasks apart and find a task's stream
#   from its ID. Fargate requires a prefix.
# - `awslogs-create-group`: `"true"` lets the driver create a missing group. It is a string, like
#   every option. Without it the group must exist (section 11 shows what happens when it does not).
# - `mode`: what happens when the logs cannot leave as fast as the app writes them. `"blocking"`:
#   the app's writes to stdout/stderr wait, and a stuck log stream can hang the app. `"non-blocking"`:
#   lines wait in a buffer of `max-buffer-size` (default `10m`), and when it is full **lines are
#   lost**. On 25 June 2025 ECS changed the default from blocking to non-blocking ("to prioritize
#   task availability over logging", AWS's API reference); the account setting
#   `defaultLogDriverMode` or `"mode": "blocking"` in the options brings blocking back. Choose
#   knowingly: an audit log may prefer blocking, a web API non-blocking with a larger buffer
#   (`"max-buffer-size": "25m"`). The lab's driver never drops lines, in either mode.
#
# On Fargate, ECS writes the logs with the task's **execution role** (`executionRoleArn`):
# `logs:CreateLogStream` and `logs:PutLogEvents`, both in the managed policy
# `AmazonECSTaskExecutionRolePolicy`; creating the group also needs `logs:CreateLogGroup`, which
# that policy does not grant. ECS refuses a Fargate task definition that uses `awslogs` (or pulls
# from ECR) without an execution role, and the lab checks the role's permissions as ECS does.
# Create the execution role ECS uses to pull your image and write your logs (the console does
# this on first use; notebook 05 showed the `aws iam` commands):

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
execution_role_arn

# %% [markdown]
# We create the group ourselves, so we can give it a **retention**: CloudWatch keeps logs forever
# by default, and charges for storing them. That also means the execution role needs no
# `logs:CreateLogGroup`.
#
# ```
# aws logs create-log-group --log-group-name /ecs/monitoring-demo
# aws logs put-retention-policy --log-group-name /ecs/monitoring-demo --retention-in-days 7
# ```

# %%
lab.logs.create_log_group(logGroupName=LOG_GROUP)
lab.logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)
[{key: group.get(key) for key in ("logGroupName", "retentionInDays")} for group in lab.logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]]

# %% [markdown]
# Two services in one cluster, each with its own task definition family. Both log to the same
# group, each under its own stream prefix. `monitoring.awslogs_configuration` writes the
# `logConfiguration` above; the rest is notebook 05's Fargate task definition, execution role
# included.

# %%
lab.ecs.create_cluster(clusterName=CLUSTER)
default_vpc = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
subnet_ids = [s["SubnetId"] for s in lab.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"]]
web_group = network_tools.public_task_security_group(lab.ec2, default_vpc)  # TCP 8080 from anywhere: we call the tasks (notebook 04)
task_def_arns = {}
for service_name in (BUSY, IDLE):
    task_def = ecs_tools.task_definition(service_name, image=f"{repo_uri}:v1", cpu=256, memory=512, execution_role_arn=execution_role_arn)
    task_def["containerDefinitions"][0]["logConfiguration"] = monitoring.awslogs_configuration(LOG_GROUP, lab.region, prefix=service_name, create_group=False)
    task_def_arns[service_name] = lab.ecs.register_task_definition(**task_def)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(cluster=CLUSTER, serviceName=service_name, taskDefinition=task_def_arns[service_name], desiredCount=1,
                           launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [web_group], "assignPublicIp": "ENABLED"}})
steady = {name: ecs_tools.wait_for_steady_state(lab.ecs, CLUSTER, name, show_progress=False)["runningCount"] for name in (BUSY, IDLE)}
registered = lab.ecs.describe_task_definition(taskDefinition=task_def_arns[BUSY])["taskDefinition"]
{"busy-api's logConfiguration": registered["containerDefinitions"][0]["logConfiguration"], "running tasks": steady}

# %% [markdown]
# ## 4. Read and search the logs
#
# Each running task has its stream. A stream's name ends in the task's ID, so from a task you can
# go straight to its logs:

# %%
busy_task = ecs_tools.service_tasks(lab.ecs, CLUSTER, BUSY)[0]
idle_task = ecs_tools.service_tasks(lab.ecs, CLUSTER, IDLE)[0]
busy_stream = f"{BUSY}/web/{busy_task['taskArn'].split('/')[-1]}"
streams = [s["logStreamName"] for s in lab.logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]]
{"streams (task IDs left out)": sorted(name.rsplit("/", 1)[0] + "/…" for name in streams), "busy-api's task has its stream": busy_stream in streams}

# %% [markdown]
# **One stream, `get_log_events`** (`aws logs get-log-events --log-group-name ... --log-stream-name ...`).
# From the head of the stream, the first thing the app said:

# %%
deadline = time.monotonic() + 5  # the task has just started: its first line may still be on its way
head = []
while not head and time.monotonic() < deadline:
    head = lab.logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=busy_stream, startFromHead=True, limit=1)["events"]
    time.sleep(0.1)
head[0]["message"]

# %% [markdown]
# **How soon does a line show up?** Call the task with a path nobody else uses, then ask
# `get_log_events` every 20 ms until the app's line for that request is there. Five times:

# %%
delays = [monitoring.seconds_until_logged(lab.logs, LOG_GROUP, busy_stream, ecs_tools.task_url(busy_task) + f"/where-is-my-line-{n}") for n in range(5)]
{"lines found": sum(d is not None for d in delays), "all within 2 s": all(d is not None and d < 2 for d in delays)}

# %% tags=["nbval-ignore-output"]
print(f"request → line in CloudWatch Logs: median {statistics.median(delays):.2f} s, slowest {max(delays):.2f} s")

# %% [markdown]
# The lab sends what a container wrote about every 0.3 s. The `awslogs` driver on AWS also sends
# in batches, by default one every 5 seconds, so there expect a line within about 5 seconds: fine
# for reading logs, too slow for a test that waits on them without a timeout.
#
# Two CloudWatch Logs tools you will meet on AWS (as of 2026) and that the lab does not run:
# **Live Tail** (`start_live_tail`, the console's *Live tail* button) streams new lines of one or
# more groups as they arrive, like `tail -f`; **Logs Insights** (`start_query`, then
# `get_query_results`) runs a query language over groups, e.g.
# `fields @timestamp, @message | filter @message like /GET \/health/ | stats count() by bin(1m)`.
# Below, the lab's `filter_log_events` does the searching.
#
# **A whole group, `filter_log_events`**: search every stream of a group at once with a
# **filter pattern**. Send 4 requests to `/health` on busy-api and 2 on idle-api, then count the
# lines with the phrase `GET /health` per stream prefix (that is, per service):

# %%
for task, count in ((busy_task, 4), (idle_task, 2)):
    for _ in range(count):
        ecs_tools.call_task(task, "/health")


def health_lines():
    return monitoring.search_logs(lab.logs, LOG_GROUP, '"GET /health"', minutes=10)


deadline = time.monotonic() + 5
while len(health_lines()) < 6 and time.monotonic() < deadline:
    time.sleep(0.1)
found = health_lines()
{prefix: sum(e["stream"].startswith(prefix + "/") for e in found) for prefix in (BUSY, IDLE)}

# %% [markdown]
# One of them, as the app wrote it: date and time (left out here), version, request line, status.

# %%
found[0]["message"].split(" ", 2)[2]

# %% [markdown]
# `monitoring.search_logs` is `filter_log_events(logGroupName=..., filterPattern=..., startTime=...)`,
# following `nextToken` when there are more matches than one answer holds
# (`aws logs filter-log-events --log-group-name /ecs/monitoring-demo --filter-pattern '"GET /health"'`).
# The pattern language, in short:
#
# | pattern | matches lines that | in the lab |
# |---|---|---|
# | `ERROR` | contain the term ERROR (case matters) | yes |
# | `ERROR timeout` | contain both terms | yes |
# | `"GET /health"` | contain the exact phrase; use quotes for anything with spaces or punctuation | yes |
# | `?ERROR ?WARN` | contain either term | no: matches every line |
# | `-health` | do not contain the term | no: matches every line |
# | `{ $.status = 500 }` | are JSON with that field value | no: matches every line |
# | `[date, version, request, status = 5*, size]` | are space-separated fields with those values | no: matches every line |
# | `%5\d\d%` | match the regular expression | no: matches every line |
#
# The lab's CloudWatch Logs (moto) understands terms and quoted phrases. Any other pattern,
# valid or not, matches **every** line there, so check such a pattern on AWS before you trust it.

# %% [markdown]
# ## 5. The metrics ECS publishes
#
# Without anything to switch on, ECS publishes two metrics for every service with RUNNING tasks,
# in the namespace `AWS/ECS`, with the dimensions `ClusterName` and `ServiceName`:
#
# - **CPUUtilization**: CPU the service's tasks used, as a percentage of the CPU their task
#   definition reserves (`cpu`: 256 units, a quarter of a vCPU, here);
# - **MemoryUtilization**: the same for memory (`memory`: 512 MiB here).
#
# Above 100% is possible for CPU on EC2 (a task may use idle CPU of its host beyond what it
# reserved); Fargate holds a task to its size. `list_metrics` shows what the lab published for our
# cluster (`aws cloudwatch list-metrics --namespace AWS/ECS --dimensions Name=ClusterName,Value=monitoring-cluster`):

# %%
def published():
    metrics = lab.cloudwatch.list_metrics(Namespace="AWS/ECS", Dimensions=[{"Name": "ClusterName", "Value": CLUSTER}])["Metrics"]
    return sorted({(m["MetricName"], tuple(f"{d['Name']}={d['Value']}" for d in m["Dimensions"])) for m in metrics})


deadline = time.monotonic() + 15  # the lab publishes every 10 s
while len(published()) < 6 and time.monotonic() < deadline:
    time.sleep(0.5)
published()

# %% [markdown]
# On AWS, ECS publishes these metrics **once a minute** by default ("Amazon ECS sends metrics to
# CloudWatch at one-minute intervals"): each datapoint covers a minute, so an alarm period under
# 60 s would find periods without data. (A service can ask for a finer resolution of its
# `CPUUtilization` and `MemoryUtilization`: `monitoringConfiguration` with `resolutionSeconds` 20;
# the lab does not model it.) The lab publishes every 10 seconds, so that a lesson can watch them
# change. Code that must run on both takes the period from the target, once:

# %%
PERIOD = 10 if lab.is_local else 60  # seconds: the lab's publishing period, or AWS/ECS's minute
PERIOD

# %% [markdown]
# `monitoring.metric_series` reads one of them with `get_metric_data`: the values of a statistic,
# one per period, since this run began. idle-api's CPU so far, in percent:

# %% tags=["nbval-ignore-output"]
def series(metric, service_name, statistic="Average", period=PERIOD):
    return monitoring.metric_series(lab.cloudwatch, "AWS/ECS", metric, monitoring.service_dimensions(CLUSTER, service_name), statistic, period, since=run_started)[1]


series("CPUUtilization", IDLE)

# %% [markdown]
# Two series per service, and two with `ClusterName` alone. On AWS the cluster-only series
# exist for tasks on EC2 container instances (measured against the instances' CPU and memory);
# the lab publishes them for Fargate too, as the average over the cluster's tasks.
#
# A metric is known by its namespace, name and **all** its dimensions: a query or an alarm that
# gives only `ServiceName` finds nothing (section 11).
#
# Every alarm and chart below uses `PERIOD`: 10 s here, 60 s when the same cells run on AWS.
#
# ## 6. An alarm that goes to ALARM under load, and back to OK
#
# An alarm watches one metric: every period it takes the statistic of the datapoints in it,
# compares that with a threshold, and changes state when enough periods breach:
#
# | setting | here | means |
# |---|---|---|
# | `Statistic`, `Period` | Average, `PERIOD` (10 s here, 60 s on AWS) | one number per period: the average of the datapoints in it |
# | `Threshold`, `ComparisonOperator` | 50, GreaterThanThreshold | a period breaches when that number is above 50% |
# | `EvaluationPeriods`, `DatapointsToAlarm` | 1, 1 | ALARM when 1 of the last 1 periods breaches |
# | `TreatMissingData` | missing | a period without data neither breaches nor counts as fine |
#
# States: **OK**, **ALARM**, **INSUFFICIENT_DATA** (not enough data to decide). On AWS you would
# write `Period=60, EvaluationPeriods=3, DatapointsToAlarm=2`: two busy minutes out of three, so one
# spike does not wake anybody up.
#
# ```
# aws cloudwatch put-metric-alarm --alarm-name monitoring-busy-api-cpu-high --namespace AWS/ECS \
#   --metric-name CPUUtilization --dimensions Name=ClusterName,Value=monitoring-cluster Name=ServiceName,Value=busy-api \
#   --statistic Average --period 60 --evaluation-periods 1 --threshold 50 --comparison-operator GreaterThanThreshold
# ```

# %%
lab.cloudwatch.put_metric_alarm(
    AlarmName=ALARM,
    AlarmDescription="busy-api uses more than half of its CPU",
    Namespace="AWS/ECS",
    MetricName="CPUUtilization",
    Dimensions=monitoring.service_dimensions(CLUSTER, BUSY),
    Statistic="Average",
    Period=PERIOD,
    EvaluationPeriods=1,
    DatapointsToAlarm=1,
    Threshold=50.0,
    ComparisonOperator="GreaterThanThreshold",
    TreatMissingData="missing",
)
alarm = lab.cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
{key: alarm[key] for key in ("AlarmName", "MetricName", "Dimensions", "Statistic", "Period", "Threshold", "ComparisonOperator")}

# %% [markdown]
# Now load. First we wait until CloudWatch holds two datapoints of busy-api at rest, so the
# dashboard in section 7 shows a before. Then 8 requests a second to `/work?ms=150` on busy-api's
# task, each one a 150 ms busy loop, far more than a quarter of a vCPU can do; idle-api gets
# nothing. Every half second we ask `describe_alarms` for the state. We keep the load on for at
# least 30 seconds, then stop it and wait for OK.

# %%
def alarm_state():
    found = lab.cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
    return found["StateValue"], found["StateReason"]


def wait_for_state(wanted, since, timeout=60):
    """Ask every 0.5 s until the alarm is in state `wanted` (or `timeout` s pass); returns (state, reason, seconds since `since`)."""
    deadline = time.monotonic() + timeout
    while True:
        state, reason = alarm_state()
        if state == wanted or time.monotonic() > deadline:
            return state, reason, time.monotonic() - since
        time.sleep(0.5)


deadline = time.monotonic() + 40
while len(series("CPUUtilization", BUSY)) < 2 and time.monotonic() < deadline:
    time.sleep(1)
load = TrafficGenerator(ecs_tools.task_url(busy_task), rate=8, concurrency=4, path="/work?ms=150")
load_from, load_started = datetime.now(UTC), time.monotonic()
load.start()
under_load, alarm_reason, to_alarm = wait_for_state("ALARM", load_started)
time.sleep(max(0.0, 30 - (time.monotonic() - load_started)))
load.stop()
load_until, load_stopped = datetime.now(UTC), time.monotonic()
after_load, ok_reason, to_ok = wait_for_state("OK", load_stopped)
{"under load": under_load, "its reason begins": alarm_reason.split(":")[0], "after the load": after_load, "requests that failed": load.summary()["failed"]}

# %% [markdown]
# CloudWatch says why, with the datapoints it looked at. The times and values differ on every
# run; here are this run's:

# %% tags=["nbval-ignore-output"]
print(f"load started → ALARM: {to_alarm:.1f} s\n  {alarm_reason}")
print(f"load stopped → OK:    {to_ok:.1f} s\n  {ok_reason}")

# %% [markdown]
# Both waits are at most a period or two: the alarm changes only when a datapoint is published
# and the alarm is evaluated, every 10 s here (every minute on AWS, so expect minutes there).
#
# `describe_alarm_history` keeps each state change (the console's History tab). The last two:

# %%
history = monitoring.alarm_history(lab.cloudwatch, ALARM)
[row["to"] for row in history][-2:]

# %% [markdown]
# ## 7. A dashboard: CPU and memory of both services
#
# `monitoring.plot_dashboard` asks `get_metric_data` for each service's two metrics since this
# run began and draws them side by side, like a CloudWatch dashboard with two widgets. The shaded
# span is the load.

# %%
dashboard = monitoring.plot_dashboard(lab.cloudwatch, CLUSTER, [BUSY, IDLE], period=PERIOD, since=run_started, highlight=(load_from, load_until))
plt.show()

# %% [markdown]
# What the chart shows, as numbers:

# %%
{
    "busy-api CPU went above 50%": max(series("CPUUtilization", BUSY)) > 50,
    "idle-api CPU stayed under 5%": max(series("CPUUtilization", IDLE)) < 5,
    "memory of both stayed under 20%": max(series("MemoryUtilization", BUSY) + series("MemoryUtilization", IDLE)) < 20,
}

# %% [markdown]
# The busy loop costs CPU and almost no memory: a Python process of about 10 MiB, 2% of the
# 512 MiB reserved. That is worth knowing before you pick a task size: this service needs more CPU
# long before it needs more memory (and 512 MiB is already the least Fargate gives 256 CPU units).
#
# ## 8. Explore one metric: statistic and period
#
# The same data can be asked for in different ways. Pick a metric, a statistic and a period: the
# chart asks `get_metric_data` again and redraws.
#
# - **Average**, **Maximum**, **Minimum** of the datapoints in each period. On AWS, for a service
#   metric, Maximum and Minimum also tell the busiest task from the idlest; the lab publishes one
#   value per service (the average over its tasks), so here they tell the busiest 10 s of a period
#   from the idlest.
# - **SampleCount**: how many datapoints each period holds (2 or 3 in 30 s here, where one comes
#   about every 10 s). A longer period gives fewer, smoother points.

# %%
widget = monitoring.metric_widget(lab.cloudwatch, CLUSTER, BUSY, since=run_started)
widget

# %% [markdown]
# The controls are the widget's `metric`, `statistic` and `period`; setting one in code redraws
# the chart just as choosing it does:

# %%
widget.statistic.value = "Maximum"
widget.period.value = 30
widget.title

# %% [markdown]
# ## 9. The ECS console: event history and task health
#
# The ECS console's **Events** tab is `describe_services`' `events`; its **Tasks** tab, filtered to
# stopped tasks, is `list_tasks(desiredStatus="STOPPED")` and `describe_tasks`. First the events of
# busy-api so far (`monitoring.service_history`, oldest first, with times and IDs left out here):

# %%
def events_of(service_name):
    """The service's event messages, oldest first, without the time and the task and deployment IDs."""
    return [re.sub(r": \(task [^)]+\)|\(deployment [^)]+\) ", "", line.split("  ", 1)[1]) for line in monitoring.service_history(lab.ecs, CLUSTER, service_name)]


events_of(BUSY)

# %% [markdown]
# Now a crash: kill busy-api's container behind ECS's back, as an out-of-memory kill or a bug
# would. The service replaces the task. `monitoring.stopped_tasks` lists the service's stopped
# tasks with their `stopCode`, `stoppedReason` and exit codes; here is the one we killed:

# %%
ecs_tools.kill_task_container(lab.docker, busy_task["taskArn"])
lab.ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=[busy_task["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
replaced = ecs_tools.wait_for_steady_state(lab.ecs, CLUSTER, BUSY, show_progress=False)
killed_id = busy_task["taskArn"].split("/")[-1]
[{key: row[key] for key in ("stopCode", "reason", "exitCodes")} for row in monitoring.stopped_tasks(lab.ecs, CLUSTER, BUSY) if killed_id.startswith(row["task"])]

# %% [markdown]
# `EssentialContainerExited` with exit code 137 (128 + 9, SIGKILL): the container was killed.
# An out-of-memory kill looks the same, with `OutOfMemoryError` in the container's `reason`. The
# service's events tell the rest:

# %%
events_of(BUSY)[-3:]

# %% [markdown]
# The stopped task's log stream is still there. Logs outlive tasks: that is where you read an app's
# last words after ECS has replaced it.

# %%
streams = [s["logStreamName"] for s in lab.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{BUSY}/")["logStreams"]]
{"busy-api streams": len(streams), "the killed task's stream is kept": busy_stream in streams}

# %% [markdown]
# ## 10. The ECR console: image versions and push history
#
# Push a second version; the ECR console lists a repository's images with tags, digest, size and
# push time (`describe_images`; `aws ecr describe-images --repository-name monitoring-demo`).

# %% tags=["nbval-ignore-output"]
v2 = images.build_sample_app(f"{REPOSITORY}:v2", version="v2", client=lab.docker, config=lab.config)
push_v2 = ecr_tools.push_image(lab.docker, v2.tag, repo_uri, "v2", login)

# %%
monitoring.push_history(lab.ecr, REPOSITORY)

# %% [markdown]
# In push order:

# %%
[d["imageTags"] for d in sorted(lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"], key=lambda d: d["imagePushedAt"])]

# %% [markdown]
# On AWS, who pushed what and when is also in CloudTrail (`PutImage` events), and each push emits
# an "ECR Image Action" event to EventBridge; the lab models neither.
#
# ## 11. When AWS says no
#
# **An alarm on a metric that has no data.** A typo in a dimension is enough: `busy-apl` for
# `busy-api`. CloudWatch accepts the alarm (it cannot know which metrics will exist) and,
# at its first evaluation, finds nothing:

# %%
lab.cloudwatch.put_metric_alarm(
    AlarmName="monitoring-typo-cpu-high", Namespace="AWS/ECS", MetricName="CPUUtilization",
    Dimensions=monitoring.service_dimensions(CLUSTER, "busy-apl"), Statistic="Average", Period=PERIOD,
    EvaluationPeriods=1, Threshold=50.0, ComparisonOperator="GreaterThanThreshold",
)
typo_created = time.monotonic()

# %% [markdown]
# While it waits for its first evaluation (at most 10 s): **a log group that does not exist.** A
# one-off task whose `awslogs-group` is missing, without `awslogs-create-group`:

# %%
missing_def = ecs_tools.task_definition("monitoring-missing-group", image=f"{repo_uri}:v1", execution_role_arn=execution_role_arn)
missing_def["containerDefinitions"][0]["logConfiguration"] = monitoring.awslogs_configuration("/ecs/no-such-group", lab.region, create_group=False)
missing_def_arn = lab.ecs.register_task_definition(**missing_def)["taskDefinition"]["taskDefinitionArn"]
missing = lab.ecs.run_task(cluster=CLUSTER, taskDefinition=missing_def_arn, launchType="FARGATE",
                           networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids}})["tasks"][0]
lab.ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=[missing["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
failed = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[missing["taskArn"]])["tasks"][0]
{"lastStatus": failed["lastStatus"], "stopCode": failed["stopCode"], "stoppedReason": failed["stoppedReason"]}

# %% [markdown]
# `ResourceInitializationError`: ECS could not set up what the task needs before its container
# starts, so the container never ran. Create the group, or set `"awslogs-create-group": "true"`
# and give the execution role `logs:CreateLogGroup` (without it, the task stops with a
# `ResourceInitializationError` too, naming the permission). In a service, ECS would keep
# starting tasks that fail the same way.
#
# Back to the alarm with the typo:

# %%
deadline = typo_created + 25
while time.monotonic() < deadline:
    typo = lab.cloudwatch.describe_alarms(AlarmNames=["monitoring-typo-cpu-high"])["MetricAlarms"][0]
    if typo["StateValue"] == "INSUFFICIENT_DATA":
        break
    time.sleep(0.5)
{"StateValue": typo["StateValue"], "StateReason": typo["StateReason"]}

# %% [markdown]
# INSUFFICIENT_DATA for good: no datapoint will ever have these dimensions. An alarm that never
# leaves INSUFFICIENT_DATA usually has a typo in its namespace, metric name or dimensions; compare
# them with `list_metrics`. (A service with no RUNNING task publishes nothing either, so a service
# scaled to 0 sends its alarms to INSUFFICIENT_DATA too.)
#
# **A filter pattern that is not valid.** A JSON pattern without its closing brace:

# %%
broken = "{ $.status = 200"
try:
    answer = lab.logs.filter_log_events(logGroupName=LOG_GROUP, filterPattern=broken)["events"]
    everything = lab.logs.filter_log_events(logGroupName=LOG_GROUP)["events"]
    outcome = {"accepted": True, "matches every line": len(answer) == len(everything)}
except ClientError as error:
    outcome = {"accepted": False, "error": str(error)}
outcome

# %% [markdown]
# The lab accepts it and answers with every line: moto does not check patterns. AWS refuses it:
# `InvalidParameterException` ("Invalid filter pattern"; for this one, "If a filter pattern starts
# with '{' it must end with '}'"). This is one place where the lab is more forgiving than AWS.
#
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "A task definition sends logs with awslogs to /ecs/api, which does not exist, and has no awslogs-create-group option. What happens when a task starts?",
        (
            "The task runs; its logs are lost",
            "The task stops before its container runs, with ResourceInitializationError",
            "CloudWatch creates the group on the first line",
        ),
        1,
        "The log driver is set up before the container starts; without the group (or awslogs-create-group \"true\" and logs:CreateLogGroup) the task fails to start, as section 11 showed.",
        why_not=("The driver must reach its group before the container starts; without it the task does not run at all.", "", "Only with awslogs-create-group \"true\" (and logs:CreateLogGroup) is a group created."),
    ),
    Question(
        "An alarm watches AWS/ECS CPUUtilization with the single dimension ServiceName=api. The service is busy. What state will the alarm be in?",
        ("ALARM", "OK", "INSUFFICIENT_DATA"),
        2,
        "ECS publishes service metrics with both ClusterName and ServiceName; a metric is found only with all its dimensions, so the alarm sees no data at all.",
        why_not=("The alarm finds no datapoints, so it cannot breach.", "Without data it cannot say OK either.", ""),
    ),
    Question(
        "A service's task was replaced and you want to know why the old one stopped. Where do you look?",
        (
            "Nowhere: a stopped task's details are deleted at once",
            "describe_tasks' stopCode and stoppedReason (and the service's events), then the old task's log stream",
            "The ECR console",
        ),
        1,
        "ECS keeps a stopped task's details for a while (about an hour on AWS) and the service's events say what it did; the task's log stream stays in CloudWatch Logs for as long as the group's retention.",
        why_not=("A stopped task stays visible for a while, and its logs stay in CloudWatch Logs.", "", "ECR holds images, not what happened to tasks."),
    ),
    Question(
        "Since June 2025, what can happen to a task's log lines on AWS when CloudWatch Logs cannot take them fast enough, if the task definition sets no mode?",
        ("The app's writes to stdout block until the lines are sent", "Lines wait in a buffer (max-buffer-size) and are lost when it is full", "ECS stops the task"),
        1,
        "ECS's default awslogs mode became non-blocking on 25 June 2025: the app keeps running and lines beyond the buffer are dropped. Set \"mode\": \"blocking\" (or the defaultLogDriverMode account setting) when no line may be lost.",
        why_not=("That is blocking mode, the default before June 2025 and still available with \"mode\": \"blocking\".", "", "ECS does not stop a task over logging back pressure."),
    ),
    Question(
        "An alarm has Period=60, EvaluationPeriods=3, DatapointsToAlarm=2. When does it go to ALARM?",
        (
            "As soon as one datapoint breaches",
            "When 2 of the last 3 one-minute periods breach",
            "After 3 minutes in a row above the threshold, no sooner",
        ),
        1,
        "'M out of N': DatapointsToAlarm of the last EvaluationPeriods periods must breach. It ignores a single spike without waiting for a whole streak.",
        why_not=("One breaching period is not enough: 2 of the last 3 must breach.", "", "2 of 3 suffice; a streak of 3 is not needed."),
    ),
])

# %% [markdown]
# ## Summary
#
# - **CloudWatch Logs**: a container logs to stdout/stderr; the `awslogs` log driver (task
#   definition `logConfiguration`) ships each task's output to a log group, one stream per task
#   named `prefix/container/task-id`, within about a second here. `get_log_events` reads a stream;
#   `filter_log_events` searches a group with a filter pattern. Give groups a retention.
# - **CloudWatch Metrics**: ECS publishes `AWS/ECS` CPUUtilization and MemoryUtilization per service
#   (dimensions ClusterName and ServiceName), as a percentage of what the task definition reserves,
#   once a minute on AWS (every 10 s in the lab). `get_metric_data` with a statistic and a period
#   turns them into charts and dashboards. Network I/O needs Container Insights.
# - **Alarms** compare a statistic per period with a threshold and move between OK, ALARM and
#   INSUFFICIENT_DATA, saying why; `describe_alarm_history` keeps the changes.
# - **The ECS console**: a service's events and its stopped tasks' `stopCode`, `stoppedReason`
#   and exit codes tell you what happened to a task; its log stream tells you what the app said.
# - **The ECR console**: `describe_images` lists each version with tags, digest, size and push time.
# - AWS's words for three mistakes: `ResourceInitializationError` (missing log group),
#   `INSUFFICIENT_DATA` (an alarm on a metric that has no data), `InvalidParameterException`
#   (a broken filter pattern, which the lab lets through).
#
# **Exercise:** `exercises/08-monitoring.ipynb`: write a log configuration that ships a
# container's logs, an alarm on a service's CPU, and a count of requests from its logs.
#
# ## Cleanup
#
# Alarms, then the cluster with its services and tasks, the log group (with its streams), the
# repository, the task definitions and the local images:
# `aws cloudwatch delete-alarms --alarm-names ...`, `aws ecs delete-service --force ...`,
# `aws ecs delete-cluster ...`, `aws logs delete-log-group --log-group-name /ecs/monitoring-demo`,
# `aws ecr delete-repository --repository-name monitoring-demo --force`. The execution role stays:
# it is the account's, used by every notebook's tasks.

# %%
for arn in [*task_def_arns.values(), missing_def_arn]:
    lab.ecs.deregister_task_definition(taskDefinition=arn)
left = cleanup.remove(lab, MADE_HERE)
images.remove_images([v1.tag, v2.tag], client=lab.docker, config=lab.config)
left
