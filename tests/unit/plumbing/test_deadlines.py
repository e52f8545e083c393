"""Waits on Redis that this process's busy loop cannot use up: only time the thread was idle counts."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from src.plumbing import deadlines
from src.plumbing.deadlines import answered_within, busy_time, within


def spin(seconds: float) -> None:
    """Keep this thread on a CPU for ``seconds`` of wall time, as a loop handling frames does."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


async def test_an_answer_in_time_is_the_result() -> None:
    async def redis() -> str:
        return "PONG"

    assert await within(redis(), 1.0) == "PONG"


async def test_no_answer_in_time_with_the_loop_free_is_a_timeout_after_that_time_and_the_call_is_cancelled() -> None:
    never = asyncio.Event()
    call = asyncio.ensure_future(never.wait())
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(TimeoutError, match=r"^no answer within 0\.2s$"):
        await within(call, 0.2)

    assert 0.2 - deadlines.TOLERANCE <= loop.time() - started < 0.7  # an idle loop: the deadline's own value
    with pytest.raises(asyncio.CancelledError):
        await call  # cancelled: the wait is over


async def test_while_the_loop_is_busy_past_the_deadline_an_answer_that_comes_after_it_still_counts() -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    loop.call_soon(spin, 0.2)  # the loop is busy (frames to handle, say) for 0.2 s, past the 0.05 s
    loop.call_later(0.21, answer.set_result, "OK")  # Redis's answer, read just after

    assert await answered_within(answer, 0.05)
    assert answer.result() == "OK"


async def test_a_loop_busy_in_many_short_turns_is_not_idle_time() -> None:
    """The flood's shape: the loop turns every few milliseconds, each turn busy; none of it is Redis's time."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    async def frames() -> None:
        for _ in range(60):
            spin(0.005)
            await asyncio.sleep(0)

    handling = asyncio.ensure_future(frames())  # 0.3 s of work in 5 ms turns, past the 0.1 s deadline
    handling.add_done_callback(lambda _: answer.set_result("OK"))  # Redis's answer is read once the work is done

    assert await answered_within(answer, 0.1)
    await handling


async def test_a_wait_with_the_loop_idle_gives_up_without_the_answer() -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    late_answer = loop.call_later(2.0, answer.set_result, "late")  # Redis answers long after the deadline

    assert not await answered_within(answer, 0.05)
    assert not answer.done()  # not cancelled: the caller decides what to do with a late answer
    late_answer.cancel()
    answer.cancel()


async def test_a_busy_loop_delays_the_deadline_and_a_redis_that_never_answers_still_times_out() -> None:
    loop = asyncio.get_running_loop()
    never: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, spin, 0.2)  # busy past the deadline: the wait is extended by as much

    started = loop.time()
    assert not await asyncio.wait_for(answered_within(never, 0.05), timeout=2)
    assert loop.time() - started >= 0.25 - deadlines.TOLERANCE
    never.cancel()


def test_busy_time_counts_time_on_a_cpu_and_not_time_asleep() -> None:
    before = busy_time()
    spin(0.2)
    spun = busy_time() - before

    before = busy_time()
    time.sleep(0.2)  # the thread is idle: this is the time being measured
    slept = busy_time() - before

    assert spun >= 0.15
    assert slept < 0.05


@pytest.mark.skipif(not Path(deadlines.SCHEDSTAT).exists(), reason="Linux's schedstat only")
def test_busy_time_counts_time_waiting_for_a_cpu_another_process_holds() -> None:
    """Two spinning threads on one CPU: each runs about half the time and waits the other half, and both count."""
    cpu = min(os.sched_getaffinity(0))
    own = os.sched_getaffinity(0)
    rival = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(rival.pid, {cpu})
        os.sched_setaffinity(0, {cpu})
        before_busy, before_cpu = busy_time(), time.thread_time()
        spin(0.4)
        busy, on_cpu = busy_time() - before_busy, time.thread_time() - before_cpu
    finally:
        os.sched_setaffinity(0, own)
        rival.kill()
        rival.wait()

    assert on_cpu < 0.3  # the rival held the CPU part of the time
    assert busy >= 0.35  # and that wait counts as busy all the same


def test_without_schedstat_busy_time_is_the_threads_cpu_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(deadlines, "SCHEDSTAT", str(tmp_path / "missing"))

    before, cpu_before = busy_time(), time.thread_time()
    spin(0.05)

    assert busy_time() - before == pytest.approx(time.thread_time() - cpu_before, abs=0.01)
