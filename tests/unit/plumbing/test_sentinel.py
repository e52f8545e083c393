"""What the master's connections and the sentinels' own are built with through ``REDIS_SENTINELS`` (nothing is
connected here): the user, password and database ``REDIS_URL`` names, and one-second timeouts on the sentinels."""

from arq import ArqRedis
from redis.asyncio.sentinel import SentinelConnectionPool

from src.plumbing.sentinel import layer_host, master_connection_kwargs, master_pool
from src.settings import Settings

SENTINELS = "10.0.0.1:26379,10.0.0.2:26380"
#: ``REDIS_URL`` with a percent-encoded user (``al@ice``) and password (``p:ss/w``), and database 5.
WITH_CREDENTIALS = "redis://al%40ice:p%3Ass%2Fw@ignored-host:6379/5"
SENTINELS_ASKED_WITH = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


def test_the_masters_connections_take_redis_urls_user_password_and_database_decoded() -> None:
    settings = Settings(redis_url=WITH_CREDENTIALS, redis_sentinels=SENTINELS)

    assert master_connection_kwargs(settings) == {"db": 5, "username": "al@ice", "password": "p:ss/w"}


def test_a_redis_url_with_only_a_password_gives_no_user() -> None:
    settings = Settings(redis_url="redis://:secret@ignored-host:6379", redis_sentinels=SENTINELS)

    assert master_connection_kwargs(settings) == {"db": 0, "password": "secret"}


def test_a_redis_url_without_credentials_gives_only_its_database() -> None:
    settings = Settings(redis_url="redis://ignored-host:6379/2", redis_sentinels=SENTINELS)

    assert master_connection_kwargs(settings) == {"db": 2}


def test_the_layers_sentinel_entry_names_the_sentinels_the_master_its_credentials_and_the_sentinels_timeouts() -> None:
    settings = Settings(redis_url=WITH_CREDENTIALS, redis_sentinels=SENTINELS, redis_sentinel_master="jobs")

    entry = layer_host(settings, socket_timeout=10.0)

    assert entry == {
        "sentinels": [("10.0.0.1", 26379), ("10.0.0.2", 26380)],
        "master_name": "jobs",
        "sentinel_kwargs": SENTINELS_ASKED_WITH,
        "db": 5,
        "username": "al@ice",
        "password": "p:ss/w",
        "socket_timeout": 10.0,
    }


async def test_the_master_pool_is_an_arq_pool_whose_sentinels_are_asked_within_one_second() -> None:
    settings = Settings(redis_url=WITH_CREDENTIALS, redis_sentinels=SENTINELS, redis_sentinel_master="jobs")

    pool = master_pool(settings, socket_timeout=10.0)

    try:
        assert isinstance(pool, ArqRedis)
        connections = pool.connection_pool
        assert isinstance(connections, SentinelConnectionPool)
        assert connections.service_name == "jobs"
        master = connections.connection_kwargs
        assert (master["db"], master["username"], master["password"], master["socket_timeout"]) == (
            5,
            "al@ice",
            "p:ss/w",
            10.0,
        )
        asked = [
            {name: sentinel.connection_pool.connection_kwargs.get(name) for name in SENTINELS_ASKED_WITH}
            for sentinel in connections.sentinel_manager.sentinels
        ]
        assert asked == [SENTINELS_ASKED_WITH, SENTINELS_ASKED_WITH]
    finally:
        await pool.aclose()
