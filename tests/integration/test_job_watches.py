"""The watch hub (``JobWatches``) on a real Redis: what is published on a queuing socket's channel for a watched job
reaches each watching channel, from the moment ``watch`` returns; nothing else does; and the hub hears again after
its Redis restarts."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
import redis.asyncio
from fast_channels.layers import channel_layers, get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.layers.redis.pubsub import RedisPubSubLoopLayer
from fast_channels.layers.redis.utils import consistent_hash

from src.apps.background_jobs.messages import JobOutcome, JobProgress, JobResult, ProgressUpdate
from src.layers import JOBS_LAYER_ALIAS, setup_layers, teardown_layers
from src.settings import Settings
from src.web.job_watches import JobWatches
from tests.support.redis_provider import RedisServerProcess, redis_server_process


@contextlib.asynccontextmanager
async def layer_and_hub(redis_url: str) -> AsyncIterator[tuple[RedisPubSubChannelLayer, JobWatches]]:
    """The channel layer (fast-channels' own) and a watch hub, both on ``redis_url``."""
    channel_layers.clear()
    setup_layers(Settings(redis_url=redis_url))
    watches = JobWatches(Settings(redis_url=redis_url))
    try:
        yield cast(RedisPubSubChannelLayer, get_channel_layer(JOBS_LAYER_ALIAS)), watches
    finally:
        await watches.close()
        await teardown_layers()


@pytest_asyncio.fixture
async def layer_and_hub_on_the_sessions_redis(
    redis_url: str,
) -> AsyncIterator[tuple[RedisPubSubChannelLayer, JobWatches]]:
    async with layer_and_hub(redis_url) as both:
        yield both


@pytest.fixture
def layer(layer_and_hub_on_the_sessions_redis: tuple[RedisPubSubChannelLayer, JobWatches]) -> RedisPubSubChannelLayer:
    return layer_and_hub_on_the_sessions_redis[0]


@pytest.fixture
def hub(layer_and_hub_on_the_sessions_redis: tuple[RedisPubSubChannelLayer, JobWatches]) -> JobWatches:
    return layer_and_hub_on_the_sessions_redis[1]


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The send of ``generate_a``'s 10 % event waits until this is set (other sends go at once)."""
    held, send = asyncio.Event(), RedisPubSubLoopLayer.send

    async def first_send_waits(self: RedisPubSubLoopLayer, channel: str, message: Any) -> None:
        if not held.is_set() and message == event("generate_a", 10):
            await held.wait()
        await send(self, channel, message)

    # The layer hands ``send`` to its per-loop layer: the wait goes there.
    monkeypatch.setattr(RedisPubSubLoopLayer, "send", first_send_waits)
    return held


def event(job_id: str, percent: int = 10) -> dict[str, Any]:
    """What chanx's ``send_event`` sends a consumer: a job's progress."""
    update = ProgressUpdate(job_id=job_id, job_type="generate", progress=percent)
    return {"type": "handle_channel_event", "event_data": JobProgress(payload=update).model_dump(mode="json")}


def outcome(job_id: str) -> dict[str, Any]:
    result = JobOutcome(status="result", job_id=job_id, job_type="generate", message="done")
    return {"type": "handle_channel_event", "event_data": JobResult(payload=result).model_dump(mode="json")}


async def test_a_watched_jobs_events_reach_every_watcher_and_no_other_jobs_do(
    hub: JobWatches, layer: RedisPubSubChannelLayer
) -> None:
    queuing = await layer.new_channel()  # the socket that queued the jobs
    watchers = [await layer.new_channel() for _ in range(2)]
    for watcher in watchers:
        await hub.watch("generate_a", queuing, watcher)

    await layer.send(queuing, event("generate_other"))
    await layer.send(queuing, event("generate_a", 20))
    await layer.send(queuing, outcome("generate_a"))

    for watcher in watchers:
        assert await asyncio.wait_for(layer.receive(watcher), 2) == event("generate_a", 20)
        assert await asyncio.wait_for(layer.receive(watcher), 2) == outcome("generate_a")
    assert await asyncio.wait_for(layer.receive(queuing), 2) == event("generate_other")  # its own are still its own
    assert hub.channels == 1


async def test_an_event_published_the_moment_watch_returns_is_brought(
    hub: JobWatches, layer: RedisPubSubChannelLayer
) -> None:
    """Fifty jobs on fifty channels: each event is published at once after its watch returns, and each arrives."""
    watcher = await layer.new_channel()
    for n in range(50):
        queuing = f"{layer.prefix}specific.queuing{n}"
        await hub.watch(f"generate_{n}", queuing, watcher)
        await layer.send(queuing, event(f"generate_{n}", n))
    received = [await asyncio.wait_for(layer.receive(watcher), 2) for _ in range(50)]

    assert received == [event(f"generate_{n}", n) for n in range(50)]


async def test_after_the_last_unwatch_nothing_is_brought_and_the_channel_is_let_go(
    hub: JobWatches, layer: RedisPubSubChannelLayer
) -> None:
    queuing, watcher, other = [await layer.new_channel() for _ in range(3)]
    await hub.watch("generate_a", queuing, watcher)
    await hub.watch("generate_a", queuing, other)

    await hub.unwatch("generate_a", watcher)
    await layer.send(queuing, event("generate_a", 30))
    to_other = await asyncio.wait_for(layer.receive(other), 2)
    await hub.unwatch("generate_a", other)
    await hub.unwatch("generate_a", other)  # twice is once
    channels_after = hub.channels
    await layer.send(queuing, event("generate_a", 40))
    await hub.watch("generate_b", queuing, other)  # a later watch on the same channel: its subscription is new
    await layer.send(queuing, event("generate_b", 50))

    assert to_other == event("generate_a", 30)
    assert channels_after == 0
    assert await asyncio.wait_for(layer.receive(other), 2) == event("generate_b", 50)  # not generate_a's 40
    watcher_inbox = cast(Any, layer)._get_layer().channels[watcher]
    assert watcher_inbox.qsize() == 0  # the first watcher got nothing after its unwatch


@pytest.mark.processes
async def test_the_hub_hears_again_after_its_redis_restarts() -> None:
    with redis_server_process() as redis_process:
        async with layer_and_hub(redis_process.url) as (layer, hub):
            await hears_again_after_a_restart(layer, hub, redis_process)


async def hears_again_after_a_restart(
    layer: RedisPubSubChannelLayer, hub: JobWatches, redis_process: RedisServerProcess
) -> None:
    queuing, watcher = [await layer.new_channel() for _ in range(2)]
    await hub.watch("generate_a", queuing, watcher)

    redis_process.stop()
    redis_process.start()

    # Until the hub has subscribed again a publish reaches nobody, and no event tells the test when it has: publish
    # every 0.2 s until one is brought (one receive throughout: a cancelled receive gives its channel up).
    brought = asyncio.create_task(layer.receive(watcher))
    async with asyncio.timeout(15):
        while not brought.done():
            await layer.send(queuing, event("generate_a", 60))
            await asyncio.wait({brought}, timeout=0.2)

    assert brought.result() == event("generate_a", 60)


@pytest.mark.processes
async def test_with_a_sharded_channel_layer_each_channel_is_heard_on_its_own_redis() -> None:
    """With ``CHANNEL_LAYER_URLS`` naming two Redis hosts, channels on either are heard (the hub picks a channel's
    host as the layer does)."""
    with redis_server_process() as first, redis_server_process() as second:
        settings = Settings(redis_url=first.url, channel_layer_urls=[first.url, second.url])
        channel_layers.clear()
        setup_layers(settings)
        layer = cast(RedisPubSubChannelLayer, get_channel_layer(JOBS_LAYER_ALIAS))
        hub = JobWatches(settings)
        try:
            watcher = await layer.new_channel()
            names = [f"{layer.prefix}specific.queuing{n}" for n in range(100)]
            on_first = [name for name in names if consistent_hash(name, 2) == 0][:4]
            on_second = [name for name in names if consistent_hash(name, 2) == 1][:4]
            queuing = on_first + on_second
            for n, channel in enumerate(queuing):
                await hub.watch(f"generate_{n}", channel, watcher)
                await layer.send(channel, event(f"generate_{n}", n))
            received = [await asyncio.wait_for(layer.receive(watcher), 2) for _ in queuing]
        finally:
            await hub.close()
            await teardown_layers()

    assert len(on_first) == len(on_second) == 4
    assert received == [event(f"generate_{n}", n) for n in range(8)]


async def test_events_heard_while_a_send_waits_are_coalesced_to_the_latest_and_nothing_follows_an_outcome(
    hub: JobWatches, layer: RedisPubSubChannelLayer, redis_url: str, release: asyncio.Event
) -> None:
    """While the first event's send waits, the job's later progress is replaced by its outcome, and a progress after
    the outcome by nothing: the watcher gets the first event, then the outcome; another job's event comes after."""
    queuing, watcher, other = [await layer.new_channel() for _ in range(3)]
    await hub.watch("generate_a", queuing, watcher)
    await hub.watch("generate_b", queuing, other)
    publisher = redis.asyncio.Redis.from_url(redis_url)
    try:
        for message in (
            event("generate_a", 10),
            event("generate_a", 20),
            event("generate_a", 30),
            outcome("generate_a"),
            event("generate_a", 40),
            event("generate_b", 50),
        ):
            await publisher.publish(queuing, layer.serialize(message))
    finally:
        await publisher.aclose()
    # generate_b's event is read after all of generate_a's (one connection, in order): once both jobs are held, the
    # reader has heard everything.
    async with asyncio.timeout(5):
        while hub.backlog < 2:  # noqa: ASYNC110  # nothing to wait on but the hub's count
            await asyncio.sleep(0.01)
    release.set()

    to_watcher = [await asyncio.wait_for(layer.receive(watcher), 2) for _ in range(2)]
    to_other = await asyncio.wait_for(layer.receive(other), 2)

    assert to_watcher == [event("generate_a", 10), outcome("generate_a")]
    assert to_other == event("generate_b", 50)
    assert hub.backlog == 0


async def test_a_watch_redis_does_not_confirm_is_undone_and_the_job_can_be_watched_again(
    hub: JobWatches, layer: RedisPubSubChannelLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    queuing, watcher = [await layer.new_channel() for _ in range(2)]
    subscribe = redis.asyncio.client.PubSub.subscribe
    lost: list[Any] = []

    async def first_subscribe_lost(self: redis.asyncio.client.PubSub, *channels: Any, **kwargs: Any) -> None:
        if queuing in channels and not lost:  # Redis confirms another channel, never this one
            lost.append(channels)
            channels = (f"{queuing}.elsewhere",)
        await subscribe(self, *channels, **kwargs)

    monkeypatch.setattr(redis.asyncio.client.PubSub, "subscribe", first_subscribe_lost)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hub.watch("generate_a", queuing, watcher), 0.3)
    assert (hub.channels, lost) == (0, [(queuing,)])

    await hub.watch("generate_a", queuing, watcher)
    await layer.send(queuing, event("generate_a", 70))
    assert await asyncio.wait_for(layer.receive(watcher), 2) == event("generate_a", 70)
    assert hub.channels == 1


async def test_an_event_held_for_a_job_that_lost_its_last_watcher_is_dropped_and_the_next_jobs_still_come(
    hub: JobWatches, layer: RedisPubSubChannelLayer, redis_url: str, release: asyncio.Event
) -> None:
    queuing, first, gone, last = [await layer.new_channel() for _ in range(4)]
    for job_id, watcher in (("generate_a", first), ("generate_c", gone), ("generate_d", last)):
        await hub.watch(job_id, queuing, watcher)
    publisher = redis.asyncio.Redis.from_url(redis_url)
    try:
        for job_id, percent in (("generate_a", 10), ("generate_c", 20), ("generate_d", 30)):
            await publisher.publish(queuing, layer.serialize(event(job_id, percent)))
    finally:
        await publisher.aclose()
    async with asyncio.timeout(5):
        while hub.backlog < 2:  # noqa: ASYNC110  # a's is being sent, c's and d's held: nothing to wait on but the count
            await asyncio.sleep(0.01)
    await hub.unwatch("generate_c", gone)
    release.set()

    assert await asyncio.wait_for(layer.receive(first), 2) == event("generate_a", 10)
    assert await asyncio.wait_for(layer.receive(last), 2) == event("generate_d", 30)
    assert hub.backlog == 0
