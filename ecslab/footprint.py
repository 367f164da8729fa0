"""Containers against virtual machines: what each copy costs, measured and cited.

Notebook 01 (``01-containers``) uses this module for the "heavy VMs" and
"scalability" rows of the notes' *Why containers?* table. Container figures are
measured on the learner's own machine (:func:`measure_starts`,
:func:`measure_copies`). VM figures cannot be measured here, so they are
published figures, each with its source and date (:data:`VM_FIGURES`), and every
chart labels them "cited, not measured here".

Units: memory and disk in MiB/GiB (2**20, 2**30 bytes), as ``docker stats`` and
AWS instance sizes use them.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecslab.config import LabConfig
from ecslab.containers import (
    Footprint,
    image_bytes,
    memory_usages,
    run_container,
    stop_containers,
    writable_layer_bytes,
)
from ecslab.engine import docker_client

__all__ = [
    "CitedFigure",
    "CopiesExplorer",
    "CopiesPoint",
    "VM_FIGURES",
    "VM_SIZES",
    "cited_table",
    "copies_that_fit",
    "measure_copies",
    "measure_starts",
    "per_copy_memory",
    "plot_copies",
    "plot_start_and_memory",
]

MiB = 2**20
GiB = 2**30
MEASURED_COLOUR = "#ff9900"
CITED_COLOUR = "#aab7b8"
NAVY = "#232f3e"


@dataclass(frozen=True)
class CitedFigure:
    """A published figure we cannot measure here, with where and when it was published."""

    what: str
    value: float
    unit: str
    source: str
    url: str
    published: str
    note: str = ""

    @property
    def label(self) -> str:
        """A short chart label that says the figure is cited, with its year."""
        return f"cited, {self.published[:4]}"


VM_FIGURES: dict[str, CitedFigure] = {
    "vm_start_fast": CitedFigure(
        "EC2 Linux instance: RunInstances call until SSH answers (example run, c5.xlarge)",
        29.0,
        "s",
        'Colin Percival, "EC2 boot time benchmarking" (1.5 + 4.9 + 17.2 + 5.6 s in his example output)',
        "https://daemonology.net/blog/2021-08-12-EC2-boot-time-benchmarking.html",
        "2021-08-12",
        "Until the OS answers; your app starts after that.",
    ),
    "vm_start_typical": CitedFigure(
        "EC2 Linux instance: a reasonable expectation of first availability",
        120.0,
        "s",
        '"Comparing startup times of Linux distros in the cloud", ADMIN magazine issue 65 ("one to two minutes")',
        "https://www.admin-magazine.com/Articles/Comparing-startup-times-of-Linux-distros-in-the-cloud",
        "2021",
        "The upper end of the article's range.",
    ),
    "microvm_start": CitedFigure(
        "Firecracker microVM (runs Lambda and Fargate): starts user-space code in as little as",
        0.125,
        "s",
        'Firecracker project site; Agache et al., "Firecracker: Lightweight Virtualization for Serverless Applications", NSDI \'20',
        "https://firecracker-microvm.github.io/",
        "2020-02",
        "A VM cut down to the bone: each copy still boots its own guest kernel.",
    ),
    "microvm_overhead": CitedFigure(
        "Firecracker microVM: memory overhead of the VM monitor, on top of the guest's own RAM",
        5.0,
        "MiB",
        'Firecracker project site ("less than 5 MiB")',
        "https://firecracker-microvm.github.io/",
        "2020-02",
        "Excludes the memory given to the guest OS.",
    ),
    "t3.nano": CitedFigure(
        "EC2 t3.nano: memory a VM of this size reserves",
        0.5,
        "GiB",
        "AWS, Amazon EC2 T3 instances (sizes table)",
        "https://aws.amazon.com/ec2/instance-types/t3/",
        "2018-08",
        "T3 family launched August 2018; sizes unchanged since.",
    ),
    "t3.micro": CitedFigure(
        "EC2 t3.micro: memory a VM of this size reserves",
        1.0,
        "GiB",
        "AWS, Amazon EC2 T3 instances (sizes table)",
        "https://aws.amazon.com/ec2/instance-types/t3/",
        "2018-08",
        "T3 family launched August 2018; sizes unchanged since.",
    ),
    "t3.small": CitedFigure(
        "EC2 t3.small: memory a VM of this size reserves",
        2.0,
        "GiB",
        "AWS, Amazon EC2 T3 instances (sizes table)",
        "https://aws.amazon.com/ec2/instance-types/t3/",
        "2018-08",
        "T3 family launched August 2018; sizes unchanged since.",
    ),
}
"""Published VM figures, keyed by what they are. Never measured here; always shown with their source."""

VM_SIZES = ("t3.nano", "t3.micro", "t3.small")
"""The VM sizes the copies explorer offers, smallest first."""


def _bytes(figure: CitedFigure) -> int:
    return int(figure.value * {"GiB": GiB, "MiB": MiB}[figure.unit])


def cited_table(keys: Sequence[str] | None = None) -> str:
    """An HTML table of the cited VM figures: what, value, source (linked) and date."""
    rows = []
    for key in keys or list(VM_FIGURES):
        figure = VM_FIGURES[key]
        value = f"{figure.value:g} {figure.unit}"
        source = f"<a href='{html.escape(figure.url)}'>{html.escape(figure.source)}</a>"
        rows.append(
            f"<tr><td>{html.escape(figure.what)}</td><td><b>{value}</b></td><td>{source}</td>"
            f"<td>{html.escape(figure.published)}</td><td>{html.escape(figure.note)}</td></tr>"
        )
    head = "<tr><th>figure (cited, not measured here)</th><th>value</th><th>source</th><th>published</th><th>note</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


# -- measuring containers ------------------------------------------------------------------


def measure_starts(
    image: str, runs: int = 5, purpose: str = "measure", client: Any | None = None, config: LabConfig | None = None
) -> list[Footprint]:
    """Start ``image`` ``runs`` times, one after another, timing each ``docker run`` until ``/health`` answers.

    Each run creates a new container from the same image (already on disk). The
    containers stay up until the last one answered; then the memory of each is read
    (all at once, as ``docker stats`` does) and they are removed.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    client = client or docker_client()
    size = image_bytes(image, client)
    running = []
    seconds = []
    try:
        for _ in range(runs):
            started = time.monotonic()
            running.append(run_container(image, purpose=purpose, client=client, config=config))
            seconds.append(time.monotonic() - started)
        memory = memory_usages([copy.container for copy in running])
    finally:
        stop_containers([copy.container for copy in running], timeout=0)
    return [Footprint(start_seconds=s, memory_bytes=m, image_bytes=size) for s, m in zip(seconds, memory, strict=True)]


@dataclass(frozen=True)
class CopiesPoint:
    """N copies of one image running side by side, measured."""

    copies: int
    seconds: float
    """From the first ``docker run`` until the N-th copy answered ``/health``."""
    memory_bytes: int
    """Memory in use by all N copies together (``docker stats``)."""
    disk_bytes: int
    """The image once, plus what each copy wrote on top of it."""


def measure_copies(
    image: str,
    max_copies: int = 5,
    purpose: str = "measure",
    client: Any | None = None,
    config: LabConfig | None = None,
    keep: bool = False,
) -> list[CopiesPoint]:
    """Start ``max_copies`` copies of ``image`` one after another, then measure them side by side.

    Returns one :class:`CopiesPoint` per count N, 1 to ``max_copies``: the time to
    bring up the first N copies (the sum of their ``docker run`` until ``/health``
    times), the memory the first N use (read for all copies at once, while all
    run) and the disk they need. The copies are removed afterwards unless ``keep``
    (then remove them with ``ecslab.containers.remove_containers(purpose)``).
    """
    if max_copies < 1:
        raise ValueError(f"max_copies must be at least 1, not {max_copies}")
    client = client or docker_client()
    size = image_bytes(image, client)
    running = []
    seconds = []
    try:
        for _ in range(max_copies):
            started = time.monotonic()
            running.append(run_container(image, purpose=purpose, client=client, config=config))
            seconds.append(time.monotonic() - started)
        memory = memory_usages([copy.container for copy in running])
        writes = [writable_layer_bytes(copy.container, client) for copy in running]
    finally:
        if not keep:
            stop_containers([copy.container for copy in running], timeout=0)
    return [CopiesPoint(n, sum(seconds[:n]), sum(memory[:n]), size + sum(writes[:n])) for n in range(1, max_copies + 1)]


def per_copy_memory(points: Sequence[CopiesPoint]) -> float:
    """Memory one more copy costs: the median of total memory / copies over the measured points."""
    if not points:
        raise ValueError("per_copy_memory needs at least one measured point")
    return float(statistics.median(point.memory_bytes / point.copies for point in points))


def copies_that_fit(per_copy_bytes: float, host_memory_bytes: int) -> int:
    """How many copies fit in ``host_memory_bytes`` of RAM at ``per_copy_bytes`` each (memory alone)."""
    if per_copy_bytes <= 0:
        raise ValueError(f"per_copy_bytes must be positive, not {per_copy_bytes}")
    return int(host_memory_bytes // per_copy_bytes)


# -- charts ----------------------------------------------------------------------------------


def _new_figure(width: float, height: float) -> tuple[Any, Any]:
    """A figure outside pyplot: no global state, and safe to render inside a widget callback."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def _legend_handles() -> list[Any]:
    from matplotlib.patches import Patch

    return [
        Patch(facecolor=MEASURED_COLOUR, edgecolor=NAVY, label="measured on this machine"),
        Patch(facecolor=CITED_COLOUR, edgecolor=NAVY, hatch="//", label="cited, not measured here"),
    ]


def _seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.0f} s"


def plot_start_and_memory(starts: Sequence[Footprint], axes: Sequence[Any] | None = None) -> Any:
    """Two panels: time until the app answers, and memory per copy; container (measured) vs VMs (cited).

    ``starts`` are the runs from :func:`measure_starts`; the container bar is their
    median, with a line from the fastest to the slowest run. Draws on ``axes`` (two
    of them) or on a new pyplot figure; returns the figure.
    """
    if not starts:
        raise ValueError("plot_start_and_memory needs at least one measured start")
    if axes is None:
        import matplotlib.pyplot as plt

        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    else:
        left, right = axes
        figure = left.figure
    seconds = [run.start_seconds for run in starts]
    middle = statistics.median(seconds)
    fast, typical, micro = VM_FIGURES["vm_start_fast"], VM_FIGURES["vm_start_typical"], VM_FIGURES["microvm_start"]

    labels = [
        f"container\n(measured, median of {len(starts)})",
        f"Firecracker microVM\n({micro.label})",
        f"EC2 Linux VM\n({fast.label})",
    ]
    left.bar(0, middle, color=MEASURED_COLOUR, edgecolor=NAVY)
    left.errorbar(0, middle, yerr=[[middle - min(seconds)], [max(seconds) - middle]], color=NAVY, capsize=4)
    left.bar(1, micro.value, color=CITED_COLOUR, edgecolor=NAVY, hatch="//")
    left.bar(2, typical.value - fast.value, bottom=fast.value, color=CITED_COLOUR, edgecolor=NAVY, hatch="//")
    left.set_yscale("log")
    left.set_ylim(0.01, 1000)
    left.set_xticks(range(3), labels, fontsize=8)
    left.set_ylabel("seconds until it answers (log scale)")
    left.set_title("Start: docker run until /health answers", fontsize=10)
    left.text(0, max(seconds) * 1.3, _seconds_text(middle), ha="center", fontsize=9, fontweight="bold")
    left.text(1, micro.value * 1.3, "as little as\n" + _seconds_text(micro.value), ha="center", fontsize=8)
    left.text(2, typical.value * 1.3, f"{_seconds_text(fast.value)} to {typical.value / 60:.0f} min", ha="center", fontsize=8)

    memory = statistics.median(run.memory_bytes for run in starts) / MiB
    sizes = [VM_FIGURES[name] for name in VM_SIZES[:2]]
    right.bar(0, memory, color=MEASURED_COLOUR, edgecolor=NAVY)
    for index, figure_ in enumerate(sizes, start=1):
        right.bar(index, _bytes(figure_) / MiB, color=CITED_COLOUR, edgecolor=NAVY, hatch="//")
        right.text(index, _bytes(figure_) / MiB * 1.3, f"{figure_.value:g} GiB", ha="center", fontsize=8)
    right.text(0, memory * 1.3, f"{memory:.0f} MiB", ha="center", fontsize=9, fontweight="bold")
    right.set_yscale("log")
    right.set_ylim(1, 10_000)
    right.set_xticks(
        range(3), ["container\n(measured: in use)"] + [f"{name} VM\n(cited: reserved)" for name in VM_SIZES[:2]], fontsize=8
    )
    right.set_ylabel("MiB per copy (log scale)")
    right.set_title("Memory: what one copy of the app costs", fontsize=10)
    right.legend(handles=_legend_handles(), fontsize=8, loc="upper left")
    return figure


def plot_copies(
    points: Sequence[CopiesPoint],
    host_memory_bytes: int,
    copies: int,
    vm_size: str = "t3.micro",
    max_copies: int = 100,
    ax: Any | None = None,
) -> Any:
    """Total memory for ``copies`` copies: containers (measured points, then per-copy x N) vs VMs (cited).

    The horizontal line is this machine's RAM: where a line crosses it, no more
    copies fit. Draws on ``ax`` or on a new figure outside pyplot (so that the
    explorer's redraws never pile up figures); returns the figure.
    """
    if ax is None:
        figure, ax = _new_figure(8, 4.2)
    else:
        figure = ax.figure
    per_copy = per_copy_memory(points)
    vm_bytes = _bytes(VM_FIGURES[vm_size])
    counts = list(range(1, max_copies + 1))
    ax.plot(
        counts,
        [n * vm_bytes / GiB for n in counts],
        color=NAVY,
        linestyle="--",
        label=f"{vm_size} VMs: N x {vm_bytes / GiB:g} GiB ({VM_FIGURES[vm_size].label})",
    )
    ax.plot(
        counts,
        [n * per_copy / GiB for n in counts],
        color=MEASURED_COLOUR,
        label=f"containers: N x {per_copy / MiB:.0f} MiB (from the measured points)",
    )
    ax.scatter(
        [p.copies for p in points],
        [p.memory_bytes / GiB for p in points],
        color=MEASURED_COLOUR,
        edgecolor=NAVY,
        zorder=3,
        label=f"containers measured (1 to {len(points)} copies)",
    )
    ax.axhline(host_memory_bytes / GiB, color="#b3261e", linewidth=1)
    ax.text(
        1, host_memory_bytes / GiB * 1.15, f"this machine's RAM: {host_memory_bytes / GiB:.1f} GiB", color="#b3261e", fontsize=8
    )
    ax.axvline(copies, color="#888888", linewidth=0.8)
    ax.scatter(
        [copies, copies], [copies * per_copy / GiB, copies * vm_bytes / GiB], color=[MEASURED_COLOUR, NAVY], s=60, zorder=4
    )
    ax.set_yscale("log")
    ax.set_ylim(0.001, max(max_copies * vm_bytes / GiB, host_memory_bytes / GiB) * 3)
    ax.set_xlim(0, max_copies + 1)
    ax.set_xlabel("copies of the app (N)")
    ax.set_ylabel("total memory, GiB (log scale)")
    ax.set_title(
        f"{copies} copies: containers {copies * per_copy / GiB:.2f} GiB vs {vm_size} VMs {copies * vm_bytes / GiB:g} GiB",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="lower right")
    return figure


# -- the widget -------------------------------------------------------------------------------


def _png_img(figure: Any) -> str:
    """The figure as an <img> with the PNG inline: kept in the saved notebook, so it shows without a kernel."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='total memory for N copies: containers vs VMs' src='data:image/png;base64,{data}'>"


class CopiesExplorer:
    """A slider "how many copies" and a VM-size menu that redraw the memory chart and a summary.

    Built from data measured earlier in notebook 01; moving a control measures
    nothing new and prints nothing (it updates an image and an HTML line).
    """

    def __init__(
        self,
        points: Sequence[CopiesPoint],
        host_memory_bytes: int,
        max_copies: int = 100,
        copies: int = 10,
        vm_size: str = "t3.micro",
    ) -> None:
        import ipywidgets as widgets

        if not points:
            raise ValueError("CopiesExplorer needs measured points: run measure_copies first")
        self.points = list(points)
        self.host_memory_bytes = host_memory_bytes
        self.max_copies = max_copies
        self.image_disk_bytes = min(point.disk_bytes for point in self.points)
        self.slider = widgets.IntSlider(value=copies, min=1, max=max_copies, description="copies", continuous_update=False)
        self.vm_size = widgets.Dropdown(
            options=[(f"{name} ({VM_FIGURES[name].value:g} GiB)", name) for name in VM_SIZES],
            value=vm_size,
            description="VM size",
        )
        self.chart = widgets.HTML()
        self.summary = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.slider, self.vm_size]), self.summary, self.chart])
        self.slider.observe(self._redraw, names="value")
        self.vm_size.observe(self._redraw, names="value")
        self._redraw()

    def facts(self, copies: int, vm_size: str) -> dict[str, float | int]:
        """The numbers behind the summary line for ``copies`` copies and VMs of ``vm_size``."""
        per_copy = per_copy_memory(self.points)
        vm_bytes = _bytes(VM_FIGURES[vm_size])
        writes = max(point.disk_bytes - self.image_disk_bytes for point in self.points) / max(
            point.copies for point in self.points
        )
        return {
            "copies": copies,
            "container_memory_bytes": copies * per_copy,
            "vm_memory_bytes": copies * vm_bytes,
            "containers_that_fit": copies_that_fit(per_copy, self.host_memory_bytes),
            "vms_that_fit": copies_that_fit(vm_bytes, self.host_memory_bytes),
            "container_disk_bytes": self.image_disk_bytes + copies * writes,
        }

    def _redraw(self, change: Any = None) -> None:
        copies, vm_size = self.slider.value, self.vm_size.value
        facts = self.facts(copies, vm_size)
        self.summary.value = (
            f"<p><b>{copies} copies.</b> Memory: containers use <b>{facts['container_memory_bytes'] / MiB:,.0f} MiB</b> (measured), "
            f"{vm_size} VMs reserve <b>{facts['vm_memory_bytes'] / GiB:g} GiB</b> (cited). "
            f"This machine's {self.host_memory_bytes / GiB:.1f} GiB of RAM fits about <b>{facts['containers_that_fit']:,}</b> "
            f"containers or <b>{facts['vms_that_fit']:,}</b> such VMs.<br>"
            f"Disk: the containers share one image, {facts['container_disk_bytes'] / MiB:,.0f} MiB in all (measured); "
            f"each VM boots from its own disk holding a whole OS.</p>"
        )
        self.chart.value = _png_img(plot_copies(self.points, self.host_memory_bytes, copies, vm_size, self.max_copies))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # The widget's own text/plain carries the chart, which changes from run to run;
        # a fixed description keeps the notebook's stored text output repeatable.
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude))
        bundle["text/plain"] = f"CopiesExplorer(copies 1 to {self.max_copies}, VM sizes {', '.join(VM_SIZES)})"
        return bundle

    def __repr__(self) -> str:
        return f"CopiesExplorer(copies 1 to {self.max_copies}, VM sizes {', '.join(VM_SIZES)})"
