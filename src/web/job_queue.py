"""The enqueue side: the web process's one ARQ pool, its enqueues and abort requests, every wait bounded."""

import asyncio
import uuid

import structlog
from arq import ArqRedis, create_pool
from arq.constants import abort_jobs_ss, job_key_prefix
from arq.utils import timestamp_ms
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from src.apps.background_jobs.messages import queue_full_text
from src.plumbing.deadlines import within
from src.plumbing.sentinel import master_pool
from src.settings import Settings
from src.speedups import JobWriter, SpeedUps

logger = structlog.stdlib.get_logger(__name__)


#: Enqueues the stock writer runs at once (each holds a Redis connection for its three round trips).
STOCK_ENQUEUES_AT_ONCE = 32

#: Seconds a PING's answer vouches for Redis to the handshakes that follow it.
PONG_FRESH_FOR = 0.1


class QueueError(Exception):
    """A job could not be put on the queue; the message says why, for the client."""

    #: What ``jobs_refused_total`` counts the refusal under.
    reason = "queue_unavailable"


class QueueFull(QueueError):
    """ARQ's queue holds ``MAX_QUEUE_DEPTH`` jobs: the job was not queued."""

    reason = "queue_full"


class ReplicasBehind(QueueError):
    """Fewer than ``REDIS_MIN_REPLICAS_ACK`` replicas held the job in time: it was taken back, not queued."""

    reason = "replicas_unavailable"


def new_job_id(job_type: str) -> str:
    """A fresh ARQ job id, readable like the seed's (``translate_…``) but unique."""
    return f"{job_type}_{uuid.uuid4().hex}"


def web_pool(settings: Settings, connections: type[ConnectionPool] = ConnectionPool) -> ArqRedis:
    """The web process's ARQ pool: connects on first use (the app starts while Redis is away), fails fast
    when Redis is away, and gives up on a Redis that does not answer. With ``REDIS_SENTINELS``, on the master
    the sentinels name.

    (ARQ's ``create_pool`` would ping Redis at once, and retry for seconds before failing the start-up.)
    """
    if settings.redis_sentinels:
        return master_pool(settings, socket_connect_timeout=1.0, socket_timeout=settings.redis_socket_timeout)
    pool = connections.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=settings.redis_socket_timeout
    )
    return ArqRedis(pool, default_queue_name=settings.queue_name)


#: The share of ``ENQUEUE_TIMEOUT`` a ``WAIT`` for replicas may take (the rest: taking the job back).
WAIT_SHARE = 0.5


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
        hold the job. If they do not in time, the job is taken back (``QueueError``), unless a worker has it."""
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
                raise ReplicasBehind(f"the job queue could not copy the job to {wanted} replica(s) in time")
            # A worker took it meanwhile: it runs, and the client is told it is queued.

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request (what ``Job.abort`` writes, without its wait for the job's end)."""
        await self.pool.zadd(abort_jobs_ss, {job_id: timestamp_ms()})


async def queue_job_with_its_own_pool(
    settings: Settings, job_type: str, job_id: str, content: str, channel_name: str
) -> None:
    """The tutorial's enqueue, kept for the benchmark's comparison: a new pool, ARQ's enqueue_job, close."""
    pool = await create_pool(settings.arq_redis, default_queue_name=settings.queue_name)
    try:
        await pool.enqueue_job(job_type, job_id, content, channel_name, _job_id=job_id)
    finally:
        await pool.aclose()


class JobQueue:
    """Owns the process's ARQ pool (opened at start-up, closed at shutdown) and bounds every enqueue.

    ``speedups`` (from ``src.speedups``) brings the fast path's connection pool and writer; without it
    the pool is redis-py's and the writes are ARQ's own.
    """

    def __init__(self, settings: Settings, pool: ArqRedis | None = None, speedups: SpeedUps | None = None) -> None:
        self.settings = settings
        self.speedups = speedups
        self._pool = pool
        self._writer: JobWriter | None = None
        self._ping: asyncio.Future[bool] | None = None
        self._pong_at = float("-inf")

    @property
    def pool(self) -> ArqRedis:
        """The open pool; using it before ``open()`` is a programming error."""
        return self.open_pool()

    def open_pool(self) -> ArqRedis:
        """The open pool, or ``RuntimeError`` before ``open()``."""
        if self._pool is None:
            raise RuntimeError("JobQueue.open() has not been called")
        return self._pool

    @property
    def writer(self) -> JobWriter:
        """Writes this process's enqueues and abort requests to the pool."""
        return self.job_writer()

    def job_writer(self) -> JobWriter:
        """The writer (made on first use): ARQ's own, or the fast path's."""
        if self._writer is None:
            self._writer = (
                ArqJobWriter(self.pool, self.settings) if self.speedups is None else self.speedups.job_writer(self.pool)
            )
        return self._writer

    async def open(self) -> None:
        """Create the pool, unless one was handed in; it connects on first use, so Redis may be down now."""
        if self._pool is None:
            connections = ConnectionPool if self.speedups is None else self.speedups.connection_pool_class
            self._pool = web_pool(self.settings, connections)

    async def close(self) -> None:
        """Close the pool and its connections."""
        if self._pool is not None:
            await self._pool.aclose(close_connection_pool=True)
            self._pool = None
            self._writer = None

    async def is_available(self) -> bool:
        """Whether Redis answers a PING within ``enqueue_timeout``; handshakes that arrive together share one
        PING, and one answered in the last ``PONG_FRESH_FOR`` seconds vouches for the next ones (unless an
        enqueue has failed since)."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._pong_at < PONG_FRESH_FOR:
            return True
        if self._ping is None or self._ping.done():
            self._ping = asyncio.ensure_future(self._ping_redis())
        return await asyncio.shield(self._ping)

    async def _ping_redis(self) -> bool:
        """PING Redis within ``enqueue_timeout``: whether it answered."""
        try:
            await within(self.pool.ping(), self.settings.enqueue_timeout)
        except (TimeoutError, RedisError):
            return False
        self._pong_at = asyncio.get_running_loop().time()
        return True

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> None:
        """Queue a job, or raise ``QueueError`` saying why not: Redis is away or does not answer in time
        (``ENQUEUE_TIMEOUT``), or its queue is full (``MAX_QUEUE_DEPTH``).

        A caller cancelled once the write has begun does not abandon it: the write runs in a task of its own."""
        try:
            if self.settings.enqueue_pool_per_job:
                tutorials = queue_job_with_its_own_pool(self.settings, job_type, job_id, content, channel_name)
                await within(tutorials, self.settings.enqueue_timeout)
            elif not await self.writer.enqueue(job_type, job_id, content, channel_name):
                logger.warning("job refused: the queue is full", job_id=job_id, limit=self.settings.max_queue_depth)
                raise QueueFull(queue_full_text(self.settings.max_queue_depth))
        except TimeoutError:
            logger.warning("enqueue timed out", job_id=job_id)
            self._pong_at = float("-inf")  # the next handshake asks Redis again
            raise QueueError("the job queue did not answer in time") from None
        except RedisError as exc:
            logger.warning("enqueue failed", job_id=job_id, error=str(exc))
            self._pong_at = float("-inf")
            raise QueueError("the job queue is unavailable") from exc

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request for the job (the worker drops it or cancels it)."""
        await self.writer.request_abort(job_id)
