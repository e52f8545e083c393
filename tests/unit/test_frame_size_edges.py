"""Frames at the WS_MAX_SIZE boundary: exactly the limit is read, as text or binary; a byte more closes with 1009."""

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator

from src.settings import Settings
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
