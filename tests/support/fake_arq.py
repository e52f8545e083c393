"""An ARQ pool on fakeredis: enqueueing without a network, for the unit layer."""

from arq import ArqRedis
from fakeredis import FakeServer
from fakeredis.aioredis import FakeAsyncRedisMixin

from src.fastpath.wakeable_pool import WakeableArqRedis


class FakeArqRedis(FakeAsyncRedisMixin, ArqRedis):  # type: ignore[misc]
    """ArqRedis whose connections go to an in-process fakeredis server."""


def fake_arq_pool(server: FakeServer | None = None) -> ArqRedis:
    """A fresh fake ARQ pool; ``server.connected = False`` makes it fail like a lost Redis."""
    return FakeArqRedis(server=server or FakeServer())


def fake_worker_pool(server: FakeServer, wait: float, queue: str = "arq:queue") -> WakeableArqRedis:
    """The worker's wakeable pool on ``server``, waiting up to ``wait`` seconds for a wake-up on ``<queue>:wake``."""
    connections = fake_arq_pool(server).connection_pool
    return WakeableArqRedis(connections, wake_channel=f"{queue}:wake", wait=wait, default_queue_name=queue)
