"""The ``ecslab`` command's exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecslab import authoring, cli
from ecslab.config import LabConfig


@pytest.fixture
def use_config(monkeypatch: pytest.MonkeyPatch, isolated_config: LabConfig) -> LabConfig:
    monkeypatch.setenv("ECSLAB_HOME", str(isolated_config.home))
    monkeypatch.setenv("ECSLAB_AWS_PORT", str(isolated_config.aws_port))
    monkeypatch.setenv("ECSLAB_REGISTRY_PORT", str(isolated_config.registry_port))
    monkeypatch.setenv("ECSLAB_CONTROL_PORT", str(isolated_config.control_port))
    return isolated_config


def test_status_when_not_running(use_config: LabConfig, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status"]) == 3
    assert "not running" in capsys.readouterr().out


def test_up_status_json_down(use_config: LabConfig, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["up"]) == 0
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["running"] and data["aws_api"]["url"] == use_config.endpoint_url
    assert cli.main(["down"]) == 0
    assert "Stopped the lab" in capsys.readouterr().out


def test_reset_without_lab_is_a_clear_error(use_config: LabConfig, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reset"]) == 2
    assert capsys.readouterr().err.startswith("ecslab reset: The lab is not running")


def test_env_prints_exports(use_config: LabConfig, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["env"]) == 0
    out = capsys.readouterr().out
    assert f"export AWS_ENDPOINT_URL={use_config.endpoint_url}" in out
    assert "export AWS_ACCESS_KEY_ID=testing" in out and "export AWS_DEFAULT_REGION=us-east-1" in out


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("ECSLAB_REGION", "mars-1", "ecslab up: ECSLAB_REGION='mars-1' is not a region where ECS runs; set it to e.g. us-east-1"),
        (
            "ECSLAB_AWS_PORT",
            "443",
            "ecslab up: ECSLAB_AWS_PORT=443 is outside 1024-65535 (ports below 1024 need root); set it to e.g. 4566",
        ),
    ],
)
def test_bad_settings_are_one_line_with_the_fix(
    use_config: LabConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert cli.main(["up"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(expected) and "Traceback" not in error
    assert not use_config.state_file.exists()


def test_grade_release_writes_the_exercises_and_their_check_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["grade", "--release", "--release-folder", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "release.json").read_text())
    assert (tmp_path / "release.json").read_text() == (authoring.ROOT / "exercises" / "release.json").read_text()
    assert [check["id"] for check in record["00-setup"]["checks"]] == ["0.1", "0.2"]
    for stem in record:  # the same notebooks as the course's exercises/
        assert (tmp_path / f"{stem}.ipynb").read_text() == (authoring.ROOT / "exercises" / f"{stem}.ipynb").read_text()
    assert "Released the exercises" in capsys.readouterr().out


def test_grade_without_submissions_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["grade", str(tmp_path), "--release-folder", str(authoring.ROOT / "exercises")]) == 2
    assert "no exercise notebook found" in capsys.readouterr().err
