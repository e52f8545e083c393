"""The guards every frame passes before a handler (the project's base consumer): a frame over ``WS_MAX_SIZE`` bytes
(not characters), text or binary, closes the socket with 1009 saying the limit, and one of exactly the limit is
read; an oversized frame is logged with the limit, a socket's malformed frames once, then counted when it closes."""

from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.log_lines import logged
from tests.support.protocol import PONG

WS_MAX_SIZE = 100


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings with frames of at most 100 bytes."""
    return Settings(redis_url="redis://unit-tests-use-no-redis:1", job_time_scale=0.0, ws_max_size=WS_MAX_SIZE)


def ping_of(size: int) -> str:
    """A ping frame of exactly ``size`` ASCII bytes."""
    frame = '{"action": "ping", "pad": ""}'
    return frame.replace('""', '"' + "x" * (size - len(frame)) + '"')


async def test_an_ascii_text_frame_of_exactly_ws_max_size_bytes_is_read(ws: WebsocketCommunicator) -> None:
    assert len(ping_of(WS_MAX_SIZE)) == WS_MAX_SIZE

    await ws.send_to(text_data=ping_of(WS_MAX_SIZE))

    assert await ws.receive_json_from(timeout=1) == PONG


async def test_a_binary_frame_of_exactly_ws_max_size_bytes_is_read_and_answered_with_an_error_frame(
    ws: WebsocketCommunicator,
) -> None:
    await ws.send_to(bytes_data=ping_of(WS_MAX_SIZE).encode())

    reply = await ws.receive_json_from(timeout=1)

    assert reply["action"] == "error"
    await ws.send_to(text_data=ping_of(20))
    assert await ws.receive_json_from(timeout=1) == PONG


async def test_the_close_for_a_frame_over_ws_max_size_says_the_limit(ws: WebsocketCommunicator) -> None:
    await ws.send_to(text_data=ping_of(WS_MAX_SIZE + 1))

    assert await ws.receive_output(timeout=1) == {
        "type": "websocket.close",
        "code": 1009,
        "reason": "frame over 100 bytes",
    }


MESSAGE_TOO_BIG = 1009


async def receive_close_code(ws: WebsocketCommunicator) -> Any:
    """The code of the close the consumer sends next (fails on a frame instead)."""
    output = await ws.receive_output(timeout=1)
    assert output["type"] == "websocket.close", output
    return output["code"]


@pytest.mark.parametrize(
    ("text", "binary"),
    [("x" * (WS_MAX_SIZE + 1), False), ("é" * (WS_MAX_SIZE // 2 + 1), False), ("x" * (WS_MAX_SIZE + 1), True)],
    ids=["ascii text", "two-byte characters: fewer characters than the limit", "binary"],
)
async def test_a_frame_over_ws_max_size_bytes_closes_the_socket_with_1009(
    text: str, binary: bool, ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """A text or binary frame over ``WS_MAX_SIZE`` bytes (not characters) closes the socket with 1009, queues no job."""
    if binary:
        await ws.send_to(bytes_data=text.encode())
    else:
        await ws.send_to(text_data=text)

    assert await receive_close_code(ws) == MESSAGE_TOO_BIG
    assert await pool.queued_jobs() == []


async def test_a_frame_of_exactly_ws_max_size_bytes_is_read(ws: WebsocketCommunicator) -> None:
    frame = '{"action": "ping", "pad": "' + "é" * 35 + 'x"}'
    assert len(frame.encode()) == WS_MAX_SIZE

    await ws.send_to(text_data=frame)

    assert await ws.receive_json_from(timeout=1) == PONG


# --- what is logged --------------------------------------------------------------------------------------------


async def test_a_frame_over_ws_max_size_is_logged_with_the_limit(
    ws: WebsocketCommunicator, caplog: pytest.LogCaptureFixture
) -> None:
    await ws.send_to(text_data="x" * 101)
    await ws.receive_output(timeout=1)

    assert "closing a socket that sent a frame over WS_MAX_SIZE limit=100" in logged(caplog, "INFO")


async def test_a_sockets_malformed_frames_are_logged_once_then_counted_when_it_closes(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    ws = socket_on(app)
    await ws.connect()
    await ws.receive_json_from()
    for frame in ("{", "x", "]"):
        await ws.send_to(text_data=frame)
    await ws.send_to(bytes_data=b"\x00")
    replies = [await ws.receive_json_from(timeout=1) for _ in range(4)]

    logged_while_open = logged(caplog, "WARNING")
    await ws.disconnect()

    assert [reply["action"] for reply in replies] == ["error"] * 4
    assert logged_while_open == [
        "malformed frame reason='Expecting property name enclosed in double quotes: line 1 column 2 (char 1)'"
    ]
    assert logged(caplog, "WARNING")[1:] == ["the socket sent malformed frames count=4"]


async def test_a_socket_with_one_malformed_frame_logs_it_once_and_nothing_when_it_closes(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    ws = socket_on(app)
    await ws.connect()
    await ws.receive_json_from()
    await ws.send_to(bytes_data=b"\x00")
    await ws.receive_json_from(timeout=1)

    await ws.disconnect()

    assert logged(caplog, "WARNING") == ["malformed frame reason='binary frames are not supported'"]
