"""Redis for the real layers: TEST_REDIS_URL, else a testcontainer, else a private redis-server."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

REDIS_IMAGE = "redis:7-alpine"
READY_TIMEOUT = 15
#: What Redis logs once it accepts connections.
READY_LOG_LINE = "Ready to accept connections"


@dataclass(frozen=True)
class ProvidedRedis:
    """A Redis the tests may use (and flush), and which provider served it."""

    url: str
    provider: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answers(url: str, timeout: float = READY_TIMEOUT) -> None:
    """Block until Redis at ``url`` answers PING, or raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)  # polling a process that is starting: there is no event to wait on
    finally:
        client.close()


def docker_engine_answers() -> bool:
    """Whether a Docker engine answers (the client alone is not enough): ``docker info`` succeeds."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=10, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def choose_provider() -> str:
    """Which provider would serve: ``TEST_REDIS_URL``, ``testcontainers`` or ``redis-server``."""
    if os.environ.get("TEST_REDIS_URL"):
        return "TEST_REDIS_URL"
    if docker_engine_answers():
        return "testcontainers"
    if shutil.which("redis-server"):
        return "redis-server"
    return "none"


def unexpected_provider(chosen: str, expected: str | None) -> str | None:
    """Why the run must stop when ``EXPECT_REDIS_PROVIDER`` names another provider than the one chosen (else None)."""
    if not expected or expected == chosen:
        return None
    return f"EXPECT_REDIS_PROVIDER is {expected!r} but the Redis provider here is {chosen!r}"


class RedisServerProcess:
    """A private ``redis-server`` on a free port, nothing on disk; it can be stopped and started again."""

    def __init__(self, port: int | None = None, persistent: bool = False) -> None:
        self.port = port or free_port()
        self.persistent = persistent
        self.url = f"redis://127.0.0.1:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="redis-test-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """Where the server logs."""
        return Path(self._dir) / "redis.log"

    def start(self) -> None:
        """Start the server on its port and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on the PATH")
        # Persistent: an append-only file synced on every write, as a production Redis keeps a
        # queue across its own restarts. Otherwise nothing touches the disk.
        durability = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *durability,
                "--dir",
                self._dir,
                "--logfile",
                str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_answers(self.url)

    def stop(self) -> None:
        """Stop the server and wait until it has exited."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextmanager
def redis_server_process() -> Iterator[RedisServerProcess]:
    """A running private redis-server, stopped and removed afterwards."""
    server = RedisServerProcess()
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextmanager
def redis_container() -> Iterator[str]:
    """A Redis testcontainer (testcontainers' core with a generic container); yields its URL."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    # A structured wait strategy: testcontainers >= 4.13 deprecates ``wait_for_logs(container, "text")``, and
    # under ``filterwarnings = error`` that warning would fail every test that needs Redis.
    ready = LogMessageWaitStrategy(READY_LOG_LINE).with_startup_timeout(READY_TIMEOUT)
    container = DockerContainer(REDIS_IMAGE).with_exposed_ports(6379).waiting_for(ready)
    with container:
        url = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}"
        wait_until_answers(url)
        yield url


@contextmanager
def provide_redis(provider: str) -> Iterator[ProvidedRedis]:
    """A Redis from ``provider`` for the whole session."""
    if provider == "TEST_REDIS_URL":
        url = os.environ["TEST_REDIS_URL"]
        wait_until_answers(url)
        yield ProvidedRedis(url, provider)
    elif provider == "testcontainers":
        with redis_container() as url:
            yield ProvidedRedis(url, provider)
    elif provider == "redis-server":
        with redis_server_process() as server:
            yield ProvidedRedis(server.url, provider)
    else:
        raise RuntimeError("No Redis for the tests: set TEST_REDIS_URL, run a Docker engine, or install redis-server")
