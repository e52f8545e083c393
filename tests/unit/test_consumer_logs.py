"""What the consumer logs for an operator: each refused handshake and why (with the origin), each oversized frame."""

import re

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI

from src.settings import Settings
from tests.support.communicator import socket_on

#: Who logs for a socket: its gate (handshakes), the base consumer (frames), the consumer (jobs).
SOCKET_LOGGERS = ("src.web.gate", "src.base_consumer", "src.apps.background_jobs.consumer")


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings, with frames of at most 100 bytes."""
    return Settings(redis_url="redis://unit-tests-use-no-redis:1", job_time_scale=0.0, ws_max_size=100)


def logged(caplog: pytest.LogCaptureFixture, level: str) -> list[str]:
    """The socket's records at ``level``: event and key=value pairs, spaces collapsed, level tag dropped."""
    return [
        re.sub(r"^\[\w+ *\] ", "", " ".join(r.getMessage().split()))
        for r in caplog.records
        if r.name in SOCKET_LOGGERS and r.levelname == level
    ]


async def test_a_handshake_from_a_foreign_origin_is_logged_with_that_origin(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    ws = socket_on(app, headers=[(b"origin", b"https://evil.example")])  # its Host: 127.0.0.1, allowed

    assert await ws.connect() == (False, 1008)

    assert logged(caplog, "WARNING") == ["refusing a WebSocket from a foreign origin origin=https://evil.example"]


async def test_a_handshake_while_the_job_queue_is_unreachable_is_logged(
    app: FastAPI, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged as the consumer's one WARNING: ``refusing a WebSocket: the job queue is unavailable``."""
    redis_server.connected = False
    ws = socket_on(app)

    await ws.connect()

    assert logged(caplog, "WARNING") == ["refusing a WebSocket: the job queue is unavailable"]


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
