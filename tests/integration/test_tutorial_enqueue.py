"""The tutorial's enqueue, kept for the benchmark (``bench/tutorial_app.py``): a pool per job, the same jobs."""

import pytest

from bench.tutorial_app import TutorialParts, tutorial_app
from src.settings import Settings
from src.web.job_queue import JobQueue, QueueError
from tests.support.burst_worker import run_burst_worker
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, job_status


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Instant jobs on a queue of another name; no recovery for a while."""
    return settings.model_copy(
        update={
            "queue_name": "q:tutorial",
            "result_recovery_grace": 60.0,  # the result must come as the worker's event, not be looked up
        }
    )


async def test_a_job_enqueued_on_a_pool_of_its_own_runs_and_its_result_reaches_the_socket_under_its_id(
    settings: Settings,
) -> None:
    app = tutorial_app(settings)
    ws = socket_on(app)
    async with app.router.lifespan_context(app):
        assert (await ws.connect())[0]
        assert await ws.receive_json_from(timeout=2) == CONNECTED
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
        await ws.disconnect()


async def test_an_enqueue_on_a_pool_of_its_own_that_redis_does_not_take_in_time_fails_saying_so() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1", enqueue_timeout=0.2)
    jobs = JobQueue(settings, TutorialParts(settings))
    await jobs.open()

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await jobs.enqueue("default", "default_1", "x", "channel")
    await jobs.close()
