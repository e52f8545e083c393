"""What one server takes on: sockets up to ``MAX_CONNECTIONS`` (and ``MAX_SOCKETS_PER_CLIENT`` from one address, when
set), and frames while its enqueue backlog allows.

A busy server answers later rather than refusing: while ``MAX_ENQUEUE_BACKLOG`` jobs are taken and not
yet written to Redis, sockets' next frames wait unread (the server stops reading them, and TCP pushes
back on the clients), and are read once the backlog drains.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog

from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A handshake closed with 1013: why, as ``sockets_refused_total`` counts it, and the sentence its close carries."""

    reason: str
    text: str


def at_capacity_text(limit: int) -> str:
    """Why a handshake over ``MAX_CONNECTIONS`` is refused."""
    return f"The server holds its most sockets ({limit}); try again shortly."


def client_sockets_text(limit: int) -> str:
    """Why a handshake over ``MAX_SOCKETS_PER_CLIENT`` is refused."""
    return f"This client address holds its most sockets ({limit}); close one and try again."


class Admission:
    """One server's open sockets and enqueue backlog, against the settings' bounds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sockets = 0
        #: Open sockets by client address (counted only while ``MAX_SOCKETS_PER_CLIENT`` is set).
        self.clients: dict[str, int] = {}
        self.backlog = 0
        self._room = asyncio.Event()
        self._room.set()

    def open_socket(self, client: str | None = None) -> Refusal | None:
        """Count a new socket (and, when given, one more from the ``client`` address), unless the server holds
        ``MAX_CONNECTIONS`` sockets or the address ``MAX_SOCKETS_PER_CLIENT``: then the refusal, logged."""
        if self.sockets >= self.settings.max_connections:
            limit = self.settings.max_connections
            logger.warning("refusing a WebSocket: the server holds MAX_CONNECTIONS sockets", limit=limit)
            return Refusal("capacity", at_capacity_text(limit))
        per_client = self.settings.max_sockets_per_client
        if client is not None and per_client is not None:
            held = self.clients.get(client, 0)
            if held >= per_client:
                logger.info("refusing a WebSocket: its address holds MAX_SOCKETS_PER_CLIENT sockets", limit=per_client)
                return Refusal("client_sockets", client_sockets_text(per_client))
            self.clients[client] = held + 1
        self.sockets += 1
        return None

    def close_socket(self, client: str | None = None) -> None:
        """A socket counted by ``open_socket`` (with the same ``client``) is gone."""
        self.sockets -= 1
        if client is not None and client in self.clients:
            held = self.clients.pop(client) - 1
            if held:
                self.clients[client] = held

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
