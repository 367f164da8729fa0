# %% [markdown]
# # Exercise 03 · Amazon ECR
#
# Three exercises on notebook 03: a repository for releases, the four steps of a push, and a
# lifecycle policy. Write your code where it says `# YOUR CODE HERE` (delete the
# `raise NotImplementedError()` line), run the cell, then run the check cell below it. Each check
# works in a repository of its own and deletes it afterwards; a check prints a green line when
# your answer is right and says what to change when it is not.
#
# **Time:** about 25 minutes.

# %%
import json

import ecslab
from ecslab import ecr as ecr_tools

lab = ecslab.connect()

# %% [markdown]
# ## Exercise 3.1: a repository for releases
#
# Complete `create_release_repository(lab, name)`: create an ECR repository called `name` whose
# tags can never be overwritten (**IMMUTABLE**), make the registry **scan it on push**, then
# **return its URI** (the one `docker push` needs).
#
# Scanning is a setting of the *registry*, not of one repository (the repository's own
# `scanOnPush` is deprecated): `lab.ecr.put_registry_scanning_configuration(scanType="BASIC",
# rules=[...])`, with one rule whose `scanFrequency` is `"SCAN_ON_PUSH"` and whose
# `repositoryFilters` holds a `WILDCARD` filter matching `name`. (That call replaces the
# registry's rules; the check puts the old configuration back afterwards.)
#
# Notebook 03, sections 3, 7 and 9, shows the calls.

# %%
def create_release_repository(lab, name):
    ### BEGIN SOLUTION
    response = lab.ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    lab.ecr.put_registry_scanning_configuration(
        scanType="BASIC",
        rules=[{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": name, "filterType": "WILDCARD"}]}],
    )
    return response["repository"]["repositoryUri"]
    ### END SOLUTION

# %%
"""Check 3.1: create_release_repository makes an IMMUTABLE repository that the registry scans on push, and returns its URI."""
ecslab.checks.ex03.check_release_repository(create_release_repository, lab)

# %% [markdown]
# ## Exercise 3.2: the four steps
#
# The check creates a repository and gives you its URI, `repo_uri`, and the name of a local
# image, `image` (a small one, so that the check is quick). Complete `push_release(lab, repo_uri,
# image)` with the Docker SDK (`lab.docker`) and boto3 (`lab.ecr`) yourself, so that it
#
# 1. gets a login from ECR: `lab.ecr.get_authorization_token()["authorizationData"][0]` holds
#    `authorizationToken` (base64 of `AWS:PASSWORD`) and `proxyEndpoint` (the registry, after
#    `https://`),
# 2. logs the Docker engine in with it: `lab.docker.login(username=..., password=..., registry=...)`,
# 3. tags `image` as `repo_uri:v1`: `lab.docker.images.get(image).tag(repo_uri, "v1")`, and
# 4. pushes it: `lab.docker.images.push(repo_uri, "v1", stream=True, decode=True,
#    auth_config={"username": ..., "password": ...})` gives docker's events one by one; an
#    `{"error": ...}` event means the push was refused,
#
# then **returns the digest the push reported** (`sha256:...`): it is in the push's last event,
# `{"aux": {"Digest": ...}}`. (`ecr_tools.push_image` does steps 3 and 4 for the notebooks; here
# the exercise is to write them, so the check does not accept it.)

# %%
import base64


def push_release(lab, repo_uri, image):
    ### BEGIN SOLUTION
    data = lab.ecr.get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = data["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
    lab.docker.login(username=username, password=password, registry=registry, reauth=True)
    lab.docker.images.get(image).tag(repo_uri, "v1")
    digest = None
    events = lab.docker.images.push(
        repo_uri, "v1", stream=True, decode=True, auth_config={"username": username, "password": password}
    )
    for event in events:
        if "error" in event:
            raise RuntimeError(f"the push was refused: {event['error']}")
        digest = event.get("aux", {}).get("Digest", digest)
    return digest
    ### END SOLUTION

# %%
"""Check 3.2: push_release pushes the image as v1 and returns the digest ECR lists for v1."""
ecslab.checks.ex03.check_push_release(push_release, lab)

# %% [markdown]
# ## Exercise 3.3: keep the two newest releases
#
# Releases are tagged `v1`, `v2`, `v3`, ...; the repository also holds other images (nightly
# builds tagged `dev-...`, and untagged images left behind when `latest` moved). Complete
# `release_policy()` so that it returns a lifecycle policy, **as JSON text**, that keeps only the
# **2 newest images with a tag starting with `v`** and expires older ones, and touches nothing
# else.
#
# The check pushes a small history (oldest first: `v1`, `dev-1`, `v2`, an old `latest`, `v3`,
# `v4` + `latest`), puts your policy on the repository and asks ECR for a preview: exactly `v1`
# and `v2` must expire. `ecr_tools.check_policy(text)` checks a policy's form before you run
# the check, and notebook 03's lifecycle playground helps you choose the selection.

# %%
def release_policy():
    ### BEGIN SOLUTION
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the 2 newest releases",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["v"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 2,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    return json.dumps(policy)
    ### END SOLUTION

# %%
"""Check 3.3: release_policy expires exactly the v-images older than the newest two."""
ecslab.checks.ex03.check_lifecycle_policy(release_policy, lab)
