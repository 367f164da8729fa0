# %% [markdown]
# # 07b · Security, part 2: what can reach what, and secrets
#
# Notebook 07 decided *who may do what* with IAM. This one does the other half of the lecture
# notes' section 9: **private subnets** keep containers off the internet, **security groups** are
# the firewall around every load balancer and task, and **secrets** (a database password) reach
# the app without being written into the image, the task definition or a notebook. It ends with
# the mistakes everyone makes once, in AWS's own words.
#
# **Goals.** By the end of this notebook you will
# - draw a VPC's public and private subnets and its security groups, and say what can reach what;
# - predict, in a small explorer, whether a security group admits a connection, and name the rule;
# - have watched the lab enforce those groups: the load balancer cut off from the internet, then
#   from its tasks (`Target.Timeout`);
# - have injected a secret into a running container, visible to the app and never printed;
# - recognise five mistakes by the words AWS uses for them.
#
# **Time:** 40–50 minutes if VPCs are new to you (an estimate of reading and trying the explorer;
# no learner has been timed yet). The cells alone run in one to two minutes (54 s to 2 minutes,
# measured on a shared 2-core VM in December 2026: the busier the machine, the longer). Section 4 (AWS's error
# messages) is optional. You need nothing from notebook 07 but what it taught: the setup cell
# makes the app, its image and its two roles again with ecslab's helpers.
#
# | notes, section 9 | here |
# |---|---|
# | private subnets | section 2 |
# | security groups | section 2 |
# | (secrets) | section 3 |
# | (what goes wrong) | section 4 |

# %% [markdown]
# ## 1. Setup
#
# Names of this notebook's own: repository `netsec-demo`, cluster `netsec-cluster`, bucket
# `netsec-demo-reports`, roles `netsec-demo-...`, secret `netsec-demo/db-password`, VPC, load
# balancer and security groups `netsec-demo...`. The first cell removes whatever an earlier run
# left (`ecslab.cleanup.remove`: in the lab by name; on AWS only what the course tagged as yours).
#
# Then it makes what notebook 07 made by hand, with ecslab's one-call helpers: the AWS app (a web
# server with boto3 inside) pushed to ECR, its **task role** (read the reports bucket, never its
# `private/` folder; `security.ensure_task_role`), its **execution role** (AWS's managed policy;
# `security.ensure_execution_role`), the bucket with two reports, and a cluster.

# %%
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.request

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import cleanup, iam_policy, images, network, security

lab = ecslab.connect()
iam, ec2, elbv2 = lab.iam, lab.ec2, lab.elbv2
s3 = lab.client("s3")
secretsmanager = lab.client("secretsmanager")
REPOSITORY = FAMILY = "netsec-demo"
CLUSTER = "netsec-cluster"
BUCKET = "netsec-demo-reports"
TASK_ROLE = "netsec-demo-task"
EXECUTION_ROLE = "netsec-demo-execution"
EC2_ROLE = "netsec-demo-ec2"  # section 4
SECRET_NAME = "netsec-demo/db-password"
SERVICE = "reports"
VPC_NAME = ALB_NAME = "netsec-demo"  # section 2: the VPC, its security groups (netsec-demo-alb, -tasks), the ALB
TG_NAME = "netsec-demo-tg"

MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    clusters=[CLUSTER], load_balancers=[ALB_NAME], target_groups=[TG_NAME], vpcs=[VPC_NAME],
    roles=[TASK_ROLE, EXECUTION_ROLE, EC2_ROLE], secrets=[SECRET_NAME], buckets=[BUCKET], repositories=[REPOSITORY],
)
cleanup.remove(lab, MADE_HERE)

# %% tags=["nbval-ignore-output"]
image = images.build_aws_app(f"{REPOSITORY}:v1", client=lab.docker, config=lab.config, show_progress=False)
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
ecr_tools.push_image(lab.docker, image.tag, repo_uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
app_image = f"{repo_uri}:v1"

reports_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        {"Sid": "ListReports", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Sid": "NeverPrivate", "Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/private/*"},
    ],
}
task_role_arn = security.ensure_task_role(iam, TASK_ROLE, reports_policy, policy_name="read-reports")
execution_role_arn = security.ensure_execution_role(iam, EXECUTION_ROLE)
s3.create_bucket(Bucket=BUCKET)
s3.put_object(Bucket=BUCKET, Key="2026/q3.csv", Body=b"region,revenue\nnorth,120\nsouth,95\n")
s3.put_object(Bucket=BUCKET, Key="private/salaries.csv", Body=b"name,salary\nalice,1\nbob,2\n")
lab.ecs.create_cluster(clusterName=CLUSTER)
task_def_arn = lab.ecs.register_task_definition(
    **ecs_tools.task_definition(FAMILY, app_image, execution_role_arn=execution_role_arn) | {"taskRoleArn": task_role_arn}
)["taskDefinition"]["taskDefinitionArn"]

# %% [markdown]
# One more tool: `run_one` starts one task of a task definition in the default VPC (a public
# subnet, with a public IP) and returns it once it runs, or once it stopped trying.

# %%
default_vpc_id, default_subnet_ids = elb_tools.default_subnets(ec2)


def run_one(task_definition_arn):
    """run_task on Fargate in the default subnets; returns the task once RUNNING, or STOPPED if it fails to start.

    Its group admits TCP 8080 from anywhere, so that we can call the app at its public IP (notebook 04)."""
    groups = [network.public_task_security_group(ec2, default_vpc_id)]
    network_configuration = {"awsvpcConfiguration": {"subnets": default_subnet_ids, "securityGroups": groups, "assignPublicIp": "ENABLED"}}
    arn = lab.ecs.run_task(cluster=CLUSTER, taskDefinition=task_definition_arn, launchType="FARGATE", networkConfiguration=network_configuration)["tasks"][0]["taskArn"]
    deadline = time.monotonic() + 180  # a first pull on a busy machine can take a while
    while True:
        task = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
        if task["lastStatus"] in ("RUNNING", "STOPPED") or time.monotonic() > deadline:
            return task
        time.sleep(0.25)


{"execution role": execution_role_arn.split(":")[-1], "task role": task_role_arn.split(":")[-1], "image": app_image.split("/", 1)[1]}

# %% [markdown]
# ## 2. Networks: public and private subnets, security groups
#
# A VPC's subnets are **public** when their route table sends `0.0.0.0/0` to an internet
# gateway, **private** when it does not. The usual shape for a web service: the load balancer
# in public subnets, the tasks in private subnets with no public IP, reachable only through the
# load balancer. Tasks in private subnets still need to reach ECR, Secrets Manager and
# CloudWatch Logs: through a NAT gateway (in a public subnet) or VPC endpoints.
#
# **Security groups** are the firewall of each network interface: every Fargate task has its
# own. They have **inbound** rules (what may come in: protocol, port, and a CIDR or *another
# security group*; anything else is dropped) and **outbound** rules (where the interface may open
# connections). A new group has no inbound rule and one outbound rule that allows all traffic out;
# you may replace it with narrower ones (say, port 443 only). They are stateful: the answer to an
# allowed request goes back out, and the answer to an allowed outgoing request comes back in,
# whatever the rules of the other direction.
# The pattern: the ALB's group lets port 80 in from anywhere; the tasks' group lets port 8080 in
# **only from the ALB's group**.

# %%
vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": VPC_NAME}]}])["Vpc"]["VpcId"]
ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})  # names for the tasks' network interfaces
gateway_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
public_routes = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
ec2.create_route(RouteTableId=public_routes, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway_id)

subnet_names = {}
for name, cidr, zone in [("public-a", "10.20.0.0/24", "a"), ("public-b", "10.20.1.0/24", "b"),
                         ("private-a", "10.20.10.0/24", "a"), ("private-b", "10.20.11.0/24", "b")]:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=lab.region + zone)["Subnet"]["SubnetId"]
    subnet_names[subnet_id] = name
    if name.startswith("public"):
        ec2.associate_route_table(RouteTableId=public_routes, SubnetId=subnet_id)
public_subnets = [i for i, name in subnet_names.items() if name.startswith("public")]
private_subnets = [i for i, name in subnet_names.items() if name.startswith("private")]

vpc = network.describe_network(ec2, vpc_id)
[{"subnet": subnet_names[s.subnet_id], "zone": s.availability_zone, "cidr": s.cidr, "kind": s.kind,
  "route to the internet gateway": s.internet_gateway_id is not None} for s in vpc.subnets]

# %% [markdown]
# Public or private is decided by one route, nothing else: the private subnets use the VPC's
# main route table, which only knows the VPC itself (`10.20.0.0/16 → local`).
#
# Now the two security groups of the pattern (`network.create_web_security_groups` makes them;
# read its code: one `create_security_group` and one `authorize_security_group_ingress` each).

# %%
alb_group, task_group = network.create_web_security_groups(ec2, vpc_id, prefix=VPC_NAME)
vpc = network.describe_network(ec2, vpc_id)
group_names = {group.group_id: group.name for group in vpc.security_groups.values()}


def by_name(text):
    """Security group IDs change on every run; their names do not."""
    for group_id, name in group_names.items():
        text = text.replace(f"{group_id} ({name})", name).replace(group_id, name)
    return text


{group.name: [by_name(str(rule)) for rule in group.ingress] for group in vpc.security_groups.values()}

# %% [markdown]
# That is how `ecslab.network` reads them. EC2 itself stores each group's inbound rules as
# `IpPermissions`, the same shape `authorize_security_group_ingress` takes: a protocol, a port
# range, and the sources, either address ranges (`IpRanges`, each a `CidrIp`) or other security
# groups (`UserIdGroupPairs`, each a `GroupId`). Exercise 7b.1 asks you to write these two groups
# yourself, with `create_security_group` and `authorize_security_group_ingress`:

# %%
stored = ec2.describe_security_groups(GroupIds=[alb_group, task_group])["SecurityGroups"]
{group["GroupName"]: json.loads(by_name(json.dumps(group["IpPermissions"]))) for group in stored}

# %% [markdown]
# Those were the inbound rules. Each group also has outbound rules: neither helper nor we wrote
# any, so each has the one every new group gets, all traffic to anywhere (on AWS as in the lab).
# That is what lets a task pull its image and call AWS's APIs. To narrow it, add the rules you
# want with `authorize_security_group_egress` and remove that one with
# `revoke_security_group_egress`; the lab records outbound rules but does not enforce them.

# %%
{group.name: [f"{rule.ports} to {by_name(rule.source)}" for rule in group.egress] for group in vpc.security_groups.values()}

# %% [markdown]
# The `default` group, which every VPC has, admits everything from its own members; the other
# two admit exactly one port each. Who can reach what, as security groups decide it
# (`network.ingress_allows`: any inbound rule of any of the target's groups that admits the port
# from the source):
#
# ```
#   internet ──:80──► ┌──────────── public subnets ────────────┐
#                     │  ALB   [netsec-demo-alb: 80 from 0.0.0.0/0]
#                     └───────────────┬─────────────────────────┘
#                                     │ :8080 (from the ALB's group only)
#                     ┌───────────────▼──── private subnets ────┐
#                     │  task  task   [netsec-demo-tasks: 8080 from netsec-demo-alb]
#                     └─────────────────────────────────────────┘   no route to the internet
# ```

# %%
paths = [
    ("the internet → ALB, port 80", alb_group, 80, {"source_cidr": network.INTERNET}),
    ("the internet → ALB, port 8080", alb_group, 8080, {"source_cidr": network.INTERNET}),
    ("the internet → a task, port 8080", task_group, 8080, {"source_cidr": network.INTERNET}),
    ("ALB → a task, port 8080", task_group, 8080, {"source_group_ids": [alb_group]}),
    ("another machine in the VPC → a task, port 8080", task_group, 8080, {"source_cidr": "10.20.10.25/32", "source_group_ids": [vpc.default_group().group_id]}),
]
{path: by_name(network.ingress_allows(vpc.groups([target]), port, **source)[1]) for path, target, port, source in paths}

# %% [markdown]
# Try it: pick who connects, to what, and on which port; the explorer reads the groups' rules from
# EC2 and says whether they admit it, and which rule did. It starts on the internet reaching a task
# directly. Then try:
#
# - the internet to the load balancer on 80 (allowed), then on 443 (no rule for it: HTTPS needs its own);
# - the load balancer to a task on 8080 (allowed by the group rule), then on 80 (blocked);
# - another machine in the VPC to a task on 8080: being inside the VPC admits nothing by itself.

# %%
explorer = network.reachability_explorer(
    ec2, vpc_id,
    sources={"the internet": {"source_cidr": network.INTERNET}, "the load balancer": {"source_group_ids": [alb_group]},
             "another machine in the VPC": {"source_cidr": "10.20.10.25/32", "source_group_ids": [vpc.default_group().group_id]}},
    targets={"a task": [task_group], "the load balancer": [alb_group]},
    ports=(8080, 80, 443),
)
explorer

# %% [markdown]
# The lab enforces these groups where it can: the internet (your machine) reaching a load
# balancer's listener, and the load balancer reaching its targets. Let's put the reports app
# behind an ALB in this VPC, as in notebook 06, with the tasks in the **private** subnets and no
# public IP.

# %%
alb_arn = elbv2.create_load_balancer(Name=ALB_NAME, Subnets=public_subnets, SecurityGroups=[alb_group], Scheme="internet-facing", Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
tg_arn = elbv2.create_target_group(
    Name=TG_NAME, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip", HealthCheckPath="/health",
    HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2, UnhealthyThresholdCount=2,
)["TargetGroups"][0]["TargetGroupArn"]
elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
elbv2.create_listener(LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])
lab.ecs.create_service(
    cluster=CLUSTER, serviceName=SERVICE, taskDefinition=task_def_arn, desiredCount=1, launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": private_subnets, "securityGroups": [task_group], "assignPublicIp": "DISABLED"}},
    loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
)
elb_tools.watch_target_health(elbv2, tg_arn, until=lambda rows: elb_tools.healthy_count(rows) == 1)[-1][1][0]["state"]

# %% [markdown]
# The VPC as it is now, read back from EC2, ELB and ECS (`network.plot_network`): which subnet
# holds what, which security groups each piece has, and what can reach what.

# %%
def network_views():
    """The load balancer and the service's tasks as network.reachability and plot_network take them."""
    balancer = elbv2.describe_load_balancers(Names=[ALB_NAME])["LoadBalancers"][0]
    tasks = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
    return {"load_balancers": [network.load_balancer_view(elbv2, balancer)], "tasks": [network.task_view(ec2, task) for task in tasks]}


vpc = network.describe_network(ec2, vpc_id)
vpc.subnets.sort(key=lambda subnet: not subnet.public)  # public subnets on the left, where the load balancer spans them
network.plot_network(vpc, **network_views())
plt.show()

# %%
def reachable(views):
    """network.reachability's rows, with names that do not change from run to run."""
    task_names = {view["name"]: f"task {n}" for n, view in enumerate(views["tasks"], 1)}
    rows = network.reachability(vpc, **views)
    return [{key: by_name(task_names.get(value.split(":")[0], "") + value[len(value.split(":")[0]):] if key == "to" and value.startswith("task ") else value)
             for key, value in row.items()} for row in rows]


reachable(network_views())

# %% [markdown]
# Through the listener, the app answers (it reads the bucket with its task role, as in notebook 07):

# %%
url = elb_tools.listener_url(lab, alb_arn)


def through_alb(path, timeout=2):
    """GET through the load balancer: the status, or what went wrong on the network."""
    try:
        with urllib.request.urlopen(url + path, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return f"no answer ({type(error).__name__})"


{"GET /health": through_alb("/health"), f"GET /s3/{BUCKET}": through_alb(f"/s3/{BUCKET}")}

# %% [markdown]
# Now take away the ALB group's only rule, port 80 from anywhere. On AWS the connection is
# dropped without a word and the client gives up after its timeout (2 s here); so does the lab.

# %%
internet_rule = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": network.INTERNET}]}]
ec2.revoke_security_group_ingress(GroupId=alb_group, IpPermissions=internet_rule)
time.sleep(1.5)  # the lab reads the rules at most 1 s late
without_rule = through_alb("/health")
ec2.authorize_security_group_ingress(GroupId=alb_group, IpPermissions=internet_rule)
time.sleep(1.5)
{"without the rule": without_rule, "with the rule back": through_alb("/health")}

# %% [markdown]
# And the other link: take away the tasks' group's rule (8080 from the ALB's group). The ALB's
# health checks no longer get through; after two failed checks, 5 s apart, the target is
# unhealthy with `Target.Timeout`, exactly as a frozen app looked in notebook 06. The network
# and a broken app look the same from the load balancer: check the security groups first.

# %%
task_rules = ec2.describe_security_groups(GroupIds=[task_group])["SecurityGroups"][0]["IpPermissions"]  # its one rule, as stored
ec2.revoke_security_group_ingress(GroupId=task_group, IpPermissions=task_rules)
{key: value for key, value in elb_tools.watch_target_health(elbv2, tg_arn, until=lambda rows: rows and rows[0]["state"] == "unhealthy", timeout=30)[-1][1][0].items()
 if key != "target"}  # the target's address changes on every run

# %% [markdown]
# The picture says the same: the arrow from the load balancer to the task is now blocked.

# %%
vpc = network.describe_network(ec2, vpc_id)
vpc.subnets.sort(key=lambda subnet: not subnet.public)
network.plot_network(vpc, **network_views())
plt.show()

# %% [markdown]
# On AWS the tasks in the private subnets would also need a way out to pull their image and
# reach S3 and Secrets Manager: a NAT gateway in a public subnet, or VPC endpoints (ECR, S3,
# Secrets Manager, CloudWatch Logs) that keep the traffic inside the VPC. The lab does not model
# routes for outgoing traffic.

# %% [markdown]
# ## 3. Secrets: injected by ECS, never written down
#
# A database password must not be in the image (anyone who pulls it reads it), in the task
# definition's `environment` (anyone with `ecs:DescribeTaskDefinition` reads it), or in a
# notebook's output. The task definition's `secrets` names **where** the secret is, an ARN in
# Secrets Manager or SSM Parameter Store; ECS reads it with the **execution role** as the task
# starts and hands it to the container as an environment variable.
#
# This notebook never knows the value: it is made at random by `secrets.token_urlsafe` and goes
# straight to Secrets Manager.

# %%
db_password = secrets.token_urlsafe(24)
secret_arn = cleanup.restore_scheduled_secret(lab, SECRET_NAME)  # AWS only: an earlier run's secret, still in its recovery window
if secret_arn:
    secretsmanager.put_secret_value(SecretId=secret_arn, SecretString=db_password)
else:
    secret_arn = secretsmanager.create_secret(Name=SECRET_NAME, SecretString=db_password, Description="The reports database's password")["ARN"]
secret_suffix = secret_arn.rsplit("-", 1)[1]  # Secrets Manager adds six random characters to the name


def masked(text):
    """Outputs without what changes on every run: the secret ARN's random suffix."""
    return text.replace(secret_suffix, "XXXXXX")


masked(secret_arn)

# %% [markdown]
# A task definition for the same app, with one more thing in its container: `secrets`, each a
# `name` (the environment variable) and a `valueFrom` (the secret's ARN; for SSM Parameter
# Store, the parameter's ARN or name; `ARN:json-key::` picks one key of a JSON secret).

# %%
secret_definition = ecs_tools.task_definition(FAMILY, app_image, execution_role_arn=execution_role_arn) | {"taskRoleArn": task_role_arn}
secret_definition["containerDefinitions"][0]["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": secret_arn}]
secret_def_arn = lab.ecs.register_task_definition(**secret_definition)["taskDefinition"]["taskDefinitionArn"]
stored = lab.ecs.describe_task_definition(taskDefinition=secret_def_arn)["taskDefinition"]["containerDefinitions"][0]
{"secrets": [{key: masked(value) for key, value in item.items()} for item in stored["secrets"]], "environment": stored.get("environment", [])}

# %% [markdown]
# Anyone may read that task definition: it says where the password is, not what it is. Run a
# task of it. The execution role has AWS's managed policy only, which says nothing about
# Secrets Manager:

# %%
no_permission = run_one(secret_def_arn)
{"lastStatus": no_permission["lastStatus"], "stopCode": no_permission.get("stopCode"),
 "stoppedReason": masked(no_permission.get("stoppedReason", "")).replace(no_permission["taskArn"].split("/")[-1], "TASK_ID")}

# %% [markdown]
# `ResourceInitializationError`: ECS could not prepare the task, so its container never started.
# The message names the execution role's session (`assumed-role/netsec-demo-execution/...`)
# and the action it lacks. Give the execution role that one action, on that one secret:

# %%
read_secret = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadDbPassword", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}],
}
iam.put_role_policy(RoleName=EXECUTION_ROLE, PolicyName="read-db-password", PolicyDocument=json.dumps(read_secret))
secret_task = run_one(secret_def_arn)
secret_task["lastStatus"]

# %% [markdown]
# Ask the app about `DB_PASSWORD`. It answers whether the variable is set, its length and the
# first characters of its SHA-256, never the value; we compare that hash with the one of the
# value we stored:

# %%
status, seen = ecs_tools.request_task(secret_task, "/secret/DB_PASSWORD")
{"set": seen["set"], "length": seen["length"], "same value as stored": seen["sha256_prefix"] == hashlib.sha256(db_password.encode()).hexdigest()[:12]}

# %% [markdown]
# The value went from Secrets Manager to the container without passing through this notebook's
# outputs, the task definition or the image. Look for it everywhere ECS and the lab report on
# the task (without showing it, of course):

# %%
reports = {
    "the task definition": lab.ecs.describe_task_definition(taskDefinition=secret_def_arn)["taskDefinition"],
    "the running task": lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[secret_task["taskArn"]])["tasks"],
    "the task that failed": no_permission,
    "the app's answer": seen,
    "the ECS agent's journal": ecs_tools.agent_log(lab, last=500),
}
{where: db_password in json.dumps(report, default=str) for where, report in reports.items()}

# %% [markdown]
# Where the value *is* visible: inside the container (that is the point) and, in the lab, to
# anyone who may run `docker inspect` on this machine; the variable is in the container's
# configuration. On Fargate there is no host for you to inspect; on the EC2 launch type whoever
# controls the instance can read it. Secrets in environment variables keep the value out of
# images, task definitions and logs, not away from the machine that runs the task.

# %%
secret_container = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={secret_task['taskArn']}"})[0]
[variable.split("=", 1)[0] for variable in secret_container.attrs["Config"]["Env"] if variable.startswith("DB_")]

# %% [markdown]
# Two more things to know:
#
# - A container reads its secrets once, when it starts. After you change the secret (or rotate
#   it), running tasks keep the old value until they are replaced: `update_service` with
#   `forceNewDeployment=True`.
# - The app could also read the secret itself with boto3 and its **task role**
#   (`secretsmanager:GetSecretValue` in the task role's policy). Then the value never sits in an
#   environment variable and can be re-read after rotation; in exchange, the app needs code and
#   permissions for it.

# %% [markdown]
# ## 4. When AWS says no
#
# Five mistakes, and AWS's words for them.

# %% [markdown]
# **1. A policy that is not JSON.** One closing bracket missing:

# %%
broken = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::netsec-demo-reports/*"}'
try:
    iam.put_role_policy(RoleName=TASK_ROLE, PolicyName="broken", PolicyDocument=broken)
except ClientError as error:
    print(error)

# %% [markdown]
# `MalformedPolicyDocument` is IAM's code for every policy it cannot accept; the message says
# what is wrong: "Syntax errors in policy." for broken JSON or an unknown element,
# "Policy statement must contain resources." for a statement without `Resource`. The evaluator
# reads policies with the same rules and words, so you can check a document before sending it:

# %%
try:
    iam_policy.parse_policy(broken)
except iam_policy.MalformedPolicyDocument as error:
    print(error)

# %% [markdown]
# **2. A task role made for the wrong service.** A role that trusts EC2 instances, not ECS tasks,
# with the right permissions. IAM accepts it (it is a fine role for an EC2 instance), ECS
# accepts the task definition; the task fails as it starts:

# %%
def run_with_roles(family, task_role_arn=None, execution=execution_role_arn, secret=None):
    """Register a task definition of the app with these roles (and a secret) and run one task; returns (lastStatus, stoppedReason)."""
    definition = ecs_tools.task_definition(family, app_image, execution_role_arn=execution)
    if task_role_arn:
        definition["taskRoleArn"] = task_role_arn
    if secret:
        definition["containerDefinitions"][0]["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": secret}]
    arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    failed_definitions.append(arn)
    task = run_one(arn)
    return task["lastStatus"], masked(task.get("stoppedReason", "")).replace(task["taskArn"].split("/")[-1], "TASK_ID")


failed_definitions = []
ec2_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ec2_role_arn = iam.create_role(RoleName=EC2_ROLE, AssumeRolePolicyDocument=json.dumps(ec2_trust))["Role"]["Arn"]
iam.put_role_policy(RoleName=EC2_ROLE, PolicyName="read-reports", PolicyDocument=json.dumps(reports_policy))
run_with_roles(FAMILY + "-ec2-role", task_role_arn=ec2_role_arn)

# %% [markdown]
# ECS tried `sts:AssumeRole` as `ecs-tasks.amazonaws.com`, and the trust policy does not name it.
# The fix is the trust policy (`iam.update_assume_role_policy`), not the permissions.
#
# **3. A role ARN that does not exist** (a typo, a role in another account, a role deleted
# since):

# %%
run_with_roles(FAMILY + "-no-role", task_role_arn=f"arn:aws:iam::{lab.account_id}:role/netsec-demo-tsak")

# %% [markdown]
# The same words as a role that does not trust ECS: from where ECS stands, both are "I could not
# assume it". On AWS `register_task_definition` already refuses many such ARNs with
# `ClientException: Role is not valid`; the lab accepts the task definition and stops the task.
#
# **4. A secret ARN that does not exist.** The execution role may read only the one secret of
# section 3, so for any other ARN IAM answers first (`AccessDeniedException`), before Secrets
# Manager looks for it. Allow every secret under `netsec-demo/`, the usual pattern (the six
# random characters make exact ARNs awkward), and ask for one that was never created:

# %%
secrets_prefix = f"arn:aws:secretsmanager:{lab.region}:{lab.account_id}:secret:netsec-demo/"
missing_secret = secrets_prefix + "db-pasword-AbCdEf"
denied_first = run_with_roles(FAMILY + "-no-secret", task_role_arn=task_role_arn, secret=missing_secret)
read_secret["Statement"][0]["Resource"] = secrets_prefix + "*"
iam.put_role_policy(RoleName=EXECUTION_ROLE, PolicyName="read-db-password", PolicyDocument=json.dumps(read_secret))
{"allowed one secret only": denied_first, "allowed netsec-demo/*": run_with_roles(FAMILY + "-no-secret", task_role_arn=task_role_arn, secret=missing_secret)}

# %% [markdown]
# Both are `ResourceInitializationError`: ECS could not get the task ready, the container never
# ran. The second says `ResourceNotFoundException: Secrets Manager can't find the specified
# secret.` Check the ARN (`secretsmanager.describe_secret`), including its six-character suffix.
#
# **5. An image from ECR on Fargate, and no execution role.** ECS refuses the task definition
# itself: without an execution role, nothing could pull the image.

# %%
try:
    lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY + "-no-execution-role", app_image))
except ClientError as error:
    print(error)


# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "You create a security group and add no rules to it. What may reach the interfaces in it, and where may they connect?",
        (
            "Nothing may come in, and they may connect anywhere: a new group has one outbound rule that allows all traffic",
            "Nothing may come in or go out until you add rules in both directions",
            "Everything from inside the same VPC may come in; nothing from the internet",
        ),
        0,
        "A new group has no inbound rule (nothing is admitted) and one outbound rule, all traffic to 0.0.0.0/0. Narrow it with authorize_security_group_egress and revoke_security_group_egress.",
        why_not=(
            "",
            "The outbound direction starts open: AWS adds an allow-all outbound rule to every new group.",
            "Being in the same VPC admits nothing by itself; only the default group admits its own members, and a new group is not the default one.",
        ),
    ),
    Question(
        "The tasks' security group lets port 8080 in from the ALB's security group only. Who can open a connection to a task's port 8080?",
        (
            "Anyone on the internet, if the task has a public IP",
            "Only network interfaces in the ALB's security group (the load balancer's nodes)",
            "Any resource in the same VPC",
        ),
        1,
        "A rule that names a security group allows traffic from the interfaces in that group, wherever their addresses are; everything else is dropped, even inside the VPC and even with a public IP.",
        why_not=(
            "A public IP does not open a port: the tasks' group admits 8080 only from the ALB's group.",
            "",
            "Being in the same VPC admits nothing by itself: only the rule's source, the ALB's group, gets in.",
        ),
    ),
    Question(
        "What makes a subnet private?",
        (
            "Its route table sends no traffic (0.0.0.0/0) to an internet gateway",
            "The tasks in it were launched with assignPublicIp DISABLED",
            "A security group that admits nothing from 0.0.0.0/0",
        ),
        0,
        "Public or private is one route: a subnet whose route table has a route to an internet gateway is public. Tasks in a private subnet reach ECR and other AWS services through a NAT gateway or VPC endpoints.",
        why_not=(
            "",
            "That is a property of each task, not of the subnet; a task without a public IP in a public subnet is still in a public subnet.",
            "Security groups filter traffic per interface; whether a subnet is public is decided by its route table.",
        ),
    ),
    Question(
        "Where should a task definition get a database password from?",
        (
            "environment: [{\"name\": \"DB_PASSWORD\", \"value\": \"...\"}]",
            "secrets: [{\"name\": \"DB_PASSWORD\", \"valueFrom\": \"<secret ARN>\"}], with the execution role allowed to read that secret",
            "A file baked into the image",
        ),
        1,
        "The task definition then holds only where the secret is; ECS reads it with the execution role as the task starts. Values in environment are visible to anyone who may describe the task definition, and an image to anyone who may pull it.",
        why_not=(
            "Anyone who may describe the task definition (or the task) reads the value in clear text.",
            "",
            "Anyone who may pull the image can read the file, and changing the password means a new image.",
        ),
    ),
    Question(
        "A Fargate task stops with ResourceInitializationError: the execution role's session is not authorized to perform secretsmanager:GetSecretValue on the secret. What do you change?",
        (
            "The task role's policy: the app reads the secret",
            "The execution role's policy: allow secretsmanager:GetSecretValue on that secret's ARN",
            "Nothing in IAM: the secret's ARN must be wrong",
        ),
        1,
        "ECS reads the secrets named in the task definition with the execution role, before the container starts (section 3); the task role is for the app's own calls.",
        why_not=(
            "The container never started: ECS, not the app, reads the secrets in the task definition, with the execution role.",
            "",
            "A wrong ARN gives another message (ResourceNotFoundException, or AccessDenied when the role may read only the right one); this one says the action is not allowed.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - **Subnets**: public when their route table sends `0.0.0.0/0` to an internet gateway, private
#   when it does not. The ALB goes in public subnets, the tasks in private ones.
# - **Security groups** chain internet → ALB (port 80 from `0.0.0.0/0`) → tasks (port 8080 from
#   the ALB's *group* only). Inbound rules admit, nothing denies; a new group admits nothing and
#   its one outbound rule allows all traffic out until you narrow it. They are stateful.
# - A target cut off by its security group looks like a frozen app: `Target.Timeout`. Check the
#   groups first.
# - **Secrets**: `secrets` with `valueFrom` in the task definition; the **execution role** reads
#   them as the task starts; the value reaches the container and no one else.
# - AWS's words for the usual mistakes: `MalformedPolicyDocument`, "ECS was unable to assume the
#   role", `ResourceInitializationError`, and a task definition refused for want of an execution role.
#
# **Exercise:** `exercises/07b-networks-and-secrets.ipynb`: write the two web security groups with
# plain EC2 calls, and run a task whose app gets a database password from Secrets Manager.
#
# ## Cleanup

# %% [markdown]
# In AWS's order (`MADE_HERE`, removed by `ecslab.cleanup.remove`): the service and its tasks,
# the cluster, the load balancer and its target group, the VPC (security groups, route table,
# internet gateway, subnets), the roles (their policies first), the secret, the bucket (its
# objects first), the repository; then the task definitions and the local image.
# `aws secretsmanager delete-secret --secret-id netsec-demo/db-password --force-delete-without-recovery`
# deletes a secret at once; without it, AWS keeps it for a recovery window of 7 to 30 days. The
# lab deletes it at once; on AWS `cleanup.remove` never does: it schedules the deletion with a
# 7-day window, during which the name stays taken: section 3's cell then restores it
# (`cleanup.restore_scheduled_secret`, which calls `restore_secret`) and stores the new value.

# %%
for arn in [task_def_arn, secret_def_arn, *failed_definitions]:
    lab.ecs.deregister_task_definition(taskDefinition=arn)
left = cleanup.remove(lab, MADE_HERE)
images.remove_images([image.tag, *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
left
