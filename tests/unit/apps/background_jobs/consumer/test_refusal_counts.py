"""Each job the socket refuses is counted under its reason; a job whose client left before or while it was queued
is logged."""

import asyncio
import logging
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI
from uvicorn.protocols.utils import ClientDisconnected

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.main import create_app
from src.settings import Settings
from tests.support.communicator import handlers_finished, socket_on
from tests.support.held_job_queue import HeldJobQueue
from tests.support.log_lines import log_lines
from tests.support.metric_samples import metric_samples, refusals


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings, with one job in flight per socket and a queue of one."""
    return Settings(
        redis_url="redis://unit-tests-use-no-redis:1", job_time_scale=0.0, max_jobs_in_flight=1, max_queue_depth=1
    )


def job(content: str) -> dict[str, Any]:
    return {"action": "job", "payload": {"type": "default", "content": content}}


async def statuses(ws: WebsocketCommunicator, count: int) -> list[str]:
    return [(await ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(count)]


async def test_a_job_over_max_jobs_in_flight_is_counted_as_refused_for_too_many_in_flight(
    app: FastAPI, ws: WebsocketCommunicator
) -> None:
    await ws.send_json_to(job("first"))
    assert await statuses(ws, 2) == ["queuing", "queued"]

    await ws.send_json_to(job("second"))
    assert await statuses(ws, 1) == ["error"]

    assert refusals(await metric_samples(app)) == {"too_many_in_flight": 1.0}


async def test_a_job_over_max_queue_depth_is_counted_as_refused_for_a_full_queue(app: FastAPI) -> None:
    """Two sockets, since one socket's second job would be over its own bound first."""
    sockets = [socket_on(app), socket_on(app)]
    for ws in sockets:
        assert (await ws.connect())[0]
        await ws.receive_json_from(timeout=1)
    await sockets[0].send_json_to(job("first"))
    assert await statuses(sockets[0], 2) == ["queuing", "queued"]

    await sockets[1].send_json_to(job("second"))
    assert await statuses(sockets[1], 2) == ["queuing", "error"]

    assert refusals(await metric_samples(app)) == {"queue_full": 1.0}
    for ws in sockets:
        await ws.disconnect()


async def test_a_job_whose_client_left_before_its_queuing_frame_is_logged_as_not_queued(
    ws: WebsocketCommunicator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []
    send_failed = asyncio.Event()

    async def client_gone(self: BackgroundJobConsumer, content: Any, close: bool = False) -> None:
        sent.append(content)
        send_failed.set()
        raise ClientDisconnected  # what uvicorn raises on a send to a closed socket

    monkeypatch.setattr(BackgroundJobConsumer, "send_json", client_gone)
    with caplog.at_level(logging.INFO, logger="src.apps.background_jobs.consumer"):
        await ws.send_json_to(job("hello"))
        await asyncio.wait_for(send_failed.wait(), timeout=1)
        await handlers_finished()

    job_id = sent[0]["payload"]["job_id"]
    lines = log_lines(caplog, "src.apps.background_jobs.consumer")
    assert lines == [f"[info ] client left before its job was queued; not queued job_id={job_id}"]


async def test_a_job_whose_client_left_during_its_enqueue_is_logged_as_still_running(
    settings: Settings, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = HeldJobQueue(settings, pool)
    ws = socket_on(create_app(settings, jobs=jobs))
    assert (await ws.connect())[0]
    await ws.receive_json_from(timeout=1)
    with caplog.at_level(logging.INFO, logger="src.apps.background_jobs.consumer"):
        await ws.send_json_to(job("hello"))
        job_id = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
        await ws.disconnect()
        jobs.let_through.set()
        await handlers_finished()

    lines = log_lines(caplog, "src.apps.background_jobs.consumer")
    assert lines == [f"[info ] client left after its job was queued; the job still runs job_id={job_id}"]
