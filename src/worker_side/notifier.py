"""The seam through which tasks report outcomes and progress: a notifier put in ARQ's ``ctx`` by the worker's
startup (``consumer_notifier``), which the unit layer replaces with a fake."""

from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from src.apps.background_jobs.messages import JobOutcome, JobProgress, JobResult, ProgressUpdate

logger = structlog.stdlib.get_logger(__name__)

SendEvent = Callable[[JobResult | JobProgress, str], Awaitable[None]]


class Notifier(Protocol):
    """Delivers a job's outcome to the channel of the socket that asked for it."""

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        """Send ``outcome`` to ``channel_name``; never raises."""

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Send a running job's progress to ``channel_name`` at once; never raises."""


class ChannelLayerNotifier:
    """Sends outcomes as ``JobResult`` events, and progress as ``JobProgress`` events, through the consumer's
    channel layer."""

    def __init__(self, send_event: SendEvent) -> None:
        self._send_event = send_event

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        """Send ``outcome``; a delivery failure is logged, since the job itself is done."""
        try:
            await self._send_event(JobResult(payload=outcome), channel_name)
        except Exception:
            logger.exception("could not deliver job outcome", job_id=outcome.job_id, status=outcome.status)

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Send ``update``; a failure is logged (progress is best-effort)."""
        try:
            await self._send_event(JobProgress(payload=update), channel_name)
        except Exception as exc:
            logger.info("could not deliver job progress", job_id=update.job_id, error=str(exc))
