"""Images: the offline base image, building the sample app, and looking inside.

Introduced in notebook 02 (``02-images-and-containers``): reading a Dockerfile
(:func:`dockerfile_instructions`), building with progress (:func:`build_image`,
:func:`build_sample_app`, :class:`BuildResult`), layers and caching
(:func:`image_layers`, :func:`layers_table`, :func:`plot_layers`, :class:`Change`,
:func:`build_changed_sample_app`, :func:`cache_explorer`, :func:`plot_cache`), and
what an image ID is (:func:`config_digest`, :func:`parse_reference`). Every later
notebook builds the sample app through :func:`build_sample_app`; notebook 03 pushes it.
Notebook 07 builds the second app, which calls AWS with boto3 (:func:`build_aws_app`,
:func:`make_wheel_base_image` where no package index is reachable).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ecslab import imageref
from ecslab.config import LAB_LABEL, OFFLINE_BASE_IMAGE, REAL_BASE_IMAGE, LabConfig
from ecslab.progress import Progress

__all__ = [
    "BuildError",
    "BuildResult",
    "BuildStep",
    "Change",
    "ImageReference",
    "Instruction",
    "Layer",
    "aws_app_dir",
    "base_image",
    "build_aws_app",
    "build_changed_sample_app",
    "build_from_text",
    "build_image",
    "build_sample_app",
    "cache_explorer",
    "config_digest",
    "id_names",
    "copy_sample_app",
    "dockerfile_instructions",
    "human_size",
    "image_layers",
    "image_present",
    "lab_image_labels",
    "layers_table",
    "make_offline_base_image",
    "make_wheel_base_image",
    "parse_reference",
    "plot_cache",
    "plot_layers",
    "remove_images",
    "sample_app_dir",
]

GREEN = "#1b7f3b"
ORANGE = "#ff9900"
NAVY = "#232f3e"
GREY = "#aab7b8"


class BuildError(RuntimeError):
    """``docker build`` failed; the message carries the failing step and its output."""


def image_present(name: str, client: Any | None = None) -> bool:
    """True when the engine holds an image called ``name`` (a tag or an ID)."""
    from docker.errors import ImageNotFound

    from ecslab.engine import docker_client

    client = client or docker_client()
    try:
        client.images.get(name)
    except ImageNotFound:
        return False
    return True


def base_image(client: Any | None = None) -> str:
    """The base image the sample app's Dockerfile should start FROM here.

    ``ECSLAB_BASE_IMAGE`` wins; then ``python:3.12-slim`` when it is already present
    (a learner with internet pulled it); then the offline base when ``ecslab
    base-image`` made it; else ``python:3.12-slim``, which docker will try to pull.
    """
    chosen = os.environ.get("ECSLAB_BASE_IMAGE")
    if chosen:
        return chosen
    try:
        if image_present(REAL_BASE_IMAGE, client):
            return REAL_BASE_IMAGE
        if image_present(OFFLINE_BASE_IMAGE, client):
            return OFFLINE_BASE_IMAGE
    except Exception:
        pass
    return REAL_BASE_IMAGE


def make_offline_base_image(
    name: str = OFFLINE_BASE_IMAGE,
    mirror: str | None = None,
    say: Callable[[str], None] = print,
    client: Any | None = None,
) -> str:
    """Make a Debian bookworm image with python3, without pulling anything.

    Uses ``debootstrap --variant=minbase --include=python3`` (needs root and the
    ``debootstrap`` package) then imports the folder as an image. Reuses the image
    when it exists. Takes about a minute; the folder is deleted afterwards.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    if image_present(name, client):
        say(f"{name} is already present; reusing it.")
        return name
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise RuntimeError(
            "debootstrap is not installed: `sudo apt-get install -y debootstrap`, or use a base "
            "image you can pull: `export ECSLAB_BASE_IMAGE=python:3.12-slim`."
        )
    if os.geteuid() != 0:
        raise RuntimeError(
            "debootstrap needs root: run `sudo ecslab base-image`, or `export ECSLAB_BASE_IMAGE=python:3.12-slim` where you can pull."
        )
    mirror = mirror or os.environ.get("ECSLAB_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
    with tempfile.TemporaryDirectory(prefix="ecslab-base-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        say(f"debootstrap bookworm into {rootfs} from {mirror} (about a minute) ...")
        started = time.monotonic()
        result = subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3", "bookworm", str(rootfs), mirror],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"debootstrap failed (exit {result.returncode}):\n{result.stderr[-1500:]}")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        say(f"debootstrap took {time.monotonic() - started:.0f} s; importing as {name} ...")
        archive = Path(workdir) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        reference = imageref.parse(name)
        client.api.import_image(
            src=str(archive),
            repository=reference.name,
            tag=reference.tag,
            changes=['CMD ["python3"]', "ENV LANG=C.UTF-8", f"LABEL {LAB_LABEL}.base=debootstrap"],
        )
    say(f"Made {name}.")
    return name


# -- the sample app and its Dockerfile ---------------------------------------------------


def sample_app_dir() -> Path:
    """The folder holding the sample app's ``app.py`` and ``Dockerfile``."""
    return Path(str(resources.files("ecslab") / "app"))


def copy_sample_app(destination: str | os.PathLike[str]) -> Path:
    """Copy the sample app into ``destination`` (for notebooks that edit it)."""
    target = Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "Dockerfile"):
        shutil.copyfile(sample_app_dir() / name, target / name)
    return target


@dataclass(frozen=True)
class Instruction:
    """One instruction of a Dockerfile: where it starts, its keyword and the rest of it."""

    line: int
    keyword: str
    arguments: str

    def __str__(self) -> str:
        return f"{self.keyword} {self.arguments}"


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order, without comments and blank lines.

    A line ending in a backslash continues on the next one, as docker reads it.
    Keywords are upper-cased (docker accepts ``from`` as well as ``FROM``).
    """
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # docker drops comment lines inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), arguments.strip()))
        pending = []
    if pending:
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), arguments.strip()))
    return instructions


# -- building ------------------------------------------------------------------------------


@dataclass
class BuildStep:
    """One ``Step N/M`` of ``docker build``: its instruction, and whether the cache served it."""

    number: int
    instruction: str
    cached: bool = False
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)
    from_dockerfile: bool = True
    """False for the ``LABEL`` step that ``--label`` adds after the Dockerfile's last line."""
    after_from: bool = True
    """False for an ``ARG`` before ``FROM``: it only sets a value FROM can use."""

    @property
    def keyword(self) -> str:
        return self.instruction.split(" ", 1)[0].upper()

    @property
    def status(self) -> str:
        """``"argument"``, ``"base"``, ``"cached"`` (reused from cache) or ``"ran"`` (rebuilt)."""
        if not self.after_from:
            return "argument"
        if self.keyword == "FROM":
            return "base"
        return "cached" if self.cached else "ran"

    @property
    def image_id(self) -> str | None:
        """The short ID of the image this step produced (``---> 1a2b3c4d5e6f``), if it made one."""
        for line in reversed(self.output):
            match = re.match(r"\s*---> ([0-9a-f]{12})$", line)
            if match:
                return match[1]
        return None


_STATUS_TEXT = {
    "argument": "sets a build argument for FROM",
    "base": "starts from the base image",
    "cached": "reused from cache",
    "ran": "ran (rebuilt)",
}
_STATUS_COLOUR = {"argument": GREY, "base": GREY, "cached": GREEN, "ran": ORANGE}


@dataclass
class BuildResult:
    """What ``docker build`` did, step by step, and the image it made (notebook 02)."""

    image: Any
    tag: str
    steps: list[BuildStep]
    seconds: float

    @property
    def image_id(self) -> str:
        """The image's ID, ``sha256:`` and 64 hex digits: the digest of its config."""
        return str(self.image.id)

    @property
    def short_id(self) -> str:
        """The 12 hex digits ``docker images`` shows."""
        return self.image_id.split(":", 1)[-1][:12]

    @property
    def cached_steps(self) -> list[int]:
        """Numbers of the steps the builder reused from its cache."""
        return [step.number for step in self.steps if step.status == "cached"]

    @property
    def rebuilt_steps(self) -> list[int]:
        """Numbers of the steps the builder ran (no usable cache): a new layer each."""
        return [step.number for step in self.steps if step.status == "ran"]

    def counts(self) -> dict[str, int]:
        """How many steps were reused from cache and how many were rebuilt."""
        return {"reused": len(self.cached_steps), "rebuilt": len(self.rebuilt_steps)}

    def table(self) -> list[dict[str, str | int | bool]]:
        """One row per step: number, instruction, status (for tables and checks)."""
        return [
            {"step": step.number, "instruction": step.instruction, "status": step.status, "from Dockerfile": step.from_dockerfile}
            for step in self.steps
        ]

    def steps_html(self, highlight_first_rebuilt: bool = False) -> str:
        """An HTML table of the steps, coloured by what the builder did."""
        first_ran = next((s.number for s in self.steps if s.status == "ran"), None)
        rows = []
        for step in self.steps:
            colour = _STATUS_COLOUR[step.status]
            text = _STATUS_TEXT[step.status]
            if not step.from_dockerfile:
                text += " · added by ecslab (<code>--label</code>)"
            instruction = f"<code>{html.escape(_shorten(step.instruction, 80))}</code>"
            if highlight_first_rebuilt and step.number == first_ran:
                instruction = f"<b>{instruction}</b> &larr; first step whose input changed"
            rows.append(
                f"<tr><td>{step.number}</td><td style='text-align:left'>{instruction}</td>"
                f"<td style='text-align:left'><span style='color:{colour}'>&#9632;</span> {text}</td></tr>"
            )
        return (
            "<table><tr><th>step</th><th style='text-align:left'>instruction</th><th style='text-align:left'>what the builder did</th></tr>"
            + "".join(rows)
            + "</table>"
        )

    def _repr_html_(self) -> str:
        counts = self.counts()
        return (
            f"<p>Built <code>{html.escape(self.tag)}</code> (image {self.short_id}) in {self.seconds:.1f} s: "
            f"{len(self.steps)} steps, {counts['reused']} reused from cache, {counts['rebuilt']} rebuilt.</p>" + self.steps_html()
        )

    def __repr__(self) -> str:
        return f"BuildResult(tag={self.tag!r}, steps={len(self.steps)}, cached={self.cached_steps}, rebuilt={self.rebuilt_steps}, seconds={self.seconds:.1f})"


def _shorten(text: str, width: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def build_image(
    path: str | os.PathLike[str],
    tag: str,
    buildargs: dict[str, str] | None = None,
    client: Any | None = None,
    labels: dict[str, str] | None = None,
    show_progress: bool = True,
    nocache: bool = False,
) -> BuildResult:
    """``docker build -t TAG PATH`` with progress shown step by step (notebook 02).

    ``labels`` become ``--label`` options, which the builder adds as one last
    ``LABEL`` step. ``nocache=True`` is ``--no-cache``: every step runs again.
    Raises :class:`BuildError` naming the failing step and its last output lines.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    log = _BuildLog(Progress(f"docker build -t {tag}", enabled=show_progress))
    for chunk in client.api.build(
        path=str(path),
        tag=tag,
        buildargs=buildargs or {},
        labels=labels or {},
        rm=True,
        forcerm=True,
        decode=True,
        nocache=nocache,
    ):
        log.feed(chunk)
    log.finish_step()
    steps = log.steps
    if labels and steps and steps[-1].keyword == "LABEL" and all(key in steps[-1].instruction for key in labels):
        steps[-1].from_dockerfile = False
    image_id = log.image_id if log.image_id is not None else client.images.get(tag).id
    seconds = time.monotonic() - log.started
    result = BuildResult(image=client.images.get(image_id), tag=tag, steps=steps, seconds=seconds)
    counts = result.counts()
    log.progress.done(
        f"built {tag} in {seconds:.1f} s: {len(steps)} steps, {counts['reused']} reused from cache, {counts['rebuilt']} rebuilt"
    )
    return result


@dataclass
class _BuildLog:
    """The classic builder's output read as it streams: the steps, their cache hits and output, the image ID."""

    progress: Progress
    steps: list[BuildStep] = field(default_factory=list)
    image_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    step_started: float = 0.0
    total: int = 0
    seen_from: bool = False

    def finish_step(self) -> None:
        if self.steps:
            last = self.steps[-1]
            last.seconds = time.monotonic() - self.step_started
            status = f"step {last.number}/{self.total}: {_shorten(last.instruction, 50)} · {_STATUS_TEXT[last.status]}"
            self.progress.update(last.number, self.total, status)

    def feed(self, chunk: dict[str, Any]) -> None:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or chunk.get("errorDetail", {}).get("message", "unknown error")
            failing = self.steps[-1] if self.steps else None
            where = f"step {failing.number} ({failing.instruction})" if failing else "before the first step"
            tail = "\n".join((failing.output if failing else [])[-8:])
            self.progress.done(f"failed at {where}")
            raise BuildError(f"docker build failed at {where}: {message.strip()}\n{tail}".rstrip())
        if "aux" in chunk and "ID" in chunk["aux"]:
            self.image_id = chunk["aux"]["ID"]
        for line in chunk.get("stream", "").splitlines():
            match = _STEP.match(line.strip())
            if match:
                self.finish_step()
                self.step_started = time.monotonic()
                number, self.total, instruction = int(match[1]), int(match[2]), match[3]
                self.seen_from = self.seen_from or instruction.split(" ", 1)[0].upper() == "FROM"
                self.steps.append(BuildStep(number, instruction, after_from=self.seen_from))
                self.progress.update(number - 1, self.total, f"step {number}/{self.total}: {_shorten(instruction, 50)} ...")
            elif self.steps:
                if "Using cache" in line:
                    self.steps[-1].cached = True
                if line.strip():
                    self.steps[-1].output.append(line.rstrip())


def lab_image_labels(config: LabConfig | None = None) -> dict[str, str]:
    """The label that marks an image as the lab's, so cleanups never touch anyone else's."""
    return {LAB_LABEL: str((config or LabConfig.from_env()).home)}


def build_sample_app(
    tag: str = "ecslab-sample:v1",
    version: str = "v1",
    client: Any | None = None,
    config: LabConfig | None = None,
    context: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    nocache: bool = False,
) -> BuildResult:
    """Build the course's sample app (``version`` v1 or v2) on the base that works here.

    ``--build-arg BASE_IMAGE=...`` picks the base (:func:`base_image`) and
    ``--build-arg APP_VERSION=version`` the version the app reports.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    return build_image(
        context or sample_app_dir(),
        tag,
        buildargs={"BASE_IMAGE": base_image(client), "APP_VERSION": version},
        client=client,
        labels=lab_image_labels(config),
        show_progress=show_progress,
        nocache=nocache,
    )


# -- the AWS app: boto3 inside the image (notebook 07) ----------------------------------------

WHEEL_BASE_IMAGE = "ecslab/python-wheels:boto3"
"""The lab's stand-in base for builds that cannot reach PyPI: the base image plus pip and boto3's wheels."""

OFFLINE_PIP_OPTIONS = "--no-index --find-links /wheels"
"""What the lab passes as ``PIP_OPTIONS`` on :data:`WHEEL_BASE_IMAGE`: install from its wheels only."""


def aws_app_dir() -> Path:
    """The folder holding the AWS app's ``app.py`` and ``Dockerfile`` (notebook 07)."""
    return Path(str(resources.files("ecslab") / "aws_app"))


def make_wheel_base_image(
    base: str | None = None,
    packages: Iterable[str] = ("boto3",),
    name: str = WHEEL_BASE_IMAGE,
    client: Any | None = None,
    config: LabConfig | None = None,
    show_progress: bool = True,
) -> str:
    """A base image with pip and the wheels of ``packages`` in ``/wheels``, for builds without internet.

    The wheels are downloaded here, on the host (``pip download``, which needs PyPI
    or a mirror set in pip's own configuration), for the base's Python version, and
    copied into the image; pip itself is installed from its wheel (the debootstrap
    base has python3 but no pip) and Debian's "externally managed" marker is removed,
    as in the official python images. A Dockerfile built on it then runs
    ``pip install --no-index --find-links /wheels boto3`` instead of reaching PyPI.
    Reuses ``name`` when it exists.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    if image_present(name, client):
        return name
    base = base or base_image(client)
    version = (
        client.containers.run(
            base,
            ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            remove=True,
            labels=lab_image_labels(config),
        )
        .decode()
        .strip()
    )
    with tempfile.TemporaryDirectory(prefix="ecslab-wheels-") as folder:
        context = Path(folder)
        _download_wheels(version, packages, context / "wheels")
        (context / "Dockerfile").write_text(_WHEEL_BASE_DOCKERFILE)
        build_image(
            context,
            name,
            buildargs={"BASE_IMAGE": base},
            client=client,
            labels=lab_image_labels(config),
            show_progress=show_progress,
        )
    return name


_WHEEL_BASE_DOCKERFILE = (
    "ARG BASE_IMAGE\n"
    "FROM ${BASE_IMAGE}\n"
    "COPY wheels/ /wheels/\n"
    'RUN python3 "$(ls /wheels/pip-*.whl)/pip" install --quiet --no-index --find-links /wheels --no-cache-dir --break-system-packages pip \\\n'
    " && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED\n"
    "ENV PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1\n"
)
"""The wheel base image (:func:`make_wheel_base_image`): pip from its own wheel, no "externally managed" marker."""


def _download_wheels(version: str, packages: Iterable[str], wheels: Path) -> None:
    """``pip download`` pip and ``packages`` for Python ``version`` into ``wheels`` (on the host)."""
    import sys

    packages = list(packages)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", version]
    download = subprocess.run([*command, "-d", str(wheels), "pip", *packages], capture_output=True, text=True)
    if download.returncode != 0:
        raise BuildError(
            f"pip download {' '.join(packages)} failed on this machine (exit {download.returncode}):\n{download.stderr[-1500:]}"
        )


def build_aws_app(
    tag: str = "ecslab-aws-app:v1",
    client: Any | None = None,
    config: LabConfig | None = None,
    context: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    nocache: bool = False,
) -> BuildResult:
    """Build the app that calls AWS with boto3 (notebook 07) on the base that works here.

    With ``python:3.12-slim`` (a learner who can pull) the Dockerfile's
    ``RUN pip install boto3`` reaches PyPI as it would anywhere. Otherwise the lab
    builds on :func:`make_wheel_base_image` and passes
    ``--build-arg PIP_OPTIONS="--no-index --find-links /wheels"``.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    base = base_image(client)
    buildargs = {"BASE_IMAGE": base}
    if base != REAL_BASE_IMAGE:
        buildargs = {
            "BASE_IMAGE": make_wheel_base_image(base, client=client, config=config, show_progress=show_progress),
            "PIP_OPTIONS": OFFLINE_PIP_OPTIONS,
        }
    return build_image(
        context or aws_app_dir(),
        tag,
        buildargs=buildargs,
        client=client,
        labels=lab_image_labels(config),
        show_progress=show_progress,
        nocache=nocache,
    )


FIXED_MTIME = 1_704_067_200
"""2024-01-01T00:00:00Z: the modification time :func:`build_from_text` gives every file."""


def build_from_text(
    dockerfile: str,
    tag: str,
    files: Mapping[str, str | bytes] | None = None,
    buildargs: dict[str, str] | None = None,
    client: Any | None = None,
    config: LabConfig | None = None,
    show_progress: bool = False,
    nocache: bool = False,
) -> BuildResult:
    """Build a Dockerfile given as text, with ``files`` (name to content) as its build context.

    The image carries the lab's label, so :func:`remove_images` may remove it.
    Every file gets the same fixed modification time (:data:`FIXED_MTIME`): a file's
    time is part of the layer's bytes, so the same text always makes the same layer.
    Notebook 02 builds tiny images this way; exercise 2.1's checker builds yours.
    """
    with tempfile.TemporaryDirectory(prefix="ecslab-build-") as folder:
        context = Path(folder)
        (context / "Dockerfile").write_text(dockerfile)
        for name, content in (files or {}).items():
            target = context / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            os.utime(target, (FIXED_MTIME, FIXED_MTIME))
        return build_image(
            context,
            tag,
            buildargs=buildargs,
            client=client,
            labels=lab_image_labels(config),
            show_progress=show_progress,
            nocache=nocache,
        )


# -- caching: change one thing, rebuild, see what is reused ------------------------------


@dataclass(frozen=True)
class Change:
    """One edit to the sample app before a rebuild, for the caching demo of notebook 02.

    Either replace ``old`` by ``new`` in ``file`` (``Dockerfile`` or ``app.py``), or
    pass different ``buildargs``, or both; an empty change rebuilds as is.
    """

    label: str
    file: str = "Dockerfile"
    old: str = ""
    new: str = ""
    buildargs: tuple[tuple[str, str], ...] = ()

    def apply(self, folder: Path) -> None:
        """Edit the copy of the sample app in ``folder``."""
        if not self.old:
            return
        path = folder / self.file
        text = path.read_text()
        if self.old not in text:
            raise ValueError(
                f"Change {self.label!r}: {self.old!r} is not in {self.file}; the sample app changed, update the change."
            )
        path.write_text(text.replace(self.old, self.new, 1))


def remove_images(refs: Iterable[str], client: Any | None = None, config: LabConfig | None = None) -> list[str]:
    """``docker rmi`` for the lab's own images (by tag or ID); returns what was removed.

    Images without the lab's label are left alone, as are images a container still
    uses. Removing a tag also deletes the untagged intermediate images only it used,
    which is its build cache: the next build of the same steps runs them again.
    """
    from docker.errors import APIError, ImageNotFound

    from ecslab.engine import docker_client

    client = client or docker_client()
    home = str((config or LabConfig.from_env()).home)
    removed = []
    for ref in refs:
        try:
            image = client.images.get(ref)
        except ImageNotFound:
            continue
        if (image.labels or {}).get(LAB_LABEL) != home:
            continue
        try:
            client.images.remove(ref)
        except (ImageNotFound, APIError):
            continue
        removed.append(ref)
    return removed


def build_changed_sample_app(
    change: Change,
    tag: str,
    client: Any | None = None,
    config: LabConfig | None = None,
    show_progress: bool = False,
) -> BuildResult:
    """Copy the sample app, apply ``change``, and build it as ``tag`` (notebook 02).

    An earlier image under ``tag`` is removed first, so the build shows what one
    change costs right after the v1 build, not what an earlier run left in the cache.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    remove_images([tag], client, config)
    with tempfile.TemporaryDirectory(prefix="ecslab-change-") as folder:
        context = copy_sample_app(folder)
        change.apply(context)
        buildargs = {"BASE_IMAGE": base_image(client), "APP_VERSION": "v1", **dict(change.buildargs)}
        return build_image(
            context, tag, buildargs=buildargs, client=client, labels=lab_image_labels(config), show_progress=show_progress
        )


def cache_explorer(results: Mapping[str, BuildResult]) -> Any:
    """A drop-down of changes; shows which steps the builder reused and which it ran again.

    ``results`` maps each change's label to the real build after that change
    (:func:`build_changed_sample_app`). Notebook 02, section 4.
    """
    import ipywidgets as widgets

    if not results:
        raise ValueError("cache_explorer needs at least one build: build_changed_sample_app(...) for each change.")
    choice = widgets.Dropdown(
        options=list(results), description="I change", layout=widgets.Layout(width="560px"), style={"description_width": "70px"}
    )
    table = widgets.HTML()

    def show(_change: object = None) -> None:
        result = results[choice.value]
        counts = result.counts()
        table.value = (
            f"<p><b>{counts['reused']}</b> steps reused from cache, <b>{counts['rebuilt']}</b> rebuilt. "
            "Every step after the first changed one runs again, even when its own line did not change.</p>"
            + result.steps_html(highlight_first_rebuilt=True)
        )

    choice.observe(show, names="value")
    show()
    return widgets.VBox([choice, table])


def plot_cache(results: Mapping[str, BuildResult], ax: Any | None = None) -> Any:
    """Stacked bars, one per change: steps reused from cache vs steps rebuilt. Returns the axes."""
    import matplotlib.pyplot as plt

    labels = list(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.2))
    reused = [results[label].counts()["reused"] for label in labels]
    rebuilt = [results[label].counts()["rebuilt"] for label in labels]
    positions = range(len(labels))
    ax.barh(positions, reused, color=GREEN, label="reused from cache")
    ax.barh(positions, rebuilt, left=reused, color=ORANGE, label="rebuilt")
    ax.set_yticks(list(positions), [_shorten(label, 40) for label in labels], fontsize=8)
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_xlabel("build steps after FROM")
    ax.set_title("One change, one rebuild: what the cache saved")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
    return ax


# -- what an image is: layers, config, ID, name --------------------------------------------


@dataclass
class Layer:
    """One entry of ``docker history``: the instruction behind it and the bytes it added."""

    created_by: str
    size: int
    image_id: str
    source: str = "Dockerfile"
    """``"base image"``, ``"Dockerfile"`` or ``"ecslab label"`` (the ``--label`` step)."""
    comment: str = ""
    tags: tuple[str, ...] = ()

    @property
    def instruction(self) -> str:
        """The Dockerfile line behind the layer, shortened for tables and charts."""
        text = self.created_by.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").strip()
        # COPY records a digest of the file's content: that is how the cache notices an edit.
        text = re.sub(r"\b(file|dir):([0-9a-f]{12})[0-9a-f]{52}", r"\1:\2…", text)
        text = re.sub(r"\s+", " ", text)
        if not text:
            text = f"(base image {self.tags[0]})" if self.tags else f"({self.comment or 'no command recorded'})"
        return _shorten(text, 60)


def image_layers(image: Any, client: Any | None = None, base: str | None = None) -> list[Layer]:
    """The image's history, base first: one entry per Dockerfile instruction.

    Entries up to the base image's top are marked ``source="base image"``. The base
    is ``base`` (a name or ID) when given, else the lowest entry that carries a
    tag (the base's own layers, pulled from a registry, show no ID and no tag).
    """
    history = list(reversed(image.history()))
    base_top = -1
    if base is not None:
        from ecslab.engine import docker_client

        base_id = (client or docker_client()).images.get(base).id
        base_top = max((i for i, entry in enumerate(history) if entry.get("Id") == base_id), default=-1)
    else:
        base_top = next((i for i, entry in enumerate(history[:-1]) if entry.get("Tags")), -1)
    layers = []
    for index, entry in enumerate(history):
        created_by = entry.get("CreatedBy", "") or ""
        if index <= base_top:
            source = "base image"
        elif f"LABEL {LAB_LABEL}=" in created_by:
            source = "ecslab label"
        else:
            source = "Dockerfile"
        layers.append(
            Layer(
                created_by,
                int(entry.get("Size", 0)),
                entry.get("Id", ""),
                source,
                entry.get("Comment", "") or "",
                tuple(entry.get("Tags") or ()),
            )
        )
    return layers


_SOURCE_COLOUR = {"base image": GREY, "Dockerfile": ORANGE, "ecslab label": NAVY}


def layers_table(layers: Iterable[Layer]) -> str:
    """An HTML table of layers (where from, instruction, size) with a total, for notebooks."""
    layers = list(layers)
    rows = "".join(
        f"<tr><td>{i}</td><td style='text-align:left'><span style='color:{_SOURCE_COLOUR.get(layer.source, GREY)}'>&#9632;</span> {layer.source}</td>"
        f"<td style='text-align:left'><code>{html.escape(layer.instruction)}</code></td><td>{human_size(layer.size)}</td></tr>"
        for i, layer in enumerate(layers, 1)
    )
    total = sum(layer.size for layer in layers)
    return (
        "<table><tr><th>#</th><th style='text-align:left'>from</th><th style='text-align:left'>instruction</th><th>size</th></tr>"
        f"{rows}<tr><td></td><td></td><td style='text-align:left'><b>total</b></td><td><b>{human_size(total)}</b></td></tr></table>"
    )


def plot_layers(layers: list[Layer], ax: Any | None = None, log: bool = False) -> Any:
    """A horizontal bar chart of layer sizes, base first, coloured by where each came from.

    ``log=True`` uses a logarithmic axis, so kilobyte layers show next to a base of
    hundreds of megabytes (empty layers, 0 B, then have no bar). Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.4 * len(layers) + 1.2))
    labels = [_shorten(layer.instruction, 45) for layer in layers]
    sizes = [float(layer.size) for layer in layers]
    colours = [_SOURCE_COLOUR.get(layer.source, GREY) for layer in layers]
    ax.barh(range(len(layers)), sizes, color=colours)
    ax.set_yticks(range(len(layers)), labels, fontsize=8)
    if not ax.yaxis_inverted():  # axes sharing y with an earlier chart are already inverted
        ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlim(left=1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: human_size(value)))
    ax.set_xlabel("size of the layer" + (" (log scale)" if log else ""))
    ax.set_title("Layers of the image, base first")
    for index, size in enumerate(sizes):
        ax.text(max(size, 1.0), index, f" {human_size(size)}", va="center", fontsize=8)
    sources = [source for source in _SOURCE_COLOUR if any(layer.source == source for layer in layers)]
    ax.legend(handles=[Patch(color=_SOURCE_COLOUR[s], label=s) for s in sources], loc="lower right", fontsize=8)
    ax.set_xlim(right=max(sizes + [1.0]) * (20 if log else 1.3))
    return ax


def human_size(size: float) -> str:
    """``253.0 MB``, ``2.6 kB``, ``0 B``: decimal units, as docker prints them."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def config_digest(image: Any, max_bytes: int = 100_000_000) -> str:
    """``sha256:`` of the image's config file, read from ``docker save``: equal to its ID.

    Reads the whole saved image, so it refuses images larger than ``max_bytes``;
    notebook 02 uses it on a tiny ``FROM scratch`` image.
    """
    size = int(image.attrs.get("Size", 0))
    if size > max_bytes:
        raise ValueError(
            f"{image.tags or image.id} is {human_size(size)}; config_digest reads the whole image, use one under {human_size(max_bytes)}."
        )
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(image.save(named=False))))
    manifest_file = archive.extractfile("manifest.json")
    if manifest_file is None:
        raise ValueError("docker save gave no manifest.json")
    config_name = json.load(manifest_file)[0]["Config"]
    config_file = archive.extractfile(config_name)
    if config_file is None:
        raise ValueError(f"docker save gave no {config_name}")
    return "sha256:" + hashlib.sha256(config_file.read()).hexdigest()


def id_names(image: Any, max_bytes: int = 100_000_000) -> str:
    """Which file of the image its ID is the SHA-256 of: ``"config"``, ``"manifest"`` or ``"index"``.

    Notebook 02. With Docker's classic image store (Docker Engine up to 28 by default, this lab's
    engine) the ID is the digest of the image's *config*. With the containerd image store (Docker
    Desktop's default, and Docker Engine 29's on fresh installs) ``docker images`` shows the digest
    of the image's manifest or index instead. Both are digests of content; this says which one, by
    hashing what ``docker save`` exports. Raises ``ValueError`` when neither matches.
    """
    size = int(image.attrs.get("Size", 0))
    if size > max_bytes:
        raise ValueError(
            f"{image.tags or image.id} is {human_size(size)}; id_names reads the whole image, use one under {human_size(max_bytes)}."
        )
    if config_digest(image, max_bytes) == image.id:
        return "config"
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(image.save(named=False))))
    try:
        blob = archive.extractfile(f"blobs/sha256/{image.id.removeprefix('sha256:')}")
    except KeyError:  # the classic store's docker save has no blobs/ folder
        blob = None
    if blob is not None:
        media_type = str(json.load(blob).get("mediaType", ""))
        return "index" if "index" in media_type or "manifest.list" in media_type else "manifest"
    raise ValueError(f"the ID {image.id} is the digest of neither the config nor a manifest that docker save exported")


ImageReference = imageref.ImageRef
"""An image name taken apart (:class:`ecslab.imageref.ImageRef`): ``registry/repository:tag`` or ``...@digest``."""


def parse_reference(name: str) -> ImageReference:
    """Take an image name apart the way docker reads it (notebooks 02 and 03).

    The first part is a registry only when it has a ``.`` or a ``:`` or is
    ``localhost``; otherwise the registry is Docker Hub (``docker.io``), where
    one-word names live under ``library/``. No tag and no digest means ``latest``.
    The parser is :func:`ecslab.imageref.parse`; this is its result with Docker's defaults applied.
    """
    return imageref.parse(name).normalized()
