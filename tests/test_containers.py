"""Tests for ecslab.containers and ecslab.footprint (notebook 01).

Pure functions are tested with fakes; the rest runs real containers of the sample
app on the running Docker engine, labelled ``purpose=test-containers`` and
removed after each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import ecslab
from ecslab import containers, footprint
from ecslab.checks.ex01 import sample_image as build_sample_image
from ecslab.config import LAB_LABEL
from ecslab.containers import Footprint
from ecslab.footprint import CopiesPoint

PURPOSE = "test-containers"
MiB = 2**20


@pytest.fixture(scope="module")
def image(lab: ecslab.Lab) -> str:
    return build_sample_image(lab)


@pytest.fixture
def cleanup(lab: ecslab.Lab) -> Iterator[None]:
    yield
    containers.remove_containers(PURPOSE, client=lab.docker, config=lab.config)


class FakeContainer:
    """Answers ``stats`` like the engine does, without an engine."""

    def __init__(self, memory_stats: dict[str, Any]) -> None:
        self.memory_stats = memory_stats

    def stats(self, stream: bool, one_shot: bool) -> dict[str, Any]:
        assert stream is False and one_shot is True
        return {"memory_stats": self.memory_stats}


# -- pure functions ----------------------------------------------------------------------------


def test_os_release_parses_quoted_and_bare_values() -> None:
    # given an /etc/os-release text
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n\n# a comment\nVERSION_ID="12"\n'
    # when it is parsed
    fields = containers.os_release(text)
    # then quotes are gone and comments skipped
    assert fields == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "VERSION_ID": "12"}


def test_request_log_keeps_requests_and_drops_timestamps() -> None:
    # given the sample app's log
    logs = (
        "sample app v1 listening on port 8080\n"
        '26/Nov/2026 06:28:09 v1 "GET /health HTTP/1.1" 200 -\n'
        '26/Nov/2026 06:28:10 v1 "GET /missing?x=1 HTTP/1.1" 404 -\n'
    )
    # when the requests are read out
    requests = containers.request_log(logs)
    # then each is method, path and status, without the timestamp
    assert requests == ["GET /health -> 200", "GET /missing?x=1 -> 404"]


def test_memory_usage_subtracts_inactive_page_cache_on_cgroup_v1_and_v2() -> None:
    # given stats as cgroup v1 and v2 engines report them
    v1 = FakeContainer({"usage": 10_000, "stats": {"total_inactive_file": 3_000, "inactive_file": 1_000}})
    v2 = FakeContainer({"usage": 10_000, "stats": {"inactive_file": 4_000}})
    bare = FakeContainer({"usage": 10_000})
    # when memory is computed as docker stats does
    # then v1 uses total_inactive_file, v2 inactive_file, and no detail means the raw usage
    assert containers.memory_usage(v1) == 7_000
    assert containers.memory_usage(v2) == 6_000
    assert containers.memory_usage(bare) == 10_000


def test_memory_usage_never_goes_negative() -> None:
    # given a cache figure larger than the usage (seen right after start)
    odd = FakeContainer({"usage": 1_000, "stats": {"inactive_file": 5_000}})
    # then the raw usage is kept
    assert containers.memory_usage(odd) == 1_000


def test_memory_usages_keeps_the_order_of_the_containers() -> None:
    # given containers using different amounts
    fakes = [FakeContainer({"usage": n}) for n in (3, 1, 2)]
    # when read at once
    # then results line up with the input
    assert containers.memory_usages(fakes) == [3, 1, 2]
    assert containers.memory_usages([]) == []


def test_every_cited_vm_figure_has_a_source_a_link_and_a_date() -> None:
    for key, figure in footprint.VM_FIGURES.items():
        assert figure.source and figure.what, key
        assert figure.url.startswith("https://"), key
        assert figure.published[:4].isdigit() and 2010 <= int(figure.published[:4]) <= 2030, key
        assert figure.label.startswith("cited, "), key
        assert figure.value > 0, key


def test_cited_table_shows_every_figure_and_says_it_is_not_measured() -> None:
    table = footprint.cited_table()
    assert "cited, not measured here" in table
    for figure in footprint.VM_FIGURES.values():
        assert figure.published in table


def test_per_copy_memory_is_the_median_of_memory_per_copy() -> None:
    # given three measured points, one of them noisy
    points = [CopiesPoint(1, 0.3, 10 * MiB, 0), CopiesPoint(2, 0.6, 20 * MiB, 0), CopiesPoint(3, 0.9, 60 * MiB, 0)]
    # then one copy costs the median, 10 MiB
    assert footprint.per_copy_memory(points) == 10 * MiB
    with pytest.raises(ValueError):
        footprint.per_copy_memory([])


def test_copies_that_fit_divides_memory_and_rounds_down() -> None:
    assert footprint.copies_that_fit(10 * MiB, 1024 * MiB) == 102
    assert footprint.copies_that_fit(2**30, 2**30 - 1) == 0
    with pytest.raises(ValueError):
        footprint.copies_that_fit(0, 2**30)


def test_measuring_needs_at_least_one_run(image: str) -> None:
    with pytest.raises(ValueError):
        footprint.measure_starts(image, runs=0)
    with pytest.raises(ValueError):
        footprint.measure_copies(image, max_copies=0)


def test_start_and_memory_chart_labels_cited_figures_as_cited() -> None:
    # given made-up container measurements
    starts = [Footprint(0.25, 10 * MiB, 240 * MiB), Footprint(0.35, 11 * MiB, 240 * MiB)]
    # when charted
    figure = footprint.plot_start_and_memory(starts)
    # then every VM bar says it is cited, and the legend separates measured from cited
    import matplotlib.pyplot as plt

    plt.close(figure)
    left, right = figure.axes
    labels = [tick.get_text() for axis in (left, right) for tick in axis.get_xticklabels()]
    assert sum("cited" in label for label in labels) == 4
    assert sum("measured" in label for label in labels) == 2
    assert [text.get_text() for text in right.get_legend().get_texts()] == [
        "measured on this machine",
        "cited, not measured here",
    ]


def test_copies_explorer_redraws_without_printing(capsys: pytest.CaptureFixture[str]) -> None:
    # given measured points and a 4 GiB machine
    points = [CopiesPoint(n, 0.3 * n, n * 10 * MiB, 240 * MiB) for n in (1, 2, 3)]
    explorer = footprint.CopiesExplorer(points, host_memory_bytes=4 * 2**30, max_copies=50, copies=10)
    first_chart = explorer.chart.value
    # when the learner moves the slider and picks another VM size
    explorer.slider.value = 40
    explorer.vm_size.value = "t3.small"
    # then the chart and summary change, and nothing was printed
    assert explorer.chart.value != first_chart
    assert "<b>40 copies.</b>" in explorer.summary.value
    assert capsys.readouterr().out == ""
    facts = explorer.facts(40, "t3.small")
    assert facts["container_memory_bytes"] == 400 * MiB
    assert facts["vm_memory_bytes"] == 80 * 2**30
    assert facts["vms_that_fit"] == 2 and facts["containers_that_fit"] == 409
    # and its text form is the same every run (the stored notebook output must repeat)
    assert (
        explorer._repr_mimebundle_()["text/plain"]
        == repr(explorer)
        == "CopiesExplorer(copies 1 to 50, VM sizes t3.nano, t3.micro, t3.small)"
    )


# -- real containers ---------------------------------------------------------------------------


def test_run_container_publishes_on_loopback_only_and_answers(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    # given the sample image
    # when it is run with the lab's helper
    running = containers.run_container(image, purpose=PURPOSE, client=lab.docker, config=lab.config)
    # then it answers on 127.0.0.1, publishes nowhere else, and carries the lab's labels
    assert running.url.startswith("http://127.0.0.1:")
    assert running.get_json("/health")["status"] == "ok"
    bindings = running.container.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}
    assert running.container.labels[f"{LAB_LABEL}.purpose"] == PURPOSE
    assert running.get_json("/")["hostname"] == running.container.id[:12]


def test_list_and_remove_containers_touch_only_their_purpose(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    # given one container for this purpose and one for another
    ours = containers.run_container(
        image, purpose=PURPOSE, client=lab.docker, config=lab.config, container_port=None, wait_for_http=None
    )
    other = containers.run_container(
        image, purpose=PURPOSE + "-other", client=lab.docker, config=lab.config, container_port=None, wait_for_http=None
    )
    try:
        # when listing and removing by purpose
        listed = containers.list_containers(PURPOSE, client=lab.docker, config=lab.config)
        removed = containers.remove_containers(PURPOSE, client=lab.docker, config=lab.config)
        # then only ours was listed and removed
        assert [row["name"] for row in listed] == [ours.name]
        assert removed == 1
        assert containers.list_containers(PURPOSE, client=lab.docker, config=lab.config) == []
        assert [row["name"] for row in containers.list_containers(PURPOSE + "-other", client=lab.docker, config=lab.config)] == [
            other.name
        ]
    finally:
        containers.remove_containers(PURPOSE + "-other", client=lab.docker, config=lab.config)


def test_exec_text_returns_output_and_raises_with_output_on_failure(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    running = containers.run_container(image, purpose=PURPOSE, client=lab.docker, config=lab.config)
    # when a command succeeds, its output comes back
    assert containers.exec_text(running.container, ["cat", "/proc/1/cmdline"]).split("\0")[:2] == ["python3", "app.py"]
    # when it fails, the error says which command and what it printed
    with pytest.raises(containers.ContainerError, match="exited 1") as error:
        containers.exec_text(running.container, ["python3", "-c", "import boto3"])
    assert "No module named 'boto3'" in str(error.value)


def test_cgroup_memory_limit_is_what_docker_applied(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    # given one container limited to 64 MiB and one without a limit
    limited = containers.run_container(
        image, purpose=PURPOSE, client=lab.docker, config=lab.config, mem_limit="64m", container_port=None, wait_for_http=None
    )
    free = containers.run_container(
        image, purpose=PURPOSE, client=lab.docker, config=lab.config, container_port=None, wait_for_http=None
    )
    # then the kernel enforces 64 MiB on the first and nothing on the second
    assert containers.cgroup_memory_limit(limited.container) == 64 * MiB == limited.container.attrs["HostConfig"]["Memory"]
    assert containers.cgroup_memory_limit(free.container) is None


def test_writable_layer_counts_only_what_the_container_wrote(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    # given a container that writes 3 MiB and one that writes nothing
    writer = containers.run_container(
        image,
        purpose=PURPOSE,
        client=lab.docker,
        config=lab.config,
        container_port=None,
        wait_for_http=None,
        command=["python3", "-c", "open('/tmp/blob', 'wb').write(b'x' * 3 * 2**20); import time; time.sleep(60)"],
    )
    idle = containers.run_container(image, purpose=PURPOSE, client=lab.docker, config=lab.config)
    containers.exec_text(
        writer.container, ["sh", "-c", "while [ ! -s /tmp/blob ] || [ $(wc -c < /tmp/blob) -lt 3145728 ]; do sleep 0.05; done"]
    )
    # then the writer's layer holds its 3 MiB, the idle one's nothing, and neither counts the image
    assert 3 * MiB <= containers.writable_layer_bytes(writer.container, lab.docker) < 4 * MiB
    assert containers.writable_layer_bytes(idle.container, lab.docker) < MiB


def test_measure_start_times_a_real_start_and_leaves_nothing_behind(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    # when one start is measured
    measured = containers.measure_start(image, purpose=PURPOSE, client=lab.docker, config=lab.config)
    # then the figures are plausible for a small Python app, and the container is gone
    assert 0 < measured.start_seconds < 15
    assert MiB < measured.memory_bytes < 200 * MiB
    assert measured.image_bytes == lab.docker.images.get(image).attrs["Size"]
    assert containers.list_containers(PURPOSE, client=lab.docker, config=lab.config) == []


def test_measure_starts_and_copies_measure_real_containers_and_remove_them(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    # when 2 starts and 3 copies are measured
    starts = footprint.measure_starts(image, runs=2, purpose=PURPOSE, client=lab.docker, config=lab.config)
    points = footprint.measure_copies(image, max_copies=3, purpose=PURPOSE, client=lab.docker, config=lab.config)
    # then there is one figure per run and per count, growing with the copies
    assert len(starts) == 2 and all(0 < run.start_seconds < 15 for run in starts)
    assert [point.copies for point in points] == [1, 2, 3]
    assert points[0].seconds < points[1].seconds < points[2].seconds
    assert points[0].memory_bytes < points[1].memory_bytes < points[2].memory_bytes
    assert points[0].disk_bytes >= lab.docker.images.get(image).attrs["Size"]
    # and nothing is left running
    assert containers.list_containers(PURPOSE, client=lab.docker, config=lab.config) == []


def test_measure_copies_can_keep_the_copies_for_a_closer_look(lab: ecslab.Lab, image: str, cleanup: None) -> None:
    points = footprint.measure_copies(image, max_copies=2, purpose=PURPOSE, client=lab.docker, config=lab.config, keep=True)
    running = containers.list_containers(PURPOSE, client=lab.docker, config=lab.config)
    assert len(points) == 2
    assert [row["status"] for row in running] == ["running", "running"]
