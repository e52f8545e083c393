"""The fast path's connections put on the wire the bytes redis-py's own packing writes, for every command ARQ and the
app send and for the arguments hiredis is not given (which redis-py packs, errors and all)."""

import re
from typing import Any

import hiredis
import pytest
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from src.fastpath.connection_pool import HiredisPacking, ReadyConnectionPool, packing_class

JOB = "default_81c2bc97d44a4c2b8e3f0a1b2c3d4e5f"

#: Commands as ARQ's worker, the fast path's scripts and the app send them, and arguments at the edges of each type.
COMMANDS: list[tuple[Any, ...]] = [
    ("MULTI",),
    ("EXEC",),
    ("SET", result_key_prefix + JOB, b"\x80\x05\x95" + bytes(range(256)), "PX", 86_400_000),
    ("DEL", retry_key_prefix + JOB, in_progress_key_prefix + JOB, job_key_prefix + JOB),
    ("ZREM", "arq:queue", JOB),
    ("EVALSHA", "884d20ae7" * 4 + "abcd", 5, "arq:queue", "arq:in-progress:", 1_780_000_000_000, 0, -1, 500),
    ("PUBLISH", "asgispecific.1a2b.0!3c4d", b"\x82\xa4type\xa3msg"),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", "worker"),
    (b"GET", "héllo ✅ 𝄞 \u0000 \r\n"),
    ("SET", "", b""),
    ("INCRBY", "n", 10**40),
    ("INCRBY", "n", -(10**40)),
    ("SET", "big", "x" * 10_000),
    ("SET", "big", b"y" * 100_000),
]

#: Arguments hiredis is not handed: redis-py packs these commands itself.
LEFT_TO_REDIS_PY: list[tuple[Any, ...]] = [
    ("SET", "f", 1.5),
    ("INCRBYFLOAT", "f", 1e-300),
    ("SET", "m", memoryview(b"abc")),
    ("SET", "big", memoryview(b"z" * 100_000)),
]

#: Arguments redis-py refuses: the fast path refuses them the same way.
REFUSED: list[tuple[Any, ...]] = [
    ("SET", "b", True),
    ("SET", "n", None),
    ("SET", "d", {"a": 1}),
    ("SET", "a", bytearray(b"abc")),
    (bytearray(b"PING"),),  # a command's name neither str nor bytes
    ("SET", "s", "\ud800"),  # a lone surrogate: not UTF-8
]


def words(argument: str | bytes | int | float) -> str:
    """An argument as an id shows it: bytes as their ASCII, spaces as underscores."""
    text = argument.decode("ascii", "replace") if isinstance(argument, bytes) else str(argument)
    return text.replace(" ", "_")


def command_id(command: tuple[Any, ...]) -> str:
    """A test id for ``command`` that a node id can carry: its arguments' words, long ones (and memoryviews) by type
    and length, anything else by type."""
    shown = []
    for argument in command:
        if isinstance(argument, memoryview | bytearray) or (isinstance(argument, str | bytes) and len(argument) > 24):
            shown.append(f"{type(argument).__name__}{len(argument)}")
        elif isinstance(argument, str | bytes | int | float) and re.fullmatch(r"[\w.:!-]*", text := words(argument)):
            shown.append(text or "empty")
        else:
            shown.append(type(argument).__name__)
    return "-".join(shown)


def packed(connection_class: type[Connection], *command: Any) -> bytes:
    return b"".join(bytes(part) for part in connection_class().pack_command(*command))


def fast_class() -> type[Connection]:
    connection_class = ReadyConnectionPool.from_url("redis://localhost").connection_class
    assert issubclass(connection_class, Connection)
    return connection_class


@pytest.mark.parametrize("command", COMMANDS + LEFT_TO_REDIS_PY, ids=command_id)
def test_a_command_is_packed_byte_for_byte_as_redis_py_packs_it(command: tuple[Any, ...]) -> None:
    assert packed(fast_class(), *command) == packed(Connection, *command)


@pytest.mark.parametrize("command", COMMANDS, ids=command_id)
def test_a_command_of_str_bytes_and_int_goes_out_in_one_piece_packed_by_hiredis(command: tuple[Any, ...]) -> None:
    name, *rest = command
    words = name.split() if isinstance(name, str | bytes) else [name]
    expected = hiredis.pack_command((*(w.encode() if isinstance(w, str) else w for w in words), *rest))

    assert fast_class()().pack_command(*command) == [expected]


def test_a_connection_encoding_otherwise_than_strict_utf8_leaves_the_packing_to_redis_py() -> None:
    for connection in (fast_class()(encoding="latin-1"), fast_class()(encoding_errors="replace")):
        assert len(connection.pack_command("SET", "k", "x" * 10_000)) == 3  # redis-py's pieces


@pytest.mark.parametrize("command", REFUSED, ids=command_id)
def test_an_argument_redis_py_refuses_is_refused_with_redis_pys_error(command: tuple[Any, ...]) -> None:
    with pytest.raises((DataError, UnicodeEncodeError)) as stock:
        packed(Connection, *command)
    with pytest.raises(stock.type) as ours:
        packed(fast_class(), *command)
    assert str(ours.value) == str(stock.value)


def test_a_connection_encoding_otherwise_than_strict_utf8_packs_as_redis_py_does() -> None:
    command = ("SET", "s", "caf\udce9 ü")
    ours = fast_class()(encoding="latin-1", encoding_errors="surrogateescape").pack_command(*command)
    stock = Connection(encoding="latin-1", encoding_errors="surrogateescape").pack_command(*command)
    assert ours == stock


@pytest.mark.parametrize(
    ("url", "stock_class"),
    [
        ("redis://localhost:6379/0", Connection),
        ("unix:///tmp/redis.sock", UnixDomainSocketConnection),
        ("rediss://localhost:6380", SSLConnection),
    ],
)
def test_the_pool_packs_on_the_connection_class_its_url_chooses(url: str, stock_class: type[Connection]) -> None:
    connection_class = ReadyConnectionPool.from_url(url).connection_class
    assert issubclass(connection_class, HiredisPacking)
    assert issubclass(connection_class, stock_class)
    assert connection_class.__mro__[2] is stock_class  # the packing first, then the URL's own class unchanged


def test_a_class_that_packs_already_is_kept_and_each_class_gets_one_packing_subclass() -> None:
    packing = packing_class(Connection)

    assert packing_class(Connection) is packing
    assert packing_class(packing) is packing
    assert ReadyConnectionPool(connection_class=packing).connection_class is packing


async def test_commands_packed_by_hiredis_are_answered_by_redis(redis_url: str) -> None:
    client = Redis.from_pool(ReadyConnectionPool.from_url(redis_url))
    try:
        await client.set("packed:é", "✅ 𝄞", px=60_000)
        await client.incrby("packed:n", 10**15)
        async with client.pipeline(transaction=True) as pipe:
            pipe.get("packed:é")
            pipe.incrby("packed:n", -1)
            pipe.delete("packed:é", "packed:n")
            assert await pipe.execute() == ["✅ 𝄞".encode(), 10**15 - 1, 2]
    finally:
        await client.aclose()
