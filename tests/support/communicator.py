"""In-process sockets (chanx's ``WebsocketCommunicator``): opening one as a local client does, reading past running
jobs' progress frames."""

from collections.abc import Sequence
from typing import Any

from chanx.fast_channels.testing import WebsocketCommunicator

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from tests.support.protocol import is_progress


async def receive_but_progress(ws: WebsocketCommunicator, timeout: float = 2.0) -> Any:
    """The next frame that is not a ``progress`` frame, each frame waited for with ``timeout``."""
    while is_progress(frame := await ws.receive_json_from(timeout=timeout)):
        pass
    return frame


#: The Host header of a client on this machine: 127.0.0.1 is an allowed host by default (``ALLOWED_HOSTS``).
LOCAL_HOST = (b"host", b"127.0.0.1:8000")


def socket_on(
    app: Any, path: str = "/ws/background_jobs", headers: Sequence[tuple[bytes, bytes]] = ()
) -> WebsocketCommunicator:
    """An in-process socket on the app, opened as a client on this machine opens it: its Host header names
    127.0.0.1, then ``headers``. (Call ``connect()`` on it.)"""
    return WebsocketCommunicator(app, path, headers=[LOCAL_HOST, *headers], consumer=BackgroundJobConsumer)
