"""environment.yml (conda users) and pyproject.toml (pip users) list the same packages.

Names are compared as PyPI spells them (conda-forge's docker-py is docker).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# conda-forge spells a few packages differently from PyPI.
CONDA_NAMES = {"docker-py": "docker"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower()


def pip_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return set(names)


def conda_packages() -> set[str]:
    names = set()
    section = None
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if stripped and not stripped.startswith(" "):
            section = stripped.rstrip(":")
            continue
        item = stripped.strip()
        if section == "dependencies" and item.startswith("- ") and item not in ("- pip", "- pip:"):
            name = _name(item[2:])
            if name not in ("python", "pip"):
                names.add(CONDA_NAMES.get(name, name))
    return names


def test_the_two_files_agree() -> None:
    pip, conda = pip_packages(), conda_packages()
    assert pip - conda == set(), f"in pyproject.toml but not environment.yml: {sorted(pip - conda)}"
    assert conda - pip == set(), f"in environment.yml but not pyproject.toml: {sorted(conda - pip)}"


def test_every_conda_line_says_who_needs_it() -> None:
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        if line.strip().startswith("- ") and line.strip() not in ("- pip:",):
            assert "#" in line, f"environment.yml: say who needs {line.strip()!r}"
