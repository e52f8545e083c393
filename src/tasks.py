"""ARQ tasks: the tutorial's four, and the ``WorkerSettings`` that ``arq src.tasks.WorkerSettings`` reads.

Each task simulates its work while reporting how far it is, then its result goes back through the channel layer
to the socket that asked (``reporting``: through the notifier the worker's start-up puts in ``ctx``).
"""

import logging
from typing import Any

from src.layers import setup_layers, teardown_layers
from src.ops.logging_setup import configure_logging
from src.ops.worker_metrics import start_metrics, stop_metrics
from src.parts import Parts, parts_for
from src.settings import Settings, get_settings
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.reporting import reporting

TRANSLATIONS = {
    "hello": "hola",
    "world": "mundo",
    "good morning": "buenos días",
    "thank you": "gracias",
}

AI_RESPONSE = "That's an interesting point... Based on my analysis, I would suggest exploring this topic further."

#: Extra seconds ARQ allows over the tasks' own timeouts, so that a timed-out task can still report itself.
REPORT_GRACE = 1.0


async def translate(ctx: dict[str, Any], job_id: str, content: str, channel_name: str) -> dict[str, Any]:
    """Simulate text translation."""
    async with reporting(ctx, "translate", job_id, channel_name) as job:
        await job.work()
        translated = TRANSLATIONS.get(content.lower(), f"[TRANSLATED: {content}]")
        job.result = f"🌍 Translated: '{content}' → '{translated}'"
    return job.reply()


async def analyze(ctx: dict[str, Any], job_id: str, content: str, channel_name: str) -> dict[str, Any]:
    """Simulate text analysis."""
    async with reporting(ctx, "analyze", job_id, channel_name) as job:
        await job.work()
        word_count = len(content.split())
        char_count = len(content)
        vowel_count = sum(1 for char in content.lower() if char in "aeiou")
        job.result = (
            f"📊 Analysis of '{content}':\n• Characters: {char_count}\n• Words: {word_count}\n• Vowels: {vowel_count}"
        )
    return job.reply()


async def generate(ctx: dict[str, Any], job_id: str, content: str, channel_name: str) -> dict[str, Any]:
    """Simulate AI response generation, streaming the response as it is written."""
    response = f"🤖 AI Response to '{content}':\n{AI_RESPONSE}"
    async with reporting(ctx, "generate", job_id, channel_name) as job:
        await job.work(streaming=response)
        job.result = response
    return job.reply()


async def default(ctx: dict[str, Any], job_id: str, content: str, channel_name: str) -> dict[str, Any]:
    """Default processing task."""
    async with reporting(ctx, "default", job_id, channel_name) as job:
        await job.work()
        job.result = f"✅ Processed: {content.upper()}"
    return job.reply()


async def startup(ctx: dict[str, Any]) -> None:
    """Initialize resources when the worker starts: logging, the channel layer, the notifier the tasks report
    through, the metrics (with ``WORKER_METRICS_PORT``), and the runtime as the worker's parts tune it."""
    settings: Settings = ctx["settings"]
    parts: Parts = ctx["parts"]
    configure_logging(settings)
    # After ARQ's "Starting worker" line: per-job lines only when asked for.
    logging.getLogger("arq.worker").setLevel(logging.INFO if settings.worker_log_jobs else logging.WARNING)
    setup_layers(settings, reconnect_attempts=settings.redis_reconnect_attempts)
    ctx["notifier"] = consumer_notifier()
    start_metrics(ctx, settings)
    ctx["restore_runtime"] = parts.tune_process()


async def shutdown(ctx: dict[str, Any]) -> None:
    """Clean up resources when the worker shuts down: the metrics, the channel layer's connections, the runtime."""
    await stop_metrics(ctx)
    await teardown_layers()
    ctx.pop("restore_runtime")()


def worker_settings(settings: Settings) -> type[Any]:
    """ARQ's worker settings for ``settings``, built with the parts ``parts_for`` chooses (here, once)."""
    parts = parts_for(settings)

    class WorkerSettings:
        """ARQ Worker settings."""

        functions = [translate, analyze, generate, default]
        on_startup = startup
        on_shutdown = shutdown
        ctx = {"settings": settings, "parts": parts}
        # ARQ makes its pool from these unless the parts bring one; either way it rides out a Redis restart.
        redis_settings = settings.worker_arq_redis
        redis_pool = parts.worker_pool()
        queue_name = settings.queue_name
        max_jobs = settings.worker_max_jobs
        poll_delay = parts.poll_delay
        # Each task times itself out (TASK_TIMEOUTS, else JOB_TIMEOUT) and reports it; ARQ's is a backstop above all.
        job_timeout = max([settings.job_timeout, *settings.task_timeouts.values()]) + REPORT_GRACE
        keep_result = settings.keep_result
        job_completion_wait = settings.worker_shutdown_grace
        max_tries = settings.max_tries
        health_check_interval = settings.worker_health_check_interval  # the heartbeat /readyz looks for
        allow_abort_jobs = True  # a client's cancel records ARQ's abort; the worker drops or cancels the job

    return WorkerSettings


#: What ``arq src.tasks.WorkerSettings`` reads: the worker for the environment's settings (its pool connects when
#: the worker starts).
WorkerSettings = worker_settings(get_settings())
