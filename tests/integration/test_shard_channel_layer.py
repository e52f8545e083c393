"""A sharded channel layer (``CHANNEL_LAYER_URLS``): sockets' channels spread over two Redis processes by
fast-channels' consistent hash, ARQ's queue on ``REDIS_URL``; two servers, one worker; every client gets exactly
its own results, and both shards carry them."""

import asyncio
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


def channels_on(url: str, prefix: str) -> set[bytes]:
    """The sockets' channels a shard has subscribers for."""
    client = redis.Redis.from_url(url)
    try:
        return set(cast(list[bytes], client.pubsub_channels(f"{prefix}specific.*")))
    finally:
        client.close()


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
            servers_own = {url: channels_on(url, prefix) for url in shards}  # each server's keep-listening channel
            async with AsyncExitStack() as stack:
                clients: dict[str, JobSocket] = {}
                while len(clients) < MOST_CLIENTS and not all(
                    channels_on(url, prefix) - servers_own[url] for url in shards
                ):
                    server = servers[len(clients) % 2]
                    ws = await stack.enter_async_context(JobSocket(http, server.ws_url))
                    await ws.receive(timeout=PROMPT)
                    clients[f"client {len(clients)}"] = ws
                published_before = [publishes_on(url) for url in shards]
                received = await asyncio.gather(*(run_client(ws, name) for name, ws in clients.items()))
                published_after = [publishes_on(url) for url in shards]

    assert len(clients) >= 2
    for name, results in zip(clients, received, strict=True):
        expected = [f"✅ Processed: {name.upper()} JOB {n}" for n in range(JOBS_PER_CLIENT)]
        assert sorted(results.values()) == sorted(expected)
    assert len({job_id for results in received for job_id in results}) == len(clients) * JOBS_PER_CLIENT
    assert all(after > before for before, after in zip(published_before, published_after, strict=True))
