"""Through ``REDIS_SENTINELS``: both sides' pools give up connecting to the master after 1 s, as they do without, and
the worker's retries a command on the errors a failover raises (nothing is connected here)."""

from src.parts import StockParts
from src.plumbing.pools import web_pool
from src.settings import RECONNECT_ERRORS, Settings

SENTINELS = "10.0.0.1:26379,10.0.0.2:26380"


async def test_through_sentinel_the_web_pool_connects_to_the_master_within_1_s() -> None:
    pool = web_pool(Settings(redis_sentinels=SENTINELS))

    assert pool.connection_pool.connection_kwargs["socket_connect_timeout"] == 1.0
    await pool.aclose()


async def test_through_sentinel_the_workers_pool_connects_to_the_master_within_1_s() -> None:
    pool = StockParts(Settings(redis_sentinels=SENTINELS, fast_path=False)).worker_pool()

    assert pool is not None
    assert pool.connection_pool.connection_kwargs["socket_connect_timeout"] == 1.0
    await pool.aclose()


async def test_through_sentinel_the_workers_pool_retries_a_command_on_the_errors_a_failover_raises() -> None:
    """redis-py retries a command whose connection failed only on the errors listed as ``retry_on_error``."""
    pool = StockParts(Settings(redis_sentinels=SENTINELS, fast_path=False)).worker_pool()

    assert pool is not None
    assert set(pool.connection_pool.connection_kwargs["retry_on_error"]) == set(RECONNECT_ERRORS)
    await pool.aclose()
