"""The enqueue side: the web process's one ARQ pool and the bounded ``queue_job`` call."""

import asyncio
import uuid

import structlog
from arq import ArqRedis, create_pool
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)


class QueueError(Exception):
    """A job could not be put on the queue; the message says why, for the client."""


def new_job_id(job_type: str) -> str:
    """A fresh ARQ job id, readable like the seed's (``translate_…``) but unique."""
    return f"{job_type}_{uuid.uuid4().hex}"


async def queue_job(
    pool: ArqRedis, job_type: str, job_id: str, content: str, channel_name: str, *, wake_channel: str | None
) -> None:
    """Enqueue one job under ``job_id`` (the task gets the seed's arguments) in one round trip.

    ARQ's own ``enqueue_job`` spends three (WATCH, EXISTS, MULTI/EXEC) making sure the id is free;
    ours are fresh uuid4s, so one MULTI/EXEC writes ARQ's job record and queue entry as it would,
    and publishes the wake-up a waiting worker blocks on.
    """
    now = timestamp_ms()
    job = serialize_job(job_type, (job_id, content, channel_name), {}, None, now, serializer=pool.job_serializer)
    async with pool.pipeline(transaction=True) as pipe:
        pipe.psetex(job_key_prefix + job_id, pool.expires_extra_ms, job)
        pipe.zadd(pool.default_queue_name, {job_id: now})
        if wake_channel is not None:
            pipe.publish(wake_channel, b"")
        await pipe.execute()


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
    """Owns the process's ARQ pool (opened at start-up, closed at shutdown) and bounds every enqueue."""

    def __init__(self, settings: Settings, pool: ArqRedis | None = None) -> None:
        self.settings = settings
        self._pool = pool

    @property
    def pool(self) -> ArqRedis:
        """The open pool; using it before ``open()`` is a programming error."""
        if self._pool is None:
            raise RuntimeError("JobQueue.open() has not been called")
        return self._pool

    async def open(self) -> None:
        """Create the pool, unless one was handed in."""
        if self._pool is None:
            self._pool = await create_pool(self.settings.arq_redis, default_queue_name=self.settings.queue_name)

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
            async with asyncio.timeout(self.settings.enqueue_timeout):
                if self.settings.enqueue_pool_per_job:
                    await queue_job_with_its_own_pool(self.settings, job_type, job_id, content, channel_name)
                else:
                    wake = self.settings.wake_channel if self.settings.worker_wakeup else None
                    await queue_job(self.pool, job_type, job_id, content, channel_name, wake_channel=wake)
        except TimeoutError:
            logger.warning("enqueue timed out", job_id=job_id)
            raise QueueError("the job queue did not answer in time") from None
        except RedisError as exc:
            logger.warning("enqueue failed", job_id=job_id, error=str(exc))
            raise QueueError("the job queue is unavailable") from exc
