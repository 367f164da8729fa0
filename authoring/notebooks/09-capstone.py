# %% [markdown]
# # 09 · Capstone: one app, from source code to a zero-downtime rollout
#
# The lecture notes end (section 11) with a table and a sentence: **ECR** stores and manages your
# images, **ECS** runs and orchestrates the containers made from them; "ECR is your image
# *warehouse*, ECS is your image *factory manager*". This notebook does the whole arc once, on one
# small app: build, push, roles, network, load balancer, cluster, service, traffic, a rollout under
# load, logs, metrics, an alarm. Most of it is the code of notebooks 02 to 08; three things are
# written here by hand for the first time, with plain boto3, as a production setup has them: the
# **security groups** (notebooks 06 and 07 had a helper make them), an **immutable repository
# with a lifecycle policy** (notebook 03 showed each on its own), and **task definitions that
# name the image by its digest**. Then it checks what it built against the live resources, says
# what the same thing costs on AWS, and takes it all down again.
#
# **Goals.** By the end of this notebook you will
# - have taken the sample API from source to three Fargate tasks behind an Application Load
#   Balancer, in the order of the notes, each step with the call you learnt for it;
# - have kept the releases in an ECR repository whose tags never move, with a lifecycle policy
#   that keeps it from growing for ever, and seen ECR refuse a second push of a tag;
# - have written the two security groups that let only the load balancer reach the tasks, rule
#   by rule, and given the tasks an execution role and a least-privilege task role;
# - have rolled v1 → v2, each pinned by its digest, under steady traffic and *measured* the
#   failed requests;
# - have read the app's logs, its CPU metric and an alarm's verdict;
# - tell, from a symptom in AWS's words, which step went wrong;
# - know what changes on real AWS, what this setup costs per hour there, and in which order to
#   delete it.
#
# **Time:** about 30 minutes of reading (an estimate); the cells alone run in 1 to 3 minutes
# (measured on a shared 2-core VM, December 2026: the busier the machine, the longer).
#
# | step | the notes | here | first met in |
# |---|---|---|---|
# | build the image (v1 and v2) | §2, §6 step 1 | section 2 | notebook 02 |
# | ECR repository (immutable, lifecycle policy), push | §3, §6 step 2 | section 3 | notebook 03 |
# | execution role, task role | §9 | section 4 | notebooks 05, 07 |
# | security groups (written by hand), ALB, target group, listener | §8, §9 | section 5 | notebooks 06, 07 |
# | cluster, task definition, service | §4, §5, §6 steps 3-6 | section 6 | notebooks 04, 05 |
# | access the API through the load balancer | §6 step 7, §8 | section 7 | notebook 06 |
# | zero-downtime deployment, pinned by digest | §8 | section 8 | notebook 06 |
# | logs, metrics, an alarm | §10 | section 9 | notebook 08 |
# | the whole picture; which step failed? | §7, §11 | section 10 | |
#
# ```
#                       ┌──────────────── ECR: cap-app (v1, v2; IMMUTABLE, lifecycle policy) ◄── docker push
#                       │ pulled with the execution role
#  client ──► ALB cap-alb :80 ──► target group cap-tg ──┬─► task (v1 → v2) :8080 ─┐ logs ──► CloudWatch Logs /ecs/cap-app
#           (group cap-web-alb:   ip targets,           ├─► task (v1 → v2) :8080 ─┤ CPU  ──► CloudWatch metric ──► alarm
#            80 from anywhere)    GET /health           └─► task (v1 → v2) :8080 ─┘
#                                                    (each version by its digest, cap-app@sha256:...)
#                                                    service cap-service in cluster cap-cluster
#                                                    (group cap-web-tasks: 8080 from the ALB only;
#                                                     task role cap-app-task: one S3 prefix, read only)
# ```

# %% [markdown]
# ## 1. Setup
#
# Everything this notebook makes is named `cap-...` (the log group `/ecs/cap-app`); the execution
# role `ecsTaskExecutionRole` is the account's, shared by every notebook, and stays. `clean_up`
# deletes the rest (`MADE_HERE`) with `ecslab.cleanup.remove`, in the order AWS requires (section
# 11 explains the order): in the lab by name; on AWS only what the course tagged as yours
# (`ecslab:course` and `ecslab:owner`). The first call removes whatever an earlier run left, so
# the notebook always starts from the same place.

# %%
import json
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import cleanup, images, monitoring, network, security
from ecslab.ecr_lifecycle import ImageRecord, evaluate

lab = ecslab.connect()
ecr, ecs, elbv2, iam, logs, cloudwatch, ec2 = lab.ecr, lab.ecs, lab.elbv2, lab.iam, lab.logs, lab.cloudwatch, lab.ec2
REPOSITORY = FAMILY = "cap-app"
CLUSTER = "cap-cluster"
SERVICE = "cap-service"
ALB_NAME = "cap-alb"
TG_NAME = "cap-tg"
SG_PREFIX = "cap-web"  # security groups cap-web-alb and cap-web-tasks
EXECUTION_ROLE = "ecsTaskExecutionRole"
TASK_ROLE = "cap-app-task"
SETTINGS_BUCKET = "cap-app-settings"  # the one thing the task role may read (section 4)
LOG_GROUP = "/ecs/cap-app"
ALARM = "cap-app-cpu-high"
DESIRED = 3
vpc_id, subnet_ids = elb_tools.default_subnets(ec2)


MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted (section 11)
    alarms=[ALARM], clusters=[CLUSTER], load_balancers=[ALB_NAME], target_groups=[TG_NAME],
    security_groups=[f"{SG_PREFIX}-tasks", f"{SG_PREFIX}-alb"],  # the tasks' group names the ALB's
    log_groups=[LOG_GROUP], roles=[TASK_ROLE], task_families=[FAMILY], repositories=[REPOSITORY],
)


def clean_up():
    """Delete what this notebook made (`MADE_HERE`, with `ecslab.cleanup.remove`) and its local images; returns what is left of it."""
    left = cleanup.remove(lab, MADE_HERE)
    images.remove_images([f"{REPOSITORY}:v1", f"{REPOSITORY}:v2"], client=lab.docker, config=lab.config)
    return left


run_started = datetime.now(UTC)  # metrics of an earlier run stay in CloudWatch: charts start here
clean_up()

# %% [markdown]
# ## 2. The image: v1 and v2 (notes §2)
#
# The notes' step 1 is `docker build -t aws-node-demo .`. We build the sample app twice, as `v1`
# and `v2` (`--build-arg APP_VERSION=...`); both come from the build cache when an earlier notebook
# built the app.

# %% tags=["nbval-ignore-output"]
built = {
    version: images.build_sample_app(f"{REPOSITORY}:{version}", version=version, client=lab.docker, config=lab.config, show_progress=False)
    for version in ("v1", "v2")
}
{version: f"{result.counts()['reused']} steps from cache, {result.counts()['rebuilt']} rebuilt, {result.seconds:.1f} s" for version, result in built.items()}

# %% [markdown]
# An image is read-only layers plus a config (notebook 02). The version is the Dockerfile's last
# setting, an `ENV`, which changes the config and adds no file: the two images have different IDs
# and the very same layers.

# %%
config_env = {version: [e for e in result.image.attrs["Config"]["Env"] if e.startswith("APP_VERSION=")] for version, result in built.items()}
{
    "different image IDs": built["v1"].image_id != built["v2"].image_id,
    "same layers": built["v1"].image.attrs["RootFS"]["Layers"] == built["v2"].image.attrs["RootFS"]["Layers"],
    "config": config_env,
}

# %% [markdown]
# ## 3. ECR: an immutable repository, a lifecycle policy, a push (notes §3)
#
# The repository for the app's releases has **immutable tags** (notebook 03, section 7): once
# pushed, `v1` names the same image for ever, and ECR refuses a second push of `v1`
# (`ImageTagAlreadyExistsException`), even of the very same image. A new version gets a new tag,
# which is how this notebook rolls out v2.
#
# An immutable repository keeps every release it is given, so it grows for ever unless a
# **lifecycle policy** deletes what nobody will run again (notebook 03, section 8). Ours has two
# rules: **untagged** images (a build pushed by digest, or whatever lost its tags) go **7 days**
# after their push, however many there are; of the **releases** (tags starting with `v`), the
# **5 newest** stay, however old, and older ones go. Nothing else is touched. ECR applies the
# rules in `rulePriority` order, lowest first.
#
# ```
# aws ecr create-repository --repository-name cap-app --image-tag-mutability IMMUTABLE
# aws ecr put-lifecycle-policy --repository-name cap-app --lifecycle-policy-text file://policy.json
# aws ecr get-login-password | docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com
# docker tag cap-app:v1 <repo_uri>:v1 && docker push <repo_uri>:v1     (and the same for v2)
# ```

# %%
repository = ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")["repository"]
repo_uri = repository["repositoryUri"]
policy = {"rules": [
    {"rulePriority": 1, "description": "untagged images go 7 days after their push",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "keep the 5 newest releases",
     "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 5},
     "action": {"type": "expire"}},
]}
ecr.put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=json.dumps(policy))
ecr_tools.check_policy(ecr.get_lifecycle_policy(repositoryName=REPOSITORY)["lifecyclePolicyText"])

# %% [markdown]
# What would the rules delete once the repository has a history? The lab's lifecycle preview
# evaluates them (`ecslab.ecr_lifecycle.evaluate`, ECR's rules as its documentation states them)
# on a made-up year: nine releases, one every 40 days, and three untagged images.

# %%
now = datetime.now(UTC)
year = [ImageRecord(f"sha256:{n:064x}", [f"v{n}"], now - timedelta(days=400 - 40 * n)) for n in range(1, 10)]
year += [ImageRecord(f"sha256:{n:064x}", [], now - timedelta(days=days)) for n, days in ((101, 30), (102, 10), (103, 3))]
gone = {verdict.image.digest for verdict in evaluate(json.dumps(policy), year, now).expired}
{fate: [", ".join(i.tags) or f"untagged, {(now - i.pushed_at).days} days old" for i in year if (i.digest in gone) == expires]
 for fate, expires in (("expires", True), ("stays", False))}

# %% [markdown]
# The push of both versions:

# %% tags=["nbval-ignore-output"]
login = ecr_tools.get_login(ecr)
pushes = {version: ecr_tools.push_image(lab.docker, f"{REPOSITORY}:{version}", repo_uri, version, login) for version in ("v1", "v2")}

# %% [markdown]
# A second push of `v1`, the very same image, is refused; ECR's words:

# %%
try:
    ecr_tools.push_image(lab.docker, f"{REPOSITORY}:v1", repo_uri, "v1", login, show_progress=False)
    refused = None
except ecr_tools.EcrError as error:
    refused = str(error).split("\nHint:")[0]
refused

# %% [markdown]
# What ECR holds now. The push of v2 uploaded no layer: the repository had them all from v1, so
# only the new config and manifest travelled. Each version's **digest** is what the task
# definitions below name: `cap-app@sha256:...` is these bits and no others, wherever the image
# is copied to, and the lifecycle preview of the repository as it is expires nothing yet.

# %%
details = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
digests = {tag: d["imageDigest"] for d in details for tag in d["imageTags"]}
{
    "tags in ECR": sorted(digests),
    "digests are the pushes' digests": all(digests[version] == push.digest for version, push in pushes.items()),
    "layers the v2 push uploaded": len(pushes["v2"].uploaded),
    "tag mutability": repository["imageTagMutability"],
    "the lifecycle preview now expires": len(ecr_tools.lifecycle_preview(ecr, REPOSITORY)),
}

# %% [markdown]
# ## 4. Two roles (notes §9)
#
# A task needs two roles (notebook 07, section 2):
#
# - the **execution role**, for ECS itself before and around the container: pull the image from
#   ECR, write the logs to CloudWatch. AWS's managed policy `AmazonECSTaskExecutionRolePolicy` is
#   made for it, and `security.ensure_execution_role` makes it as the console does;
# - the **task role**, for the app inside. Least privilege: exactly what the app calls, nothing
#   more. Our sample app calls no AWS API today. Its next version reads its settings from one S3
#   prefix, so its role allows `s3:GetObject` on `cap-app-settings/settings/*` and nothing else. (An
#   app that calls no AWS API at all needs no task role: leave `taskRoleArn` out.)

# %%
execution_role_arn = security.ensure_execution_role(iam, EXECUTION_ROLE)
settings_policy = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadSettings", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SETTINGS_BUCKET}/settings/*"}],
}
task_role_arn = security.ensure_task_role(iam, TASK_ROLE, settings_policy, policy_name="read-settings")
[execution_role_arn, task_role_arn]

# %% [markdown]
# Who may do what: the same six requests asked of each role, decided by IAM's rules from the
# roles' policies (`security.decision_table`, notebook 07, section 4). Each role can do its job
# and nothing of the other's.

# %%
requests = [
    ("ecr:GetAuthorizationToken", "*"),
    ("ecr:BatchGetImage", f"arn:aws:ecr:{lab.region}:{lab.account_id}:repository/{REPOSITORY}"),
    ("logs:PutLogEvents", f"arn:aws:logs:{lab.region}:{lab.account_id}:log-group:{LOG_GROUP}:log-stream:{FAMILY}/web/TASK_ID"),
    ("s3:GetObject", f"arn:aws:s3:::{SETTINGS_BUCKET}/settings/app.json"),
    ("s3:PutObject", f"arn:aws:s3:::{SETTINGS_BUCKET}/settings/app.json"),
    ("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/settings/app.json"),
]
security.decision_table(iam, EXECUTION_ROLE, requests)

# %%
security.decision_table(iam, TASK_ROLE, requests)

# %% [markdown]
# ## 5. The network: security groups, load balancer, target group, listener (notes §8, §9)
#
# The classic pair of security groups, written rule by rule this time (notebooks 06 and 07 had
# `network.create_web_security_groups` make them): `cap-web-alb` admits TCP 80 from anywhere
# (`0.0.0.0/0`) and goes on the load balancer; `cap-web-tasks` admits TCP 8080 from members of
# `cap-web-alb` only, a rule that names the *group* (`UserIdGroupPairs`), not an address range,
# and goes on the tasks, so nobody reaches a task except through the load balancer. A new group
# admits nothing in and allows all traffic out; we add only inbound rules. The lab enforces both
# groups, as AWS does.
#
# ```
# aws ec2 create-security-group --group-name cap-web-alb --description "..." --vpc-id <vpc_id>
# aws ec2 authorize-security-group-ingress --group-id <alb_sg> --protocol tcp --port 80 --cidr 0.0.0.0/0
# aws ec2 create-security-group --group-name cap-web-tasks --description "..." --vpc-id <vpc_id>
# aws ec2 authorize-security-group-ingress --group-id <task_sg> --protocol tcp --port 8080 --source-group <alb_sg>
# ```

# %%
alb_sg = ec2.create_security_group(GroupName=f"{SG_PREFIX}-alb", Description="cap-app load balancer: HTTP 80 from anywhere", VpcId=vpc_id)["GroupId"]
task_sg = ec2.create_security_group(GroupName=f"{SG_PREFIX}-tasks", Description="cap-app tasks: 8080 from the load balancer only", VpcId=vpc_id)["GroupId"]
ec2.authorize_security_group_ingress(
    GroupId=alb_sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the internet"}]}])
ec2.authorize_security_group_ingress(
    GroupId=task_sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": alb_sg, "Description": "the load balancer"}]}])
group_names = {alb_sg: f"{SG_PREFIX}-alb", task_sg: f"{SG_PREFIX}-tasks"}
{group_names[group_id]: {"in": [f"{rule.ports} from {group_names.get(rule.source, rule.source)}" for rule in network.security_group(ec2, group_id).ingress],
                         "out": [f"{rule.ports} to {rule.source}" for rule in network.security_group(ec2, group_id).egress]}
 for group_id in (alb_sg, task_sg)}

# %% [markdown]
# The load balancer goes in two subnets of the default VPC, in two Availability Zones: the least
# AWS accepts, and on AWS every zone you add is one more node (and one more public IPv4 address
# to pay for, section 11). The tasks will go in the same two subnets: an ALB sends traffic only to
# targets in the zones it is enabled in.

# %%
by_zone = sorted(ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"], key=lambda subnet: subnet["AvailabilityZone"])
two_subnets = [subnet["SubnetId"] for subnet in by_zone[:2]]
[subnet["AvailabilityZone"] for subnet in by_zone[:2]]

# %% [markdown]
# The load balancer in its security group, the target group with notebook 06's quick health
# checks (`GET /health` every 5 s, healthy after 2 passes; a short deregistration delay, since our
# requests take milliseconds), and the listener: HTTP on port 80, forward everything.

# %%
alb = elbv2.create_load_balancer(Name=ALB_NAME, Subnets=two_subnets, SecurityGroups=[alb_sg], Type="application", Scheme="internet-facing")["LoadBalancers"][0]
alb_arn = alb["LoadBalancerArn"]
elbv2.get_waiter("load_balancer_available").wait(LoadBalancerArns=[alb_arn], WaiterConfig={"Delay": 1, "MaxAttempts": 600})
tg_arn = elbv2.create_target_group(
    Name=TG_NAME, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip", HealthCheckPath="/health",
    HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2, UnhealthyThresholdCount=2,
)["TargetGroups"][0]["TargetGroupArn"]
elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
listener_arn = elbv2.create_listener(
    LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
)["Listeners"][0]["ListenerArn"]
url = elb_tools.listener_url(lab, alb_arn)
url

# %% [markdown]
# On AWS, `url` is `http://` and the ALB's DNS name; in the lab, a real proxy on 127.0.0.1 that
# behaves like the listener (notebook 06).
#
# ## 6. ECS: cluster, task definition, service (notes §4 to §6)
#
# The cluster, and a log group with a retention (CloudWatch keeps logs forever otherwise), which
# the `awslogs` driver writes to (notebook 08).

# %%
ecs.create_cluster(clusterName=CLUSTER)
logs.create_log_group(logGroupName=LOG_GROUP)
logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)
[(g["logGroupName"], g["retentionInDays"]) for g in logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]]

# %% [markdown]
# One task definition per version: the image **by its digest** (`REPO_URI@sha256:...`, which ECS
# accepts wherever it accepts `REPO_URI:TAG`), a quarter vCPU and 512 MiB (Fargate's smallest
# size), both roles, and the log configuration. The tag cannot move in our repository, but the
# digest says more: the revision names these exact bits, in this repository or any copy of it,
# and `describe_task_definition` alone tells which build runs. `app_definition` writes it for an
# image (it is `ecs_tools.task_definition` of notebook 05 plus two fields).

# %%
def app_definition(image_uri):
    """The keyword arguments of register_task_definition for one version of the app."""
    definition = ecs_tools.task_definition(FAMILY, image_uri, cpu=256, memory=512, execution_role_arn=execution_role_arn)
    definition["taskRoleArn"] = task_role_arn
    definition["containerDefinitions"][0]["logConfiguration"] = monitoring.awslogs_configuration(LOG_GROUP, lab.region, prefix=FAMILY, create_group=False)
    return definition


task_def_v1_arn = ecs.register_task_definition(**app_definition(f"{repo_uri}@{digests['v1']}"))["taskDefinition"]["taskDefinitionArn"]
registered = ecs.describe_task_definition(taskDefinition=task_def_v1_arn)["taskDefinition"]
container = registered["containerDefinitions"][0]
{
    "image": container["image"].rsplit("/", 1)[-1],
    "cpu, memory": (registered["cpu"], registered["memory"]),
    "port": container["portMappings"][0]["containerPort"],
    "executionRoleArn": registered["executionRoleArn"],
    "taskRoleArn": registered["taskRoleArn"],
    "logs": container["logConfiguration"]["options"],
}

# %% [markdown]
# The service: three tasks on Fargate, in the ALB's two subnets and the `cap-web-tasks` group, each
# registered in the target group by ECS (`loadBalancers`). The deployment settings are the defaults
# (start the new tasks before stopping the old, `maximumPercent` 200, `minimumHealthyPercent` 100)
# plus the circuit breaker with rollback (notebook 06, section 7). We wait until all three tasks
# run and all three targets are healthy.

# %%
created_at = time.monotonic()
ecs.create_service(
    cluster=CLUSTER,
    serviceName=SERVICE,
    taskDefinition=task_def_v1_arn,
    desiredCount=DESIRED,
    launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": two_subnets, "securityGroups": [task_sg], "assignPublicIp": "ENABLED"}},
    loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
    deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100, "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
)
ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=[SERVICE], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
elbv2.get_waiter("target_in_service").wait(TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
service_up_seconds = time.monotonic() - created_at
service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
{"running": service["runningCount"], "desired": service["desiredCount"], "healthy targets": elb_tools.healthy_count(elb_tools.target_health(elbv2, tg_arn))}

# %% tags=["nbval-ignore-output"]
print(f"create_service → {DESIRED} tasks running and healthy behind the ALB: {service_up_seconds:.1f} s")

# %% [markdown]
# ## 7. Traffic through the listener (notes §6 step 7, §8)
#
# Thirty requests to the listener, one after the other. Each answer names the container that
# answered; the ALB takes the healthy targets in turn (round robin).

# %%
tasks = ecs_tools.service_tasks(ecs, CLUSTER, SERVICE)
task_names = {task["containers"][0]["runtimeId"][:12]: f"task {number}" for number, task in enumerate(tasks, 1)}
answers = [json.loads(urllib.request.urlopen(url, timeout=5).read()) for _ in range(30)]
{"answers per task": dict(sorted(Counter(task_names.get(a["hostname"], "another") for a in answers).items())), "versions": sorted({a["version"] for a in answers})}

# %% [markdown]
# What may reach what, from the security groups (`network.reachability`, notebook 07b): the
# internet reaches the listener, the ALB reaches each task on 8080.

# %%
vpc = network.describe_network(ec2, vpc_id)
alb_view = network.load_balancer_view(elbv2, alb)
paths = network.reachability(vpc, load_balancers=[alb_view], tasks=[network.task_view(ec2, task) for task in tasks])
Counter(f"{row['from'].replace(ALB_NAME, 'the ALB')} → {'a task' if row['to'].startswith('task ') else row['to']}: {row['verdict']}" for row in paths)

# %% [markdown]
# ## 8. Roll out v2 under load (notes §8: zero-downtime deployments)
#
# The claim of the notes, measured: 20 requests a second through the listener, the whole time;
# `update_service` to a revision with the v2 image, found as a release pipeline finds it: the
# digest the tag `v2` points to, from `describe_images`; every 0.25 s a look at the deployments, the
# healthy targets and the tasks, until one deployment of v2 is COMPLETED with three healthy
# targets. With 3 tasks and the default percentages, ECS may run up to 6 tasks and must keep 3
# healthy:

# %%
bounds = elb_tools.deployment_bounds(DESIRED, minimum_healthy_percent=100, maximum_percent=200)
bounds

# %%
v2_digest = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "v2"}])["imageDetails"][0]["imageDigest"]
task_def_v2_arn = ecs.register_task_definition(**app_definition(f"{repo_uri}@{v2_digest}"))["taskDefinition"]["taskDefinitionArn"]
version_of = {task_def_v1_arn: "v1", task_def_v2_arn: "v2"}


def look():
    """One look at the rollout: (seconds on the traffic's clock, deployments, healthy targets, tasks ECS runs or starts)."""
    described = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    deployments = tuple(f"{d['status']} {version_of.get(d['taskDefinition'], '?')} {d['rolloutState']}" for d in described["deployments"])
    running = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
    return traffic.elapsed(), deployments, elb_tools.healthy_count(elb_tools.target_health(elbv2, tg_arn)), len(running)


traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=4)
traffic.start()
time.sleep(2)
ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=task_def_v2_arn)
looks = [look()]
while not (looks[-1][1] == ("PRIMARY v2 COMPLETED",) and looks[-1][2] == DESIRED):
    if looks[-1][0] - looks[0][0] > 120:
        traffic.stop()
        raise TimeoutError(f"the rollout is not done after 120 s: {looks[-1]}")
    time.sleep(0.25)
    looks.append(look())
time.sleep(2)
traffic.stop()
summary = traffic.summary()
last_second = traffic.between(since=traffic.responses[-1].at - 1)
{
    "requests that failed": summary["failed"],
    "versions that answered": sorted(summary["by_version"]),
    "versions in the last second": sorted({r.version for r in last_second}),
    "fewest healthy targets": min(healthy for _, _, healthy, _ in looks),
    "most tasks at once": max(count for *_, count in looks),
    "within the bounds": min(h for _, _, h, _ in looks) >= bounds["at_least_healthy"] and max(c for *_, c in looks) <= bounds["at_most_running"],
}

# %% [markdown]
# This run's numbers (they differ a little on every run):

# %% tags=["nbval-ignore-output"]
rollout_seconds = looks[-1][0] - looks[0][0]
print(f"update_service → v2 only: {rollout_seconds:.1f} s; {summary['requests']} requests, {summary['failed']} failed; "
      f"answers v1/v2: {summary['by_version']}; median {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms")

# %%
fig, ax = plt.subplots(figsize=(9, 3))
traffic.plot_timeline(ax)
for label, at in {"update_service": looks[0][0], "COMPLETED": looks[-1][0]}.items():
    ax.axvline(at, color="black", linestyle="--", linewidth=1)
    ax.text(at, 1.02, label, fontsize=8, transform=ax.get_xaxis_transform())
ax.set_title("v1 → v2 under 20 requests/s through the ALB: responses by version (a failure would be red)", fontsize=10, pad=14)
fig.tight_layout()
plt.show()

# %% [markdown]
# No request failed, and none had to be retried: the new tasks got traffic only once their health
# checks passed, the old ones left the target group before ECS stopped them (finishing their
# requests while draining), and ECS never went below three healthy tasks.
#
# ## 9. Logs, a CPU metric and an alarm (notes §10)
#
# **Logs.** Each task wrote to its own stream in `/ecs/cap-app`, the stopped v1 tasks included
# (logs outlive tasks). The app logs one line per request; the ALB's health checks ask for
# `/health`, so the lines for `GET /` are our requests, and every one of them should be there:
# the 30 of section 7 and those of the rollout.

# %%
sent = len(answers) + summary["requests"]


def request_lines():
    return monitoring.search_logs(logs, LOG_GROUP, '"GET / HTTP"', minutes=30)


deadline = time.monotonic() + 15  # the last lines may still be on their way
while len(request_lines()) < sent and time.monotonic() < deadline:
    time.sleep(0.5)
found = request_lines()
streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]]
running_now = ecs_tools.service_tasks(ecs, CLUSTER, SERVICE)
{
    "streams (one per task, v1's and v2's)": len(streams),
    "every running task has its stream": all(f"{FAMILY}/web/{t['taskArn'].split('/')[-1]}" in streams for t in running_now),
    "request lines in the logs = requests sent": len(found) == sent,
    "lines by version": sorted({e["message"].split(" ")[2] for e in found}),
}

# %% [markdown]
# One of v2's lines, as the app wrote it (its date and time left out):

# %%
next(e["message"] for e in found if " v2 " in e["message"]).split(" ", 2)[2]

# %% [markdown]
# **A metric.** ECS publishes the service's `CPUUtilization` in `AWS/ECS` (every 10 s in the lab,
# every minute on AWS), so the code takes its period from the target, as notebook 08 did: a
# 10-second period on AWS would find periods without data. Twenty small requests a second barely
# touch a quarter of a vCPU:

# %%
PERIOD = 10 if lab.is_local else 60  # seconds: the lab's publishing period, or AWS/ECS's minute


def cpu():
    return monitoring.metric_series(cloudwatch, "AWS/ECS", "CPUUtilization", monitoring.service_dimensions(CLUSTER, SERVICE), "Average", PERIOD, since=run_started)[1]


deadline = time.monotonic() + 30
while len(cpu()) < 2 and time.monotonic() < deadline:
    time.sleep(1)
{"datapoints since this run began, at least 2": len(cpu()) >= 2, "highest average CPU below 50%": max(cpu()) < 50}

# %% [markdown]
# Notebook 08's chart of a metric: pick the metric, the statistic and the period, and it asks
# `get_metric_data` again. (The service is a minute old, so there are only a few datapoints.)

# %%
monitoring.metric_widget(cloudwatch, CLUSTER, SERVICE, since=run_started)

# %% [markdown]
# **An alarm** on that metric: ALARM when the average CPU of a period is above 70% (notebook 08,
# section 6, drove one to ALARM with load). A new alarm starts in INSUFFICIENT_DATA; at its first
# evaluation CloudWatch decides from the datapoints:

# %%
cloudwatch.put_metric_alarm(
    AlarmName=ALARM, AlarmDescription=f"{SERVICE} uses more than 70% of its CPU",
    Namespace="AWS/ECS", MetricName="CPUUtilization", Dimensions=monitoring.service_dimensions(CLUSTER, SERVICE),
    Statistic="Average", Period=PERIOD, EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=70.0,
    ComparisonOperator="GreaterThanThreshold", TreatMissingData="missing",
)
deadline = time.monotonic() + 30
alarm = cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
while alarm["StateValue"] == "INSUFFICIENT_DATA" and time.monotonic() < deadline:
    time.sleep(0.5)
    alarm = cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]
{"StateValue": alarm["StateValue"], "StateReason begins": alarm["StateReason"].split(":")[0]}

# %% [markdown]
# ## 10. What you built (notes §7, §11)
#
# The notes' architecture diagram, drawn from `describe_services` and `describe_tasks` now:

# %%
ecs_tools.architecture_diagram(ecs_tools.cluster_state(ecs, CLUSTER))
plt.show()

# %% [markdown]
# The network, drawn from the VPC, the load balancer and the tasks' network interfaces: green
# arrows are paths a security group allows (the other notebooks' load balancers and tasks are
# left out). The lab puts every task in the first subnet it is given, so the three tasks are
# stacked in one zone; ECS on AWS spreads a service's tasks over the zones of its subnets.

# %%
network.plot_network(network.describe_network(ec2, vpc_id), load_balancers=[alb_view], tasks=[network.task_view(ec2, task) for task in running_now])
plt.show()

# %% [markdown]
# And a checklist, each line asked of the live resources (nothing in it is typed in by hand):

# %%
def checklist():
    """(step, passed, evidence) for each part of the notes, read from AWS's answers now."""
    rows = []
    tags = sorted(tag for d in ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for tag in d.get("imageTags", []))
    mutability = ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["imageTagMutability"]
    rules = ecr_tools.check_policy(ecr.get_lifecycle_policy(repositoryName=REPOSITORY)["lifecyclePolicyText"])
    rows.append(("§3 ECR repository", tags == ["v1", "v2"] and mutability == "IMMUTABLE" and len(rules) == 2,
                 f"{REPOSITORY}: tags {', '.join(tags)}, {mutability}, {len(rules)} lifecycle rules"))
    described = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]
    image = definition["containerDefinitions"][0]["image"]
    rows.append(("§4-6 ECS service", described["status"] == "ACTIVE" and described["runningCount"] == DESIRED and len(described["deployments"]) == 1,
                 f"{described['runningCount']}/{described['desiredCount']} {described['launchType']} tasks, {len(described['deployments'])} deployment"))
    rows.append(("§6 image from ECR, by digest", image == f"{repo_uri}@{digests['v2']}", f"the service runs {image.rsplit('/', 1)[-1][:27]}… (v2)"))
    listener = elbv2.describe_listeners(LoadBalancerArn=alb_arn)["Listeners"][0]
    forwards = [a.get("TargetGroupArn") for a in listener["DefaultActions"] if a["Type"] == "forward"] == [tg_arn]
    healthy = elb_tools.healthy_count(elb_tools.target_health(elbv2, tg_arn))
    rows.append(("§8 load balancer", listener["Port"] == 80 and forwards and healthy == DESIRED, f"HTTP :{listener['Port']} → {TG_NAME}, {healthy} healthy targets"))
    rows.append(("§8 zero-downtime rollout", summary["failed"] == 0 and traffic.between(since=traffic.responses[-1].at - 1)[-1].version == "v2",
                 f"{summary['failed']} failed requests during v1 → v2"))
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=EXECUTION_ROLE)["AttachedPolicies"]]
    rows.append(("§9 execution role", definition["executionRoleArn"] == execution_role_arn and "AmazonECSTaskExecutionRolePolicy" in attached,
                 f"{EXECUTION_ROLE} with AmazonECSTaskExecutionRolePolicy"))
    allowed = sorted({a for p in security.role_policies(iam, TASK_ROLE) for s in p.statements if s.effect == "Allow" for a in s.actions})
    rows.append(("§9 task role, least privilege", definition["taskRoleArn"] == task_role_arn and allowed == ["s3:GetObject"],
                 f"{TASK_ROLE} may only {', '.join(allowed)}"))
    groups = [network.security_group(ec2, g) for g in network.task_security_groups(ecs, CLUSTER, SERVICE)]
    from_alb, _ = network.ingress_allows(groups, 8080, source_group_ids=[alb_sg])
    from_anywhere, _ = network.ingress_allows(groups, 8080, source_cidr="0.0.0.0/0")
    rows.append(("§9 security groups", from_alb and not from_anywhere,
                 f"tasks in {', '.join(g.name for g in groups)}: 8080 from the ALB's group {'only' if not from_anywhere else 'and from anywhere'}"))
    retention = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"][0].get("retentionInDays")
    streams_now = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]}
    with_stream = sum(f"{FAMILY}/web/{t['taskArn'].split('/')[-1]}" in streams_now for t in ecs_tools.service_tasks(ecs, CLUSTER, SERVICE))
    rows.append(("§10 CloudWatch Logs", with_stream == DESIRED, f"{LOG_GROUP}, {retention} days, a stream for each of the {with_stream} running tasks"))
    state = cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"]
    rows.append(("§10 metrics and an alarm", state == "OK", f"{ALARM} on CPUUtilization: {state}"))
    return rows


rows = checklist()
markdown = "| | step | evidence |\n|---|---|---|\n" + "\n".join(f"| {'✅' if ok else '❌'} | {step} | {evidence} |" for step, ok, evidence in rows)
plain = "\n".join(f"{'ok ' if ok else 'NO '} {step:<30} {evidence}" for step, ok, evidence in rows)
display({"text/markdown": markdown, "text/plain": plain}, raw=True)

# %% [markdown]
# **When a step fails.** Each step of this notebook has its typical failure, and AWS names it in
# its own words. Pick what you see; the explorer says which step it points to, why, and where the
# course showed it:

# %%
SYMPTOMS = {
    "docker push: 'The repository with name ... does not exist in the registry'": (
        "§3 ECR repository", "the push went to a repository that was never created, or the URI has a typo",
        "create_repository first, then push to its repositoryUri", "03"),
    "docker push: 'tag invalid: The image tag 'v1' already exists ... the repository is immutable'": (
        "§3 ECR repository", "the repository's tags are IMMUTABLE and v1 is there already: ECR refuses the push, even of the same image",
        "push under a new tag (v3), or, for a repository whose tags may move, imageTagMutability='MUTABLE'", "03"),
    "register_task_definition: ClientException naming executionRoleArn": (
        "§9 execution role / §6 task definition", "a Fargate task that pulls from ECR or logs with awslogs needs an execution role",
        "executionRoleArn=security.ensure_execution_role(iam)", "05"),
    "task STOPPED: CannotPullContainerError": (
        "§6 ECS launches the task", "wrong image URI or tag, a repository policy that denies the execution role, or (AWS) no route from the subnet to ECR",
        "compare the image with describe_images; give the task a public IP, or a NAT gateway or VPC endpoints", "05, 07"),
    "task STOPPED: ResourceInitializationError ... logger": (
        "§10 logs", "the log group does not exist (and awslogs-create-group is not 'true'), or the execution role may not write logs",
        "create the log group first (section 6), or allow logs:CreateLogGroup", "08"),
    "targets unhealthy: Target.Timeout": (
        "§9 security groups", "the tasks' group does not admit the container port from the ALB's group, so health checks get no answer",
        "put the tasks in the group that admits 8080 from the ALB's group", "06, 07"),
    "targets unhealthy: Target.ResponseCodeMismatch": (
        "§8 target group", "the health check asks for a path the app does not serve (404)",
        "HealthCheckPath='/health'", "06"),
    "requests to the listener hang, then fail": (
        "§9 security groups", "the ALB's group does not admit the listener's port from 0.0.0.0/0 (or the ALB got the VPC's default group)",
        "SecurityGroups=[the group admitting port 80 from anywhere]", "07"),
    "the listener answers 503": (
        "§8 service behind the ALB", "no healthy target: the service has no loadBalancers, or its tasks are not healthy yet",
        "loadBalancers=[...] in create_service; wait with the target_in_service waiter", "06"),
    "the app gets AccessDenied from S3": (
        "§9 task role", "the task role's policy does not allow that action on that resource (AWS's message names the role session)",
        "add exactly the statement the app needs, nothing more", "07"),
    "a rollout ends on the old version: deployment FAILED, rolled back": (
        "§8 deployment", "the new revision's tasks failed to start or failed their health checks; the circuit breaker gave up",
        "read the stopped tasks' stoppedReason and the service's events", "06"),
    "the alarm stays INSUFFICIENT_DATA": (
        "§10 alarm", "no datapoint matches: a typo in the namespace, metric name or dimensions, or no task running",
        "compare with list_metrics; ClusterName and ServiceName both", "08"),
}


def symptom_explorer():
    """Pick a symptom; see the step it points to, why, the fix, and the notebook that showed it."""
    symptom = widgets.Dropdown(options=list(SYMPTOMS), description="you see", layout=widgets.Layout(width="95%"))
    answer = widgets.HTML()

    def show(_change=None):
        step, why, fix, where = SYMPTOMS[symptom.value]
        answer.value = f"<b>step:</b> {step}<br><b>why:</b> {why}<br><b>fix:</b> <code>{fix}</code><br><b>seen in:</b> notebook {where}"

    symptom.observe(show, names="value")
    show()
    return widgets.VBox([symptom, answer])


symptom_explorer()

# %% [markdown]
# ## 11. Running it on real AWS
#
# Every call above is a boto3 or Docker call that works against a real account. To run this
# notebook there:
#
# 1. Connect with `lab = ecslab.connect("aws", account="123456789012")` (your account's 12 digits,
#    or `ECSLAB_TARGET=aws` and `ECSLAB_AWS_ACCOUNT`), after `aws configure` or with `AWS_PROFILE`
#    set. ecslab refuses until you name the account the credentials belong to, so nobody spends in
#    the wrong one; then every client tags what it creates with `ecslab:course`, so that
#    `ecslab cleanup --dry-run` can list (and `ecslab cleanup` delete) all of it later. The clients
#    are the same, they just go to AWS's endpoints. `lab.docker` is still your machine's Docker, and
#    `get_login` + `push_image` log in to your account's registry,
#    `ACCOUNT.dkr.ecr.REGION.amazonaws.com`.
# 2. `elb_tools.listener_url` returns `http://` plus the ALB's DNS name (it resolves a minute or two
#    after `create_load_balancer`), and `TrafficGenerator` sends traffic there.
# 3. Expect minutes where the lab takes seconds: the ALB takes a few minutes to become `active`
#    (the `load_balancer_available` waiter above); tasks pull the image over the network; AWS's
#    default health checks are every 30 s, healthy after 5 (we chose 5 s and 2); the default
#    deregistration delay is 300 s (we chose 5); metrics come once a minute and alarms are
#    evaluated once a minute; the `awslogs` driver sends every 5 s. Give the waiters more attempts.
# 4. The tasks need a way to ECR and CloudWatch Logs: a public IP in a public subnet (as here,
#    `assignPublicIp=ENABLED`), or private subnets with a NAT gateway or VPC endpoints (notebook
#    07). Without one they stop with `CannotPullContainerError` (a timeout).
# 5. It costs money from the first minute. `aws_target.estimate_hourly_cost` prices a setup with
#    AWS's published on-demand prices for us-east-1 (Linux/x86, free tier ignored); each price has
#    its source and the date it was taken (below). They are **estimates**: prices change and other
#    regions differ, so check the pricing pages before you decide anything, and set a billing
#    alarm. What this notebook's setup would cost, from the resources it made (task count and size,
#    the ALB's zones, the public addresses, the alarm, the images in ECR):

# %%
from ecslab import aws_target

described = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
definition = ecs.describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]
alb_zones = len(elbv2.describe_load_balancers(Names=[ALB_NAME])["LoadBalancers"][0]["AvailabilityZones"])
task_ips = described["networkConfiguration"]["awsvpcConfiguration"].get("assignPublicIp") == "ENABLED"
alarms = len(cloudwatch.describe_alarms(AlarmNamePrefix="cap-")["MetricAlarms"])
image_gb = round(max(d["imageSizeInBytes"] for d in ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]) / 1e9, 2)  # v1 and v2 share their layers


def estimate(tasks, size, zones, public_ip_per_task, lcus=1.0):
    """aws_target.estimate_hourly_cost for this notebook's setup with other choices: one ALB, its alarm, its images."""
    cpu, memory = size
    return aws_target.estimate_hourly_cost(
        tasks=tasks, cpu=cpu, memory=memory, load_balancers=1, load_balancer_zones=zones, lcus_per_load_balancer=lcus,
        public_ips=zones + (tasks if public_ip_per_task else 0), alarms=alarms, ecr_gb=image_gb,
    )


as_built = estimate(described["runningCount"], (int(definition["cpu"]), int(definition["memory"])), alb_zones, task_ips)
print(as_built)

# %% [markdown]
# The prices behind it, with their sources and dates:

# %%
{name: f"${price.usd} {price.unit} ({price.source}, taken {price.as_of.split(' ')[0]})" for name, price in aws_target.PRICES.items() if name != "secret_month"}

# %% [markdown]
# Fargate is the biggest item, then the ALB's hour and LCU, then the public IPv4 addresses: one
# per ALB node (one per Availability Zone) and one per task. Tasks in private subnets need no
# public address, but a NAT gateway (about $0.045 an hour plus $0.045 per GB it carries, us-east-1)
# or VPC endpoints to reach ECR, which cost more than three addresses. Log ingestion is left out:
# at a line per request, about 60 bytes, a million requests make some 0.06 GB, 3 cents.
#
# Try other choices: the controls start at this notebook's values, and the table is the same
# estimate for what you pick.

# %%
def cost_estimator():
    """Controls for the setup's choices; shows estimate() for them, per hour, day and month."""
    tasks = widgets.IntSlider(value=described["runningCount"], min=1, max=20, description="tasks")
    size = widgets.Dropdown(options=[("0.25 vCPU, 0.5 GB", (256, 512)), ("0.5 vCPU, 1 GB", (512, 1024)), ("1 vCPU, 2 GB", (1024, 2048)),
                                     ("2 vCPU, 4 GB", (2048, 4096)), ("4 vCPU, 8 GB", (4096, 8192))],
                            value=(int(definition["cpu"]), int(definition["memory"])), description="task size")
    zones = widgets.IntSlider(value=alb_zones, min=2, max=6, description="ALB zones")
    lcus = widgets.FloatSlider(value=1.0, min=0.0, max=20.0, step=0.5, description="LCUs")
    public = widgets.Checkbox(value=task_ips, description="a public IP per task")
    table = widgets.HTML()

    def show(_change=None):
        table.value = estimate(tasks.value, size.value, zones.value, public.value, lcus.value)._repr_html_()

    for control in (tasks, size, zones, lcus, public):
        control.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([tasks, size]), widgets.HBox([zones, lcus]), public, table])


cost_estimator()

# %% [markdown]
# A few choices side by side, a day each:

# %%
size = (int(definition["cpu"]), int(definition["memory"]))
{
    "as built": f"${as_built.per_day:.2f}",
    "twice the tasks": f"${estimate(2 * described['runningCount'], size, alb_zones, task_ips).per_day:.2f}",
    "tasks twice as big": f"${estimate(described['runningCount'], (2 * size[0], 2 * size[1]), alb_zones, task_ips).per_day:.2f}",
    "the ALB in all 6 zones": f"${estimate(described['runningCount'], size, 6, task_ips).per_day:.2f}",
    "no public IP on the tasks (a NAT gateway not counted)": f"${estimate(described['runningCount'], size, alb_zones, False).per_day:.2f}",
}

# %% [markdown]
# **Cleanup order on AWS**, which `clean_up` follows (each step waits for what the next one needs
# gone; AWS answers `DependencyViolation` or `ResourceInUse` otherwise; `aws_target.CLEANUP_ORDER`
# is the same order for everything the course makes):
#
# 1. the alarm (`aws cloudwatch delete-alarms`);
# 2. the service, forced (`aws ecs delete-service --force`), then wait until its tasks are
#    STOPPED (`aws ecs wait tasks-stopped`), then the cluster (`aws ecs delete-cluster`);
# 3. the listener and the load balancer (`aws elbv2 delete-listener`, `delete-load-balancer`),
#    then the target group (a target group in use cannot be deleted);
# 4. the security groups, the tasks' first (its rule names the ALB's); on AWS the ALB's network
#    interfaces go a minute or two after the ALB, so `DependencyViolation` there means: wait, retry;
# 5. the log group, the task role (its policies first), the task definitions (deregistered), and
#    the repository (`aws ecr delete-repository --force`, images included).
#
# What stays on AWS at no cost: the execution role, and the inactive task definitions.
#
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "On AWS, a service's tasks run, but every target in its target group stays unhealthy with Target.Timeout. What is the likely cause?",
        (
            "The image is missing from ECR",
            "The tasks' security group does not admit the container port from the ALB's security group",
            "A CloudWatch alarm on the service is in INSUFFICIENT_DATA",
        ),
        1,
        "A missing image stops the task (CannotPullContainerError) before it runs; a timeout means the ALB's health checks get no answer, "
        "which is what a security group that does not admit the ALB looks like (notebook 07b).",
        why_not=(
            "Then the tasks would not run at all: they stop with CannotPullContainerError before any health check.",
            "",
            "Alarms only watch metrics; they never block traffic to a target.",
        ),
    ),
    Question(
        "A pipeline pushes myapp:1.4.0 to an ECR repository with IMMUTABLE tags. The job is re-run by mistake and pushes myapp:1.4.0 "
        "again, the very same image. What does ECR do?",
        (
            "It accepts the push: the digest is the same, so nothing changes",
            "It moves the tag to the new push and leaves the first image untagged",
            "It refuses the push (ImageTagAlreadyExistsException); 1.4.0 keeps naming the first push",
        ),
        2,
        "Tag immutability refuses any push of a tag the repository already has, whatever the digest (section 3 saw it). A re-run of a "
        "release job fails at the push: tag each build uniquely, or skip the push when the tag exists.",
        why_not=(
            "ECR does not compare digests here: the tag exists, so the push is refused even for identical bits.",
            "That is what a MUTABLE repository does; moving a tag is exactly what immutability forbids.",
            "",
        ),
    ),
    Question(
        "Which role does ECS use to pull the image from ECR?",
        ("The task role", "The execution role", "Whichever role the ALB has"),
        1,
        "The execution role is for ECS itself (pull, logs, secrets); the task role is for the app's own AWS calls.",
        why_not=(
            "The task role is for the app's own AWS calls, once the container runs; the image is pulled before that.",
            "",
            "A load balancer has no IAM role in this picture; it never touches the image.",
        ),
    ),
    Question(
        "A service of 3 tasks behind an ALB rolls from v1 to v2 (minimumHealthyPercent 100, maximumPercent 200) under steady traffic, and no "
        "request fails. Why?",
        (
            "The ALB retried failed requests on other tasks",
            "New tasks got traffic only once healthy, old ones drained before stopping, and ECS kept 3 healthy tasks throughout",
            "ECS stopped all v1 tasks and started v2 so fast that nobody noticed",
        ),
        1,
        "Health checks, deregistration with draining, and minimumHealthyPercent 100 together make the rollout invisible to clients "
        "(section 8 measured it).",
        why_not=(
            "An ALB does not retry a request a target accepted; nothing failed because no request went to a task that could not answer.",
            "",
            "minimumHealthyPercent 100 forbids stopping the v1 tasks before v2 tasks are healthy; stopping them all would fail requests.",
        ),
    ),
    Question(
        "You are done with the setup on AWS. In which order do you delete?",
        (
            "Repository, then cluster, then load balancer",
            "Service (and wait for its tasks), cluster, load balancer, target group, security groups, then repository and roles",
            "Security groups first, so nothing can reach the tasks",
        ),
        1,
        "A resource goes after what uses it: tasks use the security groups and the target group; the listener uses the target group. "
        "AWS answers DependencyViolation or ResourceInUse otherwise.",
        why_not=(
            "A cluster with an active service cannot be deleted, and the load balancer's listener still uses the target group.",
            "",
            "A security group in use by tasks' network interfaces or the load balancer cannot be deleted: DependencyViolation.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# The notes' summary table, with where this course made each line happen:
#
# | | ECR | ECS |
# |---|---|---|
# | purpose | store and manage Docker images: `cap-app` holds v1 and v2 (section 3) | run and orchestrate containers: 3 tasks kept running, replaced v1 → v2 (sections 6, 8) |
# | analogy | Docker Hub, private: only IAM principals allowed by policies push and pull (notebooks 03, 07) | Docker Compose, in the cloud: a task definition is the compose file's service, a service keeps N copies (notebooks 04, 05) |
# | main components | repositories, images, tags (immutable here), digests, lifecycle policies | clusters, task definitions, tasks, services |
# | integration | works with ECS (and EKS): the execution role pulled v1 and v2, each by its digest | pulls images from ECR; registers tasks with the ALB; logs and metrics to CloudWatch |
# | key benefit | secure image storage: scanning, lifecycle rules, who-may-pull policies | scaling and healing container management: a rollout with zero failed requests, measured |
#
# - One app went through every step of the notes: **build** (v1, v2), **push** to an ECR
#   repository whose tags never move (a second push of `v1` was refused) and whose **lifecycle
#   policy** deletes untagged images after 7 days and all but the 5 newest releases, **roles**
#   (execution role with AWS's policy; a task role with one permission), **security groups**
#   written rule by rule (80 from anywhere to the ALB; 8080 from the ALB's group only to the
#   tasks), **ALB** (load balancer, target group, listener), **cluster**, **task definitions**
#   naming each version by its digest, **service** of three Fargate tasks, **traffic** through
#   the listener.
# - A rolling deployment to v2, pinned by its digest, under 20 requests a second lost no request:
#   health checks, draining and `minimumHealthyPercent` did it, within the bounds `maximumPercent`
#   set.
# - CloudWatch had every request's log line, the service's CPU, and an alarm's verdict.
# - On AWS the same code runs with `ecslab.connect("aws")`; it takes minutes instead of seconds,
#   and this setup costs a couple of dollars a day there (an estimate from published prices),
#   Fargate first, then the ALB and its public addresses. Delete in order: what uses a resource
#   goes before it.
#
# > **ECR** is your image **warehouse**; **ECS** is your image **factory manager**. Together they
# > store, run and scale your containers, and AWS runs the machines.
#
# **Exercise:** `exercises/09-capstone.ipynb`: write the two security groups yourself with boto3,
# an immutable release repository with its lifecycle policy (and push v1 and v2 to it), and a
# rollout to a digest that loses no request.
#
# ## Cleanup
#
# Everything this notebook made, in the order above, then the local images. Run the notebook again
# from the top and it starts from the same place. On AWS, where the ALB's network interfaces linger
# a minute or two after it, `aws_target.cleanup` deletes whatever the course tagged as yours
# (this notebook's resources and any an earlier notebook left; never another learner's in a
# shared account) in that order, and retries the security groups while the ALB's interfaces go;
# something in the way that the course did not make is named at once, not waited for. Its dry
# run, the default, only lists them.

# %%
if not lab.is_local:
    aws_target.cleanup(lab, dry_run=False)
clean_up()
