"""The web process's pool: it connects within 1 s and waits ``REDIS_SOCKET_TIMEOUT`` for an answer, on ``REDIS_URL`` or,
through ``REDIS_SENTINELS``, on the named master with ``REDIS_URL``'s database (nothing is connected here)."""

from redis.asyncio.sentinel import SentinelConnectionPool

from src.plumbing.pools import web_pool
from src.settings import Settings


async def test_the_web_pool_connects_within_1_s_and_waits_redis_socket_timeout_for_an_answer() -> None:
    settings = Settings(redis_url="redis://cache.internal:6380/3", redis_socket_timeout=2.5, queue_name="q:web")

    pool = web_pool(settings)

    connection = pool.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"]) == ("cache.internal", 6380, 3)
    assert (connection["socket_connect_timeout"], connection["socket_timeout"]) == (1.0, 2.5)
    assert "retry" not in connection or connection["retry"] is None or connection["retry"]._retries == 0
    assert pool.default_queue_name == "q:web"
    await pool.aclose()


SENTINELS = "10.0.0.1:26379,10.0.0.2:26380,10.0.0.3"


async def test_through_sentinel_the_web_pool_is_on_the_named_master_with_redis_urls_database() -> None:
    settings = Settings(redis_url="redis://ignored:1/3", redis_sentinels=SENTINELS, redis_sentinel_master="jobs")

    pool = web_pool(settings)

    connections = pool.connection_pool
    assert isinstance(connections, SentinelConnectionPool)
    assert connections.service_name == "jobs"
    assert connections.connection_kwargs["db"] == 3
    assert connections.connection_kwargs["socket_timeout"] == settings.redis_socket_timeout
    assert [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in connections.sentinel_manager.sentinels
    ] == settings.sentinel_hosts
    assert pool.default_queue_name == settings.queue_name
    await pool.aclose()


TWO_SENTINELS = "10.0.0.1:26379,10.0.0.2:26380"


async def test_through_sentinel_the_web_pool_connects_to_the_master_within_1_s() -> None:
    pool = web_pool(Settings(redis_sentinels=TWO_SENTINELS))

    assert pool.connection_pool.connection_kwargs["socket_connect_timeout"] == 1.0
    await pool.aclose()
