"""Background Jobs Consumer - Real background job processing with ARQ.

A job frame is queued on ARQ (``handle_job``); the worker sends its outcome, and its progress while it runs,
through the channel layer to this socket's channel, and the event handlers relay them. A socket may also look
any job up, watch it (its frames brought here too, ``job_watches.py``) and cancel it. Whether a handshake may
open a socket at all is decided before (``src/web/gate.py``).
"""

import asyncio
from typing import Any, ClassVar, cast

import structlog
from chanx.core.decorators import channel, event_handler, ws_handler
from chanx.messages.base import BaseMessage
from chanx.messages.incoming import PingMessage
from chanx.messages.outgoing import ErrorMessage, PongMessage
from pydantic import ValidationError
from pydantic_core import InitErrorDetails

from src.apps.background_jobs import texts
from src.apps.background_jobs.job_types import job_type_of, resolve_job_type
from src.apps.background_jobs.messages import (
    FINAL_STATES,
    CancelMessage,
    ConnectedStatus,
    JobLookupMessage,
    JobMessage,
    JobOutcome,
    JobProgress,
    JobResult,
    JobState,
    JobStatus,
    JobStatusMessage,
    JobUnwatchMessage,
    JobWatchMessage,
    job_status_frame,
    progress_frame,
)
from src.apps.background_jobs.outcomes import cancelled_outcome, stored_outcome
from src.base_consumer import BaseConsumer
from src.layers import JOBS_LAYER_ALIAS
from src.web.job_queue import JobQueue, QueueError, new_job_id
from src.web.job_watches import JobWatches
from src.web.lookup import bounded, look_up, watched_channel
from src.web.ownership import JobOwnership
from src.web.pending import PendingJobs
from src.web.token_auth import USER, JwtAuthenticator
from src.web.user_limits import UserLimits

logger = structlog.stdlib.get_logger(__name__)


def content_too_long(content: str, max_length: int) -> ValidationError:
    """The validation error pydantic gives for a ``max_length`` string field, for ``payload.content``."""
    loc = ("job", "payload", "content")
    error = InitErrorDetails(type="string_too_long", loc=loc, input=content, ctx={"max_length": max_length})
    return ValidationError.from_exception_data("JobMessage", [error])


@channel(
    name="background_jobs",
    description="Background Jobs Consumer - Real background job processing with ARQ",
    tags=["jobs", "background", "arq"],
)
class BackgroundJobConsumer(BaseConsumer[JobResult | JobProgress]):
    """Consumer for processing messages with real background jobs using ARQ."""

    channel_layer_alias = JOBS_LAYER_ALIAS
    authenticator_class = JwtAuthenticator
    emits: ClassVar[list[type[BaseMessage]]] = [JobStatusMessage, ErrorMessage]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: PendingJobs | None = None
        #: The jobs this socket watches (queued by other sockets), until each is final.
        self._watching: set[str] = set()

    @property
    def jobs(self) -> JobQueue:
        """The app's job queue: its one ARQ pool, and every enqueue bounded."""
        return cast(JobQueue, self.scope["app"].state.jobs)

    @property
    def user(self) -> str | None:
        """Who the socket's token names (None with authentication off)."""
        return cast(str | None, self.scope.get(USER))

    @property
    def pending(self) -> PendingJobs:
        """The jobs this socket waits on (made on first use: ``scope`` is set by then)."""
        if self._pending is None:
            self._pending = PendingJobs(self.settings, self._stored_outcome, self._send_outcome)
        return self._pending

    async def post_authentication(self) -> None:
        """Send connection established message."""
        await self.send_message(JobStatusMessage(payload=ConnectedStatus()))
        await super().post_authentication()

    @ws_handler(
        summary="Handle ping requests",
        description="Simple ping-pong for connectivity testing",
    )
    async def handle_ping(self, _message: PingMessage) -> PongMessage:
        return PongMessage()

    @ws_handler(
        summary="Handle job processing requests",
        description=(
            "Queue a job with ARQ. Replies job_status queuing, then queued, then the "
            "result (or error) from the worker, all with the job's id and type."
        ),
        output_type=JobStatusMessage,
    )
    async def handle_job(self, message: JobMessage) -> None:
        """Queue the job and tell the client: queuing, then queued; or why it was not queued."""
        received_at = asyncio.get_running_loop().time()
        settings, metrics, user = self.settings, self.metrics, self.user
        content = message.payload.content
        if len(content) > settings.max_content_length:
            metrics.jobs_refused.labels("content_too_long").inc()
            await self.handle_validation_error(content_too_long(content, settings.max_content_length))
            return
        job_type = resolve_job_type(message.payload.type)
        try:
            job_id = await self._ownership.new_job_id(job_type, user)
        except QueueError as exc:  # the owners' key could not be read from Redis
            metrics.jobs_refused.labels(exc.reason).inc()
            await self._send_job_status("error", new_job_id(job_type), job_type, texts.queue_error_text(str(exc)))
            return
        if self.pending.in_flight >= settings.max_jobs_in_flight:
            metrics.jobs_refused.labels("too_many_in_flight").inc()
            await self._send_job_status(
                "error", job_id, job_type, texts.too_many_jobs_text(settings.max_jobs_in_flight)
            )
            return

        self.pending.queuing(job_id)  # its outcome waits until its queued frame is out
        try:
            with self.admission.enqueueing():
                # Show immediate response that job is being queued
                if not await self._send_job_status("queuing", job_id, job_type, texts.queuing_text(job_type, content)):
                    logger.info("client left before its job was queued; not queued", job_id=job_id)
                    return
                if user is not None and not await self._reserve(user, job_id, job_type):
                    return
                # Queue the real background job
                try:
                    with metrics.enqueue_latency.time():
                        await self.jobs.enqueue(job_type, job_id, content, self.channel_name)
                except QueueError as exc:
                    if user is not None:
                        await self._user_limits.release_job(user, job_id)
                    metrics.jobs_refused.labels(exc.reason).inc()
                    await self._send_job_status("error", job_id, job_type, texts.queue_error_text(str(exc)))
                    return
            metrics.jobs_queued.labels(job_type).inc()
            if await self._send_job_status("queued", job_id, job_type, texts.queued_text(job_id)):
                self.pending.queued(job_id, job_type, received_at)
            else:
                logger.info("client left after its job was queued; the job still runs", job_id=job_id)
        finally:
            self.pending.release(job_id)

    @ws_handler(
        summary="Look a job up",
        description=(
            "Where a job stands, from any socket, for as long as ARQ keeps it: job_status queued, "
            "in_progress, result or error (as the live frame had it), cancelled, or not_found."
        ),
        output_type=JobStatusMessage,
    )
    async def handle_job_lookup(self, message: JobLookupMessage) -> JobStatusMessage:
        """Answer with the job's status as ARQ knows it (another user's job is not found)."""
        job_id = message.payload.job_id
        try:
            if not await self._ownership.owns(self.user, job_id):
                return self._status("not_found", job_id, texts.not_found_text(job_id))
            await self.pending.queuing_done(job_id)
            status = await bounded(look_up(self.jobs.pool, self.settings.queue_name, job_id), self._timeout)
        except QueueError as exc:
            return self._status("error", job_id, texts.lookup_error_text(str(exc)))
        return JobStatusMessage(payload=status)

    @ws_handler(
        summary="Watch a job",
        description=(
            "Where a job queued by any socket stands, answered as job_lookup answers; then, until the job is final, "
            "its progress frames and its outcome on this socket too, the outcome once. At most MAX_WATCHES at once."
        ),
        output_type=JobStatusMessage,
    )
    async def handle_job_watch(self, message: JobWatchMessage) -> None:
        """Answer with the job's status and, while it is not final, bring its further frames to this socket."""
        job_id = message.payload.job_id
        try:
            if not await self._ownership.owns(self.user, job_id):
                await self.send_message(self._status("not_found", job_id, texts.not_found_text(job_id)))
                return
            await self.pending.queuing_done(job_id)
            if job_id not in self.pending and job_id not in self._watching:
                if len(self._watching) >= self.settings.max_watches:
                    text = texts.too_many_watches_text(self.settings.max_watches)
                    await self.send_message(self._status("error", job_id, text))
                    return
                self._watching.add(job_id)  # counted at once: watches arrive side by side
                self.pending.queuing(job_id)  # frames heard from here on wait for the status
                try:
                    status, subscribed = await bounded(self._subscribe_then_look_up(job_id), self._timeout)
                    if subscribed and status.status not in FINAL_STATES:
                        self.pending.watched(job_id, status.job_type, status.progress)
                    else:
                        await self._stop_watching(job_id)
                    await self.send_message(JobStatusMessage(payload=status))
                except QueueError:
                    await self._stop_watching(job_id)
                    raise
                finally:
                    self.pending.release(job_id)
                return
            # This socket is owed the job's frames already (it queued the job, or watches it): its status is all.
            await self.pending.queuing_done(job_id)
            status = await bounded(look_up(self.jobs.pool, self.settings.queue_name, job_id), self._timeout)
        except QueueError as exc:
            await self.send_message(self._status("error", job_id, texts.watch_error_text(str(exc))))
            return
        await self.send_message(JobStatusMessage(payload=status))

    @ws_handler(
        summary="Stop watching a job",
        description="No more of a watched job's frames on this socket: job_status unwatched (for any job id).",
        output_type=JobStatusMessage,
    )
    async def handle_job_unwatch(self, message: JobUnwatchMessage) -> JobStatusMessage:
        """Stop bringing the job's frames here, if this socket watches it."""
        job_id = message.payload.job_id
        await self.pending.queuing_done(job_id)  # a watch being set up is set up first, then ended here
        if job_id in self._watching:
            self.pending.withdraw(job_id)
            await self._stop_watching(job_id)
        return self._status("unwatched", job_id, texts.unwatched_text(job_id))

    @ws_handler(
        summary="Cancel a job",
        description=(
            "Cancel a queued or running job (ARQ's abort): job_status cancelled, and no result frame for it "
            "afterwards. Cancelling a finished or unknown job gets job_status error saying why."
        ),
        output_type=JobStatusMessage,
    )
    async def handle_cancel(self, message: CancelMessage) -> JobStatusMessage:
        """Record the abort of a job that is queued or running; say why not otherwise (another user's job is not
        there to cancel)."""
        job_id = message.payload.job_id
        try:
            if not await self._ownership.owns(self.user, job_id):
                return self._status("error", job_id, texts.no_job_to_cancel_text(job_id))
            await self.pending.queuing_done(job_id)
            status = await bounded(look_up(self.jobs.pool, self.settings.queue_name, job_id), self._timeout)
        except QueueError as exc:
            return self._status("error", job_id, texts.cancel_error_text(str(exc)))
        if status.status == "not_found":
            return self._status("error", job_id, texts.no_job_to_cancel_text(job_id))
        if status.status == "cancelled":
            return self._status("error", job_id, texts.already_cancelled_text(job_id))
        if status.status in ("result", "error"):
            return self._status("error", job_id, texts.already_finished_text(job_id))

        withdrawn = self.pending.withdraw(job_id)  # from here on, its outcome is not sent
        try:
            await bounded(self.jobs.request_abort(job_id), self._timeout)
        except QueueError as exc:
            if withdrawn is not None:
                self.pending.restore(job_id, withdrawn)
            return self._status("error", job_id, texts.cancel_error_text(str(exc)))
        logger.info("job cancelled", job_id=job_id, was=status.status)
        await self._stop_watching(job_id)
        if withdrawn is not None and not withdrawn.watched:
            self._count_outcome(status.job_type, "cancelled", withdrawn.received_at)
        return JobStatusMessage(payload=JobStatus(**cancelled_outcome(job_id, status.job_type).model_dump()))

    @event_handler(output_type=JobStatusMessage)
    async def handle_job_result(self, event: JobResult) -> None:
        """Handle job results sent back from background workers: after the job's ``queued`` frame, once (the outcome
        may have been recovered from ARQ's store already)."""
        outcome = event.payload
        job = await self.pending.claim(outcome.job_id)
        if job is not None:
            if not job.watched:
                self._count_outcome(outcome.job_type, outcome.status, job.received_at)
            await self._send_outcome(outcome)

    @event_handler(output_type=JobStatusMessage)
    async def handle_job_progress(self, event: JobProgress) -> None:
        """Relay a running job's progress after its ``queued`` frame and before its outcome, never going down."""
        update = event.payload
        if await self.pending.advance(update.job_id, update.progress):
            await self.send_frame(progress_frame(update))

    async def websocket_disconnect(self, message: Any) -> None:
        """Stop recovering outcomes, and watching jobs, for a socket that is gone."""
        if self._pending is not None:
            self._pending.close()
        for job_id in list(self._watching):
            await self._stop_watching(job_id)
        await super().websocket_disconnect(message)

    async def _reserve(self, user: str, job_id: str, job_type: str) -> bool:
        """Count the job among ``user``'s jobs queued or running (``MAX_JOBS_PER_USER``, across the deployment); when
        it may not be queued, tell the client why and return False."""
        try:
            if await self._user_limits.reserve_job(user, job_id):
                return True
            reason, text = "too_many_for_user", texts.too_many_user_jobs_text(self.settings.max_jobs_per_user)
        except QueueError as exc:
            reason, text = exc.reason, texts.queue_error_text(str(exc))
        self.metrics.jobs_refused.labels(reason).inc()
        await self._send_job_status("error", job_id, job_type, text)
        return False

    @property
    def _ownership(self) -> JobOwnership:
        return cast(JobOwnership, self.scope["app"].state.ownership)

    @property
    def _watches(self) -> JobWatches:
        return cast(JobWatches, self.scope["app"].state.watches)

    async def _subscribe_then_look_up(self, job_id: str) -> tuple[JobStatus, bool]:
        """Have this server hear the channel a queued or running job's frames go to, then read where the job stands;
        that status, and whether it subscribed (a finished or unknown job's status is read, nothing is heard)."""
        pool = self.jobs.pool
        channel = await watched_channel(pool, job_id)
        if isinstance(channel, JobStatus):
            return channel, False
        if channel is not None:
            await self._watches.watch(job_id, channel, self.channel_name)
        return await look_up(pool, self.settings.queue_name, job_id), channel is not None

    async def _stop_watching(self, job_id: str) -> None:
        """No more of ``job_id``'s frames for this socket's watch of it (if it has one)."""
        if job_id in self._watching:
            self._watching.discard(job_id)
            await self._watches.unwatch(job_id, self.channel_name)

    @property
    def _user_limits(self) -> UserLimits:
        return cast(UserLimits, self.scope["app"].state.user_limits)

    @property
    def _timeout(self) -> float:
        """Seconds the socket waits on Redis for a lookup or a cancel."""
        return self.settings.enqueue_timeout

    @staticmethod
    def _status(status: JobState, job_id: str, text: str) -> JobStatusMessage:
        """A job_status frame about ``job_id``, typed by its id's prefix."""
        return JobStatusMessage(
            payload=JobStatus(status=status, job_id=job_id, job_type=job_type_of(job_id), message=text)
        )

    async def _stored_outcome(self, job_id: str, job_type: str) -> JobOutcome | None:
        """What ARQ stored for the job, if it has finished."""
        return await stored_outcome(self.jobs.pool, job_id, job_type)

    def _count_outcome(self, job_type: str, status: str, received_at: float) -> None:
        """One more outcome for this server's metrics, and its time since the job's frame."""
        self.metrics.outcomes.labels(job_type, status).inc()
        self.metrics.outcome_latency.labels(job_type).observe(asyncio.get_running_loop().time() - received_at)

    async def _send_outcome(self, outcome: JobOutcome) -> None:
        """Send an outcome (relayed or recovered) as the job's last frame; a watch of the job ends with it."""
        await self._stop_watching(outcome.job_id)
        await self._send_job_status(outcome.status, outcome.job_id, outcome.job_type, outcome.message)

    async def _send_job_status(self, status: JobState, job_id: str, job_type: str, text: str) -> bool:
        """Send one job's status; False when the client has already gone."""
        return await self.send_frame(job_status_frame(status, job_id, job_type, text))
