"""SIGTERM: the worker stops taking jobs while it lets its running one finish (``WORKER_SHUTDOWN_GRACE``); a job
queued meanwhile waits on the queue and runs on the next worker.

With either worker command: ``arq src.tasks.WorkerSettings`` (arq-cli) and ``python -m src.worker`` (src.worker).
"""

import signal

import httpx
import pytest
import redis

from tests.integration.test_worker_crashes import PROMPT, SETTINGS, result_frame, start_generate_job
from tests.support.processes import ServerProcess, WorkerProcess, running, wait_for_output
from tests.support.protocol import has_status, is_final, job, job_status
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

#: What ARQ's worker logs once its SIGTERM handler has turned off taking jobs (``WORKER_SHUTDOWN_GRACE`` > 0).
STOPPED_TAKING_JOBS = "shutdown on SIGTERM"
#: ``QUEUE_NAME``'s default, and ARQ's key a running job holds.
QUEUE_NAME = "arq:queue"
IN_PROGRESS_KEY_PREFIX = "arq:in-progress:"
#: The generate job (4 s at ``JOB_TIME_SCALE=1``) finishes well within ``WORKER_SHUTDOWN_GRACE``'s default 8 s.
FINISH_WITHIN = 15.0


def waiting_untaken(url: str, job_id: str) -> bool:
    """Whether ``job_id`` is on ARQ's queue and no worker holds it."""
    client = redis.Redis.from_url(url)
    try:
        return client.zscore(QUEUE_NAME, job_id) is not None and not client.exists(IN_PROGRESS_KEY_PREFIX + job_id)
    finally:
        client.close()


async def test_a_worker_given_sigterm_takes_no_new_job_while_it_finishes_its_running_one_and_the_next_worker_runs_it(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """A worker given SIGTERM finishes its running job but takes no new one; the next worker runs that one."""
    first, second = worker_class(redis_url, **SETTINGS), worker_class(redis_url, **SETTINGS)
    server = ServerProcess(redis_url, port=None, **SETTINGS)
    with running(first, server):
        async with JobSocket(http, server.ws_url) as ws:
            running_id = await start_generate_job(ws, first)
            mark = first.log_size()
            first.signal(signal.SIGTERM)
            await wait_for_output(first, STOPPED_TAKING_JOBS, timeout=PROMPT, since=mark)

            await ws.send(job("default", "after the sigterm"))
            late_id = (await ws.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]
            # The first worker is still running the generate job, for seconds yet: it would take the new one now.
            running_final = (await ws.receive_until(is_final(running_id), timeout=FINISH_WITHIN))[-1]
            assert running_final == result_frame(running_id)
            assert first.wait_exit(timeout=FINISH_WITHIN) == 0
            assert f"{late_id}:default" not in first.log()
            assert waiting_untaken(redis_url, late_id)

            with running(second):
                late_final = (await ws.receive_until(is_final(late_id), timeout=PROMPT))[-1]

    assert late_final == job_status("result", late_id, "default", "✅ Processed: AFTER THE SIGTERM")
    assert f"→ {late_id}:default" in second.log()
