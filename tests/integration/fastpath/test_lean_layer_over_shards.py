"""The lean channel layer over two shards (two hosts, here two addresses of the session's Redis): a socket's
channel is subscribed, receives, and is unsubscribed again when it is dropped."""

import asyncio
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import pytest_asyncio
from redis.asyncio import Redis

from src.fastpath.lean_channel_layer import LeanChannelLayer


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


async def subscribers(client: Redis, channel: str) -> int:
    """How many connections are subscribed to ``channel`` on the Redis server."""
    [(_, count)] = cast(list[tuple[bytes, int]], await client.pubsub_numsub(channel))
    return count


async def test_on_two_shards_a_channel_is_subscribed_receives_and_is_unsubscribed_when_dropped(
    redis_url: str, client: Redis
) -> None:
    address = urlsplit(redis_url)
    shards = [urlunsplit(address._replace(path=f"/{db}")) for db in (0, 1)]  # pub/sub is server-wide, not per db
    layer = LeanChannelLayer(hosts=shards, prefix="shards.")
    try:
        channel = await layer.new_channel()
        assert await subscribers(client, channel) == 1

        await layer.send(channel, {"type": "direct", "n": 1})
        assert await asyncio.wait_for(layer.receive(channel), 2.0) == {"type": "direct", "n": 1}

        await layer.loop_layer().drop_channel(channel)
        async with asyncio.timeout(2.0):  # Redis sends no notice of an unsubscribe: look every 5 ms, 2 s at most
            while await subscribers(client, channel) != 0:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        assert channel not in layer.loop_layer().channels
    finally:
        await layer.flush()
