"""E2E fixtures: two stacks (uvicorn + ``python -m src.worker`` on a private Redis), each on its own DB and queue.

``real_time_stack`` runs the seed's durations (``JOB_TIME_SCALE=1``); ``scaled_stack`` runs them 20x
faster. A stack starts on first use, is shared by the session, and is stopped at its end, pass or fail.
A failing test's report carries the logs its stacks wrote since its module began.
"""

import shutil
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
import redis

from src.settings import Settings
from tests.support.browser import chromium_or_skip
from tests.support.processes import AppWorkerProcess, ManagedProcess, ServerProcess, WorkerProcess
from tests.support.redis_provider import ProvidedRedis

#: Seconds a log may take to show a line the test waits for.
LOG_TIMEOUT = 5.0


@dataclass(frozen=True)
class Stack:
    """One server and one worker (the production command, ``python -m src.worker``) sharing a Redis DB, a queue
    and a ``JOB_TIME_SCALE``."""

    name: str
    time_scale: float
    server: ServerProcess
    worker: WorkerProcess
    #: How late a worker may pick a job up: nothing on the fast path (an enqueue wakes it), ARQ's poll delay off it.
    pickup_delay: float

    @property
    def ws_url(self) -> str:
        """The background-jobs socket's URL."""
        return self.server.ws_url

    @property
    def http_url(self) -> str:
        """The server's base URL."""
        return self.server.http_url

    @property
    def processes(self) -> tuple[ManagedProcess, ...]:
        """The stack's processes: server, then worker."""
        return (self.server, self.worker)


#: The stacks running now, by fixture name (read by the report hook).
RUNNING: dict[str, Stack] = {}
#: Log sizes of every running process when each test module began, by module path.
MODULE_LOG_MARKS: dict[Path, dict[Path, int]] = {}


def with_db(url: str, db: int) -> str:
    """``url`` with its Redis database number set to ``db``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


@contextmanager
def running_stack(
    name: str,
    redis_url: str,
    db: int,
    time_scale: float,
    worker_class: type[WorkerProcess] = AppWorkerProcess,
    **extra: str,
) -> Iterator[Stack]:
    """Start a worker (``python -m src.worker`` unless ``worker_class`` says otherwise) and a server on DB ``db``
    (flushed first), wait until both serve, stop both after; ``extra`` settings go to both."""
    url = with_db(redis_url, db)
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    settings = {
        "job_time_scale": str(time_scale),
        "queue_name": f"e2e:{name}:queue",
        "channel_layer_prefix": f"e2e-{name}",
        "worker_log_jobs": "true",  # some tests wait for ARQ's line saying a job completed
        **extra,
    }
    worker = worker_class(url, **settings)  # by default what `make run` starts; it logs as the `arq` command does
    environment = Settings()  # FAST_PATH and WORKER_POLL_DELAY as this run sets them (tox -e e2e-stock: off)
    pickup_delay = 0.0 if environment.fast_path else environment.worker_poll_delay
    stack = Stack(name, time_scale, ServerProcess(url, port=None, **settings), worker, pickup_delay)
    try:
        for process in stack.processes:  # both start together; each is waited for below
            process.start()
        stack.worker.wait_ready()
        stack.server.wait_ready()
        yield stack
    finally:
        for process in stack.processes:
            process.stop()
            shutil.rmtree(process.log_path.parent, ignore_errors=True)  # failing tests' reports have the logs


@pytest.fixture(scope="session")
def real_time_stack(redis_service: ProvidedRedis) -> Iterator[Stack]:
    """A stack at the seed's durations: default 1 s, translate 2 s, analyze 3 s, generate 4 s."""
    with running_stack("real-time", redis_service.url, db=1, time_scale=1.0) as stack:
        RUNNING["real_time_stack"] = stack
        try:
            yield stack
        finally:
            del RUNNING["real_time_stack"]


@pytest.fixture(scope="session")
def scaled_stack(redis_service: ProvidedRedis) -> Iterator[Stack]:
    """A stack at ``JOB_TIME_SCALE=0.05``: translate takes 100 ms instead of 2 s."""
    with running_stack("scaled", redis_service.url, db=2, time_scale=0.05) as stack:
        RUNNING["scaled_stack"] = stack
        try:
            yield stack
        finally:
            del RUNNING["scaled_stack"]


#: The authenticated stack's HS256 secret (32 bytes or more: PyJWT warns on a shorter HMAC key).
AUTH_SECRET = "e2e-secret-of-the-authenticated-stack-0123456789"


@pytest.fixture(scope="session")
def authenticated_stack(redis_service: ProvidedRedis) -> Iterator[Stack]:
    """A scaled stack whose sockets need a JWT signed with ``AUTH_SECRET`` (``AUTH_JWT_SECRET``)."""
    with running_stack("authenticated", redis_service.url, db=3, time_scale=0.05, auth_jwt_secret=AUTH_SECRET) as stack:
        RUNNING["authenticated_stack"] = stack
        try:
            yield stack
        finally:
            del RUNNING["authenticated_stack"]


@pytest.fixture
def chromium() -> str:
    """Chromium's executable for the browser tests (skipped without one; a failure under CI=true)."""
    return chromium_or_skip()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the test's sockets and requests."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def pytest_runtest_setup(item: pytest.Item) -> None:
    """When a module begins, mark where each running process's log stands (a later stack logs from 0)."""
    if item.path not in MODULE_LOG_MARKS:
        MODULE_LOG_MARKS[item.path] = {
            process.log_path: process.log_size() for stack in RUNNING.values() for process in stack.processes
        }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the logs of the stacks a failing test used, from where its module began."""
    report = yield
    if report.failed:
        marks = MODULE_LOG_MARKS.get(item.path, {})
        used = getattr(item, "fixturenames", ())
        for fixture_name, stack in RUNNING.items():
            if fixture_name not in used:
                continue
            for process in stack.processes:
                logged = process.log_since(marks.get(process.log_path, 0))
                report.sections.append((f"{stack.name} {process.name} log (since this module began)", logged))
    return report
