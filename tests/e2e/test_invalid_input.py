"""Bad input over a real socket gets chanx's error frame, and the socket goes on serving; a frame above
the server's size limit closes that one socket (1009), and the server goes on serving."""

import contextlib
import json
from dataclasses import dataclass

import httpx
import pytest
from httpx_ws import WebSocketNetworkError

from tests.e2e.conftest import Stack
from tests.support.protocol import (
    CONNECTED,
    PING,
    PONG,
    PROMPT,
    error,
    has_status,
    invalid,
    is_pong,
    job,
    job_frames,
    seed_job_frames,
    without_progress,
)
from tests.support.ws_driver import JobSocket

#: The server's default ``MAX_CONTENT_LENGTH``.
MAX_CONTENT_LENGTH = 10_000
#: The server's default ``WS_MAX_SIZE``: 64 KiB (the stacks run plain ``uvicorn src.main:app``, so the app enforces it).
WS_MAX_SIZE = 64 * 1024
#: RFC 6455's close code for a message too big to process.
MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class BadFrame:
    """A frame the server must refuse: sent as text, or as bytes when ``binary``."""

    data: str
    binary: bool = False

    async def send_to(self, ws: JobSocket) -> None:
        """Send the frame on ``ws``."""
        if self.binary:
            await ws.send_bytes(self.data.encode())
        else:
            await ws.send_text(self.data)


#: Each bad frame, with chanx's error frame for it: the one validation error's ``type`` and ``loc``, as
#: docs/protocol.md documents them (its ``msg`` is pydantic's wording, not the protocol's).
BAD_FRAMES = {
    "invalid JSON": (BadFrame("{not json"), error(invalid("json_invalid", []))),
    "unknown action": (
        BadFrame(json.dumps({"action": "explode", "payload": {}})),
        error(invalid("union_tag_invalid", [])),
    ),
    "missing action": (
        BadFrame(json.dumps({"payload": {"content": "hello"}})),
        error(invalid("union_tag_not_found", [])),
    ),
    "missing payload": (BadFrame(json.dumps({"action": "job"})), error(invalid("missing", ["job", "payload"]))),
    "missing content": (
        BadFrame(json.dumps({"action": "job", "payload": {"type": "translate"}})),
        error(invalid("missing", ["job", "payload", "content"])),
    ),
    "binary frame": (BadFrame(json.dumps(PING), binary=True), error(invalid("json_invalid", []))),
    "content over MAX_CONTENT_LENGTH": (
        BadFrame(json.dumps(job("translate", "x" * (MAX_CONTENT_LENGTH + 1)))),
        error(invalid("string_too_long", ["job", "payload", "content"])),
    ),
    # The frame that once ended the worker: a JSON escape for a lone surrogate, which UTF-8 cannot carry.
    "a lone surrogate in the content": (
        BadFrame('{"action":"job","payload":{"type":"default","content":"\\ud800"}}'),
        error(invalid("lone_surrogate", ["payload", "content"])),
    ),
    "a lone surrogate in the type": (
        BadFrame('{"action":"job","payload":{"type":"\\udfff","content":"hello"}}'),
        error(invalid("lone_surrogate", ["payload", "type"])),
    ),
    "a lone surrogate in a job id": (
        BadFrame('{"action":"job_lookup","payload":{"job_id":"default_\\ud83d"}}'),
        error(invalid("lone_surrogate", ["payload", "job_id"])),
    ),
}


async def assert_serves(ws: JobSocket) -> None:
    """``ws`` answers a ping, and a job sent on it runs to its result."""
    await ws.send(PING)
    assert await ws.receive_until(is_pong, timeout=PROMPT) == [PONG]

    await ws.send(job("default"))
    frames = await ws.receive_until(has_status("result"), timeout=5)
    assert without_progress(frames) == seed_job_frames("default", frames[0]["payload"]["job_id"])


@pytest.mark.parametrize(("bad", "reply"), BAD_FRAMES.values(), ids=BAD_FRAMES)
async def test_bad_frame_gets_the_documented_error_frame(
    bad: BadFrame, reply: dict[str, object], scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """Each kind of invalid frame gets chanx's ``error`` frame saying what is wrong where, and nothing more."""
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await bad.send_to(ws)

        assert await ws.receive(timeout=PROMPT) == reply
        assert await ws.receive_nothing()


@pytest.mark.parametrize(("bad", "reply"), BAD_FRAMES.values(), ids=BAD_FRAMES)
async def test_socket_keeps_serving_after_a_bad_frame(
    bad: BadFrame, reply: dict[str, object], scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """After an invalid frame's ``error``, the socket stays open: it answers ``ping`` and runs a job to its end."""
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await bad.send_to(ws)
        await ws.receive(timeout=PROMPT)

        await assert_serves(ws)


async def test_content_of_exactly_max_content_length_runs(scaled_stack: Stack, http: httpx.AsyncClient) -> None:
    """Content of exactly ``MAX_CONTENT_LENGTH`` characters is valid: the job runs to its ``result``."""
    content = "y" * MAX_CONTENT_LENGTH
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await ws.send(job("default", content))

        frames = await ws.receive_until(has_status("result"), timeout=5)

    job_id = frames[0]["payload"]["job_id"]
    assert without_progress(frames) == job_frames("default", job_id, content, f"✅ Processed: {content.upper()}")


async def send_oversize_frame(ws: JobSocket) -> None:
    """Send a text frame one byte above the server's limit."""
    # The server may close the socket before the whole frame is written: the write then fails,
    # and the close frame the server sent first is still there to receive.
    with contextlib.suppress(WebSocketNetworkError):
        await ws.send_text("x" * (WS_MAX_SIZE + 1))


async def test_frame_above_the_servers_size_limit_closes_that_socket_with_1009(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """A frame over ``WS_MAX_SIZE`` bytes closes its socket with 1009 (Message Too Big)."""
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)

        await send_oversize_frame(ws)

        assert await ws.receive_close(timeout=5) == MESSAGE_TOO_BIG


async def test_frame_of_exactly_the_servers_size_limit_is_read(scaled_stack: Stack, http: httpx.AsyncClient) -> None:
    """A frame of exactly ``WS_MAX_SIZE`` bytes is read and answered."""
    head, tail = '{"action": "ping", "pad": "', '"}'
    frame = head + "x" * (WS_MAX_SIZE - len(head) - len(tail)) + tail
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)

        await ws.send_text(frame)

        assert await ws.receive(timeout=PROMPT) == PONG


async def test_other_sockets_keep_serving_after_a_frame_above_the_size_limit(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """A socket open beside one closed with 1009 goes on serving."""
    async with JobSocket(http, scaled_stack.ws_url) as bystander, JobSocket(http, scaled_stack.ws_url) as ws:
        await bystander.receive(timeout=PROMPT)
        await ws.receive(timeout=PROMPT)
        await send_oversize_frame(ws)
        await ws.receive_close(timeout=5)

        await assert_serves(bystander)


async def test_new_sockets_are_served_after_a_frame_above_the_size_limit(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """After a socket is closed with 1009, a new socket gets ``connected`` and is served."""
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await send_oversize_frame(ws)
        await ws.receive_close(timeout=5)

    async with JobSocket(http, scaled_stack.ws_url) as fresh:
        assert await fresh.receive(timeout=PROMPT) == CONNECTED
        await assert_serves(fresh)
