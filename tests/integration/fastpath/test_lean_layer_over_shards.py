"""The lean channel layer over two shards (two hosts, here two databases of the session's Redis, whose pub/sub is
server-wide): a socket's channel is heard once, through its process's pattern on its own shard, costs Redis no
subscription of its own, and hears nothing once dropped."""

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest_asyncio
from fast_channels.layers.redis.utils import consistent_hash
from redis.asyncio import Redis

from src.fastpath.lean_channel_layer import LeanChannelLayer
from tests.support.pubsub import subscribers


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


async def patterns(client: Redis) -> int:
    """How many patterns Redis has subscribers for."""
    return int(await client.pubsub_numpat())


async def test_on_two_shards_each_channel_is_heard_once_and_not_after_it_is_dropped(
    redis_url: str, client: Redis
) -> None:
    address = urlsplit(redis_url)
    shards = [urlunsplit(address._replace(path=f"/{db}")) for db in (0, 1)]
    layer = LeanChannelLayer(hosts=shards, prefix="shards.")
    patterns_before = await patterns(client)
    try:
        channels = [await layer.new_channel() for _ in range(16)]
        assert {consistent_hash(channel, 2) for channel in channels} == {0, 1}  # both shards carry channels
        assert await patterns(client) == patterns_before + 2  # one a shard, no more
        assert [await subscribers(client, channel) for channel in channels] == [0] * 16

        for n, channel in enumerate(channels):
            await layer.send(channel, {"type": "direct", "n": n})
        heard = [await asyncio.wait_for(layer.receive(channel), 2.0) for channel in channels]
        assert heard == [{"type": "direct", "n": n} for n in range(16)]

        dropped, kept = channels[0], channels[1]
        await layer.loop_layer().drop_channel(dropped)
        await layer.send(dropped, {"type": "direct", "n": "late"})
        await layer.send(kept, {"type": "direct", "n": "after"})
        assert await asyncio.wait_for(layer.receive(kept), 2.0) == {"type": "direct", "n": "after"}
        assert dropped not in layer.loop_layer().channels
        assert all(len(layer.loop_layer().inbox(channel)) == 0 for channel in channels[1:])  # nothing heard twice
    finally:
        await layer.flush()
    assert await patterns(client) == patterns_before
