"""Settings: defaults, environment overrides, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecslab.config import LabConfig


def test_defaults_are_loopback_and_documented_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ECSLAB_HOME", "ECSLAB_AWS_PORT", "ECSLAB_REGISTRY_PORT", "ECSLAB_CONTROL_PORT", "ECSLAB_REGION"):
        monkeypatch.delenv(name, raising=False)
    config = LabConfig.from_env()
    assert (config.host, config.aws_port, config.registry_port, config.control_port) == ("127.0.0.1", 4566, 5050, 4567)
    assert config.home == (Path.home() / ".ecslab").resolve()
    assert config.endpoint_url == "http://127.0.0.1:4566"
    assert config.registry_address == "localhost:5050"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ECSLAB_HOME", str(tmp_path))
    monkeypatch.setenv("ECSLAB_AWS_PORT", "4999")
    monkeypatch.setenv("ECSLAB_REGION", "ap-south-1")
    config = LabConfig.from_env()
    assert config.home == tmp_path.resolve() and config.aws_port == 4999 and config.region == "ap-south-1"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", "is not a port number"),
        ("70000", r"outside 1024-65535 \(ports end at 65535\)"),
        ("80", r"outside 1024-65535 \(ports below 1024 need root\)"),
    ],
)
def test_bad_port_names_the_variable_and_a_fix(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("ECSLAB_REGISTRY_PORT", value)
    with pytest.raises(ValueError, match=f"ECSLAB_REGISTRY_PORT.*{expected}.*e.g. 5050"):
        LabConfig.from_env()


def test_json_round_trip(tmp_path: Path) -> None:
    config = LabConfig(home=tmp_path, aws_port=1, registry_port=2, control_port=3, region="eu-west-1")
    assert LabConfig.from_json(config.to_json()) == config


def test_an_unknown_region_names_the_variable_and_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSLAB_REGION", "us-east-9")
    with pytest.raises(
        ValueError, match=r"ECSLAB_REGION='us-east-9' is not a region where ECS runs; set it to e.g. us-east-1.*eu-west-1"
    ):
        LabConfig.from_env()
