"""A batch's write, as ARQ's ``enqueue_job`` writes it: each record in the pool's own serializer; a batch of no
jobs is no late write, only a wake-up."""

import json
from typing import Any

from fakeredis import FakeServer

from src.fastpath.enqueue_batcher import NewJob, Written, queue_jobs, write_jobs
from tests.support.fake_arq import FakeArqRedis


def as_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


async def test_each_record_is_written_in_the_pools_own_job_serializer() -> None:
    pool = FakeArqRedis(server=FakeServer())
    pool.job_serializer, pool.job_deserializer = as_json, json.loads  # as ArqRedis(job_serializer=...) sets them

    await write_jobs(pool, [NewJob("default", "default_1", "some text", "chan")], "q:wake")

    record = json.loads(await pool.get("arq:job:default_1"))
    assert (record["f"], record["a"], record["k"]) == ("default", ["default_1", "some text", "chan"], {})
    await pool.aclose()


async def test_a_batch_of_no_jobs_on_an_empty_queue_is_written_not_refused_as_late() -> None:
    pool = FakeArqRedis(server=FakeServer())
    wake = pool.pubsub()
    await wake.subscribe("q:wake")

    written = await write_jobs(pool, [], "q:wake", deadline_ms=0)

    assert written == Written(0, written.redis_ms)
    assert await queue_jobs(pool, [], "q:wake") == 0
    await wake.aclose()  # type: ignore[no-untyped-call]
    await pool.aclose()
