"""Diagrams drawn with matplotlib from real state, not pasted pictures.

:func:`lab_map` (notebook 00) draws the lab's parts with the ports they really
use; :func:`course_map` draws the course's path through the source notes.
"""

from __future__ import annotations

from typing import Any

ORANGE = "#ff9900"
NAVY = "#232f3e"
GREY = "#d5dbdb"


def _box(ax: Any, x: float, y: float, w: float, h: float, title: str, detail: str = "", colour: str = GREY) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", facecolor=colour, edgecolor=NAVY, linewidth=1.2))
    ax.text(x + w / 2, y + h * 0.63, title, ha="center", va="center", fontsize=9, fontweight="bold", color=NAVY)
    if detail:
        ax.text(x + w / 2, y + h * 0.28, detail, ha="center", va="center", fontsize=7.5, color=NAVY)


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], label: str = "") -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": NAVY, "lw": 1.2})
    if label:
        ax.text(start[0] + 0.05, (start[1] + end[1]) / 2 + 0.15, label, ha="left", fontsize=7, color=NAVY)


def lab_map(status: dict[str, Any], ax: Any | None = None) -> Any:
    """The lab as it runs now: the notebook, moto, the registry, the engine, with real addresses.

    ``status`` is ``ecslab status --json`` (``manage.status(config).to_dict()``).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 5)
    ax.axis("off")
    docker = status.get("docker") or {}
    fillers = status.get("fillers") or []
    _box(ax, 0.2, 1.9, 2.2, 1.2, "Your notebook", "boto3 + docker SDK", "#ffffff")
    ax.add_patch(__import__("matplotlib").patches.Rectangle((3.1, 0.2), 6.7, 4.6, fill=False, linestyle="--", edgecolor=NAVY))
    ax.text(3.2, 4.6, "the lab, on 127.0.0.1 (nothing leaves this machine)", fontsize=8, color=NAVY)
    _box(ax, 3.5, 3.1, 2.8, 1.1, "AWS APIs (moto)", status["aws_api"]["url"], ORANGE)
    _box(ax, 3.5, 1.6, 2.8, 1.1, "Registry", "ECR's data plane\n" + status["registry"]["url"], ORANGE)
    _box(
        ax,
        3.5,
        0.35,
        2.8,
        0.95,
        "Docker engine",
        "real containers" if docker.get("ok") else "NOT ANSWERING",
        ORANGE if docker.get("ok") else "#f4cccc",
    )
    _box(ax, 7.0, 1.6, 2.6, 2.6, "Gap fillers", "\n".join(f"- {f['name']}" for f in fillers) or "(none yet)", "#fdebd0")
    _arrow(ax, (2.4, 2.7), (3.5, 3.6), "AWS calls")
    _arrow(ax, (2.4, 2.4), (3.5, 2.1), "push / pull")
    _arrow(ax, (2.4, 2.1), (3.5, 0.8), "build / run")
    _arrow(ax, (7.0, 3.4), (6.3, 3.6), "")
    _arrow(ax, (7.0, 2.0), (6.3, 0.9), "")
    ax.set_title("The local lab, drawn from `ecslab status --json`", fontsize=10)
    return ax


COURSE = [
    ("00", "setup", "the lab"),
    ("01", "containers", "§1 containers & Docker"),
    ("02", "images", "§2 image vs container"),
    ("03", "ECR", "§3 ECR"),
    ("04", "ECS concepts", "§4-5, §7 ECS"),
    ("05", "deploy to ECS", "§6 deployment flow"),
    ("06", "load balancing", "§8 ALB, HTTPS"),
    ("06a", "rolling", "§8 rolling, auto scaling"),
    ("06b", "rollouts", "§8 deployment strategies"),
    ("07", "IAM", "§9 roles, IAM, ECR policies"),
    ("07b", "networks", "§9 subnets, SGs, secrets"),
    ("08", "monitoring", "§10 logs & metrics"),
    ("09", "capstone", "§11 everything"),
]


def course_map(available: set[str], ax: Any | None = None) -> Any:
    """The notebooks as a path, each with the section of the source notes it teaches.

    ``available`` holds the numbers ("00", "01", ..., "06b") of the notebooks that exist; they are orange."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(15, 2.8))
    columns = (len(COURSE) + 1) // 2  # two rows, the second back from right to left
    step, width = 10 / columns, 10 / columns - 0.3
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3)
    ax.axis("off")
    for index, (number, title, section) in enumerate(COURSE):
        row, column = divmod(index, columns)
        x = column * step + 0.1 if row == 0 else (columns - 1 - column) * step + 0.1
        y = 1.7 if row == 0 else 0.2
        _box(ax, x, y, width, 1.0, f"{number} {title}", section, ORANGE if number in available else GREY)
        if column < columns - 1 and index < len(COURSE) - 1:
            start = (x + width, y + 0.5) if row == 0 else (x, y + 0.5)
            end = (x + step, y + 0.5) if row == 0 else (x - 0.3, y + 0.5)
            _arrow(ax, start, end)
    last = (columns - 1) * step + 0.1 + width / 2
    _arrow(ax, (last, 1.7), (last, 1.2))
    ax.set_title(
        f"The course: {len(COURSE)} notebooks, following the lecture notes (orange: in this copy of the course)", fontsize=10
    )
    return ax
