# %% [markdown]
# # Exercise 04 · ECS concepts
#
# Three exercises on notebook 04: write a Fargate task definition by hand, run one task until it
# is RUNNING, and decide which EC2 host can take a task. Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then run the
# check cell below it. Each check works in a cluster and repository of its own and removes them
# afterwards; it prints a green line when your answer is right and says what to change when it
# is not.
#
# **Time:** about 25 minutes.

# %%
import ecslab
from ecslab import ecs as ecs_tools
from ecslab import security

lab = ecslab.connect()

# %% [markdown]
# A Fargate task pulls its image from ECR, and writes its logs, with the permissions of a
# **task execution role**. Create the execution role ECS uses to pull your image and write your
# logs (the ECS console does this on first use); exercise 4.1 passes its ARN to your function:

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
execution_role_arn

# %% [markdown]
# ## Exercise 4.1: a Fargate task definition
#
# Complete `fargate_web_task_definition(family, image, execution_role_arn)` so that it **returns
# the keyword arguments of `lab.ecs.register_task_definition`** (a dict) for a task that
#
# - runs on **Fargate**, with **0.5 vCPU** and **1 GB** of memory;
# - pulls its image with the task execution role `execution_role_arn` (the ARN the setup cell
#   created; ECS refuses a Fargate task definition with an ECR image and no execution role);
# - has one essential container named `web` running `image`, listening on port **8080** (tcp);
# - sets the environment variable `STAGE` to `exercise` in that container.
#
# Write the dict yourself. Notebook 04, sections 3 and 4, shows every field (CPU is counted in
# units of 1/1024 vCPU, memory in MiB, both as strings; Fargate has its own network mode);
# `ecs_tools.task_definition` writes a similar dict, useful to compare once yours is done. The
# check registers your task definition with the lab's ECS, reads it back, then deregisters it.

# %%
def fargate_web_task_definition(family, image, execution_role_arn):
    ### BEGIN SOLUTION
    return {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "1024",
        "executionRoleArn": execution_role_arn,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "STAGE", "value": "exercise"}],
            }
        ],
    }
    ### END SOLUTION

# %%
"""Check 4.1: fargate_web_task_definition returns a Fargate task definition (0.5 vCPU, 1 GB, execution role, web:8080, STAGE) that ECS registers."""
ecslab.checks.ex04.check_fargate_task_definition(fargate_web_task_definition, lab)

# %% [markdown]
# ## Exercise 4.2: one task, until it runs
#
# Complete `run_one_task(lab, cluster, task_def_arn, subnet_id, security_group_id)`: start **one**
# Fargate task of the task definition `task_def_arn` in `cluster`, in the subnet `subnet_id`,
# **with a public IP** (`"assignPublicIp": "ENABLED"` in the `awsvpcConfiguration`: the check
# calls your task at that IP, from outside its VPC) and **in the security group
# `security_group_id`** (`"securityGroups": [...]`: it admits TCP 8080 from anywhere; the VPC's
# default group would drop the check's connection), and **return the task's ARN once the task is
# RUNNING** (not before).
#
# Notebook 04, section 5, does the same step by step: `lab.ecs.run_task(...)` answers at once,
# while the task is still PROVISIONING; boto3's waiter `lab.ecs.get_waiter("tasks_running")`
# waits until it runs (pass it `WaiterConfig={"Delay": 0.5}` to look twice a second).
#
# The check pushes the sample app to a repository of its own and registers a task definition for
# it (this takes a few seconds), calls your function, and then calls the app in your task at its
# public IP on port 8080: a real container must answer.

# %%
def run_one_task(lab, cluster, task_def_arn, subnet_id, security_group_id):
    ### BEGIN SOLUTION
    response = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=task_def_arn,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet_id], "securityGroups": [security_group_id], "assignPublicIp": "ENABLED"}
        },
    )
    task_arn = response["tasks"][0]["taskArn"]
    lab.ecs.get_waiter("tasks_running").wait(cluster=cluster, tasks=[task_arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
    return task_arn
    ### END SOLUTION

# %%
"""Check 4.2: run_one_task starts one Fargate task with a public IP and the group, returns its ARN once RUNNING, and its app answers."""
ecslab.checks.ex04.check_run_one_task(run_one_task, lab)

# %% [markdown]
# ## Exercise 4.3: which host can take the task?
#
# With the EC2 launch type, ECS places a task only on a container instance that has enough CPU and
# memory **left**. Complete `pick_instance(container_instances, cpu, memory)`:
#
# - `container_instances` is the list `lab.ecs.describe_container_instances(...)["containerInstances"]`;
# - `cpu` (CPU units) and `memory` (MiB) are what the task needs;
# - return the `containerInstanceArn` of the **first** instance in the list that is `ACTIVE` and has
#   at least `cpu` CPU units and `memory` MiB remaining, or `None` when none has room.
#
# (ECS's own placement strategies, such as binpack or spread, choose among the instances that fit;
# this exercise takes the first.) Here is one instance as the API describes it, trimmed to the
# fields that matter. Notebook 04, section 9, shows `capacity()`, which reads the same fields:

# %%
ecslab.checks.ex04.container_instance("medium", remaining=(1536, 2816), registered=(2048, 3840))

# %%
def pick_instance(container_instances, cpu, memory):
    ### BEGIN SOLUTION
    for instance in container_instances:
        if instance["status"] != "ACTIVE":
            continue
        left = {resource["name"]: resource.get("integerValue", 0) for resource in instance["remainingResources"]}
        if left["CPU"] >= cpu and left["MEMORY"] >= memory:
            return instance["containerInstanceArn"]
    return None
    ### END SOLUTION

# %%
"""Check 4.3: pick_instance returns the first ACTIVE instance with enough CPU and memory left, or None."""
ecslab.checks.ex04.check_pick_instance(pick_instance, lab)
