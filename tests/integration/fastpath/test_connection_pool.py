"""The pool's check of each connection it hands out: a healthy one is reused as it is, one holding stray data
or closed by Redis is reconnected, so a command never reads another's reply."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser
from redis.asyncio import Redis

from src.fastpath.connection_pool import ReadyConnectionPool, has_unread_data


@pytest_asyncio.fixture(params=[_AsyncHiredisParser, _AsyncRESP2Parser], ids=["hiredis", "python-parser"])
async def client(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    """A client on one connection of the pool, reading replies with hiredis (redis-py's default when it is
    installed, as ARQ has it) or with redis-py's own parser."""
    redis = Redis.from_pool(ReadyConnectionPool.from_url(redis_url, max_connections=1, parser_class=request.param))
    yield redis
    await redis.aclose()


async def wait_for_unread_data(client: Redis) -> None:
    """Wait until the pooled connection has received what it was not asked to read."""
    connection = client.connection_pool._available_connections[0]
    async with asyncio.timeout(2):
        while not has_unread_data(connection):  # noqa: ASYNC110 - bytes arriving on a socket set no event
            await asyncio.sleep(0.01)


async def test_a_healthy_connection_is_handed_out_again_as_it_is(client: Redis) -> None:
    first = await client.client_id()

    assert await client.client_id() == first


async def test_a_connection_holding_a_reply_no_one_read_is_reconnected_before_its_next_command(
    client: Redis,
) -> None:
    first = await client.client_id()
    connection = await client.connection_pool.get_connection()
    await connection.send_command("ECHO", "stray")  # its reply is never read
    await client.connection_pool.release(connection)
    await wait_for_unread_data(client)

    assert await client.echo("mine") == b"mine"
    assert await client.client_id() != first


async def test_a_connection_redis_closed_is_reconnected_before_its_next_command(client: Redis, redis_url: str) -> None:
    first = await client.client_id()
    async with Redis.from_url(redis_url) as admin:
        await admin.client_kill_filter(_id=first)
    await wait_for_unread_data(client)

    assert await client.ping() is True
    assert await client.client_id() != first


async def test_a_connection_whose_parser_holds_a_reply_no_one_read_is_reconnected_before_its_next_command(
    redis_url: str,
) -> None:
    async with Redis.from_pool(ReadyConnectionPool.from_url(redis_url, max_connections=1)) as client:
        first = await client.client_id()
        connection = await client.connection_pool.get_connection()
        await connection.send_packed_command(connection.pack_commands([("ECHO", "read"), ("ECHO", "stray")]))
        async with asyncio.timeout(2):  # both replies in the socket's buffer: the parser takes them in at once
            while len(connection._reader._buffer) < len(b"$4\r\nread\r\n$5\r\nstray\r\n"):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert await connection.read_response() == b"read"  # hiredis now holds the second reply, the socket nothing
        await client.connection_pool.release(connection)

        assert await client.echo("mine") == b"mine"
        assert await client.client_id() != first
