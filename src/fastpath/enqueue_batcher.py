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


@dataclass
class NewJob:
    """One job to put on the queue, with the seed's task arguments."""

    job_type: str
    job_id: str
    content: str
    channel_name: str
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def queue_jobs(pool: ArqRedis, jobs: Sequence[NewJob], wake_channel: str) -> None:
    """Write ARQ's job record and queue entry for each job, and one wake-up, in one round trip.

    ARQ's own ``enqueue_job`` spends three round trips per job (WATCH, EXISTS, MULTI/EXEC) making
    sure the id is free; ours are fresh uuid4s, so the records are written as ARQ writes them,
    without the check, all jobs in one transaction.
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
        await pipe.execute()


Writer = Callable[[ArqRedis, Sequence[NewJob], str], Awaitable[None]]


class EnqueueBatcher:
    """Collects concurrent enqueues and writes them in batches; a lone enqueue goes out at once.

    A job waits at most ``wait_timeout`` to be written; one whose batch is already on its way
    waits for Redis's answer, which the connection's socket timeout bounds, so a client is never
    told a job failed that was in fact queued.
    """

    def __init__(self, pool: ArqRedis, wake_channel: str, max_batch: int = 500) -> None:
        self._pool = pool
        self._wake_channel = wake_channel
        self._max_batch = max_batch
        self._waiting: list[NewJob] = []
        self._flusher: asyncio.Task[None] | None = None
        #: The writer, a seam for tests that need an enqueue to pause.
        self.write: Writer = queue_jobs

    async def enqueue(self, job: NewJob, wait_timeout: float) -> None:
        """Queue ``job``; raises ``TimeoutError`` if it could not be written in time (it then is not)."""
        self._waiting.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="enqueue batcher")
        try:
            await asyncio.wait_for(asyncio.shield(job.done), wait_timeout)
        except TimeoutError:
            if job in self._waiting:  # never sent: withdraw it, the failure is true
                self._waiting.remove(job)
                raise
            await job.done  # sent: Redis's answer (or the socket timeout) decides

    async def _flush(self) -> None:
        """Write what is waiting, batch after batch, until nothing is."""
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            try:
                await self.write(self._pool, batch, self._wake_channel)
            except Exception as exc:
                for job in batch:
                    if not job.done.done():
                        job.done.set_exception(exc)
            else:
                for job in batch:
                    if not job.done.done():
                        job.done.set_result(None)


class BatchedJobWriter:
    """The web side's writes (``JobWriter``): enqueues batched per loop turn, each batch and abort with a wake-up."""

    def __init__(self, pool: ArqRedis, wake_channel: str) -> None:
        self.pool = pool
        self.wake_channel = wake_channel
        self.batcher = EnqueueBatcher(pool, wake_channel)

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str, timeout: float) -> None:
        """Queue the job in the next batch; ``TimeoutError`` only if it was not written within ``timeout``."""
        await self.batcher.enqueue(NewJob(job_type, job_id, content, channel_name), timeout)

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request, and wake an idle worker to act on it at once."""
        async with self.pool.pipeline(transaction=True) as pipe:
            pipe.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
            pipe.publish(self.wake_channel, b"")
            await pipe.execute()
