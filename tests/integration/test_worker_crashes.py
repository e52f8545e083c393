"""Workers that die or are stopped mid-job: the job still runs and the still-open socket gets its result.

Each test runs with either worker command: ``arq src.tasks.WorkerSettings`` (arq-cli) and ``python -m src.worker``
(src.worker).
"""

import itertools
import signal
from typing import Any

import httpx
import pytest

from tests.support.processes import ServerProcess, WorkerProcess, running, wait_for_output
from tests.support.protocol import has_status, is_final, is_progress, job
from tests.support.ws_driver import FramePredicate, JobSocket

pytestmark = pytest.mark.processes

PROMPT = 5.0
# A 4 s job; its worker's in-progress lock lasts the longest task timeout + 1 s grace + 10 s.
SETTINGS = {"job_time_scale": "1", "job_timeout": "5", "worker_log_jobs": "true"}
GENERATE_RESULT = (
    "🤖 AI Response to 'survive':\nThat's an interesting point... "
    "Based on my analysis, I would suggest exploring this topic further."
)


async def start_generate_job(ws: JobSocket, worker: WorkerProcess) -> str:
    """Queue a generate job and wait until ``worker`` has started it; return its id."""
    await ws.receive(timeout=PROMPT)
    await ws.send(job("generate", "survive"))
    job_id: str = (await ws.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]
    await wait_for_output(worker, f"→ {job_id}:generate", timeout=PROMPT)
    return job_id


def progress_of_at_least(percent: int) -> FramePredicate:
    """A ``progress`` frame saying at least ``percent``."""
    return lambda frame: is_progress(frame) and frame["payload"]["progress"] >= percent


def result_frame(job_id: str) -> dict[str, Any]:
    """The generate job's result frame."""
    return {
        "action": "job_status",
        "payload": {"status": "result", "job_id": job_id, "job_type": "generate", "message": GENERATE_RESULT},
    }


async def test_a_job_whose_worker_is_killed_is_rerun_by_a_new_worker_and_its_socket_gets_the_result(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    first, second = worker_class(redis_url, **SETTINGS), worker_class(redis_url, **SETTINGS)
    server = ServerProcess(redis_url, port=None, **SETTINGS)
    with running(first, server):
        async with JobSocket(http, server.ws_url) as ws:
            job_id = await start_generate_job(ws, first)
            first.kill()
            with running(second):
                final = (await ws.receive_until(is_final(job_id), timeout=45))[-1]

    assert final == result_frame(job_id)
    assert f"{job_id}:generate" in second.log()


async def test_a_worker_stopped_with_sigterm_finishes_its_running_job_first(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    worker = worker_class(redis_url, **SETTINGS)
    server = ServerProcess(redis_url, port=None, **SETTINGS)
    with running(worker, server):
        async with JobSocket(http, server.ws_url) as ws:
            job_id = await start_generate_job(ws, worker)
            worker.signal(signal.SIGTERM)
            final = (await ws.receive_until(is_final(job_id), timeout=15))[-1]
            exit_code = worker.wait_exit(timeout=15)

    assert final == result_frame(job_id)
    assert exit_code == 0


async def test_a_worker_stopped_with_sigterm_past_its_grace_requeues_the_job_for_another_worker(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    impatient = {**SETTINGS, "worker_shutdown_grace": "0"}
    first, second = worker_class(redis_url, **impatient), worker_class(redis_url, **impatient)
    server = ServerProcess(redis_url, port=None, **impatient)
    with running(first, server):
        async with JobSocket(http, server.ws_url) as ws:
            job_id = await start_generate_job(ws, first)
            first.signal(signal.SIGTERM)
            assert first.wait_exit(timeout=15) == 0
            assert f"{job_id}:generate cancelled, will be run again" in first.log()
            with running(second):
                final = (await ws.receive_until(is_final(job_id), timeout=15))[-1]

    assert final == result_frame(job_id)


async def test_a_rerun_after_a_worker_is_killed_mid_job_never_takes_the_bar_back_and_keeps_its_pace(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """The first run is killed past 50 %; the re-run, seconds later (ARQ's lock), sends frames that never say less
    than that, with growing prefixes of the text, at least one per 0.5 s, and then the result."""
    first, second = worker_class(redis_url, **SETTINGS), worker_class(redis_url, **SETTINGS)
    server = ServerProcess(redis_url, port=None, **SETTINGS)
    with running(first, server):
        async with JobSocket(http, server.ws_url) as ws:
            job_id = await start_generate_job(ws, first)
            reached = (await ws.receive_until(progress_of_at_least(50), timeout=PROMPT))[-1]["payload"]["progress"]
            killed_at = ws.frames[-1].at
            first.kill()
            with running(second):
                final = (await ws.receive_until(is_final(job_id), timeout=45))[-1]

    rerun = [frame for frame in ws.frames if is_progress(frame.data) and frame.at > killed_at + 5]
    percents = [frame.data["payload"]["progress"] for frame in rerun]
    partials = [frame.data["payload"]["partial"] for frame in rerun]
    assert final == result_frame(job_id)
    assert len(rerun) >= 4 / 0.5
    assert percents[0] >= reached
    assert percents == sorted(percents)
    assert all(GENERATE_RESULT.startswith(partial) for partial in partials)
    assert all(len(earlier) <= len(later) for earlier, later in itertools.pairwise(partials))
    assert all(later.at - earlier.at <= 0.5 for earlier, later in itertools.pairwise(rerun))
