"""The task side's progress API: a running job says how far it is, and its socket hears it, coalesced.

A task gets a ``ProgressReporter`` from ``reporting`` (``job.progress``) and awaits ``progress(percent)`` (with
``partial=`` the text so far, for a job that streams it) as often as it likes. Reports reach the
socket through the same notifier as the outcome, at most one per ``PROGRESS_INTERVAL``: the latest
report inside an interval is sent when the interval is over, the ones before it are dropped. A report
never lowers the percentage: one below what was reached goes out as what was reached. Each sent report
is also kept in Redis beside the job (``arq:progress:<id>``), for lookups and for a re-run after a
worker crash, which goes on saying where its first run was (at its usual pace) until it gets further.
Progress is best-effort: a report Redis does not take is logged and dropped, and never fails the job.
"""

import asyncio
import math
from collections.abc import Awaitable, Callable

import structlog
from arq import ArqRedis
from redis.exceptions import RedisError

from src.apps.background_jobs.messages import ProgressUpdate
from src.apps.background_jobs.progress import store_progress, stored_progress
from src.worker_side.notifier import Notifier

logger = structlog.stdlib.get_logger(__name__)

#: What a task is given to report with: ``await progress(percent, partial=None)``.
Progress = Callable[..., Awaitable[None]]

#: Failures of a best-effort report.
REPORT_ERRORS = (RedisError, OSError, TimeoutError)


class ProgressReporter:
    """One running job's progress reports: coalesced to one per ``interval``, never going down, kept in Redis."""

    def __init__(
        self,
        *,
        job_id: str,
        job_type: str,
        channel_name: str,
        notifier: Notifier,
        redis: ArqRedis | None,
        interval: float,
        keep_seconds: int,
    ) -> None:
        self._job_id = job_id
        self._job_type = job_type
        self._channel_name = channel_name
        self._notifier = notifier
        self._redis = redis
        self._interval = interval
        self._keep_seconds = max(1, keep_seconds)
        self._reached: tuple[int, str | None] | None = None  # the last report sent (or the first run's)
        self._floor_known = False
        self._sent_at = -math.inf
        self._latest: ProgressUpdate | None = None  # reported, not yet sent
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None  # held here: the loop keeps only a weak reference
        self._sending = asyncio.Lock()
        self._closed = False

    async def __call__(self, percent: int, partial: str | None = None) -> None:
        """Report ``percent`` (clamped to 0 to 100) and, for a streaming job, ``partial``."""
        if self._closed:
            return
        if not self._floor_known:
            await self._learn_floor()
        percent, partial = self._not_below_reached(max(0, min(100, int(percent))), partial)
        self._latest = ProgressUpdate(job_id=self._job_id, job_type=self._job_type, progress=percent, partial=partial)
        loop = asyncio.get_running_loop()
        wait = self._sent_at + self._interval - loop.time()
        if wait <= 0:
            await self._send_latest()
        elif self._flush is None:
            self._flush = loop.call_later(wait, self._flush_later)

    def close(self) -> None:
        """The job has ended: nothing more is sent (an outcome follows, or nothing at all)."""
        self._closed = True
        self._latest = None
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def _not_below_reached(self, percent: int, partial: str | None) -> tuple[int, str | None]:
        """The report, or, if it is below what was reached (or is held to be sent), that instead."""
        held = None if self._latest is None else (self._latest.progress, self._latest.partial)
        for earlier in (self._reached, held):
            if earlier is not None and percent < earlier[0]:
                percent, partial = earlier
        return percent, partial

    async def _learn_floor(self) -> None:
        """What an earlier run of this job reached (a re-run after a worker crash says that until it gets further)."""
        self._floor_known = True
        if self._redis is None:
            return
        try:
            earlier = await stored_progress(self._redis, self._job_id)
        except REPORT_ERRORS as exc:
            logger.info("cannot read a job's earlier progress", job_id=self._job_id, error=str(exc))
            return
        if earlier is not None:
            self._reached = (earlier.progress, earlier.partial)

    def _flush_later(self) -> None:
        self._flush = None
        if self._latest is None or self._closed:
            return
        loop = asyncio.get_running_loop()
        early = self._sent_at + self._interval - loop.time()
        if early > 0:  # a timer may fire a hair before its time: never two frames closer than the interval
            self._flush = loop.call_later(early, self._flush_later)
            return
        self._flushing = loop.create_task(self._send_latest(), name=f"progress of {self._job_id}")

    async def _send_latest(self) -> None:
        async with self._sending:
            update, self._latest = self._latest, None
            if update is None or self._closed:
                return
            loop = asyncio.get_running_loop()
            self._sent_at = loop.time()  # reports made while it is kept are held
            self._reached = (update.progress, update.partial)
            if self._redis is not None:
                try:
                    await store_progress(self._redis, update, self._keep_seconds)
                except REPORT_ERRORS as exc:
                    logger.info("progress not kept", job_id=self._job_id, error=str(exc))
            self._sent_at = loop.time()  # and the interval runs from the frame's publish
            await self._notifier.progress(update, self._channel_name)
