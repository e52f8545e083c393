"""The consumer in-process (chanx's WebsocketCommunicator) with its ARQ pool on fakeredis."""

import asyncio
from typing import Any

import pytest
from arq import ArqRedis
from arq.jobs import JobDef
from chanx.fast_channels.testing import WebsocketCommunicator
from dirty_equals import IsStr
from fakeredis import FakeServer

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.web.job_queue import JobQueue
from tests.support.protocol import job_status

JOB_ID = IsStr(regex=r"translate_[0-9a-f]{32}")


async def receive_frames(ws: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next ``count`` frames, each waited for with a timeout."""
    return [await ws.receive_json_from(timeout=1) for _ in range(count)]


async def only_queued_job(pool: ArqRedis) -> JobDef:
    """The one job on the queue."""
    (job,) = await pool.queued_jobs()
    return job


async def test_ping_gets_pong(ws: WebsocketCommunicator) -> None:
    """``{"action":"ping"}`` is answered with ``{"action":"pong","payload":null}``."""
    await ws.send_json_to({"action": "ping"})

    assert await ws.receive_json_from(timeout=1) == {"action": "pong", "payload": None}


async def test_job_reports_queuing_then_queued_with_one_job_id(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    """A ``job`` gets ``queuing`` then ``queued`` (the seed's texts) under one ``translate_<32 hex>`` id; no more."""
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})

    frames = await receive_frames(ws, 2)

    job_id = frames[0]["payload"]["job_id"]
    assert frames == [
        job_status("queuing", JOB_ID, "translate", "⏳ Queuing translate job: hello"),
        job_status("queued", job_id, "translate", f"📋 Job {job_id} queued successfully!"),
    ]
    assert await ws.receive_nothing()


async def test_job_is_enqueued_under_its_id_with_content_and_channel_name(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await ws.send_json_to({"action": "job", "payload": {"type": "analyze", "content": "two words"}})
    _, queued = await receive_frames(ws, 2)

    job = await only_queued_job(pool)

    job_id = queued["payload"]["job_id"]
    assert (job.job_id, job.function) == (job_id, "analyze")
    assert job.args == (job_id, "two words", IsStr(regex=r"specific\..+"))


async def test_unknown_job_type_runs_default_and_the_frames_say_so(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    """A job of an unknown ``type`` is queued as ``default``; its ``queuing`` and ``queued`` frames say ``default``."""
    await ws.send_json_to({"action": "job", "payload": {"type": "summarize", "content": "hi"}})

    queuing, queued = await receive_frames(ws, 2)

    assert queuing == job_status("queuing", IsStr(regex="default_.+"), "default", "⏳ Queuing default job: hi")
    assert queued["payload"]["job_type"] == "default"
    assert (await only_queued_job(pool)).function == "default"


async def test_job_without_type_runs_default(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    await ws.send_json_to({"action": "job", "payload": {"content": "hi"}})

    queuing, _ = await receive_frames(ws, 2)

    assert queuing["payload"]["job_type"] == "default"
    assert (await only_queued_job(pool)).function == "default"


async def test_jobs_of_one_type_sent_in_the_same_instant_get_distinct_ids(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    for _ in range(5):
        await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})

    frames = await receive_frames(ws, 10)

    queued_ids = [f["payload"]["job_id"] for f in frames if f["payload"]["status"] == "queued"]
    assert len(set(queued_ids)) == 5
    assert sorted(str(job.job_id) for job in await pool.queued_jobs()) == sorted(queued_ids)


async def test_result_event_becomes_the_result_frame_for_that_job(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    await receive_frames(ws, 2)
    job = await only_queued_job(pool)
    job_id, _, channel_name = job.args

    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel_name)

    assert await ws.receive_json_from(timeout=1) == job_status("result", job_id, "translate", "🌍 done")


async def test_worker_error_event_becomes_an_error_frame_for_that_job(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await ws.send_json_to({"action": "job", "payload": {"type": "generate", "content": "x"}})
    await receive_frames(ws, 2)
    job_id, _, channel_name = (await only_queued_job(pool)).args

    outcome = JobOutcome(status="error", job_id=job_id, job_type="generate", message="❌ boom")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel_name)

    assert await ws.receive_json_from(timeout=1) == job_status("error", job_id, "generate", "❌ boom")


async def test_lost_redis_gives_an_error_frame_and_the_socket_keeps_serving(
    ws: WebsocketCommunicator, redis_server: FakeServer
) -> None:
    """With Redis gone, a job gets ``error``: the job queue is unavailable; ``ping`` still gets ``pong``."""
    redis_server.connected = False

    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    queuing, error = await receive_frames(ws, 2)

    assert error == job_status(
        "error",
        queuing["payload"]["job_id"],
        "translate",
        "❌ Error queuing job: the job queue is unavailable",
    )
    await ws.send_json_to({"action": "ping"})
    assert await ws.receive_json_from(timeout=1) == {"action": "pong", "payload": None}


async def test_a_result_arriving_during_the_enqueue_waits_for_the_queued_frame(
    ws: WebsocketCommunicator, pool: ArqRedis, jobs: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``result`` event that comes while the job is still being enqueued is held, and sent after ``queued``."""
    enqueued = asyncio.Event()
    release = asyncio.Event()
    enqueue = jobs.writer.enqueue

    async def slow_enqueue(*args: Any) -> bool:
        queued = await enqueue(*args)
        enqueued.set()
        await release.wait()
        return queued

    monkeypatch.setattr(jobs.writer, "enqueue", slow_enqueue)
    await ws.send_json_to({"action": "job", "payload": {"type": "default", "content": "fast"}})
    queuing = await ws.receive_json_from(timeout=1)
    await asyncio.wait_for(enqueued.wait(), timeout=1)
    job_id, _, channel_name = (await only_queued_job(pool)).args

    outcome = JobOutcome(status="result", job_id=job_id, job_type="default", message="✅ Processed: FAST")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel_name)
    assert await ws.receive_nothing(timeout=0.2)
    release.set()

    assert [queuing, *await receive_frames(ws, 2)] == [
        job_status("queuing", job_id, "default", "⏳ Queuing default job: fast"),
        job_status("queued", job_id, "default", f"📋 Job {job_id} queued successfully!"),
        job_status("result", job_id, "default", "✅ Processed: FAST"),
    ]
