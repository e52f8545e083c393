"""Each job type on a scaled clock (``JOB_TIME_SCALE=0.05``): the same exact frames, 20x sooner.

As at the seed's durations, the four types run side by side, one socket each, recorded once.
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
    without_progress,
)
from tests.support.ws_driver import Frame


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(scaled_stack: Stack) -> dict[str, list[Frame]]:
    """The timed frames of one "hello" job of each type, all four sent in the same instant."""
    return await run_side_by_side(scaled_stack.ws_url, JOB_TYPES, result_timeout=5.0)


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_scaled_job_sends_connected_then_queuing_queued_and_the_seed_result_under_one_id(
    job_type: str, recorded: dict[str, list[Frame]]
) -> None:
    frames = [frame.data for frame in recorded[job_type]]

    job_id = frames[1]["payload"]["job_id"]
    assert job_id == job_id_of(job_type)
    assert without_progress(frames) == [CONNECTED, *seed_job_frames(job_type, job_id)]


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_scaled_result_arrives_no_sooner_than_the_scaled_seed_duration_of_its_type(
    job_type: str, recorded: dict[str, list[Frame]], scaled_stack: Stack
) -> None:
    result = first_with_status(recorded[job_type], "result")

    assert result.at >= SEED_DURATIONS[job_type] * scaled_stack.time_scale
