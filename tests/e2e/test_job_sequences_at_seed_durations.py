"""Each job type at the seed's real durations (``JOB_TIME_SCALE=1``): exact frames, and when they arrive.

The four types run side by side, one socket each, sent in the same instant, so the module takes
about as long as the longest job (generate, 4 s); each test below reads that one recording.
"""

import itertools

import pytest
import pytest_asyncio

from tests.e2e.conftest import Stack
from tests.e2e.side_by_side import run_side_by_side
from tests.support.protocol import (
    CONNECTED,
    JOB_TYPES,
    SEED_DURATIONS,
    first_with_status,
    is_progress,
    job_id_of,
    seed_job_frames,
    without_progress,
)
from tests.support.ws_driver import Frame

#: How late a frame may be: ``queued`` after the send, a result after the type's duration (and after the
#: worker's pickup: at once on the fast path, within ARQ's poll delay off it).
QUEUED_WITHIN = 0.100
RESULT_LATE_BY_AT_MOST = 0.250
#: A progress frame saying P % arrives within this of P % of the type's duration after ``queued`` (issue 13).
PROGRESS_WITHIN = 0.250
#: ``PROGRESS_INTERVAL``'s default: at most one progress frame per job per this many seconds.
PROGRESS_INTERVAL = 0.25


def progress_of(frames: list[Frame]) -> list[Frame]:
    """The ``progress`` frames among ``frames``."""
    return [frame for frame in frames if is_progress(frame.data)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(real_time_stack: Stack) -> dict[str, list[Frame]]:
    """The timed frames of one "hello" job of each type, all four sent in the same instant."""
    return await run_side_by_side(real_time_stack.ws_url, JOB_TYPES, result_timeout=max(SEED_DURATIONS.values()) + 5)


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_job_sends_connected_then_queuing_queued_and_the_seed_result_under_one_id(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    """A socket gets ``connected``; its job, ``queuing``, ``queued`` and the tutorial's result, under one ``job_id``."""
    frames = [frame.data for frame in recorded[job_type]]

    job_id = frames[1]["payload"]["job_id"]
    assert job_id == job_id_of(job_type)
    assert without_progress(frames) == [CONNECTED, *seed_job_frames(job_type, job_id)]


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_queued_arrives_within_100_ms_of_the_send(job_type: str, recorded: dict[str, list[Frame]]) -> None:
    queued = first_with_status(recorded[job_type], "queued")

    assert queued.at <= QUEUED_WITHIN


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_result_arrives_no_sooner_than_the_seed_duration_of_its_type(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    """A job's ``result`` comes no sooner than its type's simulated work (default 1 s, translate 2, … generate 4)."""
    result = first_with_status(recorded[job_type], "result")

    assert result.at >= SEED_DURATIONS[job_type]


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_result_arrives_at_most_250_ms_after_the_seed_duration_of_its_type_and_the_workers_pickup(
    job_type: str, recorded: dict[str, list[Frame]], real_time_stack: Stack
) -> None:
    """A job's ``result`` comes at most 250 ms after its type's simulated work and the worker's pickup."""
    result = first_with_status(recorded[job_type], "result")

    assert result.at <= SEED_DURATIONS[job_type] + real_time_stack.pickup_delay + RESULT_LATE_BY_AT_MOST


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_progress_frames_come_between_queued_and_the_result_at_least_one_per_half_second_of_work(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    """A job's ``progress`` frames come after ``queued`` and before its ``result``, at least one per 0.5 s of work."""
    statuses = [frame.data["payload"]["status"] for frame in recorded[job_type]]
    at_progress = [i for i, status in enumerate(statuses) if status == "progress"]
    arrivals = [frame.at for frame in progress_of(recorded[job_type])]

    assert statuses.index("queued") < at_progress[0]
    assert at_progress[-1] < statuses.index("result")
    assert len(at_progress) >= SEED_DURATIONS[job_type] / 0.5
    assert all(later - earlier <= 0.5 for earlier, later in itertools.pairwise(arrivals))


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_progress_frames_are_coalesced_to_at_most_one_per_progress_interval(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    """A job's ``progress`` frames arrive at least ``PROGRESS_INTERVAL`` apart: reports are coalesced."""
    arrivals = [frame.at for frame in progress_of(recorded[job_type])]

    assert all(later - earlier >= PROGRESS_INTERVAL for earlier, later in itertools.pairwise(arrivals))
    assert len(arrivals) <= SEED_DURATIONS[job_type] / PROGRESS_INTERVAL + 1


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_progress_frames_carry_the_jobs_id_and_type_and_a_percentage_that_never_goes_down(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    """``progress`` frames carry the job's ``job_id``, ``job_type`` and a whole percentage that never goes down."""
    job_id = first_with_status(recorded[job_type], "queued").data["payload"]["job_id"]
    payloads = [frame.data["payload"] for frame in progress_of(recorded[job_type])]

    percents = [payload["progress"] for payload in payloads]
    assert percents == sorted(percents)
    assert all(isinstance(percent, int) and 0 <= percent <= 100 for percent in percents)
    for payload in payloads:
        assert payload == {
            "status": "progress",
            "job_id": job_id,
            "job_type": job_type,
            "progress": payload["progress"],
            "message": f"⚙️ Job {job_id}: {payload['progress']}%",
            **({"partial": payload["partial"]} if job_type == "generate" else {}),
        }


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_each_progress_frame_arrives_within_250_ms_of_its_share_of_the_duration_after_queued(
    job_type: str, recorded: dict[str, list[Frame]], real_time_stack: Stack
) -> None:
    """Each ``progress`` frame says the share of the work done when it was sent, within 250 ms."""
    queued = first_with_status(recorded[job_type], "queued")
    duration = SEED_DURATIONS[job_type]

    for frame in progress_of(recorded[job_type]):
        due = queued.at + frame.data["payload"]["progress"] / 100 * duration
        assert due - PROGRESS_WITHIN <= frame.at <= due + PROGRESS_WITHIN + real_time_stack.pickup_delay


def test_generate_streams_growing_prefixes_of_its_result_text(recorded: dict[str, list[Frame]]) -> None:
    """``generate``'s ``progress`` frames carry ``partial``: growing prefixes of its ``result`` text."""
    result = first_with_status(recorded["generate"], "result").data["payload"]["message"]
    partials = [frame.data["payload"]["partial"] for frame in progress_of(recorded["generate"])]

    assert all(result.startswith(partial) for partial in partials)
    assert all(len(earlier) <= len(later) for earlier, later in itertools.pairwise(partials))
    assert len(set(partials)) >= 3
