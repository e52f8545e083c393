"""The consumer relays a running job's progress: after ``queued``, before the outcome, never going down, nothing
after a cancel; and a lookup of a running job gives its latest progress."""

import asyncio
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import in_progress_key_prefix
from chanx.fast_channels.testing import WebsocketCommunicator

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobProgress, JobResult, ProgressUpdate
from src.apps.background_jobs.progress import store_progress
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import job_status


def progress_status(job_id: str, job_type: str, percent: int, partial: str | None = None) -> dict[str, Any]:
    """The progress frame the protocol prescribes (issue 13), written out here as the oracle."""
    payload: dict[str, Any] = {
        "status": "progress",
        "job_id": job_id,
        "job_type": job_type,
        "progress": percent,
        "message": f"⚙️ Job {job_id}: {percent}%",
    }
    if partial is not None:
        payload["partial"] = partial
    return {"action": "job_status", "payload": payload}


async def queue_job(ws: WebsocketCommunicator, pool: ArqRedis, job_type: str = "translate") -> tuple[str, str]:
    """Queue a job over the socket: its id and the socket's channel, once it is reported queued."""
    await ws.send_json_to({"action": "job", "payload": {"type": job_type, "content": "hello"}})
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    (job,) = await pool.queued_jobs()
    return job_id, job.args[2]


async def report(job_id: str, job_type: str, channel: str, percent: int, partial: str | None = None) -> None:
    """What a task's reporter sends through the channel layer."""
    update = ProgressUpdate(job_id=job_id, job_type=job_type, progress=percent, partial=partial)
    await BackgroundJobConsumer.send_event(JobProgress(payload=update), channel)


async def finish(job_id: str, job_type: str, channel: str, text: str) -> None:
    outcome = JobOutcome(status="result", job_id=job_id, job_type=job_type, message=text)
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)


async def test_progress_events_become_progress_frames_then_the_result(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    job_id, channel = await queue_job(ws, pool)

    for percent in (0, 40, 80):
        await report(job_id, "translate", channel, percent)
    await finish(job_id, "translate", channel, "🌍 done")

    assert [await ws.receive_json_from(timeout=1) for _ in range(4)] == [
        progress_status(job_id, "translate", 0),
        progress_status(job_id, "translate", 40),
        progress_status(job_id, "translate", 80),
        job_status("result", job_id, "translate", "🌍 done"),
    ]


async def test_a_streaming_jobs_frames_carry_its_partial_text(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    job_id, channel = await queue_job(ws, pool, "generate")

    await report(job_id, "generate", channel, 50, partial="🤖 AI")

    assert await ws.receive_json_from(timeout=1) == progress_status(job_id, "generate", 50, partial="🤖 AI")


async def test_progress_that_would_go_down_is_not_relayed(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    job_id, channel = await queue_job(ws, pool)

    for percent in (60, 20, 60, 90):  # a re-run after a crash starts over
        await report(job_id, "translate", channel, percent)

    frames = [await ws.receive_json_from(timeout=1) for _ in range(3)]
    assert [frame["payload"]["progress"] for frame in frames] == [60, 60, 90]
    assert await ws.receive_nothing(timeout=0.1)


async def test_nothing_follows_the_outcome(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    job_id, channel = await queue_job(ws, pool)
    await finish(job_id, "translate", channel, "🌍 done")
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "result"

    await report(job_id, "translate", channel, 99)

    assert await ws.receive_nothing(timeout=0.2)


async def test_nothing_follows_a_cancel(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    """After ``cancelled``, neither a ``progress`` nor a ``result`` event for the job sends a frame."""
    job_id, channel = await queue_job(ws, pool)
    await report(job_id, "translate", channel, 10)
    assert (await ws.receive_json_from(timeout=1))["payload"]["progress"] == 10
    await ws.send_json_to({"action": "cancel", "payload": {"job_id": job_id}})
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "cancelled"

    await report(job_id, "translate", channel, 50)
    await finish(job_id, "translate", channel, "🌍 too late")

    assert await ws.receive_nothing(timeout=0.2)


async def test_progress_for_a_job_this_socket_did_not_queue_is_not_relayed(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    _, channel = await queue_job(ws, pool)

    await report("translate_" + "0" * 32, "translate", channel, 50)

    assert await ws.receive_nothing(timeout=0.2)


async def test_progress_arriving_during_the_enqueue_waits_for_the_queued_frame(
    ws: WebsocketCommunicator, pool: ArqRedis, jobs: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    job_id, _, channel = (await pool.queued_jobs())[0].args

    await report(job_id, "default", channel, 30)
    assert await ws.receive_nothing(timeout=0.2)
    release.set()

    assert [queuing["payload"]["status"], *[(await ws.receive_json_from(timeout=1)) for _ in range(2)]] == [
        "queuing",
        job_status("queued", job_id, "default", f"📋 Job {job_id} queued successfully!"),
        progress_status(job_id, "default", 30),
    ]


async def test_a_lookup_of_a_running_job_gives_its_latest_progress_from_any_socket(
    app: Any, ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    job_id, _ = await queue_job(ws, pool, "generate")
    await pool.set(in_progress_key_prefix + job_id, b"1")
    update = ProgressUpdate(job_id=job_id, job_type="generate", progress=37, partial="🤖 AI Resp")
    await store_progress(pool, update, 60)
    other = socket_on(app)
    assert (await other.connect())[0]
    await other.receive_json_from(timeout=1)

    await other.send_json_to({"action": "job_lookup", "payload": {"job_id": job_id}})

    assert await other.receive_json_from(timeout=1) == {
        "action": "job_status",
        "payload": {
            "status": "in_progress",
            "job_id": job_id,
            "job_type": "generate",
            "message": f"⚙️ Job {job_id} is in progress",
            "progress": 37,
            "partial": "🤖 AI Resp",
        },
    }
    await other.disconnect()
