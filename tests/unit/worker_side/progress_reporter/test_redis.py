"""The progress reporter's use of Redis: the earlier run's progress read once, at the first report; and, with Redis
away, each report logged as not read nor kept, with its job and the error, while still sent."""

import logging
from typing import Any

import pytest
from arq import ArqRedis
from fakeredis import FakeServer

from src.apps.background_jobs.progress import progress_key
from src.worker_side.progress_reporter import ProgressReporter
from tests.unit.worker_side.progress_reporter.fakes import Heard


def reporter(heard: Heard, redis: Any) -> ProgressReporter:
    return ProgressReporter(
        job_id="generate_0123",
        job_type="generate",
        channel_name="chan",
        notifier=heard,
        redis=redis,
        interval=60.0,
        keep_seconds=3600,
    )


class CountedReads:
    """The worker's pool, counting the reads made of it."""

    def __init__(self, pool: ArqRedis) -> None:
        self._pool = pool
        self.reads = 0

    async def get(self, name: str) -> Any:
        self.reads += 1
        return await self._pool.get(name)

    async def set(self, name: str, value: Any, **options: Any) -> Any:
        return await self._pool.set(name, value, **options)


async def test_the_earlier_runs_progress_is_read_from_redis_once_at_the_first_report(pool: ArqRedis) -> None:
    redis = CountedReads(pool)
    progress = reporter(Heard(), redis)

    await progress(10)
    await progress(20)
    await progress(30)
    progress.close()

    assert redis.reads == 1


async def test_with_redis_away_a_report_is_logged_as_neither_read_nor_kept_with_its_job_and_the_error(
    pool: ArqRedis, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.worker_side.progress_reporter")
    redis_server.connected = False
    heard = Heard()

    await reporter(heard, pool)(10)

    assert heard.sent == [(10, None)]
    assert [
        " ".join(r.getMessage().split()) for r in caplog.records if r.name == "src.worker_side.progress_reporter"
    ] == [
        "[info ] cannot read a job's earlier progress error='FakeRedis is emulating a connection error.' "
        "job_id=generate_0123",
        "[info ] progress not kept error='FakeRedis is emulating a connection error.' job_id=generate_0123",
    ]


async def test_a_report_is_kept_for_at_least_a_second_even_when_told_to_keep_it_for_none(pool: ArqRedis) -> None:
    """Redis refuses to keep a key for 0 seconds: the reporter keeps it for 1."""
    progress = ProgressReporter(
        job_id="default_1",
        job_type="default",
        channel_name="chan",
        notifier=Heard(),
        redis=pool,
        interval=60.0,
        keep_seconds=0,
    )

    await progress(10)

    assert 0 < await pool.pttl(progress_key("default_1")) <= 1000
