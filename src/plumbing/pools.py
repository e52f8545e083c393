"""The web process's Redis pool, as ARQ's ``ArqRedis`` on redis-py's connections: plain, or through Sentinel."""

from arq import ArqRedis
from redis.asyncio import ConnectionPool

from src.plumbing.sentinel import master_pool
from src.settings import Settings


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
