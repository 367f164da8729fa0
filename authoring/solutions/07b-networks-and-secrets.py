# %% [markdown]
# # Exercise 07b · Networks and secrets
#
# Two functions, each followed by a check cell, in the order of notebook
# `07b-networks-and-secrets.ipynb`: the two security groups of a web service behind a load
# balancer, written with plain EC2 calls, and a task that gets a database password from Secrets
# Manager. Write your code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()`
# line), run the cell, then its check. Each check works in objects of its own (`ex07b-check-...`)
# and deletes them afterwards, whether your code passed or not.
#
# **Time:** about 25 minutes.
#
# ## Setup
#
# The setup cell builds the course's AWS app (a web server with boto3 inside) and pushes it to the
# repository `ex07b-app`; the check of 7b.2 runs it.

# %% tags=["nbval-ignore-output"]
import json

import ecslab
import ecslab.checks.ex07b

lab = ecslab.connect()
image_uri = ecslab.checks.ex07b.prepare_image(lab)

# %%
image_uri.split("/", 1)[1]  # repository:tag, in the lab's registry (image_uri has the registry's address too)

# %% [markdown]
# ## Exercise 7b.1: the two security groups of a web service
#
# Notebook 07b (section 2) got its pair of groups from one helper call,
# `network.create_web_security_groups`. Now write what it does. Complete
# `create_web_groups(lab, vpc_id, alb_group_name, task_group_name)` so that it
#
# 1. creates the **load balancer's group** `alb_group_name` in the VPC `vpc_id`
#    (`lab.ec2.create_security_group`; it wants a `Description` too) and lets **TCP port 80 in from
#    anywhere** (`0.0.0.0/0`) with `lab.ec2.authorize_security_group_ingress`;
# 2. creates the **tasks' group** `task_group_name` in the same VPC and lets **TCP port 8080 in from
#    the load balancer's group only**: the rule's source is the first group (`UserIdGroupPairs`),
#    not an address range;
# 3. returns the two groups' IDs, `(alb_group_id, task_group_id)`.
#
# The rules take `IpPermissions`, a list of `{"IpProtocol": "tcp", "FromPort": ..., "ToPort": ...,
# "IpRanges": [{"CidrIp": ...}]}` or `... "UserIdGroupPairs": [{"GroupId": ...}]}`: the shape
# notebook 07b printed. Use plain `lab.ec2` calls: the check refuses ecslab's
# `create_web_security_groups`. It hands you a VPC of its own and reads the rules back from EC2.

# %%
def create_web_groups(lab, vpc_id, alb_group_name, task_group_name):
    ### BEGIN SOLUTION
    alb_group = lab.ec2.create_security_group(GroupName=alb_group_name, Description="load balancer: HTTP 80 from anywhere", VpcId=vpc_id)["GroupId"]
    lab.ec2.authorize_security_group_ingress(
        GroupId=alb_group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    task_group = lab.ec2.create_security_group(GroupName=task_group_name, Description="tasks: 8080 from the load balancer only", VpcId=vpc_id)["GroupId"]
    lab.ec2.authorize_security_group_ingress(
        GroupId=task_group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": alb_group}]}],
    )
    return alb_group, task_group
    ### END SOLUTION

# %%
"""Check 7b.1: create_web_groups makes the load balancer's group (80 from anywhere) and the tasks' group (8080 from the load balancer's group only)."""
ecslab.checks.ex07b.check_web_groups(create_web_groups, lab)

# %% [markdown]
# ## Exercise 7b.2: a secret, injected by ECS
#
# The check stores a database password in Secrets Manager (a random value you never see), makes an
# **execution role** for you with AWS's managed policy only (it can pull images, not read secrets),
# and gives you their names. Complete
# `run_with_secret(lab, cluster, execution_role_name, image_uri, secret_arn)` so that it
#
# 1. lets the execution role read **this secret only**: an inline policy
#    (`lab.iam.put_role_policy`) that allows `secretsmanager:GetSecretValue` on `secret_arn`;
# 2. registers a Fargate task definition (family `execution_role_name`, `cpu="256"`,
#    `memory="512"`, `networkMode="awsvpc"`) with that role as its `executionRoleArn` (its ARN:
#    `lab.iam.get_role(RoleName=...)["Role"]["Arn"]`) and one container named `app` running
#    `image_uri`, port 8080, whose `secrets` puts the secret in the variable **`DB_PASSWORD`**;
# 3. runs one task of it in `cluster` (the check made the cluster) with `launchType="FARGATE"`
#    and the default VPC's subnets, waits until it is RUNNING (`lab.ecs.get_waiter("tasks_running")`)
#    and returns the **task's ARN**.
#
# Never read the secret yourself (`get_secret_value`), never print it: the check looks at
# everything your function prints and returns, and at the task definition.

# %%
def run_with_secret(lab, cluster, execution_role_name, image_uri, secret_arn):
    ### BEGIN SOLUTION
    read_secret = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}],
    }
    lab.iam.put_role_policy(RoleName=execution_role_name, PolicyName="read-db-password", PolicyDocument=json.dumps(read_secret))
    role_arn = lab.iam.get_role(RoleName=execution_role_name)["Role"]["Arn"]
    task_def_arn = lab.ecs.register_task_definition(
        family=execution_role_name,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        executionRoleArn=role_arn,
        containerDefinitions=[{
            "name": "app",
            "image": image_uri,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": secret_arn}],
        }],
    )["taskDefinition"]["taskDefinitionArn"]
    default_vpc = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in lab.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"]]
    task_arn = lab.ecs.run_task(
        cluster=cluster,
        taskDefinition=task_def_arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
    )["tasks"][0]["taskArn"]
    lab.ecs.get_waiter("tasks_running").wait(cluster=cluster, tasks=[task_arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
    return task_arn
    ### END SOLUTION

# %%
"""Check 7b.2: run_with_secret runs a task whose app sees DB_PASSWORD, read by an execution role allowed only that secret, and never shows the value."""
ecslab.checks.ex07b.check_run_with_secret(run_with_secret, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted its own VPC, security groups, roles, secret, cluster and task definitions.
# This deletes the repository `ex07b-app` and anything a check left behind if it was interrupted.

# %%
ecslab.checks.ex07b.clean_up(lab)
