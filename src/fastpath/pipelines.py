"""Transactions that save the worker a round trip: a publish riding in one written elsewhere, and one
whose replies were read ahead of time; and transactions sent as one script, answered with one reply.

All work on transactions ARQ's worker writes itself (``finish_job``'s and ``run_job``'s first),
through the pipelines its pool hands out, so ARQ's own code still decides what is written. Beneath
redis-py's public API: ``Pipeline``'s constructor, ``command_stack``, ``reset``, ``response_callbacks`` and
``raise_first_error``, and the options a command is queued with.
"""

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

#: The commands a transaction may hold and still be sent as one script (``transaction.lua``): those of ARQ's
#: ``finish_job``, ``finish_failed_job`` and ``run_job``'s first transaction and a riding publish, each with how many
#: of its first arguments are keys (None: all of them) and how many arguments it takes, at least and at most (None:
#: no limit), as Redis's command table says. A command of another arity is refused by MULTI before EXEC, so its
#: transaction goes as MULTI/EXEC.
SCRIPTED_COMMANDS: Mapping[str, tuple[int | None, int, int | None]] = MappingProxyType(
    {
        "GET": (1, 1, 1),
        "INCRBY": (1, 2, 2),
        "EXPIRE": (1, 2, None),
        "SET": (1, 2, None),
        "PSETEX": (1, 3, 3),
        "PEXPIRE": (1, 2, None),
        "ZREM": (1, 2, None),
        "ZINCRBY": (1, 3, 3),
        "DEL": (None, 1, None),
        "PUBLISH": (0, 2, 2),
    }
)


def transaction_script_source() -> str:
    """The Lua script that runs a transaction's commands (``transaction.lua``, beside this module)."""
    return files(__package__).joinpath("transaction.lua").read_text(encoding="utf-8")


def script_call(commands: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]]) -> tuple[list[Any], list[Any]] | None:
    """The keys and arguments of ``transaction.lua`` running ``commands`` (a pipeline's command stack); None when one
    of them is not in ``SCRIPTED_COMMANDS``, has an arity Redis refuses, or is queued with an option that changes
    how it is sent."""
    keys: list[Any] = []
    arguments: list[Any] = []
    for command, options in commands:
        name, *rest = command
        if not isinstance(name, str) or name not in SCRIPTED_COMMANDS or set(options) - {"keys"}:
            return None
        key_count, fewest, most = SCRIPTED_COMMANDS[name]
        if len(rest) < fewest or (most is not None and len(rest) > most):
            return None
        key_count = len(rest) if key_count is None else key_count
        keys += rest[:key_count]
        arguments += [name, key_count, len(rest) - key_count, *rest[key_count:]]
    return keys, arguments


@dataclass
class Scripted:
    """A transaction waiting to be sent as part of ``transaction.lua``'s next call: its keys and arguments, how many
    replies are its, and the future they go to."""

    keys: list[Any]
    arguments: list[Any]
    replies: int
    answered: "asyncio.Future[list[Any]]"


class ScriptedTransactions:
    """Sends transactions as ``transaction.lua``, one pool's: a transaction goes at once when none is on its way,
    and those that come while one is go together in the next call, when it is answered.

    Each stays atomic (the script runs them one after the other, with nothing between) and keeps its own
    replies and errors (a command's error is its reply, as in EXEC); a call that fails (Redis away, after the
    client's own retries) fails every transaction in it. A busy worker thus finishes its jobs in one round
    trip per batch, not per job, and a lone job waits for nobody.
    """

    #: Transactions at most in one call.
    MAX_BATCH = 200

    def __init__(self, script: AsyncScript) -> None:
        self.script = script
        self._waiting: list[Scripted] = []
        self._sending = False
        self._batch: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to a task

    async def run(self, keys: list[Any], arguments: list[Any], replies: int) -> list[Any]:
        """Run one transaction (``script_call``'s keys and arguments, of ``replies`` commands); its replies."""
        if self._sending:
            scripted = Scripted(keys, arguments, replies, asyncio.get_running_loop().create_future())
            self._waiting.append(scripted)
            return await scripted.answered
        self._sending = True
        try:
            answer: list[Any] = await self.script(keys=keys, args=arguments)
        finally:
            self._send_waiting()
        return answer

    def _send_waiting(self) -> None:
        """Send what came meanwhile, in one call, on a task of its own; or note that nothing is on its way."""
        if not self._waiting:
            self._sending = False
            return
        batch, self._waiting = self._waiting[: self.MAX_BATCH], self._waiting[self.MAX_BATCH :]
        self._batch = asyncio.get_running_loop().create_task(self._send(batch), name="scripted transactions")

    async def _send(self, batch: list[Scripted]) -> None:
        """One call for all of ``batch``, each given its replies (or the call's error)."""
        keys: list[Any] = []
        arguments: list[Any] = []
        for scripted in batch:
            keys += scripted.keys
            arguments += scripted.arguments
        try:
            replies = await self.script(keys=keys, args=arguments)
            if len(replies) != sum(scripted.replies for scripted in batch):
                raise ResponseError("Wrong number of response items from the transactions' script")
        except BaseException as error:
            for scripted in batch:
                if not scripted.answered.done():
                    scripted.answered.set_exception(error)
            if not isinstance(error, Exception):
                raise
        else:
            at = 0
            for scripted in batch:
                if not scripted.answered.done():
                    scripted.answered.set_result(replies[at : at + scripted.replies])
                at += scripted.replies
        finally:
            self._send_waiting()


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
    """A pipeline that carries riding publishes, answers a transaction read ahead without Redis, and sends a
    transaction of ``SCRIPTED_COMMANDS`` as one script (given its pool's ``ScriptedTransactions``)."""

    #: Where a transaction of ``SCRIPTED_COMMANDS`` is sent; None sends every transaction as MULTI/EXEC.
    scripted: ScriptedTransactions | None = None

    @classmethod
    def of(
        cls,
        redis: Redis,
        transaction: bool = True,
        shard_hint: str | None = None,
        scripted: ScriptedTransactions | None = None,
    ) -> "ShortcutPipeline":
        """A pipeline on ``redis``'s connections, with the publishes of an enclosing ``publishing`` block."""
        pipe = cls(redis.connection_pool, redis.response_callbacks, transaction, shard_hint)
        pipe.scripted = scripted
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
            scriptable = (
                self.scripted is not None
                and self.is_transaction
                and not (self.watching or self.explicit_transaction or self.scripts)
            )
            if scriptable and (call := script_call(self.command_stack)) is not None:
                return await self._execute_as_script(*call, raise_on_error)
            return await super().execute(raise_on_error)
        read_ahead.used = True
        queued = [args for args, _ in self.command_stack]
        await self.reset()  # type: ignore[no-untyped-call]
        if queued != read_ahead.commands:
            raise ReadAheadMismatch(read_ahead, queued)
        return read_ahead.replies

    async def _execute_as_script(self, keys: list[Any], arguments: list[Any], raise_on_error: bool) -> list[Any]:
        """Run the transaction as ``transaction.lua``, its replies made what MULTI/EXEC's would be made."""
        assert self.scripted is not None
        commands = self.command_stack
        try:
            replies = await self.scripted.run(keys, arguments, len(commands))
        finally:
            await self.reset()  # type: ignore[no-untyped-call]
        if len(replies) != len(commands):
            raise ResponseError("Wrong number of response items from the transaction's script")
        if raise_on_error:
            self.raise_first_error(commands, replies)
        answers = []
        for reply, (command, options) in zip(replies, commands, strict=True):
            name = command[0]
            if not isinstance(reply, Exception) and name in self.response_callbacks:
                options = {key: value for key, value in options.items() if key != "keys"}
                reply = self.response_callbacks[name](reply, **options)
            answers.append(reply)
        return answers
