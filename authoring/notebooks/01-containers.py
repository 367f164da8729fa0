# %% [markdown]
# # 01 · Containers: what they are, and why they won
#
# **Goals.** By the end of this notebook you will
# - say what a container packages (code, dependencies, configuration) and find each of them in a real image;
# - run the course's sample app in a container, call it, and look inside: its own hostname,
#   filesystem and processes, but the host's kernel;
# - walk a container through its lifecycle with Docker: run, list (`ps`), logs, stop, remove;
# - measure what a container costs here (start time, memory, disk) and set it against
#   published figures for virtual machines;
# - cap a container's memory and watch the kernel enforce the cap.
#
# **Time:** about 25 minutes of reading and trying (an estimate); the cells alone run in about
# 50 seconds, most of it measuring starts and copies (measured on a 2-core VM, December 2026).
#
# This notebook follows section 1 of the lecture notes ("What is a container?", "Why
# containers?", "What is Docker?"). Everything below runs for real on your machine's Docker
# engine; the only figures not measured here are the VM ones, and they say so.

# %% [markdown]
# ## 0. Setup
#
# Connect to the lab and build the sample app, a small JSON API written with Python's standard
# library (`ecslab/app/app.py`). Notebook 02 opens its `Dockerfile` and explains the build;
# here we only use the image it makes.
#
# Every container this notebook starts carries the label `purpose=01-containers-RUN`, where
# `RUN` is a random token made afresh for each run of the notebook, and its named containers end
# in it too (`c01-app-RUN`). So the cleanup cell at the end finds exactly this run's containers,
# and two copies of the notebook running at once never step on each other's.

# %%
import platform
import secrets
import socket
import statistics
import time
from pathlib import Path

import matplotlib.pyplot as plt

import ecslab
from ecslab import containers, footprint, images

lab = ecslab.connect()
RUN = secrets.token_hex(6)
PURPOSE = f"01-containers-{RUN}"
sample_image = images.build_sample_app(show_progress=False).tag
sample_image

# %% [markdown]
# ## 1. What is a container?
#
# A container is a program started from an **image**: a read-only bundle of
#
# - the application's **code**,
# - its **dependencies**: the language runtime and libraries it needs, down to the OS files,
# - its **environment configuration**: variables, the command to start, the port it listens on.
#
# Because all three travel together, the program finds the same world wherever the image runs:
# a laptop, a CI runner, a server in the cloud. The configuration part is written into the
# image's metadata, so you can read it without running anything:

# %%
image_config = lab.docker.images.get(sample_image).attrs["Config"]
{
    "command": image_config["Cmd"],
    "working directory": image_config["WorkingDir"],
    "environment": image_config["Env"],
    "port it listens on": list(image_config["ExposedPorts"]),
}

# %% [markdown]
# The code and the dependencies are files in the image's filesystem. We will look at them from
# inside a running container in section 3.
#
# ## 2. Run it, call it
#
# `containers.run_container` is the course's wrapper for
# `docker run -d --name c01-app-RUN -p 127.0.0.1::8080 --label ... ecslab-sample:v1`: it starts the
# container in the background, publishes the app's port 8080 on a free port of **127.0.0.1**
# (so nothing outside this machine can reach it), and waits until the app answers `/health`.
# Read its code with `containers.run_container??`; exercise 1.1 has you write it yourself.

# %%
app = containers.run_container(sample_image, name=f"c01-app-{RUN}", purpose=PURPOSE)
app

# %%
hello = app.get_json("/")
{"message": hello["message"], "version": hello["version"]}

# %% [markdown]
# "Runs the same everywhere" can be tested: start a second container from the same image and
# ask both the same question. Same code, same answer; only the hostname differs, because every
# container is its own little host (section 3).

# %%
twin = containers.run_container(sample_image, name=f"c01-twin-{RUN}", purpose=PURPOSE)
twin_hello = twin.get_json("/")
twin.stop()
{
    "same message and version": (hello["message"], hello["version"]) == (twin_hello["message"], twin_hello["version"]),
    "same hostname": hello["hostname"] == twin_hello["hostname"],
}

# %% [markdown]
# The container carries its own Python, whatever Python runs this notebook. It does not see the
# notebook's libraries either: boto3 is installed here, yet importing it inside the container
# fails. That is the point: the app gets exactly what its image ships, nothing from the host can
# break it, and nothing it needs can be missing on the next machine.

# %% tags=["nbval-ignore-output"]
python_versions = {
    "python in the container": containers.exec_text(app.container, ["python3", "--version"]).strip(),
    "python running this notebook": f"Python {platform.python_version()}",
}
python_versions

# %% [markdown]
# (The notebook's Python is whatever this machine has, so the figure above differs from machine to
# machine; the container's comes with the image and is the same wherever the image runs.)

# %%
exit_code, output = app.container.exec_run(["python3", "-c", "import boto3"])
exit_code, output.decode().strip().splitlines()[-1]

# %% [markdown]
# ## 3. Look inside: a mini isolated OS environment
#
# `docker exec` runs a command inside a running container (`container.exec_run` in Python;
# `containers.exec_text` returns its output as text). The kernel gives the container its own
# *view* of the machine through **namespaces**: its own hostname, its own filesystem (the image's),
# its own process list. Compare with the host:

# %% tags=["nbval-ignore-output"]
def host_os() -> str:
    release = Path("/etc/os-release")
    return containers.os_release(release.read_text())["PRETTY_NAME"] if release.exists() else platform.platform()


inside = {
    "hostname": containers.exec_text(app.container, ["hostname"]).strip(),
    "operating system": containers.os_release(containers.exec_text(app.container, ["cat", "/etc/os-release"]))["PRETTY_NAME"],
    "files in /app": containers.exec_text(app.container, ["ls", "/app"]).split(),
    "PID 1": containers.exec_text(app.container, ["cat", "/proc/1/cmdline"]).replace("\0", " ").strip(),
}
outside = {
    "hostname": socket.gethostname(),
    "operating system": host_os(),
    "files in /app": sorted(p.name for p in Path("/app").iterdir()) if Path("/app").is_dir() else "(no /app here)",
}
for key in inside:
    print(f"{key:18} inside: {inside[key]!s:45} host: {outside.get(key, '(see below)')}")

# %% [markdown]
# The host's side of that table is this machine's own (its name, its distribution), so it differs
# from one machine to the next. What holds on every machine:

# %%
{
    "the hostname inside is the container's ID": app.container.id.startswith(inside["hostname"]),
    "inside and host have different hostnames": inside["hostname"] != outside["hostname"],
    "the OS inside is the image's": inside["operating system"],
    "PID 1 inside": inside["PID 1"],
}

# %% [markdown]
# The hostname inside is the container's ID: each container is its own host on the network.
# The OS release is whatever the image's base layer says (on this machine the host may happen to
# run the same distribution; on a Mac or Windows laptop it will not). And **PID 1** inside is
# the app itself: a container has no init system, no SSH daemon, no cron, only the process you
# asked for, and a process listing inside (the image has no `ps`; Python reads `/proc`) finds
# nothing else:

# %%
LIST_PROCESSES = """
import os
for pid in sorted(int(name) for name in os.listdir("/proc") if name.isdigit()):
    command = open(f"/proc/{pid}/cmdline").read().replace(chr(0), " ").strip()
    print("(this listing itself)" if pid == os.getpid() else f"PID {pid}: {command}")
"""
print(containers.exec_text(app.container, ["python3", "-c", LIST_PROCESSES]))

# %% [markdown]
# Yet it is an ordinary process on the host. `docker top` lists the container's processes with
# the PIDs the *host* gives them: a different number for the same process.

# %%
for row in app.container.top()["Processes"]:
    print(f"host pid {row[1]}: {row[-1]}")

# %% [markdown]
# ### The one thing it shares: the kernel
#
# A container has its own filesystem, hostname and process list, but not its own **kernel**:
# every container on a machine makes its system calls to the same Linux kernel, the one the
# Docker engine runs on. `uname -r` (the kernel's release) proves it:

# %% tags=["nbval-ignore-output"]
kernel = {
    "uname -r inside the container": containers.exec_text(app.container, ["uname", "-r"]).strip(),
    "kernel of the Docker engine": lab.docker.info()["KernelVersion"],
    "kernel running this notebook": platform.release(),
}
kernel

# %%
len(set(kernel.values())) == 1

# %% [markdown]
# On a Linux machine all three agree. (With Docker Desktop on a Mac or Windows the engine runs in a small Linux
# VM: the first two still agree, and the notebook's kernel is macOS's or Windows'.)
#
# That is the notes' "containers share the same OS kernel, hence lightweight": starting a
# container starts a process, not an operating system. A virtual machine boots a kernel of its
# own, with its own init, drivers and services, before your app can even start. Section 5
# measures the difference.
#
# ## 4. The lifecycle: run, ps, logs, stop, rm
#
# `docker ps -a` lists containers. `containers.list_containers(purpose)` shows the lab's,
# here only this notebook's:

# %%
containers.list_containers(PURPOSE)

# %% [markdown]
# A container's standard output is its log: the app writes one line per request to stdout, and
# the engine keeps it (`docker logs c01-app-RUN`; in ECS, the same stream goes to CloudWatch Logs).
# The first line, then every request the app served so far:

# %%
logs = app.logs()
print(logs.splitlines()[0])
containers.request_log(logs)

# %% [markdown]
# `docker stop` sends the main process **SIGTERM**, waits for it to exit (10 s by default; ECS
# waits 30 s), and only then sends **SIGKILL**. The sample app handles SIGTERM: it says so in
# its log and exits with code 0, well inside the timeout.

# %%
started = time.monotonic()
app.container.stop(timeout=10)
stop_seconds = time.monotonic() - started
app.container.reload()
{
    "status": app.container.status,
    "exit code": app.container.attrs["State"]["ExitCode"],
    "stopped before the 10 s timeout": stop_seconds < 10,
    "last log line": app.logs().splitlines()[-1],
}

# %% [markdown]
# Not every program does that. A process without a SIGTERM handler normally dies of SIGTERM, but
# as **PID 1** of a container it does not: the kernel never applies a signal's default action to
# the first process of a PID namespace. This container's PID 1 just sleeps, with no handler;
# watch `docker stop` wait out a 2 s timeout, then kill it:

# %%
sleeper = containers.run_container(
    sample_image,
    name=f"c01-sleeper-{RUN}",
    purpose=PURPOSE,
    container_port=None,
    wait_for_http=None,
    command=["python3", "-c", "import time; time.sleep(600)"],
)
started = time.monotonic()
sleeper.container.stop(timeout=2)
stop_seconds = time.monotonic() - started
sleeper.container.reload()
{"exit code": sleeper.container.attrs["State"]["ExitCode"], "waited the whole 2 s timeout": stop_seconds >= 2}

# %% [markdown]
# Exit code 137 is 128 + 9: killed by signal 9, SIGKILL, with no chance to finish its work. An
# app that handles SIGTERM (finish the requests in flight, close connections, exit 0) stops at
# once and cleanly: worth having before ECS starts replacing your containers during deployments.
#
# Stopped containers are not gone: `docker ps -a` still lists them, with their logs and their
# filesystems, until `docker rm` removes them.

# %%
containers.list_containers(PURPOSE)

# %%
app.container.remove()
sleeper.container.remove()
containers.list_containers(PURPOSE)

# %% [markdown]
# ## 5. Measure: what does one container cost?
#
# Now the numbers. `footprint.measure_starts` runs the image 5 times, one after another, and
# times each from the `docker run` call until `/health` answers (so it includes creating the
# container, starting Python and the app binding its port). It also reads each container's
# memory as `docker stats` does, and the image's size on disk.

# %%
starts = footprint.measure_starts(sample_image, runs=5, purpose=PURPOSE)

# %% tags=["nbval-ignore-output"]
for number, run in enumerate(starts, start=1):
    print(f"run {number}: answered after {run.start_seconds * 1000:.0f} ms, using {run.memory_bytes / 2**20:.1f} MiB")
print(f"image on disk: {starts[0].image_bytes / 2**20:.0f} MiB")

# %% [markdown]
# The exact figures change from run to run and machine to machine; the orders of magnitude do not:

# %%
start_seconds = statistics.median(run.start_seconds for run in starts)
memory_mib = statistics.median(run.memory_bytes for run in starts) / 2**20
{"median start under 5 s": start_seconds < 5, "memory per container under 50 MiB": memory_mib < 50}

# %% [markdown]
# ### Many copies
#
# The notes' scalability row says containers "can be easily replicated". Start 5 copies side by
# side and measure the total: the time to bring them up one after another, the memory they use
# together, and the disk they need.

# %%
copies = footprint.measure_copies(sample_image, max_copies=5, purpose=PURPOSE)

# %% tags=["nbval-ignore-output"]
for point in copies:
    print(
        f"{point.copies} {'copy' if point.copies == 1 else 'copies'}: up after {point.seconds:.2f} s in all, "
        f"{point.memory_bytes / 2**20:.0f} MiB of memory, {point.disk_bytes / 2**20:.0f} MiB of disk"
    )

# %% [markdown]
# Memory grows by about one container's worth per copy, while disk does not grow at all: the
# copies share the image's read-only layers, and each adds only what it writes (the sample app
# writes next to nothing).

# %%
{
    "5 copies use 4 to 6 times the memory of 1": 4 <= copies[-1].memory_bytes / copies[0].memory_bytes <= 6,
    "5 copies add under 1 MiB of disk to the image": copies[-1].disk_bytes - copies[0].disk_bytes < 2**20,
}

# %% [markdown]
# ## 6. Against virtual machines
#
# A VM cannot be started here to measure, so the figures below are **published** ones, each with
# its source and date. Read them as orders of magnitude: boot times depend on the image,
# instance type and region, and have improved over the years.

# %%
from IPython.display import HTML

HTML(footprint.cited_table())

# %% [markdown]
# The chart puts this machine's measurements (orange) next to the cited figures (grey, hatched).
# Mind what each bar measures: ours is "until the app answers"; the VM's is "until SSH answers",
# before any app has started; a VM's memory is what it *reserves*, ours what the container *uses*.

# %%
footprint.plot_start_and_memory(starts)
plt.show()

# %% [markdown]
# Two lessons. A container starts and costs like a process: one to two orders of magnitude less
# than a classic VM, in time and in memory. And the gap is about the kernel, not magic:
# Firecracker microVMs, built by AWS for Lambda and Fargate, trim a VM down until it boots in a
# fraction of a second, but each still carries its own kernel and its own reserved memory. When
# you run containers on Fargate (notebooks 04 and 05), AWS gives each task its own isolation
# boundary, sharing its kernel with no other task, and you pay for the CPU and memory you reserve.
#
# ## 7. Scale it: how many copies fit?
#
# Drag the slider. The chart and the line above it use only the figures measured in section 5
# (containers) and the cited VM sizes; nothing is measured again. Find where each line crosses
# this machine's RAM.

# %%
host_memory_bytes = lab.docker.info()["MemTotal"]
footprint.CopiesExplorer(copies, host_memory_bytes, max_copies=100, copies=10)

# %% [markdown]
# ## 8. Limits: the kernel enforces them
#
# Sharing a kernel needs fences, or one container could starve the rest. Docker asks the kernel
# for a **cgroup** per container, with the limits you set: `docker run --memory 64m` (in Python
# `mem_limit="64m"`; `m` means MiB). Docker records the limit, and the kernel applies it, as read
# from inside the container:

# %%
limited = containers.run_container(sample_image, name=f"c01-limited-{RUN}", purpose=PURPOSE, mem_limit="64m")
{
    "docker applied (HostConfig.Memory)": limited.container.attrs["HostConfig"]["Memory"],
    "the kernel enforces (cgroup, read inside)": containers.cgroup_memory_limit(limited.container),
    "64 MiB in bytes": 64 * 2**20,
}

# %% [markdown]
# What happens when a program goes over? This container tries to fill 200 MiB under a 64 MiB cap:

# %%
hog = containers.run_container(
    sample_image,
    name=f"c01-hog-{RUN}",
    purpose=PURPOSE,
    mem_limit="64m",
    container_port=None,
    wait_for_http=None,
    command=["python3", "-c", "data = b'x' * (200 * 2**20); print('filled 200 MiB')"],
)
result = hog.container.wait(timeout=30)
hog.container.reload()
{
    "exit code": result["StatusCode"],
    "killed for memory (OOMKilled)": hog.container.attrs["State"]["OOMKilled"],
    "what it printed": hog.logs().strip() or "(nothing: it never got that far)",
}

# %% [markdown]
# The kernel's out-of-memory killer ended it (SIGKILL again: 137), and nothing else on the
# machine noticed. ECS task definitions set the same limits (`memory`, `cpu`), and a task that
# exceeds its memory stops with the reason `OutOfMemoryError`.
#
# ## 9. Why containers, and what Docker is
#
# The notes' table, with where you saw each row for real:
#
# | Problem | How containers help | Seen in this notebook |
# |---|---|---|
# | "Works on my machine" | The environment ships with the code | Section 1: command, variables and port are in the image; section 2: the container brings its own Python |
# | Environment mismatch | The same runtime on every system | Section 2: two containers of one image answer alike; the host's libraries (boto3) are invisible inside |
# | Heavy VMs | Containers share the host's kernel, hence lightweight | Section 3: `uname -r` inside = outside; sections 5-6: process-like start time and memory |
# | Scalability | Easy to replicate and spread over a cluster | Sections 5 and 7: copies share one image; memory per copy sets how many fit |
#
# **Docker is the tool; the container is the runtime unit.** Docker is a client (the `docker`
# command, or the Python SDK used here) talking to an engine that builds images and runs
# containers. What runs is the container, a process the kernel isolates. ECS later replaces the
# `docker` commands with API calls, but runs the same images as the same kind of containers.
#
# | Docker lets you | `docker` command | Python (docker SDK) | in this course |
# |---|---|---|---|
# | build images | `docker build -t ecslab-sample:v1 .` | `lab.docker.images.build(...)` | notebook 02 |
# | run containers | `docker run -d -p 127.0.0.1::8080 IMAGE` | `lab.docker.containers.run(...)` | here, exercise 1.1 |
# | manage the lifecycle | `docker ps`, `docker logs`, `docker stop`, `docker rm` | `containers.list(...)`, `.logs()`, `.stop()`, `.remove()` | here |
# | push images to a registry | `docker push REGISTRY/REPO:TAG` | `lab.docker.images.push(...)` | notebook 03 (ECR) |
#
# The engine answering this notebook:

# %% tags=["nbval-ignore-output"]
version = lab.docker.version()
{"engine": version["Version"], "API version": version["ApiVersion"], "runs on": f"{version['Os']}/{version['Arch']}"}

# %% [markdown]
# Those figures are this machine's engine (Docker Desktop on a laptop, the course image's own engine,
# or a Linux server's). Whichever it is, it runs Linux containers:

# %%
version["Os"]

# %% [markdown]
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "Why does `uname -r` print the same inside a container as on its host?",
        ("The image contains a copy of the host's kernel", "Containers share the host's kernel; only a VM boots its own", "Docker rewrites the command's output"),
        1,
        "A container is an isolated process on the host's kernel; images hold files, never a running kernel. That is why containers start like processes.",
        why_not=(
            "An image holds files only (a root file system, often a whole distribution's), never a kernel that runs.",
            "",
            "Docker passes the command's output through unchanged; the kernel really is the host's.",
        ),
    ),
    Question(
        "`docker stop -t 2` on a container whose PID 1 has no SIGTERM handler: what happens?",
        ("It stops at once, with exit code 0", "Nothing: the container keeps running", "Docker waits 2 s, then sends SIGKILL: exit code 137"),
        2,
        "SIGTERM first, SIGKILL after the timeout; 137 = 128 + 9 (SIGKILL). Handle SIGTERM to stop cleanly and at once.",
        why_not=(
            "Without a SIGTERM handler, PID 1 of a container ignores SIGTERM, so it does not stop at once; and a killed process does not exit 0.",
            "docker stop does not give up: after the timeout it sends SIGKILL, which cannot be ignored.",
            "",
        ),
    ),
    Question(
        "Five copies of one image run side by side. What do they share?",
        ("The image's read-only layers and the host's kernel", "Their memory and their hostname", "Nothing: each copy has its own copy of the image"),
        0,
        "Each copy has its own processes, hostname, memory and writable layer, but reads the same image layers from disk and runs on the same kernel.",
        why_not=(
            "",
            "Each copy has its own memory, processes and hostname: that isolation is what a container is.",
            "The image's layers are stored once and shared read-only; each copy adds only a thin writable layer.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - A **container** runs a program from an **image** that bundles its code, dependencies and
#   environment configuration, so it behaves the same on every machine.
# - Inside, it has its own hostname, filesystem and process list (PID 1 is the app), thanks to
#   kernel namespaces; it shares the host's **kernel**.
# - So it starts and costs like a process: you measured its start time and memory here; VMs,
#   which boot their own kernel, take tens of seconds and reserve their memory up front.
# - Copies of one image share its layers on disk; memory per copy decides how many fit.
# - **Docker** is the tool (build, run, ps/logs/stop/rm, push); the **container** is the runtime unit.
# - The kernel enforces limits through cgroups; over its memory limit a container is killed (137, OOMKilled).
# - `docker stop` is SIGTERM, then SIGKILL after a timeout: apps should handle SIGTERM, as the sample app does.
#
# **Exercises:** `exercises/01-containers.ipynb` (run the app with the Docker SDK, ask it for
# its hostname, set a memory limit).
#
# ## Cleanup
#
# Remove every container this run of the notebook started (found by their `purpose` label), and
# check that none is left. (Containers of a run you interrupted keep their own `RUN` token;
# `ecslab reset` or `ecslab down` removes every container the lab started.)

# %%
containers.remove_containers(PURPOSE)
containers.list_containers(PURPOSE)
