"""The web side's enqueues on the fast path: those of one loop turn go to Redis in one script call, with one
wake-up; a job waits as long as this process takes to get to it, and fails only when Redis does."""

import asyncio
import time
from collections.abc import Sequence

import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError

from src.fastpath import FastPath, enqueue_batcher
from src.fastpath.enqueue_batcher import (
    BatchedJobWriter,
    EnqueueBatcher,
    LateWrite,
    NewJob,
    Written,
    queue_jobs,
    write_jobs,
)
from src.settings import Settings
from src.web.job_queue import JobQueue, QueueError, QueueFull
from tests.support.fake_arq import fake_arq_pool

ANSWER_TIMEOUT = 0.05


def redis_ms() -> int:
    """Redis's clock as the fake pool's Redis reads it: this machine's."""
    return int(time.time() * 1000)


class RecordingWriter:
    """Stands in for the Redis write: records each batch (its job ids), its wake channel and its deadline."""

    def __init__(self, error: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.wake_channels: list[str] = []
        self.deadlines: list[int] = []
        self.error = error

    async def __call__(
        self, pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str, deadline_ms: int, script: AsyncScript | None
    ) -> Written:
        self.batches.append([job.job_id for job in jobs])
        self.wake_channels.append(wake_channel)
        self.deadlines.append(deadline_ms)
        if self.error is not None:
            raise self.error
        return Written(sum(len(batch) for batch in self.batches), redis_ms())


class HeldWriter:
    """A write that reaches Redis and waits for its answer until ``answer`` is set."""

    def __init__(self) -> None:
        self.writing = asyncio.Event()
        self.answer = asyncio.Event()
        self.batches: list[list[str]] = []

    async def __call__(
        self, pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str, deadline_ms: int, script: AsyncScript | None
    ) -> Written:
        self.batches.append([job.job_id for job in jobs])
        self.writing.set()
        await self.answer.wait()
        return Written(len(jobs), redis_ms())


def new_job(n: int) -> NewJob:
    """A default job numbered ``n``."""
    return NewJob("default", f"default_{n}", "x", "channel")


def batcher(max_depth: int = 100, answer_timeout: float = ANSWER_TIMEOUT) -> EnqueueBatcher:
    """A batcher on a fake pool, waking ``q:wake``."""
    return EnqueueBatcher(fake_arq_pool(), "q:wake", max_depth, answer_timeout)


async def test_a_lone_enqueue_is_written_at_once_with_its_wake_up() -> None:
    lone = batcher()
    writer = lone.write = RecordingWriter()

    assert await lone.enqueue(new_job(1)) is True

    assert (writer.batches, writer.wake_channels) == ([["default_1"]], ["q:wake"])


async def test_enqueues_of_one_loop_turn_are_written_together_at_most_500_at_a_time() -> None:
    many = batcher(max_depth=10_000)
    writer = many.write = RecordingWriter()

    await asyncio.gather(*(many.enqueue(new_job(n)) for n in range(501)))

    assert [len(batch) for batch in writer.batches] == [500, 1]
    assert writer.batches[0][:2] == ["default_0", "default_1"]
    assert writer.wake_channels == ["q:wake", "q:wake"]


async def test_a_write_that_fails_fails_every_job_of_its_batch() -> None:
    failing = batcher()
    failing.write = RecordingWriter(RedisConnectionError("Redis is away"))

    results = await asyncio.gather(*(failing.enqueue(new_job(n)) for n in range(3)), return_exceptions=True)

    assert [type(result) for result in results] == [RedisConnectionError] * 3


async def test_a_job_waiting_behind_a_write_redis_answers_in_time_is_never_failed_however_long_it_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def redis_answers_in_time(write: "asyncio.Future[int]", seconds: float) -> bool:
        await asyncio.wait({write})  # however long the write takes, Redis is deemed to answer it in time
        return True

    monkeypatch.setattr(enqueue_batcher, "answered_within", redis_answers_in_time)
    slow = batcher(max_depth=10_000, answer_timeout=0.01)
    writer = slow.write = HeldWriter()
    first = asyncio.create_task(slow.enqueue(new_job(0)))
    await asyncio.wait_for(writer.writing.wait(), timeout=1)  # the first job's batch goes out alone
    later = [asyncio.create_task(slow.enqueue(new_job(n))) for n in range(1, 1001)]  # two batches behind it

    await asyncio.sleep(0.1)  # the jobs behind wait ten times answer_timeout: nothing of their own times them out
    assert not any(task.done() for task in later)
    writer.answer.set()

    assert all(await asyncio.wait_for(asyncio.gather(first, *later), timeout=5))
    assert [len(batch) for batch in writer.batches] == [1, 500, 500]


async def test_while_redis_has_not_answered_a_write_in_time_the_jobs_not_sent_fail_and_new_ones_fail_at_once() -> None:
    stuck = batcher()
    writer = stuck.write = HeldWriter()
    in_flight = asyncio.create_task(stuck.enqueue(new_job(1)))
    await asyncio.wait_for(writer.writing.wait(), timeout=1)
    waiting = asyncio.create_task(stuck.enqueue(new_job(2)))

    with pytest.raises(TimeoutError, match=r"^Redis has not answered the write in flight$"):
        await asyncio.wait_for(waiting, timeout=1)  # failed once the write in flight is ANSWER_TIMEOUT late
    assert stuck.overdue
    with pytest.raises(TimeoutError, match=r"^Redis has not answered the write in flight$"):
        await stuck.enqueue(new_job(3))  # and a new one fails at once
    with pytest.raises(TimeoutError, match=r"^Redis did not answer the write in time$"):
        await asyncio.wait_for(in_flight, timeout=1)  # past its deadline (Redis would refuse it): given up on

    assert writer.batches == [["default_1"]]  # the failed ones were never sent
    assert not stuck.overdue
    writer.answer.set()
    assert await asyncio.wait_for(stuck.enqueue(new_job(4)), timeout=1) is True


async def test_a_batch_carries_a_deadline_on_redis_clock_answer_timeout_after_it_is_sent() -> None:
    timed = batcher(answer_timeout=2.0)
    writer = timed.write = RecordingWriter()

    sent_at = redis_ms()
    await timed.enqueue(new_job(1))

    (deadline,) = writer.deadlines
    assert sent_at + 2_000 - 50 <= deadline <= redis_ms() + 2_000 + 50  # the clocks agree here, to a few ms


async def test_the_deadline_follows_redis_clock_where_it_is_ahead_of_this_machines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ahead = batcher(answer_timeout=1.0)
    writer = ahead.write = RecordingWriter()
    monkeypatch.setattr(enqueue_batcher, "wall_clock", lambda: time.time() - 3600)  # this machine is an hour behind

    await ahead.enqueue(new_job(1))

    (deadline,) = writer.deadlines
    assert abs(deadline - (redis_ms() + 1_000)) < 100


async def test_a_batch_redis_runs_past_its_deadline_writes_nothing_and_says_so() -> None:
    pool = fake_arq_pool()

    with pytest.raises(LateWrite, match=r"^Redis ran the batch after its deadline$"):
        await write_jobs(pool, [new_job(1)], "q:wake", deadline_ms=redis_ms() - 1_000)

    assert (await pool.zcard("arq:queue"), await pool.exists("arq:job:default_1")) == (0, 0)
    await pool.aclose()


async def test_a_late_answer_that_comes_within_the_grace_after_the_deadline_is_taken() -> None:
    grace = batcher(answer_timeout=ANSWER_TIMEOUT)
    writer = grace.write = HeldWriter()
    in_flight = asyncio.create_task(grace.enqueue(new_job(1)))
    await asyncio.wait_for(writer.writing.wait(), timeout=1)
    loop = asyncio.get_running_loop()
    # Redis ran it just before its deadline; its answer arrives a little after it, within the grace.
    loop.call_later(ANSWER_TIMEOUT + enqueue_batcher.ANSWER_GRACE / 5, writer.answer.set)

    assert await asyncio.wait_for(in_flight, timeout=1) is True


async def test_a_job_that_finds_the_queue_full_is_not_queued_and_says_so() -> None:
    pool = fake_arq_pool()
    full = EnqueueBatcher(pool, "q:wake", max_depth=2, answer_timeout=1.0)

    results = await asyncio.gather(*(full.enqueue(new_job(n)) for n in range(3)))

    assert results == [True, True, False]
    assert sorted(str(job.job_id) for job in await pool.queued_jobs()) == ["default_0", "default_1"]
    await pool.aclose()


async def test_near_its_bound_the_queue_is_measured_first_so_jobs_taken_by_workers_make_room_again() -> None:
    pool = fake_arq_pool()
    full = EnqueueBatcher(pool, "q:wake", max_depth=2, answer_timeout=1.0)
    assert list(await asyncio.gather(full.enqueue(new_job(1)), full.enqueue(new_job(2)))) == [True, True]
    assert full.depth == 2
    await pool.zrem("arq:queue", "default_1")  # a worker finished it

    assert await full.enqueue(new_job(3)) is True

    assert sorted(str(job.job_id) for job in await pool.queued_jobs()) == ["default_2", "default_3"]
    await pool.aclose()


async def test_a_batch_that_finds_the_queue_full_is_not_written_and_wakes_no_worker() -> None:
    pool = fake_arq_pool()
    await pool.zadd("arq:queue", {"someone_elses": 1})
    wake = pool.pubsub()
    await wake.subscribe("q:wake")
    await wake.get_message(timeout=1)
    full = EnqueueBatcher(pool, "q:wake", max_depth=1, answer_timeout=1.0)

    assert await full.enqueue(new_job(1)) is False

    assert await pool.exists("arq:job:default_1") == 0
    assert await wake.get_message(timeout=0.05) is None
    await wake.aclose()  # type: ignore[no-untyped-call]
    await pool.aclose()


async def test_the_fast_paths_writer_batches_the_job_queues_enqueues_with_a_wake_up_on_the_queues_channel() -> None:
    settings = Settings(queue_name="q")
    jobs = JobQueue(settings, FastPath(settings), pool=fake_arq_pool())
    assert isinstance(jobs.writer, BatchedJobWriter)
    writer = jobs.writer.batcher.write = RecordingWriter()

    await jobs.enqueue("default", "default_1", "x", "channel")

    assert (writer.batches, writer.wake_channels) == ([["default_1"]], ["q:wake"])


async def test_a_job_over_max_queue_depth_is_refused_saying_the_queue_is_full() -> None:
    settings = Settings(queue_name="q", max_queue_depth=1)
    pool = fake_arq_pool()
    jobs = JobQueue(settings, FastPath(settings), pool=pool)
    await jobs.enqueue("default", "default_1", "x", "channel")

    with pytest.raises(QueueFull, match=r"^the job queue is full \(1 jobs\); try again later$"):
        await jobs.enqueue("default", "default_2", "x", "channel")

    assert [job.job_id for job in await pool.queued_jobs()] == ["default_1"]
    await pool.aclose()


async def test_the_fast_paths_abort_request_is_arqs_and_wakes_an_idle_worker_to_see_it_at_once() -> None:
    pool = fake_arq_pool()
    wake_ups = pool.pubsub()
    await wake_ups.subscribe("q:wake")
    await wake_ups.get_message(timeout=1)  # the subscription's confirmation

    await BatchedJobWriter(pool, "q:wake", 100, 1.0).request_abort("default_1")

    assert await pool.zscore(abort_jobs_ss, "default_1") is not None
    message = await wake_ups.get_message(ignore_subscribe_messages=True, timeout=1)
    assert message is not None
    assert (message["channel"], message["data"]) == (b"q:wake", b"")
    await wake_ups.aclose()  # type: ignore[no-untyped-call]
    await pool.aclose()


async def test_an_enqueue_while_redis_has_not_answered_in_time_fails_saying_so_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(enqueue_timeout=ANSWER_TIMEOUT)
    jobs = JobQueue(settings, FastPath(settings), pool=fake_arq_pool())
    assert isinstance(jobs.writer, BatchedJobWriter)
    writer = jobs.writer.batcher.write = HeldWriter()
    in_flight = asyncio.create_task(jobs.enqueue("default", "default_1", "a", "channel"))
    await asyncio.wait_for(writer.writing.wait(), timeout=1)

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await jobs.enqueue("default", "default_2", "b", "channel")

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await asyncio.wait_for(in_flight, timeout=1)  # past its deadline: given up on
    assert [r.getMessage().split("] ")[-1].split() for r in caplog.records if r.levelname == "WARNING"] == [
        ["enqueue", "timed", "out", "job_id=default_2"],
        ["enqueue", "timed", "out", "job_id=default_1"],
    ]


async def test_queued_jobs_are_written_as_arqs_own_enqueue_writes_them_with_one_wake_up() -> None:
    pool = fake_arq_pool()
    jobs = [NewJob("translate", "translate_1", "hello", "chan-1"), NewJob("default", "default_2", "hi", "chan-2")]
    wake = pool.pubsub()
    await wake.subscribe("q:wake")
    await wake.get_message(timeout=1)  # the subscription's confirmation

    assert await queue_jobs(pool, jobs, "q:wake") == 2  # the queue's length after the write

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


async def test_an_overdue_write_redis_answers_before_its_deadline_queues_its_job_and_ends_the_overdue_spell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Overdue, the batch in flight is given up on only once Redis would refuse it: an answer before that counts."""
    monkeypatch.setattr(enqueue_batcher, "wall_clock", lambda: 1_000.0)  # a still clock: the deadline stays 0.2 s away
    late = batcher(answer_timeout=0.2)
    writer = late.write = HeldWriter()
    in_flight = asyncio.create_task(late.enqueue(new_job(1)))
    await asyncio.wait_for(writer.writing.wait(), timeout=1)
    waiting = asyncio.create_task(late.enqueue(new_job(2)))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(waiting, timeout=2)  # overdue: the job never sent has failed

    writer.answer.set()  # Redis answers, before the batch's deadline

    assert await asyncio.wait_for(in_flight, timeout=2) is True
    async with asyncio.timeout(1):  # the flusher ends the spell once it has seen the answer
        while late.overdue:  # noqa: ASYNC110
            await asyncio.sleep(0)
    assert late.overdue is False
    assert await asyncio.wait_for(late.enqueue(new_job(3)), timeout=1) is True
    assert writer.batches == [["default_1"], ["default_3"]]


async def test_a_job_enqueued_in_the_loop_turn_after_a_batch_was_taken_goes_in_the_next_batch() -> None:
    """The write takes its batch when it first runs, the turn after the first enqueue: a later enqueue waits for the
    next write."""
    turns = batcher()
    writer = turns.write = RecordingWriter()
    first = asyncio.create_task(turns.enqueue(new_job(1)))
    await asyncio.sleep(0)  # this turn, ``first`` runs and starts the write, which takes its batch next turn
    second = asyncio.create_task(turns.enqueue(new_job(2)))  # runs next turn, after the write has taken its batch

    assert list(await asyncio.wait_for(asyncio.gather(first, second), timeout=1)) == [True, True]
    assert writer.batches == [["default_1"], ["default_2"]]
