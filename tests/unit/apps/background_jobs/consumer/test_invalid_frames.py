"""Invalid frames get chanx's error frame, queue nothing, and leave the socket serving."""

import json
import re
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from dirty_equals import IsStr

from src.settings import Settings
from tests.support.protocol import error, invalid

OVER_LONG = "x" * 10_001


def job(payload: Any) -> str:
    """A ``job`` frame with the given payload, as JSON text."""
    return json.dumps({"action": "job", "payload": payload})


#: Each invalid frame, with the one validation error (its ``type`` and ``loc``) chanx's error frame lists for it.
INVALID_TEXT_FRAMES: dict[str, tuple[str, dict[str, Any]]] = {
    "bad JSON": ("{not json", invalid("json_invalid", [])),
    "JSON that is not an object": ("[1, 2, 3]", invalid("model_type", [])),
    "unknown action": (json.dumps({"action": "explode", "payload": {}}), invalid("union_tag_invalid", [])),
    "missing action": (json.dumps({"payload": {"content": "hi"}}), invalid("union_tag_not_found", [])),
    "missing payload": (json.dumps({"action": "job"}), invalid("missing", ["job", "payload"])),
    "missing content": (job({"type": "translate"}), invalid("missing", ["job", "payload", "content"])),
    "content of the wrong type": (
        job({"type": "translate", "content": 42}),
        invalid("string_type", ["job", "payload", "content"]),
    ),
    "type of the wrong type": (
        job({"type": ["translate"], "content": "hi"}),
        invalid("string_type", ["job", "payload", "type"]),
    ),
    "payload not an object": (job("hello"), invalid("model_type", ["job", "payload"])),
    "content over MAX_CONTENT_LENGTH": (
        job({"type": "translate", "content": OVER_LONG}),
        invalid("string_too_long", ["job", "payload", "content"]),
    ),
}


async def assert_still_serving(ws: WebsocketCommunicator) -> None:
    """The socket answers ``ping`` after the bad frame."""
    await ws.send_json_to({"action": "ping"})
    assert await ws.receive_json_from(timeout=1) == {"action": "pong", "payload": None}


@pytest.mark.parametrize(("frame", "detail"), INVALID_TEXT_FRAMES.values(), ids=INVALID_TEXT_FRAMES)
async def test_invalid_frame_gets_an_error_frame_naming_the_error_and_its_place_and_queues_nothing(
    frame: str, detail: dict[str, Any], ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """chanx's ``error`` frame names the error's ``type`` and ``loc``; nothing is queued; ``ping`` gets ``pong``."""
    await ws.send_to(text_data=frame)

    reply = await ws.receive_json_from(timeout=1)

    assert reply == error(detail)
    assert await pool.queued_jobs() == []
    await assert_still_serving(ws)


async def test_binary_frame_gets_an_error_frame_and_queues_nothing(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    await ws.send_to(bytes_data=b'{"action": "ping"}')

    reply = await ws.receive_json_from(timeout=1)

    assert reply == error(invalid("json_invalid", []))
    assert await pool.queued_jobs() == []
    await assert_still_serving(ws)


async def test_over_long_content_error_names_the_field_and_the_limit(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    await ws.send_to(text_data=job({"type": "translate", "content": OVER_LONG}))

    reply = await ws.receive_json_from(timeout=1)

    limit = settings.max_content_length
    # docs/protocol.md promises the error's type and place; that its text names the limit is what a reader needs.
    assert reply == error(
        {"type": "string_too_long", "loc": ["job", "payload", "content"], "msg": IsStr(regex=rf"\D*{limit}\D*")}
    )


async def test_content_exactly_at_max_content_length_is_queued(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    await ws.send_to(text_data=job({"content": "y" * settings.max_content_length}))

    queuing = await ws.receive_json_from(timeout=1)

    assert queuing["payload"]["status"] == "queuing"
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    assert len(await pool.queued_jobs()) == 1


#: Frames holding a lone surrogate (a JSON ``\ud800`` escape, as a browser writes a broken string), each with the
#: place chanx's error frame names for it: a path in the frame as the client wrote it.
LONE_SURROGATE_FRAMES: dict[str, tuple[str, list[str | int]]] = {
    "in the content": (
        '{"action": "job", "payload": {"type": "default", "content": "\\ud800"}}',
        ["payload", "content"],
    ),
    "in the type": ('{"action": "job", "payload": {"type": "trans\\udfff", "content": "hi"}}', ["payload", "type"]),
    "in a looked-up job id": ('{"action": "job_lookup", "payload": {"job_id": "\\udbff"}}', ["payload", "job_id"]),
    "in a cancelled job id": ('{"action": "cancel", "payload": {"job_id": "default_\\ud83d"}}', ["payload", "job_id"]),
    "in the action": ('{"action": "job\\ud800", "payload": {}}', ["action"]),
    "in a field no message has": (
        '{"action": "ping", "note": ["fine", "\\ude00"]}',
        ["note", 1],
    ),
    "in a key": ('{"action": "job", "payload": {"content": "hi", "\\ud800": 1}}', ["payload", "\\ud800"]),
}


@pytest.mark.parametrize(("frame", "place"), LONE_SURROGATE_FRAMES.values(), ids=LONE_SURROGATE_FRAMES)
async def test_a_frame_holding_text_utf8_cannot_carry_gets_an_error_frame_naming_the_field_and_queues_nothing(
    frame: str, place: list[str | int], ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await ws.send_to(text_data=frame)

    reply = await ws.receive_json_from(timeout=1)

    dotted = ".".join(str(step) for step in place if isinstance(step, str))
    assert reply == error({"type": "lone_surrogate", "loc": place, "msg": IsStr(regex=rf"^{re.escape(dotted)}\W.*")})
    assert await pool.queued_jobs() == []
    await assert_still_serving(ws)


async def test_a_surrogate_pair_written_as_two_escapes_is_one_character_and_is_queued(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await ws.send_to(text_data='{"action": "job", "payload": {"content": "\\ud83d\\ude00"}}')

    queuing = await ws.receive_json_from(timeout=1)

    assert queuing["payload"]["message"] == "⏳ Queuing default job: 😀"
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    assert len(await pool.queued_jobs()) == 1
