# %% [markdown]
# # Exercise 08 · Monitoring and logs
#
# Three functions, each followed by a check cell, in the order of notebook
# `08-monitoring.ipynb`: ship a container's logs to CloudWatch Logs (section 3), raise an alarm
# when a service works too hard (section 6), and count requests from a log group (section 4).
# Write your code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()`
# line), run the cell, then its check. Each check works with a cluster and a log group of its own
# and deletes them afterwards.
#
# **Time:** about 25 minutes.
#
# ## Setup
#
# The setup cell builds the sample app and pushes it to the repository `ex08-app`; every check
# runs that image. It takes a few seconds when notebook 08 ran before.

# %% tags=["nbval-ignore-output"]
import time

import ecslab
from ecslab import security

lab = ecslab.connect()
image_uri = ecslab.checks.ex08.prepare_image(lab)

# %%
image_uri

# %% [markdown]
# Then create the execution role ECS uses to pull your image and write your logs (the ECS
# console does this on first use). The checks' task definitions name it in `executionRoleArn`:
# without it ECS refuses a Fargate task definition that pulls from ECR or uses `awslogs`.

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
execution_role_arn

# %% [markdown]
# ## Exercise 8.1: ship a container's logs
#
# Complete `log_configuration(group, prefix, region)` so that it returns the
# `logConfiguration` of a container definition that ships the container's output to the log
# group `group` in `region`, in streams named `prefix/CONTAINER/TASK_ID`, and **creates the group**
# if it does not exist yet.
#
# Notebook 08, section 3, shows such a configuration. Every option value is a string.
#
# The check deletes the group, runs a task whose container has your configuration, sends it one
# request, and looks for the app's line about it in the task's stream. Creating a group is
# `logs:CreateLogGroup`, which `AmazonECSTaskExecutionRolePolicy` does not grant, so the check's
# task runs with an execution role of its own that also has that permission.

# %%
def log_configuration(group, prefix, region):
    ### BEGIN SOLUTION
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": group,
            "awslogs-region": region,
            "awslogs-stream-prefix": prefix,
            "awslogs-create-group": "true",
        },
    }
    ### END SOLUTION

# %%
"""Check 8.1: log_configuration ships a task's output to the group (created if missing), stream prefix/web/TASK_ID."""
ecslab.checks.ex08.check_log_configuration(log_configuration, lab)

# %% [markdown]
# ## Exercise 8.2: an alarm on a service's CPU
#
# Complete `create_cpu_alarm(lab, cluster, service)` so that it creates a CloudWatch metric alarm
# (`lab.cloudwatch.put_metric_alarm`) that goes to ALARM when the **average CPU utilization** of
# the ECS service `service` in cluster `cluster` is **above 30%** for **1 period**, and returns the
# alarm's name. The period comes from the target, as in notebook 08: **10 s in the lab** (it
# publishes every 10 s), **60 s on AWS** (AWS/ECS publishes once a minute): `10 if lab.is_local
# else 60`. Choose the name yourself (for example
# `f"{service}-cpu-above-30"`).
#
# You need the namespace, metric name and dimensions ECS publishes a service's CPU under
# (notebook 08, sections 5 and 6).
#
# The check starts a service with one task, calls your function, reads the alarm's settings,
# then loads the task with CPU work and waits (up to 45 s) for the alarm to go to ALARM.

# %%
def create_cpu_alarm(lab, cluster, service):
    ### BEGIN SOLUTION
    name = f"{service}-cpu-above-30"
    lab.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}],
        Statistic="Average",
        Period=10 if lab.is_local else 60,
        EvaluationPeriods=1,
        Threshold=30.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    return name
    ### END SOLUTION

# %%
"""Check 8.2: create_cpu_alarm creates an alarm on the service's average CPU above 30% that goes to ALARM under load."""
ecslab.checks.ex08.check_cpu_alarm(create_cpu_alarm, lab)

# %% [markdown]
# ## Exercise 8.3: how many health checks?
#
# The sample app logs one line per request, such as
#
# ```
# 26/Nov/2026 10:15:02 v1 "GET /health HTTP/1.1" 200 -
# ```
#
# Complete `count_health_requests(lab, group, minutes)` so that it returns **how many requests
# to `/health`** the service logging to the log group `group` received **in the last `minutes`
# minutes**, across all its tasks. Use `lab.logs.filter_log_events` with:
#
# - `filterPattern`: a phrase in double quotes matches lines that contain it;
# - `startTime`: milliseconds since 1970 (`time.time()` is in seconds);
# - `nextToken`: when the answer has one, there are more matches; ask again with it.
#
# The check runs a service of two tasks logging to its own group, sends each a known number of
# requests (to `/health` and to other paths), and adds some `/health` lines from 30 minutes ago.

# %%
def count_health_requests(lab, group, minutes):
    ### BEGIN SOLUTION
    request = {
        "logGroupName": group,
        "filterPattern": '"GET /health"',
        "startTime": int((time.time() - minutes * 60) * 1000),
    }
    count = 0
    while True:
        page = lab.logs.filter_log_events(**request)
        count += len(page["events"])
        if not page.get("nextToken"):
            return count
        request["nextToken"] = page["nextToken"]
    ### END SOLUTION

# %%
"""Check 8.3: count_health_requests counts the /health requests of the last minutes, in every stream of the group."""
ecslab.checks.ex08.check_count_health_requests(count_health_requests, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted its own cluster, log group and alarms. This deletes the repository
# `ex08-app` and anything a check left behind if it was interrupted.

# %%
ecslab.checks.ex08.clean_up(lab)
