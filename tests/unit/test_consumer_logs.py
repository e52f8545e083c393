"""What the consumer logs for an operator: each refused handshake and why (with the origin), each oversized frame."""

import re

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI

from src.settings import Settings
from tests.support.communicator import socket_on

CONSUMER_LOGGER = "src.apps.background_jobs.consumer"


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings, with frames of at most 100 bytes."""
    return Settings(redis_url="redis://unit-tests-use-no-redis:1", job_time_scale=0.0, ws_max_size=100)


def logged(caplog: pytest.LogCaptureFixture, level: str) -> list[str]:
    """The consumer's records at ``level``: event and key=value pairs, spaces collapsed, level tag dropped."""
    return [
        re.sub(r"^\[\w+ *\] ", "", " ".join(r.getMessage().split()))
        for r in caplog.records
        if r.name == CONSUMER_LOGGER and r.levelname == level
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
