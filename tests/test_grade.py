"""``ecslab grade`` on a synthetic class of exercise 00 (issue 13): solutions pass, blanks fail "not done yet",
half-done ones get half, every attack fails only its own checks, the same gradebook twice, nothing left behind.

The class is made here from the release (``exercises/00-setup.ipynb``) and the solution notebook; each attack is
its own submission. Grading runs on two workers, each with a private lab, with short timeouts.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from ecslab import authoring
from ecslab.grade import release, remote, report, runner

ROOT = authoring.ROOT
STEM = "00-setup"
NOT_DONE = "is not done yet"

SOLVED_0_1 = """def create_cluster(lab, name):
    return lab.ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
"""
SOLVED_0_2 = """import boto3


def make_ecs_client(endpoint_url, region):
    return boto3.client("ecs", endpoint_url=endpoint_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
"""


def _exercise() -> Any:
    return nbformat.read(ROOT / "exercises" / f"{STEM}.ipynb", as_version=4)


def _with(
    cells: dict[str, str] | None = None, before_checks: str | None = None, check_sources: dict[str, str] | None = None
) -> Any:
    """The released exercise with some cells' sources replaced (by cell id) and an extra cell before the first check."""
    notebook = copy.deepcopy(_exercise())
    for cell in notebook.cells:
        if cells and cell.id in cells:
            cell.source = cells[cell.id]
        ident = cell.get("metadata", {}).get("ecslab", {}).get("check")
        if check_sources and ident in check_sources:
            cell.source = check_sources[ident]
    if before_checks is not None:
        first_check = next(i for i, cell in enumerate(notebook.cells) if "check" in cell.get("metadata", {}).get("tags", []))
        notebook.cells.insert(first_check, nbformat.v4.new_code_cell(before_checks))
    return notebook


def _solved(extra: str | None = None) -> Any:
    return _with({"cell-03": SOLVED_0_1, "cell-06": SOLVED_0_2}, extra)


# The synthetic class: learner -> (notebook, {check: passed}, words the problems column must hold)
def _class() -> dict[str, tuple[Any, dict[str, bool], list[str]]]:
    solution = nbformat.read(ROOT / "solutions" / f"{STEM}.ipynb", as_version=4)
    forged = "import ecslab.checks\nfrom ecslab.checks import Passed\n"
    return {
        "solution": (solution, {"0.1": True, "0.2": True}, []),
        "blank": (_exercise(), {"0.1": False, "0.2": False}, []),
        "half": (_with({"cell-03": SOLVED_0_1}), {"0.1": True, "0.2": False}, []),
        "constant-arn": (
            _with(
                {
                    "cell-03": 'def create_cluster(lab, name):\n    return "arn:aws:ecs:us-east-1:123456789012:cluster/exercise-00-check"\n'
                }
            ),
            {"0.1": False, "0.2": False},
            [],
        ),
        "constant-name": (
            _with(
                {
                    "cell-03": "def create_cluster(lab, name):\n"
                    "    return lab.ecs.create_cluster(clusterName='exercise-00-check')['cluster']['clusterArn']\n"
                }
            ),
            {"0.1": False, "0.2": False},
            [],
        ),
        "custom-exc": (
            _with(before_checks="get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)"),
            {"0.1": False, "0.2": False},
            [],
        ),
        "patched-checks": (
            _with(
                before_checks=forged + "ecslab.checks.ex00.check_create_cluster = lambda *a: Passed('0.1', 'forged')\n"
                "ecslab.checks.ex00.check_plain_client = lambda *a: Passed('0.2', 'forged')\n"
                "ecslab.checks.expect = lambda *a, **k: None\n"
                "ecslab.checks.run_student = lambda *a, **k: None\n"
                "ecslab.checks.CheckFailed = type('CheckFailed', (Exception,), {})\n"
            ),
            {"0.1": False, "0.2": False},
            [],
        ),
        "fake-green": (
            _with(
                {
                    "cell-03": "def create_cluster(lab, name):\n    print('Passed: exercise 0.1. created it.')\n    raise NotImplementedError()\n"
                },
                before_checks="print('\\u2714 Exercise 0.1 passed.')",
            ),
            {"0.1": False, "0.2": False},
            [],
        ),
        "edited-check-cells": (
            _with(check_sources={"0.1": "print('Passed: exercise 0.1.')", "0.2": "ecslab.checks.Passed('0.2', 'forged')"}),
            {"0.1": False, "0.2": False},
            ["check cell 0.1 was edited", "check cell 0.2 was edited"],
        ),
        "installed-files": (
            _solved(
                "import pathlib, ecslab.checks\n"
                "target = pathlib.Path(ecslab.checks.__file__).parent / 'ex00.py'\n"
                "target.write_text(target.read_text() + '\\n# changed by a learner\\n')"
            ),
            {"0.1": False, "0.2": False},
            ["changed the installed course files"],
        ),
        "sys-exit": (_solved("import sys\nsys.exit(0)"), {"0.1": True, "0.2": True}, ["SystemExit"]),
        "os-exit": (_solved("import os\nos._exit(0)"), {"0.1": False, "0.2": False}, ["the kernel died"]),
        "segfault": (_solved("import ctypes\nctypes.string_at(0)"), {"0.1": False, "0.2": False}, ["the kernel died"]),
        "infinite-loop": (_solved("while True:\n    pass"), {"0.1": False, "0.2": False}, ["did not finish within"]),
        "input": (_solved("name = input('your name? ')"), {"0.1": True, "0.2": True}, ["StdinNotImplementedError"]),
        "out-of-memory": (_solved("hog = bytearray(8 * 2**30)"), {"0.1": True, "0.2": True}, ["MemoryError"]),
        "fork-bomb": (
            _with(
                before_checks="import os, time\n"
                "for _ in range(5000):\n"
                "    if os.fork() == 0:\n"
                "        time.sleep(120)\n"
                "        os._exit(0)"
            ),
            {"0.1": False, "0.2": False},
            ["a cell raised BlockingIOError"],
        ),
        "kill-the-grader": (
            _solved("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
            {"0.1": False, "0.2": False},
            ["its grading worker was killed"],
        ),
        "flood": (
            _with(before_checks="print('x' * 5_000_000)\nraise ValueError('y' * 5_000_000)"),
            {"0.1": False, "0.2": False},
            ["more characters cut by the grader"],
        ),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[runner.SubmissionResult], Path]:
    folder = tmp_path_factory.mktemp("submissions")
    expected = {}
    for learner, (notebook, checks, problems) in _class().items():
        if learner == "half":  # one folder per learner, as an LMS export gives them
            (folder / learner).mkdir()
            nbformat.write(notebook, folder / learner / f"{STEM}.ipynb")
        else:
            nbformat.write(notebook, folder / f"{learner}.ipynb")
        expected[learner] = (checks, problems)
    record = release.load(ROOT / "exercises")
    found, skipped = runner.find_submissions(folder, record, "00")
    assert not skipped
    before = _leftovers()
    results = runner.grade(found, record, workers=2, cell_timeout=20, submission_timeout=90)
    return {"expected": expected, "before": before, "record": record, "found": found}, results, folder


def _leftovers() -> dict[str, set[str]]:
    """What a grader might leave: pids cgroups, grading folders, private-lab folders, kernels it started."""
    cgroups = (
        {p.name for p in Path("/sys/fs/cgroup/pids").glob("ecslab-grade-*")} if Path("/sys/fs/cgroup/pids").is_dir() else set()
    )
    temp = Path(os.environ.get("TMPDIR", "/tmp"))
    folders = {p.name for p in temp.glob("ecslab-grade-*")}
    kernels = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"IPYTHONDIR=" + str(temp).encode() + b"/ecslab-grade-" in environ:
            kernels.add(proc.name)
    labs = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ecslab.lab.server" in command and "ecslab-grade-worker" in command:
            labs.add(command.split('"home": "')[-1].split('"')[0])
    import docker

    client = docker.from_env()
    ours = {"label": "ecslab.lab"}
    # the low-level lists: the models' list() inspects each item after listing, and fails when another process
    # removes one in between
    listed = [
        *(("container", item) for item in client.api.containers(all=True, filters=ours)),
        *(("network", item) for item in client.api.networks(filters=ours)),
        *(("volume", item) for item in (client.api.volumes(filters=ours).get("Volumes") or [])),
    ]
    engine = {
        f"{kind}:{item.get('Id') or item.get('Name')}"
        for kind, item in listed
        if "ecslab-grade-worker" in str((item.get("Labels") or {}).get("ecslab.lab"))
    }
    return {"cgroups": cgroups, "folders": folders, "kernels": kernels, "labs": labs, "engine": engine}


pytestmark = pytest.mark.docker


def test_the_gradebook_is_exactly_what_the_class_deserves(
    graded: tuple[dict[str, Any], list[runner.SubmissionResult], Path],
) -> None:
    context, results, _folder = graded
    by_learner = {result.learner: result for result in results}
    assert set(by_learner) == set(context["expected"])
    for learner, (checks, problems) in context["expected"].items():
        result = by_learner[learner]
        got = {check.check: check.passed for check in result.checks}
        assert got == checks, (learner, [c.message for c in result.checks], result.problems)
        for check in result.checks:
            assert check.points == (1 if check.passed else 0) and check.max_points == 1
        text = " ".join(result.problems)
        for words in problems:
            assert words in text, (learner, result.problems)
        assert all("the grader could not" not in p and "the grader failed" not in p for p in result.problems), result.problems
    blank = by_learner["blank"]
    assert all(NOT_DONE in check.message for check in blank.checks)
    assert NOT_DONE in by_learner["half"].checks[1].message
    for learner in ("os-exit", "segfault", "infinite-loop"):
        assert all(check.status == "not run" for check in by_learner[learner].checks), learner
    assert all(len(p) < 5000 for result in results for p in result.problems)


def test_the_course_package_is_unchanged(graded: tuple[dict[str, Any], list[runner.SubmissionResult], Path]) -> None:
    assert runner.package_hash(runner.PACKAGE) == runner.package_hash(runner.PACKAGE)
    assert "changed by a learner" not in (runner.PACKAGE / "checks" / "ex00.py").read_text()


def test_nothing_is_left_behind(graded: tuple[dict[str, Any], list[runner.SubmissionResult], Path]) -> None:
    context, _results, _folder = graded
    after = _leftovers()
    for kind, names in after.items():
        assert not (names - context["before"][kind]), (kind, names - context["before"][kind])


def test_the_reports_and_the_same_result_twice(
    graded: tuple[dict[str, Any], list[runner.SubmissionResult], Path], tmp_path: Path
) -> None:
    context, results, _folder = graded
    paths = report.write_reports(results, tmp_path)
    rows = list(csv.DictReader(paths["csv"].open()))
    assert len(rows) == 2 * len(results)
    assert {row["learner"] for row in rows if row["passed"] == "yes"} >= {"solution", "half", "sys-exit", "input"}
    html = paths["html"].read_text()
    assert "Most common failures" in html and NOT_DONE in html
    assert (paths["feedback"] / "blank-00-setup.md").read_text().count(NOT_DONE) == 2
    # the same class again (a few learners: the whole class twice would double the test's time)
    again_found = [s for s in context["found"] if s.learner in {"solution", "blank", "half", "patched-checks", "os-exit"}]
    again = runner.grade(again_found, context["record"], workers=2, cell_timeout=20, submission_timeout=90)

    def verdicts(items: list[runner.SubmissionResult]) -> dict[tuple[str, str], tuple[bool, int, str]]:
        return {(r.learner, c.check): (c.passed, c.points, c.status) for r in items for c in r.checks}

    first = {key: value for key, value in verdicts(results).items() if key[0] in {s.learner for s in again_found}}
    assert verdicts(again) == first


def test_remote_values_are_data_only() -> None:
    data = remote.encode([1, "a", (2, 3), {"k": [Path("/x")]}, None])
    assert json.loads(json.dumps(data)) == data
    assert remote.decode(data) == [1, "a", (2, 3), {"k": [Path("/x")]}, None]
    odd = remote.decode(remote.encode(object()))
    assert type(odd).__name__ == "object" or "object" in repr(odd)
    assert remote.decode({"__object__": "os.system('x')", "repr": "r"}).__class__.__name__ == "object"


def test_release_records_every_check_cell() -> None:
    record = release.load(ROOT / "exercises")
    assert sorted(record) == sorted(p.stem for p in (ROOT / "exercises").glob("*.ipynb"))
    for stem, entry in record.items():
        notebook = nbformat.read(ROOT / "exercises" / f"{stem}.ipynb", as_version=4)
        cells = {cell.id: cell for cell in notebook.cells}
        assert entry["checks"], stem
        for check in entry["checks"]:
            cell = cells[check["cell"]]
            assert cell.metadata["ecslab"]["check"] == check["id"] and "check" in cell.metadata["tags"]
            assert release.source_hash(cell.source) == check["sha256"]
            assert check["points"] >= 1
