"""Channel layers: register exactly the one the consumer uses, and take it down again."""

from typing import Any

from fast_channels.layers import get_channel_layer, register_channel_layer, unregister_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.plumbing.sentinel import layer_host
from src.settings import RECONNECT_ERRORS, Settings, reconnecting_retry

#: The alias the consumer routes results through (the tutorial's ``chat`` layer).
JOBS_LAYER_ALIAS = "chat"


def layer_through_sentinel(settings: Settings) -> bool:
    """Whether the channel layer's one Redis is the master the sentinels name (``REDIS_SENTINELS`` without
    ``CHANNEL_LAYER_URLS``)."""
    return bool(settings.redis_sentinels) and not settings.channel_layer_urls


def layer_connection(settings: Settings, reconnect_attempts: int = -1) -> dict[str, Any]:
    """How a connection to the channel layer's Redis is made: retried with backoff, ``-1`` times meaning for as long
    as Redis is away."""
    return {
        "retry": reconnecting_retry(reconnect_attempts, through_sentinel=layer_through_sentinel(settings)),
        "retry_on_error": list(RECONNECT_ERRORS),
        "socket_connect_timeout": 1.0,
    }


def setup_layers(
    settings: Settings,
    reconnect_attempts: int = -1,
    layer_class: type[RedisPubSubChannelLayer] | None = None,
) -> None:
    """Register the Redis pub/sub layer the consumer and the worker talk through (``layer_class``: the fast path's),
    on ``CHANNEL_LAYER_URLS`` (sharded by fast-channels' consistent hash), or else on the master the sentinels
    name (``REDIS_SENTINELS``), or else on ``REDIS_URL``.

    Its connections ride out a Redis restart (``-1``: for as long as it takes), so the
    layer's subscriptions come back by themselves and nothing is logged per retry.
    """
    connection = layer_connection(settings, reconnect_attempts)
    if layer_through_sentinel(settings):
        hosts = [layer_host(settings, **connection)]
    else:
        hosts = [{"address": url, **connection} for url in settings.layer_urls]
    layer = (layer_class or RedisPubSubChannelLayer)(hosts=hosts, prefix=settings.channel_layer_prefix)
    register_channel_layer(JOBS_LAYER_ALIAS, layer)


async def keep_listening() -> str:
    """Give the layer a channel of this process's own, so that its reader always listens; the channel's name.

    While the Redis pub/sub layer has no channel subscribed, its reader looks for one every 100 ms:
    after a quiet spell, the first socket's first event would wait up to that long. With this
    channel, which nothing is ever sent to, the reader waits on Redis itself.
    """
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert layer is not None, "setup_layers() has not been called"
    return str(await layer.new_channel())


async def teardown_layers() -> None:
    """Close the layer's connections and unregister it."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    if layer is not None:
        await layer.flush()
        unregister_channel_layer(JOBS_LAYER_ALIAS)
