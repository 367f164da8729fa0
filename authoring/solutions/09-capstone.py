# %% [markdown]
# # Exercise 09 · Capstone
#
# Three functions, written from scratch with plain boto3, each followed by a check cell, in the
# order of notebook `09-capstone.ipynb`: the app's own **security groups**, an **immutable
# release repository with a lifecycle policy**, and a **rollout pinned to an image digest** that
# loses no request. Notebooks 03, 06 and 07 did each of these with a helper or a ready-made
# setting; here you write them. Write your code where it says `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()` line), run the cell, then its check. Each check hands your
# function names of its own, new on every run, and deletes everything made under them
# afterwards, whether your code passed or not.
#
# **Time:** about 45 minutes (an estimate); the three checks run in about a minute together
# (measured on a shared 2-core VM, December 2026: 9.3's rollout under traffic takes most of it).
#
# What you may use: boto3's clients on `lab` (`lab.ec2`, `lab.ecr`, `lab.ecs`, ...), the Docker
# SDK (`lab.docker`), `ecr_tools.get_login` and `ecr_tools.push_image` (you wrote a push yourself
# in exercise 3.2). Not `network.create_web_security_groups`: 9.1 is to write what it does.
#
# ## Setup
#
# The setup cell builds the sample app as v1 and v2 on this machine, `local_images`, and pushes
# them to the repository `ex09-app`, which keeps their layers in the registry: your pushes of the
# same layers in 9.2 then take a fraction of a second. It takes a few seconds when notebook 09 ran
# before, longer the first time. (Each check builds its own copies of v1 and v2 from the same
# cache, under names of its own.)

# %% tags=["nbval-ignore-output"]
import json

import ecslab
from ecslab import ecr as ecr_tools

lab = ecslab.connect()
local_images = ecslab.checks.ex09.prepare_images(lab)

# %%
local_images

# %% [markdown]
# ## Exercise 9.1: the app's own security groups
#
# Complete `create_security_groups(lab, vpc_id, name)` so that it creates, in the VPC `vpc_id`,
# the two groups a web service behind a load balancer needs, and returns their IDs,
# `(alb_group_id, task_group_id)`:
#
# 1. `{name}-alb`, for the load balancer: inbound **TCP 80 from anywhere** (`0.0.0.0/0`), and
#    nothing else;
# 2. `{name}-tasks`, for the tasks: inbound **TCP 8080 from the load balancer's group only**
#    (the rule names the group, `UserIdGroupPairs`, not an address range), and nothing else.
#
# `lab.ec2.create_security_group(GroupName=..., Description=..., VpcId=vpc_id)` returns the new
# group's `GroupId`; `lab.ec2.authorize_security_group_ingress(GroupId=..., IpPermissions=[...])`
# adds inbound rules (an `IpPermissions` entry has `IpProtocol`, `FromPort`, `ToPort`, and
# `IpRanges` or `UserIdGroupPairs`). Leave the outbound rules as a new group has them (all
# traffic out). Notebook 09, section 5, shows the calls.
#
# The check reads your groups' rules back and wants exactly these; then it puts a load balancer
# in the first and two tasks in the second, and sends requests through the load balancer.

# %%
def create_security_groups(lab, vpc_id, name):
    ### BEGIN SOLUTION
    alb_group_id = lab.ec2.create_security_group(
        GroupName=f"{name}-alb", Description="load balancer: HTTP 80 from anywhere", VpcId=vpc_id
    )["GroupId"]
    task_group_id = lab.ec2.create_security_group(
        GroupName=f"{name}-tasks", Description="tasks: 8080 from the load balancer only", VpcId=vpc_id
    )["GroupId"]
    lab.ec2.authorize_security_group_ingress(
        GroupId=alb_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the internet"}]}],
    )
    lab.ec2.authorize_security_group_ingress(
        GroupId=task_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": alb_group_id, "Description": "the load balancer"}]}],
    )
    return alb_group_id, task_group_id
    ### END SOLUTION

# %%
"""Check 9.1: create_security_groups makes the load balancer's group (80 from anywhere) and the tasks' group (8080 from the first only), and requests through a load balancer in them answer."""
ecslab.checks.ex09.check_security_groups(create_security_groups, lab)

# %% [markdown]
# ## Exercise 9.2: an immutable release repository with a lifecycle policy
#
# Complete `publish_release(lab, name, local_images)` so that it
#
# 1. creates the ECR repository `name` with **immutable tags** (`imageTagMutability="IMMUTABLE"`):
#    once pushed, `v1` names the same image for ever, and a second push of `v1` is refused;
# 2. puts a **lifecycle policy** on it (`lab.ecr.put_lifecycle_policy(repositoryName=name,
#    lifecyclePolicyText=json.dumps(policy))`) with two rules:
#    - **untagged** images expire **7 days after their push**, however many there are;
#    - of the **releases** (images with a tag starting with `v`), the **5 newest** stay and older
#      ones expire, however young they are;
#
#    and nothing else: other images (`dev-...`, `build-...`) are not touched;
# 3. pushes `local_images["v1"]` as `v1` and `local_images["v2"]` as `v2`
#    (`ecr_tools.push_image(lab.docker, local_images[tag], repo_uri, tag, ecr_tools.get_login(lab.ecr))`
#    returns a result whose `digest` is the digest ECR stored), and
# 4. returns the digests: `{"v1": "sha256:...", "v2": "sha256:..."}`.
#
# An immutable repository keeps every release it is given; the lifecycle policy is what keeps it
# from growing for ever. Notebook 03 (sections 7 and 8) shows the rules' fields, and
# `ecr_tools.check_policy(text)` checks a policy's form before you put it.
#
# The check reads the repository back, pushes v1 a second time (ECR must refuse it), has the
# lab's lifecycle evaluator run the policy ECR stored on two made-up repository histories (what
# it would delete must be exactly the untagged images older than 7 days and the releases older
# than the 5 newest), and compares your digests with ECR's.

# %%
def publish_release(lab, name, local_images):
    ### BEGIN SOLUTION
    repo_uri = lab.ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"]
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "untagged images go 7 days after their push",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "keep the 5 newest releases",
                "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 5},
                "action": {"type": "expire"},
            },
        ]
    }
    lab.ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(policy))
    login = ecr_tools.get_login(lab.ecr)
    return {tag: ecr_tools.push_image(lab.docker, local_images[tag], repo_uri, tag, login, show_progress=False).digest for tag in ("v1", "v2")}
    ### END SOLUTION

# %%
"""Check 9.2: publish_release makes an IMMUTABLE repository whose lifecycle policy expires exactly the old untagged images and the releases beyond the 5 newest, and pushes v1 and v2."""
ecslab.checks.ex09.check_release_repository(publish_release, lab)

# %% [markdown]
# ## Exercise 9.3: a rollout pinned to a digest, losing no request
#
# A service runs v1 behind a load balancer, its task definition naming the image **by digest**
# (`REPO_URI@sha256:...`); the repository is IMMUTABLE and holds v1 and v2 (the check makes all
# of it, as in notebook 09). Complete `roll_out(lab, cluster, service, repository, tag)` so that
# it moves the service to the image `tag` names, under traffic, **without a failed request**:
#
# 1. find the **digest** `tag` points to in `repository`:
#    `lab.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])` returns it
#    in `imageDetails[0]["imageDigest"]`, and `describe_repositories` the `repositoryUri`; the
#    image is `f"{repo_uri}@{digest}"`;
# 2. register a **new revision** of the service's task definition that differs only in the
#    image: read the current one (`describe_services` names it, `describe_task_definition`
#    returns it), copy the fields `register_task_definition` takes (`family`,
#    `containerDefinitions`, `cpu`, `memory`, `networkMode`, `requiresCompatibilities`,
#    `executionRoleArn`, and `taskRoleArn` if there is one), change
#    `containerDefinitions[0]["image"]`;
# 3. `update_service` to it, wait until the rollout is over (only the new version answers), and
#    return the new revision's ARN.
#
# The check sends 20 requests a second through the load balancer all along, and 2.5 s more after
# your function returns: none may fail, from 1 s after the return on all must come from v2, and
# every running task must run v2's digest.

# %%
def roll_out(lab, cluster, service, repository, tag):
    ### BEGIN SOLUTION
    digest = lab.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"]
    repo_uri = lab.ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    current = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    definition = lab.ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    fields = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn", "taskRoleArn")
    revision = {key: definition[key] for key in fields if key in definition}
    revision["containerDefinitions"][0]["image"] = f"{repo_uri}@{digest}"
    new_arn = lab.ecs.register_task_definition(**revision)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=new_arn)
    # one deployment left, with all its tasks running: the old tasks have left the target group
    lab.ecs.get_waiter("services_stable").wait(cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return new_arn
    ### END SOLUTION

# %%
"""Check 9.3: roll_out moves the service to v2 pinned by its digest under steady traffic: no request fails, and only v2 answers once it returns."""
ecslab.checks.ex09.check_roll_out(roll_out, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted what it made. This deletes anything a check left behind if it was
# interrupted, the repository `ex09-app` and the local images `ex09-app:v1` and `ex09-app:v2`.

# %%
ecslab.checks.ex09.clean_up(lab)
