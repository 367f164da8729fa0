# %% [markdown]
# # Exercise 05 · Deploy to ECS
#
# Three functions, each followed by a check cell, in the order of notebook
# `05-deploy-to-ecs.ipynb`: deploy a Fargate service (steps 3 to 6), find where its tasks
# answer (step 7), and roll it to a new revision. Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then its
# check. Each check works in a cluster of its own and deletes it afterwards.
#
# **Time:** about 30 minutes.
#
# ## Setup
#
# The setup cell builds the sample app and pushes it to the repository `ex05-app` (steps 1 and
# 2, which notebook 05 showed). It takes about half a minute the first time; `image_uri` is
# what every exercise deploys.

# %% tags=["nbval-ignore-output"]
import ecslab
from ecslab import security

lab = ecslab.connect()
image_uri = ecslab.checks.ex05.prepare_image(lab)

# %%
image_uri

# %% [markdown]
# Then create the execution role ECS uses to pull your image and write your logs (the ECS
# console does this on first use). A Fargate task definition with an image from ECR must name
# it in `executionRoleArn`, or ECS refuses it; the check of 5.1 gives its ARN to your function as
# `execution_role_arn`.

# %%
execution_role_arn = security.ensure_execution_role(lab.iam)
execution_role_arn

# %% [markdown]
# ## Exercise 5.1: a Fargate service with two tasks
#
# Complete `deploy_service(lab, cluster, service, image_uri, execution_role_arn, security_group_id)`
# so that it
#
# 1. creates the ECS cluster `cluster`;
# 2. registers a task definition for Fargate: family `service`, one essential container named
#    `web` running `image_uri` with port 8080 mapped, task `cpu="256"` and `memory="512"`,
#    `networkMode="awsvpc"`, `requiresCompatibilities=["FARGATE"]`, and
#    `executionRoleArn=execution_role_arn` (the role that lets ECS pull `image_uri` from ECR);
# 3. creates the service `service` in that cluster: that task definition, `desiredCount=2`,
#    `launchType="FARGATE"`, and a `networkConfiguration` whose `awsvpcConfiguration` lists the
#    **default VPC's subnets** (`lab.ec2.describe_vpcs` with the filter `isDefault`, then
#    `lab.ec2.describe_subnets` filtered by that `vpc-id`), gives each task a **public IP**
#    (`"assignPublicIp": "ENABLED"`: the check calls the tasks from outside the VPC) and the
#    security group `security_group_id` (`"securityGroups": [...]`: it admits TCP 8080 from
#    anywhere; without it the tasks get the VPC's default group, which drops the check's calls);
# 4. returns the **service's ARN**.
#
# Do not wait for the tasks: the check waits for the steady state, then calls both tasks.

# %%
def deploy_service(lab, cluster, service, image_uri, execution_role_arn, security_group_id):
    ### BEGIN SOLUTION
    lab.ecs.create_cluster(clusterName=cluster)
    task_def_arn = lab.ecs.register_task_definition(
        family=service,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        executionRoleArn=execution_role_arn,
        containerDefinitions=[{
            "name": "web",
            "image": image_uri,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        }],
    )["taskDefinition"]["taskDefinitionArn"]
    default_vpc = lab.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in lab.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"]]
    response = lab.ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=task_def_arn,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [security_group_id], "assignPublicIp": "ENABLED"}
        },
    )
    return response["service"]["serviceArn"]
    ### END SOLUTION

# %%
"""Check 5.1: deploy_service creates a 2-task Fargate service whose tasks both answer."""
ecslab.checks.ex05.check_deploy_service(deploy_service, lab)

# %% [markdown]
# ## Exercise 5.2: where do the tasks answer?
#
# Complete `task_urls(lab, cluster, service)` so that it returns one URL per **running task
# of that service**, of the form `http://PUBLIC_IP:8080`, found the AWS way: list the service's
# tasks (`list_tasks` with `serviceName`), describe them (`describe_tasks` takes the whole list);
# each task's `attachments` hold the `details` of its network interface, among them its
# `networkInterfaceId`; `lab.ec2.describe_network_interfaces(NetworkInterfaceIds=[...])` gives the
# interface, whose public IP is `["Association"]["PublicIp"]`. The app listens on its container
# port, 8080. (A Fargate task has no `networkBindings`, and its `privateIPv4Address` answers only
# inside the VPC.)
#
# The check makes a service with two tasks and, in the same cluster, another service with one.

# %%
def task_urls(lab, cluster, service):
    ### BEGIN SOLUTION
    task_arns = lab.ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]
    if not task_arns:
        return []
    urls = []
    for task in lab.ecs.describe_tasks(cluster=cluster, tasks=task_arns)["tasks"]:
        details = {d["name"]: d["value"] for a in task["attachments"] for d in a["details"]}
        interface = lab.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][0]
        urls.append(f"http://{interface['Association']['PublicIp']}:8080")
    return urls
    ### END SOLUTION

# %%
"""Check 5.2: task_urls returns the URL of each running task of the service, and only those."""
ecslab.checks.ex05.check_task_urls(task_urls, lab)

# %% [markdown]
# ## Exercise 5.3: roll to v2
#
# The sample app reports the version in its `APP_VERSION` environment variable. Complete
# `roll_to_v2(lab, cluster, service)` so that it
#
# 1. reads the service's current task definition (`describe_services`, then
#    `describe_task_definition`);
# 2. registers a **new revision of the same family** whose container has
#    `APP_VERSION=v2` in its `environment`, everything else unchanged. Careful:
#    `describe_task_definition` returns fields that `register_task_definition` does not accept
#    (`taskDefinitionArn`, `revision`, `status`, ...): copy only `family`,
#    `containerDefinitions`, `cpu`, `memory`, `networkMode`, `requiresCompatibilities` and
#    `executionRoleArn` (without the execution role, ECS refuses the new revision);
# 3. updates the service to the new revision and **waits** until the rollout is over (one
#    deployment, all tasks running): `lab.ecs.get_waiter("services_stable")` with
#    `WaiterConfig={"Delay": 1}` (its default is 15 s between polls), or
#    `ecslab.ecs.wait_for_steady_state(lab.ecs, cluster, service)`;
# 4. returns the new task definition's ARN.

# %%
def roll_to_v2(lab, cluster, service):
    ### BEGIN SOLUTION
    current = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    definition = lab.ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    containers = definition["containerDefinitions"]
    environment = [item for item in containers[0].get("environment", []) if item["name"] != "APP_VERSION"]
    containers[0]["environment"] = environment + [{"name": "APP_VERSION", "value": "v2"}]
    keep = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn")
    new_arn = lab.ecs.register_task_definition(**{key: definition[key] for key in keep if key in definition})["taskDefinition"]["taskDefinitionArn"]
    lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=new_arn)
    lab.ecs.get_waiter("services_stable").wait(cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return new_arn
    ### END SOLUTION

# %%
"""Check 5.3: roll_to_v2 registers an APP_VERSION=v2 revision and returns once only v2 answers."""
ecslab.checks.ex05.check_roll_to_v2(roll_to_v2, lab)

# %% [markdown]
# ## Cleanup
#
# Each check deleted its own cluster. This deletes the repository `ex05-app` and anything a
# check left behind if it was interrupted.

# %%
ecslab.checks.ex05.clean_up(lab)
