"""Real processes for the integration and e2e layers: the worker (either command) and the ``uvicorn`` server."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from src.start_dev import SERVER_OPTIONS
from tests.support.redis_provider import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0
#: Set (by `tox -e mutation`) where only in-process tests may run: starting a process then fails the test.
NO_PROCESSES_ENV = "TESTS_START_NO_PROCESSES"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # polling another process: there is no event to wait on


def app_env(redis_url: str, **settings: str) -> dict[str, str]:
    """The environment for an app or worker process: ours, plus its settings (upper-cased names)."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PORT", "HOST"}}
    env["REDIS_URL"] = redis_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update({name.upper(): value for name, value in settings.items()})
    return env


class ManagedProcess:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.log_path = Path(tempfile.mkdtemp(prefix=f"{name}-")) / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (appending to its log)."""
        if os.environ.get(NO_PROCESSES_ENV):
            raise RuntimeError(f"{NO_PROCESSES_ENV} is set: a test that starts a {self.name} is marked `processes`")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        """The running child's pid."""
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def is_running(self) -> bool:
        """Whether the child is alive."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """Everything the process has written so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_size(self) -> int:
        """How many bytes the process has logged so far: a mark for ``log_since``."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, mark: int) -> str:
        """What the process has logged since ``mark`` (an earlier ``log_size()``)."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace")

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the child."""
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the child to exit and return its code."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the child, as a crash would."""
        if self.is_running():
            self.signal(signal.SIGKILL)
            self.wait_exit(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class WorkerProcess(ManagedProcess):
    """``arq src.tasks.WorkerSettings`` as a separate process."""

    entry: tuple[str, ...] = ("-m", "arq", "src.tasks.WorkerSettings")

    def __init__(self, redis_url: str, **settings: str) -> None:
        super().__init__("worker", [sys.executable, *self.entry], app_env(redis_url, **settings))
        self.redis_url = redis_url
        self.health_key = settings.get("queue_name", "arq:queue") + ":health-check"

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the worker has run its start-up (its log says so) and is polling."""
        wait_for(lambda: self._started() or not self.is_running(), timeout, "the worker to start")
        if not self.is_running():
            raise RuntimeError(f"worker exited during start-up:\n{self.log()}")

    def _started(self) -> bool:
        return "Starting worker for" in self.log() and self._health_check_written()

    def _health_check_written(self) -> bool:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.exists(self.health_key))
        except redis.RedisError:
            return False
        finally:
            client.close()


class AppWorkerProcess(WorkerProcess):
    """``python -m src.worker``: the same tasks on our batch-claiming worker, on uvloop (``make run``'s worker)."""

    entry = ("-m", "src.worker")


#: The two commands that run the worker, by the id a test parametrized over them shows.
WORKER_COMMANDS: dict[str, type[WorkerProcess]] = {"arq-cli": WorkerProcess, "src.worker": AppWorkerProcess}


class ServerProcess(ManagedProcess):
    """``uvicorn src.main:app`` (or another ``app``) on a free port, as a separate process."""

    def __init__(
        self,
        redis_url: str,
        *,
        port: int | None = None,
        app: str = "src.main:app",
        options: Sequence[str] = SERVER_OPTIONS,
        **settings: str,
    ) -> None:
        self.port = port or free_port()
        self.redis_url = redis_url
        #: uvicorn's options beside the address (``SERVER_OPTIONS``, as every server of ours runs).
        self.options = tuple(options)
        #: The settings it was started with (lower-case names): another server on them is ``ServerProcess(
        #: redis_url, port=None, **settings)``.
        self.settings = settings
        super().__init__(
            "server",
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *self.options,
            ],
            app_env(redis_url, **settings),
        )

    @property
    def http_url(self) -> str:
        """The server's base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The background-jobs socket's URL."""
        return f"ws://127.0.0.1:{self.port}/ws/background_jobs"

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until ``GET /`` answers 200."""
        wait_for(lambda: self._answers() or not self.is_running(), timeout, "the server to answer")
        if not self.is_running():
            raise RuntimeError(f"server exited during start-up:\n{self.log()}")

    def _answers(self) -> bool:
        try:
            return httpx.get(self.http_url + "/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


@contextmanager
def running(*processes: "WorkerProcess | ServerProcess") -> Iterator[None]:
    """Start every process, wait until each is ready, and stop them all afterwards, pass or fail."""
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield
    finally:
        for process in processes:
            process.stop()


async def wait_for_output(process: ManagedProcess, text: str, timeout: float, since: int = 0) -> str:
    """Wait (without blocking the loop) until ``process`` has written ``text`` after offset ``since``.

    Returns what it wrote since then.
    """
    async with asyncio.timeout(timeout):
        while text not in (written := process.log_since(since)):  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.02)  # polling another process's output
    return written
