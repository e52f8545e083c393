"""The stock parts (``StockParts``): with the fast path off, the consumer serves its socket through fast-channels' stock
loop and the protocol is the same; the worker's pool is ARQ's own, or through ``REDIS_SENTINELS`` one on the master
that gives up connecting after 1 s and retries a command on the errors a failover raises, but not a dead master's
address (nothing is connected here)."""

from collections.abc import AsyncIterator

import pytest_asyncio
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from redis.asyncio.sentinel import SentinelConnectionPool

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.main import create_app
from src.parts import StockParts
from src.settings import RECONNECT_ERRORS, Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, PING, PONG, job_status


@pytest_asyncio.fixture
async def stock_ws(settings: Settings, pool: ArqRedis) -> AsyncIterator[WebsocketCommunicator]:
    """A socket on the app built without the fast path, its connected frame already read."""
    stock = settings.model_copy(update={"fast_path": False})
    communicator = socket_on(create_app(stock, jobs=JobQueue(stock, StockParts(stock), pool=pool)))
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from(timeout=1) == CONNECTED
    yield communicator
    await communicator.disconnect()


async def test_without_the_fast_path_a_socket_answers_pings_and_relays_its_jobs_outcome(
    stock_ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await stock_ws.send_json_to(PING)
    assert await stock_ws.receive_json_from(timeout=1) == PONG

    await stock_ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    statuses = [(await stock_ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(2)]
    assert statuses == ["queuing", "queued"]
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)

    assert await stock_ws.receive_json_from(timeout=1) == job_status("result", job_id, "translate", "🌍 done")


# --- the worker's pool -----------------------------------------------------------------------------------------

SENTINELS = "10.0.0.1:26379,10.0.0.2:26380,10.0.0.3"


async def test_through_sentinel_the_workers_pool_retries_commands_but_not_a_dead_masters_address() -> None:
    settings = Settings(redis_sentinels=SENTINELS, redis_reconnect_attempts=7)

    pool = StockParts(settings).worker_pool()

    assert pool is not None
    assert isinstance(pool.connection_pool, SentinelConnectionPool)
    retry = pool.connection_pool.connection_kwargs["retry"]
    assert retry._retries == 7
    assert set(retry._supported_errors) == set(RECONNECT_ERRORS)  # OSError left to the command's retry
    await pool.aclose()


def test_without_sentinel_the_worker_builds_arqs_own_pool() -> None:
    assert StockParts(Settings(fast_path=False)).worker_pool() is None


TWO_SENTINELS = "10.0.0.1:26379,10.0.0.2:26380"


async def test_through_sentinel_the_workers_pool_connects_to_the_master_within_1_s() -> None:
    pool = StockParts(Settings(redis_sentinels=TWO_SENTINELS, fast_path=False)).worker_pool()

    assert pool is not None
    assert pool.connection_pool.connection_kwargs["socket_connect_timeout"] == 1.0
    await pool.aclose()


async def test_through_sentinel_the_workers_pool_retries_a_command_on_the_errors_a_failover_raises() -> None:
    """redis-py retries a command whose connection failed only on the errors listed as ``retry_on_error``."""
    pool = StockParts(Settings(redis_sentinels=TWO_SENTINELS, fast_path=False)).worker_pool()

    assert pool is not None
    assert set(pool.connection_pool.connection_kwargs["retry_on_error"]) == set(RECONNECT_ERRORS)
    await pool.aclose()
