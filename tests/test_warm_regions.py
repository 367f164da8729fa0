"""moto's region lists from the lab's cache (issue 17): the same answers as botocore's, the file safe to share."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest

from ecslab.lab.moto.regions import RegionIndex, botocore_key, cache_folder

QUESTIONS = [
    ("ec2", "aws", False),
    ("ec2", "aws-cn", False),
    ("ecs", "aws-us-gov", False),
    ("iam", "aws", True),
    ("s3", "aws", False),
]


def test_the_index_answers_as_botocore_does_and_the_next_one_reads_them_from_its_file(tmp_path: Path) -> None:
    # given: botocore's own answers, and an index with an empty cache folder
    session = boto3.Session()
    expected = {
        question: session.get_available_regions(question[0], partition_name=question[1], allow_non_regional=question[2])
        for question in QUESTIONS
    }
    path, key = tmp_path / "regions.json", botocore_key()
    first = RegionIndex(path, key)
    # when: moto's questions are asked of it, then of a new index (the next lab)
    found = {q: first.get_available_regions(q[0], partition_name=q[1], allow_non_regional=q[2]) for q in QUESTIONS}
    partitions = first.get_available_partitions()
    second = RegionIndex(path, key)
    again = {q: second.get_available_regions(q[0], partition_name=q[1], allow_non_regional=q[2]) for q in QUESTIONS}
    # then: the same answers; the first asked botocore, the second only read the file
    assert found == expected and again == expected
    assert partitions == session.get_available_partitions() == second.get_available_partitions()
    assert first.asked == len(QUESTIONS) + 1 and second.asked == 0
    assert "us-east-1" in found[("ec2", "aws", False)]


def test_a_file_of_another_botocore_or_a_broken_one_is_not_believed(tmp_path: Path) -> None:
    # given: a file written for another botocore (made-up answers), and one cut short
    path = tmp_path / "regions.json"
    key = botocore_key()
    assert key is not None
    other = {**key, "botocore": "0.0.1"}
    path.write_text(json.dumps({"key": other, "partitions": ["made-up"], "regions": {"aws ec2 regional": ["nowhere-1"]}}))
    # when / then: the index asks botocore instead
    assert "us-east-1" in RegionIndex(path, key).get_available_regions("ec2")
    path.write_text('{"key": ')
    index = RegionIndex(path, key)
    assert "made-up" not in index.get_available_partitions() and index.asked == 1
    assert json.loads(path.read_text())["key"] == key  # and rewrote the file for its own botocore


def test_two_labs_writing_at_once_leave_a_whole_file(tmp_path: Path) -> None:
    # given: two indexes on one cache file, as two labs starting at the same moment
    path, key = tmp_path / "regions.json", botocore_key()
    indexes = [RegionIndex(path, key), RegionIndex(path, key)]
    services = ["ec2", "ecs", "iam", "elbv2", "logs", "ecr"]

    def ask(index: RegionIndex) -> None:
        for service in services:
            index.get_available_regions(service)

    # when: both ask and write at once
    threads = [threading.Thread(target=ask, args=(index,)) for index in indexes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: the file is whole (one of them wrote it last), and no temporary file is left beside it
    data = json.loads(path.read_text())
    assert data["key"] == key and set(data["regions"]) == {f"aws {service} regional" for service in services}
    assert [file.name for file in tmp_path.iterdir()] == ["regions.json"]


def test_an_unwritable_cache_folder_only_costs_time(tmp_path: Path) -> None:
    # given: a cache "folder" that is a file
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    index = RegionIndex(blocker / "regions.json", botocore_key())
    # when / then: the answers come from botocore, and no error
    assert "us-east-1" in index.get_available_regions("ecs") and index.path is None


def test_the_cache_lives_in_the_users_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "ecslab"
    index = RegionIndex.for_this_machine()
    key = botocore_key()
    assert key is not None and index.path == tmp_path / "ecslab" / f"regions-{key['botocore']}.json"
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))  # the user's own botocore data: no cache
    assert RegionIndex.for_this_machine().path is None


def test_moto_reads_the_same_service_models_through_the_shared_loader(tmp_path: Path) -> None:
    # given: the lab's loader on an empty cache file, and a new moto loader as moto made before
    from moto.core.loaders import create_loader

    path, key = tmp_path / "regions.json", botocore_key()
    first = RegionIndex(path, key)
    # when: moto's service models are loaded through the lab's loader, then through the next lab's
    for service in ("ecs", "elbv2", "iam"):
        assert first.loader().load_service_model(service, "service-2") == create_loader().load_service_model(service, "service-2")
    assert first.loader() is first.loader()
    second = RegionIndex(path, key)
    model = second.loader().load_service_model("ecs", "service-2")
    # then: the same models; botocore's services were listed once, and the next lab read them from the file
    assert model["metadata"]["endpointPrefix"] == "ecs"
    assert first.asked == 1 and second.asked == 0
    assert "ecs" in json.loads(path.read_text())["services"]


def test_a_service_the_kept_list_lacks_is_looked_for_afresh(tmp_path: Path) -> None:
    # given: a kept list of services missing ECS (a model added since it was written)
    path, key = tmp_path / "regions.json", botocore_key()
    path.write_text(json.dumps({"key": key, "partitions": None, "regions": {}, "services": ["iam"]}))
    # when / then: ECS's model still loads
    assert RegionIndex(path, key).loader().load_service_model("ecs", "service-2")["metadata"]["endpointPrefix"] == "ecs"


def test_what_else_moto_asks_of_its_session_a_real_session_answers(tmp_path: Path) -> None:
    index = RegionIndex(tmp_path / "regions.json", botocore_key())
    assert "ecs" in index.get_available_services() and index.region_name == boto3.Session().region_name
