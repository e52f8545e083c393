"""The worker's metrics, counted around real task runs and read back from their Prometheus registry; and a worker
started with ``WORKER_METRICS_PORT``: it serves its metrics there, counts its jobs and reads the queue's depth until
shutdown, which stops all of that."""

import asyncio
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from arq import ArqRedis
from fast_channels.layers import InMemoryChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError

import src.ops.worker_metrics
from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.ops.worker_metrics import WorkerMetrics, serve_metrics
from src.parts import StockParts
from src.settings import Settings
from src.tasks import shutdown, startup
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.progress_reporter import Progress
from tests.support.tasks import TASKS, run_reported


def sample(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    """One sample's value as Prometheus would scrape it (None when the series does not exist)."""
    return metrics.registry.get_sample_value(name, labels)


def worker_ctx(settings: Settings, metrics: WorkerMetrics) -> dict[str, Any]:
    """The ``ctx`` the worker's startup builds with ``WORKER_METRICS_PORT`` set, minus ARQ's own keys."""
    return {"settings": settings, "notifier": consumer_notifier(), "metrics": metrics}


@pytest.fixture
def metrics() -> WorkerMetrics:
    return WorkerMetrics()


async def test_a_finished_task_counts_as_started_and_finished_with_result_and_is_no_longer_running(
    settings: Settings, metrics: WorkerMetrics, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()

    await TASKS["translate"](worker_ctx(settings, metrics), "translate_1", "hello", channel)
    await TASKS["translate"](worker_ctx(settings, metrics), "translate_2", "hello", channel)
    await TASKS["default"](worker_ctx(settings, metrics), "default_1", "hello", channel)

    assert sample(metrics, "background_jobs_worker_jobs_started_total", job_type="translate") == 2
    assert sample(metrics, "background_jobs_worker_jobs_started_total", job_type="default") == 1
    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="translate", status="result") == 2
    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="default", status="result") == 1
    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="default", status="error") is None
    assert sample(metrics, "background_jobs_worker_job_run_seconds_count", job_type="translate") == 2
    assert sample(metrics, "background_jobs_worker_jobs_running") == 0


async def test_a_task_is_counted_running_while_it_runs(
    settings: Settings, metrics: WorkerMetrics, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def held(progress: Progress) -> str:
        inside.set()
        await release.wait()
        return "done"

    runs = [
        asyncio.create_task(run_reported(worker_ctx(settings, metrics), "analyze", f"analyze_{n}", channel, held))
        for n in range(2)
    ]
    await asyncio.wait_for(inside.wait(), timeout=1)
    await asyncio.sleep(0)  # the second run reaches its body too

    assert sample(metrics, "background_jobs_worker_jobs_running") == 2
    assert sample(metrics, "background_jobs_worker_jobs_started_total", job_type="analyze") == 2
    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="analyze", status="result") is None
    release.set()
    await asyncio.gather(*runs)
    assert sample(metrics, "background_jobs_worker_jobs_running") == 0


async def test_a_task_that_raises_counts_as_finished_with_error(
    settings: Settings, metrics: WorkerMetrics, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()

    async def broken(progress: Progress) -> str:
        raise ValueError("no dictionary loaded")

    with pytest.raises(ValueError, match="no dictionary loaded"):
        await run_reported(worker_ctx(settings, metrics), "translate", "translate_7", channel, broken)

    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="translate", status="error") == 1
    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="translate", status="result") is None
    assert sample(metrics, "background_jobs_worker_jobs_running") == 0


async def test_a_cancelled_task_counts_as_finished_cancelled(
    settings: Settings, metrics: WorkerMetrics, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()
    inside = asyncio.Event()

    async def stuck(progress: Progress) -> str:
        inside.set()
        await asyncio.Event().wait()
        return "unreachable"

    run = asyncio.create_task(run_reported(worker_ctx(settings, metrics), "generate", "generate_3", channel, stuck))
    await asyncio.wait_for(inside.wait(), timeout=1)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="generate", status="cancelled") == 1
    assert sample(metrics, "background_jobs_worker_jobs_finished_total", job_type="generate", status="error") is None
    assert sample(metrics, "background_jobs_worker_jobs_running") == 0


async def test_the_run_time_observed_is_how_long_the_task_ran(
    settings: Settings, metrics: WorkerMetrics, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()
    loop = asyncio.get_running_loop()

    async def a_fifth_of_a_second(progress: Progress) -> str:
        await asyncio.sleep(0.2)
        return "done"

    began = loop.time()
    await run_reported(worker_ctx(settings, metrics), "default", "default_5", channel, a_fifth_of_a_second)
    took = loop.time() - began

    observed = sample(metrics, "background_jobs_worker_job_run_seconds_sum", job_type="default")
    assert observed is not None
    assert 0.2 <= observed <= took
    assert sample(metrics, "background_jobs_worker_job_run_seconds_bucket", job_type="default", le="0.1") == 0
    assert sample(metrics, "background_jobs_worker_job_run_seconds_bucket", job_type="default", le="1.0") == 1


def test_the_run_time_buckets_span_a_millisecond_to_past_the_seeds_longest_job() -> None:
    buckets = src.ops.worker_metrics.RUN_BUCKETS
    assert list(buckets) == sorted(buckets)
    assert buckets[0] <= 0.001
    assert buckets[-1] >= 4.0  # generate's 4 s of work at scale 1


def test_the_metrics_are_named_by_prometheus_conventions_with_their_help(metrics: WorkerMetrics) -> None:
    described = {family.name: (family.type, family.documentation) for family in metrics.registry.collect()}

    assert described == {
        "background_jobs_worker_jobs_started": ("counter", "Jobs this worker started, by type"),
        "background_jobs_worker_jobs_finished": (
            "counter",
            "Jobs this worker finished, by type and status (result, error, cancelled)",
        ),
        "background_jobs_worker_job_run_seconds": ("histogram", "Seconds a job ran on this worker, by type"),
        "background_jobs_worker_jobs_running": ("gauge", "Jobs running on this worker now"),
        "background_jobs_worker_queue_depth": (
            "gauge",
            "Jobs on ARQ's queue (waiting or running), as this worker last read it",
        ),
    }


@pytest.fixture
def quick_depth_readings(monkeypatch: pytest.MonkeyPatch) -> float:
    """Read the queue's depth every 10 ms instead of every second."""
    monkeypatch.setattr(src.ops.worker_metrics, "DEPTH_EVERY", 0.01)
    return 0.01


class ReadingsSeen:
    """Wraps a pool's ``zcard`` so that a test can wait for the reader's next readings, not for time."""

    def __init__(self, zcard: Any) -> None:
        self._zcard = zcard
        self.readings = 0
        self.read = asyncio.Condition()

    async def zcard(self, name: str) -> int:
        try:
            depth: int = await self._zcard(name)
            return depth
        finally:
            self.readings += 1
            async with self.read:
                self.read.notify_all()

    async def until(self, done: Any) -> None:
        """Wait (2 s at most) until ``done()`` holds after one of the readings."""
        async with self.read:
            await asyncio.wait_for(self.read.wait_for(done), timeout=2)


def depth_is(metrics: WorkerMetrics, depth: float) -> Any:
    return lambda: sample(metrics, "background_jobs_worker_queue_depth") == depth


async def test_the_queue_depth_follows_the_queue_until_the_reader_is_cancelled(
    metrics: WorkerMetrics, pool: ArqRedis, quick_depth_readings: float
) -> None:
    seen = ReadingsSeen(pool.zcard)
    reader = asyncio.create_task(metrics.read_queue_depth(seen, "some:queue"))  # type: ignore[arg-type]
    try:
        await pool.zadd("some:queue", {"job_a": 1, "job_b": 2, "job_c": 3})
        await pool.zadd("another:queue", {"job_d": 1})
        await seen.until(depth_is(metrics, 3))
        await pool.zrem("some:queue", "job_a", "job_b")
        await seen.until(depth_is(metrics, 1))
    finally:
        reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader


class FailingThenAnswering:
    """A pool whose first readings fail as a Redis blip does, then answer ``depth``."""

    def __init__(self, failures: int, depth: int) -> None:
        self.failures = failures
        self.depth = depth
        self.tried = 0

    async def zcard(self, name: str) -> int:
        self.tried += 1
        if self.tried <= self.failures:
            raise RedisConnectionError("Connection refused") if self.tried % 2 else OSError("reset by peer")
        return self.depth


async def test_a_failed_depth_reading_keeps_the_last_value_and_the_reader_goes_on(
    metrics: WorkerMetrics, quick_depth_readings: float, caplog: pytest.LogCaptureFixture
) -> None:
    metrics.queue_depth.set(7)
    seen = ReadingsSeen(FailingThenAnswering(failures=2, depth=5).zcard)
    caplog.set_level(logging.DEBUG, logger="src.ops.worker_metrics")

    reader = asyncio.create_task(metrics.read_queue_depth(seen, "arq:queue"))  # type: ignore[arg-type]
    try:
        await seen.until(lambda: seen.readings == 2)
        assert sample(metrics, "background_jobs_worker_queue_depth") == 7
        await seen.until(depth_is(metrics, 5))
    finally:
        reader.cancel()

    assert [r.getMessage() for r in caplog.records if r.name == "src.ops.worker_metrics"][:2] == [
        "queue depth not read: Connection refused",
        "queue depth not read: reset by peer",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(metrics: WorkerMetrics) -> Iterator[int]:
    """``metrics`` served on a free port, shut down after the test."""
    port = free_port()
    server = serve_metrics(metrics, port)
    assert server is not None
    yield port
    server.shutdown()
    server.server_close()


def test_the_served_metrics_are_the_registrys_in_prometheus_text(metrics: WorkerMetrics, served: int) -> None:
    metrics.jobs_started.labels("generate").inc()
    metrics.queue_depth.set(4)

    with urllib.request.urlopen(f"http://127.0.0.1:{served}/metrics", timeout=5) as response:
        text = response.read().decode()

    assert 'background_jobs_worker_jobs_started_total{job_type="generate"} 1.0' in text.splitlines()
    assert "background_jobs_worker_queue_depth 4.0" in text.splitlines()
    assert "# TYPE background_jobs_worker_jobs_running gauge" in text.splitlines()


def test_a_port_already_taken_serves_nothing_and_says_why(
    metrics: WorkerMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert serve_metrics(metrics, port) is None

    errors = [r for r in caplog.records if r.name == "src.ops.worker_metrics" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage().startswith(f"worker metrics not served: port {port}: ")


def test_serving_says_on_which_port(metrics: WorkerMetrics, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="src.ops.worker_metrics")
    port = free_port()
    server = serve_metrics(metrics, port)
    assert server is not None
    server.shutdown()
    server.server_close()

    assert [r.getMessage() for r in caplog.records if r.name == "src.ops.worker_metrics"] == [
        f"worker metrics on port {port}"
    ]


def test_the_run_time_histogram_has_the_buckets_from_a_millisecond_to_a_minute(metrics: WorkerMetrics) -> None:
    metrics.job_run.labels("default").observe(0.3)

    (family,) = [
        family for family in metrics.registry.collect() if family.name == "background_jobs_worker_job_run_seconds"
    ]
    bounds = [s.labels["le"] for s in family.samples if s.name.endswith("_bucket")]
    assert bounds == [
        "0.001", "0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "3.0", "4.0", "5.0", "10.0", "20.0",
        "60.0", "+Inf",
    ]  # fmt: skip


def test_a_port_already_taken_is_logged_with_the_reason_the_system_gave(
    metrics: WorkerMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert serve_metrics(metrics, port) is None

    (error,) = [r for r in caplog.records if r.name == "src.ops.worker_metrics" and r.levelno == logging.ERROR]
    assert error.getMessage() == f"worker metrics not served: port {port}: [Errno 98] Address already in use"


# --- a worker started with WORKER_METRICS_PORT -----------------------------------------------------------------


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

    assert {task.get_name() for task in begun} == {"read the queue's depth"}
    _, still_running = await asyncio.wait(begun, timeout=2)
    assert still_running == set()
    with pytest.raises(urllib.error.URLError):
        scrape(port)
