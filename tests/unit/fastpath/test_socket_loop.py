"""The lean socket loop: the channel inbox behaves as the asyncio.Queue it replaces; one task serves both sources."""

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from src.fastpath.lean_channel_layer import ChannelInbox
from src.fastpath.socket_loop import dispatch_both

#: The oracle: what the stock layer keeps per channel.
QUEUES: list[Callable[[], Any]] = [asyncio.Queue, ChannelInbox]


async def settle() -> None:
    """Let every ready callback and task run (a few loop turns)."""
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize("make_queue", QUEUES, ids=["asyncio.Queue", "ChannelInbox"])
async def test_messages_come_out_first_in_first_out_and_a_get_waits_for_a_put(make_queue: Callable[[], Any]) -> None:
    queue = make_queue()
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert [await queue.get(), await queue.get()] == ["a", "b"]

    waiting = asyncio.create_task(queue.get())
    await settle()
    assert not waiting.done()
    queue.put_nowait("c")
    assert await asyncio.wait_for(waiting, 1.0) == "c"


@pytest.mark.parametrize("make_queue", QUEUES, ids=["asyncio.Queue", "ChannelInbox"])
async def test_waiting_gets_are_served_in_the_order_they_began(make_queue: Callable[[], Any]) -> None:
    queue = make_queue()
    first = asyncio.create_task(queue.get())
    await settle()
    second = asyncio.create_task(queue.get())
    await settle()

    queue.put_nowait(1)
    queue.put_nowait(2)

    assert [await asyncio.wait_for(first, 1.0), await asyncio.wait_for(second, 1.0)] == [1, 2]


@pytest.mark.parametrize("make_queue", QUEUES, ids=["asyncio.Queue", "ChannelInbox"])
async def test_a_get_cancelled_after_its_wake_up_leaves_the_message_to_the_next(make_queue: Callable[[], Any]) -> None:
    queue = make_queue()
    first = asyncio.create_task(queue.get())
    await settle()
    second = asyncio.create_task(queue.get())
    await settle()

    queue.put_nowait("only")  # wakes ``first`` ...
    first.cancel()  # ... which is cancelled before it runs

    assert await asyncio.wait_for(second, 1.0) == "only"
    assert first.cancelled()


class Source:
    """An ASGI ``receive``: hands out what is put, counting the calls."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.calls = 0

    async def receive(self) -> Any:
        self.calls += 1
        return await self.queue.get()


class Recorder:
    """A ``dispatch`` that records what it is given; one message may be held until released."""

    def __init__(self, hold: object = None) -> None:
        self.seen: list[Any] = []
        self.hold = hold
        self.release = asyncio.Event()
        self.holding = asyncio.Event()
        self.dispatched = asyncio.Event()

    async def dispatch(self, message: Any) -> None:
        self.seen.append(message)
        self.dispatched.set()
        if message is self.hold:
            self.holding.set()
            await self.release.wait()


async def wait_for_count(recorder: Recorder, count: int) -> None:
    """Until ``recorder`` has seen ``count`` messages (2 s at most)."""
    async with asyncio.timeout(2.0):
        while len(recorder.seen) < count:
            recorder.dispatched.clear()
            await recorder.dispatched.wait()


def decoded(raw: Any) -> Any:
    """The layer's deserialize, as the loop is given it."""
    return ("decoded", raw)


async def run_loop(source: Source, inbox: ChannelInbox, recorder: Recorder) -> asyncio.Task[None]:
    """The loop on its own task, started."""
    task = asyncio.create_task(dispatch_both(source.receive, inbox, decoded, recorder.dispatch))
    await settle()
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_both_sources_are_dispatched_each_in_its_own_order_the_channels_decoded() -> None:
    source, inbox, recorder = Source(), ChannelInbox(), Recorder()
    task = await run_loop(source, inbox, recorder)

    for n in range(3):
        source.queue.put_nowait(f"asgi {n}")
        inbox.put_nowait(f"layer {n}")
    await wait_for_count(recorder, 6)

    assert [m for m in recorder.seen if isinstance(m, str)] == ["asgi 0", "asgi 1", "asgi 2"]
    assert [m for m in recorder.seen if isinstance(m, tuple)] == [("decoded", f"layer {n}") for n in range(3)]
    await stop(task)


async def test_the_socket_is_not_read_again_until_its_message_is_dispatched() -> None:
    slow = {"type": "websocket.receive", "text": "slow"}
    source, inbox, recorder = Source(), ChannelInbox(), Recorder(hold=slow)
    task = await run_loop(source, inbox, recorder)

    source.queue.put_nowait(slow)
    await asyncio.wait_for(recorder.holding.wait(), 2.0)
    source.queue.put_nowait("next")
    await settle()
    assert (source.calls, recorder.seen) == (1, [slow])  # held: the socket is not read meanwhile

    recorder.release.set()
    await wait_for_count(recorder, 2)
    assert recorder.seen == [slow, "next"]
    await stop(task)


async def test_an_error_in_dispatch_ends_the_loop_and_stops_reading_the_socket() -> None:
    source, inbox = Source(), ChannelInbox()

    async def failing(message: Any) -> None:
        raise LookupError(message)

    task = asyncio.create_task(dispatch_both(source.receive, inbox, decoded, failing))
    await settle()
    inbox.put_nowait("boom")

    with pytest.raises(LookupError):
        await asyncio.wait_for(task, 2.0)
    source.queue.put_nowait("unread")
    await settle()
    assert (source.calls, source.queue.qsize()) == (1, 1)


class Message:
    """A message that can be watched for being freed."""


async def test_an_idle_socket_holds_no_message_it_has_dispatched() -> None:
    source, inbox, recorder = Source(), ChannelInbox(), Recorder()
    task = await run_loop(source, inbox, recorder)
    from_socket, from_layer = Message(), Message()
    watched = [weakref.ref(from_socket), weakref.ref(from_layer)]

    source.queue.put_nowait(from_socket)
    inbox.put_nowait(from_layer)
    del from_socket, from_layer
    await wait_for_count(recorder, 2)
    recorder.seen.clear()
    await settle()
    gc.collect()

    assert [ref() for ref in watched] == [None, None]
    await stop(task)


async def test_a_cancelled_loop_cancels_its_read_of_the_socket() -> None:
    reads: list[asyncio.Future[Any]] = []

    def receive() -> Awaitable[Any]:
        reads.append(asyncio.get_running_loop().create_future())
        return reads[-1]

    task = asyncio.create_task(dispatch_both(receive, ChannelInbox(), decoded, Recorder().dispatch))
    await settle()

    await stop(task)

    [read] = reads
    assert read.cancelled()
