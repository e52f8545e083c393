#!/usr/bin/env python3
"""Run the ARQ worker and the uvicorn server together, supervised; Ctrl+C stops both.

Usage: ``python src/start_dev.py`` or ``python -m src.start_dev`` (from the project root).
"""

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import cast

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import redis  # noqa: E402

from src.settings import Settings, get_settings  # noqa: E402

logger = logging.getLogger("src.start_dev")

#: What ARQ appends to the queue name for the key its worker's heartbeat writes.
HEALTH_CHECK_SUFFIX = ":health-check"
#: Hosts a server binds to but a client cannot connect to, and where to connect instead.
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

Process = subprocess.Popen[bytes]


def base_url(host: str, port: int) -> str:
    """``http://host:port`` for a host to connect to (IPv6 literals in brackets)."""
    host = WILDCARD_HOSTS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def worker_command() -> list[str]:
    """The ARQ worker, as a child process: ``python -m src.worker`` (``arq src.tasks.WorkerSettings`` on uvloop)."""
    return [sys.executable, "-m", "src.worker"]


#: uvicorn's options every server of ours runs with: no permessage-deflate (job frames are small JSON, and a
#: socket that compresses holds a compressor and a decompressor: about 40 KB more per socket).
SERVER_OPTIONS = ["--ws-per-message-deflate", "false"]


def server_command(settings: Settings) -> list[str]:
    """The uvicorn server on the configured host and port, with ``WS_MAX_SIZE`` as its frame limit and without
    compression, without reload."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "src.main:app",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--ws-max-size",
        str(settings.ws_max_size),
        *SERVER_OPTIONS,
    ]


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    give_up: Callable[[], bool] = lambda: False,
) -> bool:
    """Poll ``ready`` every ``interval`` s until it holds (True), ``give_up`` holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return True
        if give_up() or time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # The poll interval, not a wait for something to have happened.


def server_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a GET of ``url`` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (binding as uvicorn would fails)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError:
        return True
    return False


def health_check_pttl(client: redis.Redis, key: str) -> int:
    """Milliseconds the worker's health-check key has left (-2: absent; -3: Redis does not answer)."""
    try:
        return cast(int, client.pttl(key))
    except redis.RedisError:
        return -3


class Supervisor:
    """Owns the worker and server processes: starts them, waits for them, restarts the worker, stops both."""

    def __init__(
        self,
        settings: Settings,
        *,
        cwd: Path = PROJECT_ROOT,
        worker_cmd: Sequence[str] | None = None,
        server_cmd: Sequence[str] | None = None,
        backoff: float = 1.0,
        max_backoff: float = 10.0,
        stable_after: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """Configure; nothing starts until ``start``."""
        self.settings = settings
        self.cwd = cwd
        self.worker_cmd = list(worker_cmd or worker_command())
        self.server_cmd = list(server_cmd or server_command(settings))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.url = base_url(settings.host, settings.port)
        self.health_key = settings.queue_name + HEALTH_CHECK_SUFFIX
        self.redis: redis.Redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self.worker: Process | None = None
        self.server: Process | None = None
        self.restarts = 0
        self._worker_started_at = 0.0
        self._health_baseline = -2
        self._restart_at: float | None = None
        self._failures = 0
        self._awaiting_health = False

    def _spawn(self, command: list[str]) -> Process:
        """Start one child in its own process group, so a terminal's Ctrl+C reaches only us."""
        return subprocess.Popen(command, cwd=self.cwd, env=None, process_group=0)

    def start_worker(self) -> None:
        """Start the worker, remembering the health key's TTL so a stale key is not taken for it."""
        self._health_baseline = health_check_pttl(self.redis, self.health_key)
        self.worker = self._spawn(self.worker_cmd)
        self._worker_started_at = time.monotonic()
        self._awaiting_health = True
        logger.info("Started ARQ worker (pid %d)", self.worker.pid)

    def start(self) -> None:
        """Start the worker and the server."""
        self.start_worker()
        self.server = self._spawn(self.server_cmd)
        logger.info("Started uvicorn server (pid %d) on %s", self.server.pid, self.url)

    def worker_ready(self) -> bool:
        """Whether the worker has written its health-check key since it started (its TTL went up)."""
        return health_check_pttl(self.redis, self.health_key) > self._health_baseline

    def server_ready(self) -> bool:
        """Whether our server is alive and answers 200 on ``/healthz``."""
        return not self.exited(self.server) and server_answers(self.url + "/healthz")

    def app_ready(self) -> bool:
        """Whether our server says it is ready (``/readyz``: Redis answers, a worker has checked in)."""
        return not self.exited(self.server) and server_answers(self.url + "/readyz")

    def wait_ready(self, timeout: float = 30.0, stop: threading.Event | None = None) -> bool:
        """Wait until the server answers, the worker has checked in and ``/readyz`` says so, all within
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout

        def give_up() -> bool:
            """A child died, or we are being stopped."""
            return self.exited(self.server) or self.exited(self.worker) or bool(stop and stop.is_set())

        checks = {"uvicorn server": self.server_ready, "ARQ worker": self.worker_ready, "app": self.app_ready}
        for name, ready in checks.items():
            if not wait_until(ready, timeout=max(deadline - time.monotonic(), 0.0), give_up=give_up):
                if stop and stop.is_set():
                    return False
                for child, process in (("uvicorn server", self.server), ("ARQ worker", self.worker)):
                    if process is not None and process.poll() is not None:
                        logger.error("The %s exited (exit code %s) before it was ready", child, process.returncode)
                        return False
                logger.error("The %s did not become ready within %gs", name, timeout)
                return False
        self._awaiting_health = False
        return True

    @staticmethod
    def exited(process: Process | None) -> bool:
        """Whether ``process`` was started and has exited."""
        return process is not None and process.poll() is not None

    def banner(self) -> str:
        """What to tell the developer once both services are up."""
        worker_pid = self.worker.pid if self.worker else "?"
        return "\n".join(
            [
                "Development environment is up:",
                f"  App:                  {self.url}",
                f"  Background Jobs page: {self.url}/",
                f"  AsyncAPI docs:        {self.url}/asyncapi",
                f"  ARQ worker:           running (pid {worker_pid}, queue {self.settings.queue_name})",
                "Press Ctrl+C to stop both services",
            ]
        )

    def check(self) -> bool:
        """One supervision step: restart a dead worker (with backoff); False once the server has exited."""
        if self.server is not None and self.server.poll() is not None:
            logger.error("The uvicorn server exited unexpectedly (exit code %s)", self.server.returncode)
            return False
        now = time.monotonic()
        if self.worker is not None and self.worker.poll() is not None and self._restart_at is None:
            ran_for = now - self._worker_started_at
            self._failures = 1 if ran_for >= self.stable_after else self._failures + 1
            delay = min(self.backoff * 2 ** (self._failures - 1), self.max_backoff)
            logger.warning(
                "The ARQ worker exited unexpectedly (exit code %s); restarting it in %gs",
                self.worker.returncode,
                delay,
            )
            self._restart_at = now + delay
        if self._restart_at is not None and now >= self._restart_at:
            self._restart_at = None
            self.restarts += 1
            self.start_worker()
        if self._awaiting_health and self.restarts and self.worker_ready():
            self._awaiting_health = False
            logger.info("The ARQ worker is running again (pid %d)", self.worker.pid if self.worker else -1)
        return True

    def _terminate(self, process: Process | None, name: str) -> None:
        """SIGTERM ``process``, wait up to ``stop_timeout`` seconds, then SIGKILL it."""
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            logger.warning("The %s did not stop within %gs; killing it", name, self.stop_timeout)
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server, then the worker, and close our Redis connection."""
        self._restart_at = None
        self._terminate(self.server, "uvicorn server")
        self._terminate(self.worker, "ARQ worker")
        self.redis.close()

    def run(self, stop: threading.Event, poll_interval: float = 0.2, ready_timeout: float = 30.0) -> int:
        """Start, wait, log the banner, supervise until ``stop`` is set; the process exit code."""
        if port_in_use(self.settings.host, self.settings.port):
            port, host = self.settings.port, self.settings.host
            logger.error("Port %d on %s is already in use: stop what uses it or set PORT", port, host)
            return 1
        self.start()
        try:
            if not self.wait_ready(ready_timeout, stop):
                return 0 if stop.is_set() else 1
            logger.info(self.banner())
            while not stop.wait(poll_interval):
                if not self.check():
                    return 1
            logger.info("Stopping both services")
            return 0
        finally:
            self.stop()
            logger.info("Shutdown complete")


def install_signal_handlers(stop: threading.Event) -> None:
    """Make SIGINT and SIGTERM set ``stop``."""

    def handle(signum: int, frame: FrameType | None) -> None:
        """Ask the supervisor to stop (it logs; a signal handler should not)."""
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def main() -> int:
    """Run the worker and the server until Ctrl+C (exit 0) or until the server dies (exit 1)."""
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    install_signal_handlers(stop)
    return Supervisor(settings).run(stop)


if __name__ == "__main__":
    raise SystemExit(main())
