"""The lean channel layer and socket loop against fast-channels' own: on a real Redis, the same messages reach the
same handlers in the same order, and a socket's channel is dropped and unsubscribed the same way."""

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.exceptions import StopConsumer
from fast_channels.layers import channel_layers, get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.layers.redis.pubsub import RedisPubSubLoopLayer
from redis.asyncio import Redis

from src.fastpath.lean_channel_layer import LeanChannelLayer, LeanLoopLayer
from src.fastpath.socket_loop import serve_consumer
from src.layers import JOBS_LAYER_ALIAS, setup_layers, teardown_layers
from src.settings import Settings
from tests.support.pubsub import subscribers, until

#: The calls fast-channels' loop layer may make on a channel's queue (all that ``ChannelInbox`` offers it).
INBOX_CALLS = {"put_nowait", "get"}


class RecordingQueue:
    """The stock queue behind a front that notes every attribute the layer uses."""

    used: ClassVar[set[str]] = set()

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def __getattr__(self, name: str) -> Any:
        RecordingQueue.used.add(name)
        return getattr(self._queue, name)


class RecordingLoopLayer(RedisPubSubLoopLayer):
    """fast-channels' loop layer, on recording queues."""

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = RecordingQueue()  # type: ignore[assignment]
        await self._get_shard(channel).subscribe(channel)


class RecordingChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            self._layers[loop] = RecordingLoopLayer(*self._args, **self._kwargs, channel_layer=self)  # type: ignore[misc]
        return self._layers[loop]


@pytest_asyncio.fixture
async def client(settings: Settings) -> AsyncIterator[Redis]:
    redis = Redis.from_url(settings.redis_url)
    yield redis
    await redis.aclose()


async def test_fast_channels_uses_a_channels_queue_only_through_put_nowait_and_get(
    settings: Settings, client: Redis
) -> None:
    RecordingQueue.used.clear()
    layer = RecordingChannelLayer(hosts=[settings.redis_url], prefix=settings.channel_layer_prefix)
    channel = await layer.new_channel()
    await layer.group_add("watchers", channel)
    await layer.send(channel, {"type": "direct"})
    await layer.group_send("watchers", {"type": "to.group"})
    assert [await layer.receive(channel), await layer.receive(channel)] == [{"type": "direct"}, {"type": "to.group"}]

    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.05)  # let the receive reach its wait on the queue (it offers nothing to wait on)
    waiting.cancel()  # as a consumer's exit cancels it: the layer drops the channel
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await until(lambda: _unsubscribed(client, channel))
    await layer.flush()

    assert RecordingQueue.used <= INBOX_CALLS
    assert RecordingQueue.used == INBOX_CALLS  # both were exercised


async def _unsubscribed(client: Redis, channel: str) -> bool:
    return await subscribers(client, channel) == 0


async def test_on_the_lean_layer_receive_and_groups_work_as_on_fast_channels_own(settings: Settings) -> None:
    async def exchange(layer: RedisPubSubChannelLayer) -> list[Any]:
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        for n in range(3):
            await layer.send(channel, {"type": "direct", "n": n})
            await layer.group_send("watchers", {"type": "to.group", "n": n})
        received = [await asyncio.wait_for(layer.receive(channel), 2.0) for _ in range(6)]
        await layer.flush()
        return received

    prefix = settings.channel_layer_prefix
    stock = await exchange(RedisPubSubChannelLayer(hosts=[settings.redis_url], prefix=prefix))
    lean = await exchange(LeanChannelLayer(hosts=[settings.redis_url], prefix=prefix))

    assert lean == stock
    assert [m["n"] for m in stock if m["type"] == "direct"] == [0, 1, 2]


class Relay(AsyncConsumer):
    """A consumer that records what its socket and its channel bring, and stops on the socket's ``stop``."""

    channel_layer_alias = JOBS_LAYER_ALIAS

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if message["text"] == "stop":
            raise StopConsumer
        self.seen.append(("socket", message["text"]))

    async def relay_event(self, message: dict[str, Any]) -> None:
        self.seen.append(("layer", message["n"]))


Serve = Callable[[Relay, Any, Any, Any], Coroutine[Any, Any, None]]


async def stock_call(consumer: Relay, scope: Any, receive: Any, send: Any) -> None:
    await AsyncConsumer.__call__(consumer, scope, receive, send)


async def relay_session(settings: Settings, client: Redis, serve: Serve) -> tuple[list[tuple[str, Any]], bool, int]:
    """Three socket messages and three channel messages, then ``stop``: what the consumer saw, in order, whether
    the loop layer still knows the channel, and how many subscribers Redis still has on it."""
    socket: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    consumer = Relay()
    serving = asyncio.create_task(serve(consumer, {"type": "websocket"}, socket.get, lambda message: None))
    await until(lambda: _has_channel(consumer))
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert layer is not None
    for n in range(3):
        socket.put_nowait({"type": "websocket.receive", "text": f"frame {n}"})
        await layer.send(consumer.channel_name, {"type": "relay.event", "n": n})
    await until(lambda: _seen(consumer, 6))
    socket.put_nowait({"type": "websocket.receive", "text": "stop"})
    await asyncio.wait_for(serving, 2.0)
    assert isinstance(layer, RedisPubSubChannelLayer)
    known = consumer.channel_name in layer._get_layer().channels
    await until(lambda: _unsubscribed(client, consumer.channel_name))
    return consumer.seen, known, await subscribers(client, consumer.channel_name)


async def _has_channel(consumer: Relay) -> bool:
    return hasattr(consumer, "channel_name")


async def _seen(consumer: Relay, count: int) -> bool:
    return len(consumer.seen) >= count


async def test_the_lean_loop_serves_a_consumer_as_fast_channels_own_call_does(
    settings: Settings, client: Redis
) -> None:
    channel_layers.clear()
    setup_layers(settings)
    stock = await relay_session(settings, client, stock_call)
    await teardown_layers()
    setup_layers(settings, layer_class=LeanChannelLayer)
    assert isinstance(get_channel_layer(JOBS_LAYER_ALIAS), LeanChannelLayer)
    lean = await relay_session(settings, client, serve_consumer)
    assert isinstance(get_channel_layer(JOBS_LAYER_ALIAS)._get_layer(), LeanLoopLayer)  # type: ignore[union-attr]
    await teardown_layers()

    def by_source(seen: list[tuple[str, Any]], source: str) -> list[Any]:
        return [value for where, value in seen if where == source]

    for seen, known, subscribed in (stock, lean):
        assert by_source(seen, "socket") == ["frame 0", "frame 1", "frame 2"]
        assert by_source(seen, "layer") == [0, 1, 2]
        assert (known, subscribed) == (False, 0)


async def test_a_lean_channel_hears_what_fast_channels_own_layer_sends_it_and_the_other_way_round(
    settings: Settings, client: Redis
) -> None:
    """The web and the worker may run either layer (``FAST_PATH`` apart, or a rolling upgrade): a channel named
    under the lean layer's pattern hears a stock ``send``, a stock channel hears a lean ``send``, and the lean channel
    costs Redis no subscription of its own."""
    prefix = settings.channel_layer_prefix
    stock = RedisPubSubChannelLayer(hosts=[settings.redis_url], prefix=prefix)
    lean = LeanChannelLayer(hosts=[settings.redis_url], prefix=prefix)
    try:
        lean_channel, stock_channel = await lean.new_channel(), await stock.new_channel()
        await stock.send(lean_channel, {"type": "from.stock"})
        await lean.send(stock_channel, {"type": "from.lean"})

        assert await asyncio.wait_for(lean.receive(lean_channel), 2.0) == {"type": "from.stock"}
        assert await asyncio.wait_for(stock.receive(stock_channel), 2.0) == {"type": "from.lean"}
        assert stock.require_valid_channel_name(lean_channel)  # a name as fast-channels' own rules have it
        assert (await subscribers(client, lean_channel), await subscribers(client, stock_channel)) == (0, 1)
    finally:
        await lean.flush()
        await stock.flush()


async def published_by(layer: RedisPubSubChannelLayer, client: Redis, sends: int) -> list[bytes]:
    """What Redis publishes when ``layer`` sends ``sends`` messages to one channel at once (each send its own task,
    as a worker's jobs send theirs), in the order a subscriber hears them."""
    channel = "contract.specific.listener"
    listener = client.pubsub()
    await listener.subscribe(channel)
    assert (await listener.get_message(timeout=2.0) or {}).get("type") == "subscribe"
    try:
        await asyncio.gather(*(layer.send(channel, {"type": "job.progress", "n": n}) for n in range(sends)))
        heard: list[bytes] = []
        async with asyncio.timeout(5.0):
            while len(heard) < sends:
                message = await listener.get_message(timeout=1.0)
                if message is not None and message["type"] == "message":
                    heard.append(message["data"])
        return heard
    finally:
        await listener.aclose()  # type: ignore[no-untyped-call]
        await layer.flush()


async def test_the_lean_layer_publishes_many_sends_at_once_as_fast_channels_own_does_in_the_order_they_were_made(
    settings: Settings, client: Redis
) -> None:
    """The same bytes on the same channel, in the order the sends were made (a job's progress, then its outcome)."""
    prefix = settings.channel_layer_prefix
    stock = await published_by(RedisPubSubChannelLayer(hosts=[settings.redis_url], prefix=prefix), client, 200)
    lean_layer = LeanChannelLayer(hosts=[settings.redis_url], prefix=prefix)
    lean = await published_by(lean_layer, client, 200)

    assert len(lean) == len(stock) == 200
    assert [lean_layer.deserialize(data)["n"] for data in lean] == list(range(200))
    assert lean == stock  # byte for byte, in the same order
