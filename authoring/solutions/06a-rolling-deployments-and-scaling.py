# %% [markdown]
# # Exercise 06a · Rolling deployments
#
# One function followed by its check cell, from notebook `06a-rolling-deployments-and-scaling.ipynb`
# (section 2): deployment percentages for a budget. Write your code where it says `# YOUR CODE HERE`
# (delete the `raise NotImplementedError()` line), run the cell, then its check. The check asks ECS
# itself whether it accepts your numbers, with a cluster of its own that it deletes afterwards.
#
# **Time:** about 10 minutes (an estimate); the check runs in a few seconds (6 s measured).
#
# ## Setup

# %%
import ecslab
import ecslab.checks.ex06a
from ecslab import elb as elb_tools

lab = ecslab.connect()

# %% [markdown]
# ## Exercise 6a.1: deployment percentages
#
# A service runs 4 tasks behind the ALB. During a rolling deployment it must **never have fewer
# than 4 healthy tasks**, and the account's budget allows **no more than 6 tasks** at a time; within
# those limits the rollout should go as fast as it can (as many new tasks at once as allowed).
#
# Complete `deployment_configuration()` so that it returns the two numbers for `create_service`'s
# `deploymentConfiguration`: `{"minimumHealthyPercent": ..., "maximumPercent": ...}`. ECS rounds
# the minimum up and the maximum down (notebook 06a, section 2; `elb_tools.deployment_bounds` and
# `elb_tools.deployment_widget()` let you try values). The check also asks ECS whether it accepts
# them.

# %%
elb_tools.deployment_bounds(4, minimum_healthy_percent=100, maximum_percent=200)

# %%
def deployment_configuration():
    ### BEGIN SOLUTION
    return {"minimumHealthyPercent": 100, "maximumPercent": 150}
    ### END SOLUTION

# %%
"""Check 6a.1: deployment_configuration keeps 4 of 4 tasks healthy, runs at most 6, and ECS accepts it."""
ecslab.checks.ex06a.check_deployment_configuration(deployment_configuration, lab)

# %% [markdown]
# ## Cleanup
#
# The check deleted what it made. This deletes anything it left behind if it was interrupted.

# %%
ecslab.checks.ex06a.clean_up(lab)
