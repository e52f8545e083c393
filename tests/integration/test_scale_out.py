"""Scale-out: two app instances and two workers on one Redis; every client gets exactly its own results.

With either worker command: ``arq src.tasks.WorkerSettings`` (arq-cli) and ``python -m src.worker`` (src.worker).
"""

import asyncio
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.support.processes import ServerProcess, WorkerProcess, running
from tests.support.protocol import job
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

PROMPT = 5.0
CLIENTS_PER_SERVER = 3
JOBS_PER_CLIENT = 4


async def run_client(ws: JobSocket, name: str) -> dict[str, str]:
    """Send this client's jobs at once; return each job's id → the result text it got."""
    await ws.receive(timeout=PROMPT)
    for n in range(JOBS_PER_CLIENT):
        await ws.send(job("default", f"{name} job {n}"))
    frames = [await ws.receive(timeout=PROMPT) for _ in range(3 * JOBS_PER_CLIENT)]
    assert await ws.receive_nothing(timeout=0.3)
    by_status: dict[str, dict[str, str]] = {}
    for frame in frames:
        payload = frame["payload"]
        by_status.setdefault(payload["status"], {})[payload["job_id"]] = payload["message"]
    assert by_status.keys() == {"queuing", "queued", "result"}
    assert by_status["queuing"].keys() == by_status["queued"].keys() == by_status["result"].keys()
    return by_status["result"]


async def test_clients_on_two_app_instances_each_receive_exactly_their_own_results(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    settings = {"job_time_scale": "0"}
    servers = [ServerProcess(redis_url, port=None, **settings) for _ in range(2)]
    workers = [worker_class(redis_url, **settings) for _ in range(2)]
    with running(*workers, *servers):
        async with AsyncExitStack() as stack:
            clients = {
                f"client {s}.{c}": await stack.enter_async_context(JobSocket(http, server.ws_url))
                for s, server in enumerate(servers)
                for c in range(CLIENTS_PER_SERVER)
            }
            received = await asyncio.gather(*(run_client(ws, name) for name, ws in clients.items()))

    for name, results in zip(clients, received, strict=True):
        expected = {f"✅ Processed: {name.upper()} JOB {n}" for n in range(JOBS_PER_CLIENT)}
        assert sorted(results.values()) == sorted(expected)
    all_ids = [job_id for results in received for job_id in results]
    assert len(set(all_ids)) == len(clients) * JOBS_PER_CLIENT
