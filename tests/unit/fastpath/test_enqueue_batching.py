"""The web side's enqueues: those of one loop turn go to Redis in one write, with one wake-up, failing together."""

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from redis.exceptions import ConnectionError as RedisConnectionError

from src.fastpath import FastPath
from src.fastpath.enqueue_batcher import BatchedJobWriter, EnqueueBatcher, NewJob, queue_jobs
from src.job_queue import JobQueue, QueueError
from src.settings import Settings
from tests.support.fake_arq import fake_arq_pool


class RecordingWriter:
    """Stands in for the Redis write: records each batch (its job ids) and the wake channel it was given."""

    def __init__(self, error: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.wake_channels: list[str] = []
        self.error = error

    async def __call__(self, pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str) -> None:
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
    batcher = EnqueueBatcher(fake_arq_pool(), "q:wake")
    writer = batcher.write = RecordingWriter()

    await asyncio.gather(*(batcher.enqueue(new_job(n), wait_timeout=1.0) for n in range(501)))

    assert [len(batch) for batch in writer.batches] == [500, 1]
    assert writer.batches[0][:2] == ["default_0", "default_1"]
    assert writer.wake_channels == ["q:wake", "q:wake"]


async def test_a_write_that_fails_fails_every_job_of_its_batch() -> None:
    batcher = EnqueueBatcher(fake_arq_pool(), "q:wake")
    batcher.write = RecordingWriter(RedisConnectionError("Redis is away"))

    results = await asyncio.gather(*(batcher.enqueue(new_job(n), 1.0) for n in range(3)), return_exceptions=True)

    assert [type(result) for result in results] == [RedisConnectionError] * 3


async def test_the_fast_paths_writer_batches_the_job_queues_enqueues_with_a_wake_up_on_the_queues_wake_channel() -> (
    None
):
    settings = Settings(queue_name="q")
    jobs = JobQueue(settings, pool=fake_arq_pool(), speedups=FastPath(settings))
    assert isinstance(jobs.writer, BatchedJobWriter)
    writer = jobs.writer.batcher.write = RecordingWriter()

    await jobs.enqueue("default", "default_1", "x", "channel")

    assert (writer.batches, writer.wake_channels) == ([["default_1"]], ["q:wake"])


async def test_the_fast_paths_abort_request_is_arqs_and_wakes_an_idle_worker_to_see_it_at_once() -> None:
    pool = fake_arq_pool()
    wake_ups = pool.pubsub()
    await wake_ups.subscribe("q:wake")
    await wake_ups.get_message(timeout=1)  # the subscription's confirmation

    await BatchedJobWriter(pool, "q:wake").request_abort("default_1")

    assert await pool.zscore(abort_jobs_ss, "default_1") is not None
    message = await wake_ups.get_message(ignore_subscribe_messages=True, timeout=1)
    assert message is not None
    assert (message["channel"], message["data"]) == (b"q:wake", b"")
    await wake_ups.aclose()  # type: ignore[no-untyped-call]
    await pool.aclose()


async def test_an_enqueue_waiting_behind_a_hung_write_past_enqueue_timeout_fails_saying_so_and_one_sent_does_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(enqueue_timeout=0.05)
    jobs = JobQueue(settings, pool=fake_arq_pool(), speedups=FastPath(settings))
    writing, answer = asyncio.Event(), asyncio.Event()

    async def hung_redis(*args: Any) -> None:
        writing.set()
        await answer.wait()

    assert isinstance(jobs.writer, BatchedJobWriter)
    jobs.writer.batcher.write = hung_redis
    in_flight = asyncio.create_task(jobs.enqueue("default", "default_1", "a", "channel"))
    await asyncio.wait_for(writing.wait(), timeout=1)  # the first job's write hangs

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await jobs.enqueue("default", "default_2", "b", "channel")  # waits behind it, past the timeout

    answer.set()
    await asyncio.wait_for(in_flight, timeout=1)  # one already sent waits for Redis's answer, however late
    assert [r.getMessage().split("] ")[-1].split() for r in caplog.records if r.levelname == "WARNING"] == [
        ["enqueue", "timed", "out", "job_id=default_2"]
    ]


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
