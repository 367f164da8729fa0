# %% [markdown]
# # Exercise 06 · Load balancing
#
# Two functions, each followed by a check cell, in the order of notebook
# `06-load-balancing.ipynb`: a target group for Fargate tasks, and a service behind an
# Application Load Balancer. (Deployment percentages are exercise 06a's.) Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then its
# check. Each check works with a load balancer, target group and cluster of its own, and deletes
# them afterwards.
#
# **Time:** about 20 minutes (an estimate); the two checks run in about a minute (72 s measured with the
# solutions, most of it check 6.2's service becoming healthy).
#
# ## Setup
#
# The setup cell builds the sample app and pushes it to the repository `ex06-app` (the check of
# 6.2 deploys it). It takes a few seconds when notebook 06 ran before, longer the first time.

# %% tags=["nbval-ignore-output"]
import ecslab
from ecslab import elb as elb_tools

lab = ecslab.connect()
image_uri = ecslab.checks.ex06.prepare_image(lab)

# %%
image_uri

# %% [markdown]
# ## Exercise 6.1: a target group for Fargate tasks
#
# Complete `create_target_group(lab, name, vpc_id)` so that it creates, with
# `lab.elbv2.create_target_group`, a target group called `name` in the VPC `vpc_id` that
#
# - takes **Fargate tasks** as targets (which `TargetType`?) on **port 8080** over HTTP;
# - checks `GET /health` every **5 s**, waits at most **2 s** for the answer, and counts a target
#   healthy after **2** passed checks in a row;
#
# and returns the target group's **ARN**. (Notebook 06, section 2.)

# %%
def create_target_group(lab, name, vpc_id):
    ### BEGIN SOLUTION
    response = lab.elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
    )
    return response["TargetGroups"][0]["TargetGroupArn"]
    ### END SOLUTION

# %%
"""Check 6.1: create_target_group makes an ip target group for port 8080 that checks /health every 5 s, healthy after 2."""
ecslab.checks.ex06.check_target_group(create_target_group, lab)

# %% [markdown]
# ## Exercise 6.2: two tasks behind the load balancer
#
# The check gives your function an empty cluster `cluster`, a load balancer without a listener,
# a target group like yours, a task definition of the sample app (container `web`, port 8080)
# and the ID of a security group for the tasks. The check made the pair of security groups of
# notebook 06 (`network.create_web_security_groups`): the load balancer's admits port 80 from
# anywhere, and `task_security_group` admits port 8080 from the load balancer's group only.
# Complete `serve_behind_alb(lab, cluster, service, load_balancer_arn, target_group_arn,
# task_def_arn, task_security_group)` so that it
#
# 1. creates an HTTP **listener on port 80** that forwards to the target group;
# 2. creates the Fargate service `service` with **2 tasks** of `task_def_arn`, in the default
#    VPC's subnets (`elb_tools.default_subnets(lab.ec2)` returns the VPC ID and its subnets) and
#    in the security group `task_security_group` (`securityGroups` in `awsvpcConfiguration`:
#    without it the tasks are in the VPC's default group, which the load balancer cannot reach),
#    with `loadBalancers` so that ECS registers each task's container `web`, port 8080, in the
#    target group;
# 3. waits until **both targets are healthy**;
# 4. returns the URL to send requests to: `elb_tools.listener_url(lab, load_balancer_arn)`.
#
# The check sends 20 requests to your URL the moment your function returns, and wants both tasks
# to answer.

# %%
def serve_behind_alb(lab, cluster, service, load_balancer_arn, target_group_arn, task_def_arn, task_security_group):
    ### BEGIN SOLUTION
    lab.elbv2.create_listener(
        LoadBalancerArn=load_balancer_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}]
    )
    _, subnets = elb_tools.default_subnets(lab.ec2)
    lab.ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=task_def_arn,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [task_security_group], "assignPublicIp": "ENABLED"}},
        loadBalancers=[{"targetGroupArn": target_group_arn, "containerName": "web", "containerPort": 8080}],
    )
    # both tasks RUNNING means both registered; then wait for every registered target to be healthy
    lab.ecs.get_waiter("services_stable").wait(cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=target_group_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return elb_tools.listener_url(lab, load_balancer_arn)
    ### END SOLUTION

# %%
"""Check 6.2: serve_behind_alb puts 2 tasks (in the task security group) behind the ALB and returns the listener's URL once both answer through it."""
ecslab.checks.ex06.check_serve_behind_alb(serve_behind_alb, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted what it made. This deletes the repository `ex06-app`, and anything a check
# left behind if it was interrupted.

# %%
ecslab.checks.ex06.clean_up(lab)
