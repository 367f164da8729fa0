# %% [markdown]
# # 05 · Deploy to ECS: the seven steps, end to end
#
# **Goals.** By the end of this notebook you will
# - have taken the sample API from source code to two running copies on ECS, in the seven steps
#   of the deployment flow, with the `aws` CLI command of each step beside its boto3 call;
# - read what ECS reports about a service and its tasks (states, network bindings, events,
#   deployments) and matched it to real containers on this machine;
# - have killed a task's container and watched the service replace it;
# - have rolled the service from v1 to v2 without a moment when nothing answers;
# - recognise four classic mistakes by the words AWS uses for them.
#
# **Time:** about 40 minutes of reading and trying (an estimate); the cells alone run in about
# 1 minute (measured on a 2-core VM, December 2026).
#
# | step | what happens | section |
# |---|---|---|
# | 1 | build the image on your machine (`docker build`) | 2 |
# | 2 | push it to an ECR repository | 3 |
# | 3 | create an ECS cluster | 4 |
# | 4 | register a task definition: image URI, CPU, memory, port, execution role | 5 |
# | 5 | create a service: how many copies of the task to keep running | 6 |
# | 6 | ECS launches the tasks: pulls the image from ECR, starts the containers | 7 |
# | 7 | call the API | 8 |
#
# Then the service at work: it heals (section 9), rolls to a new version (10) and scales (11);
# and what goes wrong (12).

# %% [markdown]
# ## 1. Setup
#
# Names follow the lecture notes: cluster `demo-cluster`, service `api-service`. The repository is
# `aws-node-demo-05`, this notebook's own copy of the notes' `aws-node-demo` (notebook 03 owns
# that name and deletes it when it is done). The first cell lists them in `MADE_HERE` and
# removes whatever an earlier run left with `ecslab.cleanup.remove`, in the order AWS requires:
# services, then their tasks, then the cluster, then the repository. (What it returns is what is
# still there under those names: nothing.) Service events name tasks and deployments by IDs that
# change on every run; `without_ids` replaces them with `…` so the words stand out.

# %%
import collections
import json
import re
import time
from datetime import UTC, datetime

import ipywidgets as widgets
import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import network as network_tools
from ecslab import cleanup, images, security

lab = ecslab.connect()
REPOSITORY = "aws-node-demo-05"
FAMILY = "aws-node-demo-05"  # the task definition family, named after the app
CLUSTER = "demo-cluster"
SERVICE = "api-service"

MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted (section 13's too)
    clusters=[CLUSTER, "demo-cluster-cli"], repositories=[REPOSITORY, "aws-node-demo-cli"],
)


def without_ids(message: str) -> str:
    """Service events name tasks and deployments by IDs that change on every run."""
    return re.sub(r"\((task|deployment) [^)]+\)", r"(\1 …)", message)


cleanup.remove(lab, MADE_HERE)

# %% [markdown]
# ## 2. Step 1: build the image locally
#
# The notes' step 1 is `docker build -t aws-node-demo .` in the app's folder. Notebook 02 built
# the sample app; here it gets this notebook's name. (It comes from the build cache when notebook
# 02 or 03 ran before, so it takes a second.)

# %% tags=["nbval-ignore-output"]
v1 = images.build_sample_app(f"{REPOSITORY}:v1", version="v1", client=lab.docker, config=lab.config)

# %%
{"local image": v1.tag, "version it reports": v1.image.labels["org.opencontainers.image.version"], "size": images.human_size(v1.image.attrs["Size"])}

# %% [markdown]
# ## 3. Step 2: push the image to ECR
#
# Notebook 03 took this step apart. Here it is in one go: create the repository, log Docker in
# with ECR's 12-hour token, tag and push.
#
# ```
# aws ecr create-repository --repository-name aws-node-demo-05
# aws ecr get-login-password | docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com
# docker tag aws-node-demo-05:v1 123456789012.dkr.ecr.us-east-1.amazonaws.com/aws-node-demo-05:v1
# docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/aws-node-demo-05:v1
# ```

# %%
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
login = ecr_tools.get_login(lab.ecr)
[repo_uri, ecr_tools.docker_login(lab.docker, login)]

# %% [markdown]
# The push shows each layer as it goes. The big one is the Python base (about 120 MB
# compressed); it is uploaded only if no repository of this registry holds it yet, otherwise the
# registry copies it ("Mounted from ...").

# %% tags=["nbval-ignore-output"]
push_v1 = ecr_tools.push_image(lab.docker, v1.tag, repo_uri, "v1", login)
push_v1

# %% [markdown]
# ECR now holds the image under the digest the push reported:

# %%
pushed = lab.ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}])["imageDetails"][0]
{"tags": pushed["imageTags"], "same digest as the push": pushed["imageDigest"] == push_v1.digest, "size in ECR": images.human_size(pushed["imageSizeInBytes"])}

# %% [markdown]
# ## 4. Step 3: create the cluster
#
# ```
# aws ecs create-cluster --cluster-name demo-cluster
# ```
#
# A cluster is a name that groups services and tasks. With Fargate it holds no machines at all:
# AWS finds room for each task when it starts. So a new cluster is empty, and it costs nothing.

# %%
cluster = lab.ecs.create_cluster(clusterName=CLUSTER)["cluster"]
cluster_arn = cluster["clusterArn"]
{key: cluster[key] for key in ("clusterName", "status", "registeredContainerInstancesCount", "activeServicesCount", "runningTasksCount")}

# %% [markdown]
# ## 5. Step 4: register the task definition
#
# The task definition is the recipe for one task: which image, how much CPU and memory, which
# port. `ecs_tools.task_definition` writes the request; it is plain JSON, and the same JSON saved
# as `taskdef.json` registers it from a terminal:
#
# ```
# aws ecs register-task-definition --cli-input-json file://taskdef.json
# ```
#
# The image is the repository URI plus the tag we pushed.
#
# The repository is private, and on Fargate it is ECS that pulls from it, not your `docker
# login`: ECS assumes a **task execution role** named in the task definition, gets an ECR token
# and pulls the image (and, with the `awslogs` driver, writes the container's logs) with that
# role's permissions. Create the execution role ECS uses to pull your image and write your logs;
# the console does this on first use:
#
# ```
# aws iam create-role --role-name ecsTaskExecutionRole \
#   --assume-role-policy-document '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
#     "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
# aws iam attach-role-policy --role-name ecsTaskExecutionRole \
#   --policy-arn arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy
# ```

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
execution_role_arn

# %%
task_def = ecs_tools.task_definition(FAMILY, image=f"{repo_uri}:v1", cpu=256, memory=512, container_port=8080, execution_role_arn=execution_role_arn)
print(json.dumps(task_def, indent=2))

# %% [markdown]
# - `cpu` is in CPU units (1024 = one vCPU) and `memory` in MiB: 256/512 is Fargate's smallest size.
# - `networkMode: awsvpc` gives each task its own network interface; Fargate allows no other mode.
# - `executionRoleArn`: the role above. Its managed policy `AmazonECSTaskExecutionRolePolicy`
#   allows `ecr:GetAuthorizationToken`, `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`, ...
#   and `logs:CreateLogStream`, `logs:PutLogEvents`. Without the role, ECS refuses a Fargate task
#   definition with an ECR image (section 12); with a role that may not pull, the task stops
#   before its container starts. The lab checks both, as ECS does (notebook 07 shows how).

# %%
registered = lab.ecs.register_task_definition(**task_def)["taskDefinition"]
task_def_arn = registered["taskDefinitionArn"]
{"family": registered["family"], "status": registered["status"], "image": registered["containerDefinitions"][0]["image"],
 "ARN ends in family:revision": task_def_arn.endswith(f"task-definition/{FAMILY}:{registered['revision']}")}

# %% [markdown]
# Every `register_task_definition` in a family adds a **revision**: `aws-node-demo-05:1`,
# `:2`, ... A revision never changes; to change anything you register a new one (section 10).
#
# ## 6. Step 5: create the service
#
# A service keeps a number of copies of a task running: `desiredCount`. Fargate needs to know
# where to put each task's network interface: subnets. We use the default VPC's, one per
# Availability Zone, so ECS can spread the tasks across zones. Each task gets a public IP
# (`assignPublicIp`) and a security group that admits TCP 8080 from anywhere, the one notebook 04
# made: without it the tasks would be in the VPC's default group, which admits nobody from
# outside, and we could not call them from this machine.

# %%
default_vpc = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
subnets = lab.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"]
subnet_ids = [subnet["SubnetId"] for subnet in subnets]
web_group = network_tools.public_task_security_group(lab.ec2, default_vpc)  # TCP 8080 from 0.0.0.0/0
sorted(subnet["AvailabilityZone"] for subnet in subnets)

# %% [markdown]
# ```
# aws ecs create-service --cluster demo-cluster --service-name api-service \
#   --task-definition aws-node-demo-05:1 --desired-count 2 --launch-type FARGATE \
#   --network-configuration "awsvpcConfiguration={subnets=[subnet-...,subnet-...],securityGroups=[sg-...],assignPublicIp=ENABLED}"
# ```

# %%
created = lab.ecs.create_service(
    cluster=CLUSTER,
    serviceName=SERVICE,
    taskDefinition=task_def_arn,
    desiredCount=2,
    launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [web_group], "assignPublicIp": "ENABLED"}},
)["service"]
created_at = time.monotonic()
created_when = datetime.now(UTC)
service_arn = created["serviceArn"]
{key: created[key] for key in ("serviceName", "status", "launchType", "desiredCount", "runningCount", "pendingCount")}

# %% [markdown]
# `create_service` answers at once, with `runningCount` 0: it records what you want. Starting the
# tasks is the next step, and it is ECS's job.
#
# ## 7. Step 6: ECS launches the containers
#
# ECS now starts two tasks: for each one it pulls the image from ECR and runs the container.
# `wait_for_steady_state` polls `describe_services` until the service runs `desiredCount` tasks
# of a single deployment (the condition of boto3's `services_stable` waiter; in a terminal,
# `aws ecs wait services-stable --cluster demo-cluster --services api-service`).

# %% tags=["nbval-ignore-output"]
steady = ecs_tools.wait_for_steady_state(lab.ecs, CLUSTER, SERVICE)
create_to_steady = time.monotonic() - created_at
print(f"create_service → steady state: {create_to_steady:.1f} s")

# %% [markdown]
# The service's **events** tell the story in ECS's words (newest first, as the console shows them):

# %%
[without_ids(event["message"]) for event in steady["events"]]

# %% [markdown]
# Each task went through the states ECS reports: PROVISIONING (finding room and a network
# interface), PENDING (pulling the image, starting the container), RUNNING. In the lab, the ECS
# agent does this work; its journal shows the pull and the start of each task:

# %%
tasks = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
names = {task["taskArn"].split("/")[-1][:8]: f"task {number}" for number, task in enumerate(tasks, 1)}
mine = sorted(((names[line.split()[2]], line.split("  ", 1)[1]) for line in ecs_tools.agent_log(lab, last=300) if line.split()[2] in names), key=lambda pair: pair[0])
for name, message in mine:
    print(f"{name}: {message}")

# %% [markdown]
# `describe_tasks` says the same, for each task:

# %%
[
    {
        "lastStatus": task["lastStatus"],
        "desiredStatus": task["desiredStatus"],
        "launchType": task["launchType"],
        "cpu/memory": f"{task['cpu']}/{task['memory']}",
        "image": task["containers"][0]["image"],
        "networkBindings": task["containers"][0].get("networkBindings", []),
        "network interface": (task["attachments"][0]["type"], task["attachments"][0]["status"]),
    }
    for task in tasks
]

# %% [markdown]
# On a timeline, from the moment `create_service` returned (the chart's 0):

# %%
fig, ax = plt.subplots(figsize=(9, 2))
last_start = max((task["startedAt"] - created_when).total_seconds() for task in tasks)
ecs_tools.plot_task_phases(ax, tasks, list(names.values()), created_when, last_start + 0.5)
ax.set_xlabel("seconds after create_service")
ax.set_title("Launching the service's two tasks, from describe_tasks' timestamps", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# These tasks are real containers. `docker ps` on this machine shows them, with the task's CPU
# and memory as container limits, and the container ID that ECS reports as the task's `runtimeId`
# (the lab labels its containers with `ecslab.lab`, its state folder, and the cluster's ARN: two
# labs on one machine may both have a `demo-cluster`):

# %%
containers = lab.docker.containers.list(filters={"label": [f"com.amazonaws.ecs.cluster={cluster_arn}", f"ecslab.lab={lab.config.home}"]})
[
    {
        "image": container.attrs["Config"]["Image"],
        "status": container.status,
        "memory limit": f"{container.attrs['HostConfig']['Memory'] // 2**20} MiB",
        "CPUs": container.attrs["HostConfig"]["NanoCpus"] / 1e9,
        "ports": [f"{port} → {b['HostIp']}:{b['HostPort']}" for port, binds in container.attrs["NetworkSettings"]["Ports"].items() for b in binds],
    }
    for container in containers
]

# %%
sorted(container.id for container in containers) == sorted(task["containers"][0].get("runtimeId") for task in tasks)

# %% [markdown]
# What is AWS and what is the lab here: the API calls, the task states, the events, the empty
# `networkBindings` (ECS reports no host ports for an `awsvpc` task) and the network interfaces
# are ECS's and EC2's. On AWS, Fargate runs each task in its own small virtual machine with its
# own network interface; the lab runs it as a container on this machine, publishes its port on a
# free 127.0.0.1 port for its own use (its load balancer's, in notebook 06), and gives the task's
# interface a public IP of its own on this machine's loopback (127.100.x.y), where it obeys the
# task's security groups.
#
# ## 8. Step 7: call the API
#
# Where does each task answer? The AWS way: the task's `attachments` name its network interface,
# `describe_network_interfaces` gives its public IP, and the app listens there on its container
# port, 8080. `ecs_tools.task_address` reads the interface (its private IP answers only inside the
# VPC):

# %%
addresses = [ecs_tools.task_address(task, lab.ec2) for task in tasks]
[
    {
        "public IP": address["public_ip"],
        "has a private IP": bool(address["private_ip"]),
        "security groups": [g["GroupName"] for g in address["security_groups"]],
    }
    for address in addresses
]

# %% [markdown]
# `ecs_tools.task_url` builds `http://PUBLIC_IP:8080` from that, after checking that a security
# group admits you; `call_task` calls it. Call both tasks:

# %%
[ecs_tools.task_url(task) for task in tasks] == [f"http://{address['public_ip']}:8080" for address in addresses]

# %%
answers = [ecs_tools.call_task(task) for task in tasks]
{"versions": [answer["version"] for answer in answers], "two different containers answered": len({answer["hostname"] for answer in answers}) == 2}

# %% [markdown]
# The `hostname` in each answer is the container's ID: two tasks, two containers.
#
# RUNNING means "the container has started", not "the app answers": a call made the instant a
# task turns RUNNING can be refused while the app is still starting, which is why `call_task`
# tries again for a few seconds when the connection is refused. A health check (in the task definition, or the load balancer's) is how ECS
# learns that the app itself is ready; notebook 06 adds one.
#
# On AWS this code works as it is, and it is still not how you would call a service. Reaching
# tasks at their public IPs needs them in a public subnet with `assignPublicIp=ENABLED` and a
# security group open to the internet on the app's port; each IP changes whenever a task is
# replaced; and you would have to spread the calls yourself. A task whose groups do not admit you
# does not even refuse: the connection is dropped and times out (`task_url` says so at once, and
# names the fix). The usual answer is private tasks (no public IP, a group that admits only the load
# balancer) behind an **Application Load Balancer**: one stable address, health checks, and calls
# spread over the healthy tasks. That is notebook 06.
#
# Here is the cluster as the notes draw it, drawn from `describe_services` and `describe_tasks`:

# %%
ecs_tools.architecture_diagram(ecs_tools.cluster_state(lab.ecs, CLUSTER))
plt.show()

# %% [markdown]
# ## 9. The service heals: kill a task's container
#
# A service does more than start tasks: it keeps `desiredCount` of them running. To see that,
# crash one. First a live view of the cluster (the refresh button asks ECS again):

# %% tags=["nbval-ignore-output"]
view = ecs_tools.cluster_view(lab, CLUSTER)
view

# %% [markdown]
# Now kill the first task's container behind ECS's back (`docker kill`, as if the process had
# crashed), and keep refreshing the view above while ECS notices and replaces the task. The loop
# also records `runningCount` for the chart below.

# %%
victim_arn = tasks[0]["taskArn"]
survivor_arn = tasks[1]["taskArn"]
before = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
killed_at = datetime.now(UTC)
ecs_tools.kill_task_container(lab.docker, victim_arn)
running_counts = [(0.0, before["runningCount"])]  # (seconds after the kill, runningCount)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    view.children[0].click()  # the view's refresh button
    service = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    victim = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[victim_arn])["tasks"][0]
    running_counts.append(((datetime.now(UTC) - killed_at).total_seconds(), service["runningCount"]))
    if victim["lastStatus"] == "STOPPED" and service["runningCount"] == service["desiredCount"]:
        break
    time.sleep(0.2)
{"killed task": victim["lastStatus"], "running again": f"{service['runningCount']}/{service['desiredCount']}"}

# %% [markdown]
# Why the task stopped, in ECS's words: its only container was `essential`, and it exited with
# code 137 (128 + 9, killed by signal 9, SIGKILL).

# %%
{"stopCode": victim["stopCode"], "stoppedReason": victim["stoppedReason"], "exitCode": victim["containers"][0]["exitCode"]}

# %% [markdown]
# The service's events since the kill: it started a new task (a new task ID, not a restart of
# the old container), and got back to a steady state.

# %%
[without_ids(event["message"]) for event in service["events"] if event["createdAt"] > killed_at]

# %% [markdown]
# The heal on a timeline: the killed task, the task that kept running, and the replacement, each
# from its own timestamps; below, `runningCount` as the loop saw it.

# %%
replacement = next(task for task in ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE) if task["taskArn"] not in (victim_arn, survivor_arn))
heal_tasks = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[victim_arn, survivor_arn, replacement["taskArn"]])["tasks"]
heal_tasks = sorted(heal_tasks, key=lambda task: [victim_arn, survivor_arn, replacement["taskArn"]].index(task["taskArn"]))
end = running_counts[-1][0] + 0.5
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 3.6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
ecs_tools.plot_task_phases(top, heal_tasks, ["killed task", "other task", "replacement"], killed_at, end, start=-1.0)
for ax in (top, bottom):
    ax.axvline(0, color="black", linestyle="--")
bottom.text(0.03, 0.3, "docker kill", fontsize=8, transform=bottom.get_xaxis_transform())
top.set_title("A service replaces a task whose container died", fontsize=10)
bottom.step([-1.0] + [t for t, _ in running_counts] + [end], [before["runningCount"]] + [c for _, c in running_counts] + [running_counts[-1][1]], where="post", color="#1b7f3b")
bottom.set_ylim(0, 2.5)
bottom.set_ylabel("runningCount")
bottom.set_xlabel("seconds after the kill")
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
heal_seconds = (replacement["startedAt"] - killed_at).total_seconds()
print(f"from the kill to the replacement RUNNING: {heal_seconds:.1f} s")

# %% [markdown]
# On AWS the same takes longer, typically tens of seconds to a minute: Fargate has to find
# capacity and attach a network interface, and pull the image from ECR over the network. ECS also
# waits a little longer before each new attempt when tasks keep failing, so a broken image does
# not start thousands of tasks.
#
# ## 10. Roll out v2
#
# A new version means a new image, a new task definition revision, and `update_service`. Build
# and push v2 as `:v2` (steps 1 and 2 again):

# %% tags=["nbval-ignore-output"]
v2 = images.build_sample_app(f"{REPOSITORY}:v2", version="v2", client=lab.docker, config=lab.config)
push_v2 = ecr_tools.push_image(lab.docker, v2.tag, repo_uri, "v2", login)

# %% [markdown]
# v2 differs from v1 only in its settings (the version it reports), so the push uploaded no layer
# at all, only the new manifest:

# %%
{"layers uploaded": len(push_v2.uploaded), "layers already in the repository": len(push_v2.already_there), "tags in ECR": sorted(tag for image in lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for tag in image["imageTags"])}

# %% [markdown]
# Step 4 again: the same family, the `:v2` image. ECS makes it the next revision.
#
# ```
# aws ecs register-task-definition --cli-input-json file://taskdef-v2.json
# aws ecs update-service --cluster demo-cluster --service api-service --task-definition aws-node-demo-05:2
# ```

# %%
registered_v2 = lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, image=f"{repo_uri}:v2", execution_role_arn=execution_role_arn))["taskDefinition"]
task_def_v2_arn = registered_v2["taskDefinitionArn"]
{"image": registered_v2["containerDefinitions"][0]["image"], "the next revision": registered_v2["revision"] == registered["revision"] + 1}

# %% [markdown]
# `update_service` starts a new **deployment**. The new one is PRIMARY; the old one becomes
# ACTIVE and keeps its tasks until the new tasks run. With the default deployment settings
# (`maximumPercent` 200, `minimumHealthyPercent` 100) ECS may run up to twice `desiredCount`
# tasks, and never fewer than `desiredCount`.

# %%
updated = lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=task_def_v2_arn)["service"]
update_started = time.monotonic()
[(d["status"], d["rolloutState"], d["taskDefinition"].split("/")[-1] == task_def_v2_arn.split("/")[-1]) for d in updated["deployments"]]

# %% [markdown]
# Watch the rollout: every 0.2 s, ask `describe_services` for the deployments and call every
# RUNNING task to see which version answers (a task that has just started may not answer yet).

# %%
def versions_answering(tasks: list[dict]) -> collections.Counter:
    """How many RUNNING tasks answer each version now ("no answer" when the app is not up yet)."""
    counts = collections.Counter()
    for task in tasks:
        if task["lastStatus"] == "RUNNING":
            try:
                counts[ecs_tools.call_task(task, timeout=1)["version"]] += 1
            except (OSError, ValueError):  # not up yet, or stopped since (its network interface is gone)
                counts["no answer"] += 1
    return counts


polls = []  # (seconds after update_service, versions answering, deployments, tasks of the service)
rollout_tasks = set()
rollout_seconds = None
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    service = lab.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    current = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
    rollout_tasks |= {task["taskArn"] for task in current}
    answering = versions_answering(current)
    polls.append((time.monotonic() - update_started, answering, tuple(f"{d['status']} {d['rolloutState']}" for d in service["deployments"]), len(current)))
    if rollout_seconds is None and len(service["deployments"]) == 1 and service["deployments"][0]["rolloutState"] == "COMPLETED" and answering == {"v2": 2}:
        rollout_seconds = polls[-1][0]
    if rollout_seconds is not None and polls[-1][0] > rollout_seconds + 1:  # one more second, for the chart
        break
    time.sleep(0.2)

# %% [markdown]
# What the loop saw, in order: the deployments (each change once), the most tasks that ran at
# once, and which versions answered at the first and the last look.

# %%
deployment_phases = [phase for index, (_, _, phase, _) in enumerate(polls) if index == 0 or phase != polls[index - 1][2]]
{
    "deployments, in order": deployment_phases,
    "most tasks at once": max(count for *_, count in polls),
    "first answers": dict(polls[0][1]),
    "last answers": dict(polls[-1][1]),
    "finished": rollout_seconds is not None,
}

# %% tags=["nbval-ignore-output"]
print(f"update_service → only v2 answers: {rollout_seconds:.1f} s, {len(polls)} looks")

# %% [markdown]
# The rollout over time: which versions answered (above) and each task from its timestamps
# (below), old v1 tasks first.

# %%
rollout = sorted(lab.ecs.describe_tasks(cluster=CLUSTER, tasks=sorted(rollout_tasks))["tasks"], key=lambda task: (task["taskDefinitionArn"] != task_def_arn, task["createdAt"]))
update_when = datetime.fromtimestamp(datetime.now(UTC).timestamp() - (time.monotonic() - update_started), UTC)
seconds = [t for t, *_ in polls]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True)
top.stackplot(seconds, *[[answers.get(version, 0) for _, answers, *_ in polls] for version in ("v1", "v2", "no answer")],
              labels=["v1 answers", "v2 answers", "RUNNING, no answer yet"], colors=["#7aa6d6", "#ff9900", "#bdbdbd"], step="post")
top.axvline(rollout_seconds, color="black", linestyle="--")
top.set_ylabel("tasks answering")
top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
top.set_title("update_service from v1 to v2, looking every 0.2 s (dashed: rollout COMPLETED)", fontsize=10)
labels = [f"{'v1' if task['taskDefinitionArn'] == task_def_arn else 'v2'} task {n}" for n, task in enumerate(rollout, 1)]
ecs_tools.plot_task_phases(bottom, rollout, labels, update_when, seconds[-1], start=-0.5)
bottom.set_xlabel("seconds after update_service")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 11. Scale: desiredCount
#
# Scaling a service is one number. Move the slider: it calls
# `update_service(desiredCount=N)`; press refresh in the view to watch ECS start or stop tasks.
# (Move it back to 2 before you run the cells below.)

# %% tags=["nbval-ignore-output"]
slider = widgets.IntSlider(value=2, min=0, max=6, description="desiredCount")
asked = widgets.HTML()
scale_view = ecs_tools.cluster_view(lab, CLUSTER)


def ask_ecs(change: dict) -> None:
    lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=change["new"])
    asked.value = f"<code>update_service(desiredCount={change['new']})</code> sent: press refresh to watch."


slider.observe(ask_ecs, names="value")
widgets.VBox([slider, asked, scale_view])

# %% [markdown]
# The same in code: to 3 tasks and back to 2, waiting for the steady state each time
# (`aws ecs update-service --cluster demo-cluster --service api-service --desired-count 3`).

# %%
scaled = []
scale_tasks = set()
for count in (3, 2):
    lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=count)
    after = ecs_tools.wait_for_steady_state(lab.ecs, CLUSTER, SERVICE, show_progress=False)
    now_running = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
    scale_tasks |= {task["taskArn"] for task in now_running}
    scaled.append({"desiredCount": after["desiredCount"], "runningCount": after["runningCount"], "tasks": len(now_running)})
scaled

# %% [markdown]
# Which task goes when a service scales in? Not simply "the newest": ECS keeps the service
# balanced across Availability Zones. Its default placement for Fargate services spreads tasks by
# zone, and since 30 June 2025 new services also have `availabilityZoneRebalancing` ENABLED by
# default: when zones get uneven, ECS starts tasks in the emptiest zone and stops tasks in the
# fullest (`describe_services` shows the setting; the service's events say
# "AZ Rebalancing in progress"). The lab's agent does not balance zones: it stops the newest task,
# so do not build on which one it picks. With a load balancer in front, ECS first stops sending a
# task requests; scaling by load (CPU, requests) is Application Auto Scaling's job. Both are
# notebook 06.
#
# ## 12. When AWS says no
#
# Four mistakes everyone makes once, and what AWS answers.
#
# **A size Fargate does not offer.** Fargate sells fixed CPU/memory pairs: 256 CPU units go with
# 512, 1024 or 2048 MiB. `register_task_definition` refuses anything else with a `ClientException`:

# %%
try:
    lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, image=f"{repo_uri}:v1", cpu=256, memory=4096, execution_role_arn=execution_role_arn))
except ClientError as error:
    print(error)

# %% [markdown]
# **No execution role.** The same task definition as in section 5, without `executionRoleArn`.
# Nobody could pull the image, so ECS refuses it at once:

# %%
try:
    lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, image=f"{repo_uri}:v1"))
except ClientError as error:
    print(error)

# %% [markdown]
# **An image that is not in the registry.** The task definition is accepted (ECS does not look
# in the registry then); the task fails when it starts. A one-off task (`run_task`) with a tag we
# never pushed:

# %%
missing_def = lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY + "-missing", image=f"{repo_uri}:v9", execution_role_arn=execution_role_arn))["taskDefinition"]
missing = lab.ecs.run_task(
    cluster=CLUSTER,
    taskDefinition=missing_def["taskDefinitionArn"],
    launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids}},
)["tasks"][0]
lab.ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=[missing["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
failed = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[missing["taskArn"]])["tasks"][0]
{"lastStatus": failed["lastStatus"], "stopCode": failed["stopCode"], "stoppedReason": failed["stoppedReason"]}

# %% [markdown]
# `CannotPullContainerError` is the one to recognise: a wrong URI or tag, a repository in another
# region, or an execution role that may get an ECR token but not read this repository (a role
# that may not even get the token fails earlier, with `ResourceInitializationError`; notebook 07b).
# In a service, ECS keeps trying, waiting longer each time, and the events say "has started 1
# tasks" again and again.
#
# **Deleting a cluster that still has a service:**

# %%
try:
    lab.ecs.delete_cluster(cluster=CLUSTER)
except ClientError as error:
    print(error)

# %% [markdown]
# Delete (or scale to 0 and delete) the services first; the Cleanup section does it in order.
#
# ## 13. The seven steps from a terminal, as the notes write them
#
# Everything above ran through boto3. The notes teach the same flow as shell commands, and they run
# here as written, in `%%bash` cells: the AWS CLI (version 1, installed with the course) and
# `docker`, pointed at the lab by `eval "$(ecslab env)"` (on a real account you leave that line
# out). The names are the notes' own plus `-cli`, so the boto3 service above is not touched. The
# Python cell first makes the course's programs visible to the shell, and tells it two facts the
# boto3 path knew: where the sample app's folder is, and which base image builds here (this
# machine cannot pull `python:3.12-slim`; ecslab made an offline one).

# %%
import os
import sys
import tempfile

os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
os.environ["APP_DIR"] = str(images.sample_app_dir())
os.environ["BASE_IMAGE"] = images.base_image(lab.docker)
os.environ["CLI_FOLDER"] = cli_folder = tempfile.mkdtemp(prefix="ecslab-05-cli-")  # for files the commands read or write

# %% [markdown]
# Steps 1 to 3: build, push, cluster. `docker build -q` prints only the new image's ID (what the
# builder says on its error stream, such as this engine's notice that the classic builder is
# deprecated, goes to `build.log`, shown only if the build fails), and `docker push --quiet` only
# the name it pushed; `docker login`'s last line is kept (Docker may warn before it that it stores
# the password unencrypted):

# %% language="bash"
# eval "$(ecslab env)"
# set -e
# cd "$APP_DIR"
# docker build -q -t aws-node-demo-cli:latest --build-arg BASE_IMAGE="$BASE_IMAGE" . 2> "$CLI_FOLDER/build.log" || { cat "$CLI_FOLDER/build.log"; exit 1; }
# REPO_URI=$(aws ecr create-repository --repository-name aws-node-demo-cli --query repository.repositoryUri --output text)
# aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin "${REPO_URI%%/*}" 2>&1 | tail -n 1
# docker tag aws-node-demo-cli:latest "$REPO_URI:latest"
# docker push --quiet "$REPO_URI:latest"
# aws ecs create-cluster --cluster-name demo-cluster-cli --query 'cluster.[clusterName, status]' --output text


# %% [markdown]
# Step 4 reads the task definition from a file, `--cli-input-json file://taskdef.json`. The
# Python cell writes that file: the same JSON as section 5, with the new image:

# %%
cli_repo_uri = lab.ecr.describe_repositories(repositoryNames=["aws-node-demo-cli"])["repositories"][0]["repositoryUri"]
cli_task_def = ecs_tools.task_definition("aws-node-demo-cli", image=f"{cli_repo_uri}:latest", execution_role_arn=execution_role_arn)
with open(os.path.join(cli_folder, "taskdef.json"), "w") as file:
    json.dump(cli_task_def, file, indent=2)
os.environ["SUBNETS"] = ",".join(subnet_ids)
os.environ["WEB_GROUP"] = web_group
sorted(cli_task_def)

# %% [markdown]
# Steps 4 to 6: register the task definition, create the service, and wait until it is stable
# (`aws ecs wait services-stable` polls `describe-services` as `wait_for_steady_state` did):

# %% language="bash"
# eval "$(ecslab env)"
# set -e
# cd "$CLI_FOLDER"
# aws ecs register-task-definition --cli-input-json file://taskdef.json --query 'taskDefinition.[family, status]' --output text
# aws ecs create-service --cluster demo-cluster-cli --service-name api-service-cli \
#   --task-definition aws-node-demo-cli --desired-count 2 --launch-type FARGATE \
#   --network-configuration "awsvpcConfiguration={subnets=[$SUBNETS],securityGroups=[$WEB_GROUP],assignPublicIp=ENABLED}" \
#   --query 'service.[serviceName, desiredCount]' --output text
# aws ecs wait services-stable --cluster demo-cluster-cli --services api-service-cli
# aws ecs describe-services --cluster demo-cluster-cli --services api-service-cli --query 'services[0].[status, runningCount, desiredCount]' --output text


# %% [markdown]
# Step 7: call the API. The tasks are the same kind of object boto3 returned, so the same helper
# finds where each answers:

# %%
cli_tasks = ecs_tools.service_tasks(lab.ecs, "demo-cluster-cli", "api-service-cli")
sorted(ecs_tools.call_task(task)["version"] for task in cli_tasks)

# %% [markdown]
# And down again, the notes' way: the service (`--force` stops its tasks), then the cluster, the
# repository, the task definition and the local images. `aws ecs wait tasks-stopped` waits for the
# tasks, as the boto3 waiter does (`$ECSLAB_REGISTRY`, the lab's registry, comes from `ecslab env`):

# %% language="bash"
# eval "$(ecslab env)"
# set -e
# TASKS=$(aws ecs list-tasks --cluster demo-cluster-cli --query 'taskArns' --output text)
# aws ecs delete-service --cluster demo-cluster-cli --service api-service-cli --force --query 'service.serviceName' --output text
# aws ecs wait tasks-stopped --cluster demo-cluster-cli --tasks $TASKS
# aws ecs delete-cluster --cluster demo-cluster-cli --query 'cluster.status' --output text
# aws ecr delete-repository --repository-name aws-node-demo-cli --force --query 'repository.repositoryName' --output text
# for ARN in $(aws ecs list-task-definitions --family-prefix aws-node-demo-cli --status ACTIVE --query 'taskDefinitionArns' --output text); do
#   aws ecs deregister-task-definition --task-definition "$ARN" --query 'taskDefinition.status' --output text
# done
# docker rmi aws-node-demo-cli:latest "$ECSLAB_REGISTRY/aws-node-demo-cli:latest" > /dev/null && echo "local images removed"
# rm -r "$CLI_FOLDER"


# %% [markdown]
# ## 14. What else you will meet on ECS (AWS, 2026)
#
# The seven steps are how ECS works underneath. Three features you will meet on AWS sit on top of
# them. Here they are in words; **the lab does not run Express Mode** (no such API in its moto), while
# ECS Exec and Service Connect run in the lab in notebook 06b:
#
# | feature | what it does | how you ask for it |
# |---|---|---|
# | **Express Mode** (announced at re:Invent 2025) | one call with an image, an execution role and an *infrastructure role*; ECS creates the rest in your account: a cluster if needed, the task definition, a service with canary deployments and target-tracking auto scaling, an ALB with an HTTPS listener and an ACM certificate, security groups, a log group and an alarm. AWS's App Runner documentation now says App Runner is no longer open to new customers and recommends Express Mode instead | `create_express_gateway_service` |
# | **ECS Exec** | a shell or a command inside a running container, like `docker exec`, through AWS Systems Manager's Session Manager: no SSH, no open port | `enableExecuteCommand=True` on the service (or `run_task`), a task role with the permissions ECS Exec needs, the Session Manager plugin beside your `aws` CLI, then `aws ecs execute-command --cluster ... --task ... --container web --interactive --command /bin/sh` |
# | **Service Connect** | services in one namespace call each other by short names (`http://orders:8080`) through a proxy container that ECS adds to each task and that collects logs and metrics | `serviceConnectConfiguration` on each service |
#
# Everything you learnt here still applies: an Express Mode service *is* a service with a task
# definition, an ALB and a target group, and you can open and change each of them.
#
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "A task's only container crashes. What does its service do?",
        ("Restarts the same container", "Starts a new task, with a new task ID, until runningCount is desiredCount again", "Nothing until you call update_service"),
        1,
        "The stopped task stays STOPPED (its stopCode and stoppedReason say why); the service's scheduler starts a replacement, as section 9 showed.",
        why_not=("ECS never restarts a container in place: the whole task is replaced.", "", "The service acts by itself; update_service is for changing what it runs."),
    ),
    Question(
        "desiredCount is 2 and the deployment settings are the defaults (maximumPercent 200, minimumHealthyPercent 100). During update_service to a new revision, how many tasks may run at once?",
        ("2: old tasks stop before new ones start", "Up to 4: new tasks start first, old ones stop once the new ones run", "1: ECS replaces tasks one by one"),
        1,
        "200% of 2 is 4, and 100% of 2 must stay running, so ECS starts the new tasks before it stops the old ones: no moment without an answer.",
        why_not=("minimumHealthyPercent 100 forbids going below 2 running tasks, so the old ones cannot stop first.", "", "maximumPercent 200 allows 4 at once, so ECS need not go one by one."),
    ),
    Question(
        "You push a different image under the tag v1, which the running service uses. What changes?",
        (
            "The running tasks switch to the new image at once",
            "Nothing for running tasks; start a new deployment (update_service with forceNewDeployment=True or a new revision) to run it",
            "ECS refuses the push",
        ),
        1,
        "A container keeps the image it started with. On AWS, ECS even resolves the tag to a digest when a deployment starts, so all its tasks run the same image; tags that never move (or digests) avoid the surprise.",
        why_not=("A running container never changes its image.", "", "A MUTABLE repository accepts it; only an IMMUTABLE one refuses a push to an existing tag."),
    ),
    Question(
        "A Fargate service runs 4 tasks over two Availability Zones, 2 in each, and you scale it to 2. Which tasks does ECS stop?",
        ("The 2 newest tasks, wherever they run", "Tasks chosen so that the service stays balanced: one per zone remains", "The 2 oldest tasks"),
        1,
        "ECS keeps a service balanced across Availability Zones (its spread placement, and AZ rebalancing, on by default for new services since June 2025); age is not the rule.",
        why_not=("Age is not ECS's rule; if both newest ran in one zone, that zone would be emptied. (The lab's agent does stop the newest: do not build on it.)", "", "Age is not the rule; balance across zones is."),
    ),
    Question(
        "On AWS, what is the usual way for clients to reach a service's Fargate tasks?",
        ("Each task's public IP", "An Application Load Balancer in front of the service", "The container instance's IP and the task's hostPort"),
        1,
        "Task IPs change whenever a task is replaced; a load balancer gives one stable address and only sends calls to healthy tasks.",
        why_not=(
            "It works for one task (public subnet, assignPublicIp, a group that admits the caller), but the IP changes with every replacement and there is no health check.",
            "",
            "Fargate has no container instance of yours, and an awsvpc task reports no host port (networkBindings is empty).",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - The seven steps: **build** the image, **push** it to ECR, **create a cluster**, **register a
#   task definition** (image URI, CPU, memory, port, execution role), **create a service** (how
#   many tasks, which subnets and security groups), **ECS launches** the tasks (PROVISIONING → PENDING →
#   RUNNING: pull, start), **call** them.
# - `describe_services` (counts, deployments, events) and `describe_tasks` (states, timestamps,
#   attachments, `stopCode`/`stoppedReason`) say what ECS is doing; the lab's containers match them one
#   for one.
# - A Fargate task is reached at its network interface's public IP (`describe_network_interfaces`) on
#   the container port, if it has one (`assignPublicIp=ENABLED`) and a security group admits you; in
#   production, private tasks sit behind a load balancer (notebook 06). The lab's public IPs are
#   loopback addresses of the tasks' own.
# - A service keeps `desiredCount` tasks: a crashed task is replaced by a new one.
# - A new version is a new revision plus `update_service`; with the default settings the new
#   tasks start before the old ones stop, so something always answers.
# - ECS pulls the image (and writes the logs) with the task's **execution role**: a Fargate task
#   definition with an ECR image must name one in `executionRoleArn`.
# - ECS answers mistakes in its own words: `ClientException` for a Fargate size that does not
#   exist or a missing execution role, `CannotPullContainerError` for a missing image, and no
#   deleting a cluster with services.
#
# **Exercise:** `exercises/05-deploy-to-ecs.ipynb`: deploy a Fargate service yourself, find
# where its tasks answer, and roll it to v2.
#
# ## Cleanup
#
# In order: delete the service (`force=True` stops its tasks without scaling to 0 first), wait for
# its tasks to stop, delete the cluster, then the repository (`force=True`: it holds images).
# `aws ecs delete-service --cluster demo-cluster --service api-service --force`,
# `aws ecs delete-cluster --cluster demo-cluster`,
# `aws ecr delete-repository --repository-name aws-node-demo-05 --force`. The execution role stays:
# it is the account's, and the next notebooks' tasks use it.

# %%
# the service's tasks now, and those of the rollout and the scaling above (one may still be stopping)
last_tasks = set(lab.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]) | rollout_tasks | scale_tasks
lab.ecs.delete_service(cluster=CLUSTER, service=SERVICE, force=True)
lab.ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=sorted(last_tasks), WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
deleted_cluster = lab.ecs.delete_cluster(cluster=CLUSTER)["cluster"]["status"]
lab.ecr.delete_repository(repositoryName=REPOSITORY, force=True)
for arn in (task_def_arn, task_def_v2_arn, missing_def["taskDefinitionArn"]):
    lab.ecs.deregister_task_definition(taskDefinition=arn)
images.remove_images([v1.tag, v2.tag, *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
{
    "cluster": deleted_cluster,
    "task containers left": len(lab.docker.containers.list(all=True, filters={"label": [f"com.amazonaws.ecs.cluster={cluster_arn}", f"ecslab.lab={lab.config.home}"]})),
    "repository left": REPOSITORY in [r["repositoryName"] for r in lab.ecr.describe_repositories()["repositories"]],
}
