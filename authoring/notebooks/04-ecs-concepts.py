# %% [markdown]
# # 04 · ECS concepts: every term as a live object
#
# **Goals.** By the end of this notebook you will
# - say what Amazon ECS is (a *container manager*: it decides how, where and when containers run)
#   and how it differs from Docker on your laptop;
# - have created each object of the notes' key-terms table in the lab and read it back through the
#   ECS API: a **cluster**, a **task definition** with the **container definition** inside it, a
#   **task**, a **service**; and know where the **load balancer** and the **ECS agent** fit;
# - follow a task through its states, call the app inside it, and find the real container behind it;
# - tell the **EC2** and **Fargate** launch types apart: who manages what, what a placement failure
#   is, and what each costs;
# - draw the notes' architecture diagram from a real cluster.
#
# **Time:** about 45 minutes of reading and trying (an estimate); the cells alone run in about
# 45 seconds (measured on a 2-core VM, December 2026).
#
# **ECS (Elastic Container Service)** is AWS's container orchestration service: it runs, manages,
# scales and monitors containers, usually from images in ECR. The notes call it a *container
# manager*. You say **how** a container should run (a task definition), **where** (a cluster and a
# launch type) and **when** and **how many** (run a task now, or keep a service of N tasks running);
# ECS does the rest, on many machines at once, and keeps doing it when a container dies.
#
# The notes' key terms, and the section where each becomes a live object:
#
# | term | what it is | the notes' analogy | section |
# |---|---|---|---|
# | **Cluster** | a logical group of tasks and services (and, for EC2, of hosts) | a "project folder" for your containers | 2 |
# | **Task definition** | the blueprint: image, CPU, memory, ports, environment | a `docker-compose.yml` | 3 |
# | **Container definition** | one container inside a task definition: image, ports, ... | defines one specific container | 3 |
# | **Task** | a running instance of a task definition | `docker run` for one container | 5 |
# | **Service** | keeps N tasks running; restarts and scales them | a "supervisor" keeping containers alive | 6 |
# | **Load balancer** | optional: spreads traffic over the tasks | a traffic manager | 8 |
# | **ECS agent** | a process on each EC2 host that talks to ECS | the messenger between ECS and containers | 10 |

# %% [markdown]
# ## 1. Connect, and put an image in the lab's registry
#
# This notebook works in its own cluster, `concepts-cluster`, and its own repository,
# `concepts-demo`. The first cell removes whatever an earlier run left behind (`remove_cluster`
# deletes the services, waits for every task to stop, deregisters the hosts, then deletes the
# cluster), so the notebook always starts from the same place.

# %%
import re
import time
import urllib.request

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError
from IPython.display import display

import ecslab
from ecslab import containers, images, security
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import network as network_tools

lab = ecslab.connect()
ecs = lab.ecs
CLUSTER = "concepts-cluster"
REPOSITORY = "concepts-demo"
FAMILY = "concepts-web"
EC2_FAMILY = "concepts-ec2"
service_name = "concepts-web"

ecs_tools.remove_cluster(lab, CLUSTER)
for family in (FAMILY, EC2_FAMILY):
    for arn in ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]:
        ecs.deregister_task_definition(taskDefinition=arn)
try:
    lab.ecr.delete_repository(repositoryName=REPOSITORY, force=True)
except lab.ecr.exceptions.RepositoryNotFoundException:
    pass
containers.remove_containers("04-ecs-concepts", client=lab.docker, config=lab.config)
{"clusters named concepts-cluster": [c["status"] for c in ecs.describe_clusters(clusters=[CLUSTER])["clusters"] if c["status"] == "ACTIVE"]}

# %% [markdown]
# ECS runs images from a registry, never from your laptop. Build the sample app in two versions
# (from the cache when notebook 02 or 03 ran) and push both to `concepts-demo`, as notebook 03
# taught. The first push sends the big base layer and takes a few seconds; v2 shares every
# layer with v1, so its push sends only a manifest.

# %% tags=["nbval-ignore-output"]
login = ecr_tools.get_login(lab.ecr)
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
for version in ("v1", "v2"):
    build = images.build_sample_app(f"concepts-demo:{version}", version=version, client=lab.docker, config=lab.config, show_progress=False)
    ecr_tools.push_image(lab.docker, build.tag, repo_uri, version, login)

# %%
sorted(tag for image in lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for tag in image["imageTags"])

# %% [markdown]
# ## 2. Cluster: the project folder
#
# A cluster is the top-level folder of ECS: every service and task belongs to one, and, with the
# EC2 launch type, so do the servers they run on. An empty cluster costs nothing and runs nothing.
# (`aws ecs create-cluster --cluster-name concepts-cluster` in a terminal.)

# %%
cluster = ecs.create_cluster(clusterName=CLUSTER)["cluster"]
cluster_arn = cluster["clusterArn"]
{key: cluster[key] for key in ("clusterName", "status", "registeredContainerInstancesCount", "runningTasksCount", "activeServicesCount")}

# %% [markdown]
# The counts are the folder's contents, which is still nothing. They will change as we go; the
# Cleanup section deletes the cluster again.
#
# ## 3. Task definition: the `docker-compose.yml`
#
# A task definition says how to run a container: which image, how much CPU and memory, which ports,
# which environment variables. It is JSON, like a compose file is YAML.
#
# One thing a compose file never needs: permission to pull. The image is in a private ECR
# repository, and on Fargate it is ECS, not you, that pulls it (and writes the container's logs),
# with the permissions of a **task execution role** named in the task definition. Create the
# execution role ECS uses to pull your image and write your logs; the ECS console does this on
# first use, with the name `ecsTaskExecutionRole` and AWS's managed policy
# `AmazonECSTaskExecutionRolePolicy` (notebook 07 looks inside it):

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
execution_role_arn

# %% [markdown]
# `ecs_tools.task_definition` writes the arguments of `register_task_definition` for a
# one-container task; print them and read them before registering anything:

# %%
definition = ecs_tools.task_definition(
    FAMILY, f"{repo_uri}:v1", cpu=256, memory=512, container_port=8080, environment={"STAGE": "concepts"}, execution_role_arn=execution_role_arn
)
definition

# %% [markdown]
# Side by side with the compose file you might write for the same container:
#
# | `docker-compose.yml` | task definition | meaning |
# |---|---|---|
# | `services: web:` | `containerDefinitions: [{name: "web", ...}]` | one container, named |
# | `image: localhost:5050/concepts-demo:v1` | `image` | always from a registry (ECR) |
# | `ports: ["8080"]` | `portMappings: [{containerPort: 8080}]` | the port the app listens on |
# | `environment: {STAGE: concepts}` | `environment: [{name, value}]` | environment variables |
# | `cpus: "0.25"`, `mem_limit: 512m` | `cpu: "256"`, `memory: "512"` | 1 vCPU = 1024 CPU units; memory in MiB |
# | (none) | `requiresCompatibilities`, `networkMode` | where it may run: Fargate needs `awsvpc` (section 9) |
# | (none: Docker pulls with your `docker login`) | `executionRoleArn` | who pulls the image and writes the logs: ECS, with this role |
#
# Register it. ECS answers with the stored definition, a **family** (the name) and a **revision**:

# %%
registered = ecs.register_task_definition(**definition)["taskDefinition"]
task_def_arn = registered["taskDefinitionArn"]
{key: registered[key] for key in ("family", "status", "requiresCompatibilities", "networkMode", "cpu", "memory", "executionRoleArn")}

# %% [markdown]
# ECS filled in what we left out (`cpu: 0` on the container, empty volume lists, `compatibilities`).
# A task definition never changes once registered. Registering the same family again makes a **new
# revision**; the old one stays usable, which is what makes a rollback possible. Release v2 of the
# image this way:

# %%
definition_v2 = ecs_tools.task_definition(FAMILY, f"{repo_uri}:v2", cpu=256, memory=512, environment={"STAGE": "concepts"}, execution_role_arn=execution_role_arn)
registered_v2 = ecs.register_task_definition(**definition_v2)["taskDefinition"]
task_def_v2_arn = registered_v2["taskDefinitionArn"]
revisions = ecs.list_task_definitions(familyPrefix=FAMILY, status="ACTIVE")["taskDefinitionArns"]
{"new revision = old + 1": registered_v2["revision"] == registered["revision"] + 1, "active revisions of the family": len(revisions)}

# %% [markdown]
# The ARN ends in `family:revision`, e.g. `concepts-web:1`. Run this notebook twice and your numbers
# are higher the second time: ECS never reuses a revision number, even after a task definition is
# deregistered. That is why the cells above compare revisions instead of printing them.

# %%
task_def_arn.split("/")[-1].startswith(f"{FAMILY}:"), task_def_v2_arn.split(":")[-1] == str(registered_v2["revision"])

# %% [markdown]
# ### The container definition inside
#
# `containerDefinitions` is a list: a task can run several containers side by side (an app and its
# log shipper, say), which share the task's CPU, memory and network. Ours has one. This is the part
# the notes call the **container definition**:

# %%
container_definition = registered["containerDefinitions"][0]
container_definition

# %% [markdown]
# | field | what it does |
# |---|---|
# | `name` | the container's name inside the task (`web`); `describe_tasks` reports it |
# | `image` | what to pull, `registry/repository:tag` (or `@sha256:` digest) |
# | `portMappings` | ports the app listens on; where they are reachable depends on the network mode |
# | `environment` | variables set in the container |
# | `essential` | if this container stops, the whole task stops |
# | `cpu`, `memory` | optional per-container shares and limits, inside the task's `cpu` and `memory` |
#
# ## 4. What ECS refuses: check a task definition as you type
#
# Not every blueprint is accepted. Fargate, for example, only offers fixed combinations of CPU and
# memory. The form below writes a task definition as you change it and shows what ECS would say.
# Try `memory` 4096 with `cpu units` 256, switch the launch type, put a space in the family name,
# untick the execution role.

# %%
ecs_tools.task_definition_builder(image=f"{repo_uri}:v1", execution_role_arn=execution_role_arn)

# %% [markdown]
# The lab's ECS refuses the same things at `register_task_definition`, with a `ClientException` in
# ECS's words. Four broken task definitions, each one change away from ours:

# %%
broken = {
    "memory 4096 with 256 CPU units": definition | {"memory": "4096"},
    "Fargate with bridge networking": definition | {"networkMode": "bridge"},
    "a space and a '!' in the family": definition | {"family": "concepts web!"},
    "no execution role": {key: value for key, value in definition.items() if key != "executionRoleArn"},
}
for what, attempt in broken.items():
    try:
        ecs.register_task_definition(**attempt)
        print(f"{what}: accepted")
    except ClientError as error:
        print(f"{what}:\n  {error.response['Error']['Code']}: {error.response['Error']['Message']}")

# %% [markdown]
# Nothing was registered by these attempts: the family still has its two revisions. The last one
# is the mistake of everyone's first Fargate deployment: ECS refuses it before any task starts,
# because nobody could pull the image. The valid
# Fargate sizes are in `ecslab.ecs_validation.FARGATE_SIZES` (from AWS's documentation), e.g.:

# %%
from ecslab.ecs_validation import FARGATE_SIZES

{cpu: FARGATE_SIZES[cpu][:4] + (["..."] if len(FARGATE_SIZES[cpu]) > 4 else []) for cpu in (256, 512, 1024)}

# %% [markdown]
# ## 5. Task: `docker run`, the ECS way
#
# `run_task` starts one task from a task definition, as `docker run` starts one container from an
# image. Fargate tasks need a network: with `awsvpc`, every task gets its own network interface
# (an ENI) in a subnet of your VPC. The lab has AWS's default VPC; take its first subnet. A task
# gets only a private IP unless you ask for a public one (`assignPublicIp`, `DISABLED` by
# default), and its **security groups** decide who may connect to it. We want to call the task
# from this machine, which to AWS is "the internet", so we ask for a public IP and give the task a
# group that admits TCP 8080 from anywhere (`0.0.0.0/0`). Without it the task would get the VPC's
# default group, which admits only its own members. `network_tools.public_task_security_group`
# makes such a group once (`create_security_group`, then `authorize_security_group_ingress`):

# %%
subnet = lab.ec2.describe_subnets()["Subnets"][0]
subnet_id = subnet["SubnetId"]
web_group = network_tools.public_task_security_group(lab.ec2, subnet["VpcId"])
network = {"awsvpcConfiguration": {"subnets": [subnet_id], "securityGroups": [web_group], "assignPublicIp": "ENABLED"}}
[(rule.protocol, rule.from_port, rule.cidr) for rule in network_tools.security_group(lab.ec2, web_group).ingress]

# %%
run_at = time.monotonic()  # the timeline below counts from here
started = ecs.run_task(cluster=CLUSTER, taskDefinition=task_def_arn, launchType="FARGATE", networkConfiguration=network)
task_arn = started["tasks"][0]["taskArn"]
{"tasks started": len(started["tasks"]), "failures": started["failures"], "lastStatus": started["tasks"][0]["lastStatus"], "desiredStatus": started["tasks"][0]["desiredStatus"]}

# %% [markdown]
# `run_task` returns at once, with the task in `PROVISIONING`: ECS has accepted the work, nothing
# runs yet. Ask `describe_tasks` until the task is `RUNNING` and note each state seen on the way:

# %% tags=["nbval-ignore-output"]
start_changes = ecs_tools.watch_task(ecs, CLUSTER, task_arn, until="RUNNING", origin=run_at)
" → ".join(status for _, status in start_changes)

# %% [markdown]
# `watch_task` polls every 20 ms and keeps each change it sees; a state shorter than one poll can
# slip by. AWS's page *Amazon ECS task lifecycle* names eight states, in this order:
#
# | `lastStatus` | what happens there (AWS's words, shortened) | in the lab |
# |---|---|---|
# | `PROVISIONING` | additional steps before launch, e.g. the `awsvpc` task's network interface | the agent takes the task |
# | `PENDING` | waiting on the container agent; a task stays here until resources are free | image pulled, container created |
# | `ACTIVATING` | after launch, before RUNNING: images, containers, networking, **load balancer target groups**, service discovery | **not reported**: the lab's agent goes from PENDING to RUNNING |
# | `RUNNING` | the task runs | the container runs |
# | `DEACTIVATING` | before stopping: e.g. **deregistering from target groups** (the load balancer drains it, notebook 06) | deregistration, then on at once |
# | `STOPPING` | the containers are stopped (SIGTERM, then SIGKILL after `stopTimeout`) | `docker stop` |
# | `DEPROVISIONING` | clean-up after the task, e.g. the network interface is detached | the container is removed |
# | `STOPPED` | done; the task stays visible for a while | the same |
#
# RUNNING means the container has started, not that the app in it answers yet: load balancer
# health checks are for that. The task also keeps its own record, in timestamps:

# %%
task = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
moments = ["createdAt", "pullStartedAt", "pullStoppedAt", "startedAt"]
{"lastStatus": task["lastStatus"], "timestamps in this order": sorted(moments, key=task.get) == moments}

# %% tags=["nbval-ignore-output"]
{moment: f"+{(task[moment] - task['createdAt']).total_seconds():.2f} s" for moment in moments}

# %% [markdown]
# Where is it? A Fargate task has no host of yours and no host port: ECS reports no
# `networkBindings` for an `awsvpc` task. The task's `attachments` name its network interface;
# EC2's `describe_network_interfaces` gives that interface's private IP (answers only inside the
# VPC) and, with `assignPublicIp`, its public IP (`Association.PublicIp`). You call the public IP
# on the container's own port, 8080:

# %%
details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
interface = lab.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][0]
public_ip = interface["Association"]["PublicIp"]
{
    "attachment": (task["attachments"][0]["type"], task["attachments"][0]["status"]),
    "details": sorted(details),
    "security groups": [g["GroupId"] == web_group for g in interface["Groups"]],
    "public IP": public_ip,
    "networkBindings": task["containers"][0].get("networkBindings", []),
}

# %% [markdown]
# **In the lab** the public IP is a loopback address of the task's own (127.100.x.y: every
# 127.x.y.z address is this machine, and no other program uses these), and the task's security
# groups are obeyed there: the lab opens `PUBLIC_IP:8080` only while a group admits TCP 8080 from
# `0.0.0.0/0`. `ecs_tools.task_url` does what you just did by hand, and `call_task` calls it:

# %%
ecs_tools.task_url(task) == f"http://{public_ip}:8080"

# %%
ecs_tools.call_task(task)

# %% [markdown]
# Take the rule away and the same address stops answering. AWS does not refuse such a connection,
# it drops it: the client waits until its own timeout (here 2 s). The lab does the same. (Rule
# changes reach the lab within a second, hence the pause.) Then give the rule back:

# %%
rule = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
lab.ec2.revoke_security_group_ingress(GroupId=web_group, IpPermissions=[rule])
time.sleep(1.5)
try:
    urllib.request.urlopen(f"http://{public_ip}:8080/", timeout=2)
    blocked = "answered"
except OSError as error:
    blocked = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
lab.ec2.authorize_security_group_ingress(GroupId=web_group, IpPermissions=[rule])
blocked

# %% [markdown]
# That answer came from a real process in a real container. The `hostname` is the container's ID.
# Find the container through the label the agent put on it, and check that the task definition's
# settings arrived: the environment variable, and the task's CPU and memory as container limits.

# %%
container = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"})[0]
{
    "hostname is the container's ID": ecs_tools.call_task(task)["hostname"] == container.id[:12],
    "STAGE=concepts set": "STAGE=concepts" in container.attrs["Config"]["Env"],
    "memory limit (MiB)": container.attrs["HostConfig"]["Memory"] // 2**20,
    "CPUs": container.attrs["HostConfig"]["NanoCpus"] / 1e9,
    "family label": container.labels["com.amazonaws.ecs.task-definition-family"],
}

# %% [markdown]
# 256 CPU units became a quarter of a CPU and 512 MiB a hard memory limit, the same `--cpus` and
# `--memory` limits notebook 01 set by hand. Now stop the task (`docker stop`, the ECS way). ECS
# sends SIGTERM, waits, and records why and how the task ended:

# %%
ecs.stop_task(cluster=CLUSTER, task=task_arn, reason="done looking at it")
stop_changes = ecs_tools.watch_task(ecs, CLUSTER, task_arn, until="STOPPED", origin=run_at)
stopped = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
{key: stopped[key] for key in ("lastStatus", "stopCode", "stoppedReason")} | {"exit code": stopped["containers"][0]["exitCode"]}

# %% [markdown]
# In DEPROVISIONING, ECS deleted the task's network interface, and its public IP went with it:

# %%
left = lab.ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": [details["networkInterfaceId"]]}])
{"attachment status": stopped["attachments"][0]["status"], "network interfaces left": len(left["NetworkInterfaces"])}

# %% [markdown]
# Exit code 0: the sample app handles SIGTERM and exits cleanly. A stopped task stays visible for a
# while (at least an hour on AWS) so you can read why it stopped; its container is gone:

# %%
lab.docker.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"})

# %% [markdown]
# The task's whole life, as `describe_tasks` reported it while we watched, starting and stopping
# (the gap between is the time we spent looking at it). Your run's bars differ in length; which
# states appear depends on how long each lasted:

# %% tags=["nbval-ignore-output"]
life = ecs_tools.merge_changes(start_changes, stop_changes)
ecs_tools.plot_task_timeline(life)
plt.show()
" → ".join(status for _, status in life)

# %% [markdown]
# What is true on every run: the states seen follow AWS's order, and the task ended STOPPED.

# %%
statuses = [status for _, status in life]
{"passed through RUNNING": "RUNNING" in statuses, "last": statuses[-1], "in the lifecycle's order": ecs_tools.in_lifecycle_order(statuses)}

# %% [markdown]
# ## 6. Service: the supervisor
#
# A task that stops stays stopped. A **service** is a promise: "keep `desiredCount` tasks of this
# task definition running". ECS starts tasks until the count is reached and replaces any task that
# stops. Create one with two tasks and wait until it is *steady* (one deployment, running = desired):

# %% tags=["nbval-ignore-output"]
service_started = time.monotonic()
ecs.create_service(
    cluster=CLUSTER,
    serviceName=service_name,
    taskDefinition=task_def_arn,
    desiredCount=2,
    launchType="FARGATE",
    networkConfiguration=network,
)
service = ecs_tools.wait_for_steady_state(ecs, CLUSTER, service_name)
print(f"from create_service to steady: {time.monotonic() - service_started:.1f} s")

# %% [markdown]
# About a second here: the image is already on this machine and a container starts in a fraction of
# a second. On Fargate, expect tens of seconds or more: AWS finds capacity, attaches a network
# interface and pulls the image over the network for every new task.

# %%
{key: service[key] for key in ("status", "desiredCount", "runningCount", "pendingCount")} | {
    "deployments": [(d["status"], d["rolloutState"]) for d in service["deployments"]]
}

# %% [markdown]
# The service's **events** are its diary, newest first (task and deployment IDs are shortened here
# because they differ on every run):

# %%
[re.sub(r"\(task [0-9a-f-]+\)", "(task …)", re.sub(r"ecs-svc/\d+", "ecs-svc/…", event["message"])) for event in service["events"]]

# %% [markdown]
# Two tasks, two containers, two hostnames:

# %%
service_tasks = ecs_tools.service_tasks(ecs, CLUSTER, service_name)
answers = [ecs_tools.call_task(t) for t in service_tasks]
{"tasks": len(service_tasks), "different hostnames": len({a["hostname"] for a in answers}), "versions": sorted({a["version"] for a in answers})}

# %% [markdown]
# Now the supervisor at work. Kill one task's container behind ECS's back, as a crash would, and
# watch the cluster: the table refreshes for a few seconds while ECS notices, stops the task and
# starts a replacement.

# %% tags=["nbval-ignore-output"]
view = ecs_tools.cluster_view(lab, CLUSTER)
display(view)
victim_arn = service_tasks[0]["taskArn"]
ecs_tools.kill_task_container(lab.docker, victim_arn)
view.watch(4)

# %%
ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=[victim_arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
service = ecs_tools.wait_for_steady_state(ecs, CLUSTER, service_name, show_progress=False)
victim = ecs.describe_tasks(cluster=CLUSTER, tasks=[victim_arn])["tasks"][0]
{
    "killed task": (victim["lastStatus"], victim["stopCode"], victim["stoppedReason"], victim["containers"][0]["exitCode"]),
    "service running / desired": (service["runningCount"], service["desiredCount"]),
    "killed task still in the service": victim_arn in [t["taskArn"] for t in ecs_tools.service_tasks(ecs, CLUSTER, service_name)],
    "an event says it started a replacement": any("has started 1 tasks" in e["message"] for e in service["events"]),
}

# %% [markdown]
# Exit code 137 is 128 + 9: the container died of SIGKILL. The service noticed the missing task and
# started a new one; nobody ran a command. Compare plain Docker: run the same image with
# `docker run`, kill it, and look again a little later.

# %%
plain = containers.run_container("concepts-demo:v1", name="concepts-plain", purpose="04-ecs-concepts", client=lab.docker, config=lab.config)
plain.container.kill()
time.sleep(2)
plain.container.reload()
{"status two seconds later": plain.container.status, "exit code": plain.container.attrs["State"]["ExitCode"]}

# %% [markdown]
# It stays dead until someone types `docker start`. (Docker's `--restart=always` would restart it,
# on this one machine; ECS replaces tasks across many machines, and even when a machine dies.)
#
# ## 7. ECS vs Docker, concretely
#
# The notes' table, with what you just did in each column:
#
# | concept | Docker | ECS | in this notebook |
# |---|---|---|---|
# | Scope | a local container runtime | cloud container orchestration | `containers.run_container` vs `ecs.run_task` |
# | Responsibility | build and run containers | deploy, scale, monitor containers | a killed container stayed dead; a killed task was replaced |
# | Scale | manual: one `docker run` per container | automatic: `desiredCount`, scaling, load balancing | `desiredCount=2` kept 2 tasks |
# | Integration | local only | EC2, Fargate, CloudWatch, IAM, load balancers | Fargate tasks here; EC2 hosts in section 9 |
#
# And the commands, side by side:
#
# | Docker | ECS |
# |---|---|
# | `docker-compose.yml` | `register_task_definition` (a revision per change) |
# | `docker run IMAGE` | `run_task(taskDefinition=...)` |
# | `docker ps` | `list_tasks` + `describe_tasks` |
# | `docker stop` | `stop_task` (with a reason that is kept) |
# | `docker start` after a crash, by hand | a service replaces the task by itself |
# | `-p 127.0.0.1::8080` | `portMappings` + `networkBindings` (bridge), or the task's own IP and a security group (`awsvpc`) |
#
# ## 8. Load balancer: the traffic manager
#
# The service runs two tasks, each at its own address; a client wants one. A load balancer (on AWS an
# Application Load Balancer) is that one address: it spreads requests over the healthy tasks, stops
# sending to a task that fails its health check, and ECS registers each new task with it. Notebook
# 06 puts one in front of a service.
#
# ## 9. Launch types: Fargate or EC2
#
# Every task runs on some machine. The **launch type** says whose:
#
# | who does it | EC2 launch type | Fargate launch type |
# |---|---|---|
# | choose the instance types, launch the hosts, add more when full | you | AWS |
# | patch the host's operating system, the Docker engine, the ECS agent | you | AWS |
# | decide which host a task goes on | ECS, among *your* hosts, if one has room | AWS, from its own capacity (usually there is room, but not always: see below) |
# | sizes a task may have | anything that fits on a host | fixed CPU/memory pairs (section 4) |
# | network modes | `bridge`, `host`, `awsvpc` | `awsvpc` only: each task has its own IP |
# | what you pay for | instances, running or idle (Linux on-demand: per second, at least 60 s) | each task's vCPU and memory, per second |
# | the image, the task definition, the service | you | you |
#
# Most new deployments use Fargate, because nobody has to run servers. EC2 can be cheaper for
# steady, dense workloads, and allows GPUs and special instance types.
#
# Fargate's "AWS finds room" has two limits. AWS's capacity in an Availability Zone can run out:
# `run_task` then fails with "Capacity is unavailable at this time. Please try again later or in a
# different availability zone" (retry, and give the task subnets in several zones). And your
# account has quotas, such as *Fargate On-Demand vCPU resource count* per region: past it, ECS
# refuses to place more tasks until you stop some or ask for a higher quota (Service Quotas). The
# lab has neither limit.
#
# **What is real in the lab:** Fargate tasks are containers on this machine's Docker engine. For
# EC2, the lab **simulates the capacity**: `add_container_instances` records an EC2 instance in the
# AWS API and registers it with the cluster with that instance type's CPU and memory, as the ECS
# agent on a real instance would. ECS's placement honours those numbers; the tasks themselves still
# run as containers on this machine. Add a small and a medium host:

# %%
hosts = {"t3.small": ecs_tools.add_container_instances(lab, CLUSTER, 1, "t3.small")[0]}
hosts["t3.medium"] = ecs_tools.add_container_instances(lab, CLUSTER, 1, "t3.medium")[0]
names_by_id = {arn.split("/")[-1][:8]: name for name, arn in hosts.items()}


def capacity_by_host() -> list[dict]:
    """capacity() with the instance types as names, small first (IDs and list order differ from run to run)."""
    rows = [row | {"instance": names_by_id[row["instance"]]} for row in ecs_tools.capacity(ecs, CLUSTER)]
    return sorted(rows, key=lambda row: list(hosts).index(row["instance"]))


capacity_by_host()

# %% [markdown]
# Each host offers 1024 CPU units per vCPU, and its memory minus a slice that the operating system
# and the agent keep (t3.small: 2 vCPU, 2 GiB; t3.medium: 2 vCPU, 4 GiB; the lab keeps 256 MiB, on
# AWS it depends on the AMI and the agent's `ECS_RESERVED_MEMORY` setting). An EC2
# task definition uses `bridge` networking: the container's port is published on a free port of its
# host. Register one of 512 CPU units and 1 GiB, and ask for **five** tasks at once:

# %%
ec2_definition = ecs_tools.task_definition(EC2_FAMILY, f"{repo_uri}:v1", cpu=512, memory=1024, launch_type="EC2")
ec2_task_def_arn = ecs.register_task_definition(**ec2_definition)["taskDefinition"]["taskDefinitionArn"]
placed = ecs.run_task(cluster=CLUSTER, taskDefinition=ec2_task_def_arn, launchType="EC2", count=5)
ec2_task_arns = [t["taskArn"] for t in placed["tasks"]]
{
    "tasks placed": len(placed["tasks"]),
    "tasks per host": {name: sum(t["containerInstanceArn"] == arn for t in placed["tasks"]) for name, arn in hosts.items()},
    "failures": sorted((names_by_id[f["arn"].split("/")[-1][:8]], f["reason"]) for f in placed["failures"]),
}

# %% [markdown]
# Four fit, one did not. `RESOURCE:MEMORY` is ECS's reason code: no host had 1024 MiB left. With
# Fargate there are no hosts of yours to fill (AWS finds room, within your account's quotas, and
# bills the fifth task); with EC2 you add hosts, or make tasks smaller. `capacity()` shows where
# the memory went:

# %%
capacity_by_host()

# %% [markdown]
# The tasks run (as containers here, with `bridge` port publishing). Wait for them and call one:

# %%
ecs.get_waiter("tasks_running").wait(cluster=CLUSTER, tasks=ec2_task_arns, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
ec2_tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=ec2_task_arns)["tasks"]
{"running": sum(t["lastStatus"] == "RUNNING" for t in ec2_tasks), "launch type": ec2_tasks[0]["launchType"], "answer": ecs_tools.call_task(ec2_tasks[0])["version"]}

# %% [markdown]
# Stop them; the hosts get their capacity back:

# %%
for arn in ec2_task_arns:
    ecs.stop_task(cluster=CLUSTER, task=arn, reason="placement demo over")
ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=ec2_task_arns, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
capacity_by_host()

# %% [markdown]
# **Beyond `launchType` (AWS in 2026; the lab runs the Fargate part, in notebook 06b).** `launchType` is the simple way
# to say where a task runs; on AWS you will also meet **capacity providers**, named pools of
# capacity that a cluster lists (`put_cluster_capacity_providers`) and that a service or
# `run_task` picks with a **capacity provider strategy** instead of a `launchType`: each entry a
# provider, a `base` (tasks that go to it first) and a `weight` (its share of the rest).
#
# | capacity provider | what it is |
# |---|---|
# | `FARGATE` | Fargate as above; predefined in every account |
# | `FARGATE_SPOT` | Fargate on AWS's spare capacity, at a discount; AWS may take it back with a two-minute warning (a SIGTERM to the task, then a stop): for tasks that can be interrupted. Linux on x86_64 only |
# | Auto Scaling group | your EC2 instances, which ECS can scale out and in for the tasks it must place |
# | ECS Managed Instances (launched 2025; `launchType` `MANAGED_INSTANCES`) | EC2 instances that AWS launches, patches, scales and retires for you: EC2's instance types (GPUs, large sizes, several tasks per instance) with Fargate's hands-off running |
#
# A strategy such as `[{"capacityProvider": "FARGATE", "base": 2, "weight": 1},
# {"capacityProvider": "FARGATE_SPOT", "weight": 3}]` keeps two tasks on regular Fargate and puts
# three of every four further tasks on Spot. The lab runs the `FARGATE` and `FARGATE_SPOT` providers
# (base and weight honoured, a Spot interruption played with `ecslab.spot.interrupt`: notebook 06b);
# Auto Scaling group providers and managed instances it does not run.
#
# ## 10. The ECS agent: the messenger
#
# On a real EC2 host, the **ECS agent** is a small open-source program (`amazon-ecs-agent`, itself
# a container on the ECS-optimized AMI) that
#
# 1. registers the host with your cluster, reporting its CPU and memory (the numbers `capacity()` read);
# 2. keeps a connection open to the ECS control plane and receives "start this task", "stop that one";
# 3. pulls the images and starts and stops the containers through the host's Docker engine;
# 4. reports every state change back, which is how `describe_tasks` knows a task is RUNNING.
#
# With Fargate, AWS runs the equivalent for you on the machine it picked; you never see it.
#
# **What stands in for it in the lab:** a thread of the lab's process (`ecslab/lab/ecs_agent.py`)
# is both the agent and ECS's scheduler: it turns the tasks the API records into containers, moves
# them through AWS's states, and keeps services at their desired count. It keeps a journal; here
# are its lines about the five EC2 tasks of section 9 (the times and IDs differ on every run):

# %% tags=["nbval-ignore-output"]
ec2_task_ids = [arn.split("/")[-1][:8] for arn in ec2_task_arns]
journal = [line for line in ecs_tools.agent_log(lab, last=300) if any(f"task {task_id}" in line for task_id in ec2_task_ids)]
print("\n".join(journal))

# %% [markdown]
# Pull, start, report RUNNING with the port it got; later stop, remove, report STOPPED: the
# messenger's round trip, for every task:

# %%
steps = ("pulling", "RUNNING", "stopping", "STOPPED")
{f"EC2 task {number}": all(any(f"task {task_id}" in line and step in line for line in journal) for step in steps) for number, task_id in enumerate(ec2_task_ids, 1)}

# %% [markdown]
# ## 11. What it costs: Fargate or EC2
#
# Fargate bills each task's vCPU and memory by the second; EC2 bills each instance for as long as
# it runs, however full it is (Linux on-demand instances by the second, with a 60-second minimum;
# AWS's pricing page says which others differ). Pick a task size, a number of tasks and an
# instance type; the estimate uses
# the published on-demand prices below (compute only: no load balancer, storage or data transfer).

# %%
{key: ecs_tools.PRICES[key] for key in ("as_of", "region", "sources", "fargate_vcpu_hour", "fargate_gb_hour")}

# %%
ecs_tools.cost_widget()

# %% [markdown]
# The two tasks of our service, at 0.5 vCPU and 1 GiB each, for a month (730 hours):

# %%
{
    "Fargate (USD)": ecs_tools.fargate_cost(512, 1024, tasks=2),
    "EC2 t3.medium hosts needed": ecs_tools.ec2_hosts_needed(512, 1024, 2, "t3.medium"),
    "EC2 t3.medium (USD)": ecs_tools.ec2_cost(512, 1024, tasks=2, instance_type="t3.medium"),
}

# %% [markdown]
# Close, for two tasks. EC2 wins when its hosts are full day and night; Fargate wins when the load
# is small or uneven, and nobody on your team patches hosts. Prices change: check the sources before
# deciding anything (Savings Plans and Spot change the picture too).
#
# ## 12. The architecture diagram, from the real cluster
#
# The notes draw ECS as cluster → service → tasks (v1 and v2, images from ECR) → Fargate or EC2.
# Here is the same picture, drawn from `describe_services` and `describe_tasks` of our cluster
# while the service moves from revision 1 (image v1) to revision 2 (image v2):

# %% tags=["nbval-ignore-output"]
ecs.update_service(cluster=CLUSTER, service=service_name, taskDefinition=task_def_v2_arn)
deadline = time.monotonic() + 20
state = ecs_tools.cluster_state(ecs, CLUSTER)
while len({t["revision"] for t in state["services"][0]["tasks"]}) < 2 and time.monotonic() < deadline:
    time.sleep(0.1)
    state = ecs_tools.cluster_state(ecs, CLUSTER)
ecs_tools.architecture_diagram(state)
plt.show()

# %% [markdown]
# For a moment the service runs tasks of both revisions: that is the notes' "Task (v1) / Task (v2)".
# ECS starts the new tasks first and stops the old ones once the new ones run, so the app never goes
# down (notebook 05 follows such a rollout step by step). When it is over:

# %% tags=["nbval-ignore-output"]
service = ecs_tools.wait_for_steady_state(ecs, CLUSTER, service_name)
ecs_tools.architecture_diagram(ecs_tools.cluster_state(ecs, CLUSTER))
plt.show()

# %%
{
    "service running / desired": (service["runningCount"], service["desiredCount"]),
    "deployments": len(service["deployments"]),
    "versions answering": sorted({ecs_tools.call_task(t)["version"] for t in ecs_tools.service_tasks(ecs, CLUSTER, service_name)}),
}

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "A service has desiredCount 2 and the container of one of its tasks crashes. What happens?",
        ("Nothing until you run the task again", "ECS stops that task and starts a new one", "The service is deleted"),
        1,
        "A service keeps desiredCount tasks running: the crashed task stops (EssentialContainerExited) and a replacement starts, as in section 6.",
        why_not=("That is a lone task's fate; a service replaces its tasks by itself.", "", "A crash never deletes a service; only delete_service does."),
    ),
    Question(
        "You register the family web twice, with image v1 then v2. What does ECS hold?",
        ("web:1 changed to v2", "web:1 (v1) and web:2 (v2), both usable", "Only web:2"),
        1,
        "Task definitions are immutable; each registration is a new revision, and old revisions stay available for rollbacks.",
        why_not=("A revision never changes once registered.", "", "Registering never removes earlier revisions; deregister_task_definition does, one at a time."),
    ),
    Question(
        "run_task with the EC2 launch type answers a failure with reason RESOURCE:MEMORY. What does it mean?",
        (
            "The container ran out of memory",
            "No container instance had enough memory left to place the task",
            "Fargate does not offer that memory size",
        ),
        1,
        "Placement failed before anything ran: add hosts or make the task smaller. An out-of-memory container stops with OutOfMemoryError instead.",
        why_not=("Nothing ran yet: a container out of memory stops with OutOfMemoryError, not a placement failure.", "", "A size Fargate does not offer is refused at register_task_definition, with a ClientException."),
    ),
    Question(
        "You stop a task that sits behind a load balancer. In which lastStatus is it deregistered from the target group (and drained)?",
        ("STOPPING", "DEACTIVATING", "DEPROVISIONING"),
        1,
        "AWS's task lifecycle: DEACTIVATING comes first, for steps such as deregistering from target groups; then STOPPING stops the containers, and DEPROVISIONING cleans up (the network interface).",
        why_not=("STOPPING is when the containers get SIGTERM; by then the load balancer already stopped sending requests.", "", "DEPROVISIONING cleans up after the containers stopped, e.g. the network interface."),
    ),
    Question(
        "What is the ECS agent?",
        (
            "A process on each EC2 container instance that starts containers and reports their state to ECS",
            "The AWS console page for ECS",
            "A load balancer in front of the tasks",
        ),
        0,
        "It is the messenger between the ECS control plane and the host's Docker engine; on Fargate, AWS runs it for you.",
        why_not=("", "The console is a web page for the ECS API; the agent runs on the hosts.", "Load balancers spread requests; the agent starts and reports containers."),
    ),
])

# %% [markdown]
# ## Summary
#
# - ECS is a container manager: a **task definition** says how a container runs, a **cluster** and a
#   **launch type** say where, **run_task** and **services** say when and how many.
# - A task definition is registered as `family:revision`; a new registration is a new revision, never
#   an edit. Its **container definitions** hold image, ports, environment, CPU and memory. ECS refuses
#   invalid ones with a `ClientException` (e.g. a Fargate size that does not exist).
# - A **task** goes PROVISIONING → PENDING → ACTIVATING → RUNNING → DEACTIVATING → STOPPING → DEPROVISIONING → STOPPED
#   (the lab skips ACTIVATING; a short state can slip between two polls), with timestamps,
#   a `stopCode` and a `stoppedReason`. In the lab it is a real container on this machine.
# - A Fargate (`awsvpc`) task has its own network interface and no `networkBindings`: you reach it at the
#   interface's **public IP** (`assignPublicIp=ENABLED`, `describe_network_interfaces`) on the container
#   port, only if one of its **security groups** admits you; otherwise the connection times out. In the
#   lab the public IP is a loopback address of the task's own, and the groups are obeyed there.
# - A **service** keeps `desiredCount` tasks running, replaces tasks that die and rolls to new revisions;
#   a **load balancer** (notebook 06) gives its tasks one address.
# - **Fargate**: AWS runs the hosts, fixed task sizes, pay per task. **EC2**: your hosts, your patching,
#   placement within their capacity (`RESOURCE:MEMORY` when full), pay per instance. The lab's EC2
#   hosts are simulated capacity.
# - The **ECS agent** on each EC2 host is the messenger between ECS and Docker; in the lab, a thread of
#   the lab's process plays it.
#
# The notes' workflow, and where this notebook did each step: 1. create an ECR repository and 2. push
# the image (section 1); 3. create the cluster (2); 4. register the task definition (3); 5. create a
# service (6); 6. run a task, Fargate or EC2 (5, 9); 7. expose the API (here through the published
# port; with a load balancer in notebook 06). Notebook 05 walks the whole flow again, as a deployment.
#
# **Exercise:** `exercises/04-ecs-concepts.ipynb`: write a Fargate task definition, run a task until it
# is RUNNING, and decide which host can take a task.
#
# ## Cleanup
#
# Delete the cluster with everything in it (service, tasks, the simulated hosts), deregister the task
# definitions, delete the repository and the local names, and remove the plain Docker container.
# The execution role stays, as on AWS: it is the account's, and the next notebooks' tasks use it.
# Then look at what is left:

# %%
ecs_tools.remove_cluster(lab, CLUSTER)
for family in (FAMILY, EC2_FAMILY):
    for arn in ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]:
        ecs.deregister_task_definition(taskDefinition=arn)
lab.ecr.delete_repository(repositoryName=REPOSITORY, force=True)
containers.remove_containers("04-ecs-concepts", client=lab.docker, config=lab.config)
images.remove_images(["concepts-demo:v1", "concepts-demo:v2"] + ecr_tools.local_references(lab.docker, repo_uri), client=lab.docker, config=lab.config)
{
    "active clusters named concepts-cluster": [c["clusterName"] for c in ecs.describe_clusters(clusters=[CLUSTER])["clusters"] if c["status"] == "ACTIVE"],
    "active task definitions": ecs.list_task_definitions(familyPrefix=FAMILY, status="ACTIVE")["taskDefinitionArns"]
    + ecs.list_task_definitions(familyPrefix=EC2_FAMILY, status="ACTIVE")["taskDefinitionArns"],
    "repositories named concepts-demo": [r["repositoryName"] for r in lab.ecr.describe_repositories()["repositories"] if r["repositoryName"] == REPOSITORY],
    "task containers of the cluster": lab.docker.containers.list(all=True, filters={"label": f"com.amazonaws.ecs.cluster={cluster_arn}"}),
}
