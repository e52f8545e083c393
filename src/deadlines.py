"""Deadlines on Redis's answers that this process's own backlog cannot use up.

A process busy with thousands of frames runs its event loop late: an answer Redis gave in a
millisecond may wait a second to be read. A plain ``asyncio.timeout`` would blame Redis for that.
Here, whenever the deadline's timer fires late (the loop was busy), the time it lost is given back,
so a wait fails only when the loop was free to hear Redis and Redis had not answered.
"""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

#: How late a timer may fire and still count as on time (a loop turn or two).
ON_TIME = 0.01


async def answered_within(answer: "asyncio.Future[T]", seconds: float) -> bool:
    """Wait for ``answer`` (not cancelling it) for ``seconds`` of time the loop was free; whether it came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        done, _ = await asyncio.wait({answer}, timeout=max(deadline - loop.time(), 0.0))
        if done:
            return True
        now = loop.time()
        late = now - deadline
        if late <= ON_TIME:
            return False
        deadline = now + late  # the loop was busy for as long, at least: that time is given back


async def within(call: Awaitable[T], seconds: float) -> T:
    """``call``'s result, or ``TimeoutError`` (``call`` cancelled) after ``seconds`` of time the loop was free."""
    answer = asyncio.ensure_future(call)
    if not await answered_within(answer, seconds):
        answer.cancel()
        raise TimeoutError(f"no answer within {seconds:g}s")
    return answer.result()
