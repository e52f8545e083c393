"""The jobs a socket waits on: frames stay in order, progress only rises, and an outcome whose event was lost is
recovered."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from src.apps.background_jobs.job_types import work_seconds
from src.apps.background_jobs.messages import JobOutcome
from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

Lookup = Callable[[str, str], Awaitable[JobOutcome | None]]
Deliver = Callable[[JobOutcome], Awaitable[None]]


@dataclass(frozen=True)
class PendingJob:
    """A queued job whose outcome the socket has not sent yet."""

    job_type: str
    due: float  # loop time after which its outcome is overdue
    received_at: float  # loop time its frame came in (its watch's, for a job this socket watches)
    watched: bool = False  # queued elsewhere, watched here (``job_watch``)


class PendingJobs:
    """Per socket: gates that hold an outcome until its ``queued`` frame is out, and the recovery loop.

    An outcome normally arrives as a channel-layer event. Pub/sub drops an event published while
    the subscription is down (a Redis restart, say), so for any job overdue by
    ``result_recovery_grace``, the outcome ARQ stored is looked up every ``result_recovery_interval``.
    Each outcome is sent once, whichever way it came.
    """

    def __init__(self, settings: Settings, lookup: Lookup, deliver: Deliver) -> None:
        self._settings = settings
        self._lookup = lookup
        self._deliver = deliver
        self._gates: dict[str, asyncio.Event] = {}
        self._waiting: dict[str, PendingJob] = {}
        #: The progress last sent for each owed job that has reported any.
        self._progress: dict[str, int] = {}
        #: The next look for overdue outcomes: a timer while outcomes are owed (not a task per socket).
        self._next_look: asyncio.TimerHandle | None = None
        self._recovery: asyncio.Task[None] | None = None

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._waiting

    @property
    def recovering(self) -> bool:
        """Whether a look for overdue outcomes is due or under way."""
        return self._next_look is not None or (self._recovery is not None and not self._recovery.done())

    @property
    def in_flight(self) -> int:
        """Jobs being queued, or queued and still owed an outcome (what ``MAX_JOBS_IN_FLIGHT`` bounds)."""
        return len(self._gates.keys() | self._waiting.keys())

    def queuing(self, job_id: str) -> None:
        """The job is being queued: hold any outcome for it until ``release``."""
        self._gates[job_id] = asyncio.Event()

    def queued(self, job_id: str, job_type: str, received_at: float | None = None) -> None:
        """The client was told the job is queued (its frame came in at loop time ``received_at``, by default
        now): its outcome is now owed."""
        self._owe(job_id, job_type, received_at, watched=False)

    def watched(self, job_id: str, job_type: str, progress: int | None) -> None:
        """The client was told where a job queued elsewhere stands (``progress``, if it is running and has reported):
        its further progress, never below that, and its outcome are now owed."""
        self._owe(job_id, job_type, None, watched=True)
        if progress is not None:
            self._progress[job_id] = progress

    def _owe(self, job_id: str, job_type: str, received_at: float | None, watched: bool) -> None:
        """Owe the job's outcome, overdue once the type's work and ``result_recovery_grace`` have passed from now."""
        now = asyncio.get_running_loop().time()
        due = now + work_seconds(self._settings, job_type) + self._settings.result_recovery_grace
        self._waiting[job_id] = PendingJob(job_type, due, now if received_at is None else received_at, watched)
        self._look_later()

    def release(self, job_id: str) -> None:
        """The job's ``queued`` (or ``error``) frame is out, or will never be: let its outcome through."""
        gate = self._gates.pop(job_id, None)
        if gate is not None:
            gate.set()

    async def queuing_done(self, job_id: str) -> None:
        """Wait until the job is no longer being queued by this socket (at once if it is not)."""
        gate = self._gates.get(job_id)
        if gate is not None:
            await gate.wait()

    def withdraw(self, job_id: str) -> PendingJob | None:
        """The job is being cancelled: its outcome is no longer owed, and will not be sent (None if it was not);
        nor is any more progress."""
        job = self._settle(job_id)
        self._stop_looking_if_settled()
        return job

    def restore(self, job_id: str, job: PendingJob) -> None:
        """Owe a withdrawn job's outcome again (its cancel could not be recorded)."""
        self._waiting[job_id] = job
        self._look_later()

    async def claim(self, job_id: str) -> PendingJob | None:
        """The job, if the socket should send its outcome now (once its ``queued`` frame is out); else None."""
        await self.queuing_done(job_id)
        owed = self._settle(job_id)
        self._stop_looking_if_settled()
        return owed

    async def advance(self, job_id: str, percent: int) -> bool:
        """Whether the socket should send this progress now: once the ``queued`` frame is out, while the outcome
        is owed (not after the outcome or a cancel), and never below the progress sent before."""
        await self.queuing_done(job_id)
        if job_id not in self._waiting or percent < self._progress.get(job_id, 0):
            return False
        self._progress[job_id] = percent
        return True

    def _settle(self, job_id: str) -> PendingJob | None:
        """The job's outcome is no longer owed; forget its progress too."""
        self._progress.pop(job_id, None)
        return self._waiting.pop(job_id, None)

    def close(self) -> None:
        """Stop recovering: the socket is gone."""
        if self._next_look is not None:
            self._next_look.cancel()
            self._next_look = None
        if self._recovery is not None:
            self._recovery.cancel()

    def _look_later(self) -> None:
        """Look for overdue outcomes in ``result_recovery_interval`` seconds, if any are owed and no look is due."""
        if self._next_look is None and self._waiting:
            loop = asyncio.get_running_loop()
            self._next_look = loop.call_later(self._settings.result_recovery_interval, self._look_now)

    def _look_now(self) -> None:
        """The timer's callback: look up the overdue outcomes, in a task."""
        self._next_look = None
        if self._waiting:
            self._recovery = asyncio.create_task(self._recover_overdue(), name="recover overdue outcomes")

    def _stop_looking_if_settled(self) -> None:
        """No outcome is owed any more: no look is needed."""
        if not self._waiting and self._next_look is not None:
            self._next_look.cancel()
            self._next_look = None

    async def _recover_overdue(self) -> None:
        """Look up the stored outcome of each overdue job, then look again later while outcomes are owed."""
        now = asyncio.get_running_loop().time()
        for job_id, job in list(self._waiting.items()):
            if job.due > now:
                continue
            try:
                outcome = await self._lookup(job_id, job.job_type)
            except RedisError as exc:
                logger.info("cannot look up overdue outcomes yet", error=str(exc))
                break
            if outcome is not None and self._settle(job_id) is not None:
                logger.info("recovered an outcome whose event was lost", job_id=job_id)
                await self._deliver(outcome)
        self._look_later()
