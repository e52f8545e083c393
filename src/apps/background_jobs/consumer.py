"""Background Jobs Consumer: queues ARQ jobs for a socket and relays their outcomes to it."""

import asyncio
import contextlib
from typing import Any, ClassVar, cast

import structlog
from chanx.core.decorators import channel, event_handler, ws_handler
from chanx.messages.base import BaseMessage
from chanx.messages.incoming import PingMessage
from chanx.messages.outgoing import ErrorMessage, PongMessage
from pydantic import ValidationError
from pydantic_core import InitErrorDetails

from src.apps.background_jobs.job_types import job_type_of, resolve_job_type
from src.apps.background_jobs.messages import (
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
    ProgressUpdate,
    already_cancelled_text,
    already_finished_text,
    cancel_error_text,
    job_status_frame,
    lookup_error_text,
    no_job_to_cancel_text,
    not_found_text,
    progress_frame,
    queue_error_text,
    queued_text,
    queuing_text,
    too_many_jobs_text,
    too_many_user_jobs_text,
)
from src.apps.background_jobs.outcomes import cancelled_outcome, stored_outcome
from src.apps.background_jobs.wire_text import lone_surrogate
from src.base_consumer import BaseConsumer
from src.layers import JOBS_LAYER_ALIAS
from src.ops.metrics import WebMetrics
from src.speedups import SpeedUps
from src.web.admission import Admission, Refusal
from src.web.host_allowlist import refuse_before_accept
from src.web.job_queue import JobQueue, QueueError, new_job_id
from src.web.lookup import bounded, look_up
from src.web.origin_check import header, origin_allowed
from src.web.ownership import JobOwnership
from src.web.pending import PendingJobs
from src.web.token_auth import USER, JwtAuthenticator
from src.web.token_expiry import TOKEN_EXPIRED, TOKEN_EXPIRED_REASON, close_at_expiry, expired
from src.web.user_limits import UserLimits

logger = structlog.stdlib.get_logger(__name__)

TRY_AGAIN_LATER = 1013
#: RFC 6455's close code for a message too big to process (what uvicorn sends over ``--ws-max-size``).
MESSAGE_TOO_BIG = 1009
UNAVAILABLE_TEXT = "The job queue is unavailable; try again shortly."
QUEUE_UNAVAILABLE = Refusal("queue_unavailable", UNAVAILABLE_TEXT)


def user_sockets_text(limit: int) -> str:
    """Why a handshake over ``MAX_SOCKETS_PER_USER`` is refused."""
    return f"This user holds its most sockets ({limit}); close one and try again."


def content_too_long(content: str, max_length: int) -> ValidationError:
    """The validation error pydantic gives for a ``max_length`` string field, for ``payload.content``."""
    return ValidationError.from_exception_data(
        "JobMessage",
        [
            {
                "type": "string_too_long",
                "loc": ("job", "payload", "content"),
                "input": content,
                "ctx": {"max_length": max_length},
            }
        ],
    )


def jobs_of(scope: Any) -> JobQueue:
    """The job queue of the app serving ``scope``."""
    return cast(JobQueue, scope["app"].state.jobs)


def speedups_of(scope: Any) -> SpeedUps | None:
    """The fast path of the app serving ``scope`` (None when it is off)."""
    return cast(SpeedUps | None, scope["app"].state.speedups)


def metrics_of(scope: Any) -> WebMetrics:
    """The metrics of the app serving ``scope``."""
    return cast(WebMetrics, scope["app"].state.metrics)


def user_of_scope(scope: Any) -> str | None:
    """The user the socket's token named (None with authentication off)."""
    user: str | None = scope.get(USER)
    return user


def ownership_of(scope: Any) -> JobOwnership:
    """Whose jobs are whose, for the app serving ``scope``."""
    return cast(JobOwnership, scope["app"].state.ownership)


def admission_of(scope: Any) -> Admission:
    """What the app serving ``scope`` takes on: its sockets and its enqueue backlog."""
    return cast(Admission, scope["app"].state.admission)


def user_limits_of(scope: Any) -> UserLimits:
    """The per-user limits of the app serving ``scope`` (there with authentication on)."""
    return cast(UserLimits, scope["app"].state.user_limits)


def client_address(scope: Any) -> str | None:
    """The address of the socket's client, as ``MAX_SOCKETS_PER_CLIENT`` counts it (behind a proxy that uvicorn's
    ``--forwarded-allow-ips`` trusts, the client the proxy names); None when the scope has none."""
    client = scope.get("client")
    return str(client[0]) if client else None


async def refuse_handshake(receive: Any, send: Any, reason: str = UNAVAILABLE_TEXT) -> None:
    """Accept the handshake and close at once with 1013 (Try Again Later), saying why.

    (A 503 through the ``websocket.http.response`` extension would read better, but
    uvicorn's default WebSocket protocol logs an error for it.)
    """
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason})


async def refuse(scope: Any, receive: Any, send: Any, refusal: Refusal) -> None:
    """Count the refusal, then close the handshake with 1013 saying why."""
    metrics_of(scope).sockets_refused.labels(refusal.reason).inc()
    await refuse_handshake(receive, send, refusal.text)


def frame_too_big(text_data: str | None, bytes_data: bytes | None, limit: int) -> bool:
    """Whether the frame is over ``limit`` bytes (text counted as UTF-8, as on the wire)."""
    if text_data is None:
        return bytes_data is not None and len(bytes_data) > limit
    if len(text_data) > limit:
        return True
    return len(text_data) * 4 > limit and len(text_data.encode(errors="surrogatepass")) > limit


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
    #: What closes the socket when its token expires; set on authenticated sockets only (``token_expiry.py``).
    _expiry: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: PendingJobs | None = None
        self._frame_counted = False
        self._malformed_frames = 0

    @property
    def pending(self) -> PendingJobs:
        """The jobs this socket waits on (made on first use: ``scope`` is set by then)."""
        return self.pending_jobs()

    def pending_jobs(self) -> PendingJobs:
        """The jobs this socket waits on, made on first use."""
        if self._pending is None:
            self._pending = PendingJobs(self.jobs.settings, self._stored_outcome, self._send_outcome)
        return self._pending

    @property
    def jobs(self) -> JobQueue:
        """The app's job queue, from the state of the app serving this socket."""
        return jobs_of(self.scope)

    @property
    def metrics(self) -> WebMetrics:
        """The app's Prometheus metrics."""
        return metrics_of(self.scope)

    @property
    def user(self) -> str | None:
        """Who the socket's token names (None with authentication off)."""
        return user_of_scope(self.scope)

    @property
    def admission(self) -> Admission:
        """The app's sockets and enqueue backlog."""
        return admission_of(self.scope)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve the socket; refuse a foreign origin and, with authentication on, a handshake without a valid token
        (both HTTP 403); close with 1013 a handshake over ``MAX_CONNECTIONS`` or ``MAX_SOCKETS_PER_CLIENT``, one while
        the job queue is unreachable, and one whose user holds ``MAX_SOCKETS_PER_USER`` sockets."""
        settings = jobs_of(scope).settings
        if not origin_allowed(scope, settings.allowed_origins, settings.trusted_hosts):
            logger.warning("refusing a WebSocket from a foreign origin", origin=header(scope, b"origin"))
            metrics_of(scope).sockets_refused.labels("origin").inc()
            await refuse_before_accept(receive, send)
            return
        if settings.auth_enabled and not await self._authenticated(scope):
            metrics_of(scope).sockets_refused.labels("token").inc()
            await refuse_before_accept(receive, send)
            return
        admission = admission_of(scope)
        client = client_address(scope) if settings.max_sockets_per_client is not None else None
        refusal = admission.open_socket(client)
        if refusal is not None:
            await refuse(scope, receive, send, refusal)
            return
        lease: str | None = None  # with authentication on, the socket's lease on one of its user's sockets
        try:
            if not await jobs_of(scope).is_available():
                logger.warning("refusing a WebSocket: the job queue is unavailable")
                await refuse(scope, receive, send, QUEUE_UNAVAILABLE)
                return
            user = user_of_scope(scope)
            if user is not None:
                lease = await self._lease_for(user, scope, receive, send)
                if lease is None:
                    return
            fast = speedups_of(scope)
            if fast is None:
                await super().__call__(scope, receive, send)
            else:
                await fast.serve_consumer(self, scope, receive, send)
        finally:
            admission.close_socket(client)
            if lease is not None:
                await user_limits_of(scope).release_socket(lease)

    async def _lease_for(self, user: str, scope: Any, receive: Any, send: Any) -> str | None:
        """A lease on one of ``user``'s ``MAX_SOCKETS_PER_USER`` sockets (across the deployment); without one (None),
        the handshake is closed with 1013 saying why."""
        limits = user_limits_of(scope)
        try:
            lease = await limits.take_socket(user)
        except QueueError:
            logger.warning("refusing a WebSocket: the job queue is unavailable")
            await refuse(scope, receive, send, QUEUE_UNAVAILABLE)
            return None
        if lease is None:
            limit = limits.settings.max_sockets_per_user
            logger.info("refusing a WebSocket: its user holds MAX_SOCKETS_PER_USER sockets", limit=limit)
            await refuse(scope, receive, send, Refusal("user_sockets", user_sockets_text(limit)))
        return lease

    async def _authenticated(self, scope: Any) -> bool:
        """chanx's authenticator (``JwtAuthenticator``), run before the handshake is accepted."""
        return self.authenticator is None or await self.authenticator.authenticate(scope)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """Close the socket (1009) on a frame over ``WS_MAX_SIZE``, as uvicorn does. Decode any other once the
        server's enqueue backlog allows (until then the socket is not read further), answering a binary frame, one
        that is not JSON, and one holding text UTF-8 cannot carry (a lone surrogate) with chanx's error frame."""
        self._frame_counted = False
        limit = self.jobs.settings.ws_max_size
        if frame_too_big(text_data, bytes_data, limit):
            logger.info("closing a socket that sent a frame over WS_MAX_SIZE", limit=limit)
            await self.close(MESSAGE_TOO_BIG, f"frame over {limit} bytes")
            return
        await self.admission.wait_for_room()
        if text_data is None:
            await self._refuse_malformed("binary frames are not supported", text_data)
            return
        try:
            content = await self.decode_json(text_data)
        except Exception as exc:  # json.loads: ValueError, or RecursionError for JSON nested too deep
            await self._refuse_malformed(str(exc), text_data)
            return
        # A lone surrogate comes only from a \u escape: a frame without one is not searched.
        if "\\u" in text_data and (surrogate := lone_surrogate(content)) is not None:
            await self.handle_validation_error(surrogate.validation_error())
            return
        await self.receive_json(content, **kwargs)

    async def _refuse_malformed(self, reason: str, text_data: str | None) -> None:
        """Answer a frame that is not JSON text as chanx does, logging the socket's first such frame (the others are
        counted, and their number logged when the socket closes)."""
        self._malformed_frames += 1
        if self._malformed_frames == 1:
            logger.warning("malformed frame", reason=reason)
        error = InitErrorDetails(type="json_invalid", loc=(), input=text_data, ctx={"error": reason})
        await self.handle_validation_error(ValidationError.from_exception_data("Envelope", [error]))

    async def receive_message(self, message: BaseMessage) -> None:
        """Count the frame by its action, then handle it."""
        self._count_frame(str(getattr(message, "action", "unknown")))
        await super().receive_message(message)

    async def handle_validation_error(self, error: ValidationError) -> None:
        """Count a frame that is not one of the protocol's as ``invalid``, then answer it with chanx's error."""
        self._count_frame("invalid")
        await super().handle_validation_error(error)

    def _count_frame(self, action: str) -> None:
        if not self._frame_counted:
            self._frame_counted = True
            self.metrics.frames_received.labels(action).inc()

    async def post_authentication(self) -> None:
        """Send the connection-established status; with a token, close the socket when it expires."""
        await self.send_message(JobStatusMessage(payload=ConnectedStatus()))
        self._expiry = close_at_expiry(self.scope, self._close_expired)

    async def websocket_receive(self, message: Any) -> None:
        """Handle a frame, unless the socket's token has expired: then close the socket instead."""
        if self._expiry is not None and expired(self.scope):
            await self._close_expired()
            return
        await super().websocket_receive(message)

    async def _close_expired(self) -> None:
        """Close the socket with 4401 "token expired" (unless it is closed already)."""
        if self._closed:
            return
        logger.info("closing a socket: its token has expired")
        # The client may have gone meanwhile: uvicorn raises ClientDisconnected (an OSError) for the close, or,
        # once it has handed the loop the disconnect this close's timer ran ahead of, RuntimeError.
        with contextlib.suppress(OSError, RuntimeError):
            await self.close(TOKEN_EXPIRED, TOKEN_EXPIRED_REASON)

    async def send_json(self, content: dict[str, Any], close: bool = False) -> None:
        """Send a frame, unless the socket has been closed meanwhile (its token expired while a handler ran)."""
        if not self._closed:
            await super().send_json(content, close)

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
        """Queue the job and tell the client, unless the content is too long."""
        await self.queue_job(message)

    async def queue_job(self, message: JobMessage) -> None:
        """Queue the job and tell the client, unless the content is too long."""
        received_at = asyncio.get_running_loop().time()
        metrics = self.metrics
        content = message.payload.content
        max_length = self.jobs.settings.max_content_length
        if len(content) > max_length:
            metrics.jobs_refused.labels("content_too_long").inc()
            await self.handle_validation_error(content_too_long(content, max_length))
            return

        job_type = resolve_job_type(message.payload.type)
        try:
            job_id = await ownership_of(self.scope).new_job_id(job_type, self.user)
        except QueueError as exc:  # the owners' key could not be read from Redis
            metrics.jobs_refused.labels(exc.reason).inc()
            await self._send_job_status("error", new_job_id(job_type), job_type, queue_error_text(str(exc)))
            return
        limit = self.jobs.settings.max_jobs_in_flight
        if self.pending.in_flight >= limit:
            metrics.jobs_refused.labels("too_many_in_flight").inc()
            await self._send_job_status("error", job_id, job_type, too_many_jobs_text(limit))
            return

        self.pending.queuing(job_id)
        try:
            with self.admission.enqueueing():
                if not await self._send_job_status("queuing", job_id, job_type, queuing_text(job_type, content)):
                    logger.info("client left before its job was queued; not queued", job_id=job_id)
                    return
                user = self.user
                if user is not None and not await self._reserve(user, job_id, job_type):
                    return
                try:
                    with metrics.enqueue_latency.time():
                        await self.jobs.enqueue(job_type, job_id, content, self.channel_name)
                except QueueError as exc:
                    if user is not None:
                        await user_limits_of(self.scope).release_job(user, job_id)
                    metrics.jobs_refused.labels(exc.reason).inc()
                    await self._send_job_status("error", job_id, job_type, queue_error_text(str(exc)))
                    return
            metrics.jobs_queued.labels(job_type).inc()
            if await self._send_job_status("queued", job_id, job_type, queued_text(job_id)):
                self.pending.queued(job_id, job_type, received_at)
            else:
                logger.info("client left after its job was queued; the job still runs", job_id=job_id)
        finally:
            self.pending.release(job_id)

    async def _reserve(self, user: str, job_id: str, job_type: str) -> bool:
        """Count the job among ``user``'s jobs queued or running (``MAX_JOBS_PER_USER``, across the deployment); when
        it may not be queued, tell the client why and return False."""
        limits = user_limits_of(self.scope)
        try:
            if await limits.reserve_job(user, job_id):
                return True
            reason, text = "too_many_for_user", too_many_user_jobs_text(limits.settings.max_jobs_per_user)
        except QueueError as exc:
            reason, text = exc.reason, queue_error_text(str(exc))
        self.metrics.jobs_refused.labels(reason).inc()
        await self._send_job_status("error", job_id, job_type, text)
        return False

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
        return await self.look_up(message.payload.job_id)

    async def look_up(self, job_id: str) -> JobStatusMessage:
        """Answer with the job's status as ARQ knows it (another user's job is not found)."""
        try:
            if not await ownership_of(self.scope).owns(self.user, job_id):
                return self._status("not_found", job_id, not_found_text(job_id))
            await self.pending.queuing_done(job_id)
            status = await bounded(look_up(self.jobs.pool, self.jobs.settings.queue_name, job_id), self._timeout)
        except QueueError as exc:
            return self._status("error", job_id, lookup_error_text(str(exc)))
        return JobStatusMessage(payload=status)

    @ws_handler(
        summary="Cancel a job",
        description=(
            "Cancel a queued or running job (ARQ's abort): job_status cancelled, and no result frame for it "
            "afterwards. Cancelling a finished or unknown job gets job_status error saying why."
        ),
        output_type=JobStatusMessage,
    )
    async def handle_cancel(self, message: CancelMessage) -> JobStatusMessage:
        """Record the abort of a job that is queued or running; say why not otherwise."""
        return await self.cancel(message.payload.job_id)

    async def cancel(self, job_id: str) -> JobStatusMessage:
        """Record the abort of a job that is queued or running; say why not otherwise (another user's job is not
        there to cancel)."""
        queue_name = self.jobs.settings.queue_name
        try:
            if not await ownership_of(self.scope).owns(self.user, job_id):
                return self._status("error", job_id, no_job_to_cancel_text(job_id))
            await self.pending.queuing_done(job_id)
            status = await bounded(look_up(self.jobs.pool, queue_name, job_id), self._timeout)
        except QueueError as exc:
            return self._status("error", job_id, cancel_error_text(str(exc)))
        if status.status == "not_found":
            return self._status("error", job_id, no_job_to_cancel_text(job_id))
        if status.status == "cancelled":
            return self._status("error", job_id, already_cancelled_text(job_id))
        if status.status in ("result", "error"):
            return self._status("error", job_id, already_finished_text(job_id))

        withdrawn = self.pending.withdraw(job_id)  # from here on, its outcome is not sent
        try:
            await bounded(self.jobs.request_abort(job_id), self._timeout)
        except QueueError as exc:
            if withdrawn is not None:
                self.pending.restore(job_id, withdrawn)
            return self._status("error", job_id, cancel_error_text(str(exc)))
        logger.info("job cancelled", job_id=job_id, was=status.status)
        if withdrawn is not None:
            self._count_outcome(status.job_type, "cancelled", withdrawn.received_at)
        return JobStatusMessage(payload=JobStatus(**cancelled_outcome(job_id, status.job_type).model_dump()))

    @event_handler(output_type=JobStatusMessage)
    async def handle_job_result(self, event: JobResult) -> None:
        """Relay a worker's outcome after the job's ``queued`` frame, once (it may have been recovered)."""
        await self.relay_outcome(event.payload)

    async def relay_outcome(self, outcome: JobOutcome) -> None:
        """Relay a worker's outcome after the job's ``queued`` frame, once (it may have been recovered)."""
        job = await self.pending.claim(outcome.job_id)
        if job is not None:
            self._count_outcome(outcome.job_type, outcome.status, job.received_at)
            await self._send_outcome(outcome)

    @event_handler(output_type=JobStatusMessage)
    async def handle_job_progress(self, event: JobProgress) -> None:
        """Relay a running job's progress after its ``queued`` frame and before its outcome, never going down."""
        await self.relay_progress(event.payload)

    async def relay_progress(self, update: ProgressUpdate) -> None:
        """Relay a running job's progress after its ``queued`` frame and before its outcome, never going down."""
        if await self.pending.advance(update.job_id, update.progress):
            await self._send_frame(progress_frame(update))

    async def websocket_disconnect(self, message: Any) -> None:
        """Stop recovering outcomes, and the token's timer, for a socket that is gone; say how many malformed frames
        it sent, if many."""
        if self._pending is not None:
            self._pending.close()
        if self._expiry is not None:
            self._expiry.cancel()
        if self._malformed_frames > 1:
            logger.warning("the socket sent malformed frames", count=self._malformed_frames)
        await super().websocket_disconnect(message)

    @property
    def _timeout(self) -> float:
        """Seconds the socket waits on Redis for a lookup or a cancel."""
        return self.jobs.settings.enqueue_timeout

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
        metrics = self.metrics
        metrics.outcomes.labels(job_type, status).inc()
        metrics.outcome_latency.labels(job_type).observe(asyncio.get_running_loop().time() - received_at)

    async def _send_outcome(self, outcome: JobOutcome) -> None:
        """Send a recovered outcome as the job's last frame."""
        await self._send_job_status(outcome.status, outcome.job_id, outcome.job_type, outcome.message)

    async def _send_job_status(self, status: JobState, job_id: str, job_type: str, text: str) -> bool:
        """Send one job's status; False when the client has already gone."""
        return await self._send_frame(job_status_frame(status, job_id, job_type, text))

    async def _send_frame(self, frame: dict[str, Any]) -> bool:
        """Send one frame; False when the client has already gone."""
        if self._closed:
            return False
        try:
            await self.send_json(frame)
        except OSError:
            return False
        return True
