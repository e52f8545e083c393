"""A held progress report's timer, on a clock of the test's own: a timer that fires early waits out the rest of
the interval, one that fires on time sends the latest report, and one that finds nothing held does nothing."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import src.worker_side.progress_reporter
from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.worker_side.progress_reporter import ProgressReporter


class Timer:
    """A timer the test fires by hand (``loop.call_later``'s handle)."""

    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay = delay
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """The running loop, but for its clock, which the test moves, and its timers, which the test fires."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[Timer] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None], *args: Any) -> Timer:
        assert args == ()
        timer = Timer(delay, callback)
        self.timers.append(timer)
        return timer

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio.get_running_loop(), name)

    def delays(self) -> list[float]:
        """The delays of the timers set so far, in order."""
        return [timer.delay for timer in self.timers]

    def fire(self, timer: Timer, at: float) -> None:
        """Move the clock to ``at`` and run ``timer``, as the loop runs one that is due."""
        assert not timer.cancelled
        self.now = at
        timer.callback()


class AsyncioOnAFakeLoop:
    """``asyncio`` as ``src.worker_side.progress_reporter`` alone sees it: the running loop is the fake one."""

    def __init__(self, loop: FakeLoop) -> None:
        self._loop = loop

    def get_running_loop(self) -> FakeLoop:
        return self._loop

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


@pytest.fixture
def loop(monkeypatch: pytest.MonkeyPatch) -> FakeLoop:
    """The reporter's loop clock and timers, in the test's hands (every other module keeps the real loop)."""
    fake = FakeLoop()
    monkeypatch.setattr(src.worker_side.progress_reporter, "asyncio", AsyncioOnAFakeLoop(fake))
    return fake


class Heard:
    """A notifier that records the progress it is given, and lets a test wait for the n-th."""

    def __init__(self) -> None:
        self.updates: list[ProgressUpdate] = []
        self.arrived = asyncio.Condition()

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        raise AssertionError("the reporter sends no outcome")

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        async with self.arrived:
            self.updates.append(update)
            self.arrived.notify_all()

    async def until(self, count: int) -> list[int]:
        """The percentages heard, once there are ``count`` of them (2 s at most)."""
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.updates) >= count), timeout=2)
        return self.percentages

    @property
    def percentages(self) -> list[int]:
        return [update.progress for update in self.updates]


def reporter(heard: Heard, redis: Any = None) -> ProgressReporter:
    """A reporter sending at most one report a second (keeping none in Redis unless given one)."""
    return ProgressReporter(
        job_id="generate_1",
        job_type="generate",
        channel_name="chan",
        notifier=heard,
        redis=redis,
        interval=1.0,
        keep_seconds=60,
    )


def redis_writing_with(
    monkeypatch: pytest.MonkeyPatch, store: Callable[[Any, ProgressUpdate, int], Awaitable[None]]
) -> Any:
    """A stand-in Redis for the reporter: it holds no earlier run's progress, and ``store`` is its write."""

    async def nothing_stored(redis: Any, job_id: str) -> None:
        return None

    monkeypatch.setattr(src.worker_side.progress_reporter, "stored_progress", nothing_stored)
    monkeypatch.setattr(src.worker_side.progress_reporter, "store_progress", store)
    return object()


async def test_a_held_report_waits_for_the_rest_of_the_interval_and_is_sent_when_its_timer_fires_on_time(
    loop: FakeLoop,
) -> None:
    heard = Heard()
    progress = reporter(heard)
    await progress(10)  # sent at 1000.0
    loop.now = 1000.25

    await progress(20)

    assert heard.percentages == [10]
    assert loop.delays() == [0.75]
    loop.fire(loop.timers[0], at=1001.0)
    assert await heard.until(2) == [10, 20]
    assert loop.delays() == [0.75]  # nothing more held: no timer set again


async def test_a_timer_that_fires_before_the_interval_is_over_waits_out_the_rest_of_it(loop: FakeLoop) -> None:
    """A loop may run a timer a hair early: the held report then waits for the rest, never going out too soon."""
    heard = Heard()
    progress = reporter(heard)
    await progress(10)  # sent at 1000.0
    await progress(20)  # held until 1001.0

    loop.fire(loop.timers[0], at=1000.5)

    assert heard.percentages == [10]
    assert loop.delays() == pytest.approx([1.0, 0.5])
    loop.fire(loop.timers[1], at=1001.0)
    assert await heard.until(2) == [10, 20]


async def test_a_timer_that_fires_only_a_little_early_still_waits(loop: FakeLoop) -> None:
    heard = Heard()
    progress = reporter(heard)
    await progress(10)
    await progress(20)

    loop.fire(loop.timers[0], at=1000.999)

    assert heard.percentages == [10]
    assert loop.delays() == pytest.approx([1.0, 0.001])


async def test_a_timer_that_finds_its_report_already_sent_sends_nothing_and_sets_no_timer(loop: FakeLoop) -> None:
    """A report made once the interval is over goes at once, with the one held: the held one's timer, run late
    behind it, has nothing left to do."""
    heard = Heard()
    progress = reporter(heard)
    await progress(10)
    await progress(20)  # held, its timer due at 1001.0
    loop.now = 1001.5  # the loop was busy: the timer has not run yet

    await progress(30)
    assert heard.percentages == [10, 30]

    loop.fire(loop.timers[0], at=1001.5)
    assert loop.delays() == [1.0]
    assert heard.percentages == [10, 30]


async def test_a_report_due_exactly_as_the_interval_ends_goes_at_once(loop: FakeLoop) -> None:
    heard = Heard()
    progress = reporter(heard)
    await progress(10)
    loop.now = 1001.0

    await progress(20)

    assert heard.percentages == [10, 20]
    assert loop.timers == []


async def test_the_same_percent_goes_again_once_the_interval_is_over_a_sign_that_the_job_is_alive(
    loop: FakeLoop,
) -> None:
    heard = Heard()
    progress = reporter(heard)
    await progress(10, partial="Hel")
    loop.now = 1002.0
    await progress(10, partial="Hel")
    loop.now = 1004.0

    await progress(10, partial="Hello")

    assert [(update.progress, update.partial) for update in heard.updates] == [(10, "Hel"), (10, "Hel"), (10, "Hello")]


async def test_a_held_report_gives_way_to_one_at_the_same_percent_with_more_text_but_not_to_a_lower_one(
    loop: FakeLoop,
) -> None:
    heard = Heard()
    progress = reporter(heard)
    await progress(10, partial="H")
    await progress(30, partial="Hel")  # held
    await progress(30, partial="Hello")  # replaces it
    await progress(20, partial="He")  # below it: dropped

    loop.fire(loop.timers[0], at=1001.0)

    await heard.until(2)
    assert [(update.progress, update.partial) for update in heard.updates] == [(10, "H"), (30, "Hello")]


async def test_after_a_held_report_is_sent_the_next_one_held_gets_a_timer_of_its_own(loop: FakeLoop) -> None:
    heard = Heard()
    progress = reporter(heard)
    await progress(10)
    await progress(20)
    loop.fire(loop.timers[0], at=1001.0)
    await heard.until(2)
    loop.now = 1001.5

    await progress(30)

    assert loop.delays() == [1.0, 0.5]
    loop.fire(loop.timers[1], at=1002.0)
    assert await heard.until(3) == [10, 20, 30]


async def test_a_timers_send_that_a_later_report_overtook_ends_with_nothing_to_send(loop: FakeLoop) -> None:
    """The timer fires and its send is scheduled, but a report made at that moment goes first, with the held one's
    place: the scheduled send then finds nothing, and ends cleanly."""
    heard = Heard()
    progress = reporter(heard)
    await progress(10)
    await progress(20)
    before = asyncio.all_tasks()

    loop.fire(loop.timers[0], at=1001.0)
    await progress(30)

    scheduled = asyncio.all_tasks() - before
    assert len(scheduled) == 1
    await asyncio.wait_for(asyncio.gather(*scheduled), timeout=2)
    assert heard.percentages == [10, 30]


async def test_the_interval_runs_from_a_reports_publish_not_from_the_start_of_its_redis_write(
    loop: FakeLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report whose write to Redis took 0.3 s was published at 1000.3: the next waits until 1001.3, not 1001.0."""

    async def slow_store(redis: Any, update: ProgressUpdate, keep_seconds: int) -> None:
        loop.now += 0.3

    heard = Heard()
    progress = reporter(heard, redis=redis_writing_with(monkeypatch, slow_store))
    await progress(10)  # written 1000.0 to 1000.3, published at 1000.3
    loop.now = 1001.1

    await progress(20)

    assert heard.percentages == [10]
    assert loop.delays() == [pytest.approx(0.2)]


async def test_a_report_made_while_the_one_before_is_written_to_redis_is_held_for_the_interval(
    loop: FakeLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 20 comes while the 10 is being kept in Redis: it is held (a timer for the interval), not sent at once."""
    writing, written = asyncio.Event(), asyncio.Event()

    async def held_store(redis: Any, update: ProgressUpdate, keep_seconds: int) -> None:
        writing.set()
        await written.wait()

    heard = Heard()
    progress = reporter(heard, redis=redis_writing_with(monkeypatch, held_store))
    first = asyncio.create_task(progress(10))
    await asyncio.wait_for(writing.wait(), timeout=1)
    loop.now = 1000.5

    await progress(20)

    assert loop.delays() == [pytest.approx(0.5)]
    written.set()
    await first
    assert heard.percentages == [10]
