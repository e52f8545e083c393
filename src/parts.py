"""The parts both processes are built from, chosen once per process where each is built (``create_app``,
``worker_settings``): ARQ's, redis-py's and fast-channels' own (``StockParts``), or the fast path's
(``src/fastpath/``), which stand in for them beneath their public APIs. Nothing else asks which it got.

To drop the fast path, delete ``src/fastpath/`` and have ``parts_for`` return ``StockParts(settings)``.
"""

from collections.abc import Callable
from typing import Any, Protocol

from arq import ArqRedis
from arq.worker import Worker
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from redis.asyncio import ConnectionPool
from starlette.types import ASGIApp

from src import fastpath
from src.plumbing.sentinel import master_pool
from src.settings import RECONNECT_ERRORS, Settings, reconnecting_retry
from src.web.arq_writer import ArqJobWriter


class JobWriter(Protocol):
    """The enqueue side's writes: jobs onto ARQ's queue, and ARQ's abort requests."""

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        """Queue the job under ``job_id`` with the seed's task arguments; False if the queue holds
        ``MAX_QUEUE_DEPTH`` jobs (it is not queued then). ``TimeoutError``, ``RedisError`` or ``NotReplicated``
        only when Redis fails to take it, never for this process's own backlog."""

    async def request_abort(self, job_id: str) -> None:
        """Record ARQ's abort request for ``job_id``."""


class Parts(Protocol):
    """What a process is built from: the web side's pool, writer, channel layer and socket loop; the worker's class,
    pool and poll delay; and how the process's runtime is tuned."""

    #: redis-py's connection pool class for the web side's ARQ pool.
    connection_pool_class: type[ConnectionPool]
    #: The channel layer the sockets' results arrive through (fast-channels' Redis pub/sub layer, or a subclass).
    channel_layer_class: type[RedisPubSubChannelLayer]
    #: ARQ's ``Worker`` class, for ``python -m src.worker`` (the ``arq`` command always runs ARQ's own).
    worker_class: type[Worker]
    #: ARQ's ``poll_delay`` for the worker.
    poll_delay: float

    def job_writer(self, pool: ArqRedis) -> JobWriter:
        """The writer of the web side's enqueues and abort requests on ``pool``."""

    def worker_pool(self) -> ArqRedis | None:
        """The worker's ARQ pool (ARQ's ``redis_pool``); None: ARQ makes its own from ``redis_settings``."""

    def consumer_app(self, consumer_class: type[AsyncConsumer]) -> ASGIApp:
        """The ASGI app serving each socket with a new ``consumer_class``."""

    def tune_process(self) -> Callable[[], None]:
        """Tune this process's runtime as it starts serving; returns what undoes it, for its shutdown."""


def nothing_to_undo() -> None:
    """The stock runtime was not tuned."""


class StockParts:
    """ARQ's, redis-py's and fast-channels' own parts, used as their documentation shows them."""

    connection_pool_class: type[ConnectionPool] = ConnectionPool
    channel_layer_class: type[RedisPubSubChannelLayer] = RedisPubSubChannelLayer
    worker_class: type[Worker] = Worker

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.poll_delay = settings.worker_poll_delay

    def job_writer(self, pool: ArqRedis) -> ArqJobWriter:
        """ARQ's ``enqueue_job`` and abort request."""
        return ArqJobWriter(pool, self.settings)

    def worker_pool(self) -> ArqRedis | None:
        """None (ARQ makes the pool), or with ``REDIS_SENTINELS`` one on the master the sentinels name, riding out a
        failover as ``worker_arq_redis`` rides out a restart."""
        settings = self.settings
        if not settings.redis_sentinels:
            return None
        return master_pool(
            settings,
            retry=reconnecting_retry(settings.redis_reconnect_attempts, through_sentinel=True),
            retry_on_error=list(RECONNECT_ERRORS),
            socket_connect_timeout=1.0,
        )

    def consumer_app(self, consumer_class: type[AsyncConsumer]) -> Any:
        """fast-channels' own: ``as_asgi()``."""
        return consumer_class.as_asgi()

    def tune_process(self) -> Callable[[], None]:
        """Nothing: Python's runtime as it comes."""
        return nothing_to_undo


def parts_for(settings: Settings) -> Parts:
    """The fast path's parts when ``FAST_PATH`` is on and it vouches for the libraries installed; else the stock
    ones."""
    if settings.fast_path and (fast := fastpath.install(settings)):
        return fast
    return StockParts(settings)
