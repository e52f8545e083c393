"""Outcomes held for the worker to publish in the transaction that stores their job's result.

Beneath chanx's and fast-channels' public APIs: the message ``send_event`` sends and the channel the
Redis pub/sub layer publishes it on (``tests/contract`` runs ``send_event`` and compares).
"""

from fast_channels.layers import get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.apps.background_jobs.messages import JobOutcome, JobResult, ProgressUpdate
from src.layers import JOBS_LAYER_ALIAS
from src.worker_side.notifier import ChannelLayerNotifier


def redis_pubsub_layer(queue_url: str) -> RedisPubSubChannelLayer | None:
    """The channel layer outcomes go through, if it is the Redis pub/sub layer on the queue's own Redis alone
    (``queue_url``), where the worker's transaction can publish for it; None otherwise (other hosts, shards)."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    hosts = layer._kwargs.get("hosts")
    if not isinstance(hosts, list) or len(hosts) != 1:
        return None
    (host,) = hosts
    address = host.get("address") if isinstance(host, dict) else host
    return layer if address == queue_url else None


def event_publish(layer: RedisPubSubChannelLayer, outcome: JobOutcome, channel_name: str) -> tuple[str, bytes]:
    """The Redis PUBLISH (channel, message) by which ``ChannelLayerNotifier`` delivers ``outcome`` over ``layer``.

    The Redis pub/sub layer publishes a specific channel's messages on the channel's own name, and
    chanx sends an event as a ``handle_channel_event`` message (``BackgroundJobConsumer.send_event``).
    Raises (``UnicodeEncodeError``, say) for a channel or a message that cannot be written, before the
    transaction it would ride in is.
    """
    channel_name.encode()  # redis-py writes it as UTF-8
    event = {"type": "handle_channel_event", "event_data": JobResult(payload=outcome).model_dump(mode="json")}
    return channel_name, layer.serialize(event)


class DeferredNotifier:
    """Holds each job's outcome for the worker to publish in the transaction that stores the job's result.

    ``BatchClaimWorker`` takes the outcome in its ``finish_job`` and publishes it over ``layer``
    (``event_publish``); one it did not take (the job ended without ARQ finishing it) is delivered by
    ``release`` through the notifier this one defers for.
    """

    def __init__(self, notifier: ChannelLayerNotifier, layer: RedisPubSubChannelLayer) -> None:
        self._notifier = notifier
        self.layer = layer
        self._held: dict[str, tuple[JobOutcome, str]] = {}

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        """Hold ``outcome`` until its job is finished."""
        self._held[outcome.job_id] = (outcome, channel_name)

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Progress is not held: it goes out at once, the usual way."""
        await self._notifier.progress(update, channel_name)

    def take(self, job_id: str) -> tuple[JobOutcome, str] | None:
        """The outcome held for ``job_id`` and its channel, no longer held (None if there is none)."""
        return self._held.pop(job_id, None)

    async def release(self, job_id: str) -> None:
        """Deliver the outcome still held for ``job_id``, if any, the usual way."""
        held = self.take(job_id)
        if held is not None:
            await self._notifier.notify(*held)
