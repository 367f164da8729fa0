# %% [markdown]
# # 00 · Setup: your own pocket AWS
#
# **Goals.** By the end of this notebook you will
# - know what the *lab* is: the parts that stand in for AWS on your machine, and which of them are real;
# - have checked every part with `ecslab doctor`;
# - have made your first AWS call (create, list and delete an ECS cluster) without an AWS account;
# - know the path the course takes through ECR and ECS.
#
# **Time:** about 10 minutes of reading (an estimate); the cells alone run in about 10 seconds
# (measured on a 2-core VM, December 2026).
#
# Everything in this course runs against a **local lab on 127.0.0.1**. It is made of real
# software, not slides: [moto](https://github.com/getmoto/moto) answers the AWS APIs, a real
# Docker engine builds and runs the containers, and a real image registry stores the images.
# Where moto only *stores* things that AWS would *do* (start tasks, check health, ship logs),
# the lab does the work itself, and says so.

# %% [markdown]
# ## 1. Connect
#
# Every notebook starts with the same cell. `ecslab.connect()` starts the lab when it is not
# running (it never starts a second one) and returns `lab`, which holds boto3 clients named the
# way the whole course names them: `lab.ecr`, `lab.ecs`, `lab.elbv2`, `lab.iam`, `lab.logs`.

# %%
import ecslab
from ecslab.lab import manage

lab = ecslab.connect()
lab

# %% [markdown]
# ## 2. What runs where
#
# The lab is one background process. The picture below is drawn from its live status
# (`ecslab status --json` in a terminal), so the addresses are the ones your lab really uses.

# %%
import matplotlib.pyplot as plt

status = manage.status(lab.config).to_dict()
ecslab.diagrams.lab_map(status)
plt.show()

# %% [markdown]
# | part | what it is | real or stand-in? |
# |---|---|---|
# | AWS APIs | moto in server mode; boto3 talks to it over HTTP exactly as it talks to AWS | stand-in: answers like AWS, stores state in memory |
# | Registry | Debian's `docker-registry`, the same open-source registry many private registries run | real |
# | Docker engine | builds images and runs containers | real |
# | Gap fillers | code in the lab process that *does* what moto only records | the lab's work, listed below |
#
# moto is honest about being a stub. Here is every place where the lab steps in, in its own words:

# %%
for filler in status["fillers"]:
    print(f"{filler['name']}\n  moto alone: {filler['gap']}\n  the lab:    {filler['fills']}")

# %% [markdown]
# ## 3. Check every part: `ecslab doctor`
#
# `ecslab doctor` checks each part and, for anything wrong, prints the one command that fixes it.
# Run it in a terminal whenever something feels off. Here is its report for your machine:

# %% tags=["nbval-ignore-output"]
print(manage.render_checks(manage.doctor(lab.config)))

# %% [markdown]
# The same check as a value, so this notebook stops here if a part is missing:

# %%
problems = [check.name for check in manage.doctor(lab.config) if not check.ok]
problems

# %% [markdown]
# ## 4. Your first AWS call
#
# A cluster is ECS's top-level folder (notebook 04 explains it). Create one, list the clusters,
# then delete it, with the same boto3 calls you would make against AWS:

# %%
cluster_arn = lab.ecs.create_cluster(clusterName="hello-lab")["cluster"]["clusterArn"]
cluster_arn

# %% [markdown]
# `list_clusters` returns every cluster in the account and region; other notebooks may have made
# some, so look for yours:

# %%
[arn for arn in lab.ecs.list_clusters()["clusterArns"] if arn.endswith("/hello-lab")]

# %%
lab.ecs.delete_cluster(cluster="hello-lab")["cluster"]["status"]

# %% [markdown]
# The ARN follows AWS's format: `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`. The account,
# `123456789012`, is moto's pretend account: no bill can reach it.
#
# ## 5. Same code, two targets
#
# Nothing in the notebooks depends on being local. The lab only changes *where* boto3 sends
# its requests (the `AWS_ENDPOINT_URL`) and *which* credentials it signs them with. Flip the
# toggle to see what changes when you point the course at a real account, and what does not.

# %%
ecslab.session.target_explorer(lab.config)

# %% [markdown]
# From a terminal, `eval "$(ecslab env)"` makes plain boto3 and the `aws` CLI use the lab too:

# %%
print(manage.env_exports(lab.config))

# %% [markdown]
# ## 6. The road ahead
#
# The course follows the lecture notes section by section; each notebook has an exercise
# notebook of the same name in `exercises/`.

# %%
import pathlib

available = {path.name.split("-")[0] for path in pathlib.Path(".").glob("[0-9][0-9]*-*.ipynb")}
ecslab.diagrams.course_map(available)
plt.show()

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "Your notebook's boto3 code runs against the lab. What must change for the same code to run against a real AWS account?",
        (
            "The calls must be rewritten for AWS's own SDK",
            "Only where boto3 sends its requests (no lab endpoint URL) and the credentials it signs them with (your account's)",
            "Nothing: the lab forwards every call to AWS",
        ),
        1,
        "boto3 is AWS's own SDK, unchanged here; the lab only sets AWS_ENDPOINT_URL to 127.0.0.1 and fake credentials (section 5).",
        why_not=(
            "boto3 is AWS's SDK for Python: the same calls go to AWS.",
            "",
            "The lab never talks to AWS: moto answers on 127.0.0.1 and no bill can reach its account.",
        ),
    ),
    Question(
        "An ARN reads arn:aws:ecs:eu-west-1:111122223333:cluster/web. What does it say?",
        (
            "An ECS cluster called web, in the Region eu-west-1, of the account 111122223333",
            "A cluster called web in the Availability Zone eu-west-1, reachable at the address 111122223333",
            "An IAM user called web who may use ECS in eu-west-1",
        ),
        0,
        "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE: here the service ecs, the Region eu-west-1, the account 111122223333 and the resource "
        "cluster/web (section 4).",
        why_not=(
            "",
            "eu-west-1 is a Region (its zones are eu-west-1a, 1b, ...), and the fifth field is an account ID, not an address.",
            "The service field says ecs and the resource cluster/web; an IAM user's ARN reads arn:aws:iam::ACCOUNT:user/NAME.",
        ),
    ),
    Question(
        "Which part of the lab is a stand-in rather than the real software?",
        ("The Docker engine", "The image registry", "The AWS APIs"),
        2,
        "moto imitates the AWS APIs; the engine and the registry are the real programs.",
        why_not=(
            "It is the real Docker engine: it builds and runs the containers.",
            "It is a real registry (Debian's docker-registry), the same open-source one many private registries run.",
            "",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - The lab is moto (AWS APIs), a real registry and a real Docker engine, all on 127.0.0.1,
#   plus gap fillers where moto records but does not act.
# - `lab = ecslab.connect()` starts it when needed and gives you `lab.ecs`, `lab.ecr`, ...
# - `ecslab doctor` says what is wrong and how to fix it; `ecslab reset` gives a fresh lab.
# - The same code runs against AWS: only the endpoint and credentials change.
#
# **Exercise:** `exercises/00-setup.ipynb`.
#
# ## Cleanup
#
# This notebook deleted its cluster already. To stop the lab, run `ecslab down` in a terminal
# (it also removes every container the lab started).
