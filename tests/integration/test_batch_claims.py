"""The batch-claiming worker's poll: one script claims the due jobs its free slots allow, locked as ARQ
locks one, skips jobs running elsewhere, and hands back the abort requests."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.constants import abort_jobs_ss, in_progress_key_prefix
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

from src.batch_worker import BatchClaimWorker
from src.enqueue_batcher import NewJob, queue_jobs
from src.notifier import consumer_notifier
from src.settings import Settings
from src.tasks import build_worker_settings
from src.worker_pool import WakeableArqRedis

JOB_IDS = [f"default_{n}" for n in range(10)]


async def make_worker(settings: Settings, **overrides: Any) -> BatchClaimWorker:
    """A worker of five slots, not polling by itself: the tests call its ``poll_once`` or ``_poll_iteration``."""
    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], build_worker_settings(settings)))
    claimer = BatchClaimWorker(
        **{**kwargs, "max_jobs": 5, "on_startup": None, "on_shutdown": None, "burst": True, **overrides}
    )
    claimer.ctx["notifier"] = consumer_notifier()  # what its start-up would add
    return claimer


@pytest_asyncio.fixture
async def worker(settings: Settings, pool: ArqRedis) -> AsyncIterator[BatchClaimWorker]:
    """A worker of five slots with ten instant jobs queued."""
    await queue_jobs(pool, [NewJob("default", job_id, "x", "chan") for job_id in JOB_IDS], None)
    claimer = await make_worker(settings)
    yield claimer
    await asyncio.wait_for(asyncio.gather(*claimer.tasks.values()), timeout=5)  # the claimed jobs run to the end
    await claimer.pool.aclose(close_connection_pool=True)


async def claimed(pool: ArqRedis) -> list[str]:
    """The ids of the jobs whose in-progress lock is set."""
    keys = await pool.keys(in_progress_key_prefix + "*")
    return sorted(key.decode().removeprefix(in_progress_key_prefix) for key in keys)


@pytest.mark.parametrize("busy", [0, 3, 4])
async def test_a_poll_claims_as_many_due_jobs_as_the_worker_has_free_slots(
    worker: BatchClaimWorker, pool: ArqRedis, busy: int
) -> None:
    worker.job_counter = busy

    started = await worker.poll_once(worker.claim_limit())

    assert started == 5 - busy
    assert await claimed(pool) == JOB_IDS[: 5 - busy]
    assert sorted(worker.tasks) == JOB_IDS[: 5 - busy]
    assert worker.job_counter == 5


async def test_a_worker_with_no_free_slot_claims_nothing(worker: BatchClaimWorker, pool: ArqRedis) -> None:
    worker.job_counter = 5

    assert worker.claim_limit() == 0
    assert await worker.poll_once(worker.claim_limit()) == 0
    assert (await claimed(pool), worker.tasks, worker.job_counter) == ([], {}, 5)


async def test_a_burst_worker_claims_no_more_than_its_max_burst_jobs(settings: Settings, pool: ArqRedis) -> None:
    claimer = await make_worker(settings, max_burst_jobs=2)
    try:
        assert claimer.claim_limit() == 2
        claimer.allow_pick_jobs = False
        assert claimer.claim_limit() == 0
    finally:
        await claimer.pool.aclose(close_connection_pool=True)


async def test_a_poll_skips_jobs_running_on_another_worker(worker: BatchClaimWorker, pool: ArqRedis) -> None:
    await pool.psetex(in_progress_key_prefix + JOB_IDS[0], 60_000, b"1")  # another worker's lock

    await worker.poll_once(2)

    assert sorted(worker.tasks) == JOB_IDS[1:3]


async def test_a_job_not_due_yet_is_not_claimed(worker: BatchClaimWorker, pool: ArqRedis) -> None:
    await pool.delete(worker.queue_name)
    await pool.zadd(worker.queue_name, {JOB_IDS[0]: time.time() * 1000 + 60_000})

    assert await worker.poll_once(5) == 0
    assert await claimed(pool) == []


async def test_a_claimed_jobs_lock_lasts_the_workers_in_progress_timeout(
    worker: BatchClaimWorker, pool: ArqRedis
) -> None:
    await worker.poll_once(1)

    ttl_ms = await pool.pttl(in_progress_key_prefix + JOB_IDS[0])

    assert worker.in_progress_timeout_s * 1000 - 1000 < ttl_ms <= worker.in_progress_timeout_s * 1000


async def test_a_poll_cancels_a_running_job_whose_abort_was_requested(worker: BatchClaimWorker, pool: ArqRedis) -> None:
    running = asyncio.create_task(asyncio.Event().wait())
    worker.job_tasks["default_running"] = running
    await pool.zadd(abort_jobs_ss, {"default_running": 1, "default_queued": 2})

    await worker.poll_once(0)

    with pytest.raises(asyncio.CancelledError):
        await running
    assert worker.aborting_tasks == {"default_running"}
    # The queued job's request stays, for the worker that starts it to drop it.
    assert await pool.zrange(abort_jobs_ss, 0, -1) == [b"default_queued"]


async def test_a_poll_that_drains_the_queue_waits_for_a_wake_up_and_one_that_fills_every_slot_does_not(
    worker: BatchClaimWorker,
) -> None:
    wakeable = cast(WakeableArqRedis, worker.pool)
    wakeable.wake_wait = 30.0

    for _ in range(2):  # ten due, five slots: each poll fills every slot, so it polls again at once
        await asyncio.wait_for(worker._poll_iteration(), timeout=5)
        await asyncio.wait_for(asyncio.gather(*worker.tasks.values()), timeout=5)  # the five end: slots free
    draining = asyncio.create_task(worker._poll_iteration())  # nothing left to claim: waits for a wake-up
    await asyncio.sleep(0.2)  # time for the poll to reach its wait: a pause, not an assertion's timing
    assert not draining.done()

    wakeable.wake()

    await asyncio.wait_for(draining, timeout=5)
