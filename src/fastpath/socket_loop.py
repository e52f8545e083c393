"""A consumer's loop on its own task: what fast-channels' ``AsyncConsumer.__call__`` does, ~2.5 KB lighter per socket.

The stock ``__call__`` hands ``await_many_dispatch`` two callables, the ASGI ``receive`` and the channel
layer's ``receive``, and keeps a task running on each, plus ``asyncio.wait``'s waiter and callbacks around
them, and the last message it dispatched until the next one. Here the consumer's own task waits on the
ASGI ``receive`` (one task, as before) and on its channel's ``ChannelInbox`` (no task): a put wakes it.

What stays as in the stock loop: a message is dispatched before the next one from the same source is
read (so a consumer that is slow to dispatch stops reading its socket), both sources' orders are kept,
``StopConsumer`` ends the loop quietly, and on the way out the channel is dropped and unsubscribed.
"""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from fast_channels.consumer.base import AsyncConsumer
from fast_channels.exceptions import StopConsumer
from fast_channels.layers import get_channel_layer

from src.fastpath.lean_channel_layer import ChannelInbox, LeanChannelLayer

Receive = Callable[[], Awaitable[Any]]
Dispatch = Callable[[Any], Awaitable[None]]
Decode = Callable[[Any], Any]


async def serve_consumer(consumer: AsyncConsumer, scope: Any, receive: Receive, send: Any) -> None:
    """Run ``consumer`` on this socket as ``AsyncConsumer.__call__`` would; on any layer but the lean one, it does."""
    layer = get_channel_layer(consumer.channel_layer_alias) if consumer.channel_layer_alias else None
    if not isinstance(layer, LeanChannelLayer):
        await AsyncConsumer.__call__(consumer, scope, receive, send)
        return
    consumer.scope = scope
    consumer.channel_layer = layer
    consumer.channel_name = channel = await layer.new_channel()
    consumer.channel_receive = functools.partial(layer.receive, channel)
    consumer.base_send = send
    loop_layer = layer.loop_layer()
    try:
        await dispatch_both(receive, loop_layer.inbox(channel), layer.deserialize, consumer.dispatch)
    except StopConsumer:
        pass
    finally:
        await loop_layer.drop_channel(channel)


async def dispatch_both(receive: Receive, inbox: ChannelInbox, decode: Decode, dispatch: Dispatch) -> None:
    """Dispatch what ``receive`` returns and what arrives in ``inbox`` (decoded), each in its order, until an error."""
    reading: asyncio.Future[Any] = asyncio.ensure_future(receive())
    try:
        while True:
            if reading.done():
                message = reading.result()
                await dispatch(message)
                del message  # not held while the socket is idle
                reading = asyncio.ensure_future(receive())
            if inbox:
                await dispatch(decode(inbox.pop()))
            if not reading.done() and not inbox:
                await _either(reading, inbox)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def _either(reading: asyncio.Future[Any], inbox: ChannelInbox) -> None:
    """Wait until ``reading`` is done or ``inbox`` has a message."""
    wake = asyncio.get_running_loop().create_future()
    settle = functools.partial(_settle, wake)
    reading.add_done_callback(settle)
    inbox.wake_on_put(wake)
    try:
        await wake
    finally:
        reading.remove_done_callback(settle)
        inbox.forget(wake)


def _settle(wake: asyncio.Future[None], _: object) -> None:
    if not wake.done():
        wake.set_result(None)
