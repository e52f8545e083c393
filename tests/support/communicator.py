"""In-process sockets (chanx's ``WebsocketCommunicator``): opening one as a local client does, asking over one,
queuing a job over one, reading past running jobs' progress frames, waiting for the handlers the consumer started."""

import asyncio
from collections.abc import Sequence
from typing import Any

from chanx.fast_channels.testing import WebsocketCommunicator
from chanx.utils.asyncio import global_background_tasks

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from tests.support.protocol import CONNECTED, is_progress


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


async def connected(app: Any) -> WebsocketCommunicator:
    """A socket opened on the app (``socket_on``), its ``connected`` frame read and checked."""
    communicator = socket_on(app)
    accepted, _ = await communicator.connect()
    assert accepted
    assert await communicator.receive_json_from() == CONNECTED
    return communicator


async def ask(ws: WebsocketCommunicator, frame: dict[str, Any]) -> Any:
    """Send ``frame`` and return the one reply."""
    await ws.send_json_to(frame)
    return await ws.receive_json_from(timeout=1)


async def queue_job(ws: WebsocketCommunicator, job_type: str = "translate", content: str = "hello") -> str:
    """Queue a job over the socket; its id once it is reported queued."""
    await ws.send_json_to({"action": "job", "payload": {"type": job_type, "content": content}})
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    return job_id


async def handlers_finished() -> None:
    """Wait (bounded) until every handler task the consumer started has finished."""
    async with asyncio.timeout(2):
        while global_background_tasks:
            await asyncio.gather(*global_background_tasks, return_exceptions=True)
