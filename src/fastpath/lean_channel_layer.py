"""fast-channels' Redis pub/sub layer with a lighter inbox per channel: each open socket costs ~3 KB less.

The stock loop layer keeps an ``asyncio.Queue`` for every channel, that is for every open socket: three
deques and an ``Event`` with a fourth, some 3 KB on CPython 3.11 before a message has arrived. The layer
only ever calls ``put_nowait`` (its reader) and ``get`` (``receive``) on it, so ``ChannelInbox`` offers
those two, on two small lists. The contract tests pin that those are the only calls.
"""

import asyncio
import contextlib
import logging
from typing import Any

from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.layers.redis.pubsub import RedisPubSubLoopLayer
from fast_channels.layers.redis.utils import wrap_close

logger = logging.getLogger(__name__)


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
    """The loop layer, with a ``ChannelInbox`` where it would make an ``asyncio.Queue``."""

    async def _subscribe_to_channel(self, channel: str) -> None:
        # As the stock method does: the inbox first, so a message that arrives once subscribed has a place.
        self.channels[channel] = ChannelInbox()  # type: ignore[assignment]  # put_nowait and get, as the layer uses
        await self._get_shard(channel).subscribe(channel)

    def inbox(self, channel: str) -> ChannelInbox:
        """The inbox of ``channel``, one of this process's channels."""
        inbox = self.channels[channel]
        assert isinstance(inbox, ChannelInbox)
        return inbox

    async def drop_channel(self, channel: str) -> None:
        """Forget ``channel`` and unsubscribe from it: what the stock ``receive`` does when it is cancelled."""
        if self.channels.pop(channel, None) is None:
            return
        try:
            await self._get_shard(channel).unsubscribe(channel)
        except Exception:
            logger.exception("Unexpected exception while cleaning-up channel:")


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
            layer = LeanLoopLayer(*self._args, **self._kwargs, channel_layer=self)  # type: ignore[misc]  # as in the stock _get_layer
            self._layers[loop] = layer
            wrap_close(self, loop)
        return layer
