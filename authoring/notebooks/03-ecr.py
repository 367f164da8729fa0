# %% [markdown]
# # 03 · Amazon ECR: a private registry for your images
#
# **Goals.** By the end of this notebook you will
# - tell a *repository*, an *image*, a *tag*, a *digest* and a *URI* apart, and build a valid ECR URI;
# - know what ECR's authorization token is, what it contains and when it expires, and log Docker in with it;
# - push an image with the four steps (create → authenticate → tag → push) and find the very same
#   image, by digest, in `describe_images`;
# - run the notes' own commands (`aws ecr ...`, `docker login`, `docker tag`, `docker push`) against
#   the lab, beside the same steps in Python;
# - see a tag move when you push a new version, and see an IMMUTABLE repository refuse it;
# - write a lifecycle policy (expire or archive, by count, age or last pull), preview what it
#   would do, and apply it;
# - know how ECR scans images (the registry's BASIC or ENHANCED scanning), which IAM actions
#   pushing and pulling need, and what ECR says when something is wrong.
#
# **Time:** about 40 minutes of reading and trying (an estimate); the cells alone run in about
# 20–30 seconds (measured on a 2-core VM, December 2026).
#
# The lecture notes call ECR (Elastic Container Registry) AWS's fully managed Docker image
# registry: the place where you store your images privately, version them with tags, and from
# which ECS (or EKS) pulls them to run. Compared with running a registry yourself, ECR gives you
# private (or public) repositories, access control through IAM, storage that is highly
# available and scales by itself, and direct use from ECS, EKS and CodePipeline.
#
# | term | what it is | in this notebook |
# |---|---|---|
# | **Repository** | a named collection of images, one per application, e.g. `aws-node-demo` | sections 2, 3 |
# | **Image** | the image you pushed: its layers plus a manifest listing them | section 5 |
# | **Image tag** | a version label pointing at one image, e.g. `v1` or `latest` | sections 5, 6, 7 |
# | **Digest** | `sha256:...` of the manifest: the image's permanent name, derived from its content | sections 5, 6 |
# | **URI** | where the image lives: `123456789012.dkr.ecr.ap-south-1.amazonaws.com/aws-node-demo:latest` | sections 2, 3 |
# | **Authorization token** | the password Docker logs in with (`aws ecr get-login-password`) | section 4 |

# %% [markdown]
# ## 1. Connect
#
# The notebook makes three repositories, `aws-node-demo`, `aws-node-demo-cli` and
# `aws-node-demo-prod`. The first cell deletes them if an earlier run left them, so the notebook always starts from the same place;
# the Cleanup cell at the end deletes them again.

# %%
import json
import time

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import images

lab = ecslab.connect()
REPOSITORY = "aws-node-demo"
PROD_REPOSITORY = "aws-node-demo-prod"
CLI_REPOSITORY = "aws-node-demo-cli"
for name in (REPOSITORY, PROD_REPOSITORY, CLI_REPOSITORY):
    try:
        lab.ecr.delete_repository(repositoryName=name, force=True)
    except lab.ecr.exceptions.RepositoryNotFoundException:
        pass
[repository["repositoryName"] for repository in lab.ecr.describe_repositories()["repositories"] if repository["repositoryName"] in (REPOSITORY, PROD_REPOSITORY, CLI_REPOSITORY)]

# %% [markdown]
# We push the course's sample app (notebook 02 built it), in two versions that differ only in the
# version they report. The builds come from the cache when notebook 02 ran before; the local
# names `aws-node-demo:v1` and `aws-node-demo:v2` play the role of the notes' `myapp:latest`.

# %%
v1 = images.build_sample_app("aws-node-demo:v1", version="v1", client=lab.docker, config=lab.config, show_progress=False)
v2 = images.build_sample_app("aws-node-demo:v2", version="v2", client=lab.docker, config=lab.config, show_progress=False)
[v1.tag, v2.tag, v1.image_id != v2.image_id]

# %% [markdown]
# ## 2. Names: repository, image, tag, digest, URI
#
# An image URI has three parts: the **registry** (one per AWS account and region), the
# **repository** and, after a colon, the **tag**:
#
# ```
# 123456789012.dkr.ecr.ap-south-1.amazonaws.com / aws-node-demo : latest
# └─────────────── registry ──────────────────┘   └─repository┘   └tag─┘
# ```
#
# Type in the boxes: the URI is rebuilt as you type, and ECR's naming rules are checked
# (repository names are lower case, 2 to 256 characters, letters and digits joined by single
# `.`, `_` or `-`, with `/` for namespaces such as `team/aws-node-demo`).

# %%
ecr_tools.uri_builder()

# %% [markdown]
# The same, as code: take the notes' URI apart, and ask why a few names would be refused.

# %%
notes_uri = "123456789012.dkr.ecr.ap-south-1.amazonaws.com/aws-node-demo:latest"
parts = ecr_tools.parse_image_uri(notes_uri)
{"account": parts.account_id, "region": parts.region, "repository": parts.repository, "tag": parts.tag}

# %%
{name: ecr_tools.repository_name_problems(name) or "fine" for name in ["aws-node-demo", "team/aws-node-demo", "AWS_Node_Demo", "demo--app", "my app"]}

# %% [markdown]
# A tag is only a *name*: it can move to another image (section 6). What never changes is the
# **digest**, `sha256:` followed by 64 hex digits, computed from the image's manifest. Write
# `URI@sha256:...` instead of `URI:tag` and you always get the same bytes.
#
# ## 3. Step 1: create the repository
#
# `aws ecr create-repository --repository-name aws-node-demo` in the notes; with boto3:

# %%
repository = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]
repo_uri = repository["repositoryUri"]
{key: repository[key] for key in ("repositoryName", "repositoryArn", "repositoryUri", "imageTagMutability", "imageScanningConfiguration")}

# %% [markdown]
# Look at `repositoryUri`. On AWS it would be the form of section 2; the lab answers with its own
# registry:

# %%
{"on AWS": ecr_tools.ecr_uri(lab.account_id, lab.region, REPOSITORY), "in the lab": repo_uri}

# %% [markdown]
# Why the lab's URI differs, honestly:
#
# - ECR's registries speak HTTPS with a certificate for `*.amazonaws.com`. Docker's engine
#   (`dockerd`) refuses plain HTTP to any registry except those on the loopback address
#   (`localhost`, `127.0.0.1`), unless you change the engine's settings.
# - A name such as `123456789012.dkr.ecr.us-east-1.localhost` would look closer to ECR, but
#   `dockerd` does not resolve `.localhost` names, even with an `/etc/hosts` entry (measured).
# - Any other made-up name works only through an `/etc/hosts` entry, which needs root, which
#   a learner's laptop may not give (and pointing `amazonaws.com` names at your laptop would
#   shadow the real ECR).
#
# So the lab's ECR API returns `localhost:5050/NAME` as `repositoryUri`. Nothing else changes:
# the code below never writes a registry name itself. It reads `repositoryUri` from the API,
# so the same cells push to `123456789012.dkr.ecr...amazonaws.com` when pointed at AWS.
#
# ## 4. Step 2: authenticate with the authorization token
#
# A registry needs a user name and a password. ECR has no passwords of its own: you ask the ECR
# API (with your IAM credentials) for a **temporary** one. That is `get_authorization_token`:

# %%
token_data = lab.ecr.get_authorization_token()["authorizationData"][0]
sorted(token_data)

# %% [markdown]
# `authorizationToken` is base64 of `AWS:PASSWORD`: the user is always `AWS`, and `PASSWORD` is
# what `aws ecr get-login-password` prints. `ecslab.ecr.decode_token` splits it, and never shows
# more than the first characters of the password (it is a credential: keep it out of notebooks
# and logs).

# %%
login = ecr_tools.decode_token(token_data)
login

# %%
hours_left = login.expires_in() / 3600
print(f"user {login.username!r}, registry {login.registry}, password {login.masked_password}, expires in about {hours_left:.0f} hours")

# %% [markdown]
# Tokens last **12 hours**, on AWS and in the lab. After that, pushes and pulls fail with
# "Your authorization token has expired" until you log in again. (On AWS the password is a
# much longer signed blob; the lab's is shorter but checked the same way, on every request.)
#
# In a terminal, the notes' step 2 reads:
#
# ```
# aws ecr get-login-password --region us-east-1 \
#   | docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com
# ```
#
# `--password-stdin` keeps the password out of your shell history and process list. From Python,
# `docker_login` makes the same call through the Docker SDK:

# %%
ecr_tools.docker_login(lab.docker, login)

# %% [markdown]
# ## 5. Steps 3 and 4: tag, then push
#
# Step 3 gives the local image a second name, the repository's URI plus a tag, so that Docker
# knows where to push it (`docker tag aws-node-demo:v1 URI:latest`):

# %%
v1.image.tag(repo_uri, "latest")
f"{repo_uri}:latest" in lab.docker.images.get("aws-node-demo:v1").tags

# %% [markdown]
# Step 4, `docker push URI:latest`, sends the image layer by layer. `push_image` does steps 3 and
# 4 and shows each layer as it goes. On a fresh registry the big base layer (about 120 MB
# compressed) takes a few seconds; a layer the registry already has is skipped
# ("Layer already exists") or copied inside the registry from another repository
# ("Mounted from ...").

# %% tags=["nbval-ignore-output"]
push_v1 = ecr_tools.push_image(lab.docker, "aws-node-demo:v1", repo_uri, "latest", login)
push_v1

# %% [markdown]
# The push ends with the **digest** of the manifest it uploaded. Ask ECR what it now holds
# (`describe_images`) and compare:

# %%
described = lab.ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": "latest"}])["imageDetails"][0]
{"same digest as the push reported": push_v1.digest == described["imageDigest"], "tags": described["imageTags"]}

# %% [markdown]
# ECR stores the layers **compressed**, so the size it reports is smaller than the size
# `docker images` shows for the same image on your machine:

# %%
{"local image (docker images)": images.human_size(v1.image.attrs["Size"]), "in ECR (imageSizeInBytes)": images.human_size(described["imageSizeInBytes"])}

# %% [markdown]
# Two digests, two files: the ECR **digest** is the SHA-256 of the *manifest*, which lists the
# image's *config* and its compressed layers by their digests. The local **image ID** depends on
# Docker's image store (notebook 02, section 8): with the classic store (this lab's engine) it is
# the config's digest, so it differs from the ECR digest; with the containerd image store (Docker
# Desktop's default) it is the manifest's digest, and may equal it. The manifest ECR holds says
# which:

# %%
manifest = json.loads(lab.ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": described["imageDigest"]}])["images"][0]["imageManifest"])
{
    "the config's digest, from the manifest": manifest["config"]["digest"][:19] + "…",
    "the ECR digest (the manifest's)": described["imageDigest"][:19] + "…",
    "the local image ID is one of them": v1.image_id in (manifest["config"]["digest"], described["imageDigest"]),
}

# %% [markdown]
# The ECR console shows a repository as a table: tags, digest, size, push time. `images_table`
# draws the same from `describe_images`:

# %%
ecr_tools.images_table(lab.ecr, REPOSITORY)

# %% [markdown]
# ### The same four steps, as the notes write them
#
# The notes teach these steps as shell commands. They run here as written, in `%%bash` cells,
# with the AWS CLI (version 1, installed with the course) and the `docker` command. One line
# points them at the lab: `eval "$(ecslab env)"` sets `AWS_ENDPOINT_URL`, test credentials and the
# region (run `ecslab env` in a terminal to see them). Against a real account you leave that line
# out and the same commands reach ECR. The first cell makes the course's programs (`aws`,
# `ecslab`) visible to `%%bash`, whichever way JupyterLab was started:

# %%
import os
import sys

os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]

# %% [markdown]
# Step 1, create the repository, and ask for nothing but its URI (`--query` filters the answer,
# `--output text` drops the JSON quotes):

# %%
# %%bash
eval "$(ecslab env)"
aws ecr create-repository --repository-name aws-node-demo-cli --query repository.repositoryUri --output text

# %% [markdown]
# Steps 2 to 4. `get-login-password` prints the token's password; `docker login` reads it from
# standard input (only its last line, `Login Succeeded`, is kept: before it, Docker may warn that
# it stores the password unencrypted in your home folder). `docker push --quiet` prints only the
# name it pushed. Then `describe-images`, as in Python:

# %%
# %%bash
eval "$(ecslab env)"
REPO_URI=$(aws ecr describe-repositories --repository-names aws-node-demo-cli --query 'repositories[0].repositoryUri' --output text)
REGISTRY=${REPO_URI%%/*}
aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin "$REGISTRY" 2>&1 | tail -n 1
docker tag aws-node-demo:v1 "$REPO_URI:latest"
docker push --quiet "$REPO_URI:latest"
aws ecr describe-images --repository-name aws-node-demo-cli --query 'imageDetails[].[imageTags[0], imageDigest]' --output text

# %% [markdown]
# The same image, so the same digest as the Python push in the repository next door (the
# digest names the content, not the repository):

# %%
cli_digest = lab.ecr.describe_images(repositoryName=CLI_REPOSITORY)["imageDetails"][0]["imageDigest"]
cli_digest == push_v1.digest

# %% [markdown]
# ## 6. Push a new version: the tag moves
#
# Push v2 under the same tag, `latest`. (Push times are kept to the second; the short pause keeps
# "newer" well defined for the lifecycle policies of section 8.)

# %%
time.sleep(1.1)
push_v2 = ecr_tools.push_image(lab.docker, "aws-node-demo:v2", repo_uri, "latest", login, show_progress=False)
push_v2

# %% [markdown]
# Nothing was uploaded but the new config and manifest: v2's layers are the same files as v1's
# (only the version in its config differs), so every layer was "already there". And the old
# image? `list_images` can filter by tag status:

# %%
names = {push_v1.digest: "the v1 image", push_v2.digest: "the v2 image"}
{
    status: [(image.get("imageTag", "(no tag)"), names[image["imageDigest"]]) for image in lab.ecr.list_images(repositoryName=REPOSITORY, filter={"tagStatus": status})["imageIds"]]
    for status in ("TAGGED", "UNTAGGED")
}

# %% [markdown]
# `latest` moved to v2. The v1 image was **not** deleted: it is *untagged*, still stored (and
# billed, on AWS), still reachable by its digest. Pulling by digest gives exactly the image we
# pushed first, whatever the tags say:

# %%
pulled = lab.docker.images.pull(f"{repo_uri}@{push_v1.digest}", auth_config=login.auth_config)
pulled.id == v1.image_id

# %% [markdown]
# This is why teams push version tags (`v2`, a git commit, a build number) next to `latest`, and
# why a task definition that must not change under your feet names an image by digest. Add the
# tag `v2` to the v2 image: the same push, under another tag, uploads nothing at all.

# %%
push_v2_tag = ecr_tools.push_image(lab.docker, "aws-node-demo:v2", repo_uri, "v2", login, show_progress=False)
{"same image": push_v2_tag.digest == push_v2.digest, "layers uploaded": len(push_v2_tag.uploaded)}

# %%
ecr_tools.plot_repository(REPOSITORY, ecr_tools.image_records(lab.ecr, REPOSITORY))
plt.show()

# %% [markdown]
# What did each push do with the image's 120 MB? ECR's manifest gives each layer's compressed
# size. A layer is *uploaded* only when no repository of the registry has it; *mounted* when
# another repository of the same registry has it (the registry links it, nothing travels); and
# skipped when this repository has it already. The first bar depends on what your registry
# held before: on a fresh lab, all of it is uploaded.

# %%
sizes = ecr_tools.layer_sizes(lab.ecr, REPOSITORY, push_v2.digest, v2.image)
pushes = {"v1 → latest (first push)": push_v1, "v2 → latest": push_v2, "v2 → v2 (new tag)": push_v2_tag}
ecr_tools.plot_pushes(pushes, sizes)
plt.show()

# %% [markdown]
# ## 7. Tag mutability: tags that never move
#
# A moving `latest` is handy while developing and dangerous in production: what ran yesterday
# under `v1` should be what runs under `v1` today. A repository created with
# `imageTagMutability="IMMUTABLE"` refuses every push to a tag that exists. Make a production
# repository that way, and push v1 as `v1`:

# %%
prod = lab.ecr.create_repository(repositoryName=PROD_REPOSITORY, imageTagMutability="IMMUTABLE")["repository"]
prod_uri = prod["repositoryUri"]
push_prod = ecr_tools.push_image(lab.docker, "aws-node-demo:v1", prod_uri, "v1", login, show_progress=False)
{"mutability": prod["imageTagMutability"], "same digest as in aws-node-demo": push_prod.digest == push_v1.digest}

# %% [markdown]
# Same image, same digest, in another repository: the digest depends only on the content. Now
# try to push v2 under the existing tag `v1`. ECR refuses, in its own words; `push_image`
# raises `EcrError` with that message and a hint:

# %%
try:
    ecr_tools.push_image(lab.docker, "aws-node-demo:v2", prod_uri, "v1", login, show_progress=False)
except ecr_tools.EcrError as error:
    print(error)

# %%
prod_images = lab.ecr.describe_images(repositoryName=PROD_REPOSITORY)["imageDetails"]
[(image["imageTags"], image["imageDigest"] == push_v1.digest) for image in prod_images]

# %% [markdown]
# `v1` still points at the v1 image. And pushing the *same* image again under `v1`, as a CI
# pipeline does when a job is re-run? Nothing would move, but ECR does not compare digests: a
# tag that exists in an IMMUTABLE repository is refused, full stop (AWS's docs: "the
# ImageTagAlreadyExistsException error is returned if you push an image with a tag that is
# already in the repository").

# %%
try:
    ecr_tools.push_image(lab.docker, "aws-node-demo:v1", prod_uri, "v1", login, show_progress=False)
except ecr_tools.EcrError as error:
    print(error)

# %% [markdown]
# So a pipeline that pushes to an IMMUTABLE repository checks first whether the tag exists
# (`describe_images(imageIds=[{"imageTag": "v1"}])`) and skips the push when it does. To release
# v2, push it as `v2`. (ECR also offers `IMMUTABLE_WITH_EXCLUSION`: immutable except for tags that
# match filters you list, such as `latest`; the lab's moto stores that setting too.)
#
# ## 8. Lifecycle policies: deleting old images by rule
#
# Every push adds an image, and ECR bills storage by the gigabyte-month. A **lifecycle policy**
# is a list of rules. Each rule **selects** images, by tag status (`tagged`, `untagged`, `any`)
# and, for tagged images, by tag prefix (`tagPrefixList`: `["v"]`) or tag pattern
# (`tagPatternList`: `["v*", "release-*-final"]`, `*` matching anything); then it **counts**:
#
# | `countType` | acts on the selected images... |
# |---|---|
# | `imageCountMoreThan` | beyond the newest `countNumber` |
# | `sinceImagePushed` | pushed more than `countNumber` days ago |
# | `sinceImagePulled` | not pulled for `countNumber` days (ECR records each image's `lastRecordedPullTime`) |
# | `sinceImageTransitioned` | archived more than `countNumber` days ago (with `"storageClass": "archive"`) |
#
# and **acts**: `expire` deletes; `transition` (with `"targetStorageClass": "archive"`) moves the
# image to ECR's cheaper *archive* storage class, where it is still listed but cannot be pulled
# until it is restored. Give the repository two more releases, a second apart, so that it holds a
# real history:

# %%
for version in ("v3", "v4"):
    time.sleep(1.1)  # push times are kept to the second: keep "newer" well defined
    images.build_sample_app(f"aws-node-demo:{version}", version=version, client=lab.docker, config=lab.config, show_progress=False)
    ecr_tools.push_image(lab.docker, f"aws-node-demo:{version}", repo_uri, version, login, show_progress=False)
records = ecr_tools.image_records(lab.ecr, REPOSITORY)
[record.tags or ["(untagged)"] for record in records]

# %% [markdown]
# The playground below evaluates one rule over these real images, the way ECR documents it
# (rules by priority, newest images kept first). Change the controls and watch which images
# turn red. Try `tagged` with prefix `v` and `countNumber` 2: which image goes, and which tags
# go with it? Then `sinceImagePushed`: why does nothing expire?

# %%
ecr_tools.lifecycle_playground(records)

# %% [markdown]
# A real policy is JSON. This one keeps the 3 newest images, whatever their tags:

# %%
policy_text = json.dumps({
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep the 3 newest images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3},
            "action": {"type": "expire"},
        }
    ]
})
ecr_tools.check_policy(policy_text)

# %% [markdown]
# Put it on the repository, then ask ECR for a **preview** (`start_lifecycle_policy_preview`,
# then `get_lifecycle_policy_preview`) before anything is deleted:

# %%
lab.ecr.put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=policy_text)
preview = ecr_tools.lifecycle_preview(lab.ecr, REPOSITORY)
[(result["imageTags"] or ["(untagged)"], names.get(result["imageDigest"]), result["appliedRulePriority"]) for result in preview]

# %% [markdown]
# Only the old, untagged v1 image would go. On AWS, ECR applies a policy by itself, within 24
# hours of putting it. The lab never deletes behind your back: `apply_lifecycle_policy` expires
# what the preview lists, now, through `batch_delete_image`:

# %%
expired = ecr_tools.apply_lifecycle_policy(lab.ecr, REPOSITORY)
[names.get(digest) for digest in expired]

# %%
ecr_tools.images_table(lab.ecr, REPOSITORY)

# %% [markdown]
# Archiving instead of deleting: a policy that moves releases nobody pulled for 90 days to the
# archive, and deletes what sat a year in the archive. `check_policy` validates it as ECR would:

# %%
archive_policy = json.dumps({
    "rules": [
        {
            "rulePriority": 1,
            "description": "archive releases not pulled for 90 days",
            "selection": {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90},
            "action": {"type": "transition", "targetStorageClass": "archive"},
        },
        {
            "rulePriority": 2,
            "description": "delete what sat a year in the archive",
            "selection": {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 365},
            "action": {"type": "expire"},
        },
    ]
})
ecr_tools.check_policy(archive_policy)

# %% [markdown]
# Today it would do nothing: the images are seconds old. The evaluator the lab uses
# (`ecslab.ecr_lifecycle.evaluate`) can look 100 days ahead, with the repository's real images
# (none of them pulled since, so each counts from its push):

# %%
from datetime import UTC, datetime, timedelta

from ecslab import ecr_lifecycle

in_100_days = ecr_lifecycle.evaluate(archive_policy, ecr_tools.image_records(lab.ecr, REPOSITORY), now=datetime.now(UTC) + timedelta(days=100))
[(verdict.image.tags, verdict.to_preview()["action"]) for verdict in in_100_days.expired]

# %% [markdown]
# What the lab does **not** do: it records no pull times (every image counts from its push) and
# has no archive. `get_lifecycle_policy_preview` lists `TRANSITION` actions as ECR would, but
# `apply_lifecycle_policy` only deletes what expires and says what AWS would have archived.
#
# Back to the expired v1 image: it is gone from ECR and from the registry behind it. Asking for its manifest by
# digest (`batch_get_image`, what a pull does first) now fails:

# %%
[(failure["failureCode"], failure["failureReason"]) for failure in lab.ecr.batch_get_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": push_v1.digest}])["failures"]]

# %% [markdown]
# ## 9. Image scanning: a setting of the registry
#
# ECR can scan images for known vulnerabilities (CVEs). You may meet the old way in tutorials:
# `create_repository(imageScanningConfiguration={"scanOnPush": True})`, one repository at a time.
# AWS's API reference now says that parameter "is being deprecated, in favor of specifying the
# image scanning configuration at the registry level". The registry's **scanning configuration**
# has a type and rules:
#
# | `scanType` | what scans | when (`scanFrequency`) |
# |---|---|---|
# | `BASIC` (the default) | ECR itself, operating-system packages | `SCAN_ON_PUSH` for the repositories the rule's filters match, or `MANUAL` (`start_image_scan`) |
# | `ENHANCED` | Amazon Inspector (billed by Inspector): OS packages **and** language packages (pip, npm, ...) | `SCAN_ON_PUSH` or `CONTINUOUS_SCAN` (re-scanned when new CVEs are published) |
#
# Read the registry's configuration, then scan on push every repository whose name starts with
# `aws-node-demo-prod` (a `WILDCARD` filter):

# %%
lab.ecr.get_registry_scanning_configuration()["scanningConfiguration"]

# %%
scan_rules = [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": f"{PROD_REPOSITORY}*", "filterType": "WILDCARD"}]}]
lab.ecr.put_registry_scanning_configuration(scanType="BASIC", rules=scan_rules)["registryScanningConfiguration"]

# %% [markdown]
# With `scanType="ENHANCED"` the same call hands scanning to Inspector (on AWS, it must be
# enabled for the account first). The results are read the same way in both cases, with
# `describe_image_scan_findings`.

# %% [markdown]
# Be clear about what the lab can do here: **it has no scanner**. It stores the scanning
# configuration, but a push does not start a scan, so asking for findings first gets ECR's
# "no scan" error:

# %%
try:
    lab.ecr.describe_image_scan_findings(repositoryName=PROD_REPOSITORY, imageId={"imageTag": "v1"})
except ClientError as error:
    print(ecr_tools.explain(error))

# %% [markdown]
# A scan started by hand (`start_image_scan`, which AWS also offers) "finds" one vulnerability.
# It is moto's **fixed, fake** finding, the same for every image, not the result of looking at
# your image. It shows the *shape* of real findings: a CVE name, a severity, the package.

# %%
lab.ecr.start_image_scan(repositoryName=PROD_REPOSITORY, imageId={"imageTag": "v1"})
findings = lab.ecr.describe_image_scan_findings(repositoryName=PROD_REPOSITORY, imageId={"imageTag": "v1"})["imageScanFindings"]
[(finding["name"], finding["severity"], {a["key"]: a["value"] for a in finding["attributes"]}["package_name"]) for finding in findings["findings"]]

# %% [markdown]
# On AWS, a real finding names a real package of your base image (say `openssl`), and the fix is
# usually a newer base image: rebuild, push, deploy.
#
# ## 10. Who may push and pull
#
# The notes: IAM controls who can push and pull images. Each step of `docker login` / `push` /
# `pull` is an ECR API action that an IAM policy must allow:
#
# | action | used by | what it does |
# |---|---|---|
# | `ecr:GetAuthorizationToken` | push and pull | gets the 12-hour password (resource `*`: it is per account, not per repository) |
# | `ecr:BatchCheckLayerAvailability` | push and pull | "do you have this layer?" (the *Layer already exists* answer) |
# | `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`, `ecr:CompleteLayerUpload` | push | upload one layer |
# | `ecr:PutImage` | push | upload the manifest: this is what creates or moves a tag |
# | `ecr:BatchGetImage` | pull | read the manifest of a tag or digest |
# | `ecr:GetDownloadUrlForLayer` | pull | download a layer |
#
# A CI job that pushes to this one repository, and nothing else, needs a policy like this
# (AWS's managed policies `AmazonEC2ContainerRegistryReadOnly` and `...PowerUser` are the broad
# versions for pulling, and for pushing too):

# %%
push_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
            ],
            "Resource": repository["repositoryArn"],
        },
    ],
}
print(json.dumps(push_policy, indent=2))

# %% [markdown]
# ECS itself pulls with the *task execution role*, which needs the pull actions. The lab's moto
# does not enforce IAM: policies are stored, not checked. Notebook 07 (security) creates roles
# and policies and explains them.
#
# ## 11. When ECR says no
#
# Mistakes are cheap here, so make three on purpose. ECR's message comes first, unchanged; the
# hint after it (`ecslab.ecr.explain`) says what to do. A repository name with capitals, through
# plain boto3:

# %%
try:
    lab.ecr.create_repository(repositoryName="AWS_Node_Demo")
except ClientError as error:
    print(ecr_tools.explain(error))

# %% [markdown]
# A push to a repository that was never created:

# %%
registry = ecr_tools.parse_image_uri(repo_uri).registry
try:
    ecr_tools.push_image(lab.docker, "aws-node-demo:v1", f"{registry}/no-such-repo", "v1", login, show_progress=False)
except ecr_tools.EcrError as error:
    print(error)

# %% [markdown]
# By default ECR does not create repositories on push. But a registry may have
# **repository creation templates**: a template for a name prefix (or `ROOT`, for every name) with
# `appliedFor=["CREATE_ON_PUSH"]` makes ECR create a missing repository when an image is pushed to
# it, with the template's settings (tag mutability, lifecycle policy, tags, encryption):
#
# ```python
# ecr.create_repository_creation_template(
#     prefix="team-a",                      # repositories named team-a/...
#     appliedFor=["CREATE_ON_PUSH"],        # also: PULL_THROUGH_CACHE, REPLICATION
#     imageTagMutability="IMMUTABLE",
#     lifecyclePolicy=policy_text,
# )
# ```
#
# **The lab does not model templates**: its moto has no such API, and its registry refuses pushes
# to unknown repositories, as ECR does without a template. Creating repositories explicitly, as
# this course does, works the same everywhere.
#
# Two more registry features a 2026 learner meets, neither of which **the lab can run**:
#
# | feature | what it does | the API |
# |---|---|---|
# | pull-through cache | your private registry caches images from an upstream registry (ECR Public, Docker Hub, Quay, the GitHub, GitLab and Azure container registries, Kubernetes' registry, Chainguard, or another ECR): the first pull of `ACCOUNT.dkr.ecr.REGION.amazonaws.com/PREFIX/IMAGE:TAG` fetches it upstream, later pulls come from your account (with its scanning and lifecycle rules) | `create_pull_through_cache_rule(ecrRepositoryPrefix=..., upstreamRegistryUrl=..., upstreamRegistry=...)`; an upstream that needs a login gets its credentials from a Secrets Manager secret (`credentialArn`) |
# | archive storage | section 8's `transition` action, or `update_image_storage_class(targetStorageClass="ARCHIVE")` by hand, moves an image to the archive: listed with `imageStatus` ARCHIVED, not pullable until restored (`targetStorageClass="STANDARD"` or a new push) | `update_image_storage_class` |
#
# Tag-immutability exclusions (section 7's `IMMUTABLE_WITH_EXCLUSION`, and `MUTABLE_WITH_EXCLUSION`
# for the opposite) take `imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}]`.
#
# Deleting a repository that still holds images, without `force=True`:

# %%
try:
    lab.ecr.delete_repository(repositoryName=REPOSITORY)
except ClientError as error:
    print(ecr_tools.explain(error))

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "You want every repository of the registry scanned for CVEs when images are pushed. Where do you say so today?",
        ("In each create_repository call: imageScanningConfiguration={'scanOnPush': True}", "Once, in the registry's scanning configuration (put_registry_scanning_configuration)", "In the task definition"),
        1,
        "Scanning is a registry setting: BASIC (ECR) or ENHANCED (Inspector), with rules whose filters pick the repositories; the repository-level scanOnPush is being deprecated.",
        why_not=("That per-repository parameter is being deprecated in favour of the registry's configuration.", "", "Task definitions say how to run an image, not how to scan it."),
    ),
    Question(
        "You push v2 as `latest` to a MUTABLE repository where `latest` was v1. What happens to the v1 image?",
        ("It is deleted", "It stays, untagged, reachable by its digest", "It is renamed latest-1"),
        1,
        "A push only moves the tag. The old image stays (and is billed) until you or a lifecycle policy delete it.",
        why_not=("ECR deletes nothing on a push; only batch_delete_image or a lifecycle policy do.", "", "ECR never invents tags; the old image simply has none left."),
    ),
    Question(
        "What is inside ECR's authorization token?",
        ("Your IAM access key", "base64 of AWS:PASSWORD, a password valid for 12 hours", "A password that never expires"),
        1,
        "The user is always AWS; the password is temporary. Your IAM credentials only serve to ask for it.",
        why_not=("Your keys sign the get_authorization_token call; they never go to Docker.", "", "It expires after 12 hours; then docker push says the token has expired."),
    ),
    Question(
        "A CI job re-runs and pushes the very same image again as v1 to an IMMUTABLE repository that already has v1. What does ECR answer?",
        ("Nothing happens: same digest, so the push is accepted", "The push is refused: the tag v1 already exists", "v1 moves to a copy of the image"),
        1,
        "ECR refuses any push to an existing tag of an IMMUTABLE repository, even of the same image (ImageTagAlreadyExistsException, 'tag invalid' in docker). Check whether the tag exists before pushing.",
        why_not=("ECR does not compare digests for an existing tag: it refuses.", "", "Tags never move in an IMMUTABLE repository, and ECR makes no copies."),
    ),
    Question(
        "Why does the lab's repositoryUri start with localhost:5050 instead of ACCOUNT.dkr.ecr.REGION.amazonaws.com?",
        (
            "dockerd speaks plain HTTP only to loopback registries, and the code reads repositoryUri from the API anyway",
            "ECR URIs depend on your laptop's hostname",
            "moto cannot store the amazonaws.com form",
        ),
        0,
        "Without HTTPS and a certificate, only localhost-like names work without root or engine settings; code that uses repositoryUri runs unchanged on AWS.",
        why_not=("", "The URI names your account and region, never your machine.", "moto stores whatever URI it is given; the lab chose localhost on purpose."),
    ),
    Question(
        "A service must run exactly the image you tested, even after someone pushes a new latest. What do you reference?",
        ("URI:latest", "URI@sha256:<digest>", "The local image ID"),
        1,
        "A digest names content and cannot move; a tag can (unless the repository is IMMUTABLE). The local image ID belongs to your Docker engine (the config's digest with the classic image store), not to the registry.",
        why_not=("latest moves with every push to a MUTABLE repository.", "", "ECS pulls from the registry by tag or manifest digest; your engine's image ID is no registry reference."),
    ),
])

# %% [markdown]
# ## Summary
#
# - A **repository** holds the **images** of one app; a **tag** is a movable name for one image; the
#   **digest** is its permanent, content-derived name; the **URI** is `registry/repository:tag`.
# - The four steps: `create_repository` → `get_authorization_token` + `docker login` (user `AWS`, a
#   12-hour password) → `docker tag` → `docker push`. Only layers the repository lacks travel.
# - The notes' commands (`aws ecr get-login-password | docker login --password-stdin`, `docker tag`,
#   `docker push`) do the same steps from a shell; `eval "$(ecslab env)"` points them at the lab.
# - `describe_images` shows what you pushed: same digest, compressed size, push time. Pushing a tag
#   again moves it and leaves the old image untagged; IMMUTABLE repositories refuse any push to an
#   existing tag, even of the same image.
# - Lifecycle policies select images by tag status, prefix or pattern, count them (how many, days
#   since push, since last pull, since archived) and expire or archive them; preview them first.
# - Scanning is the registry's setting (BASIC, or ENHANCED with Inspector), not the deprecated
#   per-repository scan-on-push; the lab's finding is moto's fake. IAM decides who may push and pull.
# - The lab's URI is `localhost:5050/NAME` for a reason you can explain; the code is the same on AWS.
#
# **Exercise:** `exercises/03-ecr.ipynb`: create a release repository, push to it, and write a
# lifecycle policy.
#
# ## Cleanup
#
# Delete the three repositories (with `force=True`, since they hold images), put the registry's
# scanning configuration back to its default (BASIC, no rules), and remove the local names this
# notebook made. `ecslab-sample:v1` from notebook 02 stays.

# %%
deleted = [lab.ecr.delete_repository(repositoryName=name, force=True)["repository"]["repositoryName"] for name in (REPOSITORY, PROD_REPOSITORY, CLI_REPOSITORY)]
lab.ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
cli_uri = f"{registry}/{CLI_REPOSITORY}"
pushed_to = [repo_uri, prod_uri, cli_uri, f"{registry}/no-such-repo"]
local_names = [f"aws-node-demo:{version}" for version in ("v1", "v2", "v3", "v4")]
local_names += [reference for uri in pushed_to for reference in ecr_tools.local_references(lab.docker, uri)]
images.remove_images(local_names, client=lab.docker, config=lab.config)
{"repositories deleted": deleted, "local names left": [reference for uri in pushed_to for reference in ecr_tools.local_references(lab.docker, uri)]}
