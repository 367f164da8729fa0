"""The gap fillers and the moto internals they lean on.

moto is pinned; when it is upgraded these tests say which internal moved.
"""

from __future__ import annotations

import json
import urllib.request
from importlib.metadata import version

from ecslab.config import LabConfig
from ecslab.lab.fillers import all_fillers


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", "the fillers read moto's internals: re-check them before moving the pin"


def test_the_internals_the_lab_uses_still_exist() -> None:
    from moto.moto_api import state_manager
    from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: F401
    from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: F401

    assert callable(state_manager.set_transition) and callable(state_manager.get_transition)


def test_every_filler_says_what_gap_it_fills() -> None:
    for filler in all_fillers():
        assert filler.name and filler.gap and filler.fills


def test_task_transitions_are_manual_in_a_running_lab(running_isolated_lab: LabConfig) -> None:
    url = f"{running_isolated_lab.endpoint_url}/moto-api/state-manager/get-transition?model_name=ecs::task"
    with urllib.request.urlopen(url) as response:
        assert json.loads(response.read())["progression"] == "manual"
