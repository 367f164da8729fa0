"""ecslab.images: reading Dockerfiles, parsing builds, layers, names; real builds on the engine.

The first half needs nothing but Python: a fake Docker client is passed in where a
function talks to the engine. The tests marked ``docker`` build tiny images on the
running engine (``FROM scratch``, or the sample app) and remove what they made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from ecslab import images
from ecslab.config import LAB_LABEL, LabConfig

matplotlib.use("Agg")

# -- fakes --------------------------------------------------------------------------------


class FakeImage:
    def __init__(self, image_id: str, history: list[dict[str, Any]] | None = None, tags: list[str] | None = None) -> None:
        self.id = image_id
        self.tags = tags or []
        self._history = history or []
        self.attrs = {"Size": 0}
        self.labels: dict[str, str] = {}

    def history(self) -> list[dict[str, Any]]:
        return self._history


class FakeImages:
    def __init__(self, known: dict[str, FakeImage]) -> None:
        self.known = known

    def get(self, name: str) -> FakeImage:
        return self.known[name]


class FakeAPI:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.calls: list[dict[str, Any]] = []

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(kwargs)
        yield from self.chunks


class FakeClient:
    def __init__(self, chunks: list[dict[str, Any]], known: dict[str, FakeImage]) -> None:
        self.api = FakeAPI(chunks)
        self.images = FakeImages(known)


def stream(*lines: str) -> list[dict[str, Any]]:
    return [{"stream": line + "\n"} for line in lines]


SAMPLE_BUILD = stream(
    "Step 1/5 : ARG BASE_IMAGE=python:3.12-slim",
    "Step 2/5 : FROM ${BASE_IMAGE}",
    " ---> 5efcfe66f7ef",
    "Step 3/5 : WORKDIR /app",
    " ---> Using cache",
    " ---> ff1e44940506",
    "Step 4/5 : COPY app.py .",
    " ---> 1e4c5cfc5aff",
    "Step 5/5 : LABEL ecslab.lab=/tmp/lab",
    " ---> Running in 685484457c91",
    "Removing intermediate container 685484457c91",
    " ---> 2e5d62f09c45",
    "Successfully built 2e5d62f09c45",
) + [{"aux": {"ID": "sha256:" + "2e5d62f09c45" + "0" * 52}}]


# -- Dockerfiles ----------------------------------------------------------------------------


def test_dockerfile_instructions_skip_comments_and_join_continued_lines() -> None:
    # given a Dockerfile with comments, blank lines, a continued RUN and a lower-case keyword
    text = '# a comment\nARG BASE=x\n\nfrom ${BASE}\nRUN echo a \\\n  # inside\n    && echo b\nCMD ["python3"]\n'

    # when it is read
    instructions = images.dockerfile_instructions(text)

    # then there is one instruction per keyword, upper-cased, starting on its first line
    assert [(i.line, i.keyword) for i in instructions] == [(2, "ARG"), (4, "FROM"), (5, "RUN"), (8, "CMD")]
    assert instructions[2].arguments == "echo a && echo b"
    assert str(instructions[1]) == "FROM ${BASE}"


def test_the_sample_dockerfile_takes_its_base_and_version_as_build_arguments() -> None:
    # given the sample app's Dockerfile
    instructions = images.dockerfile_instructions((images.sample_app_dir() / "Dockerfile").read_text())

    # then BASE_IMAGE is declared before FROM, with the default a real user pulls, and APP_VERSION after it
    keywords = [i.keyword for i in instructions]
    first_from = keywords.index("FROM")
    assert any(i.keyword == "ARG" and i.arguments == "BASE_IMAGE=python:3.12-slim" for i in instructions[:first_from])
    assert instructions[first_from].arguments == "${BASE_IMAGE}"
    assert any(i.keyword == "ARG" and i.arguments.startswith("APP_VERSION=") for i in instructions[first_from:])


def test_change_edits_a_copy_and_refuses_text_that_is_not_there(tmp_path: Path) -> None:
    # given a copy of the sample app
    folder = images.copy_sample_app(tmp_path)

    # when a change is applied
    images.Change("cmd", old='CMD ["python3", "app.py"]', new='CMD ["python3", "-u", "app.py"]').apply(folder)

    # then the copy changed and the package's Dockerfile did not
    assert 'CMD ["python3", "-u", "app.py"]' in (folder / "Dockerfile").read_text()
    assert 'CMD ["python3", "app.py"]' in (images.sample_app_dir() / "Dockerfile").read_text()
    with pytest.raises(ValueError, match="not in Dockerfile"):
        images.Change("missing", old="NOT THERE", new="x").apply(folder)


# -- builds, with a fake engine -----------------------------------------------------------


def test_build_image_reads_each_step_and_what_the_cache_did() -> None:
    # given an engine whose build output has a global ARG, FROM, a cached step, a run step and a --label step
    image = FakeImage("sha256:" + "2e5d62f09c45" + "0" * 52)
    client = FakeClient(SAMPLE_BUILD, {image.id: image})

    # when building
    result = images.build_image(
        "/ctx", "demo:v1", buildargs={"A": "1"}, client=client, labels={"ecslab.lab": "/tmp/lab"}, show_progress=False
    )

    # then each step has its status, the label step is marked, and the args reached the engine
    assert [step.status for step in result.steps] == ["argument", "base", "cached", "ran", "ran"]
    assert result.cached_steps == [3]
    assert result.rebuilt_steps == [4, 5]
    assert result.counts() == {"reused": 1, "rebuilt": 2}
    assert [step.from_dockerfile for step in result.steps] == [True, True, True, True, False]
    assert result.steps[2].image_id == "ff1e44940506"
    assert result.short_id == "2e5d62f09c45"
    assert client.api.calls[0]["buildargs"] == {"A": "1"} and client.api.calls[0]["nocache"] is False
    assert "reused from cache" in result._repr_html_() and "added by ecslab" in result._repr_html_()


def test_a_failed_build_names_the_step_and_its_output() -> None:
    # given an engine whose build fails at a RUN step
    chunks = stream("Step 1/2 : FROM scratch", " ---> ", "Step 2/2 : RUN exit 3", " ---> Running in abc") + [
        {"errorDetail": {"message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}, "error": "The command ... 3"}
    ]
    client = FakeClient(chunks, {})

    # when building, then the error says which step failed and shows its output
    with pytest.raises(images.BuildError, match=r"step 2 \(RUN exit 3\)") as failure:
        images.build_image("/ctx", "demo:bad", client=client, show_progress=False)
    assert "Running in abc" in str(failure.value)


def test_table_and_steps_html_describe_every_step() -> None:
    # given a build result
    image = FakeImage("sha256:" + "2e5d62f09c45" + "0" * 52)
    result = images.build_image("/ctx", "demo:v1", client=FakeClient(SAMPLE_BUILD, {image.id: image}), show_progress=False)

    # then the table has one row per step and the HTML marks the first rebuilt step when asked
    assert [row["step"] for row in result.table()] == [1, 2, 3, 4, 5]
    assert "first step whose input changed" in result.steps_html(highlight_first_rebuilt=True)
    assert "first step whose input changed" not in result.steps_html()


# -- layers ----------------------------------------------------------------------------------

HISTORY = [  # docker returns history newest first
    {"Id": "sha256:top", "CreatedBy": f"/bin/sh -c #(nop)  LABEL {LAB_LABEL}=/tmp/lab", "Size": 0, "Tags": ["demo:v1"]},
    {"Id": "sha256:copy", "CreatedBy": "/bin/sh -c #(nop) COPY file:" + "ab" * 32 + " in . ", "Size": 2984, "Tags": None},
    {"Id": "sha256:run", "CreatedBy": "/bin/sh -c useradd app", "Size": 4000, "Tags": None},
    {"Id": "sha256:base", "CreatedBy": "", "Size": 250_000_000, "Tags": ["python-base:1"], "Comment": "Imported from -"},
]


def test_image_layers_mark_the_base_the_dockerfile_and_the_lab_label() -> None:
    # given an image whose history has a tagged base, a RUN, a COPY and the lab's label
    image = FakeImage("sha256:top", HISTORY, tags=["demo:v1"])

    # when its layers are read
    layers = images.image_layers(image)

    # then they come base first, each with where it came from and a readable instruction
    assert [layer.source for layer in layers] == ["base image", "Dockerfile", "Dockerfile", "ecslab label"]
    assert [layer.instruction for layer in layers] == [
        "(base image python-base:1)",
        "RUN useradd app",
        "COPY file:abababababab… in .",
        f"LABEL {LAB_LABEL}=/tmp/lab",
    ]


def test_image_layers_take_an_explicit_base() -> None:
    # given an image whose RUN layer is the top of the base we name
    image = FakeImage("sha256:top", HISTORY)
    client = FakeClient([], {"my-base": FakeImage("sha256:run")})

    # when its layers are read with that base, then everything up to it is the base's
    sources = [layer.source for layer in images.image_layers(image, client=client, base="my-base")]
    assert sources == ["base image", "base image", "Dockerfile", "ecslab label"]


def test_layers_table_and_charts() -> None:
    # given the layers of an image
    layers = images.image_layers(FakeImage("sha256:top", HISTORY))

    # then the table shows every layer and a total, and both charts draw one bar per layer
    table = images.layers_table(layers)
    assert table.count("<tr>") == len(layers) + 2
    assert "250.0 MB" in table and "<b>250.0 MB</b>" in table
    assert len(images.plot_layers(layers).patches) == len(layers)
    assert images.plot_layers(layers, log=True).get_xscale() == "log"


def test_human_size_uses_decimal_units() -> None:
    assert [images.human_size(n) for n in (0, 999, 2984, 252_818_040, 3e9)] == ["0 B", "999 B", "3.0 kB", "252.8 MB", "3.0 GB"]


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "registry", "repository", "tag", "digest"),
    [
        ("python:3.12-slim", "docker.io", "library/python", "3.12-slim", None),
        ("ecslab-sample", "docker.io", "library/ecslab-sample", "latest", None),
        ("me/app:v2", "docker.io", "me/app", "v2", None),
        ("localhost:5050/ecslab-sample:v1", "localhost:5050", "ecslab-sample", "v1", None),
        ("localhost:5050/ecslab-sample", "localhost:5050", "ecslab-sample", "latest", None),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "app",
            "v1",
            None,
        ),
        ("public.ecr.aws/docker/library/python:3.12", "public.ecr.aws", "docker/library/python", "3.12", None),
        ("app@sha256:" + "0" * 64, "docker.io", "library/app", None, "sha256:" + "0" * 64),
        ("index.docker.io/python", "docker.io", "library/python", "latest", None),
        ("docker.io/library/python:3", "docker.io", "library/python", "3", None),
    ],
)
def test_parse_reference_reads_names_as_docker_does(
    name: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    reference = images.parse_reference(name)
    assert (reference.registry, reference.repository, reference.tag, reference.digest) == (registry, repository, tag, digest)


def test_parse_reference_refuses_what_docker_refuses() -> None:
    with pytest.raises(ValueError, match="must be lowercase"):
        images.parse_reference("Python:3.12")


# -- the caching widget ------------------------------------------------------------------


def test_cache_explorer_shows_the_chosen_build_without_printing(capsys: pytest.CaptureFixture[str]) -> None:
    # given two real-looking builds: one fully cached, one with a rebuilt step
    image = FakeImage("sha256:" + "2e5d62f09c45" + "0" * 52)
    rebuilt = images.build_image("/ctx", "demo:1", client=FakeClient(SAMPLE_BUILD, {image.id: image}), show_progress=False)
    cached_chunks = stream(
        "Step 1/5 : ARG BASE_IMAGE=python:3.12-slim",
        "Step 2/5 : FROM ${BASE_IMAGE}",
        "Step 3/5 : WORKDIR /app",
        " ---> Using cache",
        "Step 4/5 : COPY app.py .",
        " ---> Using cache",
        "Step 5/5 : LABEL ecslab.lab=/tmp/lab",
        " ---> Using cache",
    ) + [{"aux": {"ID": image.id}}]
    cached = images.build_image("/ctx", "demo:2", client=FakeClient(cached_chunks, {image.id: image}), show_progress=False)
    explorer = images.cache_explorer({"edit": rebuilt, "nothing": cached})
    choice, table = explorer.children

    # when the learner picks the other change
    before = table.value
    choice.value = "nothing"

    # then the table changes to that build, and nothing was printed
    assert "<b>1</b> steps reused" in before
    assert "<b>3</b> steps reused" in table.value and "<b>0</b> rebuilt" in table.value
    assert capsys.readouterr().out == ""
    assert len(images.plot_cache({"edit": rebuilt, "nothing": cached}).patches) == 4


# -- real builds on the engine --------------------------------------------------------------


def engine_answers() -> bool:
    from ecslab.engine import engine_status

    return engine_status().ok


NOTE = "FROM scratch\nCOPY note.txt /note.txt\n"


@pytest.fixture
def tags() -> Iterator[list[str]]:
    """Tags a test builds; removed afterwards (and dangling IDs it appends)."""
    made: list[str] = []
    yield made
    images.remove_images(list(reversed(made)))


@pytest.mark.docker
@pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers")
def test_same_text_same_image_and_the_id_is_the_config_digest(tags: list[str]) -> None:
    # given a tiny image built from text
    tags.append("ecslab-test-images:note")
    first = images.build_from_text(NOTE, tags[0], files={"note.txt": "hello\n"})

    # when the same text is built again, and once more without the cache
    again = images.build_from_text(NOTE, tags[0], files={"note.txt": "hello\n"})
    tags.append("ecslab-test-images:nocache")
    fresh = images.build_from_text(NOTE, tags[1], files={"note.txt": "hello\n"}, nocache=True)

    # then the cached build is the same image, the ID is the digest of the config,
    # and without the cache the layer is identical but the ID is new (a new creation time)
    assert again.image_id == first.image_id and again.counts() == {"reused": 2, "rebuilt": 0}
    assert images.config_digest(first.image) == first.image_id
    assert fresh.image.attrs["RootFS"]["Layers"] == first.image.attrs["RootFS"]["Layers"]
    assert fresh.image_id != first.image_id
    assert first.image.labels[LAB_LABEL] == str(LabConfig.from_env().home)


@pytest.mark.docker
@pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers")
def test_a_failing_step_on_the_engine_raises_build_error(tags: list[str]) -> None:
    # given a Dockerfile whose RUN cannot work (scratch has no shell), when built, then BuildError names the step
    tags.append("ecslab-test-images:broken")
    with pytest.raises(images.BuildError, match=r"step 2 \(RUN true\)"):
        images.build_from_text("FROM scratch\nRUN true\n", tags[0])


@pytest.mark.docker
@pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers")
def test_editing_app_py_reuses_the_steps_above_copy(tags: list[str]) -> None:
    # given the sample app built as v1
    tags.append("ecslab-test-images:v1")
    v1 = images.build_sample_app(tags[0], show_progress=False)
    tags.append("ecslab-test-images:greeting")

    # when a copy with a new greeting is built
    change = images.Change("greeting", file="app.py", old="Hello from the ecslab sample API", new="Hello from test_images")
    edited = images.build_changed_sample_app(change, tags[1])

    # then the steps above COPY came from the cache, COPY and every later step ran, and v1 is untouched
    copy_step = next(step.number for step in edited.steps if step.keyword == "COPY")
    assert edited.cached_steps == [
        step.number for step in edited.steps if step.status != "argument" and step.keyword != "FROM" and step.number < copy_step
    ]
    assert edited.rebuilt_steps == [step.number for step in edited.steps if step.number >= copy_step]
    assert edited.image_id != v1.image_id


@pytest.mark.docker
@pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers")
def test_remove_images_removes_the_labs_images_only() -> None:
    import tempfile

    from ecslab.engine import docker_client

    client = docker_client()
    # given one image with the lab's label and one built without it
    ours = images.build_from_text(NOTE, "ecslab-test-images:ours", files={"note.txt": "ours\n"})
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "Dockerfile").write_text(NOTE)
        (Path(folder) / "note.txt").write_text("theirs\n")
        images.build_image(folder, "ecslab-test-images:theirs", client=client, show_progress=False)
    try:
        # when both are asked to be removed
        removed = images.remove_images([ours.tag, "ecslab-test-images:theirs", "ecslab-test-images:never-built"])

        # then only the lab's one is gone
        assert removed == [ours.tag]
        assert not images.image_present(ours.tag) and images.image_present("ecslab-test-images:theirs")
    finally:
        client.images.remove("ecslab-test-images:theirs")
