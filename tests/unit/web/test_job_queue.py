"""The job queue: the web process's one pool, opened and closed with the app; an enqueue Redis refuses or does not
answer in time fails saying so and is logged, and makes the next handshake ask Redis again; the handshake's check of
Redis gives up after ``ENQUEUE_TIMEOUT``."""

import asyncio
import logging
import re
from typing import Any

import pytest
from redis.asyncio import ConnectionPool

from src.parts import StockParts
from src.settings import Settings
from src.web.arq_writer import ArqJobWriter
from src.web.job_queue import JobQueue, QueueError, QueueFull
from tests.support.fake_arq import fake_arq_pool


async def test_a_job_queue_used_before_it_is_opened_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"^JobQueue\.open\(\) has not been called$"):
        _ = JobQueue(Settings(), StockParts(Settings())).pool


async def test_a_closed_job_queue_has_closed_its_pools_connections_and_is_no_longer_usable() -> None:
    pool = fake_arq_pool()
    disconnected: list[bool] = []
    disconnect = pool.connection_pool.disconnect

    async def record_disconnect(inuse_connections: bool = True) -> None:
        disconnected.append(inuse_connections)
        await disconnect(inuse_connections)

    pool.connection_pool.disconnect = record_disconnect  # type: ignore[method-assign]
    jobs = JobQueue(Settings(), StockParts(Settings()), pool=pool)
    await jobs.open()  # keeps the pool it was given
    assert jobs.pool is pool

    await jobs.close()
    await jobs.close()  # closing twice is harmless

    assert disconnected == [True]
    with pytest.raises(RuntimeError):
        _ = jobs.pool


async def test_without_the_fast_path_the_pool_a_job_queue_opens_is_on_redis_pys_own_connection_pool() -> None:
    jobs = JobQueue(Settings(queue_name="q:opened"), StockParts(Settings(queue_name="q:opened")))

    await jobs.open()

    assert type(jobs.pool.connection_pool) is ConnectionPool
    assert jobs.pool.default_queue_name == "q:opened"
    await jobs.close()


async def test_a_job_queue_opened_again_writes_on_its_new_pool() -> None:
    jobs = JobQueue(Settings(), StockParts(Settings()))
    await jobs.open()
    first = jobs.writer
    await jobs.close()

    await jobs.open()

    assert jobs.writer is not first
    assert isinstance(jobs.writer, ArqJobWriter)
    assert jobs.writer.pool is jobs.pool
    await jobs.close()


async def test_a_job_refused_for_a_full_queue_is_logged_with_its_id_and_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(max_queue_depth=1), StockParts(Settings(max_queue_depth=1)), pool=pool)
    await jobs.enqueue("default", "default_1", "a", "channel")

    with pytest.raises(QueueFull):
        await jobs.enqueue("default", "default_2", "b", "channel")

    assert [" ".join(r.getMessage().split()) for r in caplog.records if r.levelno == logging.WARNING] == [
        "[warning ] job refused: the queue is full job_id=default_2 limit=1"
    ]
    await pool.aclose()


async def test_after_an_enqueue_redis_did_not_answer_in_time_the_next_handshake_asks_redis_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(enqueue_timeout=0.05), StockParts(Settings(enqueue_timeout=0.05)), pool=pool)
    assert await jobs.is_available()
    never = asyncio.Event()

    async def hung(*args: Any, **kwargs: Any) -> None:
        await never.wait()

    monkeypatch.setattr(pool, "enqueue_job", hung)
    with pytest.raises(QueueError):
        await jobs.enqueue("default", "default_1", "a", "channel")
    pings: list[None] = []
    ping = pool.ping

    async def counted(**kwargs: Any) -> Any:
        pings.append(None)
        return await ping(**kwargs)

    monkeypatch.setattr(pool, "ping", counted)

    assert await jobs.is_available()
    assert len(pings) == 1  # the earlier PONG no longer vouches for Redis
    await pool.aclose()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings logged: the event and its key=value pairs, spaces collapsed, without the level tag."""
    return [
        re.sub(r"^\[warning *\] ", "", " ".join(r.getMessage().split()))
        for r in caplog.records
        if r.levelname == "WARNING"
    ]


async def test_an_enqueue_redis_refuses_fails_saying_it_is_unavailable_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = fake_arq_pool()
    pool.connection_pool.connection_kwargs["server"].connected = False
    jobs = JobQueue(Settings(enqueue_timeout=1.0), StockParts(Settings(enqueue_timeout=1.0)), pool=pool)

    with pytest.raises(QueueError, match=r"^the job queue is unavailable$"):
        await jobs.enqueue("default", "default_3", "c", "channel")

    assert warnings(caplog) == ["enqueue failed error='FakeRedis is emulating a connection error.' job_id=default_3"]
    await pool.aclose()


async def test_the_handshakes_redis_check_gives_up_on_a_redis_that_does_not_answer_in_enqueue_timeout() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(enqueue_timeout=0.05), StockParts(Settings(enqueue_timeout=0.05)), pool=pool)
    never = asyncio.Event()

    async def hung_ping(**kwargs: Any) -> bool:
        await never.wait()
        return True

    pool.ping = hung_ping  # type: ignore[method-assign]

    assert await asyncio.wait_for(jobs.is_available(), timeout=1) is False
    await pool.aclose()
