"""No Docker engine: the error says what to do on this kind of machine."""

from __future__ import annotations

import pytest

from ecslab import engine


def test_a_missing_engine_gives_an_error_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(engine.EngineError) as raised:
        engine.docker_client(timeout=2)
    message = str(raised.value)
    assert message.startswith("No Docker engine answers")
    assert engine.how_to_get_an_engine() in message
    status = engine.engine_status()
    assert status.ok is False and status.fix == engine.how_to_get_an_engine()


def test_the_fix_fits_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engine, "_dockerd_running", lambda: False)
    monkeypatch.setattr(engine.shutil, "which", lambda _name: None)
    monkeypatch.setattr(engine, "_is_debian_like", lambda: False)
    assert "Docker Desktop" in engine.how_to_get_an_engine()
    monkeypatch.setattr(engine, "_is_debian_like", lambda: True)
    monkeypatch.setattr(engine, "_is_root", lambda: False)
    assert "sudo apt-get install -y docker.io" in engine.how_to_get_an_engine()
    monkeypatch.setattr(engine, "_is_root", lambda: True)
    assert "ecslab up --install-docker" in engine.how_to_get_an_engine()
    monkeypatch.setattr(engine, "_dockerd_running", lambda: True)
    assert "dockerd is running but does not answer" in engine.how_to_get_an_engine()
    assert engine.can_start_dockerd() is False


def test_inside_the_course_image_the_fix_names_its_engine_script(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the course image says how its own engine restarts, and no dockerd runs
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("ECSLAB_ENGINE_RESTART", "ecslab-engine start")
    monkeypatch.setattr(engine, "_dockerd_running", lambda: False)
    # then
    assert engine.how_to_get_an_engine() == (
        "The Docker engine inside the course image stopped: run `ecslab-engine start` in a terminal (then `ecslab up`)."
    )
    # and a dockerd that runs but does not answer is another problem, told as before
    monkeypatch.setattr(engine, "_dockerd_running", lambda: True)
    assert "does not answer" in engine.how_to_get_an_engine()
