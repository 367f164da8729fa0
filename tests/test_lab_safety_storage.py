"""Issue 11, item 7 (the lab process's share): logs are rotated and bounded, and registry storage
never outlives the AWS state that could pull it.

Tests that run a lab use a private one (``isolated_config``).
"""

from __future__ import annotations

import logging.handlers
from pathlib import Path

from ecslab.config import LabConfig
from ecslab.lab import manage
from ecslab.lab.server import RotatingStream

quiet = {"say": lambda _message: None}


def test_rotate_log_keeps_a_bounded_number_of_old_logs(tmp_path: Path) -> None:
    log = tmp_path / "lab.log"
    for round_ in range(5):
        log.write_text(str(round_) * 100)
        manage.rotate_log(log, limit=100, backups=2)
    assert not log.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.log.1", "lab.log.2"]
    assert (tmp_path / "lab.log.1").read_text().startswith("4") and (tmp_path / "lab.log.2").read_text().startswith("3")
    log.write_text("small")
    manage.rotate_log(log, limit=100, backups=2)
    assert log.read_text() == "small"


def test_what_the_lab_prints_is_rotated_like_its_log_records(tmp_path: Path) -> None:
    # given: the lab's stdout/stderr as the lab process sets them up, with a small limit
    handler = logging.handlers.RotatingFileHandler(tmp_path / "lab.log", maxBytes=1000, backupCount=2)
    stream = RotatingStream(handler)
    try:
        # when: a thread prints a traceback every tick for a long while
        for tick in range(500):
            stream.write(f"Traceback (most recent call last): tick {tick}\n")
    finally:
        handler.close()
    # then: three files at most, each about the limit
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["lab.log", "lab.log.1", "lab.log.2"]
    assert all(f.stat().st_size <= 1000 for f in files)
    assert "tick 499" in (tmp_path / "lab.log").read_text()


def test_up_rotates_a_big_lab_log(isolated_config: LabConfig) -> None:
    isolated_config.home.mkdir(parents=True)
    isolated_config.log_file.write_bytes(b"old line\n" * (manage.LOG_LIMIT_BYTES // 9 + 1))
    manage.up(isolated_config, **quiet)
    assert isolated_config.log_file.stat().st_size < manage.LOG_LIMIT_BYTES // 10
    assert isolated_config.log_file.with_name("lab.log.1").stat().st_size >= manage.LOG_LIMIT_BYTES


def test_registry_storage_of_an_earlier_lab_is_wiped_at_up_and_at_down(isolated_config: LabConfig) -> None:
    # given: blobs a lab killed with -9 left on disk (moto's ECR, in memory, forgot them)
    left = isolated_config.registry_dir / "docker" / "registry" / "v2" / "blobs" / "sha256" / "ab" / "abcd" / "data"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"x" * 1_000_000)
    # when
    manage.up(isolated_config, **quiet)
    # then
    assert not left.exists()
    status = manage.process_status(isolated_config)
    assert status is not None and status["registry"]["ok"]
    # and down takes what this lab stored with it
    (isolated_config.registry_dir / "pushed-during-the-lab").write_bytes(b"y")
    manage.down(isolated_config, **quiet)
    assert not isolated_config.registry_dir.exists()
