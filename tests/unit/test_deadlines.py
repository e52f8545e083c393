"""Waits on Redis that this process's busy loop cannot use up: a late timer means a busy loop, not a slow Redis."""

import asyncio
import time

import pytest

from src.deadlines import answered_within, within


async def test_an_answer_in_time_is_the_result() -> None:
    async def redis() -> str:
        return "PONG"

    assert await within(redis(), 1.0) == "PONG"


async def test_no_answer_in_time_with_the_loop_free_is_a_timeout_and_the_call_is_cancelled() -> None:
    never = asyncio.Event()
    call = asyncio.ensure_future(never.wait())

    with pytest.raises(TimeoutError, match=r"^no answer within 0\.05s$"):
        await within(call, 0.05)

    with pytest.raises(asyncio.CancelledError):
        await call  # cancelled: the wait is over


async def test_while_the_loop_is_busy_past_the_deadline_an_answer_that_comes_after_it_still_counts() -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    loop.call_soon(time.sleep, 0.2)  # the loop is busy (frames to handle, say) for 0.2 s, past the 0.05 s
    loop.call_later(0.21, answer.set_result, "OK")  # Redis's answer, read just after

    assert await answered_within(answer, 0.05)
    assert answer.result() == "OK"


async def test_a_wait_whose_timer_fires_on_time_gives_up_without_the_answer() -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    late_answer = loop.call_later(2.0, answer.set_result, "late")  # Redis answers long after the deadline

    assert not await answered_within(answer, 0.05)
    assert not answer.done()  # not cancelled: the caller decides what to do with a late answer
    late_answer.cancel()
    answer.cancel()


async def test_a_busy_loop_is_given_its_time_back_once_and_a_redis_that_never_answers_still_times_out() -> None:
    loop = asyncio.get_running_loop()
    never: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, time.sleep, 0.2)  # busy past the deadline: the wait is extended by as much, once

    assert not await asyncio.wait_for(answered_within(never, 0.05), timeout=2)
    never.cancel()
