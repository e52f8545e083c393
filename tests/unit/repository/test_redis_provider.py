"""Where the real layers' Redis comes from: TEST_REDIS_URL, else a Docker engine's container, else redis-server."""

import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.support import redis_provider
from tests.support.redis_provider import (
    RedisServerProcess,
    choose_provider,
    docker_engine_answers,
    provide_redis,
    unexpected_provider,
)


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


class FakeDockerContainer:
    """What testcontainers reads of a started container: its id, status and logs."""

    id = "f00dfeed"
    short_id = "f00dfeed"
    status = "running"

    def __init__(self, log: bytes) -> None:
        self.log = log
        self.removed = False

    def logs(self, stdout: bool = True, stderr: bool = True) -> bytes:
        return self.log if stdout else b""

    def reload(self) -> None:
        """The fake's state is always current."""

    def remove(self, force: bool = False, v: bool = False) -> None:
        self.removed = True


class FakeDockerClient:
    """A Docker client with an engine that starts any image at once, its port 6379 published on 127.0.0.1:16379."""

    containers: ClassVar[list[FakeDockerContainer]] = []
    log = b"1:M * Ready to accept connections tcp\n"

    def __init__(self, **kwargs: Any) -> None:
        self.client = self
        self.closed = False

    def create(self, image: str, **kwargs: Any) -> FakeDockerContainer:
        assert image.endswith(redis_provider.REDIS_IMAGE)
        assert "6379" in kwargs["ports"]
        container = FakeDockerContainer(self.log)
        self.containers.append(container)
        return container

    def start(self, container: FakeDockerContainer) -> None:
        """Started by create already."""

    def get_connection_mode(self) -> Any:
        from testcontainers.core.config import ConnectionMode

        return ConnectionMode.docker_host

    def host(self) -> str:
        return "127.0.0.1"

    def port(self, container_id: str, port: int) -> str:
        assert (container_id, port) == (FakeDockerContainer.id, 6379)
        return "16379"

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_docker_engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """testcontainers talks to ``FakeDockerClient`` (no Ryuk reaper); yields the URLs the provider checked."""
    from testcontainers.core import container
    from testcontainers.core.config import testcontainers_config

    FakeDockerClient.containers = []
    monkeypatch.setattr(container, "DockerClient", FakeDockerClient)
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    checked: list[str] = []
    monkeypatch.setattr(redis_provider, "wait_until_answers", checked.append)
    return checked


def test_the_testcontainers_provider_waits_for_redis_readiness_log_with_warnings_as_errors(
    fake_docker_engine: list[str],
) -> None:
    """Warnings are errors here (pyproject's filterwarnings): a deprecated testcontainers call would fail this."""
    with provide_redis("testcontainers") as service:
        assert service == redis_provider.ProvidedRedis("redis://127.0.0.1:16379", "testcontainers")
        assert fake_docker_engine == ["redis://127.0.0.1:16379"]
    assert [container.removed for container in FakeDockerClient.containers] == [True]


def test_a_container_that_never_logs_readiness_fails_the_provider_in_its_timeout(
    fake_docker_engine: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeDockerClient, "log", b"1:C * oO0OoO0OoO0Oo Redis is starting\n")
    monkeypatch.setattr(redis_provider, "READY_TIMEOUT", 1)

    with pytest.raises(TimeoutError, match="Ready to accept connections"), provide_redis("testcontainers"):
        pass
    assert fake_docker_engine == []
    assert [container.removed for container in FakeDockerClient.containers] == [True]


@pytest.mark.parametrize(
    ("chosen", "expected", "problem"),
    [
        ("testcontainers", "testcontainers", None),
        ("redis-server", None, None),
        (
            "redis-server",
            "testcontainers",
            "EXPECT_REDIS_PROVIDER is 'testcontainers' but the Redis provider here is 'redis-server'",
        ),
    ],
    ids=["as expected", "nothing expected", "another provider"],
)
def test_a_run_that_expects_a_provider_stops_when_another_would_serve(
    chosen: str, expected: str | None, problem: str | None
) -> None:
    assert unexpected_provider(chosen, expected) == problem
