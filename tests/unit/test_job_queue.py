"""The enqueue side: the web process's one pool, opened and closed with the app; ARQ's own writes, off the fast path."""

import asyncio
import logging
from typing import Any

import pytest
from arq.constants import abort_jobs_ss
from redis.asyncio import ConnectionPool

import src.web.arq_writer
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


async def test_without_the_fast_path_jobs_are_queued_by_arqs_enqueue_job_under_their_ids() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(), StockParts(Settings()), pool=pool)
    assert isinstance(jobs.writer, ArqJobWriter)

    await jobs.enqueue("translate", "translate_1", "hello", "chan-1")

    queued = [(job.job_id, job.function, job.args) for job in await pool.queued_jobs()]
    assert queued == [("translate_1", "translate", ("translate_1", "hello", "chan-1"))]
    await pool.aclose()


async def test_without_the_fast_path_a_cancel_records_arqs_abort_request() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(), StockParts(Settings()), pool=pool)

    await jobs.request_abort("default_1")

    assert await pool.zscore(abort_jobs_ss, "default_1") is not None
    await pool.aclose()


async def test_without_the_fast_path_an_enqueue_redis_does_not_take_in_time_fails_saying_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(enqueue_timeout=0.05), StockParts(Settings(enqueue_timeout=0.05)), pool=pool)
    never = asyncio.Event()

    async def hung_enqueue(*args: Any, **kwargs: Any) -> None:
        await never.wait()

    monkeypatch.setattr(pool, "enqueue_job", hung_enqueue)

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await asyncio.wait_for(jobs.enqueue("default", "default_1", "a", "channel"), timeout=1)

    assert any("enqueue timed out" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    await pool.aclose()


async def test_without_the_fast_path_a_job_over_max_queue_depth_is_not_queued_and_the_queue_is_said_full() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(max_queue_depth=1), StockParts(Settings(max_queue_depth=1)), pool=pool)
    await jobs.enqueue("default", "default_1", "a", "channel")

    with pytest.raises(QueueFull, match=r"^the job queue is full \(1 jobs\); try again later$"):
        await jobs.enqueue("default", "default_2", "b", "channel")

    assert [job.job_id for job in await pool.queued_jobs()] == ["default_1"]
    await pool.aclose()


async def test_without_the_fast_path_an_enqueue_waiting_its_turn_is_not_timed_only_redis_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = fake_arq_pool()
    monkeypatch.setattr(src.web.arq_writer, "STOCK_ENQUEUES_AT_ONCE", 1)
    jobs = JobQueue(Settings(enqueue_timeout=0.1), StockParts(Settings(enqueue_timeout=0.1)), pool=pool)
    enqueue_job = pool.enqueue_job

    async def redis_takes_a_while(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.06)  # within ENQUEUE_TIMEOUT, each on its own
        return await enqueue_job(*args, **kwargs)

    monkeypatch.setattr(pool, "enqueue_job", redis_takes_a_while)

    await asyncio.gather(*(jobs.enqueue("default", f"default_{n}", "x", "channel") for n in range(3)))

    assert len(await pool.queued_jobs()) == 3  # the last waited 0.12 s for its turn, more than the timeout
    await pool.aclose()


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
