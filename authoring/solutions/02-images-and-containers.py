# %% [markdown]
# # Exercise 02 · Images and containers
#
# Three exercises on notebook 02: write a Dockerfile, build a second version of the sample
# app, and predict what the build cache saves. Write your code where it says
# `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then run
# the check cell below it. A check builds and runs what your code made, on the lab's Docker
# engine, and cleans up after itself.
#
# **Time:** about 20 minutes.

# %%
from pathlib import Path

import ecslab
from ecslab import images

lab = ecslab.connect()

# %% [markdown]
# ## Exercise 2.1: write a Dockerfile
#
# Here is a tiny app, `hello.py`. It answers every `GET` on port 8080 with a JSON greeting:

# %%
print(ecslab.checks.ex02.HELLO_APP)

# %% [markdown]
# Complete `write_dockerfile()` so that it **returns the text of a Dockerfile** that packages
# `hello.py` (the checker puts it next to your Dockerfile). The Dockerfile must
#
# - take the base image as a build argument `BASE_IMAGE` whose default is `python:3.12-slim`
#   (what anyone with internet would pull), and start `FROM` it;
# - copy `hello.py` into the image;
# - start the app with `python3 hello.py` when a container starts.
#
# The checker builds it with `--build-arg BASE_IMAGE=...` set to the base this lab has, runs
# a container on 127.0.0.1 and asks it for its greeting. Notebook 02, section 2 reads a
# Dockerfile like this one, line by line.

# %%
def write_dockerfile() -> str:
    ### BEGIN SOLUTION
    return "\n".join([
        "ARG BASE_IMAGE=python:3.12-slim",
        "FROM ${BASE_IMAGE}",
        "WORKDIR /app",
        "COPY hello.py .",
        "EXPOSE 8080",
        'CMD ["python3", "hello.py"]',
    ])
    ### END SOLUTION

# %%
"""Check 2.1: the Dockerfile takes BASE_IMAGE, builds, and its container answers."""
ecslab.checks.ex02.check_dockerfile(write_dockerfile, lab)

# %% [markdown]
# ## Exercise 2.2: build version 2
#
# The sample app's Dockerfile has a build argument `APP_VERSION` (default `v1`). Complete
# `build_v2(lab)`: build the sample app as **version v2** under a tag that ends in `:v2`
# (for example `ecslab-sample:v2`), and **return the tag**.
#
# `images.build_sample_app` (notebook 02, section 3) takes the tag and the version; or use
# `images.build_image(images.sample_app_dir(), tag, buildargs={...})` and pass both build
# arguments yourself (`BASE_IMAGE`: `images.base_image()`).

# %%
def build_v2(lab) -> str:
    ### BEGIN SOLUTION
    result = images.build_sample_app("ecslab-ex02:v2", version="v2", client=lab.docker, config=lab.config, show_progress=False)
    return result.tag
    ### END SOLUTION

# %%
"""Check 2.2: the returned tag is the sample app, version v2."""
ecslab.checks.ex02.check_build_v2(build_v2, lab)

# %% [markdown]
# ## Exercise 2.3: what did the cache save?
#
# Complete `rebuild_with_greeting(workdir, tag, greeting)`:
#
# 1. copy the sample app into `workdir` (`images.copy_sample_app(workdir)`);
# 2. in the copied `app.py`, replace v1's greeting `"Hello from the ecslab sample API"` with `greeting`;
# 3. build that folder as `tag` on the same base as v1 (`images.build_sample_app(tag=tag, context=workdir)`);
# 4. **return how many build steps the builder reused from its cache.**
#
# The checker builds v1 first, calls your function with a greeting nobody built before, runs
# the image to see the new greeting, and compares your number with the layers your image
# really shares with v1. Notebook 02, section 5 shows what a `BuildResult` knows about each step.

# %%
def rebuild_with_greeting(workdir: Path, tag: str, greeting: str) -> int:
    ### BEGIN SOLUTION
    folder = images.copy_sample_app(workdir)
    app = folder / "app.py"
    app.write_text(app.read_text().replace("Hello from the ecslab sample API", greeting))
    result = images.build_sample_app(tag=tag, context=folder, client=lab.docker, config=lab.config, show_progress=False)
    return len(result.cached_steps)
    ### END SOLUTION

# %%
"""Check 2.3: the rebuilt image greets with the new text, and the count of reused steps is right."""
ecslab.checks.ex02.check_rebuild_count(rebuild_with_greeting, lab)

# %% [markdown]
# ## Cleanup
#
# The checks removed their containers and their own images. The `:v2` image you built in 2.2
# is yours: remove it like this (put your tag in the list if you chose another one).

# %% tags=["nbval-ignore-output"]
images.remove_images(["ecslab-ex02:v2"], lab.docker, lab.config)
