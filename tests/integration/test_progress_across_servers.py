"""Progress through real processes: a worker's progress reaches the socket that asked, whichever of two servers
it is on, and a lookup from the other server mid-job gives the job's latest progress."""

import asyncio
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.support.processes import AppWorkerProcess, ServerProcess, running
from tests.support.protocol import has_status, is_progress, job
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

PROMPT = 5.0
#: generate works 4 s at scale 1: 2 s here, reporting every 0.25 s.
SETTINGS = {"job_time_scale": "0.5"}


async def test_each_socket_gets_the_progress_of_its_own_job_only_across_two_servers(
    redis_url: str, http: httpx.AsyncClient
) -> None:
    """Across two servers, each socket gets its own job's ``progress`` frames only, never going down."""
    servers = [ServerProcess(redis_url, port=None, **SETTINGS) for _ in range(2)]
    worker = AppWorkerProcess(redis_url, **SETTINGS)
    with running(worker, *servers):
        async with AsyncExitStack() as stack:
            sockets = {
                job_type: await stack.enter_async_context(JobSocket(http, server.ws_url))
                for job_type, server in zip(("generate", "translate"), servers, strict=True)
            }
            await asyncio.gather(*(ws.receive(timeout=PROMPT) for ws in sockets.values()))
            await asyncio.gather(*(ws.send(job(job_type)) for job_type, ws in sockets.items()))
            received = await asyncio.gather(
                *(ws.receive_until(has_status("result"), timeout=PROMPT) for ws in sockets.values())
            )

    for (job_type, _), frames in zip(sockets.items(), received, strict=True):
        job_id = frames[0]["payload"]["job_id"]
        progress = [frame["payload"] for frame in frames if is_progress(frame)]
        assert {frame["payload"]["job_id"] for frame in frames} == {job_id}  # its own job's frames only
        assert len(progress) >= 2
        assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
        assert all(p["job_type"] == job_type for p in progress)
        assert all(("partial" in p) == (job_type == "generate") for p in progress)


async def test_a_lookup_from_another_server_mid_job_gives_its_latest_progress(
    redis_url: str, http: httpx.AsyncClient
) -> None:
    """``job_lookup`` via another server mid-job says ``in_progress``, with the latest ``progress`` and ``partial``."""
    servers = [ServerProcess(redis_url, port=None, **SETTINGS) for _ in range(2)]
    worker = AppWorkerProcess(redis_url, **SETTINGS)
    with running(worker, *servers):
        async with JobSocket(http, servers[0].ws_url) as owner, JobSocket(http, servers[1].ws_url) as other:
            await owner.receive(timeout=PROMPT)
            await other.receive(timeout=PROMPT)
            await owner.send(job("generate"))
            frames = await owner.receive_until(
                lambda frame: is_progress(frame) and frame["payload"]["progress"] > 0, timeout=PROMPT
            )
            seen = frames[-1]["payload"]

            await other.send({"action": "job_lookup", "payload": {"job_id": seen["job_id"]}})
            answer = (await other.receive(timeout=PROMPT))["payload"]

    assert answer["status"] == "in_progress"
    assert answer["message"] == f"⚙️ Job {seen['job_id']} is in progress"
    assert seen["progress"] <= answer["progress"] < 100  # at least what the owner had been told
    assert answer["partial"].startswith(seen["partial"])
