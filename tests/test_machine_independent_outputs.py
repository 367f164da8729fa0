"""No stored output that nbval compares may depend on the machine that built it.

nbval strict compares every stored output with a fresh run, after the sanitizers in
tests/nbval-sanitize.cfg. A kernel release, Docker version or hostname stored there passes
where the notebook was built and fails on every other machine (CI's, the course image's, a
learner's). Cells may *show* such facts under the ``nbval-ignore-output`` tag; what they
compare must be true everywhere.

The facts are read from this machine at test time, so the test catches an output on the
machine where it is made.
"""

from __future__ import annotations

import configparser
import json
import platform
import re
import socket
from pathlib import Path

import pytest

from ecslab.config import LabConfig

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
IGNORED = "nbval-ignore-output"


def machine_facts() -> dict[str, str]:
    """This machine's facts that must never reach a compared output, by what they are."""
    facts = {
        "kernel release": platform.release(),
        "hostname": socket.gethostname(),
        "Python version of the notebooks' kernel": platform.python_version(),
        "home folder": str(Path.home()),
        "lab state folder": str(LabConfig.from_env().home),
    }
    try:
        from ecslab.engine import docker_client

        docker = docker_client()
        version = docker.version()
        info = docker.info()
    except Exception:  # no engine: the facts it would give cannot be checked here
        return facts
    facts |= {
        "Docker engine version": str(version["Version"]),
        "Docker API version": str(version["ApiVersion"]),
        "Docker engine's kernel": str(info["KernelVersion"]),
        "memory of the Docker engine (bytes)": str(info["MemTotal"]),
        "Docker engine's hostname": str(info["Name"]),
    }
    return facts


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tests" / "nbval-sanitize.cfg")
    return [(re.compile(config[section]["regex"]), config[section]["replace"]) for section in config.sections()]


def compared_outputs(path: Path) -> list[tuple[int, str]]:
    """(cell number, sanitized text) of every output nbval compares in the notebook."""
    notebook = json.loads(path.read_text())
    rules = sanitizers()
    found = []
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or IGNORED in cell.get("metadata", {}).get("tags", []):
            continue
        if "NBVAL_IGNORE_OUTPUT" in "".join(cell["source"]):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts = ["".join(output["text"])]
            else:  # nbval compares every text format an output has (HTML tables included), not images
                texts = ["".join(value) for mime, value in output.get("data", {}).items() if mime.startswith("text/")]
            for text in texts:
                for pattern, replacement in rules:
                    text = pattern.sub(replacement, text)
                found.append((number, text))
    return found


def token(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.+-])" + re.escape(value) + r"(?![\w+-]|\.\w)")


def test_the_facts_are_read_from_this_machine() -> None:
    facts = machine_facts()
    assert facts["kernel release"] and facts["hostname"] and facts["Python version of the notebooks' kernel"]


def test_the_token_match_is_whole_tokens_only() -> None:
    assert token("1.41").search("'API version': '1.41'")
    assert not token("1.41").search("version 1.415 or 21.41")
    assert token("20.10.24+dfsg1").search("engine 20.10.24+dfsg1.")
    assert not token("vm").search("VM sizes, vmstat")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_compared_output_holds_a_fact_of_this_machine(path: Path) -> None:
    facts = {what: value for what, value in machine_facts().items() if value}
    offenders = [
        f"cell {number}: {what} {value!r} in {text[:120]!r}"
        for number, text in compared_outputs(path)
        for what, value in facts.items()
        if token(value).search(text)
    ]
    assert not offenders, (
        "stored outputs that depend on this machine (show them in a cell tagged nbval-ignore-output "
        "and compare something true everywhere instead):\n" + "\n".join(offenders)
    )
