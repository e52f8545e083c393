"""The enqueue side: the web process's one ARQ pool, and enqueues that are batched and bounded."""

import asyncio
import uuid

import structlog
from arq import ArqRedis, create_pool
from redis.exceptions import RedisError

from src.connection_pool import ReadyConnectionPool
from src.enqueue_batcher import EnqueueBatcher, NewJob
from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)


class QueueError(Exception):
    """A job could not be put on the queue; the message says why, for the client."""


def new_job_id(job_type: str) -> str:
    """A fresh ARQ job id, readable like the seed's (``translate_…``) but unique."""
    return f"{job_type}_{uuid.uuid4().hex}"


async def queue_job_with_its_own_pool(
    settings: Settings, job_type: str, job_id: str, content: str, channel_name: str
) -> None:
    """The tutorial's enqueue, kept for the benchmark's comparison: a new pool, ARQ's enqueue_job, close."""
    pool = await create_pool(settings.arq_redis, default_queue_name=settings.queue_name)
    try:
        await pool.enqueue_job(job_type, job_id, content, channel_name, _job_id=job_id)
    finally:
        await pool.aclose()


def web_pool(settings: Settings) -> ArqRedis:
    """The web process's ARQ pool: it fails fast when Redis is away, and gives up on a hung Redis."""
    connections = ReadyConnectionPool.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=settings.redis_socket_timeout
    )
    return ArqRedis(connections, default_queue_name=settings.queue_name)


class JobQueue:
    """Owns the process's ARQ pool (opened at start-up, closed at shutdown) and bounds every enqueue."""

    def __init__(self, settings: Settings, pool: ArqRedis | None = None) -> None:
        self.settings = settings
        self._pool = pool
        self._batcher: EnqueueBatcher | None = None

    @property
    def batcher(self) -> EnqueueBatcher:
        """Writes this process's enqueues to Redis, batched."""
        if self._batcher is None:
            wake = self.settings.wake_channel if self.settings.worker_wakeup else None
            self._batcher = EnqueueBatcher(self.pool, wake)
        return self._batcher

    @property
    def pool(self) -> ArqRedis:
        """The open pool; using it before ``open()`` is a programming error."""
        if self._pool is None:
            raise RuntimeError("JobQueue.open() has not been called")
        return self._pool

    async def open(self) -> None:
        """Create the pool, unless one was handed in; it connects on first use, so Redis may be down now."""
        if self._pool is None:
            self._pool = web_pool(self.settings)

    async def close(self) -> None:
        """Close the pool and its connections."""
        if self._pool is not None:
            await self._pool.aclose(close_connection_pool=True)
            self._pool = None

    async def is_available(self) -> bool:
        """Whether Redis answers a PING within ``enqueue_timeout``."""
        try:
            async with asyncio.timeout(self.settings.enqueue_timeout):
                await self.pool.ping()
        except (TimeoutError, RedisError):
            return False
        return True

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> None:
        """Queue a job within ``enqueue_timeout``, or raise ``QueueError`` saying why not."""
        try:
            if self.settings.enqueue_pool_per_job:
                async with asyncio.timeout(self.settings.enqueue_timeout):
                    await queue_job_with_its_own_pool(self.settings, job_type, job_id, content, channel_name)
            else:
                job = NewJob(job_type, job_id, content, channel_name)
                await self.batcher.enqueue(job, self.settings.enqueue_timeout)
        except TimeoutError:
            logger.warning("enqueue timed out", job_id=job_id)
            raise QueueError("the job queue did not answer in time") from None
        except RedisError as exc:
            logger.warning("enqueue failed", job_id=job_id, error=str(exc))
            raise QueueError("the job queue is unavailable") from exc
