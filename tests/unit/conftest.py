"""Unit-layer fixtures: in-memory channel layer, fakeredis ARQ pool, the app driven in-process (over a socket and
over HTTP), and channel layers recorded instead of built."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fast_channels.layers import InMemoryChannelLayer, channel_layers, register_channel_layer
from fastapi import FastAPI

import src.layers
from src.layers import JOBS_LAYER_ALIAS
from src.main import create_app
from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import connected
from tests.support.fake_arq import fake_arq_pool
from tests.support.recording_layer import RecordingLayer


@pytest.fixture(autouse=True)
def channel_layer() -> Iterator[InMemoryChannelLayer]:
    """A fresh in-memory layer under the app's alias; the global registry is reset around each test."""
    channel_layers.clear()
    layer = InMemoryChannelLayer()
    register_channel_layer(JOBS_LAYER_ALIAS, layer)
    yield layer
    channel_layers.clear()


@pytest.fixture
def settings() -> Settings:
    """Settings for instant jobs; nothing here talks to a real Redis."""
    return Settings(redis_url="redis://unit-tests-use-no-redis:1", job_time_scale=0.0)


@pytest.fixture
def redis_server() -> FakeServer:
    """The fakeredis server behind ``pool``."""
    return FakeServer()


@pytest_asyncio.fixture
async def pool(redis_server: FakeServer) -> AsyncIterator[ArqRedis]:
    """An ARQ pool on fakeredis."""
    fake = fake_arq_pool(redis_server)
    yield fake
    await fake.aclose()


@pytest.fixture
def jobs(settings: Settings, pool: ArqRedis) -> JobQueue:
    """The app's job queue, on the fake pool."""
    return JobQueue(settings, parts_for(settings), pool=pool)


@pytest.fixture
def app(settings: Settings, jobs: JobQueue) -> FastAPI:
    """The app, built as production builds it, on the fake pool."""
    return create_app(settings, jobs=jobs)


@pytest_asyncio.fixture
async def ws(app: FastAPI) -> AsyncIterator[WebsocketCommunicator]:
    """A socket on ``/ws/background_jobs``, its connected frame already read and checked."""
    communicator = await connected(app)
    yield communicator
    await communicator.disconnect()


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture
def recorded_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup_layers builds RecordingLayers instead of Redis layers."""
    channel_layers.clear()
    monkeypatch.setattr(src.layers, "RedisPubSubChannelLayer", RecordingLayer)
