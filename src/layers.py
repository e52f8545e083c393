"""Channel layers: register exactly the one the consumer uses, and take it down again."""

from fast_channels.layers import get_channel_layer, register_channel_layer, unregister_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.settings import RECONNECT_ERRORS, Settings, reconnecting_retry

#: The alias the consumer routes results through (the tutorial's ``chat`` layer).
JOBS_LAYER_ALIAS = "chat"


def setup_layers(settings: Settings, reconnect_attempts: int = -1) -> None:
    """Register the Redis pub/sub layer the consumer and the worker talk through.

    Its connections ride out a Redis restart (``-1``: for as long as it takes), so the
    layer's subscriptions come back by themselves and nothing is logged per retry.
    """
    host = {
        "address": settings.redis_url,
        "retry": reconnecting_retry(reconnect_attempts),
        "retry_on_error": list(RECONNECT_ERRORS),
        "socket_connect_timeout": 1.0,
    }
    layer = RedisPubSubChannelLayer(hosts=[host], prefix=settings.channel_layer_prefix)
    register_channel_layer(JOBS_LAYER_ALIAS, layer)


async def teardown_layers() -> None:
    """Close the layer's connections and unregister it."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    if layer is not None:
        await layer.flush()
        unregister_channel_layer(JOBS_LAYER_ALIAS)
