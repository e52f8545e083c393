"""Deadlines on Redis's answers that this process's own backlog cannot use up.

A process busy with thousands of frames turns its event loop slowly: an answer Redis gave in a
millisecond may wait a second to be read, and work queued behind a connection pool's lock advances one
loop turn at a time. A plain ``asyncio.timeout`` would blame Redis for that. Here a deadline counts only
the time this thread was *idle* — neither running nor waiting for a CPU to run on — so a wait fails
only when the process had nothing to do but hear Redis, for that long, and Redis had not answered.
"""

import asyncio
import os
import threading
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

#: Linux's scheduler statistics for the calling thread: nanoseconds on a CPU, nanoseconds waiting for one, slices.
SCHEDSTAT = "/proc/thread-self/schedstat"

#: Idle time this close to a deadline counts as reaching it (a timer may fire a little early).
TOLERANCE = 0.001


#: Each thread's schedstat file, opened on its first deadline and read again in place (a read is a microsecond).
_stats = threading.local()


def busy_time() -> float:
    """Seconds the calling thread has spent running (its CPU time) or waiting to run (Linux's schedstat); elsewhere,
    its CPU time alone.

    The running part is ``thread_time()``, which the kernel brings up to date as it is read; schedstat's own
    running figure can lag a scheduler tick behind while the thread runs on, and a deadline would end that early.
    """
    try:
        if getattr(_stats, "path", None) != SCHEDSTAT:
            _stats.fd, _stats.path = os.open(SCHEDSTAT, os.O_RDONLY), SCHEDSTAT
        _running, waiting, _slices = os.pread(_stats.fd, 128, 0).split()
    except OSError:
        return time.thread_time()
    return time.thread_time() + int(waiting) / 1e9


async def answered_within(answer: "asyncio.Future[T]", seconds: float) -> bool:
    """Wait for ``answer`` (not cancelling it) for ``seconds`` of time this thread was idle; whether it came."""
    loop = asyncio.get_running_loop()
    started, busy_before = loop.time(), busy_time()
    while True:
        idle = (loop.time() - started) - (busy_time() - busy_before)
        if idle >= seconds - TOLERANCE:
            return answer.done()
        done, _ = await asyncio.wait({answer}, timeout=seconds - idle)
        if done:
            return True


async def within(call: Awaitable[T], seconds: float) -> T:
    """``call``'s result, or ``TimeoutError`` (``call`` cancelled) after ``seconds`` of time this thread was idle."""
    answer = asyncio.ensure_future(call)
    if not await answered_within(answer, seconds):
        answer.cancel()
        raise TimeoutError(f"no answer within {seconds:g}s")
    return answer.result()
