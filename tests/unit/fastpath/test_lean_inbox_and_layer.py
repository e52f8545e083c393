"""The lean channel layer's details: a channel inbox's waiters (forgotten, cancelled, woken in turn), the layer
built from positional or keyword arguments as fast-channels' own, and a channel's drop when Redis fails it."""

import asyncio
import logging

import pytest
from fast_channels.layers.redis.pubsub import RedisSingleShardConnection

from src.fastpath.lean_channel_layer import ChannelInbox, LeanChannelLayer, LeanLoopLayer
from tests.support.future_watch import FutureWatch

UNREACHABLE = "redis://127.0.0.1:1"


async def settle() -> None:
    """Let every ready callback and task run (a few loop turns)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_waiter_forgotten_is_not_woken_by_a_put_the_next_one_is() -> None:
    inbox = ChannelInbox()
    loop = asyncio.get_running_loop()
    forgotten: asyncio.Future[None] = loop.create_future()
    kept: asyncio.Future[None] = loop.create_future()
    inbox.wake_on_put(forgotten)
    inbox.wake_on_put(kept)

    inbox.forget(forgotten)
    inbox.put_nowait("message")

    assert (forgotten.done(), kept.done()) == (False, True)


async def test_forgetting_a_waiter_the_inbox_does_not_hold_is_harmless() -> None:
    inbox = ChannelInbox()
    stranger: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    inbox.forget(stranger)
    inbox.put_nowait("message")

    assert (stranger.done(), len(inbox), inbox.pop()) == (False, 1, "message")


async def test_a_cancelled_get_leaves_no_waiter_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle socket's inbox must not grow: a get that is cancelled before any put frees what it waited on."""
    inbox = ChannelInbox()
    watch = FutureWatch(monkeypatch)

    for _ in range(3):
        getting = asyncio.create_task(inbox.get())
        await settle()
        getting.cancel()
        await asyncio.wait({getting})
        assert getting.cancelled()
    del getting  # the last task, and with it its coroutine's frame
    await settle()  # ``asyncio.wait``'s own waiter is freed once its callback has run

    assert watch.alive() == 0


async def test_a_woken_get_cancelled_after_its_message_was_popped_does_not_wake_the_next_out_of_turn() -> None:
    """The gets still waiting keep their order: the next put goes to the one that began first."""
    inbox = ChannelInbox()
    first = asyncio.create_task(inbox.get())
    await settle()
    second = asyncio.create_task(inbox.get())
    await settle()
    third = asyncio.create_task(inbox.get())
    await settle()

    inbox.put_nowait("taken")  # wakes ``first`` ...
    first.cancel()  # ... which is cancelled before it runs ...
    assert inbox.pop() == "taken"  # ... and its message is taken by the loop meanwhile
    await settle()
    inbox.put_nowait("next")

    assert await asyncio.wait_for(second, 1.0) == "next"
    assert not third.done()
    inbox.put_nowait("last")
    assert await asyncio.wait_for(third, 1.0) == "last"
    assert first.cancelled()


async def test_the_lean_layer_takes_its_hosts_and_prefix_positionally_as_fast_channels_layer_does() -> None:
    layer = LeanChannelLayer([UNREACHABLE], "positional-prefix.")

    assert layer.loop_layer().prefix == "positional-prefix."


async def test_the_lean_layer_takes_its_hosts_and_prefix_by_keyword() -> None:
    layer = LeanChannelLayer(hosts=[UNREACHABLE], prefix="keyword-prefix.")

    assert layer.loop_layer().prefix == "keyword-prefix."


async def test_dropping_a_channel_this_process_does_not_hold_is_harmless() -> None:
    layer = LeanChannelLayer(hosts=[UNREACHABLE], prefix="test.")

    await layer.loop_layer().drop_channel("test.specific.never-made")


@pytest.fixture
def redis_refuses_to_unsubscribe(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each shard subscribes (noted, no Redis needed) but fails to unsubscribe, as on a dropped connection; the
    process's pattern is taken as confirmed."""
    subscribed: list[str] = []

    async def listen(layer: LeanLoopLayer) -> None:
        pass

    async def subscribe(shard: RedisSingleShardConnection, channel: str) -> None:
        subscribed.append(channel)

    async def unsubscribe(shard: RedisSingleShardConnection, channel: str) -> None:
        raise ConnectionError("Connection closed by server.")

    monkeypatch.setattr(RedisSingleShardConnection, "subscribe", subscribe)
    monkeypatch.setattr(RedisSingleShardConnection, "unsubscribe", unsubscribe)
    monkeypatch.setattr(LeanLoopLayer, "listen", listen)
    return subscribed


async def test_a_channel_the_layer_names_costs_no_subscribe_nor_unsubscribe(
    redis_refuses_to_unsubscribe: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    layer = LeanChannelLayer(hosts=[UNREACHABLE], prefix="test.")
    loop_layer = layer.loop_layer()
    channel = await layer.new_channel()
    other = await layer.new_channel()

    with caplog.at_level(logging.ERROR, logger="src.fastpath.lean_channel_layer"):
        await loop_layer.drop_channel(channel)

    assert channel.startswith("test.specific.")
    assert channel.partition("!")[0] == other.partition("!")[0] != ""
    assert channel != other
    assert redis_refuses_to_unsubscribe == []
    assert (channel in loop_layer.channels, other in loop_layer.channels) == (False, True)
    assert caplog.records == []


async def test_a_channel_redis_fails_to_unsubscribe_is_dropped_all_the_same_and_the_failure_logged(
    redis_refuses_to_unsubscribe: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    layer = LeanChannelLayer(hosts=[UNREACHABLE], prefix="test.")
    loop_layer = layer.loop_layer()
    channel = "test.specific.named-elsewhere"
    await loop_layer._subscribe_to_channel(channel)  # as the stock ``receive`` of a channel it does not know
    assert redis_refuses_to_unsubscribe == [channel]

    with caplog.at_level(logging.ERROR, logger="src.fastpath.lean_channel_layer"):
        await loop_layer.drop_channel(channel)

    [record] = [r for r in caplog.records if r.name == "src.fastpath.lean_channel_layer"]
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "Unexpected exception while cleaning-up channel:")
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)
    assert channel not in loop_layer.channels
