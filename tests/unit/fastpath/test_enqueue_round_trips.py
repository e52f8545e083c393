"""The enqueue batcher's round trips besides its writes: the queue's length and Redis's clock are asked for only
before the first write and when a batch might not fit; the clocks' offset is in whole milliseconds; the script is
registered once; and a caller that gives up on its job leaves the other jobs of its batch alone."""

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

import pytest
from arq import ArqRedis
from redis.commands.core import AsyncScript

from src.fastpath import enqueue_batcher
from src.fastpath.enqueue_batcher import EnqueueBatcher, NewJob, Written

#: Redis's clock in the scripted pool's TIME reply: seconds and microseconds.
REDIS_TIME = (1_000_000, 999_500)
#: This process's clock, still (seconds).
WALL_CLOCK = 999_000.0


class ScriptedLook:
    """The pipeline of one look: ZCARD and TIME, answered from the pool's script (or held until ``answer``)."""

    def __init__(self, pool: "ScriptedPool") -> None:
        self.pool = pool

    async def __aenter__(self) -> "ScriptedLook":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def zcard(self, name: str) -> None:
        assert name == "arq:queue"

    def time(self) -> None:
        return None

    async def execute(self) -> list[Any]:
        self.pool.looks += 1
        await self.pool.answer.wait()
        return [self.pool.depth, REDIS_TIME]


class ScriptedPool:
    """Just what the batcher asks of ARQ's pool besides its writes: looks (counted) and the script's registration."""

    default_queue_name = "arq:queue"

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth
        self.looks = 0
        self.registered: list[object] = []
        self.answer = asyncio.Event()
        self.answer.set()

    def pipeline(self, transaction: bool = True) -> ScriptedLook:
        return ScriptedLook(self)

    def register_script(self, source: str) -> object:
        script = object()
        self.registered.append(script)
        return script


class CountingWriter:
    """A write that queues its jobs (the queue's length grows by each batch) and records what it is given."""

    def __init__(self, start_depth: int = 0) -> None:
        self.depth = start_depth
        self.batches: list[list[str]] = []
        self.deadlines: list[int] = []
        self.scripts: list[AsyncScript | None] = []
        self.answer = asyncio.Event()
        self.answer.set()
        self.writing = asyncio.Event()

    async def __call__(
        self, pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str, deadline_ms: int, script: AsyncScript | None
    ) -> Written:
        self.batches.append([job.job_id for job in jobs])
        self.deadlines.append(deadline_ms)
        self.scripts.append(script)
        self.writing.set()
        await self.answer.wait()
        self.depth += len(jobs)
        return Written(self.depth, REDIS_TIME[0] * 1000)


def new_job(n: int) -> NewJob:
    return NewJob("default", f"default_{n}", "x", "channel")


def batcher_on(pool: ScriptedPool, max_depth: int, answer_timeout: float = 0.05) -> EnqueueBatcher:
    return EnqueueBatcher(cast(ArqRedis, pool), "q:wake", max_depth, answer_timeout)


async def test_the_queues_length_is_asked_for_before_the_first_write_only_while_batches_fit() -> None:
    pool = ScriptedPool(depth=0)
    batcher = batcher_on(pool, max_depth=3)
    writer = batcher.write = CountingWriter()

    assert await batcher.enqueue(new_job(1)) is True
    assert pool.looks == 1  # before the first write
    assert list(await asyncio.gather(batcher.enqueue(new_job(2)), batcher.enqueue(new_job(3)))) == [True, True]

    assert pool.looks == 1  # 1 queued + 2 more is exactly the bound: it fits, as the last write's length says
    assert writer.batches == [["default_1"], ["default_2", "default_3"]]


async def test_a_batch_that_might_not_fit_asks_for_the_queues_length_first() -> None:
    pool = ScriptedPool(depth=0)
    batcher = batcher_on(pool, max_depth=2)
    writer = batcher.write = CountingWriter()
    assert await batcher.enqueue(new_job(1)) is True
    pool.depth = 0  # a worker took the job meanwhile

    assert list(await asyncio.gather(batcher.enqueue(new_job(2)), batcher.enqueue(new_job(3)))) == [True, True]

    assert pool.looks == 2  # 1 + 2 might not fit in 2: the queue is looked at again, and has room
    assert writer.batches == [["default_1"], ["default_2", "default_3"]]


async def test_the_clocks_offset_and_the_batchs_deadline_are_whole_milliseconds_of_redis_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(enqueue_batcher, "wall_clock", lambda: WALL_CLOCK)
    pool = ScriptedPool()
    batcher = batcher_on(pool, max_depth=10, answer_timeout=0.25)
    writer = batcher.write = CountingWriter()

    await batcher.enqueue(new_job(1))

    # Redis reads 1_000_000.9995 s: 1_000_000_999 ms, 1_000_999 ms ahead of this process's 999_000_000 ms.
    (deadline,) = writer.deadlines
    assert deadline == 999_000_250 + 1_000_999
    assert type(deadline) is int


async def test_the_enqueue_script_is_registered_once_and_every_write_is_handed_it() -> None:
    pool = ScriptedPool()
    batcher = batcher_on(pool, max_depth=10)
    writer = batcher.write = CountingWriter()

    for n in range(3):
        await batcher.enqueue(new_job(n))

    assert len(pool.registered) == 1
    assert writer.scripts == [pool.registered[0]] * 3


async def test_a_caller_that_gives_up_while_its_batch_is_written_leaves_the_other_jobs_queued() -> None:
    pool = ScriptedPool()
    batcher = batcher_on(pool, max_depth=10)
    writer = batcher.write = CountingWriter()
    writer.answer.clear()
    leaving = asyncio.create_task(batcher.enqueue(new_job(1)))
    staying = asyncio.create_task(batcher.enqueue(new_job(2)))
    await asyncio.wait_for(writer.writing.wait(), timeout=1)

    leaving.cancel()
    await asyncio.wait({leaving})
    writer.answer.set()

    assert await asyncio.wait_for(staying, timeout=1) is True
    assert leaving.cancelled()
    assert writer.batches == [["default_1", "default_2"]]  # written all the same


async def test_a_look_redis_does_not_answer_after_a_write_fails_its_jobs_in_time() -> None:
    """The batch after a write must ask for the queue's length (it might not fit); Redis does not answer that."""
    pool = ScriptedPool(depth=0)
    batcher = batcher_on(pool, max_depth=2)
    batcher.write = CountingWriter()
    assert await batcher.enqueue(new_job(1)) is True
    pool.answer.clear()  # Redis stops answering

    results = await asyncio.wait_for(
        asyncio.gather(batcher.enqueue(new_job(2)), batcher.enqueue(new_job(3)), return_exceptions=True), timeout=2
    )

    assert [str(result) for result in results] == ["Redis did not answer the write in time"] * 2
    assert pool.looks == 2


async def test_a_new_batcher_knows_neither_the_queues_length_nor_redis_clock_and_is_not_overdue() -> None:
    batcher = batcher_on(ScriptedPool(), max_depth=10)

    assert (batcher.depth, batcher.clock_offset_ms) == (None, None)
    assert batcher.overdue is False


async def test_a_first_look_redis_does_not_answer_fails_its_jobs_in_time() -> None:
    pool = ScriptedPool(depth=0)
    pool.answer.clear()  # Redis does not answer from the start
    batcher = batcher_on(pool, max_depth=2)
    writer = batcher.write = CountingWriter()

    with pytest.raises(TimeoutError, match=r"^Redis did not answer the write in time$"):  # the batcher's, in time
        await asyncio.wait_for(batcher.enqueue(new_job(1)), timeout=2)

    assert (pool.looks, writer.batches) == (1, [])
