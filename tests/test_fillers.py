"""The gap fillers and the moto internals they lean on.

moto is pinned; when it is upgraded these tests say which internal moved.
"""

from __future__ import annotations

import json
import re
import urllib.request
from importlib.metadata import version
from pathlib import Path

import botocore.exceptions
import pytest

from ecslab.config import LabConfig
from ecslab.lab.wiring import filler_classes
from tests.conftest import LabClients


def test_moto_is_the_pinned_version() -> None:
    """The pin lives in pyproject.toml only; the adapters' patches are checked by tests/test_moto_patches.py."""
    pin = re.search(r'"moto\[server\]==([0-9.]+)"', (Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pin is not None
    assert version("moto") == pin.group(1), "this environment's moto is not the pinned one: reinstall (pip install -e '.[dev]')"


def test_the_internals_the_lab_uses_still_exist() -> None:
    from moto.moto_api import state_manager
    from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: F401
    from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: F401

    assert callable(state_manager.set_transition) and callable(state_manager.get_transition)


def test_every_filler_says_what_gap_it_fills() -> None:
    for filler in filler_classes():
        assert filler.name and filler.gap and filler.fills


def test_task_transitions_are_manual_in_a_running_lab(running_isolated_lab: LabConfig) -> None:
    url = f"{running_isolated_lab.endpoint_url}/moto-api/state-manager/get-transition?model_name=ecs::task"
    with urllib.request.urlopen(url) as response:
        assert json.loads(response.read())["progression"] == "manual"


def test_create_role_refuses_a_malformed_trust_policy_and_creates_nothing(running_isolated_lab: LabConfig) -> None:
    iam = LabClients(running_isolated_lab).iam
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        iam.create_role(RoleName="broken-trust", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": [')
    assert refused.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    assert "broken-trust" not in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    assert iam.create_role(RoleName="good-trust", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["RoleName"] == "good-trust"


def test_every_filler_starts_after_the_fillers_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecslab.lab import wiring

    fillers = wiring.wire()  # checks the declared start order against the collaborators each filler got
    assert fillers.agent.targets is fillers.load_balancing and fillers.agent.logs is fillers.cloudwatch
    monkeypatch.setattr(wiring, "START_ORDER", tuple(reversed(wiring.START_ORDER)))
    with pytest.raises(ValueError, match="starts before"):
        wiring.check_start_order(fillers)


def test_two_fillers_giving_the_same_status_key_is_refused() -> None:
    from ecslab.lab.fillers import GapFiller
    from ecslab.lab.server import fillers_status

    class One(GapFiller):
        name = "one"

        def status(self) -> dict[str, object]:
            return {"listeners": 1}

    class Two(One):
        name = "two"

    assert fillers_status([One()]) == {"listeners": 1}
    with pytest.raises(ValueError, match="'listeners' of two is already given by one"):
        fillers_status([One(), Two()])


def test_the_lab_lock_refuses_what_must_not_run_under_it() -> None:
    import threading

    from ecslab.lab.fillers import LabLock

    lock = LabLock(patience=0.2)
    lock.forbid("Docker I/O")  # not held: fine
    with lock, lock:  # reentrant
        with pytest.raises(RuntimeError, match="Docker I/O while holding the lab lock"):
            lock.forbid("Docker I/O")
        failures: list[str] = []

        def other() -> None:
            try:
                with lock:
                    pass
            except RuntimeError as error:
                failures.append(str(error))

        thread = threading.Thread(target=other, name="other")
        thread.start()
        thread.join()
        assert failures and "held for over 0 s by thread 'MainThread'" in failures[0]
