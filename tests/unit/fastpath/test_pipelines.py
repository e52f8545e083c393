"""Pipelines that save round trips: a publish rides once in the next transaction, and a transaction read
ahead is answered without Redis, once, and only if it queues exactly the commands read for."""

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from fakeredis import FakeServer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from src.fastpath.pipelines import ReadAhead, ReadAheadMismatch, ShortcutPipeline, publishing, read_ahead_context
from src.fastpath.wakeable_pool import WakeableArqRedis
from tests.unit.fastpath.fakes import fake_worker_pool

START = [("GET", "arq:job:a"), ("INCRBY", "arq:retry:a", 1)]

T = TypeVar("T")


async def run_as_job_task(read_ahead: ReadAhead, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in a task in the read-ahead's context, as the worker runs a claimed job."""
    return await asyncio.get_running_loop().create_task(coro, context=read_ahead_context(read_ahead))


@pytest_asyncio.fixture
async def server() -> FakeServer:
    return FakeServer()


@pytest_asyncio.fixture
async def pool(server: FakeServer) -> AsyncIterator[WakeableArqRedis]:
    """The worker's pool on fakeredis."""
    wakeable = fake_worker_pool(server, wait=0.05)
    yield wakeable
    await wakeable.aclose()


async def start_transaction(pool: WakeableArqRedis) -> list[Any]:
    """A transaction like the first ``run_job`` writes."""
    async with pool.pipeline(transaction=True) as pipe:
        pipe.get("arq:job:a")
        pipe.incr("arq:retry:a")
        return await pipe.execute()


async def twice(pool: WakeableArqRedis) -> list[list[Any]]:
    """Two start transactions, one after the other."""
    return [await start_transaction(pool), await start_transaction(pool)]


async def test_the_worker_pools_pipelines_are_shortcut_pipelines(pool: WakeableArqRedis) -> None:
    assert isinstance(pool.pipeline(), ShortcutPipeline)


async def test_a_pipeline_opened_while_publishing_carries_the_publish_and_the_next_one_does_not(
    pool: WakeableArqRedis,
) -> None:
    listener = pool.pubsub()
    await listener.subscribe("chan")
    await listener.get_message(timeout=1)  # the subscribe confirmation

    with publishing("chan", b"outcome"):
        async with pool.pipeline(transaction=True) as pipe:
            pipe.set("result", b"1")
            replies = await pipe.execute()
        async with pool.pipeline(transaction=True) as pipe:
            pipe.set("other", b"2")
            second = await pipe.execute()

    message = await listener.get_message(timeout=1)
    await listener.aclose()  # type: ignore[no-untyped-call]
    assert replies == [1, True]  # PUBLISH (to one subscriber), then SET
    assert second == [True]
    assert message is not None
    assert message["data"] == b"outcome"


async def test_pipelines_outside_a_publishing_block_carry_nothing(pool: WakeableArqRedis) -> None:
    async with pool.pipeline(transaction=True) as pipe:
        pipe.set("result", b"1")
        assert await pipe.execute() == [True]


async def test_a_transaction_read_ahead_is_answered_without_redis_once(
    pool: WakeableArqRedis, server: FakeServer
) -> None:
    await pool.set("arq:job:a", b"from redis")
    read_ahead = ReadAhead(START, [b"read ahead", 1])

    first, second = await run_as_job_task(read_ahead, twice(pool))

    assert first == [b"read ahead", 1]
    assert second == [b"from redis", 1]  # Redis's own answer: the retry counter was 0 there
    assert read_ahead.used


async def test_a_transaction_read_ahead_is_answered_even_with_redis_away(
    pool: WakeableArqRedis, server: FakeServer
) -> None:
    server.connected = False
    read_ahead = ReadAhead(START, [b"read ahead", 1])

    assert await run_as_job_task(read_ahead, start_transaction(pool)) == [b"read ahead", 1]


async def test_a_first_transaction_unlike_the_one_read_ahead_raises_and_is_not_sent_to_redis(
    pool: WakeableArqRedis,
) -> None:
    read_ahead = ReadAhead([("GET", "arq:job:b"), ("INCRBY", "arq:retry:b", 1)], [b"read ahead", 1])

    with pytest.raises(ReadAheadMismatch) as raised:
        await run_as_job_task(read_ahead, start_transaction(pool))

    assert raised.value.queued == [("GET", "arq:job:a"), ("INCRBY", "arq:retry:a", 1)]
    assert str(raised.value) == (
        "read ahead for [('GET', 'arq:job:b'), ('INCRBY', 'arq:retry:b', 1)], "
        "but the transaction queued [('GET', 'arq:job:a'), ('INCRBY', 'arq:retry:a', 1)]"
    )
    assert raised.value.read_ahead is read_ahead
    assert await pool.get("arq:retry:a") is None  # never counted
    assert read_ahead.used  # spent: later transactions go to Redis


async def test_after_a_mismatch_the_next_transaction_in_its_context_goes_to_redis(pool: WakeableArqRedis) -> None:
    read_ahead = ReadAhead([("GET", "arq:job:b")], [b"read ahead"])

    async def mismatch_then_start() -> list[Any]:
        with pytest.raises(ReadAheadMismatch):
            await start_transaction(pool)
        return await start_transaction(pool)

    assert await run_as_job_task(read_ahead, mismatch_then_start()) == [None, 1]


async def test_outside_the_read_ahead_context_a_transaction_goes_to_redis(
    pool: WakeableArqRedis, server: FakeServer
) -> None:
    read_ahead_context(ReadAhead(START, [b"read ahead", 1]))  # made, but this task does not run in it
    server.connected = False

    with pytest.raises(RedisConnectionError):
        await start_transaction(pool)


@pytest.mark.parametrize(
    "open_pipeline",
    [
        lambda pool: pool.pipeline(),
        lambda pool: pool.pipeline(transaction=True),
        lambda pool: ShortcutPipeline.of(pool),
    ],
    ids=["pool.pipeline()", "pool.pipeline(transaction=True)", "ShortcutPipeline.of(pool)"],
)
async def test_a_pipeline_is_a_transaction_unless_asked_otherwise_all_or_nothing(
    pool: WakeableArqRedis, open_pipeline: Any
) -> None:
    async with open_pipeline(pool) as pipe:
        pipe.set("result", b"1")
        pipe.execute_command("SET")  # refused as it is queued: Redis then discards the whole transaction
        with pytest.raises(ResponseError):
            await pipe.execute()

    assert await pool.get("result") is None


async def test_a_pipeline_asked_for_no_transaction_runs_the_commands_redis_accepts(pool: WakeableArqRedis) -> None:
    async with pool.pipeline(transaction=False) as pipe:
        pipe.set("result", b"1")
        pipe.execute_command("SET")
        with pytest.raises(ResponseError):
            await pipe.execute()

    assert await pool.get("result") == b"1"


async def test_a_commands_error_in_a_pipeline_is_raised_as_redis_py_raises_it(pool: WakeableArqRedis) -> None:
    await pool.set("counter", b"not a number")

    async with pool.pipeline(transaction=True) as pipe:
        pipe.incr("counter")
        pipe.set("after", b"1")
        with pytest.raises(ResponseError):
            await pipe.execute()

    assert await pool.get("after") == b"1"  # run: the error came from the command, not the transaction
