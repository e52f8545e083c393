"""What ARQ's keys say about a job: its state on any queue; and waits on Redis that end."""

import asyncio

import pytest
from arq import ArqRedis

from src.web.job_queue import QueueError
from src.web.lookup import bounded, look_up, watched_channel


async def test_a_job_looks_up_queued_on_the_queue_it_is_on_whatever_its_name(pool: ArqRedis) -> None:
    await pool.enqueue_job("default", "default_1", "x", "chan", _job_id="default_1")  # on the pool's own queue
    assert pool.default_queue_name == "arq:queue"
    await pool.enqueue_job("analyze", "analyze_2", "x", "chan", _job_id="analyze_2", _queue_name="q:other")

    other = await look_up(pool, "q:other", "analyze_2")
    mismatched = await look_up(pool, "q:other", "default_1")

    assert (other.status, other.job_type) == ("queued", "analyze")
    assert mismatched.status == "not_found"  # it is queued, but on another queue


async def test_a_wait_on_redis_that_does_not_end_in_time_fails_saying_so() -> None:
    never = asyncio.Event()

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await bounded(never.wait(), 0.01)


async def test_a_watch_is_pointed_at_the_channel_a_queued_job_was_queued_with(pool: ArqRedis) -> None:
    await pool.enqueue_job("generate", "generate_1", "x", "specific.abc", _job_id="generate_1")

    assert await watched_channel(pool, "generate_1") == "specific.abc"


async def test_a_watch_of_a_job_not_queued_with_a_channel_or_not_known_has_nowhere_to_go(pool: ArqRedis) -> None:
    await pool.enqueue_job("generate", "generate_2", "x", 3, _job_id="generate_2")  # not this app's arguments
    await pool.enqueue_job("generate", _job_id="generate_3")

    assert await watched_channel(pool, "generate_2") is None
    assert await watched_channel(pool, "generate_3") is None
    assert await watched_channel(pool, "generate_4") is None
