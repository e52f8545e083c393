"""What the fast path puts in place of the stock parts: the web pool's connections, the worker's pool and pace."""

import gc
from typing import Any, cast

import pytest
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs
from redis.asyncio import ConnectionPool

import src.tasks
from src.fastpath import FastPath
from src.fastpath.batch_claim_worker import BatchClaimWorker
from src.fastpath.connection_pool import ReadyConnectionPool
from src.fastpath.runtime import GC_THRESHOLDS
from src.fastpath.wakeable_pool import WAKEABLE_PACE, WakeableArqRedis, worker_pool
from src.settings import RECONNECT_ERRORS, Settings
from src.tasks import worker_settings
from src.web.job_queue import JobQueue


async def test_the_job_queues_pool_is_on_the_fast_paths_connection_pool() -> None:
    settings = Settings(queue_name="q:opened")
    jobs = JobQueue(settings, FastPath(settings))

    await jobs.open()

    assert type(jobs.pool.connection_pool) is ReadyConnectionPool
    assert isinstance(jobs.pool.connection_pool, ConnectionPool)
    assert jobs.pool.default_queue_name == "q:opened"
    await jobs.close()


async def test_the_worker_settings_bring_a_wakeable_pool_waiting_poll_delay_and_a_millisecond_pace() -> None:
    settings = Settings(queue_name="q:test", worker_poll_delay=0.01)

    worker = worker_settings(settings.model_copy(update={"fast_path": True}))

    assert isinstance(worker.redis_pool, WakeableArqRedis)
    assert (worker.redis_pool.wake_channel, worker.redis_pool.wake_wait) == ("q:test:wake", 0.01)
    assert worker.poll_delay == WAKEABLE_PACE == 0.001
    await worker.redis_pool.aclose()


async def test_the_worker_pool_retries_a_lost_redis_redis_reconnect_attempts_times() -> None:
    settings = Settings(redis_url="redis://cache.internal:6380/3", redis_reconnect_attempts=9, queue_name="q:w")

    pool = worker_pool(settings)

    connection = pool.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"]) == ("cache.internal", 6380, 3)
    assert connection["socket_connect_timeout"] == 1.0
    assert connection["retry"]._retries == 9
    assert connection["retry_on_error"] == list(RECONNECT_ERRORS)
    assert (pool.default_queue_name, pool.wake_channel) == ("q:w", "q:w:wake")
    await pool.aclose()


def test_the_batch_claiming_worker_runs_only_on_the_fast_paths_wakeable_pool() -> None:
    stock: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], worker_settings(Settings(fast_path=False))))

    with pytest.raises(
        TypeError, match=r"^BatchClaimWorker runs on the fast path's WakeableArqRedis \(its redis_pool\)$"
    ):
        BatchClaimWorker(**stock)  # ARQ's own pool (made from redis_settings) carries none of its shortcuts


def test_the_runtime_is_tuned_for_many_sockets_and_untuned_at_shutdown() -> None:
    before = gc.get_threshold()

    restore = FastPath(Settings()).tune_process()
    try:
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what start-up made is never scanned again
    finally:
        restore()

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def no_layer_to_close() -> None:
    """Stands in for ``teardown_layers``: the test registers no layer."""


async def test_the_workers_start_up_tunes_its_runtime_on_the_fast_path_and_its_shutdown_untunes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    worker = worker_settings(settings.model_copy(update={"fast_path": True}))
    ctx = dict(worker.ctx)
    monkeypatch.setattr(src.tasks, "setup_layers", lambda *args, **kwargs: None)
    monkeypatch.setattr(src.tasks, "teardown_layers", no_layer_to_close)
    before = gc.get_threshold()
    assert worker.redis_pool is not None
    await worker.redis_pool.aclose()

    await src.tasks.startup(ctx)
    tuned = gc.get_threshold()
    await src.tasks.shutdown(ctx)

    assert (tuned, gc.get_threshold()) == (GC_THRESHOLDS, before)


async def test_the_batch_claiming_worker_never_pauses_between_polls_whatever_poll_delay_it_is_given() -> None:
    """A poll that claimed fewer jobs than it wanted waits for a wake-up itself: ARQ's pause would only delay jobs."""
    settings = Settings(queue_name="q:pace")
    kwargs: dict[str, Any] = get_kwargs(
        cast(type[WorkerSettingsBase], worker_settings(settings.model_copy(update={"fast_path": True})))
    )

    worker = BatchClaimWorker(**{**kwargs, "poll_delay": 0.5})

    assert worker.poll_delay_s == 0.0
    await worker.pool.aclose()
