"""Jobs that fail in a real worker: the client hears which job failed and why."""

from typing import Any

from arq.worker import func
from chanx.fast_channels.testing import WebsocketCommunicator

from src.settings import Settings
from src.worker_side.progress_reporter import Progress
from tests.support.burst_worker import run_burst_worker
from tests.support.communicator import receive_but_progress
from tests.support.protocol import job_status
from tests.support.tasks import run_reported


async def test_a_job_that_raises_gets_an_error_frame_with_its_job_id(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """A task that raises ends its job with ``error`` (``❌ Job <id> failed: KeyError: …``) under its ``job_id``."""

    async def translate_with_a_bug(ctx: dict[str, Any], job_id: str, content: str, channel: str) -> Any:
        async def body(progress: Progress) -> str:
            raise KeyError("dictionary")

        return await run_reported(ctx, "translate", job_id, channel, body)

    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    await ws.receive_json_from(timeout=2)

    worker = await run_burst_worker(settings, functions=[func(translate_with_a_bug, name="translate")])

    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await ws.receive_json_from(timeout=2) == job_status(
        "error", job_id, "translate", f"❌ Job {job_id} failed: KeyError: 'dictionary'"
    )


async def test_a_job_over_its_timeout_gets_an_error_frame_with_its_job_id(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """A task past its timeout ends its job with ``error`` (``❌ Job <id> timed out after …s``), and nothing follows."""
    slow = settings.model_copy(update={"job_time_scale": 1.0, "task_timeouts": {"generate": 0.2}})
    await ws.send_json_to({"action": "job", "payload": {"type": "generate", "content": "long"}})
    job_id = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    await ws.receive_json_from(timeout=2)

    worker = await run_burst_worker(slow)

    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await receive_but_progress(ws) == job_status(
        "error", job_id, "generate", f"❌ Job {job_id} timed out after 0.2s"
    )
    assert await ws.receive_nothing()
