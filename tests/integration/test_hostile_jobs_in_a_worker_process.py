"""No job can end a worker process: with either worker command (and, in ``tox -e integration-stock``, with
``FAST_PATH=false``), jobs whose text UTF-8 cannot carry finish as their results and the worker serves the next
socket's job."""

import httpx
import pytest
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.jobs import Job

from tests.support.processes import ServerProcess, WorkerProcess, running
from tests.support.protocol import PROMPT, has_status, is_final, job, job_status
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

SETTINGS = {"job_time_scale": "0.05"}


async def test_a_worker_process_finishes_jobs_holding_lone_surrogates_and_serves_the_next_job(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    worker = worker_class(redis_url, **SETTINGS)
    server = ServerProcess(redis_url, port=None, **SETTINGS)
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        with running(worker, server):
            hostile = [
                await pool.enqueue_job("default", "default_h1", "\ud800", "asgi.specific.x!y", _job_id="default_h1"),
                await pool.enqueue_job("generate", "generate_h2", "a\udfffb", "asgi.x\udbff", _job_id="generate_h2"),
            ]
            stored = [await held.result(timeout=10) for held in hostile if held is not None]
            async with JobSocket(http, server.ws_url) as ws:
                await ws.receive(timeout=PROMPT)
                await ws.send(job("default", "after"))
                job_id = (await ws.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]
                final = (await ws.receive_until(is_final(job_id), timeout=10))[-1]
            alive = worker.is_running()
            statuses = [await Job(hostile_id, pool).status() for hostile_id in ("default_h1", "generate_h2")]
    finally:
        await pool.aclose()

    assert [result["result"].split("\n")[0] for result in stored] == [
        "✅ Processed: \ufffd",
        "🤖 AI Response to 'a\ufffdb':",
    ]
    assert final == job_status("result", job_id, "default", "✅ Processed: AFTER")
    assert alive
    assert [status.value for status in statuses] == ["complete", "complete"]
