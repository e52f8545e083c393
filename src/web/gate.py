"""The gate in front of the consumer: whether a handshake may open a socket, decided before a consumer is made.

The Host has been checked already (``HostAllowlist``, the app's outermost layer, for every request). Then, in
order: the ``Origin`` (a browser's page must be on an allowed host and port, or listed), the token (with
authentication on: what chanx's authenticator hook, ``JwtAuthenticator``, asks), this server's capacity
(``MAX_CONNECTIONS``, and ``MAX_SOCKETS_PER_CLIENT`` when set), whether the job queue answers, and the user's
sockets across the deployment (``MAX_SOCKETS_PER_USER``). A foreign origin and a bad token are closed before they
are accepted (HTTP 403); the others are accepted and closed at once with 1013 (Try Again Later), saying why. Each
refusal is counted by its reason.
"""

import structlog
from fast_channels.consumer.base import AsyncConsumer
from starlette.types import ASGIApp, Receive, Scope, Send

from src.ops.metrics import WebMetrics
from src.parts import Parts
from src.settings import Settings
from src.web.admission import Admission, Refusal
from src.web.host_allowlist import refuse_before_accept
from src.web.job_queue import JobQueue, QueueError
from src.web.origin_check import header, origin_allowed
from src.web.token_auth import USER, authenticated
from src.web.user_limits import UserLimits

logger = structlog.stdlib.get_logger(__name__)

TRY_AGAIN_LATER = 1013
UNAVAILABLE_TEXT = "The job queue is unavailable; try again shortly."
QUEUE_UNAVAILABLE = Refusal("queue_unavailable", UNAVAILABLE_TEXT)


def user_sockets_text(limit: int) -> str:
    """Why a handshake over ``MAX_SOCKETS_PER_USER`` is refused."""
    return f"This user holds its most sockets ({limit}); close one and try again."


def client_address(scope: Scope) -> str | None:
    """The address of the socket's client, as ``MAX_SOCKETS_PER_CLIENT`` counts it (behind a proxy that uvicorn's
    ``--forwarded-allow-ips`` trusts, the client the proxy names); None when the scope has none."""
    client = scope.get("client")
    return str(client[0]) if client else None


async def close_with_1013(receive: Receive, send: Send, reason: str) -> None:
    """Accept the handshake and close at once with 1013 (Try Again Later), saying why.

    (A 503 through the ``websocket.http.response`` extension would read better, but
    uvicorn's default WebSocket protocol logs an error for it.)
    """
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason})


class SocketGate:
    """ASGI app: serves a handshake that passes every check with a new ``consumer_class`` (on the socket loop
    ``parts`` bring); refuses the others, saying why."""

    def __init__(
        self,
        consumer_class: type[AsyncConsumer],
        parts: Parts,
        *,
        settings: Settings,
        jobs: JobQueue,
        admission: Admission,
        user_limits: UserLimits | None,
        metrics: WebMetrics,
    ) -> None:
        #: What chanx's AsyncAPI discovery reads off a route's endpoint, as off ``as_asgi()``'s.
        self.consumer_class = consumer_class
        self.consumer_app: ASGIApp = parts.consumer_app(consumer_class)
        self.settings = settings
        self.jobs = jobs
        self.admission = admission
        self.user_limits = user_limits
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.settings
        if not origin_allowed(scope, settings.allowed_origins, settings.trusted_hosts):
            logger.warning("refusing a WebSocket from a foreign origin", origin=header(scope, b"origin"))
            await self._close_before_accept("origin", receive, send)
            return
        if not authenticated(scope, settings):
            await self._close_before_accept("token", receive, send)
            return
        client = client_address(scope) if settings.max_sockets_per_client is not None else None
        refusal = self.admission.open_socket(client)
        if refusal is not None:
            await self._refuse(refusal, receive, send)
            return
        lease: str | None = None  # with authentication on, this socket's lease on one of its user's sockets
        try:
            if not await self.jobs.is_available():
                logger.warning("refusing a WebSocket: the job queue is unavailable")
                await self._refuse(QUEUE_UNAVAILABLE, receive, send)
                return
            user: str | None = scope.get(USER)
            if user is not None:
                lease = await self._lease_for(user, receive, send)
                if lease is None:
                    return
            await self.consumer_app(scope, receive, send)
        finally:
            self.admission.close_socket(client)
            if lease is not None and self.user_limits is not None:
                await self.user_limits.release_socket(lease)

    async def _lease_for(self, user: str, receive: Receive, send: Send) -> str | None:
        """A lease on one of ``user``'s ``MAX_SOCKETS_PER_USER`` sockets (across the deployment); without one (None),
        the handshake is closed with 1013 saying why."""
        assert self.user_limits is not None, "a user without authentication"
        try:
            lease = await self.user_limits.take_socket(user)
        except QueueError:
            logger.warning("refusing a WebSocket: the job queue is unavailable")
            await self._refuse(QUEUE_UNAVAILABLE, receive, send)
            return None
        if lease is None:
            limit = self.settings.max_sockets_per_user
            logger.info("refusing a WebSocket: its user holds MAX_SOCKETS_PER_USER sockets", limit=limit)
            await self._refuse(Refusal("user_sockets", user_sockets_text(limit)), receive, send)
        return lease

    async def _close_before_accept(self, reason: str, receive: Receive, send: Send) -> None:
        """Count the refusal, then close the handshake before accepting it (the server answers HTTP 403)."""
        self.metrics.sockets_refused.labels(reason).inc()
        await refuse_before_accept(receive, send)

    async def _refuse(self, refusal: Refusal, receive: Receive, send: Send) -> None:
        """Count the refusal, then close the handshake with 1013 saying why."""
        self.metrics.sockets_refused.labels(refusal.reason).inc()
        await close_with_1013(receive, send, refusal.text)
