"""The bounds a busy server keeps, on a real Redis and a real server: MAX_QUEUE_DEPTH across servers (ARQ's
own writes and the fast path's alike), and MAX_CONNECTIONS per server."""

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue, QueueFull
from tests.support.processes import ServerProcess, running


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "reference-path"])
async def test_a_job_over_max_queue_depth_is_refused_and_not_queued_and_one_is_taken_once_there_is_room(
    settings: Settings, fast_path: bool
) -> None:
    """A job finding ``MAX_QUEUE_DEPTH`` jobs queued is refused, not queued; once a worker takes one, there is room."""
    bounded = settings.model_copy(update={"max_queue_depth": 2, "fast_path": fast_path})
    jobs = JobQueue(bounded, parts_for(bounded))
    await jobs.open()
    try:
        for n in range(2):
            await jobs.enqueue("default", f"default_{n}", "x", "chan")

        with pytest.raises(QueueFull):
            await jobs.enqueue("default", "default_2", "x", "chan")

        assert sorted(str(job.job_id) for job in await jobs.pool.queued_jobs()) == ["default_0", "default_1"]
        await jobs.pool.zrem(bounded.queue_name, "default_0")  # a worker took it
        await jobs.enqueue("default", "default_3", "x", "chan")
        assert sorted(str(job.job_id) for job in await jobs.pool.queued_jobs()) == ["default_1", "default_3"]
    finally:
        await jobs.close()


async def connect_once_there_is_room(url: str, timeout: float = 5.0) -> ClientConnection:
    """A socket past its connected frame, trying again while the server still counts a socket that closed."""
    async with asyncio.timeout(timeout):
        while True:
            ws = await connect(url)
            try:
                frame = json.loads(await ws.recv())
            except ConnectionClosed:
                await asyncio.sleep(0.05)  # the server has not seen the closed socket go yet: ask again
                continue
            assert frame["payload"]["status"] == "connected"
            return ws


@pytest.mark.processes
async def test_a_server_at_max_connections_closes_a_new_handshake_with_1013_and_takes_one_again_later(
    redis_url: str,
) -> None:
    """At ``MAX_CONNECTIONS`` sockets, a new handshake is closed with 1013 saying so; once one closes, one is taken."""
    server = ServerProcess(redis_url, max_connections="3")
    with running(server):
        held = [await connect(server.ws_url) for _ in range(3)]
        try:
            for ws in held:
                assert json.loads(await ws.recv())["payload"]["status"] == "connected"
            refused = await connect(server.ws_url)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(refused.recv(), timeout=5)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                1013,
                "The server holds its most sockets (3); try again shortly.",
            )

            await held.pop().close()
            held.append(await connect_once_there_is_room(server.ws_url))
        finally:
            await asyncio.gather(*(ws.close() for ws in held))
