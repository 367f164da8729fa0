"""Grading submissions: each in a fresh fenced kernel, checks run by the grader, workers with private labs.

One submission (:func:`grade_one`): the lab is reset, a fresh kernel starts (:class:`~ecslab.grade.kernel.Kernel`)
and the learner's code cells run in order, each with a timeout. A check cell (by the release's cell id, the
``check`` tag or its ``\"\"\"Check N.M:`` docstring) is *not* run in the kernel: the grader runs the released
check (:mod:`ecslab.grade.release`) in its own process, with the lab it connects to itself and the learner's
functions reached over :mod:`ecslab.grade.remote` (data only). A check whose cell the learner deleted runs at
the end; one the learner edited runs as released, and the edit is reported. After a dead kernel or the
submission's deadline, the checks left are recorded as not run, with the reason.

Before and after each submission the grader hashes the ecslab package the kernels import (a copy of its own,
first on the kernel's ``PYTHONPATH``), the installed original and the interpreter's ``*.pth``/``*customize``
files: a change fails that submission ("changed the installed course files"), the copy is made afresh, and a
change of the original stops the batch (nothing graded after it could be trusted).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import multiprocessing
import os
import shutil
import site
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecslab.checks.setup import LOCAL_SUFFIX
from ecslab.grade import release as release_module
from ecslab.grade import remote
from ecslab.grade.kernel import Kernel, cut
from ecslab.lab.private import remove_registry_names

__all__ = ["CheckResult", "Submission", "SubmissionResult", "find_submissions", "grade", "grade_one", "package_hash"]

PACKAGE = Path(__file__).resolve().parent.parent
"""The installed ecslab package (the grader's own code)."""


@dataclass
class Submission:
    learner: str
    exercise: str  # the release's key, e.g. "00-setup"
    path: str


@dataclass
class CheckResult:
    check: str
    points: int
    max_points: int
    passed: bool
    status: str  # passed, failed, not run
    message: str
    seconds: float


@dataclass
class SubmissionResult:
    learner: str
    exercise: str
    path: str
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def points(self) -> int:
        return sum(check.points for check in self.checks)

    @property
    def max_points(self) -> int:
        return sum(check.max_points for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        checks = [CheckResult(**check) for check in data.pop("checks")]
        return cls(checks=checks, **data)


# --- finding submissions ---------------------------------------------------------------------------------------


def _exercise_of(path: Path, record: dict[str, Any], wanted: str | None) -> str | None:
    """The release key of the notebook at ``path``: from its metadata, its name, or its check cells."""
    import nbformat

    keys = list(record)
    if wanted:
        try:
            prefix = release_module.exercise_key(wanted)
        except ValueError:
            prefix = wanted
        matches = [key for key in keys if key == wanted or key.split("-", 1)[0] == prefix]
        return matches[0] if matches else None
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable file: judged by its name
        notebook = None
    if notebook is not None:
        named = notebook.metadata.get("ecslab", {}).get("exercise")
        if named in record:
            return str(named)
    for key in keys:
        if path.name.startswith(key.split("-", 1)[0] + "-") or path.stem == key:
            return key
    if notebook is not None:
        ids = {cell.get("metadata", {}).get("ecslab", {}).get("check") for cell in notebook.cells}
        for key in keys:
            if ids & {check["id"] for check in record[key]["checks"]}:
                return key
    return None


def find_submissions(folder: Path, record: dict[str, Any], exercise: str | None = None) -> tuple[list[Submission], list[str]]:
    """The submissions in ``folder`` (one notebook per learner, or one folder per learner), and what was skipped."""
    found: list[Submission] = []
    skipped: list[str] = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            learner = entry.name
        elif entry.suffix == ".ipynb":
            notebooks = [entry]
            learner = entry.stem
        else:
            continue
        for notebook in notebooks:
            key = _exercise_of(notebook, record, exercise)
            if key is None:
                skipped.append(f"{notebook}: not an exercise of the release{f' {exercise}' if exercise else ''}")
                continue
            found.append(Submission(learner, key, str(notebook)))
    return found, skipped


# --- hashing the installed files -------------------------------------------------------------------------------


def package_hash(folder: Path) -> str:
    """SHA-256 over every file's path and content under ``folder`` (``__pycache__`` left out)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def startup_hash() -> str:
    """SHA-256 over the interpreter's ``*.pth`` and ``*customize.py`` files: what runs in every new Python."""
    digest = hashlib.sha256()
    for folder in sorted({*site.getsitepackages(), site.getusersitepackages()}):
        base = Path(folder)
        if not base.is_dir():
            continue
        for path in sorted([*base.glob("*.pth"), *base.glob("*customize.py")]):
            digest.update(str(path).encode() + b"\0")
            with contextlib.suppress(OSError):
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _copy_package(target: Path) -> str:
    """A fresh copy of the ecslab package under ``target`` (what kernels import); returns its hash."""
    destination = target / "ecslab"
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(PACKAGE, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return package_hash(destination)


# --- the checks, run by the grader -----------------------------------------------------------------------------


class RemoteFunction:
    """The learner's function ``name``, called in the learner's kernel over the data channel."""

    def __init__(self, session: _Session, name: str) -> None:
        self.session = session
        self.name = name
        self.__name__ = name

    def __call__(self, *args: Any) -> Any:
        return self.call_remote(args)

    def call_remote(
        self, args: tuple[Any, ...], timeout: float | None = None, forbid: tuple[str, ...] = (), exercise: str = ""
    ) -> Any:
        """Call the learner's function with ``args``; ``run_student`` passes its time bound and forbidden helpers."""
        from ecslab.checks.core import CheckFailed

        session = self.session
        token = uuid.uuid4().hex
        request = session.folder / f".call-{token}.json"
        reply = session.folder / f".reply-{token}.json"
        try:
            data = {
                "name": self.name,
                "args": remote.encode(list(args), session.lab),
                "forbid": list(forbid),
                "exercise": exercise or session.check_id,
            }
        except ValueError as error:
            raise CheckFailed(f"the grader could not pass the check's arguments: {error}") from None
        request.write_text(json.dumps(data))
        code = f"__import__('ecslab.grade.remote', fromlist=['call']).call(globals(), {str(request)!r}, {str(reply)!r})"
        bound = session.call_timeout() if timeout is None else min(timeout, session.call_timeout())
        ran = session.kernel.run(code, bound)
        request.unlink(missing_ok=True)
        if ran.status == "timeout":
            reply.unlink(missing_ok=True)
            session.stopped = f"`{self.name}` did not return within {session.cell_timeout:.0f} s (the kernel was stopped)"
            raise CheckFailed(f"Exercise {session.check_id}: your function {self.name} did not return within {bound:.0f} s.")
        if ran.status == "dead" or not session.kernel.alive():
            reply.unlink(missing_ok=True)
            session.stopped = f"the kernel died while `{self.name}` ran (sys.exit, os._exit, a crash or too much memory)"
            raise CheckFailed(f"Exercise {session.check_id}: the kernel died while your function {self.name} ran.")
        try:
            if reply.stat().st_size > remote.REPLY_LIMIT:
                raise CheckFailed(f"your function {self.name} returned more than {remote.REPLY_LIMIT} bytes of data.")
            answer = json.loads(reply.read_text())
        except (OSError, ValueError):
            raise CheckFailed(
                f"your function {self.name} could not be called: {ran.error or 'no answer from the kernel'}"
            ) from None
        finally:
            reply.unlink(missing_ok=True)
        if not isinstance(answer, dict):
            raise CheckFailed(f"your function {self.name} could not be called.")
        if "missing" in answer:
            raise CheckFailed(f"Exercise {session.check_id}: {answer['missing']}")
        if "failed" in answer:
            raise CheckFailed(str(answer["failed"])[:2000])
        if "raised" in answer:
            if answer.get("not_implemented"):
                raise NotImplementedError()
            name = str(answer["raised"])
            kind = type(name if name.isidentifier() else "Exception", (Exception,), {})
            raise kind(str(answer.get("message", ""))[:2000])
        return remote.decode(answer.get("value"), session.lab, session.make_client)


class _Session:
    """What one submission's checks share: the kernel, the grader's lab, the deadlines."""

    def __init__(self, kernel: Kernel, lab: Any, folder: Path, cell_timeout: float, deadline: float) -> None:
        self.kernel = kernel
        self.lab = lab
        self.folder = folder
        self.cell_timeout = cell_timeout
        self.deadline = deadline
        self.stopped = ""
        self.check_id = ""

    def call_timeout(self) -> float:
        return max(1.0, min(self.cell_timeout, self.deadline - time.monotonic()))

    def make_client(self, service: str, endpoint_url: str, region: str) -> Any:
        import boto3

        from ecslab.config import FAKE_CREDENTIALS

        return boto3.client(
            service,
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def _run_check(session: _Session, check: dict[str, Any]) -> CheckResult:
    from ecslab.checks.core import CheckFailed, NotDone, Passed

    started = time.monotonic()
    session.check_id = check["id"]
    module = importlib.import_module(f"ecslab.checks.{check['module']}")
    function = getattr(module, check["function"])
    args = [session.lab if name == "lab" else RemoteFunction(session, name) for name in check["args"]]
    points = int(check["points"])
    try:
        result = function(*args)
    except NotDone as error:
        return CheckResult(check["id"], 0, points, False, "failed", str(error), time.monotonic() - started)
    except CheckFailed as error:
        return CheckResult(check["id"], 0, points, False, "failed", cut(str(error), 2000), time.monotonic() - started)
    except Exception as error:  # noqa: BLE001 - a checker that could not finish fails the check, with why
        message = f"Exercise {check['id']}: the check could not finish: {type(error).__name__}: {error}"
        return CheckResult(check["id"], 0, points, False, "failed", cut(message, 2000), time.monotonic() - started)
    if not isinstance(result, Passed):
        message = f"Exercise {check['id']}: the checker returned {type(result).__name__}, not Passed."
        return CheckResult(check["id"], 0, points, False, "failed", message, time.monotonic() - started)
    return CheckResult(check["id"], points, points, True, "passed", repr(result), time.monotonic() - started)


def _not_run(check: dict[str, Any], reason: str) -> CheckResult:
    return CheckResult(check["id"], 0, int(check["points"]), False, "not run", f"Exercise {check['id']}: not run: {reason}.", 0.0)


def _is_check_cell(cell: Any, by_cell: dict[str, dict[str, Any]]) -> bool:
    metadata = cell.get("metadata", {})
    return (
        cell.get("id") in by_cell
        or release_module.CHECK_TAG in metadata.get("tags", [])
        or "check" in metadata.get("ecslab", {})
        or release_module.check_id(cell.source) is not None
    )


def _matching_check(cell: Any, checks: list[dict[str, Any]], done: set[str]) -> dict[str, Any] | None:
    ident = cell.get("metadata", {}).get("ecslab", {}).get("check") or release_module.check_id(cell.source)
    for check in checks:
        if check["id"] not in done and (check["id"] == ident or check["cell"] == cell.get("id")):
            return check
    return None


def grade_one(
    submission: Submission,
    record: dict[str, Any],
    lab: Any,
    env: dict[str, str],
    site_folder: Path,
    cell_timeout: float = 300.0,
    submission_timeout: float = 900.0,
) -> SubmissionResult:
    """Grade one notebook in a fresh kernel against ``lab`` (reset first); ``env`` aims the kernel at the same lab."""
    import nbformat

    from ecslab.lab import manage

    started = time.monotonic()
    result = SubmissionResult(submission.learner, submission.exercise, submission.path)
    checks = record[submission.exercise]["checks"]
    try:
        notebook = nbformat.read(submission.path, as_version=4)
    except Exception as error:  # noqa: BLE001 - a broken file fails every check, with why
        result.problems.append(f"the notebook could not be read: {type(error).__name__}: {str(error)[:300]}")
        result.checks = [_not_run(check, "the notebook could not be read") for check in checks]
        return result
    manage.reset(lab.config, say=lambda _message: None)
    by_cell = {check["cell"]: check for check in checks}
    # inside the worker's folder, so that a killed worker's last submission goes with it (_clean_after)
    with tempfile.TemporaryDirectory(prefix="ecslab-grade-", dir=site_folder.parent) as temporary:
        folder = Path(temporary)
        (folder / "ipython").mkdir()
        kernel_env = {
            **env,
            "PYTHONPATH": str(site_folder) + os.pathsep + env.get("PYTHONPATH", ""),
            "IPYTHONDIR": str(folder / "ipython"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        kernel = Kernel(kernel_env, folder, f"ecslab-grade-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        session = _Session(kernel, lab, folder, cell_timeout, started + submission_timeout)
        done: dict[str, CheckResult] = {}
        try:
            try:
                kernel.start(timeout=120)
            except RuntimeError:  # "Kernel didn't respond": a loaded machine; once more, from scratch
                kernel.stop()
                kernel = Kernel(kernel_env, folder, f"ecslab-grade-{os.getpid()}-{uuid.uuid4().hex[:8]}")
                session.kernel = kernel
                kernel.start(timeout=180)
            if not kernel.pids_limited:
                result.problems.append("note: no pids cgroup on this machine: a fork bomb is not contained")
            for cell in notebook.cells:
                if cell.get("cell_type") != "code":
                    continue
                if session.stopped or time.monotonic() > session.deadline:
                    break
                if _is_check_cell(cell, by_cell):
                    check = _matching_check(cell, checks, set(done))
                    if check is None:
                        continue  # a copy of a check cell, or one of no check of the release: not run
                    if release_module.source_hash(cell.source) != check["sha256"]:
                        result.problems.append(f"check cell {check['id']} was edited: the released check ran instead")
                    done[check["id"]] = _run_check(session, check)
                    continue
                ran = kernel.run(cell.source, session.call_timeout())
                if ran.status == "timeout":
                    session.stopped = f"a cell did not finish within {cell_timeout:.0f} s"
                    result.problems.append(f"{session.stopped}: {cut(cell.source.strip(), 200)!r}")
                elif ran.status == "dead":
                    session.stopped = "the kernel died (sys.exit, os._exit, a crash or too much memory)"
                    result.problems.append(f"{session.stopped} in the cell {cut(cell.source.strip(), 200)!r}")
                elif ran.status == "error" and len(result.problems) < 20:
                    result.problems.append(f"a cell raised {ran.error}")
            for check in checks:  # deleted check cells: run at the end
                if check["id"] in done:
                    continue
                if session.stopped:
                    done[check["id"]] = _not_run(check, session.stopped)
                elif time.monotonic() > session.deadline:
                    session.stopped = f"the submission ran out of its {submission_timeout:.0f} s"
                    done[check["id"]] = _not_run(check, session.stopped)
                else:
                    done[check["id"]] = _run_check(session, check)
            if time.monotonic() > session.deadline and not any("ran out" in p for p in result.problems):
                result.problems.append(f"the submission ran out of its {submission_timeout:.0f} s")
        except Exception as error:  # noqa: BLE001 - the grader's own trouble: this learner's checks not run, with why
            reason = f"the grader could not run this submission: {type(error).__name__}: {error}"
            result.problems.append(reason)
            for check in checks:
                done.setdefault(check["id"], _not_run(check, reason))
        finally:
            kernel.stop()
        result.checks = [done[check["id"]] for check in checks]
    result.seconds = time.monotonic() - started
    return result


# --- workers ---------------------------------------------------------------------------------------------------


def _worker(index: int, jobs: Any, results: Any, record: dict[str, Any], options: dict[str, Any]) -> None:
    """One worker process: a private lab, a copy of the package; grades submissions from ``jobs`` until ``None``."""
    try:
        _work(index, jobs, results, record, options)
    except Exception as error:  # noqa: BLE001 - e.g. its private lab did not start: say why, once
        results.put(("failed", index, f"worker {index}: {type(error).__name__}: {str(error)[-1500:]}"))
    results.put(("done", index, None))


def _work(index: int, jobs: Any, results: Any, record: dict[str, Any], options: dict[str, Any]) -> None:
    import ecslab
    from ecslab.lab.private import PrivateLab

    with (
        tempfile.TemporaryDirectory(prefix=f"ecslab-grade-worker{index}-") as temporary,
        PrivateLab(Path(temporary) / "lab") as private,
    ):
        os.environ.update(private.env())
        # local image names are engine-wide: this worker's setup cells and checks build under names of its own
        os.environ[LOCAL_SUFFIX] = f"grader{index}-{os.getpid()}"
        ports = {name: getattr(private.config, name) for name in ("aws_port", "registry_port", "control_port")}
        results.put(("lab", index, {"home": str(private.config.home), "pid": os.getpid(), "folder": temporary, **ports}))
        site_folder = Path(temporary) / "site"
        site_folder.mkdir()
        copy_hash = _copy_package(site_folder)
        original_hash = package_hash(PACKAGE)
        startup = startup_hash()
        lab = ecslab.connect(config=private.config)
        env = dict(os.environ)
        while True:
            job = jobs.get()
            if job is None:
                break
            submission = Submission(**job)
            results.put(("start", index, submission.path))
            try:
                result = grade_one(
                    submission, record, lab, env, site_folder, options["cell_timeout"], options["submission_timeout"]
                )
            except Exception:  # noqa: BLE001
                result = SubmissionResult(submission.learner, submission.exercise, submission.path)
                reason = "the grader failed: " + traceback.format_exc(limit=3)[-500:]
                result.problems.append(reason)
                result.checks = [_not_run(check, "the grader failed") for check in record[submission.exercise]["checks"]]
            tampered = []
            if package_hash(site_folder / "ecslab") != copy_hash:
                tampered.append("the course package the kernel imports")
                copy_hash = _copy_package(site_folder)
            if startup_hash() != startup:
                tampered.append("the interpreter's startup files (*.pth, *customize.py)")
                startup = startup_hash()
            fatal = package_hash(PACKAGE) != original_hash
            if fatal:
                tampered.append(f"the installed ecslab package itself ({PACKAGE})")
            if tampered:
                result.problems.append("changed the installed course files: " + "; ".join(tampered) + " (every check fails)")
                result.checks = [
                    CheckResult(
                        c.check, 0, c.max_points, False, "failed", f"Exercise {c.check}: changed installed files.", c.seconds
                    )
                    for c in result.checks
                ]
            results.put(("result", index, {"result": result.to_dict(), "fatal": fatal}))
            if fatal:
                break
        registry = private.config.registry_address
        home = str(private.config.home)
    remove_registry_names(registry)
    remove_lab_images(home)


def remove_lab_images(home: str) -> None:
    """Remove every image the lab at ``home`` built (labelled ``ecslab.lab=HOME``). In a worker's lab setup cells and
    checks build under names of that lab's own (:func:`ecslab.checks.setup.local_name`), so no other lab uses them; a
    kernel that died before its Cleanup cell would otherwise leave them in the engine."""
    from docker.errors import APIError, NotFound

    from ecslab.config import LAB_LABEL
    from ecslab.engine import EngineError, docker_client

    try:
        docker = docker_client()
    except EngineError:
        return
    for image in docker.api.images(filters={"label": f"{LAB_LABEL}={home}"}):
        with contextlib.suppress(NotFound, APIError):
            docker.api.remove_image(image["Id"], force=True)


def _clean_after(worker: dict[str, Any]) -> None:
    """What a killed worker leaves: its kernels (by their pids cgroups) and its private lab (stopped, folder removed)."""
    from ecslab.grade.kernel import PidsCgroup

    pid = worker.get("pid")
    if pid:
        for root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            for path in root.glob(f"ecslab-grade-{pid}-*"):
                group = PidsCgroup.__new__(PidsCgroup)
                group.path = path
                group.remove()
    home = worker.get("home")
    if home:
        from ecslab.config import LabConfig
        from ecslab.lab import manage

        config = LabConfig(
            home=Path(home),
            aws_port=int(worker["aws_port"]),
            registry_port=int(worker["registry_port"]),
            control_port=int(worker["control_port"]),
        )
        with contextlib.suppress(Exception):
            manage.down(config, say=lambda _message: None)
        remove_registry_names(config.registry_address)
        remove_lab_images(str(home))
        shutil.rmtree(Path(home).parent, ignore_errors=True)
    if worker.get("folder"):
        shutil.rmtree(worker["folder"], ignore_errors=True)


def grade(
    submissions: list[Submission],
    record: dict[str, Any],
    workers: int = 2,
    cell_timeout: float = 300.0,
    submission_timeout: float = 900.0,
    progress: Any = None,
) -> list[SubmissionResult]:
    """Grade ``submissions`` on ``workers`` worker processes (each with a private lab); results in input order.

    A worker that dies (a learner's code may kill it: it runs as the same user) loses only the submission it was
    grading (recorded as not run, with why); its kernels and lab are cleaned up and another worker takes its place."""
    context = multiprocessing.get_context("spawn")
    jobs = context.Queue()
    results = context.Queue()
    for submission in submissions:
        jobs.put(asdict(submission))
    workers = max(1, min(workers, len(submissions) or 1))
    for _ in range(workers):
        jobs.put(None)
    options = {"cell_timeout": cell_timeout, "submission_timeout": submission_timeout}
    processes: dict[int, Any] = {}
    state: dict[int, dict[str, Any]] = {}

    def start(index: int) -> None:
        process = context.Process(target=_worker, args=(index, jobs, results, record, options), daemon=False)
        process.start()
        processes[index] = process
        state[index] = {"done": False, "current": None}

    for index in range(workers):
        start(index)
    graded: dict[str, SubmissionResult] = {}
    lost: dict[str, str] = {}
    stopped = ""
    failures: list[str] = []
    replacements = 0
    try:
        while not all(worker["done"] for worker in state.values()):
            try:
                kind, index, payload = results.get(timeout=1.0)
            except Exception:  # noqa: BLE001 - queue.Empty: look for a worker that died without saying so
                for index, process in list(processes.items()):
                    worker = state[index]
                    if worker["done"] or process.is_alive():
                        continue
                    process.join()
                    worker["done"] = True
                    if worker["current"]:
                        lost[worker["current"]] = f"its grading worker was killed while it ran (exit {process.exitcode})"
                    _clean_after(worker)
                    if replacements < len(submissions) and not stopped:
                        replacements += 1
                        start(max(processes) + 1)
                continue
            worker = state[index]
            if kind == "done":
                worker["done"] = True
            elif kind == "lab":
                worker.update(payload)
            elif kind == "start":
                worker["current"] = payload
            elif kind == "failed":
                failures.append(str(payload))
                print(f"ecslab grade: {payload}", file=sys.stderr)
            elif kind == "result":
                result = SubmissionResult.from_dict(payload["result"])
                worker["current"] = None
                graded[result.path] = result
                if progress is not None:
                    progress(len(graded), len(submissions), result)
                if payload["fatal"]:
                    stopped = f"grading stopped after {result.learner}: the installed ecslab package changed; reinstall it"
    finally:
        for process in processes.values():
            process.join(timeout=120)
            if process.is_alive():
                process.kill()
                process.join()
    ordered = []
    for submission in submissions:
        found = graded.get(submission.path)
        if found is None:
            found = SubmissionResult(submission.learner, submission.exercise, submission.path)
            reason = (
                lost.get(submission.path)
                or stopped
                or "no grading worker was left to grade it" + (f" ({failures[0][:300]})" if failures else "")
            )
            found.problems.append(reason)
            found.checks = [_not_run(check, reason) for check in record[submission.exercise]["checks"]]
        ordered.append(found)
    return ordered


def release_record(folder: Path | None = None) -> dict[str, Any]:
    from ecslab import authoring

    return release_module.load(folder or authoring.ROOT / "exercises")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `ecslab grade`")
