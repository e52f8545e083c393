"""Arbitrary frames on the socket (hypothesis): the consumer never fails on one, queues a job only for a valid
``job`` frame, and goes on answering ``ping``."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from src.main import create_app
from src.parts import StockParts
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import handlers_finished, socket_on
from tests.support.fake_arq import fake_arq_pool
from tests.support.frames import is_valid_job_frame
from tests.support.protocol import CONNECTED, PING, PONG, error, invalid

#: Short, so that content over the limit is drawn often.
MAX_CONTENT_LENGTH = 8
SETTINGS = Settings(
    redis_url="redis://unit-tests-use-no-redis:1", job_time_scale=0.0, max_content_length=MAX_CONTENT_LENGTH
)
#: What chanx answers when a handler raised: the one reply a frame must never get.
HANDLER_FAILED = "Failed to process message"

#: Text of any code points, lone surrogates among them (JSON writes those as \u escapes).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
#: Field names and actions of the protocol (and chanx's envelope), mixed with arbitrary ones.
keys = st.sampled_from(["action", "payload", "type", "content", "job_id", "topic", "ref", "version"]) | st.text(
    max_size=6
)
actions = (
    st.sampled_from(["job", "ping", "job_lookup", "job_watch", "job_unwatch", "cancel", "job_status", "pong", "error"])
    | json_values
)
payloads = st.dictionaries(keys, st.text(max_size=MAX_CONTENT_LENGTH + 2) | json_values, max_size=3) | json_values
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "topic": st.none() | st.text(max_size=4),
        "ref": st.text(max_size=4) | json_values,
        "version": json_values,
    },
)
#: Frames close to the protocol's own: each field present or not, well- or ill-typed.
near_valid = st.fixed_dictionaries(
    {"action": st.sampled_from(["job", "job_lookup", "job_watch", "job_unwatch", "cancel", "ping"])},
    optional={
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["translate", "analyze", "generate", "default", "other"]) | json_values,
                "content": st.text(st.characters(codec=None, exclude_categories=()), max_size=MAX_CONTENT_LENGTH + 2)
                | json_values,
                "job_id": st.text(max_size=12) | json_values,
            },
        )
        | json_values
    },
)
arbitrary = st.fixed_dictionaries({}, optional={"action": actions, "payload": payloads}).flatmap(
    lambda base: st.dictionaries(keys, json_values, max_size=2).map(lambda extra: {**extra, **base})
)
#: ``job`` frames, most of them valid: content around the limit, the type known, unknown or absent.
jobs = st.fixed_dictionaries(
    {
        "action": st.just("job"),
        "payload": st.fixed_dictionaries(
            {"content": st.text(max_size=MAX_CONTENT_LENGTH + 2)},
            optional={"type": st.sampled_from(["translate", "analyze", "generate", "default", "other"])},
        ),
    }
)
frames = st.tuples(jobs | near_valid | arbitrary, envelopes).map(lambda pair: {**pair[0], **pair[1]})
raw_text = st.text() | json_values.map(json.dumps) | frames.map(json.dumps)


@asynccontextmanager
async def app_on_fakeredis() -> AsyncIterator[tuple[FastAPI, JobQueue]]:
    """The app with its job queue on a fresh fakeredis server."""
    pool = fake_arq_pool()
    jobs = JobQueue(SETTINGS, StockParts(SETTINGS), pool=pool)
    try:
        yield create_app(SETTINGS, jobs=jobs), jobs
    finally:
        await pool.aclose()


async def replies_then_pong(ws: WebsocketCommunicator) -> list[Any]:
    """Send ``ping`` and return every frame before the ``pong`` (each waited for with a timeout)."""
    await ws.send_json_to(PING)
    replies = []
    while (frame := await ws.receive_json_from(timeout=1)) != PONG:
        replies.append(frame)
    return replies


# The autouse in-memory channel layer is shared by the examples; each example's socket has its own channel.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=raw_text)
async def test_any_text_frame_queues_a_job_only_if_it_is_a_valid_job_and_ping_is_still_answered(text: str) -> None:
    """A text frame queues a job exactly when it is a valid ``job`` frame; no handler fails; ``ping`` gets ``pong``."""
    async with app_on_fakeredis() as (app, jobs):
        ws = socket_on(app)
        assert (await ws.connect())[0]
        assert await ws.receive_json_from(timeout=1) == CONNECTED

        await ws.send_input({"type": "websocket.receive", "text": text})
        await handlers_finished()
        replies = await replies_then_pong(ws)

        valid = is_valid_job_frame(text, MAX_CONTENT_LENGTH)
        event("a valid job" if valid else "not a valid job")
        assert len(await jobs.pool.queued_jobs()) == (1 if valid else 0)
        assert not any(HANDLER_FAILED in json.dumps(reply) for reply in replies), replies
        await ws.disconnect()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=64))
async def test_any_binary_frame_gets_an_error_frame_queues_nothing_and_ping_is_still_answered(data: bytes) -> None:
    async with app_on_fakeredis() as (app, jobs):
        ws = socket_on(app)
        assert (await ws.connect())[0]
        assert await ws.receive_json_from(timeout=1) == CONNECTED

        await ws.send_input({"type": "websocket.receive", "bytes": data})
        await handlers_finished()

        assert await replies_then_pong(ws) == [error(invalid("json_invalid", []))]
        assert await jobs.pool.queued_jobs() == []
        await ws.disconnect()
