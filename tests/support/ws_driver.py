"""A WebSocket client on httpx-ws for the real layers: every wait bounded, every frame timed."""

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from wsproto.events import BytesMessage, TextMessage

JSONFrame = dict[str, Any]
FramePredicate = Callable[[JSONFrame], bool]


@dataclass(frozen=True)
class Frame:
    """A frame the server sent: its JSON ``data`` and its arrival, ``at`` seconds after the last send."""

    data: JSONFrame
    at: float


class FrameTimeout(AssertionError):
    """The expected frame did not arrive in time; the message lists what did arrive."""


@dataclass(frozen=True)
class _Ended:
    """The reader's last item: why the socket stopped delivering frames."""

    error: BaseException


class JobSocket:
    """An open socket to the server: send frames, receive them with timeouts, read them back with times."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: Mapping[str, str] | None = None) -> None:
        self._client = client
        self._url = url
        self._headers = dict(headers or {})
        self._stack = AsyncExitStack()
        self._session: AsyncWebSocketSession | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: deque[Frame | _Ended] = deque()
        self._arrived = asyncio.Condition()
        self._sent_at = time.monotonic()
        #: Every frame received so far, in arrival order.
        self.frames: list[Frame] = []

    async def __aenter__(self) -> Self:
        session: AsyncWebSocketSession = await self._stack.enter_async_context(
            aconnect_ws(self._url, self._client, keepalive_ping_interval_seconds=None, headers=self._headers)
        )
        self._session = session
        self._sent_at = time.monotonic()
        self._reader = asyncio.create_task(self._read(session), name=f"JobSocket reader {self._url}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        try:
            await self._stack.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # httpx-ws wraps whatever leaves its block in an exception group: let the test's own error
            # (an AssertionError, say) propagate as itself.
            if exc is None or _leaves(group) != [exc]:
                raise

    @property
    def data(self) -> list[JSONFrame]:
        """The JSON of every frame received so far, in arrival order."""
        return [frame.data for frame in self.frames]

    async def send(self, frame: JSONFrame) -> None:
        """Send ``frame`` as a JSON text frame."""
        await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        """Send a text frame, as is."""
        self._sent_at = time.monotonic()
        await self._open_session().send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self._sent_at = time.monotonic()
        await self._open_session().send_bytes(data)

    async def receive(self, timeout: float) -> JSONFrame:
        """The next frame; ``FrameTimeout`` after ``timeout``, ``WebSocketDisconnect`` once closed."""
        frame = await self._next(timeout)
        if frame is None:
            raise FrameTimeout(f"no frame within {timeout}s; received so far: {self.data}")
        return frame.data

    async def receive_until(self, predicate: FramePredicate, timeout: float) -> list[JSONFrame]:
        """Frames up to and including the first that matches, all within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        collected: list[JSONFrame] = []
        while True:
            frame = await self._next(max(deadline - time.monotonic(), 0.0))
            if frame is None:
                raise FrameTimeout(f"no matching frame within {timeout}s; received meanwhile: {collected}")
            collected.append(frame.data)
            if predicate(frame.data):
                return collected

    async def receive_nothing(self, timeout: float = 0.2) -> bool:
        """Whether no frame (and no close) arrives within ``timeout``; an early one stays to be received."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: bool(self._pending))
        except TimeoutError:
            return True
        return False

    async def receive_close(self, timeout: float) -> int:
        """The close code, once the server closes the socket; fails if a frame comes instead."""
        try:
            frame = await self._next(timeout)
        except WebSocketDisconnect as closed:
            return closed.code
        if frame is None:
            raise FrameTimeout(f"the server did not close the socket within {timeout}s")
        raise AssertionError(f"expected the server to close the socket, got the frame {frame.data}")

    async def _next(self, timeout: float) -> Frame | None:
        """The next frame, recorded in ``frames``; None on timeout; raises why the socket ended."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: bool(self._pending))
        except TimeoutError:
            return None
        item = self._pending[0]
        if isinstance(item, _Ended):
            raise item.error  # left in place: every later receive says the same
        self._pending.popleft()
        self.frames.append(item)
        return item

    async def _read(self, session: AsyncWebSocketSession) -> None:
        """Take each frame off the wire as it arrives and timestamp it, whether or not a test is waiting."""
        while True:
            item: Frame | _Ended
            try:
                event = await session.receive()
                arrived = time.monotonic()
                if isinstance(event, TextMessage):
                    item = Frame(json.loads(event.data), at=arrived - self._sent_at)
                elif isinstance(event, BytesMessage):
                    item = _Ended(TypeError(f"the server sent a binary frame: {event.data!r}"))
                else:
                    continue
            except Exception as error:  # the close (WebSocketDisconnect), a network error, bad JSON
                item = _Ended(error)
            async with self._arrived:
                self._pending.append(item)
                self._arrived.notify_all()
            if isinstance(item, _Ended):
                return

    def _open_session(self) -> AsyncWebSocketSession:
        """The session, once the socket is open."""
        if self._session is None:
            raise RuntimeError("use JobSocket as `async with JobSocket(client, url) as ws:`")
        return self._session


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside ``group`` and its nested groups."""
    leaves: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            leaves.extend(_leaves(error))
        else:
            leaves.append(error)
    return leaves
