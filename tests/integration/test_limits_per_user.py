"""Per-user limits on a real Redis, with authentication on: two apps on one Redis stand for two servers, and count
one user's sockets and jobs together; a reconnect resets nothing; a real worker finishing a user's jobs frees them."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI
from pydantic import SecretStr

from src.main import create_app
from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.burst_worker import run_burst_worker
from tests.support.protocol import job_status
from tests.support.pubsub import until
from tests.support.who_may_connect import SECRET, connected_as, open_as, served

SOCKETS = 2
JOBS = 2
TOO_MANY_JOBS = "❌ Too many jobs for this user (2); wait for one to finish"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Authentication on; two sockets and two jobs per user."""
    return settings.model_copy(
        update={"auth_jwt_secret": SecretStr(SECRET), "max_sockets_per_user": SOCKETS, "max_jobs_per_user": JOBS}
    )


@pytest_asyncio.fixture
async def servers(settings: Settings, jobs: JobQueue) -> AsyncIterator[list[FastAPI]]:
    """Two apps on one Redis, each with its own pool and its own per-user limits, as two servers have."""
    other = JobQueue(settings, parts_for(settings))
    await other.open()
    yield [create_app(settings, jobs=jobs), create_app(settings, jobs=other)]
    await other.close()


@pytest_asyncio.fixture
async def queue_for(jobs: JobQueue) -> AsyncIterator[Callable[[Settings], Awaitable[JobQueue]]]:
    """Opens a job queue on other settings (``jobs`` has registered the channel layer); each is closed after the
    test. (Ask for it before ``sockets``: the sockets close first.)"""
    opened: list[JobQueue] = []

    async def open_for(settings: Settings) -> JobQueue:
        queue = JobQueue(settings, parts_for(settings))
        await queue.open()
        opened.append(queue)
        return queue

    yield open_for
    for queue in opened:
        await queue.close()


def job(content: str = "hi") -> dict[str, Any]:
    return {"action": "job", "payload": {"type": "default", "content": content}}


async def queue_job(ws: WebsocketCommunicator, content: str = "hi") -> str:
    """Queue a default job of ``content``; its id, once its ``queued`` frame is the seed's."""
    await ws.send_json_to(job(content))
    job_id: str = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    assert await ws.receive_json_from(timeout=2) == job_status(
        "queued", job_id, "default", f"📋 Job {job_id} queued successfully!"
    )
    return job_id


async def refused_job(ws: WebsocketCommunicator) -> Any:
    """Send a default job that is refused: the frame after its ``queuing``, checked to be about the same job."""
    await ws.send_json_to(job())
    job_id = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    frame = await ws.receive_json_from(timeout=2)
    assert frame["payload"]["job_id"] == job_id
    return frame


async def test_a_users_sockets_on_two_servers_count_against_one_limit_and_a_closed_one_makes_room(
    servers: list[FastAPI], sockets: list[WebsocketCommunicator]
) -> None:
    first, _ = [await connected_as(server, "alice", sockets) for server in servers]

    refused = [(await open_as(server, "alice", sockets))[1] for server in servers]
    bobs = [(await open_as(server, "bob", sockets))[1] for server in servers]
    await first.disconnect()
    again = (await open_as(servers[1], "alice", sockets))[1]

    assert (
        refused
        == [
            {
                "type": "websocket.close",
                "code": 1013,
                "reason": "This user holds its most sockets (2); close one and try again.",
            }
        ]
        * 2
    )
    assert all(served(output) for output in bobs)
    assert served(again)


async def test_a_users_jobs_on_two_servers_count_against_one_limit_and_a_reconnect_does_not_reset_it(
    servers: list[FastAPI], sockets: list[WebsocketCommunicator]
) -> None:
    on_first, on_second = [await connected_as(server, "alice", sockets) for server in servers]
    await queue_job(on_first)
    await queue_job(on_second)

    over = await refused_job(on_first)
    await on_first.disconnect()
    after_reconnecting = await refused_job(await connected_as(servers[0], "alice", sockets))
    bobs = await queue_job(await connected_as(servers[1], "bob", sockets))

    for frame in (over, after_reconnecting):
        assert frame == job_status("error", frame["payload"]["job_id"], "default", TOO_MANY_JOBS)
    assert bobs


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "reference-path"])
async def test_a_real_worker_finishing_a_users_jobs_frees_their_slots(
    settings: Settings,
    fast_path: bool,
    queue_for: Callable[[Settings], Awaitable[JobQueue]],
    sockets: list[WebsocketCommunicator],
) -> None:
    """Jobs queued by ARQ's ``enqueue_job`` or the fast path's writer, and run by ARQ's worker or the fast path's."""
    chosen = settings.model_copy(update={"fast_path": fast_path})
    alice = await connected_as(create_app(chosen, jobs=await queue_for(chosen)), "alice", sockets)
    queued = [await queue_job(alice, f"job {n}") for n in range(JOBS)]
    assert (await refused_job(alice))["payload"]["message"] == TOO_MANY_JOBS

    worker = await run_burst_worker(chosen)
    results = [await alice.receive_json_from(timeout=2) for _ in queued]

    assert worker.jobs_complete == JOBS
    assert sorted(frame["payload"]["job_id"] for frame in results) == sorted(queued)
    assert [await queue_job(alice, f"job {n}") for n in range(JOBS)]  # both slots free again


async def test_a_users_job_whose_result_is_not_kept_frees_its_slot_after_the_grace(
    settings: Settings, queue_for: Callable[[Settings], Awaitable[JobQueue]], sockets: list[WebsocketCommunicator]
) -> None:
    """With ``KEEP_RESULT=0`` ARQ stores no result: a finished job stops counting once ten ``ENQUEUE_TIMEOUT``s
    have passed since it was reserved."""
    chosen = settings.model_copy(update={"keep_result": 0, "enqueue_timeout": 0.1, "max_jobs_per_user": 1})
    alice = await connected_as(create_app(chosen, jobs=await queue_for(chosen)), "alice", sockets)
    await queue_job(alice)
    await run_burst_worker(chosen)
    assert (await alice.receive_json_from(timeout=2))["payload"]["status"] == "result"
    assert (await refused_job(alice))["payload"][
        "message"
    ] == "❌ Too many jobs for this user (1); wait for one to finish"

    async def queued_again() -> bool:
        await alice.send_json_to(job())
        await alice.receive_json_from(timeout=2)  # queuing
        return bool((await alice.receive_json_from(timeout=2))["payload"]["status"] == "queued")

    await until(queued_again, timeout=5)
