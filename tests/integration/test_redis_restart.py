"""Redis goes away and comes back: the web side fails fast while it is down, and everything heals after.

One outage is staged per worker command (real ``uvicorn`` and worker processes on a private, persistent
``redis-server`` that is stopped and restarted on the same port); each test reads one observation of it,
once with ``arq src.tasks.WorkerSettings`` (arq-cli) and once with ``python -m src.worker`` (src.worker).
"""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.processes import ServerProcess, WorkerProcess, running
from tests.support.protocol import has_status, is_final, job
from tests.support.redis_provider import RedisServerProcess
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

TIME_SCALE = 0.5  # generate runs 2 s: long enough to be running while Redis is away
PROMPT = 5.0
HEAL = 20.0
#: The tasks' timeout here: ARQ's in-progress lock on a job lasts it + 1 s grace + 10 s.
JOB_TIMEOUT = 5
#: How long the job queued before the outage may take to reach its socket. Redis is stopped the moment the job is
#: queued, while the worker may be claiming it: with ARQ's own worker (arq-cli) a claim whose EXEC Redis applied but
#: whose reply the stop cut off is taken as lost, and the job's in-progress lock keeps it from running until the lock
#: expires (then it runs: at least once, later). So: the lock, the job's 2 s, and HEAL's margin for the rest.
PENDING_HEAL = JOB_TIMEOUT + 1 + 10 + 2 + HEAL / 2
#: The server's ``ENQUEUE_TIMEOUT`` (its default, set here so the bound below reads it).
ENQUEUE_TIMEOUT = 1.0
#: How much later than ``ENQUEUE_TIMEOUT`` the error frame may come: the frame's trip over loopback both ways and the
#: server's own handling around its wait (milliseconds on an idle machine), with room for a loaded 2-core box's
#: scheduling, and well short of a second ``ENQUEUE_TIMEOUT``.
ERROR_FRAME_MARGIN = 0.3


@dataclass
class Outage:
    """What the clients and processes showed across one Redis restart."""

    error_during: dict[str, Any] = field(default_factory=dict)
    error_after: float = 0.0
    refused_close_code: int | None = None
    pending_final: dict[str, Any] = field(default_factory=dict)
    pending_job_id: str = ""
    old_socket_final: dict[str, Any] = field(default_factory=dict)
    new_socket_final: dict[str, Any] = field(default_factory=dict)
    worker_alive: bool = False
    server_log: str = ""
    worker_log: str = ""


async def stage(redis_server: RedisServerProcess, server: ServerProcess, worker: WorkerProcess) -> Outage:
    """Run the outage and record what each side saw."""
    seen = Outage()
    async with httpx.AsyncClient() as http, JobSocket(http, server.ws_url) as before:
        await before.receive(timeout=PROMPT)
        await before.send(job("generate", "queued before the outage"))
        queued = (await before.receive_until(has_status("queued"), timeout=PROMPT))[-1]
        seen.pending_job_id = queued["payload"]["job_id"]

        redis_server.stop()
        started = time.monotonic()
        await before.send(job("default", "during the outage"))
        seen.error_during = (await before.receive_until(has_status("error"), timeout=PROMPT))[-1]
        seen.error_after = time.monotonic() - started
        async with JobSocket(http, server.ws_url) as refused:
            seen.refused_close_code = await refused.receive_close(timeout=PROMPT)

        redis_server.start()
        seen.pending_final = (await before.receive_until(is_final(seen.pending_job_id), timeout=PENDING_HEAL))[-1]
        await before.send(job("translate", "hello"))
        queuing = await before.receive(timeout=HEAL)
        seen.old_socket_final = (await before.receive_until(is_final(queuing["payload"]["job_id"]), HEAL))[-1]

        async with JobSocket(http, server.ws_url) as after:
            await after.receive(timeout=PROMPT)
            await after.send(job("translate", "world"))
            queuing = await after.receive(timeout=PROMPT)
            seen.new_socket_final = (await after.receive_until(is_final(queuing["payload"]["job_id"]), HEAL))[-1]
    seen.worker_alive = worker.is_running()
    return seen


@pytest.fixture(scope="module")
def outage(worker_class: type[WorkerProcess]) -> Iterator[Outage]:
    """Stage the outage once per worker command, with its own Redis, server and worker, all stopped afterwards."""
    redis_server = RedisServerProcess(persistent=True)
    redis_server.start()
    settings = {"job_time_scale": str(TIME_SCALE), "job_timeout": str(JOB_TIMEOUT)}
    worker = worker_class(redis_server.url, **settings)
    server = ServerProcess(redis_server.url, port=None, enqueue_timeout=str(ENQUEUE_TIMEOUT), **settings)
    try:
        with running(worker, server):
            seen = asyncio.run(stage(redis_server, server, worker))
        seen.server_log, seen.worker_log = server.log(), worker.log()
        yield seen
    finally:
        redis_server.close()


def test_while_redis_is_down_a_job_gets_an_error_frame_within_the_enqueue_timeout(outage: Outage) -> None:
    payload = outage.error_during["payload"]
    assert payload == {
        "status": "error",
        "job_id": payload["job_id"],
        "job_type": "default",
        "message": "❌ Error queuing job: the job queue is unavailable",
    }
    assert outage.error_after <= ENQUEUE_TIMEOUT + ERROR_FRAME_MARGIN


def test_while_redis_is_down_a_new_handshake_is_closed_with_1013_try_again_later(outage: Outage) -> None:
    assert outage.refused_close_code == 1013


def test_a_job_queued_before_the_outage_still_reaches_its_socket(outage: Outage) -> None:
    assert outage.pending_final["payload"] == {
        "status": "result",
        "job_id": outage.pending_job_id,
        "job_type": "generate",
        "message": (
            "🤖 AI Response to 'queued before the outage':\nThat's an interesting point... "
            "Based on my analysis, I would suggest exploring this topic further."
        ),
    }


def test_after_redis_returns_a_socket_opened_before_the_outage_gets_results_again(outage: Outage) -> None:
    assert outage.old_socket_final["payload"]["status"] == "result"
    assert outage.old_socket_final["payload"]["message"] == "🌍 Translated: 'hello' → 'hola'"


def test_after_redis_returns_a_new_socket_gets_results(outage: Outage) -> None:
    assert outage.new_socket_final["payload"]["status"] == "result"
    assert outage.new_socket_final["payload"]["message"] == "🌍 Translated: 'world' → 'mundo'"


def test_the_worker_process_stays_alive_across_the_restart(outage: Outage) -> None:
    assert outage.worker_alive


def test_the_outage_leaves_no_traceback_in_the_server_or_worker_log(outage: Outage) -> None:
    assert "Traceback" not in outage.server_log
    assert "Traceback" not in outage.worker_log
