"""Channel layers: register exactly the one the consumer uses, and take it down again."""

from fast_channels.layers import get_channel_layer, register_channel_layer, unregister_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.settings import Settings

#: The alias the consumer routes results through (the tutorial's ``chat`` layer).
JOBS_LAYER_ALIAS = "chat"


def setup_layers(settings: Settings) -> None:
    """Register the Redis pub/sub layer the consumer and the worker talk through."""
    layer = RedisPubSubChannelLayer(hosts=[settings.redis_url], prefix=settings.channel_layer_prefix)
    register_channel_layer(JOBS_LAYER_ALIAS, layer)


async def teardown_layers() -> None:
    """Close the layer's connections and unregister it."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    if layer is not None:
        await layer.flush()
        unregister_channel_layer(JOBS_LAYER_ALIAS)
