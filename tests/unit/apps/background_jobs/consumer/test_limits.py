"""The per-socket limit on unfinished jobs (``MAX_JOBS_IN_FLIGHT``), in-process: a job over it gets an error frame with
its own id and is not queued, jobs being queued count, finished and cancelled ones no longer do, and the socket goes
on serving."""

from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from dirty_equals import IsStr

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.settings import Settings
from tests.support.protocol import PING, PONG, job_status

LIMIT = 2
WS_MAX_SIZE = 100


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings with small limits: two jobs in flight, frames of 100 bytes."""
    return Settings(
        redis_url="redis://unit-tests-use-no-redis:1",
        job_time_scale=0.0,
        max_jobs_in_flight=LIMIT,
        ws_max_size=WS_MAX_SIZE,
    )


def job(job_type: str = "default", content: str = "hi") -> dict[str, Any]:
    """A job frame."""
    return {"action": "job", "payload": {"type": job_type, "content": content}}


async def queue_job(ws: WebsocketCommunicator) -> str:
    """Queue a default job over the socket; its id once it is reported queued."""
    await ws.send_json_to(job())
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    return job_id


async def test_a_job_over_max_jobs_in_flight_gets_an_error_frame_with_its_own_id_and_is_not_queued(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """At ``MAX_JOBS_IN_FLIGHT`` jobs awaiting their outcome, one more gets ``error`` under a fresh id, not queued."""
    queued = [await queue_job(ws) for _ in range(LIMIT)]

    await ws.send_json_to(job("translate"))

    refused = await ws.receive_json_from(timeout=1)
    assert refused == job_status(
        "error",
        IsStr(regex=r"translate_[0-9a-f]{32}"),
        "translate",
        f"❌ Too many jobs in flight ({LIMIT}); wait for one to finish",
    )
    assert refused["payload"]["job_id"] not in queued
    assert sorted(str(j.job_id) for j in await pool.queued_jobs()) == sorted(queued)


async def test_jobs_sent_in_the_same_instant_count_against_the_limit_while_being_queued(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    for _ in range(LIMIT + 1):
        await ws.send_json_to(job())

    frames = [await ws.receive_json_from(timeout=1) for _ in range(2 * LIMIT + 1)]

    assert sorted(f["payload"]["status"] for f in frames) == ["error"] + ["queued"] * LIMIT + ["queuing"] * LIMIT
    assert len(await pool.queued_jobs()) == LIMIT


async def test_a_job_whose_outcome_was_sent_no_longer_counts_against_the_limit(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    first, _ = [await queue_job(ws) for _ in range(LIMIT)]
    channel_name = (await pool.queued_jobs())[0].args[2]
    outcome = JobOutcome(status="result", job_id=first, job_type="default", message="✅ Processed: HI")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel_name)
    await ws.receive_json_from(timeout=1)

    await queue_job(ws)

    assert len(await pool.queued_jobs()) == LIMIT + 1


async def test_a_cancelled_job_no_longer_counts_against_the_limit(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    first, _ = [await queue_job(ws) for _ in range(LIMIT)]
    await ws.send_json_to({"action": "cancel", "payload": {"job_id": first}})
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "cancelled"

    await queue_job(ws)

    assert len(await pool.queued_jobs()) == LIMIT + 1


async def test_a_job_refused_over_the_limit_leaves_the_socket_serving(ws: WebsocketCommunicator) -> None:
    for _ in range(LIMIT):
        await queue_job(ws)
    await ws.send_json_to(job())
    await ws.receive_json_from(timeout=1)

    await ws.send_json_to(PING)

    assert await ws.receive_json_from(timeout=1) == PONG
