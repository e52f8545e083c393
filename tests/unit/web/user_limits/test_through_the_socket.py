"""Per-user limits on the socket, with authentication on (fakeredis standing for the deployment's Redis): a user over
MAX_SOCKETS_PER_USER or MAX_JOBS_PER_USER is refused, saying so, while other users are served; servers share the
counts, and a reconnect resets nothing."""

from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError

from src.main import create_app
from src.parts import StockParts
from src.settings import Settings
from src.web.job_queue import JobQueue
from src.web.user_limits import UserLimits
from tests.support.communicator import socket_on
from tests.support.held_job_queue import HeldJobQueue
from tests.support.metric_samples import metric_samples, refusals
from tests.support.protocol import job_id_of, job_status
from tests.support.pubsub import until
from tests.support.who_may_connect import SECRET, app_on, connected_as, open_as, served

#: The default MAX_SOCKETS_PER_USER.
SOCKETS = 20
JOBS = 2
TOO_MANY_SOCKETS = "This user holds its most sockets (20); close one and try again."
TOO_MANY_JOBS = "❌ Too many jobs for this user (2); wait for one to finish"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Authentication on; the default sockets per user, two jobs per user."""
    return settings.model_copy(update={"auth_jwt_secret": SecretStr(SECRET), "max_jobs_per_user": JOBS})


def closed_saying(reason: str) -> dict[str, Any]:
    """A handshake accepted and closed at once with 1013 and ``reason``."""
    return {"type": "websocket.close", "code": 1013, "reason": reason}


def job(content: str = "hi") -> dict[str, Any]:
    return {"action": "job", "payload": {"type": "default", "content": content}}


async def queue_job(ws: WebsocketCommunicator) -> str:
    """Queue a default job; its id once it is reported queued."""
    await ws.send_json_to(job())
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    return job_id


async def refused_job(ws: WebsocketCommunicator) -> tuple[str, Any]:
    """Send a default job that is refused: its id (from its ``queuing`` frame), and the frame after that."""
    await ws.send_json_to(job())
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    return job_id, await ws.receive_json_from(timeout=1)


async def queued_ids(pool: ArqRedis) -> set[str]:
    return {str(queued.job_id) for queued in await pool.queued_jobs()}


# --- sockets ---------------------------------------------------------------------------------------------------


async def test_the_21st_socket_of_one_user_is_closed_with_1013_saying_so_while_another_users_socket_is_served(
    app: FastAPI, sockets: list[WebsocketCommunicator]
) -> None:
    for _ in range(SOCKETS):
        await connected_as(app, "alice", sockets)

    _, refused = await open_as(app, "alice", sockets)
    bobs = await connected_as(app, "bob", sockets)

    assert refused == closed_saying(TOO_MANY_SOCKETS)
    await bobs.send_json_to({"action": "ping"})
    assert await bobs.receive_json_from(timeout=1) == {"action": "pong", "payload": None}


async def test_closing_one_of_a_users_sockets_lets_the_user_open_another(
    app: FastAPI, sockets: list[WebsocketCommunicator]
) -> None:
    held = [await connected_as(app, "alice", sockets) for _ in range(SOCKETS)]
    await held[0].disconnect()

    _, again = await open_as(app, "alice", sockets)

    assert served(again)


async def test_a_users_sockets_on_two_servers_count_against_one_limit(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    servers = [app_on(settings, pool), app_on(settings, pool)]  # two apps, one Redis
    for n in range(SOCKETS):
        await connected_as(servers[n % 2], "alice", sockets)

    refused = [(await open_as(server, "alice", sockets))[1] for server in servers]

    assert refused == [closed_saying(TOO_MANY_SOCKETS)] * 2


async def test_a_server_that_crashed_holding_a_users_sockets_frees_them_once_their_leases_expire(
    app: FastAPI, settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    crashed = UserLimits(settings, JobQueue(settings, StockParts(settings), pool=pool), lease=0.2)
    for _ in range(SOCKETS):
        assert await crashed.take_socket("alice") is not None  # never renewed, never released
    _, refused = await open_as(app, "alice", sockets)
    assert refused == closed_saying(TOO_MANY_SOCKETS)

    async def served_again() -> bool:
        return served((await open_as(app, "alice", sockets))[1])

    await until(served_again)  # once Redis's clock passes the crashed server's leases


async def test_while_redis_does_not_answer_the_lease_check_a_users_handshake_is_closed_with_1013_as_unavailable(
    app: FastAPI,
    jobs: JobQueue,
    redis_server: FakeServer,
    sockets: list[WebsocketCommunicator],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def answered_a_moment_ago() -> bool:
        return True

    monkeypatch.setattr(jobs, "is_available", answered_a_moment_ago)
    redis_server.connected = False

    _, refused = await open_as(app, "alice", sockets)

    assert refused == closed_saying("The job queue is unavailable; try again shortly.")
    assert app.state.admission.sockets == 0


# --- jobs ------------------------------------------------------------------------------------------------------


async def test_a_job_over_max_jobs_per_user_gets_an_error_frame_with_its_id_and_type_and_is_not_queued(
    app: FastAPI, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    """Jobs are counted per user across their sockets; one over the limit gets ``error`` and is not queued."""
    first, second = [await connected_as(app, "alice", sockets) for _ in range(2)]
    queued = [await queue_job(first), await queue_job(second)]

    job_id, refused = await refused_job(first)

    assert refused == job_status("error", job_id, "default", TOO_MANY_JOBS)
    assert job_id == job_id_of("default")
    assert await queued_ids(pool) == set(queued)
    assert refusals(await metric_samples(app)) == {"too_many_for_user": 1.0}


async def test_another_user_is_served_while_one_user_holds_max_jobs_per_user(
    app: FastAPI, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    alice = await connected_as(app, "alice", sockets)
    for _ in range(JOBS):
        await queue_job(alice)

    bobs = await queue_job(await connected_as(app, "bob", sockets))

    assert bobs in await queued_ids(pool)


async def test_a_reconnect_does_not_reset_a_users_job_count(app: FastAPI, sockets: list[WebsocketCommunicator]) -> None:
    first = await connected_as(app, "alice", sockets)
    for _ in range(JOBS):
        await queue_job(first)
    await first.disconnect()

    job_id, refused = await refused_job(await connected_as(app, "alice", sockets))

    assert refused == job_status("error", job_id, "default", TOO_MANY_JOBS)


async def test_a_job_that_finished_frees_its_users_slot(
    app: FastAPI, settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    alice = await connected_as(app, "alice", sockets)
    done, _ = [await queue_job(alice) for _ in range(JOBS)]
    # What ARQ's worker does as the job ends: the record deleted, the result stored.
    await pool.delete(job_key_prefix + done)
    await pool.set(result_key_prefix + done, b"result")
    await pool.zrem(settings.queue_name, done)

    again = await queue_job(alice)

    assert again in await queued_ids(pool)


async def test_a_job_whose_enqueue_failed_no_longer_counts_against_its_user(
    app: FastAPI, jobs: JobQueue, pool: ArqRedis, sockets: list[WebsocketCommunicator], monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue = jobs.writer.enqueue

    async def fails(*args: Any) -> bool:
        raise RedisConnectionError("Redis went away mid-enqueue")

    alice = await connected_as(app, "alice", sockets)
    monkeypatch.setattr(jobs.writer, "enqueue", fails)
    job_id, refused = await refused_job(alice)
    monkeypatch.setattr(jobs.writer, "enqueue", enqueue)

    queued = [await queue_job(alice) for _ in range(JOBS)]

    assert refused == job_status("error", job_id, "default", "❌ Error queuing job: the job queue is unavailable")
    assert await queued_ids(pool) == set(queued)


async def test_a_job_being_enqueued_counts_against_its_user(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    """Jobs caught between their reservation and ARQ's record (a slow enqueue) count: a third is refused."""
    held = HeldJobQueue(settings, pool)
    app = create_app(settings, jobs=held)
    first, second = [await connected_as(app, "alice", sockets) for _ in range(2)]
    for ws in (first, second):
        await ws.send_json_to(job())
        assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queuing"

    job_id, refused = await refused_job(await connected_as(app, "alice", sockets))
    held.let_through.set()

    assert refused == job_status("error", job_id, "default", TOO_MANY_JOBS)
    for ws in (first, second):
        assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"


async def test_while_redis_does_not_answer_the_job_count_a_job_is_refused_as_unavailable_and_not_queued(
    app: FastAPI, pool: ArqRedis, redis_server: FakeServer, sockets: list[WebsocketCommunicator]
) -> None:
    alice = await connected_as(app, "alice", sockets)
    first = await queue_job(alice)  # the owners' key is read from Redis with the first job
    redis_server.connected = False

    job_id, refused = await refused_job(alice)
    redis_server.connected = True

    assert refused == job_status("error", job_id, "default", "❌ Error queuing job: the job queue is unavailable")
    assert await queued_ids(pool) == {first}
    assert refusals(await metric_samples(app)) == {"queue_unavailable": 1.0}


async def test_with_authentication_off_nothing_is_counted_per_user(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    app = app_on(settings.model_copy(update={"auth_jwt_secret": None}), pool)
    ws = socket_on(app)
    sockets.append(ws)
    assert (await ws.connect())[0]
    await ws.receive_json_from(timeout=1)

    for _ in range(JOBS + 1):
        await queue_job(ws)

    assert app.state.user_limits is None
    assert await pool.keys("*:user:*") == []
