"""Jobs that fail in a real worker: the client hears which job failed and why."""

from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator

from src.settings import Settings
from tests.integration.conftest import run_burst_worker
from tests.integration.test_whole_path import job_status


async def channel_of(ws: WebsocketCommunicator, pool: ArqRedis) -> str:
    """The socket's channel name, read off a job it queued (and which is then removed)."""
    await ws.send_json_to({"action": "job", "payload": {"content": "probe"}})
    await ws.receive_json_from(timeout=2)
    await ws.receive_json_from(timeout=2)
    (probe,) = await pool.queued_jobs()
    await pool.zrem(pool.default_queue_name, probe.job_id)
    channel_name: str = probe.args[2]
    return channel_name


async def test_a_job_that_raises_gets_an_error_frame_with_its_job_id(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    channel_name = await channel_of(ws, pool)
    # A job whose content is not text, as a buggy producer might queue it: translate raises on it.
    await pool.enqueue_job("translate", "translate_bad", None, channel_name, _job_id="translate_bad")

    worker = await run_burst_worker(settings)

    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await ws.receive_json_from(timeout=2) == job_status(
        "error",
        "translate_bad",
        "translate",
        "❌ Job translate_bad failed: AttributeError: 'NoneType' object has no attribute 'lower'",
    )


async def test_a_job_over_its_timeout_gets_an_error_frame_with_its_job_id(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    slow = settings.model_copy(update={"job_time_scale": 1.0, "task_timeouts": {"generate": 0.2}})
    await ws.send_json_to({"action": "job", "payload": {"type": "generate", "content": "long"}})
    job_id = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    await ws.receive_json_from(timeout=2)

    worker = await run_burst_worker(slow)

    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await ws.receive_json_from(timeout=2) == job_status(
        "error", job_id, "generate", f"❌ Job {job_id} timed out after 0.2s"
    )
    assert await ws.receive_nothing()
