"""The outcome latency the socket observes is the time from the job's frame to its outcome's: within the time the
test took from sending the one to reading the other (read from the same loop clock)."""

import asyncio

from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.main import create_app
from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.held_job_queue import HeldJobQueue
from tests.support.metric_samples import metric_samples
from tests.support.protocol import CONNECTED


async def test_an_outcomes_latency_lies_between_its_jobs_frame_and_its_outcomes_frame(
    app: FastAPI, ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    assert [(await ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(2)] == ["queuing", "queued"]
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "result"
    read_at = loop.time()

    got = await metric_samples(app)
    latency = (("job_type", "translate"),)
    assert got[("background_jobs_outcome_latency_seconds_count", latency)] == 1
    assert 0 <= got[("background_jobs_outcome_latency_seconds_sum", latency)] <= read_at - sent_at


async def test_an_outcomes_latency_counts_the_time_its_job_took_to_be_queued(
    settings: Settings, pool: ArqRedis
) -> None:
    """Timed from the job's frame, not from its ``queued`` frame: a slow enqueue is part of the latency."""
    jobs = HeldJobQueue(settings, pool)
    held_app = create_app(settings, jobs=jobs)
    ws = socket_on(held_app)
    assert (await ws.connect())[0]
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    loop = asyncio.get_running_loop()
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queuing"
    queuing_at = loop.time()
    await asyncio.sleep(0.2)  # the enqueue is held this long: not a wait for anything, the time being measured
    released_at = loop.time()
    jobs.let_through.set()
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "result"
    await ws.disconnect()

    got = await metric_samples(held_app)
    assert (
        got[("background_jobs_outcome_latency_seconds_sum", (("job_type", "translate"),))] >= released_at - queuing_at
    )
