"""A watch where the channel layer's Redis is found through Redis Sentinel (``REDIS_SENTINELS``, no
``CHANNEL_LAYER_URLS``): the watch hub of a second server hears the job's frames on the master the sentinels name."""

from typing import Any, cast

import httpx
import pytest

from tests.support.processes import AppWorkerProcess, ServerProcess, running
from tests.support.protocol import ends, has_status, job, payloads_of, watch
from tests.support.sentinel_cluster import MASTER_NAME, sentinel_cluster
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

PROMPT = 10.0
#: generate's 4 s of work at 0.5: long enough for a watch to begin mid-job.
#: A Redis address where nothing listens.
NOWHERE = "redis://127.0.0.1:1/0"
SETTINGS = {"job_time_scale": "0.5", "redis_sentinel_master": MASTER_NAME}


async def test_a_watch_through_sentinel_hears_the_job_move_and_end_from_another_server(http: httpx.AsyncClient) -> None:
    with sentinel_cluster() as cluster:
        url = cluster.url(cluster.master_port)  # the processes take only its database from it
        settings = cast(dict[str, Any], {**SETTINGS, "redis_sentinels": cluster.sentinels})
        # The servers are given no Redis address that answers: they find the master through the sentinels or not at
        # all (the worker's is the master's, for the harness's readiness check).
        servers = [ServerProcess(NOWHERE, **settings) for _ in range(2)]
        with running(AppWorkerProcess(url, **settings), *servers):
            async with JobSocket(http, servers[0].ws_url) as owner, JobSocket(http, servers[1].ws_url) as watcher:
                await owner.receive(timeout=PROMPT)
                await watcher.receive(timeout=PROMPT)
                await owner.send(job("generate", "through sentinel"))
                job_id = (await owner.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]
                await watcher.send(watch(job_id))
                watched = await watcher.receive_until(ends(job_id), timeout=PROMPT)
                owned = await owner.receive_until(ends(job_id), timeout=PROMPT)

    payloads = payloads_of(job_id, watched)
    assert payloads[0]["status"] in {"queued", "in_progress"}
    assert any(p["status"] == "progress" for p in payloads[1:])  # pushed through the hub, not only answered
    assert payloads[-1] == owned[-1]["payload"]
    assert payloads[-1]["status"] == "result"
    assert [p["status"] for p in payloads].count("result") == 1
