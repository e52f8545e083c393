"""A Redis connection pool whose check of each connection it hands out costs no event-loop turn, and whose
connections pack commands in C."""

from typing import Any

import hiredis
from redis._parsers import _AsyncHiredisParser, _AsyncRESPBase
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection, Connection
from redis.exceptions import ConnectionError as RedisConnectionError


class UnknownParser(TypeError):
    """The connection's parser is of a class this check was not written for."""


def has_unread_data(connection: AbstractConnection) -> bool:
    """Whether connected ``connection`` holds data no command asked for: bytes received or parsed, or the stream's end.

    Reads redis-py 5's private state directly (no defaults), so a rename fails loudly, not silently.
    """
    stream = connection._reader
    if stream is None:
        raise RedisConnectionError("the connection is not connected")
    if stream.at_eof() or not connection._socket_is_empty():  # type: ignore[no-untyped-call]
        return True
    parser = connection._parser
    if isinstance(parser, _AsyncHiredisParser):
        return bool(parser._reader.has_data())  # type: ignore[attr-defined]
    if isinstance(parser, _AsyncRESPBase):
        return bool(parser._buffer)
    raise UnknownParser(f"no check for data held by a {type(parser).__qualname__}")


class HiredisPacking(AbstractConnection):
    """A connection that packs a command with ``hiredis.pack_command``, as redis-py's synchronous client does.

    redis-py's asyncio connections pack in Python, argument by argument (a third of a job's finishing
    transaction, measured). hiredis writes the same bytes for ``str`` (UTF-8, strictly), ``bytes`` and
    ``int``; a command with any other argument (a float, a bool, a memoryview, an int subclass), or on a
    connection whose encoder is not strict UTF-8, is packed by redis-py, errors and all.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        """The command in the Redis protocol, in one piece when hiredis can pack all of it."""
        encoder = self.encoder
        if encoder.encoding != "utf-8" or encoder.encoding_errors != "strict":
            return super().pack_command(*args)
        name = args[0]
        if type(name) is str:  # as redis-py does: 'CONFIG GET' is two arguments
            packed = (*name.encode().split(), *args[1:])
        elif type(name) is bytes:
            packed = (*name.split(), *args[1:]) if b" " in name else args
        else:
            return super().pack_command(*args)
        for argument in packed:
            kind = type(argument)
            if kind is not bytes and kind is not str and kind is not int:
                return super().pack_command(*args)
        return [hiredis.pack_command(packed)]


_packing_classes: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def packing_class(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` packing its commands with hiredis (one subclass per class)."""
    if issubclass(connection_class, HiredisPacking):
        return connection_class
    if connection_class not in _packing_classes:
        _packing_classes[connection_class] = type(
            f"HiredisPacking{connection_class.__name__}", (HiredisPacking, connection_class), {}
        )
    return _packing_classes[connection_class]


class ReadyConnectionPool(ConnectionPool):
    """redis-py's pool, checking each connection it hands out without waiting on the socket; its connections pack
    commands with hiredis (``HiredisPacking``).

    redis-py 5 makes sure a pooled connection has nothing left to read by reading it with a zero
    timeout, so every command pays an extra event-loop turn and a cancelled read (redis-py 8 stops
    doing so; ARQ 0.28 needs redis-py below 6). The same check here looks at what the connection has
    already received and parsed; as in redis-py, a connection with stray data is reconnected.
    """

    def __init__(
        self, connection_class: type[AbstractConnection] = Connection, max_connections: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(packing_class(connection_class), max_connections, **kwargs)

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        """Connect ``connection`` if it is not, and reconnect it if it holds data no command asked for."""
        await connection.connect()  # type: ignore[no-untyped-call]
        if has_unread_data(connection):
            await connection.disconnect()
            await connection.connect()  # type: ignore[no-untyped-call]
