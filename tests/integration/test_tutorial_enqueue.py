"""The tutorial's enqueue, kept for the benchmark's comparison (``ENQUEUE_POOL_PER_JOB``): a pool per job, same jobs."""

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator

from src.settings import Settings
from src.web.job_queue import JobQueue, QueueError
from tests.support.burst_worker import run_burst_worker
from tests.support.protocol import job_status


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Instant jobs, each enqueued on a Redis pool of its own, on a queue of another name; no recovery for a while."""
    return settings.model_copy(
        update={
            "enqueue_pool_per_job": True,
            "queue_name": "q:tutorial",
            "result_recovery_grace": 60.0,  # the result must come as the worker's event, not be looked up
        }
    )


async def test_a_job_enqueued_on_a_pool_of_its_own_runs_and_its_result_reaches_the_socket_under_its_id(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    await ws.send_json_to({"action": "job", "payload": {"type": "analyze", "content": "hi there"}})
    job_id = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=2))["payload"]["status"] == "queued"

    worker = await run_burst_worker(settings)

    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    result = job_status(
        "result", job_id, "analyze", "📊 Analysis of 'hi there':\n• Characters: 8\n• Words: 2\n• Vowels: 3"
    )
    assert await ws.receive_json_from(timeout=2) == result
    await ws.send_json_to({"action": "job_lookup", "payload": {"job_id": job_id}})
    assert await ws.receive_json_from(timeout=2) == result  # ARQ stored it under the same id


async def test_an_enqueue_on_a_pool_of_its_own_that_redis_does_not_take_in_time_fails_saying_so() -> None:
    jobs = JobQueue(Settings(redis_url="redis://127.0.0.1:1", enqueue_pool_per_job=True, enqueue_timeout=0.2))

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await jobs.enqueue("default", "default_1", "x", "channel")
