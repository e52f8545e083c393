"""A Redis connection pool whose check of each connection it hands out costs no event-loop turn."""

from redis._parsers import _AsyncHiredisParser, _AsyncRESPBase
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
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


class ReadyConnectionPool(ConnectionPool):
    """redis-py's pool, checking each connection it hands out without waiting on the socket.

    redis-py 5 makes sure a pooled connection has nothing left to read by reading it with a zero
    timeout, so every command pays an extra event-loop turn and a cancelled read (redis-py 8 stops
    doing so; ARQ 0.28 needs redis-py below 6). The same check here looks at what the connection has
    already received and parsed; as in redis-py, a connection with stray data is reconnected.
    """

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        """Connect ``connection`` if it is not, and reconnect it if it holds data no command asked for."""
        await connection.connect()  # type: ignore[no-untyped-call]
        if has_unread_data(connection):
            await connection.disconnect()
            await connection.connect()  # type: ignore[no-untyped-call]
