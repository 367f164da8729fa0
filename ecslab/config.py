"""Where the lab lives and how to reach it.

Every setting has a default that works on a learner's laptop and an environment
variable that overrides it, so an instructor can move ports or the state folder
without touching code. Used by every notebook through :func:`ecslab.connect`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ACCOUNT_ID = "123456789012"
"""The account ID moto answers with; the lab never pretends to be a real account."""

DEFAULT_REGION = "us-east-1"
REAL_BASE_IMAGE = "python:3.12-slim"
"""What a real user's ``docker build`` pulls as the sample app's base."""

OFFLINE_BASE_IMAGE = "ecslab/python-base:bookworm"
"""The base image ``ecslab base-image`` makes without internet (debootstrap)."""

LAB_LABEL = "ecslab.lab"
"""Docker label on every container and image the lab owns; its value is the state folder."""

SEED = 42
"""moto's random seed, so ARNs and IDs repeat from one fresh lab to the next."""

LAB_SECONDS_PER_AWS_MINUTE = 1.0
"""The lab's deployment clock: one AWS minute lasts one lab second (60 times faster).

ECS's deployment timers are in minutes (``bakeTimeInMinutes``, ``canaryBakeTimeInMinutes``,
``stepBakeTimeInMinutes``); the API keeps AWS's numbers, and the lab waits this many seconds per minute,
so a notebook shows a canary in seconds. Every lab timer given in AWS minutes uses it
(:func:`ecslab.lab.strategies.lab_seconds`; Fargate Spot's two-minute warning too); ``ecslab status`` prints it, and the
lab's status (the control API's ``GET /status``) shows it as ``deployment_clock``."""


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number; set it to e.g. {default}") from None
    if not 1024 <= port <= 65535:
        why = "ports below 1024 need root" if port < 1024 else "ports end at 65535"
        raise ValueError(f"{name}={port} is outside 1024-65535 ({why}); set it to e.g. {default}")
    return port


def _region(name: str, default: str) -> str:
    """The region in ``name``, checked against the regions botocore knows ECS runs in.

    Only a region the learner set is checked (loading botocore's list costs a few tens of ms)."""
    raw = os.environ.get(name)
    if not raw:
        return default
    import boto3

    regions = boto3.session.Session().get_available_regions("ecs")
    if raw not in regions:
        raise ValueError(
            f"{name}={raw!r} is not a region where ECS runs; set it to e.g. {default} "
            f"(or unset it). ECS regions: {', '.join(regions)}"
        )
    return raw


@dataclass(frozen=True)
class LabConfig:
    """The settings of one lab: its state folder, its ports and its AWS identity.

    Two labs with different ``home`` folders and ports can run side by side
    (the tests do this); one ``home`` never holds two running labs.
    """

    home: Path
    aws_port: int = 4566
    registry_port: int = 5050
    control_port: int = 4567
    region: str = DEFAULT_REGION
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> LabConfig:
        """Read ``ECSLAB_HOME``, ``ECSLAB_AWS_PORT``, ``ECSLAB_REGISTRY_PORT``,
        ``ECSLAB_CONTROL_PORT`` and ``ECSLAB_REGION``; fall back to the defaults."""
        home = Path(os.environ.get("ECSLAB_HOME") or Path.home() / ".ecslab").expanduser()
        return cls(
            home=home.resolve(),
            aws_port=_port("ECSLAB_AWS_PORT", 4566),
            registry_port=_port("ECSLAB_REGISTRY_PORT", 5050),
            control_port=_port("ECSLAB_CONTROL_PORT", 4567),
            region=_region("ECSLAB_REGION", DEFAULT_REGION),
        )

    @property
    def endpoint_url(self) -> str:
        """Where boto3 sends every AWS call while the lab is the target."""
        return f"http://{self.host}:{self.aws_port}"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"

    @property
    def registry_address(self) -> str:
        """``host:port`` of the lab's registry, as docker expects it in an image name.

        ``localhost`` rather than 127.0.0.1 because dockerd then allows plain HTTP
        without any daemon configuration (see LAB-FACTS)."""
        return f"localhost:{self.registry_port}"

    @property
    def state_file(self) -> Path:
        return self.home / "lab.json"

    @property
    def log_file(self) -> Path:
        return self.home / "lab.log"

    @property
    def lock_file(self) -> Path:
        return self.home / "up.lock"

    @property
    def token_file(self) -> Path:
        """The control API's token (0600): whoever can read it may reset or stop the lab."""
        return self.home / "control.token"

    @property
    def registry_dir(self) -> Path:
        return self.home / "registry"

    def to_json(self) -> str:
        data = asdict(self)
        data["home"] = str(self.home)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> LabConfig:
        data = json.loads(text)
        data["home"] = Path(data["home"])
        return cls(**data)


FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
"""moto accepts any credentials; these make it obvious that nothing is real."""
