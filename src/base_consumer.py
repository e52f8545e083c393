"""The project's base consumer: chanx's FastAPI consumer with the project's defaults, and what every socket gets
before a frame reaches a handler: a size limit, back-pressure, chanx's error frame for a frame that is not JSON or
holds text UTF-8 cannot carry, each frame counted, and its end when its token expires."""

import asyncio
import contextlib
from typing import Any, cast

import structlog
from chanx.fast_channels.websocket import AsyncJsonWebsocketConsumer
from chanx.messages.base import BaseMessage
from pydantic import ValidationError
from pydantic_core import InitErrorDetails
from typing_extensions import TypeVar

from src.apps.background_jobs.wire_text import lone_surrogate
from src.ops.metrics import WebMetrics
from src.settings import Settings
from src.web.admission import Admission
from src.web.token_expiry import TOKEN_EXPIRED, TOKEN_EXPIRED_REASON, close_at_expiry, expired

logger = structlog.stdlib.get_logger(__name__)

Event = TypeVar("Event", bound=BaseMessage, default=BaseMessage)

#: RFC 6455's close code for a message too big to process (what uvicorn sends over ``--ws-max-size``).
MESSAGE_TOO_BIG = 1009


def frame_too_big(text_data: str | None, bytes_data: bytes | None, limit: int) -> bool:
    """Whether the frame is over ``limit`` bytes (text counted as UTF-8, as on the wire)."""
    if text_data is None:
        return bytes_data is not None and len(bytes_data) > limit
    if len(text_data) > limit:
        return True
    return len(text_data) * 4 > limit and len(text_data.encode(errors="surrogatepass")) > limit


class BaseConsumer(AsyncJsonWebsocketConsumer[Event]):
    """Base for this project's consumers: no completion frames, no per-frame logging, no yield per send; and the
    guards every frame passes (the app serving the socket holds the settings, the metrics and the backlog)."""

    send_completion = False
    log_websocket_message = False
    # Frames go straight to the transport; no extra turn of the loop after each send.
    send_message_immediately = False
    #: What closes the socket when its token expires; set on authenticated sockets only (``token_expiry.py``).
    _expiry: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frame_counted = False
        self._malformed_frames = 0

    @property
    def settings(self) -> Settings:
        """The settings of the app serving this socket."""
        return cast(Settings, self.scope["app"].state.settings)

    @property
    def metrics(self) -> WebMetrics:
        """The app's Prometheus metrics."""
        return cast(WebMetrics, self.scope["app"].state.metrics)

    @property
    def admission(self) -> Admission:
        """The app's sockets and enqueue backlog."""
        return cast(Admission, self.scope["app"].state.admission)

    async def post_authentication(self) -> None:
        """With a token, close the socket when it expires."""
        self._expiry = close_at_expiry(self.scope, self._close_expired)

    async def websocket_receive(self, message: Any) -> None:
        """Handle a frame, unless the socket's token has expired: then close the socket instead."""
        if self._expiry is not None and expired(self.scope):
            await self._close_expired()
            return
        await super().websocket_receive(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """Close the socket (1009) on a frame over ``WS_MAX_SIZE``, as uvicorn does. Decode any other once the
        server's enqueue backlog allows (until then the socket is not read further), answering a binary frame, one
        that is not JSON, and one holding text UTF-8 cannot carry (a lone surrogate) with chanx's error frame."""
        self._frame_counted = False
        limit = self.settings.ws_max_size
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

    async def send_frame(self, frame: dict[str, Any]) -> bool:
        """Send one frame; False when the client has already gone."""
        if self._closed:
            return False
        try:
            await self.send_json(frame)
        except OSError:
            return False
        return True

    async def websocket_disconnect(self, message: Any) -> None:
        """Stop the token's timer for a socket that is gone; say how many malformed frames it sent, if many."""
        if self._expiry is not None:
            self._expiry.cancel()
        if self._malformed_frames > 1:
            logger.warning("the socket sent malformed frames", count=self._malformed_frames)
        await super().websocket_disconnect(message)
