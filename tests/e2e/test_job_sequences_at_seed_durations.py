"""Each job type at the seed's real durations (``JOB_TIME_SCALE=1``): exact frames, and when they arrive.

The four types run side by side, one socket each, sent in the same instant, so the module takes
about as long as the longest job (generate, 4 s); each test below reads that one recording.
"""

import pytest
import pytest_asyncio

from tests.e2e.conftest import Stack
from tests.e2e.side_by_side import run_side_by_side
from tests.support.protocol import (
    CONNECTED,
    JOB_TYPES,
    SEED_DURATIONS,
    first_with_status,
    job_id_of,
    seed_job_frames,
)
from tests.support.ws_driver import Frame

#: How late a frame may be: ``queued`` after the send, a result after the type's duration (and after the
#: worker's pickup: at once on the fast path, within ARQ's poll delay off it).
QUEUED_WITHIN = 0.100
RESULT_LATE_BY_AT_MOST = 0.250


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(real_time_stack: Stack) -> dict[str, list[Frame]]:
    """The timed frames of one "hello" job of each type, all four sent in the same instant."""
    return await run_side_by_side(real_time_stack.ws_url, JOB_TYPES, result_timeout=max(SEED_DURATIONS.values()) + 5)


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_job_sends_connected_then_queuing_queued_and_the_seed_result_under_one_id(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    frames = [frame.data for frame in recorded[job_type]]

    job_id = frames[1]["payload"]["job_id"]
    assert job_id == job_id_of(job_type)
    assert frames == [CONNECTED, *seed_job_frames(job_type, job_id)]


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_queued_arrives_within_100_ms_of_the_send(job_type: str, recorded: dict[str, list[Frame]]) -> None:
    queued = first_with_status(recorded[job_type], "queued")

    assert queued.at <= QUEUED_WITHIN


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_result_arrives_no_sooner_than_the_seed_duration_of_its_type(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    result = first_with_status(recorded[job_type], "result")

    assert result.at >= SEED_DURATIONS[job_type]


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_result_arrives_at_most_250_ms_after_the_seed_duration_of_its_type_and_the_workers_pickup(
    job_type: str, recorded: dict[str, list[Frame]], real_time_stack: Stack
) -> None:
    result = first_with_status(recorded[job_type], "result")

    assert result.at <= SEED_DURATIONS[job_type] + real_time_stack.pickup_delay + RESULT_LATE_BY_AT_MOST
