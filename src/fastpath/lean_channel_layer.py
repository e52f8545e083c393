"""fast-channels' Redis pub/sub layer, with no Redis command per socket and a lighter inbox per channel.

One subscription per process and shard: the stock loop layer subscribes each socket's channel (a ``SUBSCRIBE`` when
the socket opens, an ``UNSUBSCRIBE`` when it closes, and an entry in Redis's and redis-py's tables meanwhile). Here a
socket's channel is named as Channels names a process-local one, ``<prefix>specific.<process>.<shard>!<socket>``,
where ``<shard>`` is the shard fast-channels' consistent hash gives the whole name, and the process subscribes once,
on each shard, to the pattern ``<prefix>specific.<process>.<shard>!*`` (confirmed before the first channel is given
out): every channel is heard on its own shard only, so two shards on one Redis server deliver a message once. A
message is routed to its socket's inbox by its channel's name, as the stock reader does.
Whoever publishes is unchanged: a ``PUBLISH`` to the channel's name, as any fast-channels layer sends it (this one
too, to its own process's channels: a message sent straight to a local inbox would overtake the messages of the same
sender still on their way through Redis, to a group, say). Redis
matches each ``PUBLISH`` against every pattern subscribed (one per web process on a shard), and redis-py subscribes
the pattern again when it reconnects, as it does channels.

A lighter inbox: the stock loop layer keeps an ``asyncio.Queue`` for every channel, that is for every open
socket: three deques and an ``Event`` with a fourth, some 3 KB on CPython 3.11 before a message has arrived. The
layer only ever calls ``put_nowait`` (its reader) and ``get`` (``receive``) on it, so ``ChannelInbox`` offers
those two, on two small lists. The contract tests pin that those are the only calls.
"""

import asyncio
import contextlib
import logging
import random
import re
import uuid
from typing import Any

from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.layers.redis.pubsub import RedisPubSubLoopLayer, RedisSingleShardConnection
from fast_channels.layers.redis.utils import consistent_hash, wrap_close

logger = logging.getLogger(__name__)

#: Seconds a shard has to confirm the process's pattern subscription before ``new_channel`` fails.
LISTEN_TIMEOUT = 5.0
#: The characters a Redis glob pattern gives a meaning to.
GLOB_SPECIAL = re.compile(r"([\\*?\[\]^])")


class ChannelInbox:
    """An unbounded FIFO of one channel's messages, with ``asyncio.Queue``'s ``put_nowait`` and ``get``.

    As with the queue, a waiting ``get`` is only woken, and takes the message once it runs: a ``get``
    cancelled after its wake-up leaves the message for the next one.
    """

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        """Add ``item`` and wake the longest-waiting ``get`` (or future given to ``wake_on_put``)."""
        self._items.append(item)
        self._wake_next()

    def pop(self) -> Any:
        """The oldest message; ``IndexError`` if there is none."""
        return self._items.pop(0)

    def wake_on_put(self, waiter: "asyncio.Future[None]") -> None:
        """Resolve ``waiter`` when a message is put (for a loop that waits on more than this inbox)."""
        self._getters.append(waiter)

    def forget(self, waiter: "asyncio.Future[None]") -> None:
        """No longer resolve ``waiter``."""
        with contextlib.suppress(ValueError):
            self._getters.remove(waiter)

    async def get(self) -> Any:
        """The oldest message, waiting for one if there is none."""
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # its wake-up came, but it will not take the message: pass it on
                raise
        return self._items.pop(0)

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class LeanLoopLayer(RedisPubSubLoopLayer):
    """The loop layer, with the process's channels under one pattern and a ``ChannelInbox`` for each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The name every channel this process gives out starts with; unique to this loop layer.
        self.local_prefix = f"{self.prefix}specific.{uuid.uuid4().hex}."
        self._listening: asyncio.Future[None] | None = None
        self._listened: set[RedisSingleShardConnection] = set()

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A new channel of this process's, named under its pattern: no Redis command once the pattern is in place."""
        if prefix != "specific.":
            return await super().new_channel(prefix)
        await self.listen()
        channel = self._local_name()
        self.channels[channel] = ChannelInbox()  # type: ignore[assignment]  # put_nowait and get, as the layer uses
        return channel

    def _local_name(self) -> str:
        """A new name under this process's pattern for a shard drawn at random, whose name fast-channels' hash gives
        that shard: drawn again until it does (at once with one shard; as many draws as shards on average)."""
        shards = len(self._shards)
        shard = random.randrange(shards)
        while True:
            channel = f"{self.local_prefix}{shard}!{uuid.uuid4().hex}"
            if consistent_hash(channel, shards) == shard:
                return channel

    async def listen(self) -> None:
        """Subscribe every shard to this process's pattern, once, and wait until each has confirmed it."""
        if self._listening is None or (self._listening.done() and self._listening.exception() is not None):
            self._listening = asyncio.ensure_future(self._subscribe_pattern())
        await asyncio.shield(self._listening)

    async def _subscribe_pattern(self) -> None:
        local = GLOB_SPECIAL.sub(r"\\\1", self.local_prefix)
        await asyncio.gather(
            *(
                self._listen_on(shard, f"{local}{index}!*")
                for index, shard in enumerate(self._shards)
                if shard not in self._listened
            )
        )

    async def _listen_on(self, shard: RedisSingleShardConnection, pattern: str) -> None:
        await _subscribe_confirmed(shard, pattern)
        self._listened.add(shard)

    async def _subscribe_to_channel(self, channel: str) -> None:
        # A channel named elsewhere (the stock ``receive`` of an unknown one): subscribed on its own, as the stock
        # method does, the inbox first; after the pattern, which must be the first subscription on each shard.
        await self.listen()
        self.channels[channel] = ChannelInbox()  # type: ignore[assignment]
        await self._get_shard(channel).subscribe(channel)

    def inbox(self, channel: str) -> ChannelInbox:
        """The inbox of ``channel``, one of this process's channels."""
        inbox = self.channels[channel]
        assert isinstance(inbox, ChannelInbox)
        return inbox

    async def drop_channel(self, channel: str) -> None:
        """Forget ``channel`` (and unsubscribe from it, if it was subscribed on its own): what the stock ``receive``
        does when it is cancelled."""
        if self.channels.pop(channel, None) is None or channel.startswith(self.local_prefix):
            return
        try:
            await self._get_shard(channel).unsubscribe(channel)
        except Exception:
            logger.exception("Unexpected exception while cleaning-up channel:")

    async def flush(self) -> None:
        """The stock flush (every connection closed, every channel forgotten); the pattern is subscribed again on the
        next ``new_channel``."""
        await super().flush()
        self._listening = None
        self._listened.clear()


async def _subscribe_confirmed(shard: RedisSingleShardConnection, pattern: str) -> None:
    """``PSUBSCRIBE pattern`` on ``shard``'s pub/sub connection and read Redis's confirmation, then start the shard's
    reader (which would otherwise take the confirmation). Fails closed if the reader already runs."""
    async with shard._lock:
        if shard._receive_task is not None:
            raise RuntimeError("the lean layer's pattern must be the first subscription on each shard")
        shard._ensure_redis()
        pubsub = shard._pubsub
        assert pubsub is not None
        await pubsub.psubscribe(pattern)
        async with asyncio.timeout(LISTEN_TIMEOUT):
            while True:
                reply = await pubsub.get_message(timeout=LISTEN_TIMEOUT)
                if reply is not None and reply["type"] == "psubscribe":
                    break
        shard._ensure_receiver()


class LeanChannelLayer(RedisPubSubChannelLayer):
    """fast-channels' ``RedisPubSubChannelLayer``, whose per-loop layers are ``LeanLoopLayer``s."""

    def loop_layer(self) -> LeanLoopLayer:
        """This event loop's layer."""
        layer = self._get_layer()
        assert isinstance(layer, LeanLoopLayer)
        return layer

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = LeanLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            wrap_close(self, loop)
        return layer
