"""A worker started with ``WORKER_METRICS_PORT``: it serves its metrics there, counts its jobs and reads the queue's
depth until shutdown, which stops all of that."""

import asyncio
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from arq import ArqRedis

import src.ops.worker_metrics
from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.parts import StockParts
from src.settings import Settings
from src.tasks import shutdown, startup
from src.worker_side.progress_reporter import Progress
from tests.support.tasks import run_reported


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(port: int) -> list[str]:
    """The lines of the worker's ``/metrics`` page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text.splitlines()


class Readings:
    """The worker's pool, but for its ``zcard``, which lets a test wait for the depth reader's next readings."""

    def __init__(self, pool: ArqRedis) -> None:
        self._pool = pool
        self.count = 0
        self.read = asyncio.Condition()

    async def zcard(self, name: str) -> int:
        depth: int = await self._pool.zcard(name)
        async with self.read:
            self.count += 1
            self.read.notify_all()
        return depth

    async def until(self, count: int) -> None:
        """Wait (5 s at most) until ``count`` readings have been made."""
        async with self.read:
            await asyncio.wait_for(self.read.wait_for(lambda: self.count >= count), timeout=5)


class Outcomes:
    """A notifier that only records the outcomes it is given, and for which channel."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str, str]] = []

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        self.outcomes.append((outcome.job_id, outcome.status, channel_name))

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """No progress is made by the job below."""


async def done(progress: Progress) -> str:
    return "done"


async def test_a_worker_with_a_metrics_port_serves_the_jobs_it_runs_and_the_queue_depth_until_shutdown(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(src.ops.worker_metrics, "DEPTH_EVERY", 0.01)
    port = free_port()
    settings = Settings(redis_url="redis://127.0.0.1:1", worker_metrics_port=port, queue_name="q:metered")
    await pool.zadd("q:metered", {"job_a": 1, "job_b": 2, "job_c": 3})
    await pool.zadd("arq:queue", {"job_d": 1})
    readings = Readings(pool)
    ctx: dict[str, Any] = {"settings": settings, "parts": StockParts(settings), "redis": readings}
    before = asyncio.all_tasks()

    await startup(ctx)
    begun = asyncio.all_tasks() - before
    try:
        outcomes = Outcomes()
        ctx["notifier"] = outcomes
        await run_reported(ctx, "translate", "translate_1", "chan", done)
        assert outcomes.outcomes == [("translate_1", "result", "chan")]  # counted, and reported as without metrics

        await readings.until(1)
        lines = await asyncio.to_thread(scrape, port)
        assert "background_jobs_worker_queue_depth 3.0" in lines
        assert 'background_jobs_worker_jobs_started_total{job_type="translate"} 1.0' in lines
        assert 'background_jobs_worker_jobs_finished_total{job_type="translate",status="result"} 1.0' in lines
        await pool.zrem("q:metered", "job_a")
        await readings.until(readings.count + 2)  # one made wholly after the change
        assert "background_jobs_worker_queue_depth 2.0" in await asyncio.to_thread(scrape, port)
    finally:
        await shutdown(ctx)

    assert begun  # the depth reader
    _, still_running = await asyncio.wait(begun, timeout=2)
    assert still_running == set()
    with pytest.raises(urllib.error.URLError):
        scrape(port)
