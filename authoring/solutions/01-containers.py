# %% [markdown]
# # Exercise 01 · Containers
#
# Three short exercises with the Docker SDK for Python, the same API the `docker` command
# uses. Write your code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()`
# line), run the cell, then run the check cell below it. A check prints a green line when your
# answer is right and explains what to change when it is not. Checks remove the containers they
# cause, so you can run them as often as you like.
#
# Notebook `notebooks/01-containers.ipynb` shows everything you need.

# %%
import time
import urllib.request

import ecslab
from ecslab import containers, images

lab = ecslab.connect()
sample_image = images.build_sample_app(show_progress=False).tag
sample_image

# %% [markdown]
# ## Exercise 1.1: run the sample app and return its URL
#
# Complete `run_sample_app(lab, image)`, the Python for
# `docker run -d -p 127.0.0.1::8080 --label ... IMAGE`:
#
# 1. start a container of `image` with `lab.docker.containers.run(...)`: `detach=True`, publish
#    the app's port 8080 **on 127.0.0.1 only** with `ports={"8080/tcp": ("127.0.0.1", None)}`
#    (`None` lets docker pick a free host port), and label it with
#    `labels=containers.lab_labels(purpose="exercise-01")` so the lab can clean it up;
# 2. find the host port docker picked: `container.reload()`, then `container.ports["8080/tcp"]`;
# 3. wait until `http://127.0.0.1:PORT/health` answers (the app needs a moment to start: try
#    `urllib.request.urlopen` in a loop, with a short `time.sleep` between tries);
# 4. return the URL, e.g. `"http://127.0.0.1:32768"`.

# %%
def run_sample_app(lab, image):
    ### BEGIN SOLUTION
    container = lab.docker.containers.run(
        image,
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", None)},
        labels=containers.lab_labels(purpose="exercise-01"),
    )
    container.reload()
    port = container.ports["8080/tcp"][0]["HostPort"]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url}/health did not answer within 15 s")
    ### END SOLUTION

# %%
"""Check 1.1: run_sample_app starts the sample app on 127.0.0.1 and returns a URL that answers."""
ecslab.checks.ex01.check_run_sample_app(run_sample_app, lab)

# %% [markdown]
# ## Exercise 1.2: ask the app for its hostname
#
# Every container gets its own hostname. Complete `app_hostname(url)`: request `url + "/"`
# from the running app, decode the JSON it sends, and **return its `"hostname"`**. (The check
# starts a container and passes you its URL.)

# %%
import json


def app_hostname(url):
    ### BEGIN SOLUTION
    with urllib.request.urlopen(url + "/", timeout=5) as response:
        return json.loads(response.read())["hostname"]
    ### END SOLUTION

# %%
"""Check 1.2: app_hostname returns the hostname the app reports, its container's own."""
ecslab.checks.ex01.check_app_hostname(app_hostname, lab)

# %% [markdown]
# ## Exercise 1.3: a memory limit
#
# Complete `run_with_memory_limit(lab, image, megabytes)`, the Python for
# `docker run -d --memory {megabytes}m IMAGE`: start a container of `image` limited to
# `megabytes` MiB (`mem_limit=f"{megabytes}m"`, `detach=True`, and the same labels as in 1.1;
# no port needed), then **return the limit docker applied, in bytes**, as docker reports it:
# `container.reload()`, then `container.attrs["HostConfig"]["Memory"]`.
#
# The check calls your function with two sizes, and reads the limit the kernel enforces from
# inside your container.

# %%
def run_with_memory_limit(lab, image, megabytes):
    ### BEGIN SOLUTION
    container = lab.docker.containers.run(
        image,
        detach=True,
        mem_limit=f"{megabytes}m",
        labels=containers.lab_labels(purpose="exercise-01"),
    )
    container.reload()
    return container.attrs["HostConfig"]["Memory"]
    ### END SOLUTION

# %%
"""Check 1.3: run_with_memory_limit applies the limit asked for and returns it in bytes."""
ecslab.checks.ex01.check_memory_limit(run_with_memory_limit, lab)

# %% [markdown]
# ## Cleanup
#
# The checks removed their containers. This removes any container you started yourself with
# the `exercise-01` label, and shows that none is left:

# %%
containers.remove_containers("exercise-01")
containers.list_containers("exercise-01")
