"""The enqueue side: the web process's one ARQ pool, its enqueues and abort requests, every wait bounded."""

import asyncio
import uuid

import structlog
from arq import ArqRedis
from redis.exceptions import RedisError

from src.apps.background_jobs.texts import queue_full_text
from src.parts import JobWriter, Parts
from src.plumbing.deadlines import within
from src.plumbing.pools import web_pool
from src.settings import Settings
from src.web.arq_writer import NotReplicated

logger = structlog.stdlib.get_logger(__name__)


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


class JobQueue:
    """Owns the process's ARQ pool (opened at start-up, closed at shutdown) and bounds every enqueue.

    ``parts`` (``src.parts``) bring the pool's connection pool class and the writer: ARQ's own, or the fast path's.
    """

    def __init__(self, settings: Settings, parts: Parts, pool: ArqRedis | None = None) -> None:
        self.settings = settings
        self.parts = parts
        self._pool = pool
        self._writer: JobWriter | None = None
        self._ping: asyncio.Future[bool] | None = None
        self._pong_at = float("-inf")

    @property
    def pool(self) -> ArqRedis:
        """The open pool; using it before ``open()`` is a programming error (``RuntimeError``)."""
        if self._pool is None:
            raise RuntimeError("JobQueue.open() has not been called")
        return self._pool

    @property
    def writer(self) -> JobWriter:
        """Writes this process's enqueues and abort requests to the pool (made on first use)."""
        if self._writer is None:
            self._writer = self.parts.job_writer(self.pool)
        return self._writer

    async def open(self) -> None:
        """Create the pool, unless one was handed in; it connects on first use, so Redis may be down now."""
        if self._pool is None:
            self._pool = web_pool(self.settings, self.parts.connection_pool_class)

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
            if not await self.writer.enqueue(job_type, job_id, content, channel_name):
                logger.warning("job refused: the queue is full", job_id=job_id, limit=self.settings.max_queue_depth)
                raise QueueFull(queue_full_text(self.settings.max_queue_depth))
        except NotReplicated as exc:
            raise ReplicasBehind(str(exc)) from None
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
