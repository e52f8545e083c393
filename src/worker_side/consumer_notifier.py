"""The worker's wiring: the notifier its start-up puts in ARQ's ``ctx``, reaching the consumer's sockets.

The one module outside the web side that imports the consumer class, to reach a socket as the
tutorial teaches: ``BackgroundJobConsumer.send_event(event, channel_name)``.
"""

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.worker_side.notifier import ChannelLayerNotifier


def consumer_notifier() -> ChannelLayerNotifier:
    """The notifier that reaches ``BackgroundJobConsumer`` sockets through the channel layer."""
    return ChannelLayerNotifier(BackgroundJobConsumer.send_event)
