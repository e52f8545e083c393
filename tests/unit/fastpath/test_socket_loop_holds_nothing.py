"""The lean socket loop holds no more while it waits after many messages than after the first: each wait's
wake-up is let go of by the socket's read and by the channel's inbox, whichever of the two woke it."""

import asyncio
from typing import Any

import pytest

from src.fastpath.lean_channel_layer import ChannelInbox
from src.fastpath.socket_loop import dispatch_both
from tests.support.future_watch import FutureWatch


async def settle() -> None:
    """Let every ready callback and task run (a few loop turns)."""
    for _ in range(5):
        await asyncio.sleep(0)


class Socket:
    """An ASGI ``receive`` handing out what is put, one future per read (as a socket's read is)."""

    def __init__(self) -> None:
        self.read: asyncio.Future[Any] | None = None

    def receive(self) -> "asyncio.Future[Any]":
        self.read = asyncio.get_running_loop().create_future()
        return self.read

    def put(self, message: Any) -> None:
        assert self.read is not None
        assert not self.read.done()
        self.read.set_result(message)


class Counter:
    """A ``dispatch`` that counts what it is given."""

    def __init__(self) -> None:
        self.count = 0

    async def dispatch(self, message: Any) -> None:
        self.count += 1


def identity(raw: Any) -> Any:
    return raw


@pytest.mark.parametrize(
    "source",
    ["the socket", "the channel"],
    ids=["messages from the socket leave no wake-up in the inbox", "events leave no wake-up on the socket's read"],
)
async def test_many_messages_from_one_source_leave_no_wake_up_behind_on_the_other(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = FutureWatch(monkeypatch)
    socket, inbox, counter = Socket(), ChannelInbox(), Counter()
    put = socket.put if source == "the socket" else inbox.put_nowait
    loop = asyncio.create_task(dispatch_both(socket.receive, inbox, identity, counter.dispatch))
    await settle()
    put("first")
    await settle()
    after_one = watch.alive()  # the pending read and the wait's wake-up

    for n in range(10):
        put(f"message {n}")
        await settle()

    assert counter.count == 11
    assert watch.alive() == after_one == 2
    loop.cancel()
    await asyncio.wait({loop})
