"""Integration fixtures: a real Redis per session (emptied per test), the app in-process, real workers."""

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
import redis
from arq import ArqRedis
from arq.typing import WorkerSettingsBase
from arq.worker import Worker, get_kwargs
from chanx.fast_channels.testing import WebsocketCommunicator
from fast_channels.layers import channel_layers
from fastapi import FastAPI

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.consumer_notifier import consumer_notifier
from src.job_queue import JobQueue
from src.layers import setup_layers, teardown_layers
from src.main import WS_PATH, create_app
from src.settings import Settings
from src.speedups import speedups
from src.tasks import build_worker_settings
from tests.support.processes import WORKER_COMMANDS, WorkerProcess
from tests.support.protocol import CONNECTED
from tests.support.redis_provider import ProvidedRedis


@pytest.fixture(scope="module", params=list(WORKER_COMMANDS.values()), ids=list(WORKER_COMMANDS))
def worker_class(request: pytest.FixtureRequest) -> type[WorkerProcess]:
    """Each worker command in turn: ``arq src.tasks.WorkerSettings`` (arq-cli), ``python -m src.worker`` (src.worker).

    Module-scoped, so a module's tests run against one command, then the other, and a module-scoped
    fixture that starts workers (a staged outage, say) is staged once per command.
    """
    worker: type[WorkerProcess] = request.param
    return worker


@pytest.fixture
def redis_url(redis_service: ProvidedRedis) -> str:
    """The session's Redis, emptied before the test."""
    client = redis.Redis.from_url(redis_service.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_service.url


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings for instant jobs against the real Redis."""
    return Settings(redis_url=redis_url, job_time_scale=0.0, worker_poll_delay=0.01)


@pytest_asyncio.fixture
async def jobs(settings: Settings) -> AsyncIterator[JobQueue]:
    """The app's job queue with its one pool open, and the app's channel layer registered (the lifespan)."""
    channel_layers.clear()
    setup_layers(settings)
    queue = JobQueue(settings, speedups=speedups(settings))
    await queue.open()
    yield queue
    await queue.close()
    await teardown_layers()


@pytest.fixture
def pool(jobs: JobQueue) -> ArqRedis:
    """The app's ARQ pool."""
    return jobs.pool


@pytest.fixture
def app(settings: Settings, jobs: JobQueue) -> FastAPI:
    """The app on the real Redis; its lifespan's work is done by ``jobs``."""
    return create_app(settings, jobs=jobs)


@pytest_asyncio.fixture
async def ws(app: FastAPI) -> AsyncIterator[WebsocketCommunicator]:
    """A socket on the in-process app, its connected frame already read."""
    communicator = WebsocketCommunicator(app, WS_PATH, consumer=BackgroundJobConsumer)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from(timeout=2) == CONNECTED
    yield communicator
    await communicator.disconnect()


async def in_process_startup(ctx: dict[str, Any]) -> None:
    """The worker's start-up in a process whose app already registered the channel layer."""
    ctx["notifier"] = consumer_notifier()


async def run_burst_worker(settings: Settings, worker_class: type[Worker] | None = None, **overrides: Any) -> Worker:
    """Run the worker ``settings`` call for (ARQ's own, or the fast path's) in this process until the queue is
    empty (arq's own tests' habit); ``worker_class`` overrides its class."""
    fast = speedups(settings)
    if worker_class is None:
        worker_class = Worker if fast is None else fast.worker_class
    worker = worker_class(
        **{
            **get_kwargs(cast(type[WorkerSettingsBase], build_worker_settings(settings, fast))),
            **overrides,
            "on_startup": in_process_startup,
            "on_shutdown": None,
            "burst": True,
            "poll_delay": 0,
            "handle_signals": False,
        }
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for sockets on real servers."""
    async with httpx.AsyncClient() as client:
        yield client
