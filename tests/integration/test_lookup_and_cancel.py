"""``job_lookup`` and ``cancel`` against real ARQ workers: what a worker stored, and ARQ's abort taking effect."""

import asyncio
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.jobs import Job
from arq.jobs import JobStatus as ArqJobStatus
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.settings import Settings
from tests.support.burst_worker import run_burst_worker
from tests.support.communicator import receive_but_progress, socket_on
from tests.support.processes import WorkerProcess
from tests.support.protocol import CONNECTED, job_status

#: Seconds a slow job's simulated work takes here: far longer than any test waits for it.
SLOW_SCALE = 10.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Instant jobs, and outcomes recovered from ARQ's store at once (a cancel from elsewhere ends that way)."""
    return settings.model_copy(
        update={
            "result_recovery_grace": 0.0,
            "result_recovery_interval": 0.05,
            "keep_result": 120,
        }
    )


async def open_socket(app: FastAPI) -> WebsocketCommunicator:
    """Another socket on the app, its connected frame read."""
    ws = socket_on(app)
    assert (await ws.connect())[0]
    assert await ws.receive_json_from(timeout=2) == CONNECTED
    return ws


async def queue(ws: WebsocketCommunicator, job_type: str, content: str) -> str:
    """Queue a job over the socket; its id once it is reported queued."""
    await ws.send_json_to({"action": "job", "payload": {"type": job_type, "content": content}})
    job_id: str = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=2))["payload"]["status"] == "queued"
    return job_id


async def ask(ws: WebsocketCommunicator, action: str, job_id: str) -> Any:
    """Send a ``job_lookup`` or ``cancel`` frame and return the reply (past any progress frame)."""
    await ws.send_json_to({"action": action, "payload": {"job_id": job_id}})
    return await receive_but_progress(ws)


async def wait_for_key(pool: ArqRedis, key: str, timeout: float = 5.0) -> None:
    """Wait until ``key`` exists in Redis (ARQ's worker writes it; there is no event to wait on)."""
    async with asyncio.timeout(timeout):
        while not await pool.exists(key):  # noqa: ASYNC110 - polling another process's writes
            await asyncio.sleep(0.01)  # polling: there is no event for a key appearing


async def test_a_result_can_be_looked_up_from_a_new_socket_after_the_asking_socket_left(
    app: FastAPI, ws: WebsocketCommunicator, settings: Settings
) -> None:
    """A job runs though its socket left, and ``job_lookup`` from a new socket gives its ``result``."""
    job_id = await queue(ws, "translate", "good morning")
    await ws.disconnect()

    await run_burst_worker(settings)
    fresh = await open_socket(app)

    assert await ask(fresh, "job_lookup", job_id) == job_status(
        "result", job_id, "translate", "🌍 Translated: 'good morning' → 'buenos días'"
    )
    await fresh.disconnect()


async def test_a_failed_job_looks_up_with_the_error_text_its_live_frame_had(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """``job_lookup`` of a failed job answers the very ``error`` frame its socket got live."""
    job_id = await queue(ws, "generate", "slow")
    await run_burst_worker(settings.model_copy(update={"job_time_scale": 1.0, "task_timeouts": {"generate": 0.1}}))
    live = await receive_but_progress(ws)

    assert (
        await ask(ws, "job_lookup", job_id)
        == live
        == job_status("error", job_id, "generate", f"❌ Job {job_id} timed out after 0.1s")
    )


async def test_a_result_is_kept_for_keep_result_seconds(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    """A job's result is kept in ARQ's store for ``KEEP_RESULT`` seconds, as long as it can be looked up."""
    job_id = await queue(ws, "default", "kept")

    await run_burst_worker(settings)

    assert 0 < await pool.pttl(result_key_prefix + job_id) <= settings.keep_result * 1000


async def test_a_queued_job_cancelled_before_a_worker_takes_it_never_runs_and_looks_up_cancelled(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """``cancel`` of a queued job says ``cancelled``; the worker drops it unrun, and a lookup says ``cancelled``."""
    job_id = await queue(ws, "translate", "hello")

    assert await ask(ws, "cancel", job_id) == job_status("cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled")
    worker = await run_burst_worker(settings)

    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await ws.receive_nothing(timeout=0.3)
    assert await ask(ws, "job_lookup", job_id) == job_status(
        "cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled"
    )


@pytest.mark.processes
async def test_a_running_job_cancelled_is_stopped_by_the_arq_cli_worker_and_sends_no_result(
    ws: WebsocketCommunicator, pool: ArqRedis, redis_url: str, settings: Settings
) -> None:
    """``cancel`` of a running job says ``cancelled`` at once; the ``arq`` worker aborts it; no ``result`` is sent."""
    worker = WorkerProcess(redis_url, job_time_scale=str(SLOW_SCALE), worker_log_jobs="true")  # its log says "aborted"
    worker.start()
    try:
        worker.wait_ready()
        job_id = await queue(ws, "analyze", "a long text")
        await wait_for_key(pool, in_progress_key_prefix + job_id)
        running = await ask(ws, "job_lookup", job_id)
        progress = running["payload"].pop("progress", None)  # there once the task has made its first report
        assert progress is None or progress in range(101)
        assert running == job_status("in_progress", job_id, "analyze", f"⚙️ Job {job_id} is in progress")

        assert await ask(ws, "cancel", job_id) == job_status(
            "cancelled", job_id, "analyze", f"🛑 Job {job_id} cancelled"
        )

        await wait_for_key(pool, result_key_prefix + job_id)  # long before its 30 s of work would end
        assert await Job(job_id, pool, _queue_name=settings.queue_name).status() is ArqJobStatus.complete
        assert await ask(ws, "job_lookup", job_id) == job_status(
            "cancelled", job_id, "analyze", f"🛑 Job {job_id} cancelled"
        )
        assert await ws.receive_nothing(timeout=0.3)
    finally:
        worker.stop()
    assert "aborted" in worker.log()
    assert "Traceback" not in worker.log()


async def test_a_job_cancelled_from_another_socket_ends_on_its_own_socket_with_a_cancelled_frame(
    app: FastAPI, ws: WebsocketCommunicator, settings: Settings
) -> None:
    """``cancel`` from another socket says ``cancelled`` there, and the job's own socket gets ``cancelled`` too."""
    job_id = await queue(ws, "default", "mine")
    other = await open_socket(app)

    assert await ask(other, "cancel", job_id) == job_status(
        "cancelled", job_id, "default", f"🛑 Job {job_id} cancelled"
    )
    await run_burst_worker(settings)

    assert await ws.receive_json_from(timeout=2) == job_status(
        "cancelled", job_id, "default", f"🛑 Job {job_id} cancelled"
    )
    assert await other.receive_nothing(timeout=0.3)
    await other.disconnect()


async def test_cancelling_a_job_a_worker_has_finished_gets_an_error_frame_and_keeps_its_result(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """``cancel`` of a finished job gets ``❌ Job <id> has already finished``; a lookup still gives its ``result``."""
    job_id = await queue(ws, "default", "done")
    await run_burst_worker(settings)
    result = await ws.receive_json_from(timeout=2)

    assert await ask(ws, "cancel", job_id) == job_status(
        "error", job_id, "default", f"❌ Job {job_id} has already finished"
    )
    assert await ask(ws, "job_lookup", job_id) == result
