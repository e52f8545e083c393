"""The worker pool's edges: other sorted sets are polled as ARQ's own, a broken wake-up connection is listened to
again after one warning, and closing (twice, even) stops the listening."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fakeredis import FakeServer
from redis.exceptions import ConnectionError as RedisConnectionError

from src.fastpath.wakeable_pool import WakeableArqRedis
from tests.unit.fastpath.fakes import fake_worker_pool

QUEUE = "arq:queue"


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[WakeableArqRedis]:
    """The worker's pool on fakeredis, falling back to polling every 50 ms."""
    wakeable = fake_worker_pool(FakeServer(), wait=0.05, queue=QUEUE)
    yield wakeable
    await wakeable.aclose()


class FlakyPubSub:
    """A pub/sub connection that fails once, then delivers one wake-up, then waits for ever."""

    def __init__(self) -> None:
        self.replies: list[Any] = [RedisConnectionError("Connection reset by peer"), {"type": "message", "data": b""}]

    async def get_message(self, timeout: float | None = None) -> Any:
        if not self.replies:
            await asyncio.Event().wait()
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


async def test_polls_of_other_sorted_sets_and_positional_polls_are_answered_as_arqs_own(
    pool: WakeableArqRedis,
) -> None:
    await pool.zadd("arq:abort", {"job-1": 1})
    await pool.zadd(QUEUE, {"job-2": 2})

    assert await pool.zrangebyscore("arq:abort", 0, 10) == [b"job-1"]
    assert await pool.zrangebyscore("arq:abort", min=0, max=10, withscores=True) == [(b"job-1", 1.0)]
    assert await pool.zrangebyscore(QUEUE, 0, 10) == [b"job-2"]
    assert await pool.zrangebyscore(QUEUE, 5, 10) == []  # empty: waited for a wake-up, then polled again


async def test_a_broken_wake_up_connection_is_logged_once_and_listened_to_again(
    pool: WakeableArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    listener = asyncio.create_task(pool._read_wakeups(FlakyPubSub()))  # type: ignore[arg-type]

    await asyncio.wait_for(pool._woken.wait(), timeout=1)

    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    warnings = [" ".join(r.getMessage().split()) for r in caplog.records if r.levelname == "WARNING"]
    assert [re.sub(r"^\[warning *\] ", "", w) for w in warnings] == [
        "wake-ups interrupted; polling meanwhile error='Connection reset by peer'"
    ]


def other_tasks() -> set[asyncio.Task[Any]]:
    """The loop's unfinished tasks but the test's own."""
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_closing_the_worker_pool_twice_stops_its_wake_up_listener_and_raises_nothing(
    pool: WakeableArqRedis,
) -> None:
    before = other_tasks()
    await pool.zrangebyscore(QUEUE, 0, 10)  # subscribes to the wake channel: a task now listens on it
    listening = other_tasks() - before
    assert len(listening) == 1

    await pool.aclose()
    await pool.aclose()

    assert other_tasks() == before
    assert all(task.cancelled() for task in listening)
