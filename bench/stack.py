"""A private stack for one configuration: Redis, one worker, one uvicorn server; and /proc readings."""

import logging
import math
import os
import re
import resource
import shutil
import signal
import socket
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import redis

from src.start_dev import SERVER_OPTIONS
from tests.support.processes import READY_TIMEOUT, AppWorkerProcess, ServerProcess, WorkerProcess
from tests.support.redis_provider import RedisServerProcess

logger = logging.getLogger(__name__)

#: Every configuration runs zero-work jobs: the benchmark measures the machinery, not the simulated work.
COMMON_SETTINGS = {"job_time_scale": "0"}

#: uvicorn's flags for every server the benchmark starts, ours and the peer's alike: permessage-deflate declined
#: (``SERVER_OPTIONS``, as every server of ours runs; the clients offer it, as browsers do) and uvicorn logging
#: warnings only (the peer's ``run_bench.sh`` runs it so; at ``info`` uvicorn writes three lines per socket).
SERVER_FLAGS = (*SERVER_OPTIONS, "--log-level", "warning")

#: The settings (as environment, lower-case names) of each configuration the benchmark knows.
CONFIGS: dict[str, dict[str, str]] = {
    # The app as it ships: its own defaults.
    "tuned": {},
    # The same, its worker started by the tutorial's command, ``arq src.tasks.WorkerSettings``: ARQ's own ``Worker``
    # on the fast path's pool, on asyncio's loop.
    "arq-cli": {},
    # The reference path alone (FAST_PATH=false): ARQ's and redis-py's own code, with the app's other defaults.
    "stock": {"fast_path": "false"},
    # The tutorial's configuration: a new Redis pool per enqueue (bench/tutorial_app.py), ARQ's 0.5 s poll, 10
    # concurrent jobs, no fast path.
    "seed": {
        "worker_poll_delay": "0.5",
        "worker_max_jobs": "10",
        "fast_path": "false",
    },
}

#: The app each configuration's server runs (``uvicorn <app>``): the project's, but for the tutorial's enqueue.
SERVER_APPS = {"seed": "bench.tutorial_app:app"}

#: Configurations whose worker runs as ``python -m src.worker`` (on uvloop) rather than the ``arq`` command.
UVLOOP_WORKER = {"tuned", "stock"}

_PROBLEM_LINE = re.compile(r"Traceback|\bERROR\b|\[error|\bCRITICAL\b|\[critical|\bWARNING\b|\[warning")
_SAMPLE_LINES = 5
#: Seconds a worker or server gets to exit on SIGTERM before SIGKILL; after Ctrl+C, less.
STOP_TIMEOUT = 15.0
INTERRUPTED_STOP_TIMEOUT = 3.0
#: Seconds between two looks at whether a restarted server has exited, and at whether the new one answers (the
#: times are known to this much).
EXIT_POLL = 0.005
READY_POLL = 0.01


class StackProcess(Protocol):
    """A worker or server process of a stack: started, waited for until ready, stopped; its output in a log file."""

    name: str
    log_path: Path

    @property
    def pid(self) -> int: ...

    def start(self) -> None: ...

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...

    def is_running(self) -> bool: ...


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        logger.info("raised the open-files limit from %d to %d", soft, hard)
    return hard


def rss_kb(pid: int) -> int:
    """The resident set size of ``pid`` in KB (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def answers_get(port: int) -> bool:
    """Whether the server on ``port`` answers ``GET /`` with 200: one plain socket, not an HTTP client (httpx spends
    ~30 ms of CPU a call here, making a client each time: beside the storm's client, every 20 ms, too much)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def process_state(pid: int) -> str:
    """The state letter of ``pid`` (``Z`` once it has exited and is not yet reaped); ``""`` once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2 :].split()[0]


@dataclass(frozen=True)
class Restart:
    """A server restart, as ``time.perf_counter()`` readings: the SIGTERM, the old server's exit, the new one's start
    (right after) and the moment it answered ``GET /``."""

    sigterm_at: float
    exited_at: float
    started_at: float
    ready_at: float
    exit_code: int
    #: CPU seconds the old server used from its SIGTERM to its exit.
    shutdown_cpu: float = math.nan


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) ``pid`` has used so far, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass
class LogSummary:
    """What a process logged that may explain a figure: tracebacks, errors and warnings, with samples."""

    path: str
    lines: int = 0
    tracebacks: int = 0
    errors: int = 0
    warnings: int = 0
    samples: list[str] = field(default_factory=list)


def summarise_log(text: str, path: Path) -> LogSummary:
    """Count the lines of ``text`` that are tracebacks, errors or warnings, keeping a few distinct ones."""
    summary = LogSummary(path=str(path))
    for line in text.splitlines():
        summary.lines += 1
        if not _PROBLEM_LINE.search(line):
            continue
        if "Traceback" in line:
            summary.tracebacks += 1
        elif re.search(r"\bERROR\b|\[error|\bCRITICAL\b|\[critical", line):
            summary.errors += 1
        else:
            summary.warnings += 1
        sample = line.strip()[:300]
        if len(summary.samples) < _SAMPLE_LINES and sample not in summary.samples:
            summary.samples.append(sample)
    return summary


class Stack:
    """Redis, a worker and a server for one configuration; ``with Stack(...)`` starts them and stops them all.

    On exit the worker's, server's and Redis's logs are copied to ``log_dir`` and summarised in ``logs``.
    Subclasses (the peer's stack) start other processes on the same private Redis: ``_processes``.
    """

    def __init__(self, config: str, settings: dict[str, str], log_dir: Path) -> None:
        self.config = config
        self.settings = {**COMMON_SETTINGS, **settings}
        self.log_dir = log_dir
        self.logs: dict[str, LogSummary] = {}
        self._exit = ExitStack()
        self._redis: RedisServerProcess | None = None
        self._worker: StackProcess | None = None
        self._server: StackProcess | None = None
        self._ws_url: str | None = None
        self._stop_timeout = STOP_TIMEOUT
        #: CPU seconds used by servers that have been restarted away (``restart_server``); the lock keeps a reading
        #: of ``cpu_seconds`` from counting a server twice (or not at all) while it is retired.
        self._retired_server_cpu = 0.0
        #: Servers restarted away; their logs are collected with the others' (``server-before-restart``).
        self._retired_servers: list[StackProcess] = []
        self._server_lock = threading.Lock()

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException as exc:
            self._stop(interrupted=isinstance(exc, KeyboardInterrupt))
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop(interrupted=isinstance(exc, KeyboardInterrupt))

    def _start(self) -> None:
        redis_server = RedisServerProcess()
        self._redis = redis_server
        self._exit.callback(redis_server.close)
        self._exit.callback(self._collect_redis_log)
        redis_server.start()
        self._worker, self._server, self._ws_url = self._processes(redis_server.url)
        self._exit.callback(self._collect_logs)
        logger.info(
            "[%s] starting a worker and a server on Redis %s; settings %s", self.config, redis_server.url, self.settings
        )
        for process in (self._worker, self._server):
            process.start()
            self._exit.callback(self._stop_process, process)
        for process in (self._worker, self._server):
            process.wait_ready()
        logger.info(
            "[%s] ready: server pid %d on %s, worker pid %d", self.config, self.server_pid, self.ws_url, self.worker_pid
        )

    def _processes(self, redis_url: str) -> tuple[StackProcess, StackProcess, str]:
        """The worker and the server (not started yet) on ``redis_url``, and the server's socket URL."""
        env: dict[str, Any] = dict(self.settings)
        worker_class = AppWorkerProcess if self.config in UVLOOP_WORKER else WorkerProcess
        server = ServerProcess(redis_url, app=SERVER_APPS.get(self.config, "src.main:app"), options=SERVER_FLAGS, **env)
        return worker_class(redis_url, **env), server, server.ws_url

    def restart_server(self) -> Restart:
        """SIGTERM the server, wait for it to exit, start a new one on the same port; return once it answers.

        Blocking (run it in a thread beside the client's loop). The old server's log is collected at the end, as
        ``server-before-restart``; its CPU seconds stay counted in ``cpu_seconds``.
        """
        old = self._server
        if not isinstance(old, ServerProcess):
            raise NotImplementedError(f"the {self.config} stack cannot restart its server")
        pid = old.pid
        cpu_at_sigterm = cpu_seconds(pid)
        sigterm_at = time.perf_counter()
        old.signal(signal.SIGTERM)
        deadline = sigterm_at + STOP_TIMEOUT
        # Exited but not reaped: its CPU time can still be read.
        while process_state(pid) not in ("Z", "") and time.perf_counter() < deadline:
            time.sleep(EXIT_POLL)
        exited_at = time.perf_counter()
        shutdown_cpu = math.nan
        if process_state(pid) != "Z":
            logger.error("[%s] the server did not exit within %.0f s of SIGTERM: killed", self.config, STOP_TIMEOUT)
            old.kill()
        with self._server_lock:
            try:
                used = cpu_seconds(pid)  # of the zombie
            except OSError:
                used = math.nan
            else:
                shutdown_cpu = used - cpu_at_sigterm
                self._retired_server_cpu += used
            self._server = None
        exit_code = old.wait_exit(timeout=STOP_TIMEOUT)
        self._retired_servers.append(old)
        new = ServerProcess(
            old.redis_url,
            port=old.port,
            app=SERVER_APPS.get(self.config, "src.main:app"),
            options=old.options,
            **old.settings,
        )
        started_at = time.perf_counter()
        new.start()
        with self._server_lock:
            self._server = new
        self._exit.callback(self._stop_process, new)
        while not answers_get(new.port):
            if not new.is_running():
                raise RuntimeError(f"the restarted server exited during start-up:\n{new.log()[-2000:]}")
            if time.perf_counter() - started_at > READY_TIMEOUT:
                raise TimeoutError(f"the restarted server did not answer within {READY_TIMEOUT:.0f} s")
            time.sleep(READY_POLL)
        ready_at = time.perf_counter()
        logger.info(
            "[%s] server restarted: exited %.2f s after SIGTERM (code %d), the new one (pid %d) answered %.2f s later",
            self.config,
            exited_at - sigterm_at,
            exit_code,
            new.pid,
            ready_at - started_at,
        )
        return Restart(sigterm_at, exited_at, started_at, ready_at, exit_code, shutdown_cpu)

    def _stop_process(self, process: StackProcess) -> None:
        process.stop(timeout=self._stop_timeout)

    def _stop(self, interrupted: bool = False) -> None:
        # After Ctrl+C the terminal has signalled every child too (Redis is gone): no long grace then.
        self._stop_timeout = INTERRUPTED_STOP_TIMEOUT if interrupted else STOP_TIMEOUT
        self._exit.close()
        logger.info("[%s] stack stopped", self.config)

    def _collect_logs(self) -> None:
        for process in (self._worker, self._server):
            if process is not None:
                self._collect(process.name, process)
        for number, retired in enumerate(self._retired_servers, start=1):
            self._collect("server-before-restart" + (f"-{number}" if number > 1 else ""), retired)

    def _collect_redis_log(self) -> None:
        if self._redis is not None and self._redis.log_path.exists():
            self._copy_log("redis", self._redis.log_path)

    def _collect(self, name: str, process: StackProcess) -> None:
        if process.log_path.exists():
            self._copy_log(name, process.log_path)
        # The process's own temporary folder (made for its log): the copy in log_dir is the one kept.
        shutil.rmtree(process.log_path.parent, ignore_errors=True)

    def _copy_log(self, name: str, source: Path) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        target = self.log_dir / f"{self.config}-{name}.log"
        shutil.copyfile(source, target)
        self.logs[name] = summarise_log(target.read_text(errors="replace"), target)

    @property
    def ws_url(self) -> str:
        """The server's background-jobs socket URL."""
        assert self._ws_url is not None
        return self._ws_url

    @property
    def redis_url(self) -> str:
        """The stack's private Redis."""
        if self._redis is None:
            raise RuntimeError("the stack has not been started")
        return self._redis.url

    @property
    def server_pid(self) -> int:
        """The uvicorn process's pid."""
        assert self._server is not None
        return self._server.pid

    @property
    def worker_pid(self) -> int:
        """The worker process's pid."""
        assert self._worker is not None
        return self._worker.pid

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by this process (the client), the server and the worker (0 once exited)."""

        def used(process: StackProcess | None) -> float:
            # Read from /proc, not through ``is_running`` (whose poll would reap a server being restarted).
            if process is None:
                return 0.0
            try:
                return cpu_seconds(process.pid)
            except OSError:  # exited and reaped
                return 0.0

        with self._server_lock:
            server = used(self._server) + self._retired_server_cpu
        return {"client": time.process_time(), "server": server, "worker": used(self._worker)}

    def alive(self) -> dict[str, bool]:
        """Whether the worker and the server are still running."""
        return {
            "worker": self._worker is not None and self._worker.is_running(),
            "server": self._server is not None and self._server.is_running(),
        }

    def redis_version(self) -> str:
        """The private Redis's version, as it reports it."""
        assert self._redis is not None
        client = redis.Redis.from_url(self._redis.url, socket_timeout=2)
        try:
            info = client.info("server")
            assert isinstance(info, dict)
            return str(info["redis_version"])
        finally:
            client.close()
