"""Looking at Redis pub/sub from a test: who is subscribed, and waiting for a change Redis gives no notice of."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

from redis.asyncio import Redis


async def subscribers(client: Redis, channel: str) -> int:
    """How many connections Redis has subscribed to ``channel``."""
    [(_, count)] = cast(list[tuple[bytes, int]], await client.pubsub_numsub(channel))
    return int(count)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 2.0) -> None:
    """Until ``check`` holds, looking every 5 ms (Redis sends no notice of an unsubscribe), 2 s at most."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
