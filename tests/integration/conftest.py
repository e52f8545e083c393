"""Integration fixtures: a real Redis per session (emptied per test), the app in-process, real workers."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fast_channels.layers import channel_layers
from fastapi import FastAPI

from src.layers import setup_layers, teardown_layers
from src.main import create_app
from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.processes import WORKER_COMMANDS, WorkerProcess
from tests.support.protocol import CONNECTED


@pytest.fixture(scope="module", params=list(WORKER_COMMANDS.values()), ids=list(WORKER_COMMANDS))
def worker_class(request: pytest.FixtureRequest) -> type[WorkerProcess]:
    """Each worker command in turn: ``arq src.tasks.WorkerSettings`` (arq-cli), ``python -m src.worker`` (src.worker).

    Module-scoped, so a module's tests run against one command, then the other, and a module-scoped
    fixture that starts workers (a staged outage, say) is staged once per command.
    """
    worker: type[WorkerProcess] = request.param
    return worker


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings for instant jobs against the real Redis."""
    return Settings(redis_url=redis_url, job_time_scale=0.0, worker_poll_delay=0.01)


@pytest_asyncio.fixture
async def jobs(settings: Settings) -> AsyncIterator[JobQueue]:
    """The app's job queue with its one pool open, and the app's channel layer registered (the lifespan)."""
    channel_layers.clear()
    setup_layers(settings)
    queue = JobQueue(settings, parts_for(settings))
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
    communicator = socket_on(app)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from(timeout=2) == CONNECTED
    yield communicator
    await communicator.disconnect()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for sockets on real servers."""
    async with httpx.AsyncClient() as client:
        yield client
