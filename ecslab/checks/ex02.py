"""Checks for exercises/02-images-and-containers.ipynb: a Dockerfile, a v2 build, the cache.

Each checker builds or runs what the learner's function made, on the lab's
Docker engine, then removes the containers (and the check's own images) it made.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecslab import containers, images
from ecslab.checks.core import CheckFailed, Passed, expect, run_student
from ecslab.config import REAL_BASE_IMAGE

PURPOSE = "check-ex02"
"""Label value on every container these checks start (``ecslab.lab.purpose``)."""

HELLO_APP = '''"""hello.py: the tiny app of exercise 2.1 (standard library only)."""
import json
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

POINTS: dict[str, int] = {"2.1": 1, "2.2": 1, "2.3": 1}
"""Points per check for `ecslab grade` (a check not listed here is worth 1)."""


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"message": "hello from exercise 2.1", "hostname": socket.gethostname()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("hello.py listening on port 8080", flush=True)
HTTPServer(("0.0.0.0", 8080), Hello).serve_forever()
'''
"""The app exercise 2.1's Dockerfile packages; the checker puts it next to the Dockerfile as ``hello.py``."""

HELLO_TAG = "ecslab-ex02-hello:check"
GREETING_TAG = "ecslab-ex02-greeting:check"
V1_GREETING = "Hello from the ecslab sample API"


def _history_ids(image: Any) -> list[str]:
    return [entry.get("Id", "") for entry in reversed(image.history())]


def _shared_prefix(first: list[str], second: list[str]) -> int:
    count = 0
    for a, b in zip(first, second, strict=False):
        if a != b or a in ("", "<missing>"):
            break
        count += 1
    return count


def _run(exercise: str, tag: str, lab: Any) -> containers.RunningContainer:
    from docker.errors import APIError

    try:
        return containers.run_container(tag, purpose=PURPOSE, client=lab.docker, config=lab.config, timeout=15)
    except (containers.ContainerError, APIError) as error:
        containers.remove_containers(PURPOSE, lab.docker, lab.config)  # a container that failed to start is left "created"
        message = str(error)
        hint = ""
        if "python: not found" in message or ('"python"' in message and "not found" in message):
            hint = " The base image here has `python3` but no `python`: start the app with python3."
        elif "can't open file" in message:
            hint = " CMD runs in the WORKDIR: copy the app where CMD looks for it (WORKDIR /app, then COPY hello.py .)."
        raise CheckFailed(
            f"Exercise {exercise}: a container of {tag} did not start and answer on port 8080.{hint}\n{message}"
        ) from None


# -- 2.1 ---------------------------------------------------------------------------------


def check_dockerfile(write_dockerfile: Callable[[], str], lab: Any) -> Passed:
    """2.1: ``write_dockerfile()`` returns a Dockerfile that builds hello.py on ``${BASE_IMAGE}`` and runs it."""
    text = run_student("2.1", write_dockerfile)
    expect(isinstance(text, str), "2.1", f"return the Dockerfile as a string, not {type(text).__name__}.")
    steps = images.dockerfile_instructions(text)
    expect(bool(steps), "2.1", "your Dockerfile is empty: it needs at least ARG, FROM, COPY and CMD lines.")
    keywords = [step.keyword for step in steps]
    expect("FROM" in keywords, "2.1", "there is no FROM line: every image starts from a base, here `FROM ${BASE_IMAGE}`.")
    first_from = keywords.index("FROM")
    base_args = [
        step for step in steps[:first_from] if step.keyword == "ARG" and step.arguments.split("=", 1)[0].strip() == "BASE_IMAGE"
    ]
    later_arg = any(step.keyword == "ARG" and step.arguments.startswith("BASE_IMAGE") for step in steps[first_from:])
    expect(
        bool(base_args),
        "2.1",
        "FROM can only use an ARG declared before it: put `ARG BASE_IMAGE=python:3.12-slim` above the FROM line."
        if later_arg
        else "declare the build argument first: `ARG BASE_IMAGE=python:3.12-slim` as the first line.",
    )
    default = base_args[0].arguments.partition("=")[2].strip().strip('"')
    expect(
        default == REAL_BASE_IMAGE,
        "2.1",
        f"give BASE_IMAGE the default {REAL_BASE_IMAGE} (what anyone with internet pulls), not {default or 'nothing'!r}: "
        f"`ARG BASE_IMAGE={REAL_BASE_IMAGE}`.",
    )
    from_arguments = steps[first_from].arguments
    expect(
        "${BASE_IMAGE}" in from_arguments or "$BASE_IMAGE" in from_arguments,
        "2.1",
        f"`FROM {from_arguments}` ignores the build argument: write `FROM ${{BASE_IMAGE}}` so the lab can pass its own base.",
    )
    copies = [step for step in steps if step.keyword in ("COPY", "ADD") and "hello.py" in step.arguments]
    expect(
        bool(copies),
        "2.1",
        "the image needs the app: add `COPY hello.py .` (after a `WORKDIR /app`, or copy to an absolute path).",
    )
    expect(
        any(step.keyword in ("CMD", "ENTRYPOINT") for step in steps),
        "2.1",
        'say what a container of this image runs: end with `CMD ["python3", "hello.py"]`.',
    )
    base = images.base_image(lab.docker)
    images.remove_images([HELLO_TAG], lab.docker, lab.config)
    try:
        result = images.build_from_text(
            text, HELLO_TAG, files={"hello.py": HELLO_APP}, buildargs={"BASE_IMAGE": base}, client=lab.docker, config=lab.config
        )
    except images.BuildError as error:
        raise CheckFailed(f"Exercise 2.1: docker build (with --build-arg BASE_IMAGE={base}) failed.\n{error}") from None
    try:
        running = _run("2.1", HELLO_TAG, lab)
        try:
            body = running.get_json("/")
        finally:
            running.stop()
        expect(
            body.get("message") == "hello from exercise 2.1",
            "2.1",
            f"the container answered {body!r}, not hello.py's greeting: does CMD start hello.py?",
        )
    finally:
        images.remove_images([HELLO_TAG], lab.docker, lab.config)
    return Passed("2.1", f"built {len(result.steps)} steps on {base} and the container answered {body['message']!r}.")


# -- 2.2 ---------------------------------------------------------------------------------


def check_build_v2(build_v2: Callable[[Any], str], lab: Any) -> Passed:
    """2.2: ``build_v2(lab)`` builds the sample app as version v2 under a tag ending in ``:v2`` and returns the tag."""
    tag = run_student("2.2", build_v2, lab)
    if isinstance(tag, images.BuildResult):
        raise CheckFailed(
            "Exercise 2.2: return the tag (a string such as 'ecslab-sample:v2'), e.g. `return result.tag`, not the BuildResult."
        )
    expect(isinstance(tag, str), "2.2", f"return the tag as a string, not {type(tag).__name__}.")
    expect(
        tag.endswith(":v2"),
        "2.2",
        f"name the version in the tag, e.g. 'ecslab-sample:v2', not {tag!r}: notebook 03 pushes tags like this one.",
    )
    expect(images.image_present(tag, lab.docker), "2.2", f"there is no image called {tag!r}: build it with that tag.")
    image = lab.docker.images.get(tag)
    labels = image.labels or {}
    expect(
        labels.get("org.opencontainers.image.title") == "ecslab sample API",
        "2.2",
        f"{tag} is not the sample app (its labels are {labels}): build the sample app's folder, images.sample_app_dir().",
    )
    version = labels.get("org.opencontainers.image.version")
    expect(
        version == "v2",
        "2.2",
        f"{tag} is version {version!r}: pass the build argument APP_VERSION=v2 (build_sample_app(version='v2') does).",
    )
    running = _run("2.2", tag, lab)
    try:
        body = running.get_json("/")
    finally:
        running.stop()
    expect(body.get("version") == "v2", "2.2", f"a container of {tag} says it is version {body.get('version')!r}, not v2.")
    v1 = images.build_sample_app("ecslab-sample:v1", client=lab.docker, config=lab.config, show_progress=False)
    v1_ids, v2_ids = _history_ids(v1.image), _history_ids(image)
    shared = _shared_prefix(v1_ids, v2_ids)
    return Passed(
        "2.2",
        f"{tag} answers version v2 ({body['message']!r}). Its first {shared} of {len(v2_ids)} layers (the base's included) are v1's: only the steps "
        "from ENV APP_VERSION on differ.",
    )


# -- 2.3 ---------------------------------------------------------------------------------


def check_rebuild_count(rebuild_with_greeting: Callable[[Path, str, str], int], lab: Any) -> Passed:
    """2.3: ``rebuild_with_greeting(workdir, tag, greeting)`` edits a copy of the app, builds it, returns the steps reused from cache."""
    v1 = images.build_sample_app("ecslab-sample:v1", client=lab.docker, config=lab.config, show_progress=False)
    greeting = f"Hello from exercise 2.3, check {secrets.token_hex(3)}"  # new text each time: the COPY step cannot be cached
    images.remove_images([GREETING_TAG], lab.docker, lab.config)
    with tempfile.TemporaryDirectory(prefix="ecslab-ex02-") as folder:
        count = run_student("2.3", rebuild_with_greeting, Path(folder), GREETING_TAG, greeting)
    try:
        if isinstance(count, images.BuildResult):
            raise CheckFailed(
                "Exercise 2.3: return a number (how many steps came from the cache), e.g. len(result.cached_steps)."
            )
        expect(
            isinstance(count, int) and not isinstance(count, bool), "2.3", f"return a whole number, not {type(count).__name__}."
        )
        expect(
            images.image_present(GREETING_TAG, lab.docker),
            "2.3",
            f"no image called {GREETING_TAG!r}: build the edited copy with the tag you were given.",
        )
        image = lab.docker.images.get(GREETING_TAG)
        running = _run("2.3", GREETING_TAG, lab)
        try:
            body = running.get_json("/")
        finally:
            running.stop()
        expect(
            body.get("message") == greeting,
            "2.3",
            f"the rebuilt app greets with {body.get('message')!r}, not the greeting you were given: replace "
            f"{V1_GREETING!r} in the copied app.py with it, then build that folder.",
        )
        layers = images.image_layers(image, client=lab.docker, base=images.base_image(lab.docker))
        base_entries = sum(layer.source == "base image" for layer in layers)
        reused = _shared_prefix(_history_ids(v1.image), _history_ids(image)) - base_entries
        steps_after_from = len(layers) - base_entries
        expect(
            reused > 0,
            "2.3",
            "nothing was reused from v1: build with the same base as v1 (images.build_sample_app(tag=..., context=workdir) does).",
        )
        expect(
            count <= steps_after_from,
            "2.3",
            f"{count} is more than the {steps_after_from} steps after FROM, so it counts ARG and FROM too (len(result.steps)); "
            "count only the steps reused from the cache: result.cached_steps.",
        )
        expect(
            count != steps_after_from,
            "2.3",
            f"{count} is every step after FROM; count only the steps the builder reused (`---> Using cache`): result.cached_steps.",
        )
        expect(
            count != steps_after_from - reused,
            "2.3",
            f"{count} is how many steps were rebuilt; the question is how many were reused from the cache.",
        )
        expect(
            count == reused, "2.3", f"your build reused {reused} steps from the cache, not {count}: count result.cached_steps."
        )
    finally:
        containers.remove_containers(PURPOSE, lab.docker, lab.config)
        images.remove_images([GREETING_TAG], lab.docker, lab.config)
    return Passed(
        "2.3", f"{reused} steps came from the cache (those above COPY app.py); the edit made COPY and every later step run again."
    )
