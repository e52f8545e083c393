"""With the fast path's lean channel layer, the consumer serves its socket through the fast path's own loop, which
waits on the socket's channel without a task of its own (fast-channels' stock loop keeps a task on each source)."""

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fast_channels.layers import channel_layers
from fastapi import FastAPI

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.fastpath import FastPath
from src.layers import JOBS_LAYER_ALIAS, setup_layers, teardown_layers
from src.main import create_app
from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, PING, PONG


@pytest_asyncio.fixture
async def lean_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app as production builds it with the fast path: its lean channel layer registered, its pool open."""
    fast = parts_for(settings)
    assert isinstance(fast, FastPath)
    channel_layers.clear()
    setup_layers(settings, layer_class=fast.channel_layer_class)
    jobs = JobQueue(settings, fast)
    await jobs.open()
    yield create_app(settings, jobs=jobs)
    await jobs.close()
    await teardown_layers()


async def test_an_idle_socket_on_the_lean_layer_keeps_no_task_waiting_on_its_channel(lean_app: FastAPI) -> None:
    """Two tasks per socket: the app's call serving it and its read of the socket; its channel is waited on without
    one (the stock loop would hold a third)."""
    warm_up = socket_on(lean_app)  # the layer's own reader starts with the first socket
    assert (await warm_up.connect())[0]
    assert await warm_up.receive_json_from(timeout=2) == CONNECTED
    before = asyncio.all_tasks()

    ws = socket_on(lean_app)
    assert (await ws.connect())[0]
    assert await ws.receive_json_from(timeout=2) == CONNECTED
    await ws.send_json_to(PING)
    assert await ws.receive_json_from(timeout=2) == PONG

    new = asyncio.all_tasks() - before
    assert len(new) == 2
    await ws.disconnect()
    await warm_up.disconnect()


async def test_a_consumer_served_by_the_lean_loop_has_the_channel_attributes_fast_channels_gives_it(
    lean_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As fast-channels' ``AsyncConsumer.__call__`` sets them: its layer, a channel of its own, and a receive that
    reads that channel, for any chanx code that reaches for them."""
    served: list[BackgroundJobConsumer] = []
    dispatch = BackgroundJobConsumer.dispatch

    async def recorded(self: BackgroundJobConsumer, message: Any) -> None:
        served.append(self)
        await dispatch(self, message)

    monkeypatch.setattr(BackgroundJobConsumer, "dispatch", recorded)
    ws = socket_on(lean_app)
    assert (await ws.connect())[0]
    assert await ws.receive_json_from(timeout=2) == CONNECTED

    consumer = served[0]
    layer = channel_layers[JOBS_LAYER_ALIAS]
    as_fast_channels_sets_it = functools.partial(layer.receive, consumer.channel_name)
    assert consumer.channel_layer is layer
    assert consumer.channel_name.startswith(layer.prefix)
    assert isinstance(consumer.channel_receive, functools.partial)
    assert (consumer.channel_receive.func, consumer.channel_receive.args, consumer.channel_receive.keywords) == (
        as_fast_channels_sets_it.func,
        as_fast_channels_sets_it.args,
        as_fast_channels_sets_it.keywords,
    )
    await ws.disconnect()
