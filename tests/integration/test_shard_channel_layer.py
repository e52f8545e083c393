"""A sharded channel layer (``CHANNEL_LAYER_URLS``): sockets' channels spread over two Redis processes by
fast-channels' consistent hash, ARQ's queue on ``REDIS_URL``; two servers, one worker; every client gets exactly
its own results, and both shards carry them."""

from contextlib import AsyncExitStack
from typing import Any, cast

import httpx
import pytest
import redis

from tests.support.processes import WORKER_COMMANDS, ServerProcess, WorkerProcess, running
from tests.support.protocol import job
from tests.support.redis_provider import redis_server_process
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

PROMPT = 5.0
JOBS_PER_CLIENT = 3
#: Clients are added (alternating servers) until each shard holds one's channel; this many at most.
MOST_CLIENTS = 40


def publishes_on(url: str) -> int:
    """PUBLISH commands a shard has run."""
    client = redis.Redis.from_url(url)
    try:
        stats = cast(dict[str, Any], client.info("commandstats"))
        return int(stats.get("cmdstat_publish", {}).get("calls", 0))
    finally:
        client.close()


async def run_client(ws: JobSocket, name: str) -> dict[str, str]:
    """This client's jobs, sent at once: each job id → its result text."""
    for n in range(JOBS_PER_CLIENT):
        await ws.send(job("default", f"{name} job {n}"))
    results: dict[str, str] = {}
    while len(results) < JOBS_PER_CLIENT:
        payload = (await ws.receive(timeout=PROMPT))["payload"]
        if payload["status"] == "result":
            results[payload["job_id"]] = payload["message"]
    assert await ws.receive_nothing(timeout=0.3)
    return results


@pytest.mark.parametrize("worker_class", WORKER_COMMANDS.values(), ids=WORKER_COMMANDS)
async def test_shard_sockets_over_two_layer_redis_each_client_gets_its_own_results_and_both_shards_carry_them(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    prefix = "shardtest"
    with redis_server_process() as shard_a, redis_server_process() as shard_b:
        layer = {"channel_layer_urls": f"{shard_a.url},{shard_b.url}", "channel_layer_prefix": prefix}
        servers = [ServerProcess(redis_url, job_time_scale="0", **cast(dict[str, Any], layer)) for _ in range(2)]
        worker = worker_class(redis_url, job_time_scale="0", **layer)
        with running(worker, *servers):
            shards = (shard_a.url, shard_b.url)
            published_before = [publishes_on(url) for url in shards]
            async with AsyncExitStack() as stack:
                clients: dict[str, JobSocket] = {}
                received: list[dict[str, str]] = []
                # Clients (alternating servers, every socket kept open) until each shard has carried some results.
                while len(clients) < MOST_CLIENTS and not all(
                    publishes_on(url) > before for url, before in zip(shards, published_before, strict=True)
                ):
                    name = f"client {len(clients)}"
                    ws = await stack.enter_async_context(JobSocket(http, servers[len(clients) % 2].ws_url))
                    await ws.receive(timeout=PROMPT)
                    clients[name] = ws
                    received.append(await run_client(ws, name))
                published_after = [publishes_on(url) for url in shards]

    assert len(clients) >= 2
    for name, results in zip(clients, received, strict=True):
        expected = [f"✅ Processed: {name.upper()} JOB {n}" for n in range(JOBS_PER_CLIENT)]
        assert sorted(results.values()) == sorted(expected)
    assert len({job_id for results in received for job_id in results}) == len(clients) * JOBS_PER_CLIENT
    assert all(after > before for before, after in zip(published_before, published_after, strict=True))
