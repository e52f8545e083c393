"""``REDIS_MIN_REPLICAS_ACK`` on a real Redis: a job no replica holds in time is taken back and refused, so a
client is never told ``queued`` about a job its master alone holds (the failover itself: test_sentinel_failover)."""

import pytest
from arq import ArqRedis
from arq.constants import job_key_prefix
from redis.asyncio import Redis

from src.parts import StockParts
from src.settings import Settings
from src.web.job_queue import JobQueue, QueueError, new_job_id


async def test_a_job_no_replica_acknowledges_in_time_is_taken_back_and_refused(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, redis_min_replicas_ack=1, enqueue_timeout=0.5, fast_path=False)
    jobs = JobQueue(settings, StockParts(settings))
    await jobs.open()
    job_id = new_job_id("default")
    try:
        with pytest.raises(QueueError, match=r"could not copy the job to 1 replica\(s\) in time"):
            await jobs.enqueue("default", job_id, "hello", "chan")
        pool: ArqRedis = jobs.pool
        assert await pool.zscore(settings.queue_name, job_id) is None
        assert not await pool.exists(job_key_prefix + job_id)
    finally:
        await jobs.close()


async def test_with_no_replica_asked_for_an_enqueue_does_not_wait(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, fast_path=False)
    jobs = JobQueue(settings, StockParts(settings))
    await jobs.open()
    job_id = new_job_id("default")
    try:
        await jobs.enqueue("default", job_id, "hello", "chan")
        client = Redis.from_url(redis_url)
        assert await client.zscore(settings.queue_name, job_id) is not None
        await client.aclose()
    finally:
        await jobs.close()
