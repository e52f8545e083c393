"""A task's progress reports: sent at once, then at most one per interval (the latest wins), never going down,
kept in Redis beside the job, and never failing the job."""

import asyncio
import itertools
import json

import pytest
from arq import ArqRedis
from fakeredis import FakeServer

from src.apps.background_jobs.messages import ProgressUpdate
from src.apps.background_jobs.progress import progress_key, stored_progress
from src.worker_side.progress_reporter import ProgressReporter
from tests.unit.worker_side.progress_reporter.fakes import Heard

JOB = "generate_0123"


def reporter(heard: Heard, redis: ArqRedis | None = None, interval: float = 0.2) -> ProgressReporter:
    return ProgressReporter(
        job_id=JOB,
        job_type="generate",
        channel_name="chan",
        notifier=heard,
        redis=redis,
        interval=interval,
        keep_seconds=3600,
    )


async def test_the_first_report_goes_at_once_and_a_burst_after_it_is_coalesced_to_its_latest() -> None:
    heard = Heard()
    progress = reporter(heard, interval=1.0)  # far longer than the burst below takes, however busy the machine

    await progress(0, partial="")
    assert heard.sent == [(0, "")]
    for percent in range(1, 50):
        await progress(percent, partial="x" * percent)
    assert heard.sent == [(0, "")]  # inside the interval: held

    assert await heard.until(2, timeout=3.0) == [(0, ""), (49, "x" * 49)]


async def test_reports_are_at_least_one_interval_apart() -> None:
    heard = Heard()
    progress = reporter(heard, interval=0.05)
    loop = asyncio.get_running_loop()
    stamps: list[float] = []

    async def stamp(update: ProgressUpdate, channel_name: str) -> None:
        stamps.append(loop.time())
        await Heard.progress(heard, update, channel_name)

    heard.progress = stamp  # type: ignore[method-assign]
    for percent in range(40):
        await progress(percent)
        await asyncio.sleep(0.005)
    await heard.until(5)

    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    # Stamped as the notifier is called, a few microseconds after each send is decided: that much slack.
    assert all(gap >= 0.05 - 1e-4 for gap in gaps), gaps


async def test_progress_never_goes_down_a_report_below_what_was_reached_goes_out_as_what_was_reached() -> None:
    """Reports of 10, 5, 10, 30, 20, 30, 40, each past the interval: seven frames, the 5 sent as 10 and the 20 as 30."""
    heard = Heard()
    progress = reporter(heard, interval=0.001)

    for percent in (10, 5, 10, 30, 20, 30, 40):
        await asyncio.sleep(0.002)  # past the interval each time
        await progress(percent)

    assert [percent for percent, _ in await heard.until(7)] == [10, 10, 10, 30, 30, 30, 40]


async def test_percentages_are_clamped_to_0_and_100() -> None:
    heard = Heard()
    progress = reporter(heard, interval=0.001)

    await progress(-5)
    await asyncio.sleep(0.002)
    await progress(250)

    assert [percent for percent, _ in await heard.until(2)] == [0, 100]


async def test_after_close_nothing_more_is_sent_not_even_what_was_held() -> None:
    heard = Heard()
    progress = reporter(heard, interval=0.5)
    await progress(10)
    await progress(20)  # held for the interval's end

    progress.close()
    await progress(30)
    await asyncio.sleep(0.6)  # past the held report's time: nothing may come (absence has no event to wait on)

    assert heard.sent == [(10, None)]


async def test_each_sent_report_is_kept_in_redis_for_keep_result(pool: ArqRedis) -> None:
    """A sent report is kept at ``arq:progress:<id>`` for ``KEEP_RESULT`` seconds, as a lookup reads it back."""
    heard = Heard()
    progress = reporter(heard, redis=pool, interval=0.001)

    await progress(40, partial="half")

    assert json.loads(await pool.get(progress_key(JOB))) == {
        "job_id": JOB,
        "job_type": "generate",
        "progress": 40,
        "partial": "half",
    }
    assert 3590 < await pool.ttl(progress_key(JOB)) <= 3600
    assert await stored_progress(pool, JOB) == heard.updates[-1]


async def test_a_rerun_says_where_its_first_run_was_until_it_gets_further(pool: ArqRedis) -> None:
    """A re-run finds its first run's 60% in Redis: its 0 and 30 go out as that 60% (with its text), at the usual
    pace, so the socket hears the job is alive without its bar going back; then its own 60 and 70."""
    first_run = reporter(Heard(), redis=pool)
    await first_run(60, partial="sixty")
    first_run.close()  # the worker crashed; ARQ runs the job again

    heard = Heard()
    rerun = reporter(heard, redis=pool, interval=0.001)
    for percent in (0, 30, 60, 70):
        await rerun(percent, partial=str(percent))
        await asyncio.sleep(0.002)

    assert await heard.until(4) == [(60, "sixty"), (60, "sixty"), (60, "60"), (70, "70")]


async def test_a_report_redis_does_not_take_is_still_sent_and_the_job_goes_on(
    pool: ArqRedis, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis down, a report is still sent to the socket, and ``progress not kept`` is logged instead of raising."""
    redis_server.connected = False
    heard = Heard()
    progress = reporter(heard, redis=pool)

    await progress(10)

    assert heard.sent == [(10, None)]
    assert any("progress not kept" in record.getMessage() for record in caplog.records)
