"""Invalid frames get chanx's error frame, queue nothing, and leave the socket serving."""

import json
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from dirty_equals import IsList, IsPartialDict

from src.settings import Settings

OVER_LONG = "x" * 10_001


def job(payload: Any) -> str:
    """A ``job`` frame with the given payload, as JSON text."""
    return json.dumps({"action": "job", "payload": payload})


INVALID_TEXT_FRAMES = {
    "bad JSON": ("{not json", "json_invalid"),
    "JSON that is not an object": ("[1, 2, 3]", "model_type"),
    "unknown action": (json.dumps({"action": "explode", "payload": {}}), "union_tag_invalid"),
    "missing action": (json.dumps({"payload": {"content": "hi"}}), "union_tag_not_found"),
    "missing payload": (json.dumps({"action": "job"}), "missing"),
    "missing content": (job({"type": "translate"}), "missing"),
    "content of the wrong type": (job({"type": "translate", "content": 42}), "string_type"),
    "type of the wrong type": (job({"type": ["translate"], "content": "hi"}), "string_type"),
    "payload not an object": (job("hello"), "model_type"),
    "content over MAX_CONTENT_LENGTH": (job({"type": "translate", "content": OVER_LONG}), "string_too_long"),
}


async def assert_still_serving(ws: WebsocketCommunicator) -> None:
    """The socket answers ``ping`` after the bad frame."""
    await ws.send_json_to({"action": "ping"})
    assert await ws.receive_json_from(timeout=1) == {"action": "pong", "payload": None}


@pytest.mark.parametrize(("frame", "error_type"), INVALID_TEXT_FRAMES.values(), ids=INVALID_TEXT_FRAMES)
async def test_invalid_frame_gets_an_error_frame_and_queues_nothing(
    frame: str, error_type: str, ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await ws.send_to(text_data=frame)

    reply = await ws.receive_json_from(timeout=1)

    assert reply == {"action": "error", "payload": IsList(IsPartialDict(type=error_type), length=...)}
    assert await pool.queued_jobs() == []
    await assert_still_serving(ws)


async def test_binary_frame_gets_an_error_frame_and_queues_nothing(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    await ws.send_to(bytes_data=b'{"action": "ping"}')

    reply = await ws.receive_json_from(timeout=1)

    assert reply == {
        "action": "error",
        "payload": [{"type": "json_invalid", "loc": [], "msg": "Invalid JSON: binary frames are not supported"}],
    }
    assert await pool.queued_jobs() == []
    await assert_still_serving(ws)


async def test_over_long_content_error_names_the_field_and_the_limit(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    await ws.send_to(text_data=job({"type": "translate", "content": OVER_LONG}))

    reply = await ws.receive_json_from(timeout=1)

    assert reply == {
        "action": "error",
        "payload": [
            {
                "type": "string_too_long",
                "loc": ["job", "payload", "content"],
                "msg": f"String should have at most {settings.max_content_length} characters",
            }
        ],
    }


async def test_content_exactly_at_max_content_length_is_queued(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    await ws.send_to(text_data=job({"content": "y" * settings.max_content_length}))

    queuing = await ws.receive_json_from(timeout=1)

    assert queuing["payload"]["status"] == "queuing"
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    assert len(await pool.queued_jobs()) == 1
