# %% [markdown]
# # Exercise 00 · Setup
#
# Two short exercises to make sure the lab works for you. Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then run
# the check cell below it. A check prints a green line when your answer is right and
# explains what to change when it is not.

# %%
import ecslab

lab = ecslab.connect()

# %% [markdown]
# ## Exercise 0.1: create a cluster
#
# Complete `create_cluster(lab, name)`: create an ECS cluster called `name` with `lab.ecs`
# and **return its ARN** (the response holds it under `["cluster"]["clusterArn"]`).

# %%
def create_cluster(lab, name):
    ### BEGIN SOLUTION
    response = lab.ecs.create_cluster(clusterName=name)
    return response["cluster"]["clusterArn"]
    ### END SOLUTION

# %%
"""Check 0.1: create_cluster makes an ACTIVE cluster and returns its ARN."""
ecslab.checks.ex00.check_create_cluster(create_cluster, lab)

# %% [markdown]
# ## Exercise 0.2: plain boto3
#
# Later checks use plain boto3, with no ecslab in between. Complete `make_ecs_client(endpoint_url,
# region)` so that it returns `boto3.client("ecs", ...)` aimed at the lab: pass the endpoint URL
# and the region, and any credentials (the lab accepts any: use `"testing"` for both the key ID and the secret).

# %%
import boto3


def make_ecs_client(endpoint_url, region):
    ### BEGIN SOLUTION
    return boto3.client(
        "ecs",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ### END SOLUTION

# %%
"""Check 0.2: make_ecs_client returns a boto3 ECS client that reaches the lab."""
ecslab.checks.ex00.check_plain_client(make_ecs_client, lab)
