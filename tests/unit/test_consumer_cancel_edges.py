"""``cancel`` and ``job_lookup`` at their edges: a failed job, an abort Redis refuses to record, what a cancel logs
and counts, and a frame about a job this socket is still queuing."""

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.main import create_app
from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.held_job_queue import HeldJobQueue
from tests.support.log_lines import log_lines
from tests.support.metric_samples import metric_samples
from tests.support.protocol import CONNECTED, PING, PONG, job_status
from tests.unit.test_consumer_lookup_and_cancel import ask, cancel, lookup, queue_job, store_result


async def test_cancel_of_a_job_that_failed_gets_an_error_frame_saying_it_has_finished(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_job(ws)
    await store_result(pool, settings, job_id, False, KeyError("dictionary"))

    assert await ask(ws, cancel(job_id)) == job_status(
        "error", job_id, "translate", f"❌ Job {job_id} has already finished"
    )
    assert await pool.zscore(abort_jobs_ss, job_id) is None


async def test_a_cancel_redis_refuses_to_record_gets_an_error_frame_and_the_jobs_outcome_is_still_relayed(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """The abort's write fails (Redis holds ARQ's abort set under another type): the job was not cancelled, so the
    socket says so and still relays the job's result when its worker reports it."""
    job_id = await queue_job(ws)
    (job,) = await pool.queued_jobs()
    await pool.set(abort_jobs_ss, b"not a sorted set")

    assert await ask(ws, cancel(job_id)) == job_status(
        "error", job_id, "translate", "❌ Error cancelling job: the job queue is unavailable"
    )

    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done after all")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), job.args[2])
    assert await ws.receive_json_from(timeout=1) == job_status("result", job_id, "translate", "🌍 done after all")


async def test_a_cancel_is_logged_with_the_job_and_the_state_it_was_in(
    ws: WebsocketCommunicator, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await queue_job(ws)

    with caplog.at_level(logging.INFO, logger="src.apps.background_jobs.consumer"):
        await ask(ws, cancel(job_id))

    lines = log_lines(caplog, "src.apps.background_jobs.consumer")
    assert lines == [f"[info ] job cancelled job_id={job_id} was=queued"]


async def test_a_cancelled_job_of_this_socket_is_counted_as_its_types_cancelled_outcome(
    app: FastAPI, ws: WebsocketCommunicator
) -> None:
    job_id = await queue_job(ws)

    await ask(ws, cancel(job_id))

    got = await metric_samples(app)
    outcomes = {labels: value for (name, labels), value in got.items() if name == "background_jobs_outcomes_total"}
    assert outcomes == {(("job_type", "translate"), ("status", "cancelled")): 1.0}
    assert got[("background_jobs_outcome_latency_seconds_count", (("job_type", "translate"),))] == 1


@pytest_asyncio.fixture
async def held(settings: Settings, pool: ArqRedis) -> AsyncIterator[tuple[HeldJobQueue, WebsocketCommunicator]]:
    """A socket on an app whose job queue holds each enqueue until released."""
    jobs = HeldJobQueue(settings, pool)
    communicator = socket_on(create_app(settings, jobs=jobs))
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == CONNECTED
    yield jobs, communicator
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "reply"),
    [(cancel, "cancelled"), (lookup, "queued")],
    ids=["cancel", "job_lookup"],
)
async def test_a_frame_about_a_job_this_socket_is_still_queuing_is_answered_once_it_is_queued(
    held: tuple[HeldJobQueue, WebsocketCommunicator], frame: Any, reply: str
) -> None:
    """Sent between the job's ``queuing`` and ``queued`` frames, a cancel or lookup is answered after ``queued``,
    about the job as queued (not as an unknown job)."""
    jobs, ws = held
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    await ws.send_json_to(frame(job_id))
    assert await ask(ws, PING) == PONG  # the frame about the job has been taken up meanwhile

    jobs.let_through.set()

    frames = [await ws.receive_json_from(timeout=1), await ws.receive_json_from(timeout=1)]
    assert [(f["payload"]["status"], f["payload"]["job_id"]) for f in frames] == [("queued", job_id), (reply, job_id)]
