"""The fast path's enqueue writes what ARQ's ``enqueue_job`` writes: the job's record, its TTL and its queue entry."""

from arq import ArqRedis

from src.fastpath.enqueue_batcher import NewJob, queue_jobs
from src.settings import Settings
from tests.contract.conftest import NOW_MS, snapshot

JOBS = [("translate", "translate_1", "hello", "chan-1"), ("default", "default_2", "héllo ✅", "chan-2")]


async def test_the_fast_paths_enqueue_writes_the_records_ttls_and_queue_entries_arqs_enqueue_job_writes(
    pool: ArqRedis, settings: Settings, frozen_clock: int
) -> None:
    for job_type, job_id, content, channel in JOBS:
        assert await pool.enqueue_job(job_type, job_id, content, channel, _job_id=job_id) is not None
    arqs = await snapshot(pool)
    await pool.flushdb()

    assert await queue_jobs(pool, [NewJob(*job) for job in JOBS], settings.queue_name + ":wake") == 2
    ours = await snapshot(pool)

    assert sorted(arqs) == ["arq:job:default_2", "arq:job:translate_1", settings.queue_name]
    assert {key: entry.value for key, entry in ours.items()} == {key: entry.value for key, entry in arqs.items()}
    assert arqs[settings.queue_name].value == [(b"default_2", NOW_MS), (b"translate_1", NOW_MS)]
    for key in ("arq:job:default_2", "arq:job:translate_1"):  # ARQ's record lives a day past its score
        assert pool.expires_extra_ms - 2_000 <= arqs[key].pttl <= pool.expires_extra_ms
        assert abs(ours[key].pttl - arqs[key].pttl) <= 2_000
    assert ours[settings.queue_name].pttl == arqs[settings.queue_name].pttl == -1
