"""The batch-claiming worker's claims: as many jobs as it has free slots, no more, each locked as ARQ locks one."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.constants import in_progress_key_prefix
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

from src.batch_worker import BatchClaimWorker
from src.enqueue_batcher import NewJob, queue_jobs
from src.notifier import consumer_notifier
from src.settings import Settings
from src.tasks import build_worker_settings

JOB_IDS = [f"default_{n}" for n in range(10)]


@pytest_asyncio.fixture
async def worker(settings: Settings, pool: ArqRedis) -> AsyncIterator[BatchClaimWorker]:
    """A worker of five slots (not polling: the tests call its ``start_jobs``) with ten instant jobs queued."""
    await queue_jobs(pool, [NewJob("default", job_id, "x", "chan") for job_id in JOB_IDS], None)
    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], build_worker_settings(settings)))
    claimer = BatchClaimWorker(**{**kwargs, "max_jobs": 5, "on_startup": None, "on_shutdown": None, "burst": True})
    claimer.ctx["notifier"] = consumer_notifier()  # what its start-up would add
    yield claimer
    await asyncio.wait_for(asyncio.gather(*claimer.tasks.values()), timeout=5)  # the claimed jobs run to the end
    await claimer.pool.aclose(close_connection_pool=True)


async def claimed(pool: ArqRedis) -> list[str]:
    """The ids of the jobs whose in-progress lock is set."""
    keys = await pool.keys(in_progress_key_prefix + "*")
    return sorted(key.decode().removeprefix(in_progress_key_prefix) for key in keys)


@pytest.mark.parametrize("busy", [0, 3, 4])
async def test_a_poll_claims_as_many_jobs_as_the_worker_has_free_slots(
    worker: BatchClaimWorker, pool: ArqRedis, busy: int
) -> None:
    worker.job_counter = busy

    await worker.start_jobs([job_id.encode() for job_id in JOB_IDS])

    assert await claimed(pool) == JOB_IDS[: 5 - busy]
    assert sorted(worker.tasks) == JOB_IDS[: 5 - busy]
    assert worker.job_counter == 5


async def test_a_worker_with_no_free_slot_claims_nothing(worker: BatchClaimWorker, pool: ArqRedis) -> None:
    worker.job_counter = 5

    await worker.start_jobs([job_id.encode() for job_id in JOB_IDS])

    assert (await claimed(pool), worker.tasks, worker.job_counter) == ([], {}, 5)


async def test_a_claimed_jobs_lock_lasts_the_workers_in_progress_timeout(
    worker: BatchClaimWorker, pool: ArqRedis
) -> None:
    await worker.start_jobs([JOB_IDS[0].encode()])

    ttl_ms = await pool.pttl(in_progress_key_prefix + JOB_IDS[0])

    assert worker.in_progress_timeout_s * 1000 - 1000 < ttl_ms <= worker.in_progress_timeout_s * 1000
