"""A task's run, reported: a task that raises reports an error with its job id and raises on, one over its timeout
reports a timeout error; and its progress is kept in the worker's Redis beside the job, for ``KEEP_RESULT`` seconds
or, when results are not kept, for as long as the job may run (its timeout, rounded up to whole seconds)."""

import asyncio

import pytest
from arq import ArqRedis
from fast_channels.layers import InMemoryChannelLayer

from src.apps.background_jobs.messages import ProgressUpdate
from src.apps.background_jobs.outcomes import TaskTimeout
from src.apps.background_jobs.progress import progress_key, stored_progress
from src.settings import Settings
from src.worker_side.progress_reporter import Progress
from tests.support.tasks import result_event, run_reported, worker_ctx


async def test_a_task_that_raises_reports_an_error_with_its_job_id_and_reraises(
    settings: Settings, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()

    async def broken(progress: Progress) -> str:
        raise ValueError("no dictionary loaded")

    with pytest.raises(ValueError, match="no dictionary loaded"):
        await run_reported(worker_ctx(settings), "translate", "translate_7", channel, broken)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event(
        "error",
        "translate_7",
        "translate",
        "❌ Job translate_7 failed: ValueError: no dictionary loaded",
    )


async def test_a_task_over_its_timeout_reports_a_timeout_error_with_its_job_id(
    channel_layer: InMemoryChannelLayer,
) -> None:
    settings = Settings(task_timeouts={"generate": 0.05})
    channel = await channel_layer.new_channel()
    never = asyncio.Event()

    async def stuck(progress: Progress) -> str:
        await never.wait()
        return "unreachable"

    with pytest.raises(TaskTimeout):
        await run_reported(worker_ctx(settings), "generate", "generate_9", channel, stuck)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event("error", "generate_9", "generate", "❌ Job generate_9 timed out after 0.05s")


# --- its progress, kept ----------------------------------------------------------------------------------------


async def forty_percent(progress: Progress) -> str:
    await progress(40, partial="half")
    return "done"


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
