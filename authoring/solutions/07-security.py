# %% [markdown]
# # Exercise 07 · Security
#
# Three functions, each followed by a check cell, in the order of notebook `07-security.ipynb`:
# a least-privilege policy for an app that reads one bucket, a task role that ECS can assume,
# and the execution role ECS starts tasks with, written with plain IAM calls. Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then its
# check. Each check works in objects of its own (`ex07-check-...`) and deletes them afterwards.
#
# **Time:** about 30 minutes.
#
# ## Setup
#
# The setup cell builds the course's AWS app (a web server with boto3 inside, notebook 07
# section 5) and pushes it to the repository `ex07-app`; the checks of 7.2 and 7.3 run it.

# %% tags=["nbval-ignore-output"]
import json

import ecslab

lab = ecslab.connect()
image_uri = ecslab.checks.ex07.prepare_image(lab)

# %%
image_uri.split("/", 1)[1]  # repository:tag, in the lab's registry (image_uri has the registry's address too)

# %% [markdown]
# ## Exercise 7.1: least privilege for an app that reads one bucket
#
# An app reads reports from an S3 bucket: it lists the bucket's keys and downloads objects.
# It never writes or deletes anything, and it uses no other bucket and no other service.
#
# Complete `read_bucket_policy(bucket)` so that it returns the **permissions policy** (a dict)
# for the app's task role that allows exactly that:
#
# - `s3:GetObject` on the **objects** of `bucket`;
# - `s3:ListBucket` on the **bucket** itself;
# - nothing else: no `s3:*`, no `"Resource": "*"`, no other bucket.
#
# Remember the two kinds of S3 ARN (notebook 07, section 4): which one names the bucket, which
# names the objects in it? Use the `bucket` argument: the check calls your function for two
# buckets.

# %%
def read_bucket_policy(bucket):
    ### BEGIN SOLUTION
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Sid": "ListKeys", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }
    ### END SOLUTION

# %%
"""Check 7.1: read_bucket_policy allows reading and listing one bucket, and denies everything else."""
ecslab.checks.ex07.check_read_bucket_policy(read_bucket_policy)

# %% [markdown]
# You can ask the evaluator yourself, as notebook 07 did:

# %%
from ecslab import iam_policy

policy = iam_policy.parse_policy(read_bucket_policy("my-reports"), "read-my-reports")
[str(iam_policy.evaluate(action, resource, [policy])) for action, resource in [
    ("s3:GetObject", "arn:aws:s3:::my-reports/2026/q3.csv"),
    ("s3:PutObject", "arn:aws:s3:::my-reports/2026/q3.csv"),
]]

# %% [markdown]
# ## Exercise 7.2: a task role
#
# Complete `create_task_role(lab, role_name, policy_document)` so that it
#
# 1. creates the IAM role `role_name` (`lab.iam.create_role`) with a **trust policy** that lets
#    **ECS tasks** assume it (which service principal? notebook 07, section 3);
# 2. gives the role `policy_document` (a dict) as an inline permissions policy
#    (`lab.iam.put_role_policy`; IAM takes policy documents as JSON text: `json.dumps`);
# 3. returns the role's **ARN**.
#
# The check calls it with a read-only policy for a bucket of its own, then runs the AWS app as a
# task with your role as its `taskRoleArn`, and asks the app to read the bucket.

# %%
def create_task_role(lab, role_name, policy_document):
    ### BEGIN SOLUTION
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = lab.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    lab.iam.put_role_policy(RoleName=role_name, PolicyName="app-permissions", PolicyDocument=json.dumps(policy_document))
    return role["Arn"]
    ### END SOLUTION

# %%
"""Check 7.2: create_task_role makes a role that ECS tasks (and only they) may assume, with the policy it was given."""
ecslab.checks.ex07.check_task_role(create_task_role, lab)

# %% [markdown]
# ## Exercise 7.3: an execution role, written by hand
#
# Notebooks 04 to 06 got their execution role from one helper call,
# `security.ensure_execution_role`. Now write what it does. Complete
# `create_execution_role(lab, role_name)` so that it
#
# 1. creates the IAM role `role_name` (`lab.iam.create_role`) with a trust policy that lets
#    **ECS tasks** assume it (the same principal as a task role: notebook 07, section 3);
# 2. attaches AWS's managed policy for execution roles,
#    `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`
#    (`lab.iam.attach_role_policy`: a managed policy is attached by its ARN, not pasted in);
# 3. returns the role's **ARN**.
#
# Use plain `lab.iam` calls: the check refuses ecslab's `ensure_execution_role`. It reads your role
# back from IAM (trust policy, attached policies), then runs a task that pulls the exercise's image
# from ECR with your role as its `executionRoleArn`.

# %%
def create_execution_role(lab, role_name):
    ### BEGIN SOLUTION
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = lab.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    lab.iam.attach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    return role["Arn"]
    ### END SOLUTION

# %%
"""Check 7.3: create_execution_role makes a role ECS tasks may assume, with AWS's execution role policy attached, and ECS pulls with it."""
ecslab.checks.ex07.check_execution_role(create_execution_role, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted its own roles, bucket, cluster and task definitions. This deletes the
# repository `ex07-app` and anything a check left behind if it was interrupted.

# %%
ecslab.checks.ex07.clean_up(lab)
