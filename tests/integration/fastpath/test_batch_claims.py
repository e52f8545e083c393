"""The batch-claiming worker's poll: one script claims the due jobs its free slots allow, locked as ARQ
locks one, skips jobs running elsewhere, and hands back the abort requests."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.constants import abort_jobs_ss, in_progress_key_prefix
from arq.jobs import Job
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.fastpath.batch_claim_worker import BatchClaimWorker
from src.fastpath.enqueue_batcher import NewJob, queue_jobs
from src.fastpath.wakeable_pool import WakeableArqRedis
from src.settings import Settings
from src.tasks import worker_settings
from src.worker_side.consumer_notifier import consumer_notifier

JOB_IDS = [f"default_{n}" for n in range(10)]


async def make_worker(settings: Settings, **overrides: Any) -> BatchClaimWorker:
    """A worker of five slots, not polling by itself: the tests call its ``poll_once`` or ``_poll_iteration``."""
    arq_settings = worker_settings(settings)  # on the fast path: the fast path tests' settings
    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], arq_settings))
    claimer = BatchClaimWorker(
        **{**kwargs, "max_jobs": 5, "on_startup": None, "on_shutdown": None, "burst": True, **overrides}
    )
    claimer.ctx["notifier"] = consumer_notifier()  # what its start-up would add
    return claimer


@pytest_asyncio.fixture
async def worker(settings: Settings, pool: ArqRedis) -> AsyncIterator[BatchClaimWorker]:
    """A worker of five slots with ten jobs queued, each running 0.1 s once claimed (so a test sees it running)."""
    await queue_jobs(pool, [NewJob("default", job_id, "x", "chan") for job_id in JOB_IDS], "arq:queue:wake")
    claimer = await make_worker(settings.model_copy(update={"job_time_scale": 0.1}))
    yield claimer
    await asyncio.wait_for(asyncio.gather(*claimer.tasks.values()), timeout=5)  # the claimed jobs run to the end
    await claimer.pool.aclose(close_connection_pool=True)


async def claimed(pool: ArqRedis) -> list[str]:
    """The ids of the jobs whose in-progress lock is set."""
    keys = await pool.keys(in_progress_key_prefix + "*")
    return sorted(key.decode().removeprefix(in_progress_key_prefix) for key in keys)


@pytest.mark.parametrize("busy", [0, 3, 4], ids=["5 slots free", "2 slots free", "1 slot free"])
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


class NotedWaits:
    """Counts the waits for a wake-up a pool begins (through its public ``wait_for_wakeup``); ``began`` is set at
    each."""

    def __init__(self, pool: WakeableArqRedis, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.began = asyncio.Event()
        self._wait_for_wakeup = pool.wait_for_wakeup
        monkeypatch.setattr(pool, "wait_for_wakeup", self._wait)

    async def _wait(self) -> None:
        self.count += 1
        self.began.set()  # the wait begins in this same step: no other task runs in between
        await self._wait_for_wakeup()


async def test_a_poll_that_drains_the_queue_waits_for_a_wake_up_and_one_that_fills_every_slot_does_not(
    worker: BatchClaimWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    wakeable = cast(WakeableArqRedis, worker.pool)
    wakeable.wake_wait = 30.0
    waits = NotedWaits(wakeable, monkeypatch)

    for _ in range(2):  # ten due, five slots: each poll fills every slot, so it polls again at once
        await asyncio.wait_for(worker._poll_iteration(), timeout=5)
        await asyncio.wait_for(asyncio.gather(*worker.tasks.values()), timeout=5)  # the five end: slots free
    assert waits.count == 0
    draining = asyncio.create_task(worker._poll_iteration())  # nothing left to claim: waits for a wake-up
    await asyncio.wait_for(waits.began.wait(), timeout=5)
    assert (waits.count, draining.done()) == (1, False)

    wakeable.wake()

    await asyncio.wait_for(draining, timeout=5)  # well before the 30 s wait's end


SLOW = {"job_time_scale": 1000.0}  # each job sleeps for as long as a test could wait: it ends only when cancelled


@pytest_asyncio.fixture
async def slow_worker(settings: Settings, pool: ArqRedis) -> AsyncIterator[BatchClaimWorker]:
    """A worker of five slots with ten queued jobs that run until they are cancelled; it waits 30 s for a wake-up."""
    await queue_jobs(pool, [NewJob("default", job_id, "x", "chan") for job_id in JOB_IDS], "arq:queue:wake")
    claimer = await make_worker(settings.model_copy(update=SLOW))
    cast(WakeableArqRedis, claimer.pool).wake_wait = 30.0
    yield claimer
    for task in claimer.tasks.values():
        task.cancel()
    await asyncio.wait_for(asyncio.gather(*claimer.tasks.values(), return_exceptions=True), timeout=5)
    await claimer.pool.aclose(close_connection_pool=True)


async def wait_until_running(worker: BatchClaimWorker, job_id: str) -> None:
    """Wait until ARQ has started ``job_id``'s function (it keeps the function's task in ``job_tasks``)."""
    async with asyncio.timeout(5):
        while job_id not in worker.job_tasks:  # noqa: ASYNC110 - ARQ sets no event when it starts a job
            await asyncio.sleep(0.01)


async def stored_outcome(pool: ArqRedis, job_id: str) -> tuple[bool, str]:
    """Whether the job's stored result is a success, and the type of what it holds."""
    info = await Job(job_id, pool).result_info()
    assert info is not None
    return info.success, type(info.result).__name__


@pytest.mark.parametrize("busy", [0, 4], ids=["5 slots free", "1 slot free"])
async def test_a_poll_that_claims_as_many_jobs_as_it_wanted_returns_at_once_while_they_run(
    slow_worker: BatchClaimWorker, busy: int
) -> None:
    slow_worker.job_counter = busy  # five slots, or one, free: that many due jobs are claimed, more are due

    await asyncio.wait_for(slow_worker._poll_iteration(), timeout=5)  # it does not wait 30 s for a wake-up

    assert sorted(slow_worker.tasks) == JOB_IDS[: 5 - busy]


async def test_a_poll_waiting_with_every_slot_busy_is_woken_when_a_job_ends(
    slow_worker: BatchClaimWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = NotedWaits(cast(WakeableArqRedis, slow_worker.pool), monkeypatch)
    await asyncio.wait_for(slow_worker._poll_iteration(), timeout=5)  # five jobs running: every slot busy
    await wait_until_running(slow_worker, JOB_IDS[0])
    waiting = asyncio.create_task(slow_worker._poll_iteration())  # no slot to claim with: waits for a wake-up
    await asyncio.wait_for(waits.began.wait(), timeout=5)

    await slow_worker._cancel_running([JOB_IDS[0].encode()])  # as its abort does: the job ends, a slot is free

    await asyncio.wait_for(waiting, timeout=5)  # well before the 30 s wait's end


async def test_a_queued_job_whose_abort_was_requested_is_dropped_when_it_is_claimed(
    worker: BatchClaimWorker, pool: ArqRedis
) -> None:
    await pool.zadd(abort_jobs_ss, {JOB_IDS[0]: time.time() * 1000})

    await worker.poll_once(1)
    await asyncio.wait_for(asyncio.gather(*worker.tasks.values()), timeout=5)

    assert await stored_outcome(pool, JOB_IDS[0]) == (False, "CancelledError")  # not run: cancelled
    assert await pool.zrange(abort_jobs_ss, 0, -1) == []


async def test_a_running_job_cancelled_by_its_abort_is_finished_as_cancelled(
    slow_worker: BatchClaimWorker, pool: ArqRedis
) -> None:
    await slow_worker.poll_once(1)
    await wait_until_running(slow_worker, JOB_IDS[0])

    await pool.zadd(abort_jobs_ss, {JOB_IDS[0]: time.time() * 1000})
    await slow_worker.poll_once(0)
    await asyncio.wait_for(slow_worker.tasks[JOB_IDS[0]], timeout=5)  # its run ends without an error

    assert await stored_outcome(pool, JOB_IDS[0]) == (False, "CancelledError")


async def test_a_burst_worker_claims_only_what_is_left_of_its_max_burst_jobs(
    settings: Settings, pool: ArqRedis
) -> None:
    await queue_jobs(pool, [NewJob("default", job_id, "x", "chan") for job_id in JOB_IDS], "arq:queue:wake")
    none_allowed, three_allowed = (
        await make_worker(settings, max_burst_jobs=0),
        await make_worker(settings, max_burst_jobs=3),
    )
    try:
        assert none_allowed.claim_limit() == 0
        await three_allowed.poll_once(2)
        assert three_allowed.claim_limit() == 1
    finally:
        await asyncio.wait_for(asyncio.gather(*three_allowed.tasks.values()), timeout=5)
        for claimer in (none_allowed, three_allowed):
            await claimer.pool.aclose(close_connection_pool=True)


async def test_arq_hears_a_claimed_jobs_queued_time_as_its_score(
    worker: BatchClaimWorker, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arq.worker")

    await worker.poll_once(1)
    await asyncio.wait_for(asyncio.gather(*worker.tasks.values()), timeout=5)

    [started] = [r.getMessage() for r in caplog.records if "→" in r.getMessage()]
    assert JOB_IDS[0] in started
    assert "delayed=" not in started  # ARQ logs a start more than 1.2 s after its score as delayed


class RecordingNotifier:
    """A notifier of the tasks' own (not the channel layer's): records what it is asked to deliver."""

    def __init__(self) -> None:
        self.sent: list[tuple[JobOutcome, str]] = []

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        self.sent.append((outcome, channel_name))

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Zero-work jobs report no progress."""


async def test_a_notifier_other_than_the_channel_layers_is_called_as_it_is(worker: BatchClaimWorker) -> None:
    notifier = RecordingNotifier()
    worker.ctx["notifier"] = notifier

    await worker.poll_once(1)
    await asyncio.wait_for(asyncio.gather(*worker.tasks.values()), timeout=5)

    assert [(outcome.job_id, outcome.status, channel) for outcome, channel in notifier.sent] == [
        (JOB_IDS[0], "result", "chan")
    ]
