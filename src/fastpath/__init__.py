"""Speed-ups beneath the public APIs of arq, redis-py, chanx and fast-channels, entered only through ``install``.

Each part stands in for a stock part that ``src/parts.py`` names. They depend on internals of the
exact library versions they were verified against (``VERIFIED_VERSIONS``): on any other version,
``install`` turns the fast path off with one warning and the system runs the stock path.
"""

import logging
from collections.abc import Callable, Mapping
from importlib.metadata import version
from types import MappingProxyType
from typing import Any

from arq import ArqRedis
from arq.worker import Worker
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from redis.asyncio import ConnectionPool

from src.fastpath.batch_claim_worker import BatchClaimWorker
from src.fastpath.connection_pool import ReadyConnectionPool
from src.fastpath.enqueue_batcher import BatchedJobWriter
from src.fastpath.lean_channel_layer import LeanChannelLayer
from src.fastpath.runtime import tune_garbage_collector
from src.fastpath.socket_loop import serve_consumer
from src.fastpath.wakeable_pool import WAKEABLE_PACE, WakeableArqRedis, wake_channel, worker_pool
from src.settings import Settings

# The standard library's logger: its warning shows even before the process configures logging.
logger = logging.getLogger(__name__)

#: The distributions whose internals the fast path uses, and the versions its contract tests passed on.
VERIFIED_VERSIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "arq": frozenset({"0.28.0"}),
        "redis": frozenset({"5.3.1"}),
        "hiredis": frozenset({"3.5.0"}),
        "fast-channels": frozenset({"1.1.0"}),
    }
)


class FastPath:
    """The fast path's parts for one process's settings (what ``src.parts.Parts`` describes)."""

    connection_pool_class: type[ConnectionPool] = ReadyConnectionPool
    worker_class: type[Worker] = BatchClaimWorker
    poll_delay: float = WAKEABLE_PACE
    channel_layer_class: type[RedisPubSubChannelLayer] = LeanChannelLayer

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def job_writer(self, pool: ArqRedis) -> BatchedJobWriter:
        """Enqueues batched per loop turn, and aborts, each with a wake-up for idle workers."""
        settings = self.settings
        return BatchedJobWriter(
            pool, wake_channel(settings.queue_name), settings.max_queue_depth, settings.enqueue_timeout
        )

    def worker_pool(self) -> WakeableArqRedis:
        """The worker's pool: an idle poll waits for a wake-up, and its pipelines carry the worker's shortcuts."""
        return worker_pool(self.settings)

    def consumer_app(self, consumer_class: type[AsyncConsumer]) -> Any:
        """Each socket served by a new ``consumer_class`` on its own task, on the lean layer's inbox
        (``socket_loop.py``)."""

        async def serve_a_socket(scope: Any, receive: Any, send: Any) -> None:
            await serve_consumer(consumer_class(), scope, receive, send)

        return serve_a_socket

    def tune_process(self) -> Callable[[], None]:
        """Fewer, cheaper garbage collections (``runtime.py``)."""
        return tune_garbage_collector()


def installed_versions() -> dict[str, str]:
    """The installed version of each distribution in ``VERIFIED_VERSIONS``."""
    return {name: version(name) for name in VERIFIED_VERSIONS}


def install(settings: Settings) -> FastPath | None:
    """The fast path for ``settings``; None, with one warning, where a library is a version not verified."""
    if settings.redis_sentinels or settings.redis_min_replicas_ack:
        logger.warning(
            "fast path off: it does not find Redis through Sentinel nor wait for replicas; "
            "running ARQ's, redis-py's and fast-channels' own code"
        )
        return None
    found = installed_versions()
    if all(found[name] in verified for name, verified in VERIFIED_VERSIONS.items()):
        return FastPath(settings)
    logger.warning(
        "fast path off: found %s, verified with %s; running ARQ's, redis-py's and fast-channels' own code",
        ", ".join(f"{name} {found[name]}" for name in VERIFIED_VERSIONS),
        ", ".join(f"{name} {' or '.join(sorted(verified))}" for name, verified in VERIFIED_VERSIONS.items()),
    )
    return None
