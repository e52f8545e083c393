"""An ARQ pool on fakeredis: enqueueing without a network, for the unit layer."""

from arq import ArqRedis
from fakeredis import FakeServer
from fakeredis.aioredis import FakeAsyncRedisMixin


class FakeArqRedis(FakeAsyncRedisMixin, ArqRedis):  # type: ignore[misc]
    """ArqRedis whose connections go to an in-process fakeredis server."""


def fake_arq_pool(server: FakeServer | None = None) -> ArqRedis:
    """A fresh fake ARQ pool; ``server.connected = False`` makes it fail like a lost Redis."""
    return FakeArqRedis(server=server or FakeServer())
