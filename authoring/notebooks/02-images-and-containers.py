# %% [markdown]
# # 02 · Images and containers: the blueprint and its instances
#
# **Goals.** By the end of this notebook you will
# - read a Dockerfile line by line and say what each instruction does;
# - build an image and read what the builder did at each step;
# - see an image as a stack of layers, measure them, and predict which steps the build cache
#   reuses when you change one line;
# - tell an image from a container (a class from its objects): start several containers from one
#   image and see that each has its own hostname and its own writable layer;
# - run, list, read the logs of, stop and remove containers;
# - explain why an image never changes: its ID is a digest of its content, and a tag is a name
#   that can move from one ID to another;
# - know where images are shared (registries: Docker Hub, ECR), which notebook 03 uses.
#
# **Time:** about 35 minutes of reading and trying (an estimate); the cells alone run in 15 seconds
# to 1 minute (measured on a shared 2-core VM, December 2026: the busier the machine, the longer).
#
# The lecture notes sum it up in one table:
#
# | concept | what it is | in this notebook |
# |---|---|---|
# | **Docker image** | a blueprint, like a class in OOP: an immutable package of app and dependencies | sections 3, 4, 8 |
# | **Container** | a running instance of an image, like an object made from the class | sections 6, 7 |
# | **Dockerfile** | a text file of instructions to build the image | sections 2, 5 |
# | **Docker Hub / ECR** | registries where images are stored and shared | section 9, then notebook 03 |

# %% [markdown]
# ## 1. Connect
#
# `PURPOSE` is a label put on every container this notebook starts; the Cleanup cell at the end
# removes exactly those. The `images` and `containers` helpers talk to the lab's Docker engine
# (the one `lab.docker` is a client of) unless you pass another one as `client=`.

# %%
import matplotlib.pyplot as plt
from IPython.display import HTML

import ecslab
from ecslab import containers, images

lab = ecslab.connect()
PURPOSE = "nb02"
base = images.base_image(lab.docker)
base

# %% [markdown]
# `base` is the image the sample app starts from. On a laptop with internet it is
# `python:3.12-slim` from Docker Hub; where nothing can be pulled, `ecslab base-image` made a
# Debian image with Python 3 instead, and the course passes its name to the build.
#
# ## 2. Read the Dockerfile
#
# The course's sample app is one file, `app.py`: a small JSON API with the routes `/`, `/health`
# and `/work`, on Python's standard library only. Its Dockerfile says how to package it:

# %%
dockerfile = (images.sample_app_dir() / "Dockerfile").read_text()
print(dockerfile)

# %% [markdown]
# Docker reads it as a list of instructions; comments and blank lines are not instructions:

# %%
for instruction in images.dockerfile_instructions(dockerfile):
    print(f"line {instruction.line:2}  {instruction.keyword:8} {instruction.arguments}")

# %% [markdown]
# Line by line:
#
# | instruction | what it does | happens at |
# |---|---|---|
# | `ARG BASE_IMAGE=python:3.12-slim` | declares a build argument and its default. An `ARG` *before* `FROM` is the only kind `FROM` can use | build |
# | `FROM ${BASE_IMAGE}` | starts from a base image: its files (Debian, Python) become the bottom layers of ours | build |
# | `WORKDIR /app` | makes `/app` and uses it as the current folder for the instructions after it, and for the container's process | build and run |
# | `ENV PYTHONUNBUFFERED=1 PORT=8080` | environment variables baked into the image: every container starts with them | run |
# | `COPY app.py .` | copies a file from the *build context* (the folder you build) into the image | build |
# | `ARG APP_VERSION=v1` then `ENV APP_VERSION=...` | a second build argument, turned into an environment variable the app reports | build, then run |
# | `LABEL ...` | metadata (key=value) stored in the image's config; no files | build |
# | `EXPOSE 8080` | documents the port the app listens on. It publishes nothing: `docker run -p` does | documentation |
# | `CMD ["python3", "app.py"]` | the command a container runs when it starts: one process, whose end is the container's end | run |
#
# A Dockerfile often also has `RUN` (run a command at build time, such as `pip install`, and keep
# the files it wrote as a new layer). This one needs none: the app has no dependencies.
#
# ## 3. Build
#
# `docker build` runs the instructions in order and saves the result of each step: the last one is
# the image we asked for. Watch it go step by step (the table under the bar says what the builder
# did for each step):
#
# > **Two builders, two looks.** Since Docker Engine 23.0, `docker build` in a terminal uses
# > **BuildKit** (Docker's docs: "BuildKit is the default builder for users on Docker Desktop, and
# > Docker Engine as of version 23.0"). Its output reads `#6 [3/5] COPY app.py .` and
# > `#6 CACHED`, and it may run independent steps in parallel. The *classic* builder prints
# > `Step 3/9 : COPY app.py .`, `---> Running in …` and `---> Using cache`. ecslab builds through
# > the Docker SDK, which asks the engine for the classic builder, so the table below looks the
# > classic way on every engine; this lab's engine (20.10) uses the classic builder in a terminal too.
# > Both builders reuse a step under the same rule (section 5); only the words differ.

# %% tags=["nbval-ignore-output"]
v1 = images.build_sample_app("ecslab-sample:v1", version="v1")
v1

# %% [markdown]
# Two steps deserve a word. Step 1, the `ARG` before `FROM`, makes nothing: it only sets the value
# `FROM` uses. The last step, `LABEL ecslab.lab=...`, is not in the Dockerfile at all: it comes
# from `--label`, which ecslab adds so that it can find and remove its own images later.
# What we built:

# %%
{"tag": v1.tag, "image ID": v1.short_id, "steps": len(v1.steps), "version label": v1.image.labels["org.opencontainers.image.version"]}

# %% [markdown]
# Build it again, with nothing changed. The builder finds every step in its cache and makes
# nothing new: the result is the very same image, and it takes a fraction of the time (unless
# this notebook ran before: then the first build was served from the cache too).

# %%
again = images.build_sample_app("ecslab-sample:v1", show_progress=False)
{"counts": again.counts(), "same image ID": again.image_id == v1.image_id}

# %%
print(f"first build {v1.seconds:.2f} s, build with everything cached {again.seconds:.2f} s")

# %% [markdown]
# ## 4. An image is a stack of layers
#
# A step that touches files (the base itself, `WORKDIR` making `/app`, `COPY`, `RUN`) adds a
# *layer*: an archive of the files it added, changed or deleted. Steps that only set metadata
# (`ENV`, `LABEL`, `EXPOSE`, `CMD`...) change the image's config and add no files: they show as
# 0 B. `docker history` lists one entry per step, base first:

# %%
layers = images.image_layers(v1.image, base=base)
HTML(images.layers_table(layers))

# %% [markdown]
# The `COPY` line shows `file:` and a digest: the builder records a digest of the file's
# *content*. Section 5 uses it. How big are the layers?

# %%
fig, (linear, logarithmic) = plt.subplots(1, 2, figsize=(13, 0.4 * len(layers) + 1.5), sharey=True)
images.plot_layers(layers, ax=linear)
images.plot_layers(layers, ax=logarithmic, log=True)
linear.set_title("Layer sizes")
logarithmic.set_title("The same, on a log scale")
fig.tight_layout()
plt.show()

# %%
base_bytes = sum(layer.size for layer in layers if layer.source == "base image")
our_bytes = sum(layer.size for layer in layers if layer.source != "base image")
{
    "base image": images.human_size(base_bytes),
    "our layers": images.human_size(our_bytes),
    "base share": f"{base_bytes / (base_bytes + our_bytes):.2%}",
    "history entries": len(layers),
    "layers of files": len(v1.image.attrs["RootFS"]["Layers"]),
}

# %% [markdown]
# Only a few history entries hold files (here the base, `WORKDIR` and `COPY`), and almost the whole
# image is its base. That is good news: layers are stored once and shared.
# Every image built on the same base, and every container started from them, uses the same
# copy on disk; a registry stores it once, and a machine that pulls the next version only
# downloads the small layers on top.
#
# ## 5. Layers and caching: change one line, rebuild
#
# Before running a step, the builder looks for a result it made earlier from **the same parent
# layer with the same instruction** (for `COPY`: the same file content). If it finds one, it
# reuses it (the classic builder says `---> Using cache`, BuildKit says `CACHED`). From the first
# step that misses, every later step runs again, because its parent is new.
#
# Below, each change is really made to a fresh copy of the sample app, which is then rebuilt
# (an earlier image of the same change is removed first, so the result is the same every run):

# %%
changes = [
    images.Change("nothing: rebuild as is"),
    images.Change("CMD: run python3 -u", old='CMD ["python3", "app.py"]', new='CMD ["python3", "-u", "app.py"]'),
    images.Change("build argument APP_VERSION=v1.1", buildargs=(("APP_VERSION", "v1.1"),)),
    images.Change("app.py: a new greeting", file="app.py", old="Hello from the ecslab sample API", new="Hello from a rebuilt sample API"),
    images.Change("ENV: add TZ=UTC", old="ENV PYTHONUNBUFFERED=1 PORT=8080", new="ENV PYTHONUNBUFFERED=1 PORT=8080 TZ=UTC"),
    images.Change("WORKDIR /app becomes /srv/app", old="WORKDIR /app", new="WORKDIR /srv/app"),
]
change_tags = [f"ecslab-02-change:{number}" for number in range(len(changes))]
rebuilds = {
    change.label: images.build_changed_sample_app(change, tag)
    for change, tag in zip(changes, change_tags, strict=True)
}
{label: result.counts() for label, result in rebuilds.items()}

# %% [markdown]
# Pick a change to see, step by step, what the builder reused (green) and what it ran again
# (orange):

# %%
images.cache_explorer(rebuilds)

# %% [markdown]
# All six side by side:

# %%
images.plot_cache(rebuilds)
plt.show()

# %% [markdown]
# The lesson for writing Dockerfiles: **put what changes rarely at the top and what changes
# often at the bottom.** Code changes most often, so it is copied late; in apps with
# dependencies, `COPY requirements.txt` and `RUN pip install` come before `COPY . .`, so an
# edit to the code does not reinstall every library. The sample app sets its version last, so
# v1 and v2 share every layer above `ENV APP_VERSION`.
#
# ## 6. Image vs container: one blueprint, many instances
#
# An image is to a container what a class is to an object. Start three containers from the one
# image (each publishes port 8080 on a port of 127.0.0.1 that docker picks) and ask each who it is:

# %%
web = [containers.run_container(v1.tag, name=f"ecslab-02-web-{n}", purpose=PURPOSE) for n in (1, 2, 3)]
hostnames = [server.get_json("/")["hostname"] for server in web]
hostnames

# %%
{
    "containers": len(web),
    "distinct hostnames": len(set(hostnames)),
    "images behind them": len({server.container.image.id for server in web}),
    "hostname is the container's ID": all(server.container.id.startswith(name) for server, name in zip(web, hostnames, strict=True)),
}

# %% [markdown]
# Each container sees the image's files through its own **writable layer** on top of the
# image's read-only layers. Write a file inside `web-1` (`docker exec`), then look for it in
# `web-1` and in `web-2`:

# %%
first, second = web[0].container, web[1].container
first.exec_run(["sh", "-c", "echo 'written inside web-1' > /app/note.txt"]).exit_code

# %%
{name: box.exec_run(["cat", "/app/note.txt"]).output.decode().strip() for name, box in (("web-1", first), ("web-2", second))}

# %% [markdown]
# `docker diff` lists what a container changed on top of its image (`Kind` 0: changed,
# 1: added, 2: deleted). `web-1` added one file in `/app`; `web-2` changed nothing:

# %%
{"web-1": first.diff(), "web-2": second.diff() or []}

# %% [markdown]
# And the image? A brand-new container of it shows only what the Dockerfile put in `/app`:

# %%
lister = containers.run_container(v1.tag, name="ecslab-02-ls", command=["ls", "/app"], container_port=None, wait_for_http=None, purpose=PURPOSE)
lister.container.wait(timeout=15)["StatusCode"], lister.logs().split()

# %% [markdown]
# The image did not change, and never will: its ID is still the one we built.

# %%
lab.docker.images.get(v1.tag).id == v1.image_id

# %% [markdown]
# This is why containers on ECS must be *stateless*: ECS starts several copies of a task from one
# image, replaces them when they fail, and each new one starts from the image, not from what the
# old one wrote. Data that must last goes to a database, S3 or a volume.
#
# ## 7. Run, list, logs, stop
#
# Notebook 01 met these commands; here they are on our three containers.
# `docker ps -a` lists containers, running or not; `list_containers` lists the lab's:

# %%
containers.list_containers(purpose=PURPOSE)

# %% [markdown]
# Send three requests to `web-2`, then read its logs (`docker logs`): the app writes one line
# per request to standard output, and Docker keeps it.

# %%
for _ in range(3):
    web[1].get_json("/")

# %% tags=["nbval-ignore-output"]
print(web[1].logs(tail=10))

# %%
sorted({line.split(" ", 2)[2] for line in web[1].logs(tail=100).splitlines() if '"GET /' in line})  # each kind of line once

# %% [markdown]
# (The two words cut off each line are the date and time.) `docker stop` sends the process
# SIGTERM, and SIGKILL if it has not exited after a grace period. The sample app exits as soon as
# it gets SIGTERM, so the stop is quick, and its exit code is 0:

# %%
third = web[2].container
third.stop(timeout=10)
third.reload()
{"status": third.status, "exit code": third.attrs["State"]["ExitCode"], "last log line": web[2].logs(tail=1).strip()}

# %% [markdown]
# A stopped container still exists (`docker ps -a` shows it as `exited`) and keeps its writable
# layer until it is removed:

# %%
[(row["name"], row["status"]) for row in containers.list_containers(purpose=PURPOSE)]

# %% [markdown]
# ## 8. Images are immutable; tags are names that move
#
# How do you "change" an image, then? You don't: you make a new one. `docker commit` makes an
# image from a container's writable layer (handy to look at, bad practice to ship: nothing records
# how it was made). The new image is v1's layers plus one more, under a new ID; v1 is untouched:

# %%
snapshot = first.commit(repository="ecslab-02-snapshot", tag="latest")
{
    "new ID": snapshot.id != v1.image_id,
    "v1's layers underneath": snapshot.attrs["RootFS"]["Layers"][:-1] == v1.image.attrs["RootFS"]["Layers"],
    "extra layer": images.human_size(images.image_layers(snapshot)[-1].size),
}

# %% [markdown]
# **The image ID is a digest of the content.** An image's *config* is a small JSON file: the
# digests of its layers, its environment, command, labels, history and creation time. Its
# *manifest* lists the config and the layers by digest. Which of the two the ID is the SHA-256 of
# depends on where your engine keeps images:
#
# | image store | who has it | the ID is the SHA-256 of |
# |---|---|---|
# | classic (overlay2 and other graph drivers) | Docker Engine up to 28, upgraded engines, this lab | the **config** |
# | containerd image store | Docker Desktop (default since 4.34 on fresh installs), Docker Engine 29+ on fresh installs | the **manifest** (or the index, for multi-platform images) |
#
# Either way, change one byte and the ID changes. Check it on a tiny image, a single text file
# `FROM scratch` (the empty base), small enough to export whole with `docker save`:
# `images.id_names` hashes what `docker save` exports and says which file the ID is the digest
# of. Here it says `'config'`; on Docker Desktop, expect `'manifest'` or `'index'`.

# %%
NOTE_DOCKERFILE = "FROM scratch\nCOPY note.txt /note.txt\n"
draft = images.build_from_text(NOTE_DOCKERFILE, "ecslab-02-note:latest", files={"note.txt": "first draft\n"})
images.id_names(draft.image)

# %% [markdown]
# So the same content gives the same ID, and different content a different one:

# %%
same = images.build_from_text(NOTE_DOCKERFILE, "ecslab-02-note:latest", files={"note.txt": "first draft\n"})
edited = images.build_from_text(NOTE_DOCKERFILE, "ecslab-02-note:latest", files={"note.txt": "second draft\n"})
{"same content, same ID": same.image_id == draft.image_id, "edited content, new ID": edited.image_id != draft.image_id}

# %% [markdown]
# "The same content" means the whole config, creation time included. Rebuild the first draft
# with `--no-cache`: the file, and so the layer digest, is identical, but the config records a new
# creation time, so the ID is new:

# %%
rebuilt = images.build_from_text(
    NOTE_DOCKERFILE, "ecslab-02-note:no-cache", files={"note.txt": "first draft\n"}, nocache=True
)
{
    "same layer digests": rebuilt.image.attrs["RootFS"]["Layers"] == draft.image.attrs["RootFS"]["Layers"],
    "same ID": rebuilt.image_id == draft.image_id,
}

# %% [markdown]
# **A tag is a name pointing at an ID, and it moves.** We built three times under
# `ecslab-02-note:latest`. It now points at the edited image; the first draft still exists,
# unchanged, but has lost its name (`docker images` shows it as `<none>`):

# %%
{
    "latest points at the edit": lab.docker.images.get("ecslab-02-note:latest").id == edited.image_id,
    "the draft's tags now": lab.docker.images.get(draft.image_id).tags,
}

# %% [markdown]
# Give it a name again: one image can carry many tags, and `docker tag` only adds a name.

# %%
draft.image.tag("ecslab-02-note", "draft")
{tag: lab.docker.images.get(tag).id == draft.image_id for tag in ("ecslab-02-note:draft", "ecslab-02-note:latest")}

# %% [markdown]
# That is the whole story notebook 03 builds on: in a registry, too, a tag such as `v1` or
# `latest` can be moved to another image, while a **digest** (`@sha256:...`) always means exactly
# the same bytes. Deploy by digest, or with tags you never move.
#
# ## 9. Registries: where images are shared
#
# Everything so far lives in this machine's Docker engine. To run an image anywhere else, an ECS
# task on AWS for example, it has to be in a **registry**: Docker Hub for public images, Amazon
# ECR for your own (private or public). An image's full name says which registry holds it:

# %%
names = [
    "python:3.12-slim",
    "ecslab-sample:v1",
    f"{lab.config.registry_address}/ecslab-sample:v1",
    f"{lab.account_id}.dkr.ecr.{lab.region}.amazonaws.com/ecslab-sample:v1",
    "public.ecr.aws/docker/library/python:3.12-slim",
]
rows = "".join(
    f"<tr><td><code>{name}</code></td><td>{ref.registry}</td><td>{ref.repository}</td><td>{ref.tag}</td></tr>"
    for name, ref in ((name, images.parse_reference(name)) for name in names)
)
HTML(f"<table><tr><th>name</th><th>registry</th><th>repository</th><th>tag</th></tr>{rows}</table>")

# %% [markdown]
# A name without a registry means Docker Hub (`docker.io`, under `library/` for official images),
# which is why `ecslab-sample:v1` would go there if pushed as it is. The lab has its own registry
# at `localhost:5050`, and ECR's names start with your account and region. Notebook 03 creates an
# ECR repository, tags `ecslab-sample:v1` with its URI and pushes it.

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "You edit app.py and rebuild the sample app. Which steps run again?",
        ("Only COPY app.py", "COPY app.py and every step after it", "Every step, from FROM on", "None: the cache keeps the old app.py"),
        1,
        "COPY's cache key includes the file's content, so it misses; every later step has a new parent and misses too. Steps above it are reused.",
        why_not=(
            "The steps after COPY have a new parent layer, so their cache misses too.",
            "",
            "Steps above COPY have the same parent and instruction as before: they come from the cache.",
            "COPY compares the file's content, so the edit is seen.",
        ),
    ),
    Question(
        "Two containers run from one image. One of them writes /app/note.txt. Where can you read the file?",
        ("In both containers", "In the image, so in every new container", "Only in the container that wrote it", "Nowhere: images are read-only"),
        2,
        "Each container has its own writable layer on top of the shared, read-only image layers; the image and the other containers never see it.",
        why_not=(
            "The other container has a writable layer of its own; it never sees this one.",
            "The image is read-only; a container's writes never reach it (docker commit would make a new image).",
            "",
            "The image is read-only, but each container can write into its own top layer.",
        ),
    ),
    Question(
        "You rebuild with a change and tag the result myapp:v1 again. What happens to the image v1 pointed at before?",
        (
            "It is updated in place",
            "It is unchanged; the tag now points at a new image with a new ID",
            "It is deleted",
            "The build fails: tags are immutable",
        ),
        1,
        "Images never change: the ID is a digest of the content. The old image stays (untagged) until removed; only the name moved.",
        why_not=(
            "An image is never edited: new content means a new image with a new ID.",
            "",
            "docker build does not delete the old image; it is left untagged (dangling) until you remove it.",
            "Local tags always move; only an IMMUTABLE ECR repository refuses that (notebook 03).",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - A **Dockerfile** lists instructions; `docker build` runs them in order, one cached step each.
#   `ARG` before `FROM` lets the base be chosen at build time.
# - An **image** is a stack of read-only layers plus a config; its ID is the SHA-256 of that
#   config (classic image store) or of its manifest (containerd image store, Docker Desktop), so
#   the same content gives the same ID and any change gives a new image.
# - The **build cache** reuses a step when its parent and instruction (and copied files) are the
#   same; after the first miss, everything runs again. Put what changes often last.
# - A **container** is a running instance of an image with its own hostname and writable layer;
#   many containers share one image, and what one writes, no other sees.
# - `run`, `ps`, `logs`, `stop`, `rm`: a stopped container still exists until removed.
# - A **tag** is a movable name for an image ID; **registries** (Docker Hub, ECR) store images
#   under such names so that other machines, and ECS, can pull them.
#
# **Exercises:** `exercises/02-images-and-containers.ipynb` (write a Dockerfile, build v2,
# count what the cache saved).
#
# ## Cleanup
#
# Remove this notebook's containers and the images it made for its demos. `ecslab-sample:v1`
# stays: notebook 03 pushes it.

# %%
demo_tags = [*change_tags, "ecslab-02-snapshot:latest", "ecslab-02-note:latest", "ecslab-02-note:draft", "ecslab-02-note:no-cache"]
containers.remove_containers(PURPOSE)
images.remove_images(demo_tags)
{
    "containers left": containers.list_containers(purpose=PURPOSE),
    "demo images left": [tag for tag in demo_tags if images.image_present(tag, lab.docker)],
}
