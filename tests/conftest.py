"""Fixtures shared by the unit tests.

``lab``: the default lab (started when needed), as a notebook would get it.
``isolated_config``: settings for a second, private lab in a temp folder on free
ports, for tests that start, break and stop labs without touching the default one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import ecslab
from ecslab.config import LabConfig
from ecslab.lab import manage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def lab() -> ecslab.Lab:
    return ecslab.connect()


@pytest.fixture
def isolated_config(tmp_path: Path) -> Iterator[LabConfig]:
    config = LabConfig(home=tmp_path / "lab", aws_port=free_port(), registry_port=free_port(), control_port=free_port())
    yield config
    manage.down(config, say=lambda _message: None)


@pytest.fixture(scope="module")
def running_isolated_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabConfig]:
    """One private lab shared by the tests of a module that only read from it."""
    home = tmp_path_factory.mktemp("shared-lab")
    config = LabConfig(home=home, aws_port=free_port(), registry_port=free_port(), control_port=free_port())
    manage.up(config, say=lambda _message: None)
    yield config
    manage.down(config, say=lambda _message: None)
