"""With the fast path on, the app hands each socket to the fast path's consumer loop (``SpeedUps.serve_consumer``)."""

from typing import Any

import pytest
from fast_channels.consumer.base import AsyncConsumer

import src.main
from src.main import create_app
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, PING, PONG


class ServingSpy:
    """Stands in for the fast path: notes each socket it serves, then serves it as fast-channels does."""

    def __init__(self) -> None:
        self.served: list[str] = []

    async def serve_consumer(self, consumer: AsyncConsumer, scope: Any, receive: Any, send: Any) -> None:
        self.served.append(scope["path"])
        await AsyncConsumer.__call__(consumer, scope, receive, send)


async def test_each_socket_is_served_by_the_fast_paths_consumer_loop_the_seam_gave_the_app(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, jobs: JobQueue
) -> None:
    spy = ServingSpy()
    monkeypatch.setattr(src.main, "speedups", lambda given: spy if given is settings else None)
    app = create_app(settings, jobs=jobs)

    ws = socket_on(app)
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    await ws.send_json_to(PING)
    assert await ws.receive_json_from(timeout=1) == PONG
    await ws.disconnect()

    assert spy.served == ["/ws/background_jobs"]
