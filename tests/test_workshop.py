"""The workshop on JupyterHub (workshop/): the hub's configuration, the Kubernetes values file and,
when asked for, the live test with three learners.

The configuration is loaded as JupyterHub loads it, with a fake Docker client injected in place of
`docker.from_env`, so these tests need neither JupyterHub nor a Docker engine. The live test
(workshop/test-hub.sh) runs only with ECSLAB_TEST_HUB=1 and the course image built.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml

WORKSHOP = Path(__file__).resolve().parent.parent / "workshop"
docker = pytest.importorskip("docker")
traitlets_loader = pytest.importorskip("traitlets.config.loader")


class FakeNetwork:
    def __init__(self, gateway: str | None) -> None:
        self.id = "0123456789abcdef"
        pool = {"Subnet": "172.30.0.0/16"} | ({"Gateway": gateway} if gateway else {})
        self.attrs = {"IPAM": {"Config": [pool]}, "Options": {}}
        self.created_with: dict = {}

    def reload(self) -> None:
        pass


class FakeDocker:
    """What the configuration asks of Docker: runtimes, a privileged probe, the learners' network."""

    def __init__(
        self, runtimes: tuple[str, ...] = ("runc",), privileged_ok: bool = False, gateway: str | None = "172.30.0.1"
    ) -> None:
        self.runtimes = runtimes
        self.privileged_ok = privileged_ok
        self.network = FakeNetwork(gateway)
        self.probes: list[dict] = []
        self.containers = SimpleNamespace(run=self._run, get=self._get)
        self.networks = SimpleNamespace(get=self._network_get, create=self._network_create)

    def info(self) -> dict:
        return {"Runtimes": {name: {} for name in self.runtimes}}

    def _run(self, image: str, **kwargs: object) -> bytes:
        self.probes.append({"image": image, **kwargs})
        if not self.privileged_ok:
            raise docker.errors.APIError("unable to apply caps: operation not permitted")
        return b""

    def _get(self, name: str) -> object:
        raise docker.errors.NotFound(name)

    def _network_get(self, name: str) -> FakeNetwork:
        raise docker.errors.NotFound(name)

    def _network_create(self, name: str, **kwargs: object) -> FakeNetwork:
        self.network.created_with = {"name": name, **kwargs}
        return self.network

    def close(self) -> None:
        pass


def load_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeDocker, **env: str):
    """The traitlets Config the hub would get from workshop/jupyterhub_config.py."""
    for name in list(os.environ):
        if name.startswith("ECSLAB_HUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ECSLAB_HUB_STATE", str(tmp_path / "state"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(docker, "from_env", lambda: fake)
    loader = traitlets_loader.PyFileConfigLoader("jupyterhub_config.py", path=str(WORKSHOP))
    return loader.load_config()


def test_defaults_one_course_container_per_learner_on_127_0_0_1(monkeypatch, tmp_path):
    c = load_config(monkeypatch, tmp_path, FakeDocker())
    assert c.JupyterHub.ip == "127.0.0.1"
    assert c.JupyterHub.spawner_class == "docker"
    assert c.DockerSpawner.image == "ecslab-course:latest"
    assert c.DockerSpawner.cmd == ["jupyterhub-singleuser"]
    assert c.DockerSpawner.use_internal_ip is False and c.DockerSpawner.host_ip == "127.0.0.1"
    assert c.DockerSpawner.remove is True
    assert c.DockerSpawner.mem_limit == "3G" and c.DockerSpawner.cpu_limit == 2.0
    assert c.DockerSpawner.name_template == "{prefix}-{username}" and c.DockerSpawner.prefix == "ecslab-hub"
    assert c.DockerSpawner.volumes["{prefix}-{username}-work"] == "/course"
    assert c.DockerSpawner.volumes["{prefix}-{username}-engine"] == "/var/lib/docker"
    assert c.Spawner.notebook_dir == "/course"
    assert (tmp_path / "state").is_dir()


def test_the_hub_api_listens_on_the_learners_bridge_where_learners_cannot_reach_each_other(monkeypatch, tmp_path):
    fake = FakeDocker(gateway="172.30.0.1")
    c = load_config(monkeypatch, tmp_path, fake, ECSLAB_HUB_API_PORT="18081")
    assert c.JupyterHub.hub_bind_url == "http://172.30.0.1:18081"
    assert c.JupyterHub.hub_connect_url == "http://172.30.0.1:18081"
    assert fake.network.created_with["options"] == {"com.docker.network.bridge.enable_icc": "false"}
    assert c.DockerSpawner.network_name == "ecslab-hub"


def test_capabilities_where_privileged_is_refused_only_what_the_inner_engine_needs(monkeypatch, tmp_path):
    fake = FakeDocker(privileged_ok=False)
    c = load_config(monkeypatch, tmp_path, fake)
    assert fake.probes and fake.probes[0]["privileged"] is True
    assert c.DockerSpawner.extra_host_config == {
        "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    }
    assert c.DockerSpawner.volumes["/sys/fs/cgroup"] == {"bind": "/sys/fs/cgroup", "mode": "rw"}


def test_privileged_where_the_host_allows_it(monkeypatch, tmp_path):
    c = load_config(monkeypatch, tmp_path, FakeDocker(privileged_ok=True))
    assert c.DockerSpawner.extra_host_config == {"privileged": True}
    assert "/sys/fs/cgroup" not in c.DockerSpawner.volumes


def test_sysbox_first_where_installed(monkeypatch, tmp_path):
    fake = FakeDocker(runtimes=("runc", "sysbox-runc"), privileged_ok=True)
    c = load_config(monkeypatch, tmp_path, fake)
    assert c.DockerSpawner.extra_host_config == {"runtime": "sysbox-runc"}
    assert not fake.probes


def test_the_gateway_comes_from_the_bridge_when_docker_leaves_it_out(monkeypatch, tmp_path):
    fake = FakeDocker(gateway=None)
    fake.network.attrs["Options"] = {"com.docker.network.bridge.name": "lo"}  # an interface every Linux has
    c = load_config(monkeypatch, tmp_path, fake, ECSLAB_HUB_PRIVILEGE="capabilities")
    assert c.JupyterHub.hub_connect_url == "http://127.0.0.1:8081"


def test_an_unknown_privilege_mode_is_refused(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="ECSLAB_HUB_PRIVILEGE"):
        load_config(monkeypatch, tmp_path, FakeDocker(), ECSLAB_HUB_PRIVILEGE="root")


def test_idle_culler_and_scripts_token_with_the_scopes_they_need(monkeypatch, tmp_path):
    c = load_config(
        monkeypatch,
        tmp_path,
        FakeDocker(),
        ECSLAB_HUB_CULL_TIMEOUT="45",
        ECSLAB_HUB_API_TOKEN="t0k3n",
    )
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert "--timeout=45" in culler["command"] and "jupyterhub_idle_culler" in culler["command"]
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert set(roles["idle-culler"]["scopes"]) == {"list:users", "read:users:activity", "read:servers", "delete:servers"}
    scripts = next(s for s in c.JupyterHub.services if s["name"] == "workshop-scripts")
    assert scripts["api_token"] == "t0k3n"
    assert "admin:servers" in roles["workshop-scripts"]["scopes"]


def test_no_scripts_token_unless_asked_for(monkeypatch, tmp_path):
    c = load_config(monkeypatch, tmp_path, FakeDocker())
    assert [s["name"] for s in c.JupyterHub.services] == ["idle-culler"]


def test_shared_password_authenticator_for_a_trusted_room(monkeypatch, tmp_path):
    c = load_config(
        monkeypatch,
        tmp_path,
        FakeDocker(),
        ECSLAB_HUB_PASSWORD="learners-pw",
        ECSLAB_HUB_ADMINS="ann, ben",
    )
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.SharedPasswordAuthenticator.user_password == "learners-pw"
    assert c.Authenticator.admin_users == {"ann", "ben"}
    assert "OAuth" in (WORKSHOP / "jupyterhub_config.py").read_text()


def _merge(base: dict, over: dict) -> dict:
    """Helm's merge of user values over a chart's defaults: maps merge, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _z2jh_errors(values: dict) -> list[str]:
    schema = yaml.safe_load((WORKSHOP / "z2jh-values.schema.yaml").read_text())
    defaults = yaml.safe_load((WORKSHOP / "z2jh-chart-values.yaml").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(_merge(defaults, values))]


def test_z2jh_values_are_valid_for_the_chart_schema():
    values = yaml.safe_load((WORKSHOP / "z2jh-values.yaml").read_text())
    assert _z2jh_errors(values) == []
    single = values["singleuser"]
    assert single["image"]["name"].endswith("/ecslab-course")
    assert single["storage"]["homeMountPath"] == "/course"
    assert {m["mountPath"] for m in single["storage"]["extraVolumeMounts"]} == {"/var/lib/docker"}
    assert single["cpu"]["limit"] and single["memory"]["limit"]
    assert values["hub"]["config"]["KubeSpawner"]["privileged"] is True
    assert single["allowPrivilegeEscalation"] is True  # Kubernetes refuses privileged without it
    assert values["cull"]["enabled"] is True


def test_the_sysbox_variant_in_the_comments_is_valid_too():
    values = yaml.safe_load((WORKSHOP / "z2jh-values.yaml").read_text())
    values["singleuser"]["extraPodConfig"] = {"runtimeClassName": "sysbox-runc"}
    values["singleuser"]["extraAnnotations"] = {"io.kubernetes.cri-o.userns-mode": "auto:size=65536"}
    values["hub"]["config"]["KubeSpawner"]["privileged"] = False
    assert _z2jh_errors(values) == []


def test_the_schema_check_catches_a_misspelt_key():
    assert _z2jh_errors({"singleuser": {"memmory": {"limit": "3G"}}})


def _course_image_present() -> bool:
    image = os.environ.get("ECSLAB_HUB_IMAGE", "ecslab-course:latest")
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get("ECSLAB_TEST_HUB") != "1", reason="set ECSLAB_TEST_HUB=1 (about 5 minutes, 3 GB of memory)")
def test_three_learners_on_the_hub_live():
    if not _course_image_present():
        pytest.skip("no course image: bash scripts/course-image.sh build")
    run = subprocess.run(["bash", str(WORKSHOP / "test-hub.sh")], capture_output=True, text=True, timeout=1200)
    print(run.stdout[-6000:], run.stderr[-3000:])
    assert run.returncode == 0, run.stdout[-3000:]
