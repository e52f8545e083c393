"""The jobs a socket waits on: frames stay in order, and an outcome whose event was lost is recovered."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from src.job_types import work_seconds
from src.settings import Settings

from .messages import JobOutcome

logger = structlog.stdlib.get_logger(__name__)

Lookup = Callable[[str, str], Awaitable[JobOutcome | None]]
Deliver = Callable[[JobOutcome], Awaitable[None]]


@dataclass(frozen=True)
class PendingJob:
    """A queued job whose outcome the socket has not sent yet."""

    job_type: str
    due: float  # loop time after which its outcome is overdue


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
        self._recovery: asyncio.Task[None] | None = None

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._waiting

    @property
    def in_flight(self) -> int:
        """Jobs being queued, or queued and still owed an outcome (what ``MAX_JOBS_IN_FLIGHT`` bounds)."""
        return len(self._gates.keys() | self._waiting.keys())

    def queuing(self, job_id: str) -> None:
        """The job is being queued: hold any outcome for it until ``release``."""
        self._gates[job_id] = asyncio.Event()

    def queued(self, job_id: str, job_type: str) -> None:
        """The client was told the job is queued: its outcome is now owed."""
        loop = asyncio.get_running_loop()
        due = loop.time() + work_seconds(self._settings, job_type) + self._settings.result_recovery_grace
        self._waiting[job_id] = PendingJob(job_type, due)
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.create_task(self._recover_overdue(), name="recover overdue outcomes")

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
        """The job is being cancelled: its outcome is no longer owed, and will not be sent (None if it was not)."""
        return self._waiting.pop(job_id, None)

    def restore(self, job_id: str, job: PendingJob) -> None:
        """Owe a withdrawn job's outcome again (its cancel could not be recorded)."""
        self.queued(job_id, job.job_type)

    async def claim(self, job_id: str) -> bool:
        """Whether the socket should send this job's outcome now (once its ``queued`` frame is out)."""
        await self.queuing_done(job_id)
        return self._waiting.pop(job_id, None) is not None

    def close(self) -> None:
        """Stop recovering: the socket is gone."""
        if self._recovery is not None:
            self._recovery.cancel()

    async def _recover_overdue(self) -> None:
        """While outcomes are owed, look up the stored outcome of each overdue job."""
        while self._waiting:
            await asyncio.sleep(self._settings.result_recovery_interval)
            now = asyncio.get_running_loop().time()
            for job_id, job in list(self._waiting.items()):
                if job.due > now:
                    continue
                try:
                    outcome = await self._lookup(job_id, job.job_type)
                except RedisError as exc:
                    logger.info("cannot look up overdue outcomes yet", error=str(exc))
                    break
                if outcome is not None and self._waiting.pop(job_id, None) is not None:
                    logger.info("recovered an outcome whose event was lost", job_id=job_id)
                    await self._deliver(outcome)
