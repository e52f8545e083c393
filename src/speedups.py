"""The one seam where the fast path (``src/fastpath/``) plugs in; with ``FAST_PATH=false`` nothing does.

The reference path (``job_queue``, ``tasks``, ``worker``) is ARQ's and redis-py's own code. Where a
process is built, it asks ``speedups(settings)`` once and uses what it gets instead of the stock part:
the web pool's connection pool, the enqueue side's writer, the channel layer's class and the consumer's
loop, the worker's class, pool and poll delay.
To drop the fast path altogether, delete ``src/fastpath/`` and make ``speedups`` return ``None``.
"""

from collections.abc import Callable
from typing import Any, Protocol

from arq import ArqRedis
from arq.worker import Worker
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from redis.asyncio import ConnectionPool

from src import fastpath
from src.settings import Settings


class JobWriter(Protocol):
    """The enqueue side's writes: jobs onto ARQ's queue, and ARQ's abort requests."""

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        """Queue the job under ``job_id`` with the seed's task arguments; False if the queue holds
        ``MAX_QUEUE_DEPTH`` jobs (it is not queued then). ``TimeoutError`` or ``RedisError`` only when
        Redis fails to take it, never for this process's own backlog."""

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request for ``job_id``."""


class SpeedUps(Protocol):
    """What the fast path puts in place of the stock parts, for one process's settings."""

    #: redis-py's ``ConnectionPool`` for the web side's ARQ pool.
    connection_pool_class: type[ConnectionPool]
    #: ARQ's ``Worker`` class for ``python -m src.worker``.
    worker_class: type[Worker]
    #: ARQ's ``poll_delay`` for the worker.
    poll_delay: float
    #: fast-channels' ``RedisPubSubChannelLayer``, the layer the sockets' results arrive through.
    channel_layer_class: type[RedisPubSubChannelLayer]

    def job_writer(self, pool: ArqRedis) -> JobWriter:
        """The writer of the web side's enqueues and abort requests on ``pool``."""

    def worker_pool(self) -> ArqRedis:
        """The worker's ARQ pool (ARQ's ``redis_pool``), made at worker start-up."""

    async def serve_consumer(self, consumer: AsyncConsumer, scope: Any, receive: Any, send: Any) -> None:
        """Serve one socket with ``consumer``, as fast-channels' ``AsyncConsumer.__call__`` does."""

    def tune_process(self) -> Callable[[], None]:
        """Tune this process's runtime as it starts serving; returns what undoes it, for its shutdown."""


def speedups(settings: Settings) -> SpeedUps | None:
    """The fast path for ``settings``, or None when ``FAST_PATH`` is off or the fast path turned itself off."""
    return fastpath.install(settings) if settings.fast_path else None
