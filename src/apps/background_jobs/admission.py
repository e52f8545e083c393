"""What one server takes on: sockets up to ``MAX_CONNECTIONS``, and frames while its enqueue backlog allows.

A busy server answers later rather than refusing: while ``MAX_ENQUEUE_BACKLOG`` jobs are taken and not
yet written to Redis, sockets' next frames wait unread (the server stops reading them, and TCP pushes
back on the clients), and are read once the backlog drains.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from src.settings import Settings


class Admission:
    """One server's open sockets and enqueue backlog, against the settings' bounds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sockets = 0
        self.backlog = 0
        self._room = asyncio.Event()
        self._room.set()

    def open_socket(self) -> bool:
        """Count a new socket, unless the server holds ``MAX_CONNECTIONS`` already (then False)."""
        if self.sockets >= self.settings.max_connections:
            return False
        self.sockets += 1
        return True

    def close_socket(self) -> None:
        """A socket counted by ``open_socket`` is gone."""
        self.sockets -= 1

    @contextmanager
    def enqueueing(self) -> Iterator[None]:
        """Count one job in the backlog while it is being queued."""
        self.take_on()
        try:
            yield
        finally:
            self.hand_off()

    def take_on(self) -> None:
        """One more job in the backlog; at ``MAX_ENQUEUE_BACKLOG``, sockets wait before their next frame."""
        self.backlog += 1
        if self.backlog >= self.settings.max_enqueue_backlog:
            self._room.clear()

    def hand_off(self) -> None:
        """A job has left the backlog (queued or refused); under the bound, sockets are read again."""
        self.backlog -= 1
        if self.backlog < self.settings.max_enqueue_backlog:
            self._room.set()

    async def wait_for_room(self) -> None:
        """Return once the backlog is under ``MAX_ENQUEUE_BACKLOG`` (at once when it is)."""
        await self._room.wait()
