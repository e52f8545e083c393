"""A running task's progress, kept in the worker's Redis beside the job: for ``KEEP_RESULT`` seconds, or when results
are not kept, for as long as the job may run (its timeout, rounded up to whole seconds)."""

from typing import Any

from arq import ArqRedis

from src.apps.background_jobs.messages import ProgressUpdate
from src.apps.background_jobs.progress import progress_key, stored_progress
from src.settings import Settings
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.progress_reporter import Progress
from tests.support.tasks import run_reported


async def forty_percent(progress: Progress) -> str:
    await progress(40, partial="half")
    return "done"


def worker_ctx(settings: Settings, redis: ArqRedis) -> dict[str, Any]:
    """The ``ctx`` the worker builds: ARQ puts its pool under ``redis``."""
    return {"settings": settings, "notifier": consumer_notifier(), "redis": redis}


async def test_a_tasks_progress_is_kept_in_the_workers_redis_for_keep_result(pool: ArqRedis) -> None:
    settings = Settings(keep_result=3600, task_timeouts={"analyze": 30.0})

    await run_reported(worker_ctx(settings, pool), "analyze", "analyze_1", "chan", forty_percent)

    assert await stored_progress(pool, "analyze_1") == ProgressUpdate(
        job_id="analyze_1", job_type="analyze", progress=40, partial="half"
    )
    assert 3_590_000 < await pool.pttl(progress_key("analyze_1")) <= 3_600_000


async def test_without_keep_result_a_tasks_progress_is_kept_for_its_timeout_rounded_up(pool: ArqRedis) -> None:
    settings = Settings(keep_result=0, task_timeouts={"analyze": 29.5})

    await run_reported(worker_ctx(settings, pool), "analyze", "analyze_2", "chan", forty_percent)

    assert 29_500 < await pool.pttl(progress_key("analyze_2")) <= 30_000
