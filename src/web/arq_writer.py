"""The web side's writes as ARQ makes them: ``enqueue_job`` for each job, and ``Job.abort``'s request: the stock
parts' job writer (``src/parts.py``)."""

import asyncio

from arq import ArqRedis
from arq.constants import abort_jobs_ss, job_key_prefix
from arq.utils import timestamp_ms

from src.plumbing.deadlines import within
from src.settings import Settings

#: Enqueues ARQ's writer runs at once (each holds a Redis connection for its three round trips).
STOCK_ENQUEUES_AT_ONCE = 32
#: The share of ``ENQUEUE_TIMEOUT`` a ``WAIT`` for replicas may take (the rest: taking the job back).
WAIT_SHARE = 0.5


class NotReplicated(Exception):
    """What ARQ's writer raises when ``WAIT`` saw too few replicas take the job (``JobQueue`` tells the client)."""


class ArqJobWriter:
    """ARQ's own writes: ``enqueue_job`` for each job, and the abort request ``Job.abort`` records.

    At most ``STOCK_ENQUEUES_AT_ONCE`` enqueues run at once; the others wait their turn, untimed (that
    wait is this process's backlog), and each one's Redis work is bounded by ``ENQUEUE_TIMEOUT``
    (``src.plumbing.deadlines``: time this process's busy loop loses is not counted).
    """

    def __init__(self, pool: ArqRedis, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._turns = asyncio.Semaphore(STOCK_ENQUEUES_AT_ONCE)

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        """Queue the job with ARQ's ``enqueue_job`` under ``job_id``, unless the queue is full (then False)."""
        async with self._turns:
            return await within(self._enqueue(job_type, job_id, content, channel_name), self.settings.enqueue_timeout)

    async def _enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        """Check the queue's depth, then ``enqueue_job``."""
        if await self.pool.zcard(self.settings.queue_name) >= self.settings.max_queue_depth:
            return False
        if self.settings.redis_min_replicas_ack > 0:
            await self._enqueue_replicated(job_type, job_id, content, channel_name)
            return True
        await self.pool.enqueue_job(job_type, job_id, content, channel_name, _job_id=job_id)
        return True

    async def _enqueue_replicated(self, job_type: str, job_id: str, content: str, channel_name: str) -> None:
        """``enqueue_job``, then Redis ``WAIT`` on the same connection until ``REDIS_MIN_REPLICAS_ACK`` replicas
        hold the job. If they do not in time, the job is taken back (``NotReplicated``), unless a worker has it."""
        wanted = self.settings.redis_min_replicas_ack
        queue_name = self.settings.queue_name
        async with ArqRedis(connection_pool=self.pool.connection_pool, single_connection_client=True) as connection:
            await connection.enqueue_job(
                job_type, job_id, content, channel_name, _job_id=job_id, _queue_name=queue_name
            )
            wait_ms = max(1, int(self.settings.enqueue_timeout * 1000 * WAIT_SHARE))
            acked = await connection.wait(wanted, wait_ms)
            if acked >= wanted:
                return
            if await connection.zrem(queue_name, job_id):  # not taken yet: withdrawn, so it never runs
                await connection.delete(job_key_prefix + job_id)
                raise NotReplicated(f"the job queue could not copy the job to {wanted} replica(s) in time")
            # A worker took it meanwhile: it runs, and the client is told it is queued.

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request (what ``Job.abort`` writes, without its wait for the job's end)."""
        await self.pool.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
