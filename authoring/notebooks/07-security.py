# %% [markdown]
# # 07 · Security, part 1: who may do what (IAM)
#
# The lecture notes (section 9) list four tools: **IAM roles** decide who may push and pull
# images and deploy services; the **ECS task role** gives the containers access to AWS services
# such as S3; **private subnets** keep containers off the internet; **security groups** are the
# firewall around them. This notebook takes the first two apart: the roles of a task, their
# trust policies, how IAM decides a request, and who may push to and pull from ECR. Notebook
# `07b-networks-and-secrets` does the network half and adds what every real service needs:
# **secrets** that reach the app without being written down.
#
# **Goals.** By the end of this notebook you will
# - tell the **execution role** (what ECS does for a task before it runs: pull the image, fetch
#   secrets, ship logs) from the **task role** (what the app inside may do), side by side;
# - read a **trust policy** and say which service may use a role, and why `ecs-tasks` is the one;
# - predict IAM's answer to a request, and name the statement that decided it, in a policy
#   explorer;
# - have watched an app in a container read S3 with its task role, then get `AccessDenied`
#   after one change to its policy;
# - say who may push to and pull from an ECR repository, from identity and repository policies.
#
# **Time:** 40–50 minutes if IAM is new to you (an estimate of reading and trying the policy
# explorer; no learner has been timed yet). The cells alone run in about a minute (50 to 65 s,
# measured on a shared 2-core VM in December 2026: the busier the machine, the longer).
#
# | notes, section 9 | here |
# |---|---|
# | IAM roles: who may push/pull images, deploy services | sections 2, 3, 4, 6 |
# | ECS task role: containers calling S3, DynamoDB | sections 2, 5 |
# | private subnets, security groups, (secrets) | notebook 07b |

# %% [markdown]
# ## 1. Setup
#
# Names of this notebook's own: repository `security-demo`, cluster `security-cluster`, bucket
# `security-demo-reports`, roles `security-demo-...`. The first cell lists them in `MADE_HERE` and
# removes whatever an earlier run left with `ecslab.cleanup.remove`: in the lab by name; on AWS
# only what the course tagged as yours (`ecslab:course` and `ecslab:owner`), so a role of yours
# that happens to share a name is never touched.

# %%
import json
import time


import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import cleanup, iam_policy, images, network, security

lab = ecslab.connect()
iam, ec2 = lab.iam, lab.ec2
s3 = lab.client("s3")
REPOSITORY = FAMILY = "security-demo"
CLUSTER = "security-cluster"
BUCKET = "security-demo-reports"
TASK_ROLE = "security-demo-task"
EXECUTION_ROLE = "security-demo-execution"
CI_ROLE = "security-demo-ci"
DEPLOYER_ROLE = "security-demo-deployer"
ROLES = [TASK_ROLE, EXECUTION_ROLE, CI_ROLE, DEPLOYER_ROLE]


MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    clusters=[CLUSTER], roles=ROLES, buckets=[BUCKET], repositories=[REPOSITORY],
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
# (`security.ensure_execution_role` does that in one call, and notebooks 04 to 06 use it; exercise
# 7.3 asks you to write these calls yourself).

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
# keys), `/s3/BUCKET/KEY` (an object's size; `PUT` writes one) and `/secret/NAME` (notebook 07b).
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
    deadline = time.monotonic() + 180  # a first pull on a busy machine can take a while
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
        "IAM accepts the trust policy: it is a valid policy for EC2 instances. Only when ECS tries to assume the role for a task does it fail, with \"ECS was unable to assume the role\" (notebook 07b, section 4).",
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
    Question(
        "Your pipeline's role may ecr:BatchGetImage on a repository (its identity policy allows it), and the repository's policy has a statement that denies ecr:BatchGetImage to every principal. Can the pipeline pull?",
        (
            "Yes: its own identity policy allows the pull",
            "No: the repository policy's explicit deny wins over the identity policy's allow",
            "Yes: a repository policy only adds principals, it cannot take anything away",
        ),
        1,
        "IAM reads the identity policies and the resource's policy together; an explicit Deny in either decides. That is the quarantine of section 6.",
        why_not=(
            "The allow is one statement among those IAM reads; a matching explicit Deny in the repository policy overrides it.",
            "",
            "A repository policy can deny as well as allow: section 6's quarantine denied the execution role's pulls.",
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
#   other principals in, or keeps everyone out. Deploying needs `iam:PassRole` on the task's roles.
#
# **Exercise:** `exercises/07-security.ipynb`: write a least-privilege policy for an app that
# reads one bucket, create a task role that ECS can assume, and create an execution role with
# plain IAM calls. **Next:** `07b-networks-and-secrets`: subnets, security groups and secrets.
#
# ## Cleanup

# %% [markdown]
# In AWS's order (`MADE_HERE`, removed by `ecslab.cleanup.remove`): the cluster and its tasks,
# the roles (their policies first), the bucket (its objects first), the repository; then the task
# definitions and the local image.

# %%
for arn in [task_def_arn, no_role_def_arn]:
    lab.ecs.deregister_task_definition(taskDefinition=arn)
left = cleanup.remove(lab, MADE_HERE)
images.remove_images([image.tag, *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
left
