# %% [markdown]
# # 07 · Security: who may do what, and what can reach what
#
# The lecture notes (section 9) list four tools: **IAM roles** decide who may push and pull
# images and deploy services; the **ECS task role** gives the containers access to AWS services
# such as S3; **private subnets** keep containers off the internet; **security groups** are the
# firewall around them. This notebook takes each one apart, and adds the fifth that every real
# service needs: **secrets** (a database password) that reach the app without being written
# into the image, the task definition or a notebook.
#
# **Goals.** By the end of this notebook you will
# - tell the **execution role** (what ECS does for a task before it runs: pull the image, fetch
#   secrets, ship logs) from the **task role** (what the app inside may do), side by side;
# - read a **trust policy** and say which service may use a role, and why `ecs-tasks` is the one;
# - predict IAM's answer to a request, and name the statement that decided it, in a policy
#   explorer;
# - have watched an app in a container read S3 with its task role, then get `AccessDenied`
#   after one change to its policy;
# - say who may push to and pull from an ECR repository, from identity and repository policies;
# - draw a VPC's public and private subnets and security groups, and say what can reach what;
# - have injected a secret into a running container, visible to the app and never printed;
# - recognise five mistakes by the words AWS uses for them.
#
# **Time:** 75–90 minutes if IAM and VPCs are new to you (a reviewer's estimate of reading and
# trying the explorers; the cells alone run in 1.5 to 3 minutes, measured on a shared 2-core
# VM in December 2026: the busier the machine, the longer). Sections 2–5 (roles and how IAM
# decides) make one sitting, 6–8 (ECR policies, networks, secrets) a second; section 9 (AWS's
# error messages) is optional.
#
# | notes, section 9 | here |
# |---|---|
# | IAM roles: who may push/pull images, deploy services | sections 2, 3, 4, 6 |
# | ECS task role: containers calling S3, DynamoDB | sections 2, 5 |
# | private subnets | section 7 |
# | security groups | section 7 |
# | (secrets) | section 8 |

# %% [markdown]
# ## 1. Setup
#
# Names of this notebook's own: repository `security-demo`, cluster `security-cluster`, bucket
# `security-demo-reports`, roles `security-demo-...`, secret `security-demo/db-password`, VPC
# `security-demo`. The first cell lists them in `MADE_HERE` and removes whatever an earlier run
# left with `ecslab.cleanup.remove`: in the lab by name; on AWS only what the course tagged as
# yours (`ecslab:course` and `ecslab:owner`), so a role or secret of yours that happens to share a
# name is never touched.

# %%
import json
import secrets
import time
import urllib.error
import urllib.request

import ipywidgets as widgets
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
REPOSITORY = FAMILY = "security-demo"
CLUSTER = "security-cluster"
BUCKET = "security-demo-reports"
TASK_ROLE = "security-demo-task"
EXECUTION_ROLE = "security-demo-execution"
SECRET_NAME = "security-demo/db-password"
SERVICE = "reports"
VPC_NAME = ALB_NAME = "security-demo"  # section 7: the VPC, its security groups (security-demo-alb, -tasks), the ALB
TG_NAME = "security-demo-tg"
CI_ROLE = "security-demo-ci"
DEPLOYER_ROLE = "security-demo-deployer"
EC2_ROLE = "security-demo-ec2"  # section 9
ROLES = [TASK_ROLE, EXECUTION_ROLE, CI_ROLE, DEPLOYER_ROLE, EC2_ROLE]


MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    clusters=[CLUSTER], load_balancers=[ALB_NAME], target_groups=[TG_NAME], vpcs=[VPC_NAME], roles=ROLES,
    secrets=[SECRET_NAME], buckets=[BUCKET], repositories=[REPOSITORY],
)
cleanup.remove(lab, MADE_HERE)

# %% [markdown]
# ## 2. Two roles for one task
#
# Two different pieces of software call AWS on a task's behalf, at two different moments, and
# each gets its own role:
#
# ```
#             before the container starts                 while the container runs
#   ┌──────────────────────────────────────────┐   ┌──────────────────────────────────────┐
#   │ ECS (the agent)  ── execution role ──►   │   │ your app  ── task role ──►           │
#   │    ECR:  pull the image                  │   │    S3: GetObject                     │
#   │    Secrets Manager / SSM: read secrets   │   │    DynamoDB, SQS, ...                │
#   │    CloudWatch Logs: create the stream    │   │    (whatever the app's code calls)   │
#   └──────────────────────────────────────────┘   └──────────────────────────────────────┘
#      executionRoleArn in the task definition        taskRoleArn in the task definition
# ```
#
# | | execution role | task role |
# |---|---|---|
# | who uses it | the ECS agent (Fargate's, or the one on your EC2 host) | the code in your containers |
# | when | while the task starts (and for logs, while it runs) | whenever the app calls AWS |
# | typical permissions | `ecr:GetAuthorizationToken`, `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`, `logs:CreateLogStream`, `logs:PutLogEvents`, `secretsmanager:GetSecretValue` on *its* secrets | exactly what the app needs: `s3:GetObject` on one bucket, say |
# | AWS's ready-made policy | `AmazonECSTaskExecutionRolePolicy` (plus secrets, which it lacks) | none: it is your app's |
# | task definition field | `executionRoleArn` | `taskRoleArn` |
# | when it is missing or short | the task never runs: `ResourceInitializationError`, or refused at registration | the app's calls fail with `AccessDenied` (or it has no credentials at all) |
#
# Keep them apart. An app given the execution role could read every secret of every task that
# shares it; a task role with ECR and logs permissions gives the app powers it never uses.
#
# Make both with plain IAM calls: `create_role` with a trust policy (section 3 reads it), then
# the permissions. The task role gets an inline policy written for this app: read the reports
# bucket, never its `private/` folder. The execution role gets AWS's managed policy
# (`security.ensure_execution_role` does that in one call; notebooks 04 to 06 use it).

# %%
reports_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        {"Sid": "ListReports", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Sid": "NeverPrivate", "Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/private/*"},
    ],
}
trust_policy = json.dumps(security.ECS_TASKS_TRUST_POLICY)

task_role_arn = iam.create_role(RoleName=TASK_ROLE, AssumeRolePolicyDocument=trust_policy, Description="What the reports app may do")["Role"]["Arn"]
iam.put_role_policy(RoleName=TASK_ROLE, PolicyName="read-reports", PolicyDocument=json.dumps(reports_policy))

execution_role_arn = iam.create_role(RoleName=EXECUTION_ROLE, AssumeRolePolicyDocument=trust_policy, Description="What ECS may do to start the reports app")["Role"]["Arn"]
iam.attach_role_policy(RoleName=EXECUTION_ROLE, PolicyArn=security.EXECUTION_ROLE_POLICY_ARN)
[task_role_arn, execution_role_arn]

# %% [markdown]
# The task role got an **inline** policy, written for this app alone. The execution role got
# AWS's **managed** policy, the same for every task; this is what it allows:

# %%
managed = iam.get_policy(PolicyArn=security.EXECUTION_ROLE_POLICY_ARN)["Policy"]
iam.get_policy_version(PolicyArn=managed["Arn"], VersionId=managed["DefaultVersionId"])["PolicyVersion"]["Document"]

# %% [markdown]
# `"Resource": "*"`: any repository and any log group of the account. AWS writes it broadly so
# that one role fits every task; you may write a narrower one, naming your repositories and log
# groups (section 6 writes such a policy for a build pipeline).
#
# Side by side, as IAM stores them:

# %%
def role_summary(name):
    role = iam.get_role(RoleName=name)["Role"]
    policies = security.role_policies(iam, name)
    return {
        "trusted principal": [statement["Principal"] for statement in role["AssumeRolePolicyDocument"]["Statement"]],
        "policies": [policy.name for policy in policies],
        "actions it allows": sorted({action for policy in policies for s in policy.statements if s.effect == "Allow" for action in s.actions}),
    }


{"execution role": role_summary(EXECUTION_ROLE), "task role": role_summary(TASK_ROLE)}

# %% [markdown]
# Both trust the same principal; what they may do does not overlap at all. The same five
# requests, asked of each role (`security.decision_table` evaluates them against the role's
# policies, section 4 explains how):

# %%
repository_arn = f"arn:aws:ecr:{lab.region}:{lab.account_id}:repository/{REPOSITORY}"
requests = [
    ("ecr:GetAuthorizationToken", "*"),
    ("ecr:BatchGetImage", repository_arn),
    ("logs:CreateLogStream", f"arn:aws:logs:{lab.region}:{lab.account_id}:log-group:/ecs/{FAMILY}:log-stream:"),
    ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/2026/q3.csv"),
    ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
]
security.decision_table(iam, EXECUTION_ROLE, requests)

# %%
security.decision_table(iam, TASK_ROLE, requests)

# %% [markdown]
# ## 3. The trust policy: who may use a role
#
# A role has two kinds of policy, and they answer two different questions:
#
# - its **trust policy** (`AssumeRolePolicyDocument`): *who may assume this role*, that is,
#   obtain temporary credentials for it with `sts:AssumeRole`. Its statements name a
#   `Principal`;
# - its **permissions policies** (inline with `put_role_policy`, or managed and attached with
#   `attach_role_policy`): *what the role's credentials may do*. Their statements name actions
#   and resources, never a principal.
#
# Both roles of a task trust the same principal, the service `ecs-tasks.amazonaws.com`:

# %%
security.ECS_TASKS_TRUST_POLICY

# %% [markdown]
# `Principal: {"Service": "ecs-tasks.amazonaws.com"}` is ECS acting for a task: when a task
# starts, ECS calls `sts:AssumeRole` as that principal and receives the role's temporary
# credentials. `iam_policy.trusts` reads a trust policy and says whether a service may assume
# the role:

# %%
def trust_for(principal):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]}


{principal: iam_policy.trusts(trust_for(principal), "ecs-tasks.amazonaws.com") for principal in ("ecs-tasks.amazonaws.com", "ecs.amazonaws.com", "ec2.amazonaws.com")}

# %% [markdown]
# Three service names look alike, and only one is right here:
#
# - `ecs-tasks.amazonaws.com`: ECS acting for **a task** (task role, execution role);
# - `ecs.amazonaws.com`: ECS acting for **itself**, through its service-linked role
#   (`AWSServiceRoleForECS`, which AWS creates: attaching network interfaces, registering targets
#   with a load balancer);
# - `ec2.amazonaws.com`: an **EC2 instance**, through an instance profile. With the EC2 launch
#   type the host's ECS agent runs with such a role (`ecsInstanceRole`); an app that falls back
#   to the host's credentials gets the host's powers, which is why task roles exist.
#
# A trust policy that names only the service lets that service assume the role for *anyone* who
# can get it to: ECS, acting for someone else's task, becomes a "confused deputy". AWS's ECS guide
# recommends, for every task role you create (not only roles shared across accounts), the
# condition keys `aws:SourceAccount` (the account ECS acts for) and `aws:SourceArn` (the ARN of
# the ECS resource it acts for; `arn:aws:ecs:REGION:ACCOUNT:*`, as in AWS's example, admits all
# of your account's in that Region), both at once for the narrowest trust:
#
# ```json
# "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
#               "ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*"}}
# ```
#
# The evaluator reads a trust policy like any other: the request is `sts:AssumeRole` on the role,
# by the principal `ecs-tasks.amazonaws.com`, and the request's context says for which account
# and which resource ECS is acting. (The lab's own tasks do not send these keys; the evaluator
# shows what IAM decides on AWS.)

# %%
guarded_trust = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": lab.account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{lab.region}:{lab.account_id}:*"},
        },
    }],
}
guarded = iam_policy.parse_policy(guarded_trust, "guarded trust", kind="trust")
requests = {
    "a task of your account": (lab.account_id, f"arn:aws:ecs:{lab.region}:{lab.account_id}:task/demo/0123456789abcdef"),
    "a task of another account": ("210987654321", f"arn:aws:ecs:{lab.region}:210987654321:task/demo/0123456789abcdef"),
    "your account, a task in another Region": (lab.account_id, f"arn:aws:ecs:eu-west-1:{lab.account_id}:task/demo/0123456789abcdef"),
}
{
    f"ECS, for {who}": iam_policy.evaluate(
        "sts:AssumeRole", task_role_arn, [], resource_policy=guarded, principal_arn="ecs-tasks.amazonaws.com",
        context={"aws:SourceAccount": account, "aws:SourceArn": source_arn},
    ).kind
    for who, (account, source_arn) in requests.items()
}

# %% [markdown]
# ## 4. How IAM decides
#
# Every AWS request is one **action** (`s3:GetObject`) on one **resource** (an ARN,
# `arn:aws:s3:::security-demo-reports/q3.csv`) by one **principal** (the task role's session).
# IAM looks at every statement that matches the action and the resource, and decides:
#
# 1. an explicit `"Effect": "Deny"` that matches **wins**, whatever allows it elsewhere;
# 2. otherwise, a matching `"Effect": "Allow"` allows it;
# 3. otherwise it is denied: what is not allowed is denied (the **implicit deny**).
#
# Actions match with `*` and `?` and ignore case; resource ARNs match with `*` and `?` and do
# not. Two S3 ARNs that are easy to mix up: the bucket is `arn:aws:s3:::NAME` (for
# `s3:ListBucket`), its objects are `arn:aws:s3:::NAME/KEY` (for `s3:GetObject`).
#
# `ecslab.iam_policy.evaluate` follows those rules and says which statement decided, which AWS
# never tells you (it answers "not authorized" and leaves you to find the statement).

# %%
reports = iam_policy.parse_policy(reports_policy, "read-reports")
asked = [
    ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/2026/q3.csv"),
    ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/2026/q3.csv"),
    ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/private/salaries.csv"),
    ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
    ("s3:GetObject", "arn:aws:s3:::another-bucket/2026/q3.csv"),
]
[{"request": f"{action} {resource}", "decision": decision.kind, "decided by": decision.statement.label if decision.statement else "nothing allows it"}
 for action, resource in asked
 for decision in [iam_policy.evaluate(action, resource, [reports])]]

# %% [markdown]
# The private report is the interesting one. `ReadReports` allows it (`private/salaries.csv` is
# an object of the bucket), and `NeverPrivate` denies it; the deny wins. The evaluator's
# sentence for it:

# %%
str(iam_policy.evaluate("s3:GetObject", f"arn:aws:s3:::{BUCKET}/private/salaries.csv", [reports]))

# %% [markdown]
# And the words AWS would answer the app with, had it tried (the principal is the task's role
# session, named after the task):

# %%
session_arn = f"arn:aws:sts::{lab.account_id}:assumed-role/{TASK_ROLE}/0123456789abcdef0123456789abcdef"
denied = iam_policy.evaluate("s3:PutObject", f"arn:aws:s3:::{BUCKET}/2026/q3.csv", [reports], principal_arn=session_arn)
iam_policy.access_denied_message(session_arn, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/2026/q3.csv", denied)

# %% [markdown]
# Try it: pick a role, an action and a resource. The explorer reads the role's policies from
# IAM (and the repository policy, for an ECR repository's ARN) and says **allowed or denied, and
# which statement decided**. It starts on the private report. Then try:
#
# - `s3:GetObject` on `arn:aws:s3:::security-demo-reports/2026/q3.csv` (allowed), and the same
#   with `s3:PutObject` (implicit deny);
# - `s3:ListBucket` on `arn:aws:s3:::security-demo-reports/*`: the object ARN where the bucket's
#   is needed, a classic (denied);
# - the execution role, with `ecr:BatchGetImage` on
#   `arn:aws:ecr:us-east-1:123456789012:repository/security-demo`, then with `s3:GetObject`.

# %%
explorer = security.policy_explorer(iam, roles=[TASK_ROLE, EXECUTION_ROLE], ecr=lab.ecr)
role_box, action_box, resource_box, decision_box = explorer.children
action_box.value = "s3:GetObject"
resource_box.value = f"arn:aws:s3:::{BUCKET}/private/salaries.csv"
explorer

# %% [markdown]
# ## 5. The task role at work: an app reads S3, then `AccessDenied`
#
# The app below is a small web server with boto3 inside. It has **no keys**: not in the image,
# not in the task definition. When a task has a `taskRoleArn`, ECS gives its containers an
# address to fetch temporary credentials from (`AWS_CONTAINER_CREDENTIALS_FULL_URI` on the
# lab, `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on AWS), and every AWS SDK looks there on its
# own. The credentials last a few hours and are renewed before they expire; nothing to rotate.

# %%
image = images.build_aws_app(f"{REPOSITORY}:v1", client=lab.docker, config=lab.config, show_progress=False)
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
ecr_tools.push_image(lab.docker, image.tag, repo_uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
app_image = f"{repo_uri}:v1"

# %% [markdown]
# Its routes: `/whoami` (who the app is to AWS: `sts:GetCallerIdentity`), `/s3/BUCKET` (the
# keys), `/s3/BUCKET/KEY` (an object's size; `PUT` writes one) and `/secret/NAME` (section 8).
# When AWS refuses, the app answers with AWS's status, error code and message.
#
# A bucket with two reports, one of them private:

# %%
s3.create_bucket(Bucket=BUCKET)
s3.put_object(Bucket=BUCKET, Key="2026/q3.csv", Body=b"region,revenue\nnorth,120\nsouth,95\n")
s3.put_object(Bucket=BUCKET, Key="private/salaries.csv", Body=b"name,salary\nalice,1\nbob,2\n")
sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])

# %% [markdown]
# The task definition names both roles: `executionRoleArn` (ECS pulls the image from ECR with
# it) and `taskRoleArn` (the app's). One task, with `run_task`:

# %%
lab.ecs.create_cluster(clusterName=CLUSTER)
vpc_id, subnet_ids = elb_tools.default_subnets(ec2)
app_definition = ecs_tools.task_definition(FAMILY, app_image, execution_role_arn=execution_role_arn) | {"taskRoleArn": task_role_arn}
task_def_arn = lab.ecs.register_task_definition(**app_definition)["taskDefinition"]["taskDefinitionArn"]


def run_one(task_definition_arn, security_groups=()):
    """run_task on Fargate in the default subnets; returns the task once RUNNING, or STOPPED if it fails to start.

    Without ``security_groups``: a group admitting TCP 8080 from anywhere, so that we can call the app (notebook 04)."""
    groups = list(security_groups) or [network.public_task_security_group(ec2, vpc_id)]
    network_configuration = {"awsvpcConfiguration": {"subnets": subnet_ids, "assignPublicIp": "ENABLED", "securityGroups": groups}}
    arn = lab.ecs.run_task(cluster=CLUSTER, taskDefinition=task_definition_arn, launchType="FARGATE", networkConfiguration=network_configuration)["tasks"][0]["taskArn"]
    deadline = time.monotonic() + 60
    while True:
        task = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
        if task["lastStatus"] in ("RUNNING", "STOPPED") or time.monotonic() > deadline:
            return task
        time.sleep(0.25)


app_task = run_one(task_def_arn)
app_task_id = app_task["taskArn"].split("/")[-1]
registered = lab.ecs.describe_task_definition(taskDefinition=task_def_arn)["taskDefinition"]
{"lastStatus": app_task["lastStatus"], "executionRoleArn": registered["executionRoleArn"], "taskRoleArn": registered["taskRoleArn"]}

# %% [markdown]
# Who is the app, to AWS? A role **session**: the task role, assumed by ECS, named after the
# task (shown here as `TASK_ID`, which changes on every run). And boto3 says where it found the
# credentials. (`ecs_tools.request_task` sends a request to the app in a task and returns the HTTP
# status with the app's JSON answer, errors included: an `AccessDenied` is an answer here.)

# %%
status, whoami = ecs_tools.request_task(app_task, "/whoami")
{"status": status, "Arn": whoami["Arn"].replace(app_task_id, "TASK_ID"), "credential_source": whoami["credential_source"]}

# %% [markdown]
# `container-role`: the credentials came from the address in the container's environment. The
# container's AWS settings, by name only (the values include a token):

# %%
container = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={app_task['taskArn']}"})[0]
sorted(variable.split("=", 1)[0] for variable in container.attrs["Config"]["Env"] if variable.startswith("AWS_"))

# %% [markdown]
# No `AWS_ACCESS_KEY_ID`, no `AWS_SECRET_ACCESS_KEY`: nothing to leak from the image or the task
# definition. (`AWS_ENDPOINT_URL` is the lab's addition: it sends the app's AWS calls to the lab,
# which decides them with the role's policies. On AWS the SDK finds the real endpoints itself.)
#
# Now the app at work. Four requests, each decided by the task role's policy:

# %%
def show(answer):
    status, body = answer
    return {"status": status, **{key: value.replace(app_task_id, "TASK_ID") if isinstance(value, str) else value
                                 for key, value in body.items() if key in ("keys", "size", "error", "message")}}


{
    "list the bucket": show(ecs_tools.request_task(app_task, f"/s3/{BUCKET}")),
    "read 2026/q3.csv": show(ecs_tools.request_task(app_task, f"/s3/{BUCKET}/2026/q3.csv")),
    "read private/salaries.csv": show(ecs_tools.request_task(app_task, f"/s3/{BUCKET}/private/salaries.csv")),
    "write 2026/q4.csv": show(ecs_tools.request_task(app_task, f"/s3/{BUCKET}/2026/q4.csv", method="PUT", body=b"region,revenue\n")),
}

# %% [markdown]
# The same four answers the evaluator gave in section 4: reads allowed, the private report
# denied explicitly, the write denied because nothing allows it. AWS's message names the
# principal (the task's role session), the action and the resource, and, for an explicit deny,
# says so.
#
# **A policy change.** A colleague "tidies up" the role's policy and drops `ReadReports`. The
# task keeps running, with the same credentials; IAM decides every request afresh, so the next
# read fails:

# %%
tidied = {**reports_policy, "Statement": [s for s in reports_policy["Statement"] if s["Sid"] != "ReadReports"]}
iam.put_role_policy(RoleName=TASK_ROLE, PolicyName="read-reports", PolicyDocument=json.dumps(tidied))
show(ecs_tools.request_task(app_task, f"/s3/{BUCKET}/2026/q3.csv"))

# %% [markdown]
# Listing still works (`ListReports` is still there): the app can see the key and not read it.
# On AWS a policy change reaches every request within seconds (IAM is eventually consistent);
# in the lab at once. Put the statement back, and the same task reads again:

# %%
iam.put_role_policy(RoleName=TASK_ROLE, PolicyName="read-reports", PolicyDocument=json.dumps(reports_policy))
show(ecs_tools.request_task(app_task, f"/s3/{BUCKET}/2026/q3.csv"))

# %% [markdown]
# **And without a task role?** The same image, a task definition without `taskRoleArn`:

# %%
no_role_def_arn = lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, app_image, execution_role_arn=execution_role_arn))["taskDefinition"]["taskDefinitionArn"]
no_role_task = run_one(no_role_def_arn)
show(ecs_tools.request_task(no_role_task, f"/s3/{BUCKET}"))

# %% [markdown]
# No credentials at all: boto3 looked everywhere it knows (environment, files, the container
# address) and found nothing, so the app cannot call AWS. That is the safe default on Fargate.
# On the EC2 launch type a container could fall back to the instance's role through the
# instance metadata service, which is one more reason to give every task its own task role (and
# to block the metadata service from containers: the ECS agent setting `ECS_AWSVPC_BLOCK_IMDS=true`
# does it for tasks in awsvpc mode).

# %% [markdown]
# ## 6. Who may push and pull an ECR repository
#
# ECR asks IAM about every call of `docker push` and `docker pull`. A push is five actions, a
# pull three, and one of them, `ecr:GetAuthorizationToken` (the `docker login` of notebook 03),
# is for the whole registry, so its resource is `"*"`:
#
# | | push (CI pipeline) | pull (ECS execution role) |
# |---|---|---|
# | `ecr:GetAuthorizationToken` on `*` | ✓ | ✓ |
# | `ecr:BatchCheckLayerAvailability` | ✓ | ✓ |
# | `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`, `ecr:CompleteLayerUpload` | ✓ | |
# | `ecr:PutImage` | ✓ | |
# | `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer` | | ✓ |
#
# The other side is the **repository policy** (a resource-based policy, `set_repository_policy`):
# it names principals, typically to let another account's roles pull.

# %%
push_actions = ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"]
ci_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PushOneRepository", "Effect": "Allow", "Action": push_actions, "Resource": repository_arn},
    ],
}
codebuild_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName=CI_ROLE, AssumeRolePolicyDocument=json.dumps(codebuild_trust), Description="The build pipeline: pushes security-demo images")
iam.put_role_policy(RoleName=CI_ROLE, PolicyName="push-security-demo", PolicyDocument=json.dumps(ci_policy))

other_repository_arn = repository_arn.replace(f"/{REPOSITORY}", "/payments")
ecr_requests = [
    ("ecr:GetAuthorizationToken", "*"),
    ("ecr:PutImage", repository_arn),
    ("ecr:BatchGetImage", repository_arn),
    ("ecr:PutImage", other_repository_arn),
]
security.decision_table(iam, CI_ROLE, ecr_requests)

# %%
security.decision_table(iam, EXECUTION_ROLE, ecr_requests)

# %% [markdown]
# The pipeline may push to this one repository and not pull; the execution role may pull from
# any repository (AWS's managed policy says `"Resource": "*"`) and never push.
#
# A **repository policy** has the last word for its repository: an explicit deny there beats
# any identity policy's allow. Say an image is under investigation and nothing may pull it
# until it is cleared: quarantine the repository.

# %%
quarantine = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Quarantine", "Effect": "Deny", "Principal": "*", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}],
}
lab.ecr.set_repository_policy(repositoryName=REPOSITORY, policyText=json.dumps(quarantine))
str(security.simulate(iam, EXECUTION_ROLE, "ecr:BatchGetImage", repository_arn, resource_policy=security.repository_policy(lab.ecr, REPOSITORY)))

# %% [markdown]
# ECS pulls with the execution role, so a new task of the app cannot start:

# %%
quarantined = run_one(task_def_arn)
registry = repo_uri.split("/")[0]  # localhost:5050 unless you moved the lab's registry; on AWS, ACCOUNT.dkr.ecr.REGION.amazonaws.com
{"lastStatus": quarantined["lastStatus"], "stopCode": quarantined.get("stopCode"), "stoppedReason": quarantined.get("stoppedReason").replace(registry, "REGISTRY")}

# %% [markdown]
# `CannotPullContainerError` with the registry's `403 Forbidden`: the same words as a missing
# permission in the execution role. The task that was already running keeps running: its image
# was pulled before. Lift the quarantine:

# %%
lab.ecr.delete_repository_policy(repositoryName=REPOSITORY)
security.repository_policy(lab.ecr, REPOSITORY) is None

# %% [markdown]
# **Deploying** is IAM too: `ecs:RegisterTaskDefinition`, `ecs:UpdateService`, and
# `iam:PassRole` on the roles the task definition names. `iam:PassRole` is the guard rail:
# without it, anyone allowed to register task definitions could hand a powerful role to a
# container of their own and act with its powers.

# %%
deployer_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Deploy", "Effect": "Allow", "Action": ["ecs:RegisterTaskDefinition", "ecs:UpdateService", "ecs:DescribeServices"], "Resource": "*"},
        {
            "Sid": "PassTheAppRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [task_role_arn, execution_role_arn],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
    ],
}
account_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{lab.account_id}:root"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName=DEPLOYER_ROLE, AssumeRolePolicyDocument=json.dumps(account_trust), Description="Deploys the reports app")
iam.put_role_policy(RoleName=DEPLOYER_ROLE, PolicyName="deploy-security-demo", PolicyDocument=json.dumps(deployer_policy))
security.decision_table(
    iam,
    DEPLOYER_ROLE,
    [
        ("ecs:UpdateService", f"arn:aws:ecs:{lab.region}:{lab.account_id}:service/{CLUSTER}/reports"),
        ("iam:PassRole", task_role_arn),
        ("iam:PassRole", f"arn:aws:iam::{lab.account_id}:role/admin"),
        ("ecr:PutImage", repository_arn),
    ],
    context={"iam:PassedToService": "ecs-tasks.amazonaws.com"},
)

# %% [markdown]
# ## 7. Networks: public and private subnets, security groups
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
#                     │  ALB   [security-demo-alb: 80 from 0.0.0.0/0]
#                     └───────────────┬─────────────────────────┘
#                                     │ :8080 (from the ALB's group only)
#                     ┌───────────────▼──── private subnets ────┐
#                     │  task  task   [security-demo-tasks: 8080 from security-demo-alb]
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
# Through the listener, the app answers (it reads the bucket with its task role, as before):

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
# ## 8. Secrets: injected by ECS, never written down
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
import hashlib

db_password = secrets.token_urlsafe(24)
secret_arn = cleanup.restore_scheduled_secret(lab, SECRET_NAME)  # AWS only: an earlier run's secret, still in its recovery window
if secret_arn:
    secretsmanager.put_secret_value(SecretId=secret_arn, SecretString=db_password)
else:
    secret_arn = secretsmanager.create_secret(Name=SECRET_NAME, SecretString=db_password, Description="The reports database's password")["ARN"]
secret_suffix = secret_arn.rsplit("-", 1)[1]  # Secrets Manager adds six random characters to the name


def masked(text):
    """Outputs without what changes on every run: the secret ARN's random suffix and task IDs."""
    return text.replace(secret_suffix, "XXXXXX").replace(app_task_id, "TASK_ID")


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
# The message names the execution role's session (`assumed-role/security-demo-execution/...`)
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
# ## 9. When AWS says no
#
# Five mistakes, and AWS's words for them.

# %% [markdown]
# **1. A policy that is not JSON.** One closing bracket missing:

# %%
broken = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::security-demo-reports/*"}'
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
ec2_role_arn = iam.create_role(RoleName=EC2_ROLE, AssumeRolePolicyDocument=json.dumps(trust_for("ec2.amazonaws.com")))["Role"]["Arn"]
iam.put_role_policy(RoleName=EC2_ROLE, PolicyName="read-reports", PolicyDocument=json.dumps(reports_policy))
run_with_roles(FAMILY + "-ec2-role", task_role_arn=ec2_role_arn)

# %% [markdown]
# ECS tried `sts:AssumeRole` as `ecs-tasks.amazonaws.com`, and the trust policy does not name it.
# The fix is the trust policy (`iam.update_assume_role_policy`), not the permissions.
#
# **3. A role ARN that does not exist** (a typo, a role in another account, a role deleted
# since):

# %%
run_with_roles(FAMILY + "-no-role", task_role_arn=f"arn:aws:iam::{lab.account_id}:role/security-demo-tsak")

# %% [markdown]
# The same words as a role that does not trust ECS: from where ECS stands, both are "I could not
# assume it". On AWS `register_task_definition` already refuses many such ARNs with
# `ClientException: Role is not valid`; the lab accepts the task definition and stops the task.
#
# **4. A secret ARN that does not exist.** The execution role may read only the one secret of
# section 8, so for any other ARN IAM answers first (`AccessDeniedException`), before Secrets
# Manager looks for it. Allow every secret under `security-demo/`, the usual pattern (the six
# random characters make exact ARNs awkward), and ask for one that was never created:

# %%
secrets_prefix = f"arn:aws:secretsmanager:{lab.region}:{lab.account_id}:secret:security-demo/"
missing_secret = secrets_prefix + "db-pasword-AbCdEf"
denied_first = run_with_roles(FAMILY + "-no-secret", task_role_arn=task_role_arn, secret=missing_secret)
read_secret["Statement"][0]["Resource"] = secrets_prefix + "*"
iam.put_role_policy(RoleName=EXECUTION_ROLE, PolicyName="read-db-password", PolicyDocument=json.dumps(read_secret))
{"allowed one secret only": denied_first, "allowed security-demo/*": run_with_roles(FAMILY + "-no-secret", task_role_arn=task_role_arn, secret=missing_secret)}

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
        "A Fargate task's image is in a private ECR repository, and the app reads from an S3 bucket. Which role needs ecr:BatchGetImage, and which s3:GetObject?",
        (
            "The task role needs both: it is the task's only role",
            "The execution role needs ecr:BatchGetImage (ECS pulls the image); the task role needs s3:GetObject (the app reads)",
            "The execution role needs both: ECS makes all AWS calls for the task",
        ),
        1,
        "ECS pulls the image with the execution role before the container starts; the app's own calls use the task role's credentials. Giving either role the other's permissions widens what a compromised app could do.",
        why_not=(
            "The task role's credentials reach the app only once the container runs; ECS must pull the image before that, with the execution role.",
            "",
            "ECS uses the execution role for what it does before and around the task; the app's own calls (S3) use the task role.",
        ),
    ),
    Question(
        "A role's trust policy names the principal {\"Service\": \"ec2.amazonaws.com\"}. You put it in a task definition as taskRoleArn. What happens?",
        (
            "The task runs and the app gets the role's credentials",
            "ECS cannot assume the role for the task: the trust policy does not name ecs-tasks.amazonaws.com",
            "IAM refuses the trust policy when the role is created",
        ),
        1,
        "IAM accepts the trust policy: it is a valid policy for EC2 instances. Only when ECS tries to assume the role for a task does it fail, with \"ECS was unable to assume the role\" (section 9).",
        why_not=(
            "ECS assumes the role as ecs-tasks.amazonaws.com, a principal this trust policy does not name, so it gets no credentials.",
            "",
            "The policy is valid (it suits an EC2 instance role), so IAM accepts it; the failure comes when ECS tries to use it.",
        ),
    ),
    Question(
        "A task role's policy allows s3:* on arn:aws:s3:::reports/*, and another statement of it denies s3:GetObject on arn:aws:s3:::reports/private/*. May the app read reports/private/salaries.csv?",
        ("Yes: the allow comes first", "Yes: s3:* is broader than s3:GetObject", "No: an explicit deny wins over every allow"),
        2,
        "Statement order does not matter, nor how broad a statement is: any matching explicit Deny decides.",
        why_not=(
            "IAM does not read statements in order; it collects every statement that matches.",
            "Breadth does not matter either: the Deny matches reports/private/salaries.csv, and a matching Deny decides.",
            "",
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
        "Your task role's trust policy names ecs-tasks.amazonaws.com and nothing else. What do the conditions aws:SourceAccount and aws:SourceArn add?",
        (
            "Nothing for a role used in one account: they only matter for cross-account roles",
            "ECS may then assume the role only when it acts for your account's ECS resources (those ARNs), not when tricked into it for someone else",
            "They replace the Principal: the role no longer needs to name ecs-tasks.amazonaws.com",
        ),
        1,
        "Without them, the trust says only which service may assume the role, not for whom: the confused deputy. AWS's ECS guide recommends "
        "them when you create a task role (section 3).",
        why_not=(
            "AWS recommends them for every task role: the risk is ECS acting for another account, whatever accounts you use.",
            "",
            "The Principal still says which service may assume the role; the conditions narrow for whom it acts.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - Two roles per task: the **execution role** is what ECS uses to start the task (pull from
#   ECR, read secrets, ship logs); the **task role** is what the app uses. Both trust
#   `ecs-tasks.amazonaws.com`.
# - A role's **trust policy** says who may assume it; its **permissions policies** say what it may
#   do. IAM denies by default, allows what a statement allows, and an explicit **deny wins**.
#   Narrow a task role's trust with `aws:SourceAccount` and `aws:SourceArn` (the confused deputy).
# - **Least privilege**: name the actions the app calls and the resources it uses
#   (`s3:GetObject` on `arn:aws:s3:::bucket/*`), not `s3:*` on `*`.
# - The app gets **temporary credentials** from ECS; no keys in images or task definitions. Change
#   the role's policy and the next call answers differently.
# - **ECR**: pushing and pulling are IAM actions on the repository; a **repository policy** lets
#   other principals in. Deploying needs `iam:PassRole` on the task's roles.
# - **Networks**: ALB in public subnets, tasks in private subnets; security groups chain
#   internet → ALB (port 80) → tasks (port 8080, from the ALB's group only). Their outbound rules
#   allow all traffic out until you narrow them.
# - **Secrets**: `secrets` with `valueFrom` in the task definition; the execution role reads
#   them; the value reaches the container and no one else.
#
# **Exercise:** `exercises/07-security.ipynb`: write a least-privilege policy for an app that
# reads one bucket, create a task role that ECS can assume, and run a task with a secret.
#
# ## Cleanup

# %% [markdown]
# In AWS's order (`MADE_HERE`, removed by `ecslab.cleanup.remove`): the service and its tasks,
# the cluster, the load balancer and its target group, the VPC (security groups, route table,
# internet gateway, subnets), the roles (their policies first), the secret, the bucket (its
# objects first), the repository; then the task definitions and the local images.
# `aws secretsmanager delete-secret --secret-id security-demo/db-password --force-delete-without-recovery`
# deletes a secret at once; without it, AWS keeps it for a recovery window of 7 to 30 days. The
# lab deletes it at once; on AWS `cleanup.remove` never does: it schedules the deletion with a
# 7-day window, during which the name stays taken: section 8's cell then restores it
# (`cleanup.restore_scheduled_secret`, which calls `restore_secret`) and stores the new value.

# %%
for arn in [task_def_arn, no_role_def_arn, secret_def_arn, *failed_definitions]:
    lab.ecs.deregister_task_definition(taskDefinition=arn)
left = cleanup.remove(lab, MADE_HERE)
images.remove_images([image.tag, *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
left
