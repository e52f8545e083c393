"""Auto-pipelining for the web side: the enqueues of one loop turn go to Redis as one atomic script.

Beneath ARQ's public API: the job record and queue entry ``enqueue_job`` writes, written here without
its WATCH round trips (``tests/contract`` compares the two).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from arq import ArqRedis
from arq.constants import abort_jobs_ss, job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.commands.core import AsyncScript

from src.plumbing.deadlines import answered_within


@dataclass
class NewJob:
    """One job to put on the queue, with the seed's task arguments; ``done`` says whether it was queued."""

    job_type: str
    job_id: str
    content: str
    channel_name: str
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


#: Seconds of idle time the batcher still listens for a late batch's answer once Redis would refuse it, so that an
#: answer already on its way (the batch ran just before its deadline) is read, not dropped.
ANSWER_GRACE = 0.05


def wall_clock() -> float:
    """This process's wall clock, in seconds (the clock seam tests patch)."""
    return time.time()


class LateWrite(TimeoutError):
    """Redis ran the batch past its deadline, so wrote none of it: its server had given up waiting."""


@dataclass(frozen=True)
class Written:
    """A batch's answer: ARQ's queue length after it, and Redis's clock (ms) when it ran."""

    depth: int
    redis_ms: int


def enqueue_script_source() -> str:
    """The Lua script of one batch (``enqueue_jobs.lua``, beside this module)."""
    return files(__package__).joinpath("enqueue_jobs.lua").read_text(encoding="utf-8")


async def write_jobs(
    pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str, deadline_ms: int = 0, script: AsyncScript | None = None
) -> Written:
    """Write ARQ's job record and queue entry for each job, and one wake-up, atomically (one Lua script), unless
    Redis runs it after ``deadline_ms`` on its own clock (``LateWrite``: nothing written; 0: no deadline).

    ARQ's own ``enqueue_job`` spends three round trips per job (WATCH, EXISTS, MULTI/EXEC) making sure
    the id is free; ours are fresh uuid4s, so the records are written as ARQ writes them, without the
    check, all jobs at once.
    """
    now = timestamp_ms()
    keys: list[str] = [pool.default_queue_name]
    arguments: list[Any] = [deadline_ms, pool.expires_extra_ms, now, wake_channel]
    for job in jobs:
        record = serialize_job(
            job.job_type,
            (job.job_id, job.content, job.channel_name),
            {},
            job_try=None,
            enqueue_time_ms=now,
            serializer=pool.job_serializer,
        )
        keys.append(job_key_prefix + job.job_id)
        arguments += [job.job_id, record]
    run = script or pool.register_script(enqueue_script_source())
    depth, redis_ms = await run(keys=keys, args=arguments, client=pool)
    if int(depth) < 0:
        raise LateWrite("Redis ran the batch after its deadline")
    return Written(int(depth), int(redis_ms))


async def queue_jobs(pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str) -> int:
    """``write_jobs`` without a deadline; the queue's length after it."""
    return (await write_jobs(pool, jobs, wake_channel)).depth


Writer = Callable[[ArqRedis, Sequence[NewJob], str, int, AsyncScript | None], Awaitable[Written]]


class EnqueueBatcher:
    """Collects concurrent enqueues and writes them in batches; a lone enqueue goes out at once.

    A job waits here for as long as this process takes to get to it: its own backlog never fails it.
    It fails only when Redis does: a write that fails fails its batch, and while a write has gone
    unanswered for ``answer_timeout`` seconds (of time the loop was free to hear it: ``src.plumbing.deadlines``),
    the jobs still waiting (never sent) fail at once, as do new ones.

    A batch carries a deadline on Redis's own clock (this process's clock, plus the offset the last answer
    showed): sent ``answer_timeout`` seconds ago, Redis refuses it. So the batch in flight is given up on
    once its deadline has passed (and ``ANSWER_GRACE`` of idle time more, for an answer on its way): a Redis
    that wakes up later writes none of it, and no client is told a job failed that then runs.
    """

    def __init__(
        self, pool: ArqRedis, wake_channel: str, max_depth: int, answer_timeout: float, max_batch: int = 500
    ) -> None:
        self._pool = pool
        self._wake_channel = wake_channel
        self._max_depth = max_depth
        self._answer_timeout = answer_timeout
        self._max_batch = max_batch
        #: ARQ's queue length as the last write (or look) found it; None before the first.
        self.depth: int | None = None
        #: Redis's clock minus this process's (ms), as the last answer showed it; None before the first.
        self.clock_offset_ms: int | None = None
        self._waiting: list[NewJob] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Whether the write in flight has gone unanswered for ``answer_timeout``.
        self.overdue = False
        #: When (this process's wall clock) Redis refuses the batch in flight; None while none is sent.
        self._refused_after: float | None = None
        self._script: AsyncScript | None = None
        #: The writer, a seam for tests that need an enqueue to pause.
        self.write: Writer = write_jobs

    async def enqueue(self, job: NewJob) -> bool:
        """Queue ``job``: whether it was (False: the queue is full). ``TimeoutError`` if Redis does not answer."""
        if self.overdue:
            raise TimeoutError("Redis has not answered the write in flight")
        self._waiting.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = self._start_flushing()
        # Not shielded: a caller cancelled here leaves its job to be written (its future is then left alone).
        return await job.done

    def _start_flushing(self) -> "asyncio.Task[None]":
        """Start the first write, and the flusher that sees it answered and writes what comes meanwhile.

        The write's task takes its batch when it first runs, after the rest of this loop turn: every enqueue of
        the turn is in it.
        """
        batch: list[NewJob] = []
        write = asyncio.ensure_future(self._write_waiting(batch))
        return asyncio.create_task(self._flush(batch, write), name="enqueue batcher")

    async def _flush(self, batch: list[NewJob], write: "asyncio.Future[int]") -> None:
        """See each write answered (or given up on), then start the next, until nothing is waiting."""
        while True:
            if not await answered_within(write, self._answer_timeout):
                await self._redis_is_not_answering(write)
            self._settle(batch, write)
            if not self._waiting:
                return
            batch = []
            write = asyncio.ensure_future(self._write_waiting(batch))

    async def _write_waiting(self, batch: list[NewJob]) -> int:
        """Move up to ``max_batch`` waiting jobs into ``batch`` and write them; each job hears whether it was queued
        as soon as Redis answers, not on the flusher's next turn. How many were."""
        batch += self._waiting[: self._max_batch]
        del self._waiting[: self._max_batch]
        fits = await self._write_what_fits(batch)
        for position, job in enumerate(batch):
            if not job.done.done():
                job.done.set_result(position < fits)
        return fits

    async def _write_what_fits(self, batch: Sequence[NewJob]) -> int:
        """Write the jobs of ``batch`` the queue has room for (``max_depth``), from its first; how many.

        Each write reads the queue's length back, for free; the length is asked for first only before
        the first write, and when the last one says the batch might not fit (workers may have taken
        jobs since). Other servers' jobs show in the next write's length, so the queue may go over its
        bound by at most a batch per server.
        """
        depth, offset_ms = self.depth, self.clock_offset_ms
        if depth is None or offset_ms is None or depth + len(batch) > self._max_depth:
            depth, offset_ms = await self._look()
        fits = min(max(self._max_depth - depth, 0), len(batch))
        if fits:
            if self._script is None:
                self._script = self._pool.register_script(enqueue_script_source())
            self._refused_after = wall_clock() + self._answer_timeout
            deadline_ms = int(self._refused_after * 1000) + offset_ms
            try:
                written = await self.write(self._pool, batch[:fits], self._wake_channel, deadline_ms, self._script)
            finally:
                self._refused_after = None
            self.depth = written.depth
            self._set_clock_offset(written.redis_ms)
        return fits

    async def _look(self) -> tuple[int, int]:
        """Read ARQ's queue length and Redis's clock (one round trip); the length and the clocks' offset (ms)."""
        async with self._pool.pipeline(transaction=False) as pipe:
            pipe.zcard(self._pool.default_queue_name)
            pipe.time()
            depth, (seconds, microseconds) = await pipe.execute()
        self.depth = int(depth)
        return self.depth, self._set_clock_offset(int(seconds) * 1000 + int(microseconds) // 1000)

    def _set_clock_offset(self, redis_ms: int) -> int:
        """Redis's clock read ``redis_ms`` just now: how far ahead of this process's it is (ms)."""
        self.clock_offset_ms = redis_ms - int(wall_clock() * 1000)
        return self.clock_offset_ms

    async def _redis_is_not_answering(self, write: "asyncio.Future[int]") -> None:
        """Fail the jobs never sent, and any that come, until the write in flight is settled: answered, or past
        the deadline after which Redis refuses it (then it is given up on)."""
        self.overdue = True
        unsent, self._waiting = self._waiting, []
        for job in unsent:
            if not job.done.done():
                job.done.set_exception(TimeoutError("Redis has not answered the write in flight"))
        try:
            refused_after = self._refused_after
            if refused_after is not None:
                await asyncio.wait({write}, timeout=max(refused_after - wall_clock(), 0.0))
                # Past the deadline: an answer already here is read while the loop is free, then the wait ends.
                if not write.done() and not await answered_within(write, ANSWER_GRACE):
                    write.cancel()
            else:
                write.cancel()  # the batch was never sent: nothing of it can be written
            await asyncio.wait({write})
        finally:
            self.overdue = False

    @staticmethod
    def _settle(batch: Sequence[NewJob], write: "asyncio.Future[int]") -> None:
        """Give each job of ``batch`` the error of its failed (or given up) write; a write that succeeded has told
        its jobs itself."""
        error = TimeoutError("Redis did not answer the write in time") if write.cancelled() else write.exception()
        if error is None:
            return
        for job in batch:
            if not job.done.done():
                job.done.set_exception(error)


class BatchedJobWriter:
    """The web side's writes (``JobWriter``): enqueues batched per loop turn, each batch and abort with a wake-up."""

    def __init__(self, pool: ArqRedis, wake_channel: str, max_depth: int, answer_timeout: float) -> None:
        self.pool = pool
        self.wake_channel = wake_channel
        self.batcher = EnqueueBatcher(pool, wake_channel, max_depth, answer_timeout)

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        """Queue the job in the next batch; False if the queue is full."""
        return await self.batcher.enqueue(NewJob(job_type, job_id, content, channel_name))

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request, and wake an idle worker to act on it at once."""
        async with self.pool.pipeline(transaction=True) as pipe:
            pipe.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
            pipe.publish(self.wake_channel, b"")
            await pipe.execute()
