"""Jobs queued before a Redis restart survive it when Redis persists its data (``appendonly yes``).

A job waits in ARQ's queue with no worker running; its private, persistent ``redis-server`` is stopped and started
again on the same port; then a worker starts (either command), runs it, and its result reaches the socket that
asked, which stayed open throughout.
"""

import httpx
import pytest
import redis

from tests.support.processes import ServerProcess, WorkerProcess, running
from tests.support.protocol import CONNECTED, PROMPT, has_status, is_final, job, job_status
from tests.support.redis_provider import RedisServerProcess
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

#: ``QUEUE_NAME``'s default: the sorted set a queued job waits in.
QUEUE_NAME = "arq:queue"
#: Seconds the result may take once the worker is up: the server's channel layer re-subscribes after the restart
#: by itself, and a result published before it has is looked up after ``RESULT_RECOVERY_GRACE`` (see "Healing").
HEAL = 20.0


def waiting_in_the_queue(url: str, job_id: str) -> bool:
    """Whether ``job_id`` is on ARQ's queue at ``url``."""
    client = redis.Redis.from_url(url)
    try:
        return client.zscore(QUEUE_NAME, job_id) is not None
    finally:
        client.close()


async def test_a_job_waiting_in_the_queue_across_a_redis_restart_with_aof_runs_afterwards_and_reaches_its_socket(
    worker_class: type[WorkerProcess], http: httpx.AsyncClient
) -> None:
    """A job ``queued`` before Redis restarts (appendonly) waits in the queue, then runs; its ``result`` arrives."""
    redis_server = RedisServerProcess(persistent=True)
    redis_server.start()
    try:
        server = ServerProcess(redis_server.url, job_time_scale="0")
        worker = worker_class(redis_server.url, job_time_scale="0")
        with running(server):
            async with JobSocket(http, server.ws_url) as ws:
                assert await ws.receive(timeout=PROMPT) == CONNECTED
                await ws.send(job("translate", "hello"))
                job_id = (await ws.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]

                redis_server.stop()
                redis_server.start()  # the same port, the same append-only file
                assert waiting_in_the_queue(redis_server.url, job_id)
                with running(worker):
                    final = (await ws.receive_until(is_final(job_id), timeout=HEAL))[-1]
    finally:
        redis_server.close()

    assert final == job_status("result", job_id, "translate", "🌍 Translated: 'hello' → 'hola'")
