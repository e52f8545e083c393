"""A task's run, reported: ``async with reporting(ctx, job_type, job_id, channel_name) as job`` runs the body within
the type's timeout with a progress reporter (``job.progress``), and sends the body's ``job.result`` to the socket
that asked, or why it failed, through the notifier ARQ's ``ctx`` carries (and counts the run in the worker's metrics,
when they are on). The seed's tasks simulate their work with ``job.work()`` (``simulated_work.py``).
"""

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from src.apps.background_jobs.outcomes import TaskTimeout, error_outcome, failure_text, result_outcome, timeout_text
from src.ops.worker_metrics import WorkerMetrics
from src.settings import Settings
from src.worker_side.notifier import Notifier
from src.worker_side.progress_reporter import ProgressReporter
from src.worker_side.simulated_work import simulate_work


@dataclass
class ReportedJob:
    """One running job: what its body reports through (``progress``), and the result it sets."""

    ctx: dict[str, Any]
    job_type: str
    job_id: str
    progress: ProgressReporter
    result: str | None = None

    async def work(self, streaming: str | None = None) -> None:
        """The type's simulated work, reporting its progress (and the part of ``streaming`` done with each report)."""
        await simulate_work(self.ctx, self.job_type, self.progress, streaming)

    def reply(self) -> dict[str, Any]:
        """What the task returns, for ARQ to keep: the seed's dict."""
        return {"status": "completed", "result": self.result, "job_id": self.job_id}


@contextlib.asynccontextmanager
async def reporting(ctx: dict[str, Any], job_type: str, job_id: str, channel_name: str) -> AsyncIterator[ReportedJob]:
    """Run the body as ``job_type``'s job ``job_id``, then report its result to ``channel_name``; a body that raises
    or runs past the type's timeout is reported as the job's error, and raises on (for ARQ to record)."""
    metrics: WorkerMetrics | None = ctx.get("metrics")
    counted: contextlib.AbstractContextManager[dict[str, str]] = (
        metrics.running(job_type) if metrics is not None else contextlib.nullcontext({})
    )
    with counted as run:
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
        job = ReportedJob(ctx, job_type, job_id, progress)
        try:
            async with asyncio.timeout(timeout):
                try:
                    yield job
                finally:
                    progress.close()  # no progress once the job has ended: its outcome comes next
            if job.result is None:
                raise RuntimeError(f"the {job_type} task set no result")
        except TimeoutError:
            message = timeout_text(job_id, timeout)
            await notifier.notify(error_outcome(job_id, job_type, message), channel_name)
            raise TaskTimeout(message) from None
        except Exception as exc:
            await notifier.notify(error_outcome(job_id, job_type, failure_text(job_id, exc)), channel_name)
            raise
        outcome = result_outcome(job_id, job_type, job.result)
        job.result = outcome.message  # as the socket gets it: a lone surrogate shown as U+FFFD
        await notifier.notify(outcome, channel_name)
        run["status"] = "result"
