"""The worker's Prometheus metrics, served on ``WORKER_METRICS_PORT`` (off when unset).

``reporting`` (``src/worker_side/reporting.py``) counts each job it runs (so both worker commands, on either path,
count alike); a background task reads the queue's depth every ``DEPTH_EVERY`` seconds while the worker runs.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from arq import ArqRedis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from redis.exceptions import RedisError

from src.settings import Settings

logger = logging.getLogger(__name__)

#: Seconds between two readings of the queue's depth.
DEPTH_EVERY = 1.0
#: Seconds a task runs: the seed's 1 to 4 s of work (times ``JOB_TIME_SCALE``), up to ``JOB_TIMEOUT``.
RUN_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 60.0)


class WorkerMetrics:
    """What one worker counts: the jobs it starts and finishes, how long they run, how many run, the queue's depth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs_started = Counter(
            "background_jobs_worker_jobs_started",
            "Jobs this worker started, by type",
            ["job_type"],
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "background_jobs_worker_jobs_finished",
            "Jobs this worker finished, by type and status (result, error, cancelled)",
            ["job_type", "status"],
            registry=self.registry,
        )
        self.job_run = Histogram(
            "background_jobs_worker_job_run_seconds",
            "Seconds a job ran on this worker, by type",
            ["job_type"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.jobs_running = Gauge(
            "background_jobs_worker_jobs_running", "Jobs running on this worker now", registry=self.registry
        )
        self.queue_depth = Gauge(
            "background_jobs_worker_queue_depth",
            "Jobs on ARQ's queue (waiting or running), as this worker last read it",
            registry=self.registry,
        )

    @contextlib.contextmanager
    def running(self, job_type: str) -> Iterator[dict[str, str]]:
        """Count one job's run; the caller puts its ``status`` in the yielded dict (``error`` if it raises)."""
        began = self.started(job_type)
        outcome = {"status": "error"}
        try:
            yield outcome
        except asyncio.CancelledError:
            outcome["status"] = "cancelled"
            raise
        finally:
            self.finished(job_type, outcome["status"], began)

    def started(self, job_type: str) -> float:
        """Count a job started and running; when it began, on the loop's clock."""
        self.jobs_started.labels(job_type).inc()
        self.jobs_running.inc()
        return asyncio.get_running_loop().time()

    def finished(self, job_type: str, status: str, began: float) -> None:
        """Count a job finished with ``status``, and how long it ran."""
        self.jobs_running.dec()
        self.job_run.labels(job_type).observe(asyncio.get_running_loop().time() - began)
        self.jobs_finished.labels(job_type, status).inc()

    async def read_queue_depth(self, redis: ArqRedis, queue_name: str) -> None:
        """Keep ``queue_depth`` current until cancelled (a failed reading keeps the last value)."""
        while True:
            try:
                self.queue_depth.set(await redis.zcard(queue_name))
            except (RedisError, OSError) as exc:
                logger.debug("queue depth not read: %s", exc)
            await asyncio.sleep(DEPTH_EVERY)


def serve_metrics(metrics: WorkerMetrics, port: int) -> Any:
    """Serve ``metrics`` on ``port`` (all interfaces) from a thread; the server, to shut down, or None if the port
    cannot be bound (the worker runs on without its metrics, saying why)."""
    try:
        server, _thread = start_http_server(port, registry=metrics.registry)
    except OSError as exc:
        logger.error("worker metrics not served: port %d: %s", port, exc)
        return None
    logger.info("worker metrics on port %d", port)
    return server


def start_metrics(ctx: dict[str, Any], settings: Settings) -> None:
    """At the worker's start-up, with ``WORKER_METRICS_PORT``: the metrics the tasks count (``ctx["metrics"]``), served
    on that port, and the queue's depth read in the background."""
    if settings.worker_metrics_port is None:
        return
    metrics = WorkerMetrics()
    ctx["metrics"] = metrics
    ctx["metrics_server"] = serve_metrics(metrics, settings.worker_metrics_port)
    ctx["queue_depth_reader"] = asyncio.create_task(
        metrics.read_queue_depth(ctx["redis"], settings.queue_name), name="read the queue's depth"
    )


async def stop_metrics(ctx: dict[str, Any]) -> None:
    """At the worker's shutdown: stop reading the queue's depth and serving the metrics."""
    reader: asyncio.Task[None] | None = ctx.pop("queue_depth_reader", None)
    if reader is not None:
        reader.cancel()
    server = ctx.pop("metrics_server", None)
    if server is not None:
        await asyncio.to_thread(server.shutdown)  # its thread notices within half a second
        server.server_close()
