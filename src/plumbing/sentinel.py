"""Redis through Sentinel (``REDIS_SENTINELS``): the master's pools, found with redis-py's ``Sentinel``, for the
web side, the worker and the channel layer (fast-channels' Sentinel host entry)."""

from typing import Any
from urllib.parse import unquote, urlsplit

from arq import ArqRedis
from redis.asyncio.sentinel import Sentinel

from src.settings import Settings

#: Seconds to connect to, and hear from, a sentinel.
SENTINEL_TIMEOUT = 1.0


def master_connection_kwargs(settings: Settings) -> dict[str, Any]:
    """What a connection to the master takes from ``REDIS_URL``: its database, user and password."""
    url = urlsplit(settings.redis_url)
    kwargs: dict[str, Any] = {"db": settings.redis_db}
    if url.username:
        kwargs["username"] = unquote(url.username)
    if url.password:
        kwargs["password"] = unquote(url.password)
    return kwargs


def sentinel_kwargs() -> dict[str, Any]:
    """How the sentinels themselves are asked."""
    return {"socket_connect_timeout": SENTINEL_TIMEOUT, "socket_timeout": SENTINEL_TIMEOUT}


def master_pool(settings: Settings, **connection_kwargs: Any) -> ArqRedis:
    """An ARQ pool on the master the sentinels name; each new connection asks them where it is now."""
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_hosts,
        sentinel_kwargs=sentinel_kwargs(),
        **master_connection_kwargs(settings),
        **connection_kwargs,
    )
    pool: ArqRedis = sentinel.master_for(settings.redis_sentinel_master, redis_class=ArqRedis)
    pool.default_queue_name = settings.queue_name
    return pool


def layer_host(settings: Settings, **connection_kwargs: Any) -> dict[str, Any]:
    """The channel layer's host entry for the master the sentinels name (fast-channels' Sentinel entry)."""
    return {
        "sentinels": settings.sentinel_hosts,
        "master_name": settings.redis_sentinel_master,
        "sentinel_kwargs": sentinel_kwargs(),
        **master_connection_kwargs(settings),
        **connection_kwargs,
    }
