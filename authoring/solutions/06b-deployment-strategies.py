# %% [markdown]
# # Exercise 06b · Deployment strategies
#
# Three functions, each followed by a check cell, in the order of notebook
# `06b-deployment-strategies.ipynb`: a canary that an alarm guards, the load balancer entry that
# blue/green, canary and linear rollouts need, and a guarded rollout that the check makes go wrong.
# Write your code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line),
# run the cell, then its check. Check 6b.3 works with a load balancer, target groups and a cluster of
# its own, and deletes them afterwards.
#
# **Time:** about 25 minutes.
#
# ## Setup
#
# The setup cell builds the sample app and pushes it to the repository `ex06b-app` (check 6b.3 deploys
# it). It takes a few seconds when notebook 06b ran before, longer the first time.

# %% tags=["nbval-ignore-output"]
import ecslab
import ecslab.checks.ex06b

lab = ecslab.connect()
image_uri = ecslab.checks.ex06b.prepare_image(lab)

# %% [markdown]
# ## Exercise 6b.1: a canary guarded by an alarm
#
# Complete `canary_with_alarm(percent, canary_minutes, bake_minutes, alarm_name)` so that it returns
# the `deploymentConfiguration` (a dict, as `update_service` takes it) of a **CANARY** rollout that
#
# - sends `percent` of production traffic to the new revision for `canary_minutes` minutes, then the rest;
# - keeps both revisions running for `bake_minutes` minutes after all traffic has moved;
# - watches the CloudWatch alarm `alarm_name` and **rolls back** when it goes into `ALARM`.
#
# (Notebook 06b, sections 6 and 8; the names of the fields are in the API reference's
# `DeploymentConfiguration`.)

# %%
def canary_with_alarm(percent, canary_minutes, bake_minutes, alarm_name):
    ### BEGIN SOLUTION
    return {
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": percent, "canaryBakeTimeInMinutes": canary_minutes},
        "bakeTimeInMinutes": bake_minutes,
        "alarms": {"alarmNames": [alarm_name], "enable": True, "rollback": True},
    }
    ### END SOLUTION

# %%
"""Check 6b.1: canary_with_alarm gives a CANARY deploymentConfiguration with the percent, both bake times and an alarm that rolls back."""
ecslab.checks.ex06b.check_canary_configuration(canary_with_alarm)

# %% [markdown]
# ## Exercise 6b.2: the load balancer entry for a blue/green pair
#
# Complete `blue_green_load_balancer(blue_arn, green_arn, production_rule_arn, test_rule_arn, role_arn)`
# so that it returns the `loadBalancers` argument of `create_service` (a list with one dict) for the
# container `web` on port 8080: production traffic reaches the blue target group now, and ECS knows
# the alternate (green) group, the production and test listener rules, and the role it uses to
# change their weights. (Notebook 06b, section 2.)

# %%
def blue_green_load_balancer(blue_arn, green_arn, production_rule_arn, test_rule_arn, role_arn):
    ### BEGIN SOLUTION
    return [{
        "targetGroupArn": blue_arn,
        "containerName": "web",
        "containerPort": 8080,
        "advancedConfiguration": {
            "alternateTargetGroupArn": green_arn,
            "productionListenerRule": production_rule_arn,
            "testListenerRule": test_rule_arn,
            "roleArn": role_arn,
        },
    }]
    ### END SOLUTION

# %%
"""Check 6b.2: blue_green_load_balancer gives loadBalancers for web:8080 on blue, with green, both rules and the role in advancedConfiguration."""
ecslab.checks.ex06b.check_blue_green_entry(blue_green_load_balancer)

# %% [markdown]
# ## Exercise 6b.3: a guarded rollout
#
# The check runs a service of three v1 tasks behind a load balancer set up as in 6b.2. Complete
# `roll_out(lab, cluster, service, task_definition_arn, configuration)` so that it starts a rollout
# of `task_definition_arn` with the `deploymentConfiguration` `configuration` (a canary guarded by an
# alarm, like yours of 6b.1) and returns the **ARN of the new service deployment** (the newest entry of
# `list_service_deployments`), without waiting for it to finish.
#
# The check then plays a bad release: while the canary takes its share, it puts the alarm into
# `ALARM`. It passes when ECS rolls back to v1 and not one request through the load balancer fails.

# %%
def roll_out(lab, cluster, service, task_definition_arn, configuration):
    ### BEGIN SOLUTION
    lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition_arn, deploymentConfiguration=configuration)
    newest = lab.ecs.list_service_deployments(cluster=cluster, service=service)["serviceDeployments"][0]
    return newest["serviceDeploymentArn"]
    ### END SOLUTION

# %%
"""Check 6b.3: roll_out starts the rollout and returns its service deployment; the alarm the check raises rolls it back with no failed request."""
ecslab.checks.ex06b.check_guarded_rollout(roll_out, lab)

# %% [markdown]
# ## Cleanup
#
# Check 6b.3 deleted what it made. This deletes the repository `ex06b-app`, and anything a check left
# behind if it was interrupted.

# %%
ecslab.checks.ex06b.clean_up(lab)
