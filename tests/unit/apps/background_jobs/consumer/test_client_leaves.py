"""A client that leaves while its job is being queued: no traceback, and a queued job still runs."""

import asyncio
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from uvicorn.protocols.utils import ClientDisconnected

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.web.job_queue import JobQueue
from tests.support.communicator import handlers_finished


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Messages logged at WARNING or above, with any traceback."""
    return [r.getMessage() for r in caplog.records if r.levelname in {"WARNING", "ERROR", "CRITICAL"}]


async def test_client_that_leaves_right_after_sending_a_job_logs_no_error(
    ws: WebsocketCommunicator, caplog: pytest.LogCaptureFixture
) -> None:
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    await ws.disconnect()

    await handlers_finished()

    assert errors_logged(caplog) == []


async def test_job_whose_queuing_frame_cannot_be_delivered_is_not_queued(
    ws: WebsocketCommunicator, pool: ArqRedis, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    send_failed = asyncio.Event()

    async def client_gone(self: BackgroundJobConsumer, content: Any, close: bool = False) -> None:
        send_failed.set()
        raise ClientDisconnected  # what uvicorn raises on a send to a closed socket

    monkeypatch.setattr(BackgroundJobConsumer, "send_json", client_gone)
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})

    await asyncio.wait_for(send_failed.wait(), timeout=1)
    await handlers_finished()

    assert await pool.queued_jobs() == []
    assert errors_logged(caplog) == []


async def test_client_that_leaves_during_the_enqueue_still_gets_its_job_run(
    ws: WebsocketCommunicator,
    pool: ArqRedis,
    jobs: JobQueue,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client gone after ``queuing`` still has its job put on ARQ's queue; an INFO line says so, nothing louder."""
    release = asyncio.Event()
    enqueue = jobs.writer.enqueue

    async def slow_enqueue(*args: Any) -> bool:
        await release.wait()
        return await enqueue(*args)

    monkeypatch.setattr(jobs.writer, "enqueue", slow_enqueue)
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    queuing = await ws.receive_json_from(timeout=1)
    await ws.disconnect()
    release.set()

    await handlers_finished()

    (job,) = await pool.queued_jobs()
    assert job.job_id == queuing["payload"]["job_id"]
    assert errors_logged(caplog) == []
    assert any(
        "client left after its job was queued; the job still runs" in r.getMessage()
        and f"job_id={job.job_id}" in r.getMessage()
        for r in caplog.records
    )
