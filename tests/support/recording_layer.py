"""A stand-in for the Redis pub/sub channel layer that keeps what it was built with (the unit layer's
``recorded_layers`` fixture has ``setup_layers`` build it)."""

from typing import Any

from fast_channels.layers import get_channel_layer

from src.layers import JOBS_LAYER_ALIAS


class RecordingLayer:
    """Stands in for the Redis pub/sub layer: keeps what it was built with."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    async def flush(self) -> None:
        """Nothing to close."""


def registered_layer() -> RecordingLayer:
    """The layer registered under the consumer's alias."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert isinstance(layer, RecordingLayer)
    return layer
