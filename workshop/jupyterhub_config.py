# JupyterHub for an ecslab workshop: one server, one course container per learner.
#
#   bash workshop/start.sh        # installs what is missing, builds the course image, starts this
#
# Each learner who logs in gets their own container from the course image (the top-level
# Dockerfile, built by `bash scripts/course-image.sh build`): its own Docker engine, its own lab
# (moto, registry, ECS agent) and JupyterLab through `jupyterhub-singleuser`. Nothing is shared
# between learners but the machine. Read "Workshop on JupyterHub" in the README for the trust
# model: a learner container can run a Docker engine, so it is root on this server in all but name.
#
# Settings (environment; workshop/start.sh sets the passwords):
#   ECSLAB_HUB_IP / ECSLAB_HUB_PORT   where learners open the hub            (127.0.0.1 / 8000)
#   ECSLAB_HUB_IMAGE                  the single-user image                  (ecslab-course:latest)
#   ECSLAB_HUB_MEM / ECSLAB_HUB_CPUS  limits per learner container (engine and tasks included) (3G / 2)
#   ECSLAB_HUB_PRIVILEGE              auto | privileged | capabilities | sysbox            (auto)
#   ECSLAB_HUB_CULL_TIMEOUT           stop a learner's server idle this long, seconds      (3600)
#   ECSLAB_HUB_CULL_EVERY             how often the culler looks, seconds                   (300)
#   ECSLAB_HUB_PASSWORD               the learners' shared password (at least 8 characters)
#   ECSLAB_HUB_ADMINS                 instructors' user names, comma separated         (instructor)
#   ECSLAB_HUB_ADMIN_PASSWORD         the instructors' password (at least 32 characters)
#   ECSLAB_HUB_API_TOKEN              optional: a token for scripts (service "workshop-scripts")
#   ECSLAB_HUB_PREFIX                 names: containers PREFIX-USER, volumes PREFIX-USER-work and
#                                     PREFIX-USER-engine, the network PREFIX       (ecslab-hub)
#   ECSLAB_HUB_STATE                  the hub's database, cookie secret, logs     (workshop/state)
#   ECSLAB_HUB_API_PORT               the hub's internal API port (on the learners' bridge) (8081)
#   ECSLAB_HUB_PROXY_API_PORT         the proxy's API port, on 127.0.0.1                  (PORT + 1)
#   ECSLAB_HUB_NETWORK                the learners' bridge network                          (PREFIX)
#   ECSLAB_HUB_ACTIVITY_INTERVAL      how often activity reaches the hub, seconds (300; tests: 5)
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import docker

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

HERE = Path(__file__).resolve().parent
env = os.environ.get
PREFIX = env("ECSLAB_HUB_PREFIX", "ecslab-hub")
IMAGE = env("ECSLAB_HUB_IMAGE", "ecslab-course:latest")
STATE = Path(env("ECSLAB_HUB_STATE", str(HERE / "state"))).resolve()
STATE.mkdir(parents=True, exist_ok=True)
ACTIVITY_INTERVAL = int(env("ECSLAB_HUB_ACTIVITY_INTERVAL", "300"))

# What the inner Docker engine needs, measured on this project's CI VMs (README, "Workshop on
# JupyterHub"): SYS_ADMIN (mounts, namespaces, overlay2) and NET_ADMIN (its bridge and iptables
# rules; without it dockerd stops at "iptables ... Permission denied"). Docker's default
# capabilities stay: the inner engine gives them to the task containers it starts. Nothing else
# from the Docker-in-Docker recipe in LAB-FACTS (SYS_MODULE, SYS_PTRACE, ...) is needed.
INNER_ENGINE_CAPS = ["SYS_ADMIN", "NET_ADMIN"]


def privilege_mode(client: docker.DockerClient, image: str, wanted: str) -> str:
    """How learner containers get the rights to run an engine: sysbox, privileged or capabilities.

    auto: sysbox where the host has the runtime (no host root needed), else --privileged where
    the host allows it, else the explicit capabilities (hosts whose bounding set lacks a
    capability refuse --privileged with "unable to apply caps", as this project's CI VMs do).
    """
    if wanted != "auto":
        return wanted
    if "sysbox-runc" in (client.info().get("Runtimes") or {}):
        return "sysbox"
    probe = f"{PREFIX}-privilege-probe-{uuid.uuid4().hex[:8]}"
    try:
        client.containers.run(
            image,
            entrypoint=["true"],
            privileged=True,
            name=probe,
            remove=True,
            network_mode="none",
        )
        return "privileged"
    except docker.errors.DockerException:
        return "capabilities"
    finally:
        try:
            client.containers.get(probe).remove(force=True)
        except docker.errors.NotFound:
            pass


def host_config_for(mode: str) -> tuple[dict, dict]:
    """(extra_host_config, extra volumes) for learner containers in the given privilege mode."""
    if mode == "sysbox":
        # sysbox gives the container its own user namespace and cgroup tree: no host root, no
        # capabilities to add, nothing of the host mounted.
        return {"runtime": "sysbox-runc"}, {}
    if mode == "privileged":
        return {"privileged": True}, {}
    if mode == "capabilities":
        return (
            {
                "cap_add": INNER_ENGINE_CAPS,
                "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
            },
            # cgroup v1 hosts: the inner engine creates its containers' cgroups under this
            # container's own (course-image/ecslab-engine.sh sets --cgroup-parent), so the limits below
            # bind everything a learner runs. The whole host tree is writable from inside: see
            # the trust model in the README.
            {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
        )
    raise ValueError(f"ECSLAB_HUB_PRIVILEGE must be auto, privileged, capabilities or sysbox, not {mode!r}")


def learner_network(client: docker.DockerClient, name: str) -> str:
    """Create (once) the learners' bridge network and return the host's address on it.

    Inter-container traffic is off (enable_icc=false): a learner's container can reach the hub's
    API on the bridge's gateway, never another learner's container.
    """
    try:
        network = client.networks.get(name)
    except docker.errors.NotFound:
        network = client.networks.create(
            name,
            driver="bridge",
            labels={"ecslab-hub": PREFIX},
            options={"com.docker.network.bridge.enable_icc": "false"},
        )
    network.reload()
    for pool in network.attrs["IPAM"]["Config"] or []:
        if pool.get("Gateway"):
            return pool["Gateway"].split("/")[0]
    # Some engines leave out the Gateway key (LAB-FACTS): read the bridge interface's address.
    bridge = network.attrs["Options"].get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", bridge], capture_output=True, text=True)
    for word in out.stdout.split():
        if word.count(".") == 3 and "/" in word:
            return word.split("/")[0]
    raise RuntimeError(f"no IPv4 address found for the bridge of network {name}")


client = docker.from_env()
mode = privilege_mode(client, IMAGE, env("ECSLAB_HUB_PRIVILEGE", "auto"))
extra_host_config, extra_volumes = host_config_for(mode)
network = env("ECSLAB_HUB_NETWORK", PREFIX)
hub_api_ip = learner_network(client, network)
client.close()
print(f"[ecslab-hub] learner containers: {IMAGE}, rights: {mode}; hub API on {hub_api_ip}", file=sys.stderr)

# -- where things listen ----------------------------------------------------------------------
# Learners open the proxy. 127.0.0.1 by default; for a room, put it behind TLS (c.JupyterHub.
# ssl_cert/ssl_key, or a reverse proxy) before setting ECSLAB_HUB_IP=0.0.0.0.
c.JupyterHub.ip = env("ECSLAB_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("ECSLAB_HUB_PORT", "8000"))
# The hub's own API must be reachable from learner containers: it listens on the learners'
# bridge gateway (a host address no other machine can reach), not on 127.0.0.1.
hub_api_url = f"http://{hub_api_ip}:{int(env('ECSLAB_HUB_API_PORT', '8081'))}"
c.JupyterHub.hub_bind_url = hub_api_url
c.JupyterHub.hub_connect_url = hub_api_url
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(env('ECSLAB_HUB_PROXY_API_PORT', str(c.JupyterHub.port + 1)))}"
local_chp = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [
    str(local_chp) if local_chp.exists() else (shutil.which("configurable-http-proxy") or "configurable-http-proxy")
]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "cookie_secret")
c.JupyterHub.pid_file = str(STATE / "hub.pid")
# How often the hub reads activity from the proxy (the culler decides on it).
c.JupyterHub.last_activity_interval = ACTIVITY_INTERVAL

# -- authentication -----------------------------------------------------------------------------
# A shared password is for a trusted room only: anyone who has it can log in as ANY learner name
# (and so open that learner's work). For anything else use a real authenticator, e.g. OAuth:
#   pip install oauthenticator
#   c.JupyterHub.authenticator_class = "github"   # or "google", "generic-oauth", ...
#   c.GitHubOAuthenticator.client_id / client_secret / oauth_callback_url / allowed_users
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = env("ECSLAB_HUB_PASSWORD", "")
c.SharedPasswordAuthenticator.admin_password = env("ECSLAB_HUB_ADMIN_PASSWORD", "")
c.Authenticator.admin_users = {n.strip() for n in env("ECSLAB_HUB_ADMINS", "instructor").split(",") if n.strip()}
c.Authenticator.allow_all = True  # anyone with the password; list names in allowed_users to restrict

# -- one course container per learner -----------------------------------------------------------
c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = IMAGE
c.DockerSpawner.pull_policy = "never"  # built on this server (scripts/course-image.sh build)
c.DockerSpawner.prefix = PREFIX
c.DockerSpawner.name_template = "{prefix}-{username}"
# The image's entry point starts the engine and the lab, copies the course into /course on first
# start (files already there, the learner's work, are never overwritten), then runs this command.
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]  # the course container runs as root (it runs dockerd)
c.Spawner.notebook_dir = "/course"
c.Spawner.default_url = "/lab"
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(ACTIVITY_INTERVAL)}
c.DockerSpawner.network_name = network
# The hub reaches each learner's JupyterLab on a port published on 127.0.0.1 of this server.
c.DockerSpawner.use_internal_ip = False
c.DockerSpawner.host_ip = "127.0.0.1"
c.DockerSpawner.remove = True  # a stopped server leaves no container (its volumes stay)
c.DockerSpawner.volumes = {
    "{prefix}-{username}-work": "/course",  # the learner's notebooks and exercises
    "{prefix}-{username}-engine": "/var/lib/docker",  # the inner engine's images (overlay2 needs a volume)
    **extra_volumes,
}
c.DockerSpawner.extra_host_config = extra_host_config
# The entry point stops JupyterLab, the lab, then the engine: give it time before SIGKILL.
c.DockerSpawner.extra_create_kwargs = {"stop_timeout": 20, "labels": {"ecslab-hub": PREFIX}}
# Limits hold for everything a learner runs: the inner engine's containers are nested under the
# learner container's cgroup. Measured figures and the sizing estimate: README.
c.DockerSpawner.mem_limit = env("ECSLAB_HUB_MEM", "3G")
c.DockerSpawner.cpu_limit = float(env("ECSLAB_HUB_CPUS", "2"))
# First start: engine, lab and JupyterLab; with many learners starting at once it takes longer.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 180

# -- services: the idle culler, and a token for the instructor's scripts -------------------------
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={int(env('ECSLAB_HUB_CULL_TIMEOUT', '3600'))}",
            f"--cull-every={int(env('ECSLAB_HUB_CULL_EVERY', '300'))}",
        ],
    },
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]
if env("ECSLAB_HUB_API_TOKEN"):
    c.JupyterHub.services.append({"name": "workshop-scripts", "api_token": env("ECSLAB_HUB_API_TOKEN")})
    c.JupyterHub.load_roles.append(
        {
            "name": "workshop-scripts",
            "scopes": ["admin:users", "admin:servers", "access:servers", "read:hub"],
            "services": ["workshop-scripts"],
        }
    )
