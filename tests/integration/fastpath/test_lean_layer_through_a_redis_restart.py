"""The lean layer's one pattern subscription through a restart of its Redis: redis-py subscribes it again on the
new connection, and the process's channels, old and new, hear what is sent to them."""

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from src.fastpath.lean_channel_layer import LeanChannelLayer
from src.layers import layer_connection
from src.settings import Settings
from tests.support.redis_provider import redis_server_process

pytestmark = pytest.mark.processes

#: Seconds a channel has to hear a message sent while the layer may still be reconnecting.
HEARD_WITHIN = 10.0


async def sent_until_heard(layer: LeanChannelLayer, channel: str, message: dict[str, str]) -> Mapping[str, Any]:
    """Send ``message`` to ``channel`` every 0.1 s until the channel hears it (pub/sub keeps nothing for a
    subscriber that is reconnecting); what it heard. Read from the channel's inbox: the stock ``receive``, cancelled,
    would drop the channel and subscribe it on its own."""
    inbox = layer.loop_layer().inbox(channel)
    async with asyncio.timeout(HEARD_WITHIN):
        while True:
            await layer.send(channel, message)  # waits while the layer reconnects (it retries for as long as it takes)
            try:
                heard = layer.deserialize(await asyncio.wait_for(inbox.get(), 0.1))
            except TimeoutError:
                continue
            return heard


async def test_channels_old_and_new_hear_their_messages_after_redis_restarts() -> None:
    with redis_server_process() as redis_server:
        connection = layer_connection(Settings(redis_url=redis_server.url))
        layer = LeanChannelLayer(hosts=[{"address": redis_server.url, **connection}], prefix="restart.")
        try:
            before = await layer.new_channel()
            redis_server.stop()
            redis_server.start()
            after = await layer.new_channel()

            assert await sent_until_heard(layer, before, {"type": "old"}) == {"type": "old"}
            assert await sent_until_heard(layer, after, {"type": "new"}) == {"type": "new"}
            assert layer.loop_layer().channels.keys() == {before, after}
        finally:
            await layer.flush()
