"""Transactions that save the worker a round trip: a publish riding in one written elsewhere, and one
whose replies were read ahead of time.

Both work on transactions ARQ's worker writes itself (``finish_job``'s and ``run_job``'s first),
through the pipelines its pool hands out, so ARQ's own code still decides what is written. Beneath
redis-py's public API: ``Pipeline``'s constructor, ``command_stack`` and ``reset``.
"""

import contextlib
from collections.abc import Iterator
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline


@dataclass
class ReadAhead:
    """Replies to one transaction, read ahead: the first pipeline executed in its context must queue exactly
    ``commands``, and gets ``replies`` instead of Redis's."""

    commands: list[tuple[Any, ...]]
    replies: list[Any]
    used: bool = False


class ReadAheadMismatch(RuntimeError):
    """A transaction read ahead was not the one queued: nothing was sent to Redis, the replies are not used."""

    def __init__(self, read_ahead: ReadAhead, queued: list[tuple[Any, ...]]) -> None:
        super().__init__(f"read ahead for {read_ahead.commands!r}, but the transaction queued {queued!r}")
        self.read_ahead = read_ahead
        self.queued = queued


#: PUBLISH commands (channel, message) for the next pipeline opened in this context (see ``publishing``).
_riders: ContextVar[list[tuple[str, bytes]] | None] = ContextVar("riders", default=None)
#: The transaction answered without a round trip in this context (see ``read_ahead_context``).
_read_ahead: ContextVar[ReadAhead | None] = ContextVar("read_ahead", default=None)


@contextlib.contextmanager
def publishing(channel: str, message: bytes) -> Iterator[None]:
    """Within this block, the next pipeline this task opens (from ``ShortcutPipeline.of``) also publishes."""
    token = _riders.set([(channel, message)])
    try:
        yield
    finally:
        _riders.reset(token)


def read_ahead_context(read_ahead: ReadAhead) -> Context:
    """A copy of this context in which ``read_ahead`` answers its transaction: for a task to run in."""
    context = copy_context()
    context.run(_read_ahead.set, read_ahead)
    return context


class ShortcutPipeline(Pipeline):
    """A pipeline that carries riding publishes, and answers a transaction read ahead without Redis."""

    @classmethod
    def of(cls, redis: Redis, transaction: bool = True, shard_hint: str | None = None) -> "ShortcutPipeline":
        """A pipeline on ``redis``'s connections, with the publishes of an enclosing ``publishing`` block."""
        pipe = cls(redis.connection_pool, redis.response_callbacks, transaction, shard_hint)
        riders = _riders.get()
        while riders:
            pipe.publish(*riders.pop())
        return pipe

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """The read-ahead replies for the first transaction in their context; Redis's for any other.

        That first transaction must be exactly the one read ahead: if it is not, nothing is sent and
        ``ReadAheadMismatch`` is raised (its replies would be wrong, and Redis would count twice).
        """
        read_ahead = _read_ahead.get()
        if read_ahead is None or read_ahead.used:
            return await super().execute(raise_on_error)
        read_ahead.used = True
        queued = [args for args, _ in self.command_stack]
        await self.reset()  # type: ignore[no-untyped-call]
        if queued != read_ahead.commands:
            raise ReadAheadMismatch(read_ahead, queued)
        return read_ahead.replies
