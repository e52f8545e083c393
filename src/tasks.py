"""The task side: the seed's four tasks, the wrapper that reports their outcome, and ``WorkerSettings``."""

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

import structlog
from arq import ArqRedis
from arq.connections import RedisSettings
from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import Function, func

from src.apps.background_jobs.job_types import work_seconds
from src.apps.background_jobs.outcomes import (
    TaskTimeout,
    error_outcome,
    failure_text,
    result_outcome,
    timeout_text,
)
from src.layers import setup_layers, teardown_layers
from src.ops.logging_setup import configure_logging
from src.ops.worker_metrics import WorkerMetrics, serve_metrics
from src.plumbing.sentinel import master_pool
from src.settings import RECONNECT_ERRORS, Settings, get_settings, reconnecting_retry
from src.speedups import SpeedUps, speedups
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.notifier import Notifier
from src.worker_side.progress_reporter import Progress, ProgressReporter

logger = structlog.stdlib.get_logger(__name__)

TRANSLATIONS = {
    "hello": "hola",
    "world": "mundo",
    "good morning": "buenos días",
    "thank you": "gracias",
}

AI_RESPONSE = "That's an interesting point... Based on my analysis, I would suggest exploring this topic further."

#: Extra seconds ARQ allows over our own timeout, so a timed-out task can still report itself.
REPORT_GRACE = 1.0


def translate_text(content: str) -> str:
    """The seed's translation: a fixed table, case-insensitive, with a marked fallback."""
    translated = TRANSLATIONS.get(content.lower(), f"[TRANSLATED: {content}]")
    return f"🌍 Translated: '{content}' → '{translated}'"


def analyze_text(content: str) -> str:
    """The seed's three-line analysis: characters, words, vowels."""
    word_count = len(content.split())
    char_count = len(content)
    vowel_count = sum(1 for char in content.lower() if char in "aeiou")
    return f"📊 Analysis of '{content}':\n• Characters: {char_count}\n• Words: {word_count}\n• Vowels: {vowel_count}"


def generate_text(content: str) -> str:
    """The seed's canned AI response."""
    return f"🤖 AI Response to '{content}':\n{AI_RESPONSE}"


def default_text(content: str) -> str:
    """The seed's default processing: upper-case the content."""
    return f"✅ Processed: {content.upper()}"


RESULT_TEXTS: dict[str, Callable[[str], str]] = {
    "translate": translate_text,
    "analyze": analyze_text,
    "generate": generate_text,
    "default": default_text,
}


#: Seconds of simulated work too few to wait for (or to report on): what a float sum of sleeps misses by.
CLOCK_SLACK = 1e-6
#: Seconds the simulated work's reports are spaced by beyond ``PROGRESS_INTERVAL``: a frame's way to its socket
#: varies by milliseconds, and two of a job's frames must never arrive closer together than the interval.
REPORT_MARGIN = 0.05


async def simulate_work(ctx: dict[str, Any], job_type: str, progress: Progress, text: str | None = None) -> None:
    """Sleep for the type's simulated work (not at all when ``JOB_TIME_SCALE`` is 0), reporting the share done
    every ``PROGRESS_INTERVAL`` + ``REPORT_MARGIN``; with ``text``, its part in the same share goes with each report
    (streaming)."""
    settings: Settings = ctx["settings"]
    seconds = work_seconds(settings, job_type)
    if seconds <= 0:
        return
    pace = settings.progress_interval + REPORT_MARGIN
    loop = asyncio.get_running_loop()
    began = loop.time()
    elapsed = 0.0
    while seconds - elapsed > CLOCK_SLACK:
        percent = int(100 * elapsed / seconds)
        await progress(percent, partial=None if text is None else text[: len(text) * percent // 100])
        await asyncio.sleep(min(pace, seconds - elapsed))
        elapsed = loop.time() - began


async def run_reported(
    ctx: dict[str, Any],
    job_type: str,
    job_id: str,
    channel_name: str,
    body: Callable[[Progress], Awaitable[str]],
) -> dict[str, Any]:
    """Run ``body`` within the type's timeout, with a ``progress`` to report through, and report its result, or
    its failure, to the client (and count it in the worker's metrics, when they are on)."""
    metrics: WorkerMetrics | None = ctx.get("metrics")
    if metrics is None:
        return await _run_and_report(ctx, job_type, job_id, channel_name, body)
    with metrics.running(job_type) as run:
        reply = await _run_and_report(ctx, job_type, job_id, channel_name, body)
        run["status"] = "result"
        return reply


async def _run_and_report(
    ctx: dict[str, Any],
    job_type: str,
    job_id: str,
    channel_name: str,
    body: Callable[[Progress], Awaitable[str]],
) -> dict[str, Any]:
    settings: Settings = ctx["settings"]
    notifier: Notifier = ctx["notifier"]
    timeout = settings.timeout_for(job_type)
    progress = ProgressReporter(
        job_id=job_id,
        job_type=job_type,
        channel_name=channel_name,
        notifier=notifier,
        redis=ctx.get("redis"),
        interval=settings.progress_interval,
        keep_seconds=settings.keep_result or math.ceil(timeout),
    )
    try:
        async with asyncio.timeout(timeout):
            try:
                result = await body(progress)
            finally:
                progress.close()  # no progress once the job has ended: its outcome comes next
    except TimeoutError:
        message = timeout_text(job_id, timeout)
        await notifier.notify(error_outcome(job_id, job_type, message), channel_name)
        raise TaskTimeout(message) from None
    except Exception as exc:
        await notifier.notify(error_outcome(job_id, job_type, failure_text(job_id, exc)), channel_name)
        raise
    outcome = result_outcome(job_id, job_type, result)
    await notifier.notify(outcome, channel_name)
    return {"status": "completed", "result": outcome.message, "job_id": job_id}


#: The types whose progress reports carry their text so far.
STREAMING = frozenset({"generate"})


def make_task(job_type: str) -> WorkerCoroutine:
    """The ARQ task for ``job_type``: simulated work reporting its progress, then the seed's result text."""
    result_text = RESULT_TEXTS[job_type]
    streams = job_type in STREAMING

    async def task(ctx: dict[str, Any], job_id: str, content: str, channel_name: str) -> dict[str, Any]:
        async def body(progress: Progress) -> str:
            text = result_text(content)
            await simulate_work(ctx, job_type, progress, text if streams else None)
            return text

        return await run_reported(ctx, job_type, job_id, channel_name, body)

    task.__name__ = task.__qualname__ = job_type
    task.__doc__ = f"The seed's {job_type} task."
    return cast(WorkerCoroutine, task)


translate = make_task("translate")
analyze = make_task("analyze")
generate = make_task("generate")
default = make_task("default")

TASKS: dict[str, WorkerCoroutine] = {
    "translate": translate,
    "analyze": analyze,
    "generate": generate,
    "default": default,
}


async def startup(ctx: dict[str, Any]) -> None:
    """Worker start-up: logging, the channel layer, the notifier tasks report through, the metrics (with
    ``WORKER_METRICS_PORT``), and (fast path) the runtime."""
    settings: Settings = ctx["settings"]
    configure_logging(settings)
    # After ARQ's "Starting worker" line: per-job lines only when asked for.
    logging.getLogger("arq.worker").setLevel(logging.INFO if settings.worker_log_jobs else logging.WARNING)
    setup_layers(settings, reconnect_attempts=settings.redis_reconnect_attempts)
    ctx["notifier"] = consumer_notifier()
    if settings.worker_metrics_port is not None:
        metrics = WorkerMetrics()
        ctx["metrics"] = metrics
        ctx["metrics_server"] = serve_metrics(metrics, settings.worker_metrics_port)
        ctx["queue_depth_reader"] = asyncio.create_task(
            metrics.read_queue_depth(ctx["redis"], settings.queue_name), name="read the queue's depth"
        )
    fast: SpeedUps | None = ctx.get("speedups")
    if fast is not None:
        ctx["restore_runtime"] = fast.tune_process()


async def shutdown(ctx: dict[str, Any]) -> None:
    """Worker shutdown: stop serving metrics, close the channel layer's connections (and undo the runtime's
    tuning)."""
    reader: asyncio.Task[None] | None = ctx.pop("queue_depth_reader", None)
    if reader is not None:
        reader.cancel()
    server = ctx.pop("metrics_server", None)
    if server is not None:
        await asyncio.to_thread(server.shutdown)  # its thread notices within half a second
        server.server_close()
    await teardown_layers()
    restore = ctx.pop("restore_runtime", None)
    if restore is not None:
        restore()


def worker_functions(settings: Settings) -> list[Function]:
    """The four tasks, each with ARQ's timeout a little above the one it reports."""
    return [
        func(
            task,
            name=name,
            timeout=settings.timeout_for(name) + REPORT_GRACE,
            max_tries=settings.max_tries,
        )
        for name, task in TASKS.items()
    ]


class ArqWorkerSettings:
    """The shape of the settings class ARQ reads (it takes a class's own ``__dict__``)."""

    functions: ClassVar[list[Function]]
    on_startup: ClassVar[StartupShutdown]
    on_shutdown: ClassVar[StartupShutdown]
    ctx: ClassVar[dict[str, Any]]
    redis_settings: ClassVar[RedisSettings]
    redis_pool: ClassVar[ArqRedis | None]
    queue_name: ClassVar[str]
    max_jobs: ClassVar[int]
    poll_delay: ClassVar[float]
    job_timeout: ClassVar[float]
    keep_result: ClassVar[int]
    job_completion_wait: ClassVar[int]
    max_tries: ClassVar[int]
    health_check_interval: ClassVar[float]
    allow_abort_jobs: ClassVar[bool]


def worker_redis_pool(settings: Settings, fast: SpeedUps | None) -> ArqRedis | None:
    """The worker's pool: the fast path's, or (``REDIS_SENTINELS``) one on the master the sentinels name, riding
    out a failover as ``worker_arq_redis`` rides out a restart; None: ARQ makes its own from ``redis_settings``."""
    if fast is not None:
        return fast.worker_pool()
    if settings.redis_sentinels:
        return master_pool(
            settings,
            retry=reconnecting_retry(settings.redis_reconnect_attempts, through_sentinel=True),
            retry_on_error=list(RECONNECT_ERRORS),
            socket_connect_timeout=1.0,
        )
    return None


def build_worker_settings(settings: Settings, fast: SpeedUps | None) -> type[ArqWorkerSettings]:
    """ARQ's ``WorkerSettings`` class for ``settings``: ARQ's own pool and poll delay, or the fast path's."""
    return type(
        "WorkerSettings",
        (ArqWorkerSettings,),
        {
            "__doc__": "ARQ worker settings, built from the project's Settings.",
            "functions": worker_functions(settings),
            "on_startup": startup,
            "on_shutdown": shutdown,
            # The fast path, when on, tunes the worker's runtime at start-up (see ``startup``).
            "ctx": {"settings": settings} if fast is None else {"settings": settings, "speedups": fast},
            # ARQ makes its pool from these unless it is given one; either way it rides out a Redis restart.
            "redis_settings": settings.worker_arq_redis,
            "redis_pool": worker_redis_pool(settings, fast),
            "queue_name": settings.queue_name,
            "max_jobs": settings.worker_max_jobs,
            "poll_delay": settings.worker_poll_delay if fast is None else fast.poll_delay,
            "job_timeout": settings.job_timeout + REPORT_GRACE,
            "keep_result": settings.keep_result,
            "job_completion_wait": settings.worker_shutdown_grace,
            "max_tries": settings.max_tries,
            # The heartbeat /readyz and start_dev look for.
            "health_check_interval": settings.worker_health_check_interval,
            # A client's cancel records ARQ's abort; the worker drops or cancels the job.
            "allow_abort_jobs": True,
        },
    )


def __getattr__(name: str) -> Any:
    """``WorkerSettings``, for ``arq src.tasks.WorkerSettings``: built from the environment when ARQ asks for it.

    Built then, not at import, so that importing this module opens nothing: the worker's pool (the
    fast path's, when it is on) is made as the worker starts.
    """
    if name == "WorkerSettings":
        settings = get_settings()
        return build_worker_settings(settings, speedups(settings))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
