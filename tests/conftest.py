"""Fixtures shared by the unit tests.

``lab``: the default lab (started when needed), as a notebook would get it.
``isolated_config``: settings for a second, private lab in a temp folder on ports reserved
for it (``ecslab.lab.private``: race-free across test processes and xdist workers), for tests
that start, break and stop labs without touching the default one.
``running_isolated_lab``: one such private lab, running, for the tests of a module.
:class:`LabClients`: the clients (boto3, Docker) of a private lab, as ``ecslab.connect()``
gives them for the default one. :func:`push_app_image`: an app image in a private lab's
registry (ECR); the local names under that registry go when the lab does.
:func:`execution_role_arn`: ``ecsTaskExecutionRole`` in a lab, which every Fargate task
definition pulling from the lab's registry (ECR) needs, as on AWS.

One lab per test process (issue 17). Each pytest process, that is each pytest-xdist worker, gets a
private lab of its own (:class:`WorkerLab`: own state folder and ports), started the first time one of
its tests needs a lab and stopped when the session ends. Its settings are exported into the process's
environment before that test is set up, so ``ecslab.connect()`` (the ``lab`` fixture), ``ecslab``
commands the tests run and notebook kernels all reach it, never the default lab. For nbval the same
plugin is loaded with ``-p tests.conftest`` (``scripts/test.sh``), and nbval cells export the whole
of ``lab.env()`` (``AWS_ENDPOINT_URL``, fake credentials, region) as when the notebooks were built;
unit tests get the ``ECSLAB_*`` settings only, so tests of real-AWS paths see no lab endpoint.
``ECSLAB_TEST_LAB=environment`` keeps the lab the environment names instead (what the course image's
own test does inside the image).

Fast and lab tests (issue 17). A test needs a lab (marker ``lab``, set here at collection) when it
uses the ``lab``, ``isolated_config`` or ``running_isolated_lab`` fixture, is marked ``docker`` or
``browser``, or sits in a module of :data:`LAB_MODULES` (modules that start labs, containers or
notebook kernels themselves). Every other test is fast: no lab, no Docker engine, and while it runs
``manage.up`` refuses to start a lab process, so a fast test that starts to need one fails at once instead
of quietly making the fast phase slow. ``python -m pytest tests -m "not lab"`` runs them in seconds.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import ecslab
from ecslab.config import LabConfig
from ecslab.lab import manage, private
from ecslab.session import Lab

SAMPLE_APP = "ecslab-sample:v1"
"""The sample app as :func:`ecslab.images.build_sample_app` tags it."""
AWS_APP = "ecslab-aws-app:v1"
"""The AWS app (boto3 inside) as :func:`ecslab.images.build_aws_app` tags it."""


def execution_role_arn(config: LabConfig, create_log_groups: bool = False) -> str:
    """The ARN of ``ecsTaskExecutionRole`` in the lab ``config`` describes, created when missing.

    With ``create_log_groups`` it is another role, ``ecsTaskExecutionRoleWithLogGroups``, that may
    also ``logs:CreateLogGroup``, which ``awslogs-create-group`` needs and AWS's managed policy lacks."""
    import boto3

    from ecslab.security import ensure_execution_role

    iam = boto3.client(
        "iam", endpoint_url=config.endpoint_url, region_name=config.region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    if not create_log_groups:
        return str(ensure_execution_role(iam))
    arn = ensure_execution_role(iam, name="ecsTaskExecutionRoleWithLogGroups")
    statement = {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"}
    iam.put_role_policy(
        RoleName="ecsTaskExecutionRoleWithLogGroups",
        PolicyName="create-log-groups",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return str(arn)


class LabClients(Lab):
    """A private lab's clients: ``ecslab.Lab`` (``ecs``, ``ecr``, ``ec2``, ``elbv2``, ``iam``, ``logs``,
    ``cloudwatch``, ``docker``, ``config``, ``region``...) aimed at ``config``, with the clients only tests
    use, the execution role Fargate task definitions name, and the lab's control API.

    ``create_log_groups``: the execution role may also ``logs:CreateLogGroup`` (see :func:`execution_role_arn`).
    """

    def __init__(self, config: LabConfig, create_log_groups: bool = False) -> None:
        import boto3

        from ecslab.engine import docker_client

        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=config.region)
        super().__init__("local", config.region, config.endpoint_url, config, session, _docker=docker_client())
        self.execution_role_arn = execution_role_arn(config, create_log_groups=create_log_groups)

    autoscaling = property(lambda self: self.client("application-autoscaling"))
    secretsmanager = property(lambda self: self.client("secretsmanager"))
    ssm = property(lambda self: self.client("ssm"))
    s3 = property(lambda self: self.client("s3"))

    def default_subnets(self, count: int | None = None) -> list[str]:
        """The IDs of the default VPC's subnets (one per Availability Zone), the first ``count`` of them."""
        from ecslab import elb as elb_tools

        return elb_tools.default_subnets(self.ec2)[1][:count]

    def control(self, path: str) -> dict[str, Any]:
        """What the lab's control API answers at ``path`` (``/status``, ``/ecs/task-roles``...), asked with the lab's token."""
        return manage.control(self.config, "GET", path, timeout=5)


def push_app_image(lab: LabClients, repository: str, local: str = SAMPLE_APP, build: bool = True) -> str:
    """``local`` (the sample app, or :data:`AWS_APP`), built unless ``build`` is False, pushed to a new
    ``repository`` in ``lab``'s registry as ``v1``: gives ``URI:v1``.

    The names this leaves in the Docker engine (``URI:v1``, ``URI@sha256:...``, and what the lab's
    tasks pull) go with the lab: :func:`remove_registry_names` when ``running_isolated_lab`` or
    ``isolated_config`` takes the lab down.
    """
    from ecslab import ecr as ecr_tools
    from ecslab import images

    if build and local == AWS_APP:
        images.build_aws_app(tag=local, show_progress=False)
    elif build:
        images.build_sample_app(tag=local, show_progress=False)
    uri = str(lab.ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"])
    ecr_tools.push_image(lab.docker, local, uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
    return f"{uri}:v1"


def remove_registry_names(config: LabConfig) -> None:
    """:func:`ecslab.lab.private.remove_registry_names` for the lab ``config`` describes, warning (not failing)
    about a name the engine refuses."""
    private.remove_registry_names(config.registry_address, lambda message: warnings.warn(message, stacklevel=2))


def free_port() -> int:
    """A free 127.0.0.1 port, reserved for this test process's life (:func:`ecslab.lab.private.reserve_port`):
    no other test process or worker gets it, as one could when a port 0 bind was closed and its number handed on."""
    return private.reserve_port()


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> ecslab.Lab:
    """This test process's lab (:class:`WorkerLab`), as ``ecslab.connect()`` gives it to a notebook."""
    return ecslab.connect(config=_worker_lab(request.config).ensure())


ENGINE_WIDE_MODULES = frozenset({"test_ecr.py", "test_ecr_plane.py"})
"""Test modules that remove what they made from the whole Docker engine by a label both use
(``ecslab.test=ecr``): they must not run at the same time, in two workers or two test runs."""


def take_machine_lock(name: str) -> IO[str]:
    """Wait for and hold the machine-wide lock ``name`` (``flock`` on a file in the temp folder), across test
    processes, xdist workers and test runs; closing the returned file lets go (so does the process ending)."""
    import fcntl
    import tempfile

    lock = open(Path(tempfile.gettempdir()) / f"{name}.lock", "a")  # noqa: SIM115 (held until the caller closes it)
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


@pytest.fixture(scope="module", autouse=True)
def one_engine_wide_module_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """Holds a machine-wide lock (``flock``) for the whole of a module of :data:`ENGINE_WIDE_MODULES`:
    set up before the module's own fixtures, released after their teardown."""
    if request.path.name not in ENGINE_WIDE_MODULES:
        yield
        return
    lock = take_machine_lock("ecslab-test-engine-wide")
    try:
        yield
    finally:
        lock.close()


@pytest.fixture
def isolated_config(tmp_path: Path) -> Iterator[LabConfig]:
    """Settings for a private lab in a temp folder on ports reserved for it (:func:`ecslab.lab.private.private_config`);
    the test starts and stops it as it likes. Afterwards the lab is down and its ports released."""
    config = private.private_config(tmp_path / "lab")
    try:
        yield config
    finally:
        try:
            manage.down(config, say=lambda _message: None)
            remove_registry_names(config)
        finally:
            private.release_config(config)


@pytest.fixture(scope="module")
def running_isolated_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabConfig]:
    """One private lab shared by the tests of a module that only read from it."""
    home = tmp_path_factory.mktemp("shared-lab")
    with private.PrivateLab(home) as private_lab:
        yield private_lab.config
        config = private_lab.config
    remove_registry_names(config)


# -- one private lab per test process, and the fast/lab split (issue 17) ---------------------------------

LAB_FIXTURES = frozenset({"lab", "isolated_config", "running_isolated_lab"})
"""Fixtures that give a test a lab: a test that uses one needs a lab."""
LAB_MARKERS = frozenset({"lab", "docker", "browser"})
"""Markers of tests that need a lab or a Docker engine."""
LAB_MODULES = frozenset(
    {
        "test_exercises.py",  # runs each blank exercise in a kernel that connects to the lab
    }
)
"""Test modules (file names) every test of which needs a lab or a Docker engine."""
TEST_LAB_ENV = "ECSLAB_TEST_LAB"
"""``environment``: use the lab the environment names (the default one unless ``ECSLAB_*`` say otherwise)."""


def _needs_lab(item: pytest.Item) -> bool:
    if item.path.suffix == ".ipynb":
        return True  # an nbval cell
    if LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    if any(item.get_closest_marker(name) is not None for name in LAB_MARKERS - {"lab"}):
        return True
    return item.path.name in LAB_MODULES


class WorkerLab:
    """The private lab of one test process (one xdist worker): started at the first test that needs a
    lab, its settings exported into ``os.environ`` (kernels and subprocesses inherit them), stopped at
    the end of the session with every container it started and the registry names it left."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lab: private.PrivateLab | None = None
        self._saved: dict[str, str | None] = {}

    def ensure(self, whole_env: bool = False) -> LabConfig:
        """The lab's settings, starting it first when needed; exports ``ECSLAB_*`` (``whole_env``: all of ``lab.env()``)."""
        if os.environ.get(TEST_LAB_ENV) == "environment":
            return LabConfig.from_env()
        if self._lab is None:
            lab = private.PrivateLab(timeout=120.0)
            lab.start()
            self._lab = lab
        env = self._lab.env()
        for key, value in env.items():
            if (whole_env or key.startswith("ECSLAB_")) and os.environ.get(key) != value:
                self._saved.setdefault(key, os.environ.get(key))
                os.environ[key] = value
        return self._lab.config

    def stop(self) -> None:
        """Stop the lab (when it was started) and put the environment back as it was."""
        lab, self._lab = self._lab, None
        try:
            if lab is not None:
                config = lab.config
                lab.stop()
                remove_registry_names(config)
        finally:
            for key, value in self._saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved.clear()


_WORKER_LAB = pytest.StashKey[WorkerLab]()


def _worker_lab(config: pytest.Config) -> WorkerLab:
    return config.stash[_WORKER_LAB]


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    config.stash[_WORKER_LAB] = WorkerLab(worker)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _WORKER_LAB in config.stash:
        config.stash[_WORKER_LAB].stop()


NOTEBOOK_SECONDS: dict[str, float] = {
    "notebooks/06b": 171,
    "notebooks/06a": 127,
    "notebooks/08": 86,
    "notebooks/05": 60,
    "notebooks/07b": 58,
    "notebooks/06": 58,
    "notebooks/09": 58,
    "solutions/09": 56,
    "solutions/06b": 47,
    "notebooks/04": 43,
    "solutions/07": 29,
    "solutions/08": 28,
    "solutions/06": 28,
    "notebooks/03": 26,
    "solutions/05": 25,
    "notebooks/07": 23,
    "solutions/07b": 20,
    "notebooks/01": 20,
    "solutions/04": 18,
    "notebooks/02": 14,
    "solutions/03": 11,
    "solutions/02": 5,
    "solutions/01": 5,
    "notebooks/00": 4,
    "solutions/06a": 2,
    "solutions/00": 1,
}
"""Seconds each notebook's cells took in a measured nbval run (``python -m benchmarks.notebooks --workers 1``,
2026-12-06 20:47-21:05 UTC, load 3.5-7: only their order matters here), by ``folder/NN`` (``notebooks/06b``);
notebooks not named here count as 0."""


def _notebook_key(item: pytest.Item) -> str:
    """``notebooks/06b`` for ``notebooks/06b-deployment-strategies.ipynb``: the part of the name before its first ``-``."""
    return f"{item.path.parent.name}/{item.path.name.split('-', 1)[0]}"


SAMPLE_TAG_NOTEBOOKS = frozenset({"notebooks/01", "notebooks/02", "solutions/01", "solutions/02", "solutions/04"})
"""Notebooks that build the engine-wide tag ``ecslab-sample:v1`` (notebooks 01 and 02, the checkers of
exercises 1, 2 and 4). Each worker's lab labels its images with its own state folder, so the same tag
built by two workers at once names two different images (notebook 02 compares the tag's image ID with
the one it has just built). One of them runs at a time, machine-wide: a notebook takes the lock before
its first cell (before nbval starts its kernel) and lets go after its last."""

_NOTEBOOK_LOCK: list[IO[str]] = []  # the open lock file while this process runs one of SAMPLE_TAG_NOTEBOOKS


def _hold_notebook_lock(item: pytest.Item) -> None:
    if _NOTEBOOK_LOCK or item.path.suffix != ".ipynb" or _notebook_key(item) not in SAMPLE_TAG_NOTEBOOKS:
        return
    _NOTEBOOK_LOCK.append(take_machine_lock("ecslab-test-sample-tag"))


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _NOTEBOOK_LOCK and (nextitem is None or nextitem.path != item.path):
        _NOTEBOOK_LOCK.pop().close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_lab(item) and item.get_closest_marker("lab") is None:
            item.add_marker(pytest.mark.lab)
    # The longest notebooks first (a notebook's cells keep their order): with --dist loadfile
    # --no-loadscope-reorder (scripts/test.sh; without it xdist orders files by their number of cells),
    # xdist hands files out in this order, so the longest starts at once instead of last. A stable sort:
    # unit tests and unknown notebooks keep pytest's order.
    if any(item.path.suffix == ".ipynb" for item in items):
        items.sort(key=_notebook_order)


def _notebook_order(item: pytest.Item) -> float:
    """Longest first; the notebooks that take turns on one lock (:data:`SAMPLE_TAG_NOTEBOOKS`) count as long as
    all of them together, so they start early, one after another beside the long ones, instead of
    queueing for the lock at the end while the other workers have nothing left (measured order: 293 s
    simulated with 4 workers, 262 s so)."""
    if item.path.suffix != ".ipynb":
        return 0.0
    key = _notebook_key(item)
    seconds = NOTEBOOK_SECONDS.get(key, 0.0)
    if key in SAMPLE_TAG_NOTEBOOKS:
        seconds += sum(NOTEBOOK_SECONDS.get(name, 0.0) for name in SAMPLE_TAG_NOTEBOOKS)
    return -seconds


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before anything of a lab test is set up (fixtures, nbval's kernel): this process's lab runs and
    the environment names it."""
    _hold_notebook_lock(item)
    if item.get_closest_marker("lab") is not None:
        _worker_lab(item.config).ensure(whole_env=item.path.suffix == ".ipynb")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A fast test may not start a lab process: ``manage.up`` fails at the start while it runs (checks
    that refuse to start, a state folder that is a file for instance, still run as they would)."""
    spawn = getattr(manage, "_spawn", None)
    if item.get_closest_marker("lab") is not None or spawn is None:
        return (yield)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(
            f"{item.nodeid} started a lab but is collected as a fast test: give it a lab fixture, "
            "mark it lab (or docker), or add its module to LAB_MODULES in tests/conftest.py"
        )

    manage._spawn = refuse  # type: ignore[attr-defined]
    try:
        return (yield)
    finally:
        manage._spawn = spawn  # type: ignore[attr-defined]
