# %% [markdown]
# # Exercise 09 · Capstone
#
# Three functions, written from scratch this time, each followed by a check cell, in the order of
# notebook `09-capstone.ipynb`: the app behind a load balancer, a rollout that loses no request,
# and a least-privilege policy for the app's task role. Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then its
# check. The checks of 9.1 and 9.2 call your function with a name of their own
# (`ex09-check-web`, `ex09-check-roll`), send real requests through the load balancer, and delete
# everything named after it afterwards, whether your code passed or not.
#
# **Time:** about 45 minutes.
#
# What you may use: boto3's clients on `lab` (`lab.ecs`, `lab.elbv2`, `lab.ec2`, ...) and the
# course's helpers, as in notebooks 05 to 09: `elb_tools.default_subnets`, `elb_tools.listener_url`,
# `network.create_web_security_groups`, `ecs_tools.task_definition`.
#
# ## Setup
#
# The setup cell builds the sample app as v1 and v2 and pushes both to the repository `ex09-app`.
# It takes a few seconds when notebook 09 ran before, longer the first time.

# %% tags=["nbval-ignore-output"]
import ecslab
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import network

lab = ecslab.connect()
image_uris = ecslab.checks.ex09.prepare_images(lab)

# %%
{version: uri.rsplit("/", 1)[-1] for version, uri in image_uris.items()}

# %% [markdown]
# ## Exercise 9.1: the app behind a load balancer
#
# Complete `deploy_behind_alb(lab, name, image_uri, execution_role_arn)` so that it runs the image
# `image_uri` as **2 Fargate tasks behind an Application Load Balancer** and returns the URL to
# send requests to. Name everything `name` (the check finds and deletes your resources by it):
#
# 1. **security groups**: the pair of notebooks 06 and 09,
#    `network.create_web_security_groups(lab.ec2, vpc_id, prefix=name)`, which returns the ID of
#    the load balancer's group (port 80 from anywhere) and of the tasks' group (port 8080 from the
#    load balancer's group only); `elb_tools.default_subnets(lab.ec2)` returns the default VPC's ID
#    and its subnets (take two: two Availability Zones);
# 2. the **load balancer** `name` in the load balancer's group, a **target group** `name` for
#    Fargate tasks on port 8080 checking `GET /health` (every 5 s, healthy after 2 passes, so you
#    do not wait minutes), and an HTTP **listener on port 80** forwarding to the target group;
# 3. the **cluster** `name`, a **task definition** of family `name` for the image, with the
#    execution role `execution_role_arn` (`ecs_tools.task_definition` writes one: container `web`,
#    port 8080);
# 4. the **service** `name`: 2 tasks on Fargate, in the tasks' security group, registered in the
#    target group (`loadBalancers`);
# 5. wait until **both targets are healthy**, and return `elb_tools.listener_url(lab, alb_arn)`.
#
# The check sends 20 requests through your URL the moment your function returns, and looks at the
# security groups of the load balancer and of the tasks.

# %%
def deploy_behind_alb(lab, name, image_uri, execution_role_arn):
    ### BEGIN SOLUTION
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    subnets = subnets[:2]  # two Availability Zones: the least an ALB takes
    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc_id, prefix=name)
    alb_arn = lab.elbv2.create_load_balancer(
        Name=name, Subnets=subnets, SecurityGroups=[alb_group], Type="application", Scheme="internet-facing"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg_arn = lab.elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip", HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    lab.elbv2.create_listener(LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])
    lab.ecs.create_cluster(clusterName=name)
    definition = ecs_tools.task_definition(name, image_uri, execution_role_arn=execution_role_arn)
    task_def_arn = lab.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=task_def_arn,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [task_group], "assignPublicIp": "ENABLED"}},
        loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
    )
    # both tasks RUNNING means both registered; then wait for every registered target to be healthy
    lab.ecs.get_waiter("services_stable").wait(cluster=name, services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    lab.elbv2.get_waiter("target_in_service").wait(TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return elb_tools.listener_url(lab, alb_arn)
    ### END SOLUTION

# %%
"""Check 9.1: deploy_behind_alb runs 2 Fargate tasks behind an ALB (web security groups) and returns the listener's URL once both answer through it."""
ecslab.checks.ex09.check_deploy_behind_alb(deploy_behind_alb, lab)

# %% [markdown]
# ## Exercise 9.2: a rollout that loses no request
#
# A service runs v1 behind a load balancer (the check makes it, as in 9.1). Complete
# `roll_out(lab, cluster, service, new_image_uri)` so that it moves the service to the image
# `new_image_uri` the way notebooks 06 and 09 did, under traffic, **without a failed request**:
#
# 1. register a **new revision** of the service's task definition that differs only in the
#    image: read the current one (`describe_services` names it, `describe_task_definition` returns
#    it), copy the fields `register_task_definition` takes (`family`, `containerDefinitions`,
#    `cpu`, `memory`, `networkMode`, `requiresCompatibilities`, `executionRoleArn`, and
#    `taskRoleArn` if there is one), change `containerDefinitions[0]["image"]`;
# 2. `update_service` to it;
# 3. wait until the rollout is over (only the new version answers), and return the new
#    revision's ARN.
#
# The check sends 20 requests a second through the load balancer all along, and 2.5 s more after
# your function returns: none may fail, and from 1 s after the return on, all must come from v2.

# %%
def roll_out(lab, cluster, service, new_image_uri):
    ### BEGIN SOLUTION
    current = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    definition = lab.ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    fields = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn", "taskRoleArn")
    revision = {key: definition[key] for key in fields if key in definition}
    revision["containerDefinitions"][0]["image"] = new_image_uri
    new_arn = lab.ecs.register_task_definition(**revision)["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=new_arn)
    # one deployment left, with all its tasks running: the old tasks have left the target group
    lab.ecs.get_waiter("services_stable").wait(cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return new_arn
    ### END SOLUTION

# %%
"""Check 9.2: roll_out moves the service to the new image under steady traffic: no request fails, and only v2 answers once it returns."""
ecslab.checks.ex09.check_roll_out(roll_out, lab)

# %% [markdown]
# ## Exercise 9.3: a least-privilege task role
#
# The app's next version reads its settings from S3: the objects under the prefix `settings/` of
# the bucket `bucket` (for example `settings/app.json`). It reads keys it knows (no listing) and
# never writes. Complete `task_role_policy(bucket)` so that it returns the **identity policy** for
# the app's task role (a dict, as in notebooks 07 and 09) that allows exactly that, and nothing
# else.
#
# The check has IAM store your policy on a role, then asks, with IAM's rules, whether the role may
# read two settings objects, and whether it may do seven things the app does not need.

# %%
def task_role_policy(bucket):
    ### BEGIN SOLUTION
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadSettings", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/settings/*"}],
    }
    ### END SOLUTION

# %%
"""Check 9.3: task_role_policy lets the app read bucket/settings/* and nothing else."""
ecslab.checks.ex09.check_task_role_policy(task_role_policy, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted what it made. This deletes the repository `ex09-app`, and anything a check
# left behind if it was interrupted.

# %%
ecslab.checks.ex09.clean_up(lab)
