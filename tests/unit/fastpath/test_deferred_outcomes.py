"""Outcomes deferred to the worker's finishing transaction: held until taken, released the usual way, and
published as the channel layer publishes them."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from fakeredis import FakeServer
from fast_channels.layers import InMemoryChannelLayer, channel_layers, register_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobProgress, JobResult, ProgressUpdate
from src.fastpath.riding_outcomes import DeferredNotifier, event_publish, redis_pubsub_layer
from src.fastpath.wakeable_pool import WakeableArqRedis
from src.layers import JOBS_LAYER_ALIAS
from src.worker_side.notifier import ChannelLayerNotifier
from tests.support.fake_arq import fake_arq_pool

OUTCOME = JobOutcome(status="result", job_id="default_1", job_type="default", message="✅ Processed: X")


class RecordingNotifier(ChannelLayerNotifier):
    """A channel-layer notifier that records what it is asked to deliver."""

    def __init__(self) -> None:
        super().__init__(self._record)
        self.sent: list[tuple[JobResult | JobProgress, str]] = []

    async def _record(self, event: JobResult | JobProgress, channel_name: str) -> None:
        self.sent.append((event, channel_name))


@pytest.fixture
def redis_layer() -> Iterator[RedisPubSubChannelLayer]:
    """The Redis pub/sub layer registered as the jobs' layer (never connected: serializing needs no Redis)."""
    channel_layers.clear()
    layer = RedisPubSubChannelLayer(hosts=[{"address": "redis://127.0.0.1:1"}], prefix="test")
    register_channel_layer(JOBS_LAYER_ALIAS, layer)
    yield layer
    channel_layers.clear()


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[WakeableArqRedis]:
    """The worker's pool on fakeredis."""
    connections = fake_arq_pool(FakeServer()).connection_pool
    wakeable = WakeableArqRedis(connections, wake_channel="arq:queue:wake", wait=0.05, default_queue_name="arq:queue")
    yield wakeable
    await wakeable.aclose()


async def test_a_deferred_outcome_is_held_until_taken_once(redis_layer: RedisPubSubChannelLayer) -> None:
    deferred = DeferredNotifier(RecordingNotifier(), redis_layer)

    await deferred.notify(OUTCOME, "chan")

    assert deferred.take("default_1") == (OUTCOME, "chan")
    assert deferred.take("default_1") is None


async def test_releasing_delivers_an_outcome_still_held_the_usual_way_and_nothing_otherwise(
    redis_layer: RedisPubSubChannelLayer,
) -> None:
    notifier = RecordingNotifier()
    deferred = DeferredNotifier(notifier, redis_layer)
    await deferred.notify(OUTCOME, "chan")

    await deferred.release("default_1")
    await deferred.release("default_1")
    await deferred.release("default_2")

    assert notifier.sent == [(JobResult(payload=OUTCOME), "chan")]


async def test_progress_is_not_held_but_sent_at_once_to_its_sockets_channel(
    redis_layer: RedisPubSubChannelLayer,
) -> None:
    notifier = RecordingNotifier()
    deferred = DeferredNotifier(notifier, redis_layer)
    update = ProgressUpdate(job_id="default_1", job_type="default", progress=40)

    await deferred.progress(update, "chan")

    assert notifier.sent == [(JobProgress(payload=update), "chan")]
    assert deferred.take("default_1") is None


async def test_the_event_published_is_the_message_chanx_sends_over_the_layer(
    redis_layer: RedisPubSubChannelLayer,
) -> None:
    channel_layers.clear()  # chanx's send_event, over an in-memory layer that keeps what it is sent
    memory = InMemoryChannelLayer()
    register_channel_layer(JOBS_LAYER_ALIAS, memory)
    channel = await memory.new_channel()
    await BackgroundJobConsumer.send_event(JobResult(payload=OUTCOME), channel)
    sent = await memory.receive(channel)

    published_on, message = event_publish(redis_layer, OUTCOME, channel)

    assert (published_on, redis_layer.deserialize(message)) == (channel, sent)


QUEUE_URL = "redis://127.0.0.1:1"


def test_the_redis_layer_is_found_only_when_it_is_the_one_registered(redis_layer: RedisPubSubChannelLayer) -> None:
    assert redis_pubsub_layer(QUEUE_URL) is redis_layer
    channel_layers.clear()
    assert redis_pubsub_layer(QUEUE_URL) is None


def test_the_redis_layer_is_found_when_its_one_host_is_given_as_a_bare_url() -> None:
    channel_layers.clear()
    layer = RedisPubSubChannelLayer(hosts=[QUEUE_URL], prefix="test")
    register_channel_layer(JOBS_LAYER_ALIAS, layer)
    try:
        assert redis_pubsub_layer(QUEUE_URL) is layer
        assert redis_pubsub_layer("redis://127.0.0.1:2") is None
    finally:
        channel_layers.clear()


def test_no_redis_layer_is_found_when_another_kind_of_layer_is_the_jobs_layer() -> None:
    channel_layers.clear()
    register_channel_layer(JOBS_LAYER_ALIAS, InMemoryChannelLayer())
    try:
        assert redis_pubsub_layer(QUEUE_URL) is None
    finally:
        channel_layers.clear()


@pytest.mark.parametrize(
    "hosts",
    [
        [{"address": "redis://127.0.0.1:2"}],  # the layer on another Redis than the queue
        [{"address": QUEUE_URL}, {"address": "redis://127.0.0.1:2"}],  # sharded: a channel may be on either
        [{"sentinels": [("127.0.0.1", 26379)], "master_name": "jobs"}],  # found through Sentinel
    ],
    ids=["another-redis", "sharded", "sentinel"],
)
def test_outcomes_ride_the_queues_transaction_only_when_the_layer_is_on_the_queues_redis_alone(
    hosts: list[dict[str, Any]],
) -> None:
    channel_layers.clear()
    register_channel_layer(JOBS_LAYER_ALIAS, RedisPubSubChannelLayer(hosts=hosts, prefix="test"))
    try:
        assert redis_pubsub_layer(QUEUE_URL) is None
    finally:
        channel_layers.clear()
