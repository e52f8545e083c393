"""The four tasks, called directly: each reports its seed result to the socket's channel and returns it."""

import asyncio
from typing import Any

import pytest
from fast_channels.layers import InMemoryChannelLayer

import src.worker_side.reporting
import src.worker_side.simulated_work
from src.apps.background_jobs.job_types import work_seconds
from src.apps.background_jobs.messages import JobProgress, JobResult
from src.apps.background_jobs.outcomes import TaskTimeout, error_outcome
from src.settings import Settings
from src.worker_side.notifier import ChannelLayerNotifier
from src.worker_side.progress_reporter import Progress
from src.worker_side.simulated_work import simulate_work
from tests.support.protocol import SEED_RESULTS_FOR_HELLO
from tests.support.seed import SEED_DURATIONS, seed_ai_response, seed_analysis
from tests.support.tasks import TASKS, run_reported, worker_ctx


def result_event(status: str, job_id: str, job_type: str, message: str) -> dict[str, Any]:
    """The channel-layer message chanx's ``send_event`` delivers for a job outcome."""
    return {
        "type": "handle_channel_event",
        "event_data": {
            "action": "job_result",
            "payload": {"status": status, "job_id": job_id, "job_type": job_type, "message": message},
        },
    }


@pytest.mark.parametrize("job_type", sorted(SEED_RESULTS_FOR_HELLO))
async def test_task_sends_its_seed_result_event_to_the_given_channel(
    job_type: str, settings: Settings, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()
    job_id = f"{job_type}_0123"

    await TASKS[job_type](worker_ctx(settings), job_id, "hello", channel)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event("result", job_id, job_type, SEED_RESULTS_FOR_HELLO[job_type])


@pytest.mark.parametrize("job_type", sorted(SEED_RESULTS_FOR_HELLO))
async def test_task_returns_the_seeds_result_dict(
    job_type: str, settings: Settings, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()

    returned = await TASKS[job_type](worker_ctx(settings), "job-1", "hello", channel)

    assert returned == {"status": "completed", "result": SEED_RESULTS_FOR_HELLO[job_type], "job_id": "job-1"}


async def test_a_task_that_raises_reports_an_error_with_its_job_id_and_reraises(
    settings: Settings, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()

    async def broken(progress: Progress) -> str:
        raise ValueError("no dictionary loaded")

    with pytest.raises(ValueError, match="no dictionary loaded"):
        await run_reported(worker_ctx(settings), "translate", "translate_7", channel, broken)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event(
        "error",
        "translate_7",
        "translate",
        "❌ Job translate_7 failed: ValueError: no dictionary loaded",
    )


async def test_a_task_over_its_timeout_reports_a_timeout_error_with_its_job_id(
    channel_layer: InMemoryChannelLayer,
) -> None:
    settings = Settings(task_timeouts={"generate": 0.05})
    channel = await channel_layer.new_channel()
    never = asyncio.Event()

    async def stuck(progress: Progress) -> str:
        await never.wait()
        return "unreachable"

    with pytest.raises(TaskTimeout):
        await run_reported(worker_ctx(settings), "generate", "generate_9", channel, stuck)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event("error", "generate_9", "generate", "❌ Job generate_9 timed out after 0.05s")


@pytest.mark.parametrize("scale", [1.0, 0.05, 0.0], ids=["the seed's durations", "20x faster", "no simulated work"])
def test_simulated_work_is_the_seeds_duration_times_job_time_scale(scale: float) -> None:
    """Simulated work is default 1 s, translate 2 s, analyze 3 s, generate 4 s, times ``JOB_TIME_SCALE``."""
    settings = Settings(job_time_scale=scale)

    assert {t: work_seconds(settings, t) for t in SEED_DURATIONS} == pytest.approx(
        {t: seconds * scale for t, seconds in SEED_DURATIONS.items()}
    )


async def test_a_task_does_its_simulated_work_under_its_type_then_reports_its_text(
    settings: Settings, channel_layer: InMemoryChannelLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked: list[tuple[dict[str, Any], str, str | None]] = []

    async def record_work(ctx: dict[str, Any], job_type: str, progress: Progress, text: str | None = None) -> None:
        worked.append((ctx, job_type, text))

    monkeypatch.setattr(src.worker_side.reporting, "simulate_work", record_work)
    channel = await channel_layer.new_channel()
    ctx = worker_ctx(settings)

    returned = await TASKS["analyze"](ctx, "analyze_5", "hi", channel)

    assert worked == [(ctx, "analyze", None)]  # analyze does not stream its text
    assert returned == {"status": "completed", "result": seed_analysis("hi"), "job_id": "analyze_5"}
    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event("result", "analyze_5", "analyze", seed_analysis("hi"))


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


async def test_an_outcome_the_notifier_cannot_deliver_is_logged_with_its_job_and_status_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def layer_down(event: JobResult | JobProgress, channel_name: str) -> None:
        raise ConnectionError("Redis is away")

    await ChannelLayerNotifier(layer_down).notify(error_outcome("generate_3", "generate", "boom"), "chan")

    (record,) = caplog.records
    assert record.levelname == "ERROR"
    first_line = " ".join(record.getMessage().splitlines()[0].split())
    assert first_line == "[error ] could not deliver job outcome job_id=generate_3 status=error"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)


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
