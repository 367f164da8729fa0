"""Images: the offline base image, building the sample app, and looking inside.

Introduced in notebook 02 (Dockerfile, build, layers and caching); every later
notebook builds the sample app through :func:`build_sample_app`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ecslab.config import LAB_LABEL, OFFLINE_BASE_IMAGE, REAL_BASE_IMAGE, LabConfig
from ecslab.progress import Progress


class BuildError(RuntimeError):
    """``docker build`` failed; the message carries the failing step and its output."""


def image_present(name: str, client: Any | None = None) -> bool:
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
        raise RuntimeError("debootstrap needs root: run `sudo ecslab base-image`, or `export ECSLAB_BASE_IMAGE=python:3.12-slim` where you can pull.")
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
        repository, _, tag = name.rpartition(":")
        client.api.import_image(
            src=str(archive),
            repository=repository,
            tag=tag,
            changes=['CMD ["python3"]', "ENV LANG=C.UTF-8", f"LABEL {LAB_LABEL}.base=debootstrap"],
        )
    say(f"Made {name}.")
    return name


# -- the sample app ------------------------------------------------------------


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


@dataclass
class BuildStep:
    number: int
    instruction: str
    cached: bool = False
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    """What ``docker build`` did, step by step, and the image it made."""

    image: Any
    tag: str
    steps: list[BuildStep]
    seconds: float

    @property
    def image_id(self) -> str:
        return str(self.image.id)

    @property
    def cached_steps(self) -> list[int]:
        return [step.number for step in self.steps if step.cached]

    @property
    def rebuilt_steps(self) -> list[int]:
        return [step.number for step in self.steps if not step.cached and not step.instruction.upper().startswith("FROM")]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{s.number}</td><td><code>{_escape(s.instruction)}</code></td>"
            f"<td>{'reused from cache' if s.cached else ('base image' if s.instruction.upper().startswith('FROM') else 'ran')}</td></tr>"
            for s in self.steps
        )
        return (
            f"<p>Built <code>{_escape(self.tag)}</code> ({self.image_id[7:19]}) in {self.seconds:.1f} s</p>"
            f"<table><tr><th>step</th><th>instruction</th><th>what happened</th></tr>{rows}</table>"
        )

    def __repr__(self) -> str:
        return f"BuildResult(tag={self.tag!r}, steps={len(self.steps)}, cached={self.cached_steps}, seconds={self.seconds:.1f})"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def build_image(
    path: str | os.PathLike[str],
    tag: str,
    buildargs: dict[str, str] | None = None,
    client: Any | None = None,
    labels: dict[str, str] | None = None,
    show_progress: bool = True,
) -> BuildResult:
    """``docker build -t TAG PATH`` with progress shown step by step.

    Raises :class:`BuildError` naming the failing step and its last output lines.
    """
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    steps: list[BuildStep] = []
    image_id: str | None = None
    progress = Progress(f"docker build -t {tag}", enabled=show_progress)
    started = time.monotonic()
    step_started = started
    for chunk in client.api.build(
        path=str(path), tag=tag, buildargs=buildargs or {}, labels=labels or {}, rm=True, forcerm=True, decode=True
    ):
        if "error" in chunk:
            failing = steps[-1] if steps else None
            where = f"step {failing.number} ({failing.instruction})" if failing else "before the first step"
            tail = "\n".join((failing.output if failing else [])[-8:])
            progress.done(f"failed at {where}")
            raise BuildError(f"docker build failed at {where}: {chunk['error'].strip()}\n{tail}".rstrip())
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        for line in chunk.get("stream", "").splitlines():
            match = _STEP.match(line.strip())
            if match:
                now = time.monotonic()
                if steps:
                    steps[-1].seconds = now - step_started
                step_started = now
                number, total, instruction = int(match[1]), int(match[2]), match[3]
                steps.append(BuildStep(number, instruction))
                progress.update(number, total, f"step {number}/{total}: {instruction}")
            elif steps:
                if "Using cache" in line:
                    steps[-1].cached = True
                if line.strip():
                    steps[-1].output.append(line.rstrip())
    if steps:
        steps[-1].seconds = time.monotonic() - step_started
    if image_id is None:
        image_id = client.images.get(tag).id
    seconds = time.monotonic() - started
    cached = sum(step.cached for step in steps)
    progress.done(f"built {tag} in {seconds:.1f} s: {len(steps)} steps, {cached} from cache")
    return BuildResult(image=client.images.get(image_id), tag=tag, steps=steps, seconds=seconds)


def build_sample_app(
    tag: str = "ecslab-sample:v1",
    version: str = "v1",
    client: Any | None = None,
    config: LabConfig | None = None,
    context: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> BuildResult:
    """Build the course's sample app (``version`` v1 or v2) on the base that works here."""
    config = config or LabConfig.from_env()
    from ecslab.engine import docker_client

    client = client or docker_client(timeout=600)
    return build_image(
        context or sample_app_dir(),
        tag,
        buildargs={"BASE_IMAGE": base_image(client), "APP_VERSION": version},
        client=client,
        labels={LAB_LABEL: str(config.home)},
        show_progress=show_progress,
    )


# -- looking inside an image ----------------------------------------------------------


@dataclass
class Layer:
    created_by: str
    size: int
    image_id: str

    @property
    def instruction(self) -> str:
        """The Dockerfile line behind the layer, shortened for tables and charts."""
        text = self.created_by.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").strip()
        text = re.sub(r"\s+", " ", text)
        return text if len(text) <= 60 else text[:57] + "..."


def image_layers(image: Any, client: Any | None = None) -> list[Layer]:
    """The image's history, base first: one entry per Dockerfile instruction."""
    history = image.history()
    return [Layer(entry.get("CreatedBy", ""), int(entry.get("Size", 0)), entry.get("Id", "")) for entry in reversed(history)]


def layers_table(layers: Iterable[Layer]) -> str:
    """An HTML table of layers (instruction, size) for notebooks."""
    rows = "".join(f"<tr><td>{i}</td><td><code>{_escape(layer.instruction)}</code></td><td>{human_size(layer.size)}</td></tr>" for i, layer in enumerate(layers, 1))
    return f"<table><tr><th>#</th><th>instruction</th><th>size</th></tr>{rows}</table>"


def plot_layers(layers: list[Layer], ax: Any | None = None) -> Any:
    """A horizontal bar chart of layer sizes (MB), base at the top. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(layers) + 1))
    labels = [layer.instruction[:45] for layer in layers]
    sizes = [layer.size / 1e6 for layer in layers]
    ax.barh(range(len(layers)), sizes, color="#ff9900")
    ax.set_yticks(range(len(layers)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("layer size (MB)")
    ax.set_title("Layers of the image, base first")
    for index, size in enumerate(sizes):
        ax.text(size, index, f" {size:.2f} MB" if size < 10 else f" {size:.0f} MB", va="center", fontsize=8)
    return ax


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"

