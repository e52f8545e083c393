"""The fast path's check of a pooled connection reads redis-py's private state without defaults: on a parser or
a connection it was not written for, it raises instead of passing the connection as clean."""

import asyncio

import pytest
from redis._parsers import _AsyncRESP2Parser
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from src.fastpath.connection_pool import UnknownParser, has_unread_data


class SomeOtherParser:
    """A parser class the check knows nothing about (a future redis-py's, say)."""


def connection_with(parser: object) -> Connection:
    """A connection whose stream is open and empty, reading with ``parser``."""
    connection = Connection()
    connection._reader = asyncio.StreamReader()
    connection._parser = parser  # type: ignore[assignment]
    return connection


async def test_a_connection_read_by_an_unknown_parser_class_raises_rather_than_passing_as_clean() -> None:
    with pytest.raises(UnknownParser, match="SomeOtherParser"):
        has_unread_data(connection_with(SomeOtherParser()))


async def test_a_clean_connection_read_by_redis_pys_own_parser_holds_nothing_and_one_with_a_partial_reply_does() -> (
    None
):
    parser = _AsyncRESP2Parser(socket_read_size=65536)
    connection = connection_with(parser)
    assert has_unread_data(connection) is False

    parser._buffer = b"+OK"  # a reply it has started to read

    assert has_unread_data(connection) is True


async def test_a_connection_without_a_stream_is_not_taken_for_a_clean_one() -> None:
    with pytest.raises(RedisConnectionError, match=r"^the connection is not connected$"):
        has_unread_data(Connection())
