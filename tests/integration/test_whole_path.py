"""The whole path on a real Redis: app pool → ARQ queue → a real worker → Redis channel layer → the socket."""

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator

from src.settings import Settings
from tests.support.burst_worker import run_burst_worker
from tests.support.processes import WorkerProcess
from tests.support.protocol import job_status


async def queue_translate_hello(ws: WebsocketCommunicator) -> str:
    """Send a translate job of "hello"; return its id once it is reported queued."""
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    queuing = await ws.receive_json_from(timeout=2)
    job_id: str = queuing["payload"]["job_id"]
    assert await ws.receive_json_from(timeout=2) == job_status(
        "queued", job_id, "translate", f"📋 Job {job_id} queued successfully!"
    )
    return job_id


async def test_job_runs_on_an_in_process_worker_and_its_result_reaches_the_socket_through_redis(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_translate_hello(ws)

    worker = await run_burst_worker(settings)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert await ws.receive_json_from(timeout=2) == job_status(
        "result", job_id, "translate", "🌍 Translated: 'hello' → 'hola'"
    )
    assert await ws.receive_nothing()


@pytest.mark.processes
async def test_job_runs_on_a_worker_process_and_its_result_reaches_the_socket(
    worker_class: type[WorkerProcess], ws: WebsocketCommunicator, redis_url: str
) -> None:
    """A job run by a worker process (either command) sends its ``result`` frame to the socket that queued it."""
    worker = worker_class(redis_url, job_time_scale="0")
    worker.start()
    try:
        worker.wait_ready()
        job_id = await queue_translate_hello(ws)

        assert await ws.receive_json_from(timeout=5) == job_status(
            "result", job_id, "translate", "🌍 Translated: 'hello' → 'hola'"
        )
    finally:
        worker.stop()
    assert "Traceback" not in worker.log()


async def test_jobs_of_one_type_sent_in_the_same_instant_all_run_and_each_result_carries_its_own_id(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """Twelve jobs sent at once each get their ``result``, with their text, under the ``job_id`` ``queued`` gave."""
    contents = [f"text {n}" for n in range(12)]
    for content in contents:
        await ws.send_json_to({"action": "job", "payload": {"type": "default", "content": content}})
    frames = [await ws.receive_json_from(timeout=2) for _ in range(2 * len(contents))]
    queued = {f["payload"]["job_id"]: f for f in frames if f["payload"]["status"] == "queued"}

    await run_burst_worker(settings)
    results = [await ws.receive_json_from(timeout=2) for _ in contents]

    assert len(queued) == len(contents)
    queuing_content = {
        f["payload"]["job_id"]: f["payload"]["message"].removeprefix("⏳ Queuing default job: ")
        for f in frames
        if f["payload"]["status"] == "queuing"
    }
    assert sorted(r["payload"]["job_id"] for r in results) == sorted(queued)
    for result in results:
        job_id = result["payload"]["job_id"]
        assert result == job_status("result", job_id, "default", f"✅ Processed: {queuing_content[job_id].upper()}")
