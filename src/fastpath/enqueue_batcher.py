"""Auto-pipelining for the web side: the enqueues of one loop turn go to Redis as one MULTI/EXEC.

Beneath ARQ's public API: the job record and queue entry ``enqueue_job`` writes, written here without
its WATCH round trips (``tests/contract`` compares the two).
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from arq import ArqRedis
from arq.constants import abort_jobs_ss, job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from src.deadlines import answered_within


@dataclass
class NewJob:
    """One job to put on the queue, with the seed's task arguments; ``done`` says whether it was queued."""

    job_type: str
    job_id: str
    content: str
    channel_name: str
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def queue_jobs(pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str) -> int:
    """Write ARQ's job record and queue entry for each job, and one wake-up, in one MULTI/EXEC; the queue's
    length after it.

    ARQ's own ``enqueue_job`` spends three round trips per job (WATCH, EXISTS, MULTI/EXEC) making sure
    the id is free; ours are fresh uuid4s, so the records are written as ARQ writes them, without the
    check, all jobs in one transaction.
    """
    now = timestamp_ms()
    async with pool.pipeline(transaction=True) as pipe:
        for job in jobs:
            record = serialize_job(
                job.job_type,
                (job.job_id, job.content, job.channel_name),
                {},
                job_try=None,
                enqueue_time_ms=now,
                serializer=pool.job_serializer,
            )
            pipe.psetex(job_key_prefix + job.job_id, pool.expires_extra_ms, record)
            pipe.zadd(pool.default_queue_name, {job.job_id: now})
        pipe.publish(wake_channel, b"")
        pipe.zcard(pool.default_queue_name)
        replies = await pipe.execute()
    return int(replies[-1])


Writer = Callable[[ArqRedis, Sequence[NewJob], str], Awaitable[int]]


class EnqueueBatcher:
    """Collects concurrent enqueues and writes them in batches; a lone enqueue goes out at once.

    A job waits here for as long as this process takes to get to it: its own backlog never fails it.
    It fails only when Redis does: a write that fails fails its batch, and while a write has gone
    unanswered for ``answer_timeout`` seconds (of time the loop was free to hear it: ``src.deadlines``),
    the jobs still waiting (never sent) fail at once, as do new ones. A job whose batch was sent
    waits for Redis's answer, however late (the connection's socket timeout bounds it), so a client
    is never told a job failed that was in fact queued.
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
        self._waiting: list[NewJob] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Whether the write in flight has gone unanswered for ``answer_timeout``.
        self.overdue = False
        #: The writer, a seam for tests that need an enqueue to pause.
        self.write: Writer = queue_jobs

    async def enqueue(self, job: NewJob) -> bool:
        """Queue ``job``: whether it was (False: the queue is full). ``TimeoutError`` if Redis does not answer."""
        if self.overdue:
            raise TimeoutError("Redis has not answered the write in flight")
        self._waiting.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="enqueue batcher")
        return await asyncio.shield(job.done)

    async def _flush(self) -> None:
        """Write what is waiting, batch after batch, until nothing is."""
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            write = asyncio.ensure_future(self._write_what_fits(batch))
            if not await answered_within(write, self._answer_timeout):
                await self._redis_is_not_answering(write)
            self._settle(batch, write)

    async def _write_what_fits(self, batch: Sequence[NewJob]) -> list[bool]:
        """Write the jobs of ``batch`` the queue has room for (``max_depth``); which were written.

        Each write reads the queue's length back, for free; the length is asked for first only before
        the first write, and when the last one says the batch might not fit (workers may have taken
        jobs since). Other servers' jobs show in the next write's length, so the queue may go over its
        bound by at most a batch per server.
        """
        if self.depth is None or self.depth + len(batch) > self._max_depth:
            self.depth = int(await self._pool.zcard(self._pool.default_queue_name))
        fits = min(max(self._max_depth - self.depth, 0), len(batch))
        if fits:
            self.depth = await self.write(self._pool, batch[:fits], self._wake_channel)
        return [True] * fits + [False] * (len(batch) - fits)

    async def _redis_is_not_answering(self, write: "asyncio.Future[list[bool]]") -> None:
        """Fail the jobs never sent, and any that come, until the write in flight has its answer."""
        self.overdue = True
        unsent, self._waiting = self._waiting, []
        for job in unsent:
            if not job.done.done():
                job.done.set_exception(TimeoutError("Redis has not answered the write in flight"))
        try:
            await asyncio.wait({write})
        finally:
            self.overdue = False

    @staticmethod
    def _settle(batch: Sequence[NewJob], write: "asyncio.Future[list[bool]]") -> None:
        """Give each job of ``batch`` the write's outcome: queued or not, or its error."""
        error = write.exception()
        queued = [False] * len(batch) if error is not None else write.result()
        for job, was_queued in zip(batch, queued, strict=True):
            if job.done.done():
                continue
            if error is not None:
                job.done.set_exception(error)
            else:
                job.done.set_result(was_queued)


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
