"""The fast path's writes are all or nothing: a connection cut part-way through a batch of enqueues (or an abort
request) leaves nothing of it in Redis, so no job runs that its client was told failed."""

import pytest
import redis.asyncio as aredis
from arq import ArqRedis
from arq.constants import abort_jobs_ss, job_key_prefix
from arq.utils import timestamp_ms
from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from src.fastpath.enqueue_batcher import BatchedJobWriter, NewJob, queue_jobs
from tests.support.cutting_proxy import cutting_proxy

QUEUE = "arq:queue:all-or-nothing"
WAKE = "wake:all-or-nothing"
JOBS = 50


def resp(*arguments: str) -> bytes:
    """A command as RESP puts it on the wire (an array of bulk strings)."""
    parts = [f"*{len(arguments)}\r\n".encode()]
    for argument in arguments:
        encoded = argument.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(encoded), encoded))
    return b"".join(parts)


async def redis_holds(redis_url: str) -> tuple[int, int, int]:
    """(jobs on the queue, job records, abort requests) in the test's Redis."""
    client = aredis.Redis.from_url(redis_url)
    try:
        records = len([key async for key in client.scan_iter(match=job_key_prefix + "*")])
        return int(await client.zcard(QUEUE)), records, int(await client.zcard(abort_jobs_ss))
    finally:
        await client.aclose()


async def test_a_batch_cut_off_half_way_is_not_written_at_all_and_its_jobs_fail(redis_url: str) -> None:
    async with cutting_proxy(redis_url) as proxy:
        pool = ArqRedis(ConnectionPool.from_url(proxy.url), default_queue_name=QUEUE)
        try:
            await pool.ping()  # the connection is open: the cut falls inside the batch
            jobs = [NewJob("default", f"default_{n:032x}", "x" * 100, "channel") for n in range(JOBS)]
            proxy.cut_after(JOBS * 150)  # about half of the batch's commands reach Redis

            with pytest.raises((RedisConnectionError, ConnectionError)):
                await queue_jobs(pool, jobs, WAKE)
            assert proxy.cut.is_set()
        finally:
            await pool.aclose()

    assert await redis_holds(redis_url) == (0, 0, 0)


async def test_an_abort_request_cut_off_before_its_wake_up_is_not_recorded(redis_url: str) -> None:
    async with cutting_proxy(redis_url) as proxy:
        pool = ArqRedis(ConnectionPool.from_url(proxy.url), default_queue_name=QUEUE)
        try:
            await pool.ping()
            writer = BatchedJobWriter(pool, WAKE, max_depth=1_000, answer_timeout=1.0)
            job_id = "default_" + "0" * 32
            # Exactly an abort request's ZADD (its score: a 13-digit timestamp in ms) gets through, then the cut.
            proxy.cut_after(len(resp("ZADD", abort_jobs_ss, str(timestamp_ms()), job_id)))

            with pytest.raises((RedisConnectionError, ConnectionError)):
                await writer.request_abort(job_id)
            assert proxy.cut.is_set()
        finally:
            await pool.aclose()

    assert await redis_holds(redis_url) == (0, 0, 0)
