"""ecslab.checks.setup: the sample app pushed for an exercise, found by its checks, deleted by its Cleanup.

Given a repository of the test's own (``tsetup-app``), when the setup pushes the image, then
the checks find it, and once the repository is deleted they say to run the setup cell, naming
their exercise.
"""

from __future__ import annotations

import pytest

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import images
from ecslab.checks import CheckFailed, ex05, ex06, ex08, setup

REPOSITORY = "tsetup-app"


def test_the_image_is_pushed_found_and_deleted(lab: ecslab.Lab) -> None:
    uri = setup.prepare_image(lab, REPOSITORY, show_progress=False)
    try:
        assert uri.endswith(f"/{REPOSITORY}:v1")
        assert setup.exercise_image(lab, "9", REPOSITORY) == uri
        assert setup.prepare_image(lab, REPOSITORY, show_progress=False) == uri  # a fresh repository of the same name
        assert setup.delete_repository(lab, REPOSITORY) is True
        assert not ecr_tools.local_references(lab.docker, uri.rsplit(":", 1)[0])
        assert setup.delete_repository(lab, REPOSITORY) is False
        with pytest.raises(
            CheckFailed, match=f"Exercise 9: the sample app is not in the repository '{REPOSITORY}'. Run the setup cell"
        ):
            setup.exercise_image(lab, "9", REPOSITORY)
    finally:
        setup.delete_repository(lab, REPOSITORY)
        images.remove_images([f"{setup.local_name(lab, REPOSITORY)}:v1"], client=lab.docker, config=lab.config)


def test_a_grader_worker_builds_under_local_names_of_its_own(lab: ecslab.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local image names are engine-wide: with the suffix ``ecslab grade`` gives each worker, the setup cell builds
    under a name of that worker's own (two workers never move each other's tags), and the Cleanup removes it."""
    assert setup.local_name(lab, REPOSITORY) == REPOSITORY  # a learner's names
    monkeypatch.setenv(setup.LOCAL_SUFFIX, "bad suffix!")
    assert setup.local_name(lab, REPOSITORY) == REPOSITORY  # not a valid name part: ignored
    monkeypatch.setenv(setup.LOCAL_SUFFIX, "grader1-4242")
    own = setup.local_name(lab, REPOSITORY)
    assert own == f"{REPOSITORY}-grader1-4242"
    setup.prepare_image(lab, REPOSITORY, show_progress=False)
    try:
        assert images.image_present(f"{own}:v1", lab.docker) and not images.image_present(f"{REPOSITORY}:v1", lab.docker)
    finally:
        setup.remove_exercise_image(lab, REPOSITORY)
    assert not images.image_present(f"{own}:v1", lab.docker)


@pytest.mark.parametrize("module, exercise", [(ex05, "5"), (ex06, "6"), (ex08, "8")])
def test_each_exercise_names_itself(lab: ecslab.Lab, module: object, exercise: str) -> None:
    with pytest.raises(CheckFailed, match=f"^Exercise {exercise}: the sample app is not in the repository 'tsetup-never-pushed'"):
        module.exercise_image(lab, "tsetup-never-pushed")  # type: ignore[attr-defined]
