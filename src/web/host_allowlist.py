"""Requests must name one allowed host (``ALLOWED_HOSTS``): Starlette's ``TrustedHostMiddleware`` decides.

A request whose ``Host`` is not allowed gets HTTP 400, as the middleware answers it. A WebSocket handshake is
refused by the same rule before the socket opens, with HTTP 403: it is closed before being accepted (the way
the ASGI spec refuses a handshake; uvicorn's default WebSocket protocol logs an error for a handshake answered
with a 400 response body). This stops DNS rebinding: a page on a domain rebound to 127.0.0.1 still names its own
domain as the host. A request with more than one ``Host`` header is malformed (RFC 9112 §3.2) and refused the
same ways, whatever its path: the middleware would read only the first.
"""

from collections.abc import Callable, Collection, Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where the rule marks a handshake whose host it allows.
HOST_ALLOWED = "host_allowed"


async def mark_allowed(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind the rule: reached only when the host is allowed."""
    scope[HOST_ALLOWED] = True


async def nothing_to_receive() -> Message:
    raise RuntimeError("the host rule reads no messages")


async def discard(message: Message) -> None:
    """The rule's own 400 answer is not sent: a refused handshake is closed instead."""


async def refuse_before_accept(receive: Receive, send: Send) -> None:
    """Close a handshake before accepting it: the server answers it with HTTP 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})


def host_headers(scope: Scope) -> int:
    """How many ``Host`` headers the request carries."""
    return sum(1 for name, _ in scope.get("headers", ()) if name.lower() == b"host")


#: What a request naming a host not allowed, or several hosts, gets: the middleware's own answer.
INVALID_HOST = PlainTextResponse("Invalid host header", status_code=400)


class HostAllowlist:
    """ASGI middleware: HTTP requests through ``TrustedHostMiddleware``; WebSocket handshakes by its rule.

    ``probes`` (the liveness and readiness paths) are answered whatever the host: a load balancer's or an
    orchestrator's probe names the server by its address, and they tell nothing a rebound page could use. A
    request with more than one ``Host`` header is refused whatever its path. ``on_refused_socket`` is called for
    each handshake refused (the metrics count it).
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str],
        probes: Collection[str] = (),
        on_refused_socket: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.probes = frozenset(probes)
        self.on_refused_socket = on_refused_socket
        self.http = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts, www_redirect=False)
        self.rule = TrustedHostMiddleware(mark_allowed, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            if host_headers(scope) > 1:
                await INVALID_HOST(scope, receive, send)
                return
            checked = self.app if scope.get("path") in self.probes else self.http
            await checked(scope, receive, send)
            return
        if host_headers(scope) <= 1:  # the rule would read only the first of several
            await self.rule(scope, nothing_to_receive, discard)
            if scope.pop(HOST_ALLOWED, False):
                await self.app(scope, receive, send)
                return
        if self.on_refused_socket is not None:
            self.on_refused_socket()
        await refuse_before_accept(receive, send)
