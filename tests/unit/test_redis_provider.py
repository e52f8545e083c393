"""Where the real layers' Redis comes from: TEST_REDIS_URL, else a Docker engine's container, else redis-server."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import redis_provider
from tests.support.redis_provider import RedisServerProcess, choose_provider, docker_engine_answers, provide_redis


def on_path(monkeypatch: pytest.MonkeyPatch, **binaries: str | None) -> None:
    """``shutil.which`` finds exactly ``binaries`` (name → path, or None for missing)."""
    monkeypatch.setattr(shutil, "which", lambda name: binaries.get(name))


def fake_docker(tmp_path: Path, script: str) -> str:
    """A ``docker`` executable that runs ``script`` (shell)."""
    docker = tmp_path / "docker"
    docker.write_text(f"#!/bin/sh\n{script}\n")
    docker.chmod(0o755)
    return str(docker)


def test_the_test_redis_url_variable_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_REDIS_URL", "redis://ci-redis:6379/0")

    assert choose_provider() == "TEST_REDIS_URL"


@pytest.mark.parametrize(
    ("docker_answers", "redis_server", "provider"),
    [
        (True, "/usr/bin/redis-server", "testcontainers"),
        (False, "/usr/bin/redis-server", "redis-server"),
        (False, None, "none"),
    ],
    ids=["a Docker engine", "redis-server", "neither"],
)
def test_then_a_docker_engine_then_redis_server_on_the_path(
    monkeypatch: pytest.MonkeyPatch, docker_answers: bool, redis_server: str | None, provider: str
) -> None:
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.setattr(redis_provider, "docker_engine_answers", lambda: docker_answers)
    on_path(monkeypatch, **{"redis-server": redis_server})

    assert choose_provider() == provider


@pytest.mark.parametrize(("script", "answers"), [("echo 27.0.1", True), ("exit 1", False)], ids=["answers", "fails"])
def test_a_docker_engine_answers_when_docker_info_succeeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str, answers: bool
) -> None:
    on_path(monkeypatch, docker=fake_docker(tmp_path, script))

    assert docker_engine_answers() is answers


def test_no_docker_client_or_one_that_hangs_means_no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(monkeypatch)
    assert docker_engine_answers() is False

    def hangs(*args: Any, **kwargs: Any) -> None:
        raise subprocess.TimeoutExpired("docker", 10)

    on_path(monkeypatch, docker="/usr/bin/docker")
    monkeypatch.setattr(subprocess, "run", hangs)
    assert docker_engine_answers() is False


def test_without_any_provider_asking_for_redis_fails_saying_how_to_get_one() -> None:
    with (
        pytest.raises(RuntimeError, match="set TEST_REDIS_URL, run a Docker engine, or install redis-server"),
        provide_redis("none"),
    ):
        pass


def test_a_private_redis_server_needs_the_binary_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(monkeypatch)
    server = RedisServerProcess()

    with pytest.raises(RuntimeError, match="redis-server is not on the PATH"):
        server.start()
    server.close()
