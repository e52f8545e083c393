"""The outcome the fast path publishes in ARQ's finishing transaction is the very message chanx's ``send_event``
publishes through the Redis pub/sub layer: same channel, same bytes."""

from collections.abc import Awaitable, Callable
from typing import Any

from arq import ArqRedis
from fast_channels.layers import get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.fastpath.riding_outcomes import event_publish
from src.layers import JOBS_LAYER_ALIAS
from src.settings import Settings
from src.worker_side.consumer_notifier import consumer_notifier
from tests.contract.conftest import run_burst

OUTCOME = JobOutcome(
    status="result", job_id="translate_1", job_type="translate", message="🌍 Translated: 'hello' → 'hola'"
)


def channel_name(settings: Settings) -> str:
    """A socket's channel name as the Redis pub/sub layer makes them (``<prefix>specific.<hex>``)."""
    return f"{settings.channel_layer_prefix}specific.0123456789abcdef"


async def published(pool: ArqRedis, channel: str, action: Callable[[], Awaitable[Any]]) -> list[bytes]:
    """The messages Redis delivers on ``channel`` while ``action`` runs."""
    listener = pool.pubsub(ignore_subscribe_messages=True)
    await listener.subscribe(channel)
    await listener.get_message(timeout=1)  # the subscription's confirmation
    await action()
    messages = []
    while (message := await listener.get_message(ignore_subscribe_messages=True, timeout=0.2)) is not None:
        messages.append(message["data"])
    await listener.aclose()  # type: ignore[no-untyped-call]
    return messages


async def test_the_publish_the_fast_path_builds_is_the_one_send_event_makes(
    pool: ArqRedis, settings: Settings, redis_layer: None
) -> None:
    channel = channel_name(settings)
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert isinstance(layer, RedisPubSubChannelLayer)

    by_chanx = await published(
        pool, channel, lambda: BackgroundJobConsumer.send_event(JobResult(payload=OUTCOME), channel)
    )

    assert event_publish(layer, OUTCOME, channel) == (channel, by_chanx[0])
    assert len(by_chanx) == 1


async def test_a_job_run_by_the_fast_paths_worker_publishes_the_message_arqs_worker_and_send_event_publish(
    pool: ArqRedis, settings: Settings, redis_layer: None
) -> None:
    channel = channel_name(settings)

    async def run(fast: bool) -> None:
        assert await pool.enqueue_job("translate", "translate_1", "hello", channel, _job_id="translate_1")
        await run_burst(settings, fast=fast, notifier=consumer_notifier())

    by_arq = await published(pool, channel, lambda: run(fast=False))
    await pool.flushdb()
    by_fast_path = await published(pool, channel, lambda: run(fast=True))

    assert by_fast_path == by_arq
    assert len(by_arq) == 1
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert isinstance(layer, RedisPubSubChannelLayer)
    assert layer.deserialize(by_arq[0]) == {
        "type": "handle_channel_event",
        "event_data": JobResult(payload=OUTCOME).model_dump(mode="json"),
    }
