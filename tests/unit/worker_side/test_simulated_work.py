"""The seed's simulated work, on a clock of the test's own: it lasts its type's scaled duration, reporting the share
done (in whole percent, rounded down) every ``PROGRESS_INTERVAL`` and 50 ms, a streaming job's reports carrying the
part of its text done so far; at ``JOB_TIME_SCALE=0`` it neither waits nor reports."""

import asyncio
from typing import Any

import pytest

import src.worker_side.reporting
import src.worker_side.simulated_work
from src.settings import Settings
from src.worker_side.simulated_work import simulate_work
from tests.support.seed import seed_ai_response


class FakeTime:
    """A clock of the test's own: a sleep on it moves it on at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class LoopOnFakeTime:
    """The running loop, but for its ``time()``, which is the fake clock's."""

    def __init__(self, clock: FakeTime) -> None:
        self.time = clock.time

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio.get_running_loop(), name)


class AsyncioOnFakeTime:
    """``asyncio`` as ``src.worker_side.simulated_work`` alone sees it: ``sleep`` and the loop's clock are the fake
    clock's, the rest is asyncio's own."""

    def __init__(self, clock: FakeTime) -> None:
        self.sleep = clock.sleep
        self._loop = LoopOnFakeTime(clock)

    def get_running_loop(self) -> LoopOnFakeTime:
        return self._loop

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Simulated work on a fake clock: the test does not depend on how busy the machine is.

    ``src.worker_side.simulated_work`` has no clock seam of its own (it calls ``asyncio.sleep`` and the loop's
    ``time``), so the fake replaces the name ``asyncio`` in that module only: the event loop and every other module
    keep the real ones.
    """
    fake = FakeTime()
    monkeypatch.setattr(src.worker_side.simulated_work, "asyncio", AsyncioOnFakeTime(fake))
    return fake


class Reports:
    """A task's ``progress``: records each report and when (by the fake clock) it came."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.made: list[tuple[int, str | None, float]] = []

    async def __call__(self, percent: int, partial: str | None = None) -> None:
        self.made.append((percent, partial, self.clock.now))


async def test_simulated_work_lasts_its_scaled_duration_reporting_the_share_done_every_progress_interval_and_50_ms(
    fake_time: FakeTime,
) -> None:
    """Reports 50 ms more than ``PROGRESS_INTERVAL`` apart: frames never arrive closer than the interval."""
    reports = Reports(fake_time)
    began = fake_time.now

    await simulate_work({"settings": Settings(job_time_scale=0.75, progress_interval=0.25)}, "translate", reports)

    assert fake_time.now - began == pytest.approx(1.5)  # translate's 2 s at scale 0.75
    assert [at - began for _, _, at in reports.made] == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.2])
    for percent, _, at in reports.made:  # each says the share of the 1.5 s gone when it was made (rounded down)
        assert 0 <= 100 * (at - began) / 1.5 - percent < 1


async def test_at_scale_0_simulated_work_neither_waits_nor_reports(fake_time: FakeTime) -> None:
    """At ``JOB_TIME_SCALE=0``, simulated work takes no time on the clock and makes no progress report."""
    reports = Reports(fake_time)

    await simulate_work({"settings": Settings(job_time_scale=0.0)}, "generate", reports, "text")

    assert reports.made == []
    assert fake_time.now == 1000.0


async def test_a_streaming_jobs_reports_carry_the_prefix_of_its_text_done_so_far(fake_time: FakeTime) -> None:
    reports = Reports(fake_time)
    text = seed_ai_response("hello")

    await simulate_work({"settings": Settings(job_time_scale=0.2, progress_interval=0.05)}, "generate", reports, text)

    partials = [partial or "" for _, partial, _ in reports.made]
    assert all(text.startswith(partial) for partial in partials)
    assert [len(partial) for partial in partials] == [len(text) * percent // 100 for percent, _, _ in reports.made]
    assert len(partials) == 8  # 0.8 s of work, a report every 0.05 + 0.05 s
    assert len(set(partials)) == 8


async def test_the_last_stretch_of_simulated_work_waits_only_for_what_is_left(fake_time: FakeTime) -> None:
    """``default``'s 1 s of work, reporting every 0.7 + 0.05 s: reports at 0 and 0.75 s, then a wait of 0.25 s."""
    reports = Reports(fake_time)
    began = fake_time.now

    await simulate_work({"settings": Settings(job_time_scale=1.0, progress_interval=0.7)}, "default", reports)

    assert fake_time.now - began == 1.0
    assert [(percent, at - began) for percent, _, at in reports.made] == [(0, 0.0), (75, 0.75)]


async def test_the_share_of_simulated_work_done_is_reported_in_whole_percent_rounded_down(fake_time: FakeTime) -> None:
    """99.5 % of ``default``'s 1 s done is reported as 99."""
    reports = Reports(fake_time)

    await simulate_work({"settings": Settings(job_time_scale=1.0, progress_interval=0.945)}, "default", reports)

    assert [percent for percent, _, _ in reports.made] == [0, 99]


async def test_simulated_work_with_no_more_than_the_clocks_slack_left_is_over(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a slack of 0.25 s, ``default``'s 1 s reporting every 0.75 s ends at 0.75 s: no report, no wait more."""
    monkeypatch.setattr(src.worker_side.simulated_work, "CLOCK_SLACK", 0.25)
    reports = Reports(fake_time)
    began = fake_time.now

    await simulate_work({"settings": Settings(job_time_scale=1.0, progress_interval=0.7)}, "default", reports)

    assert fake_time.now - began == 0.75
    assert [percent for percent, _, _ in reports.made] == [0]
