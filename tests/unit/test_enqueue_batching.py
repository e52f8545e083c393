"""The web side's enqueues: those of one loop turn go to Redis in one write, with one wake-up, failing together."""

import asyncio
from collections.abc import Sequence

import pytest
from arq import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError

from src.enqueue_batcher import EnqueueBatcher, NewJob, queue_jobs
from src.job_queue import JobQueue
from src.settings import Settings
from tests.support.fake_arq import fake_arq_pool


class RecordingWriter:
    """Stands in for the Redis write: records each batch (its job ids) and the wake channel it was given."""

    def __init__(self, error: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.wake_channels: list[str | None] = []
        self.error = error

    async def __call__(self, pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str | None) -> None:
        self.batches.append([job.job_id for job in jobs])
        self.wake_channels.append(wake_channel)
        if self.error is not None:
            raise self.error


def new_job(n: int) -> NewJob:
    """A default job numbered ``n``."""
    return NewJob("default", f"default_{n}", "x", "channel")


async def test_a_lone_enqueue_is_written_at_once_with_its_wake_up() -> None:
    batcher = EnqueueBatcher(fake_arq_pool(), "q:wake")
    writer = batcher.write = RecordingWriter()

    await batcher.enqueue(new_job(1), wait_timeout=1.0)

    assert (writer.batches, writer.wake_channels) == ([["default_1"]], ["q:wake"])


async def test_enqueues_of_one_loop_turn_are_written_together_at_most_500_at_a_time() -> None:
    batcher = EnqueueBatcher(fake_arq_pool(), None)
    writer = batcher.write = RecordingWriter()

    await asyncio.gather(*(batcher.enqueue(new_job(n), wait_timeout=1.0) for n in range(501)))

    assert [len(batch) for batch in writer.batches] == [500, 1]
    assert writer.batches[0][:2] == ["default_0", "default_1"]
    assert writer.wake_channels == [None, None]


async def test_a_write_that_fails_fails_every_job_of_its_batch() -> None:
    batcher = EnqueueBatcher(fake_arq_pool(), None)
    batcher.write = RecordingWriter(RedisConnectionError("Redis is away"))

    results = await asyncio.gather(*(batcher.enqueue(new_job(n), 1.0) for n in range(3)), return_exceptions=True)

    assert [type(result) for result in results] == [RedisConnectionError] * 3


async def test_the_job_queue_wakes_workers_on_its_wake_channel_unless_wake_ups_are_off() -> None:
    for wakeup, expected in ((True, "q:wake"), (False, None)):
        jobs = JobQueue(Settings(queue_name="q", worker_wakeup=wakeup), pool=fake_arq_pool())
        writer = jobs.batcher.write = RecordingWriter()

        await jobs.enqueue("default", "default_1", "x", "channel")

        assert writer.wake_channels == [expected]
        assert jobs.batcher is jobs.batcher


async def test_queued_jobs_are_written_as_arqs_own_enqueue_writes_them_with_one_wake_up() -> None:
    pool = fake_arq_pool()
    jobs = [NewJob("translate", "translate_1", "hello", "chan-1"), NewJob("default", "default_2", "hi", "chan-2")]
    wake = pool.pubsub()
    await wake.subscribe("q:wake")
    await wake.get_message(timeout=1)  # the subscription's confirmation

    await queue_jobs(pool, jobs, "q:wake")

    queued = {job.job_id: (job.function, job.args) for job in await pool.queued_jobs()}
    assert queued == {
        "translate_1": ("translate", ("translate_1", "hello", "chan-1")),
        "default_2": ("default", ("default_2", "hi", "chan-2")),
    }
    message = await wake.get_message(timeout=1)
    assert message is not None
    assert (message["type"], message["data"]) == ("message", b"")
    assert await wake.get_message(timeout=0.05) is None
    await wake.aclose()  # type: ignore[no-untyped-call]
    await pool.aclose()


async def test_a_job_queue_used_before_it_is_opened_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"JobQueue.open\(\) has not been called"):
        _ = JobQueue(Settings()).pool


async def test_a_closed_job_queue_has_closed_its_pools_connections_and_is_no_longer_usable() -> None:
    pool = fake_arq_pool()
    disconnected: list[bool] = []
    disconnect = pool.connection_pool.disconnect

    async def record_disconnect(inuse_connections: bool = True) -> None:
        disconnected.append(inuse_connections)
        await disconnect(inuse_connections)

    pool.connection_pool.disconnect = record_disconnect  # type: ignore[method-assign]
    jobs = JobQueue(Settings(), pool=pool)
    await jobs.open()  # keeps the pool it was given
    assert jobs.pool is pool

    await jobs.close()
    await jobs.close()  # closing twice is harmless

    assert disconnected == [True]
    with pytest.raises(RuntimeError):
        _ = jobs.pool
