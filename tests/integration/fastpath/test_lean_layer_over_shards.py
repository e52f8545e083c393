"""The lean channel layer over two shards (two hosts, here two addresses of the session's Redis): a socket's
channel is subscribed, receives, and is unsubscribed again when it is dropped."""

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest_asyncio
from redis.asyncio import Redis

from src.fastpath.lean_channel_layer import LeanChannelLayer
from tests.support.pubsub import subscribers, until


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


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
        await until(lambda: unsubscribed(client, channel))
        assert channel not in layer.loop_layer().channels
    finally:
        await layer.flush()


async def unsubscribed(client: Redis, channel: str) -> bool:
    return await subscribers(client, channel) == 0
