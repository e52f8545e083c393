"""Each job type on a scaled clock (``JOB_TIME_SCALE=0.05``): the same exact frames, 20x sooner, with either worker.

As at the seed's durations, the four types run side by side, one socket each, recorded once per worker command:
``python -m src.worker`` (the session's scaled stack) and ``arq src.tasks.WorkerSettings`` (a stack of this module's
own). A result must come no sooner than its type's scaled duration and no later than that plus the worker's pickup
and 250 ms, so a worker that ignored ``JOB_TIME_SCALE`` (a translate taking 2 s, not 100 ms) fails here.
"""

from collections.abc import Iterator

import pytest
import pytest_asyncio

from tests.e2e.conftest import RUNNING, Stack, running_stack
from tests.e2e.side_by_side import run_side_by_side
from tests.support.processes import WorkerProcess
from tests.support.protocol import (
    CONNECTED,
    JOB_TYPES,
    SEED_DURATIONS,
    first_with_status,
    job_id_of,
    seed_job_frames,
    without_progress,
)
from tests.support.redis_provider import ProvidedRedis
from tests.support.ws_driver import Frame

#: How late a result may be after its type's scaled duration (and the worker's pickup), as at the seed's durations.
RESULT_LATE_BY_AT_MOST = 0.250
#: How much longer than the slowest scaled job (and its pickup) the recording waits for every result.
RESULT_WAIT_MARGIN = 1.0
#: The time scale of the session's scaled stack (tests/e2e/conftest.py), which this module's own stack matches.
TIME_SCALE = 0.05
#: A Redis DB of this module's own for its ``arq src.tasks.WorkerSettings`` stack.
ARQ_CLI_DB = 12


@pytest.fixture(scope="module", params=["src.worker", "arq-cli"])
def stack(request: pytest.FixtureRequest, redis_service: ProvidedRedis) -> Iterator[Stack]:
    """The scaled stack with each worker command in turn: the session's (``python -m src.worker``), then one with
    ``arq src.tasks.WorkerSettings``."""
    if request.param == "src.worker":
        scaled: Stack = request.getfixturevalue("scaled_stack")
        assert scaled.time_scale == TIME_SCALE
        yield scaled
        return
    with running_stack("scaled-arq-cli", redis_service.url, ARQ_CLI_DB, TIME_SCALE, worker_class=WorkerProcess) as own:
        RUNNING["stack"] = own  # a failing test's report carries its logs
        try:
            yield own
        finally:
            del RUNNING["stack"]


def scaled_duration(job_type: str, stack: Stack) -> float:
    """Seconds of simulated work a job of ``job_type`` does on ``stack``'s clock."""
    return SEED_DURATIONS[job_type] * stack.time_scale


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(stack: Stack) -> dict[str, list[Frame]]:
    """The timed frames of one "hello" job of each type, all four sent in the same instant."""
    slowest = max(scaled_duration(job_type, stack) for job_type in JOB_TYPES)
    return await run_side_by_side(
        stack.ws_url, JOB_TYPES, result_timeout=slowest + stack.pickup_delay + RESULT_WAIT_MARGIN
    )


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
    job_type: str, recorded: dict[str, list[Frame]], stack: Stack
) -> None:
    result = first_with_status(recorded[job_type], "result")

    assert result.at >= scaled_duration(job_type, stack)


@pytest.mark.parametrize("job_type", JOB_TYPES)
def test_scaled_result_arrives_at_most_250_ms_after_the_scaled_seed_duration_of_its_type_and_the_workers_pickup(
    job_type: str, recorded: dict[str, list[Frame]], stack: Stack
) -> None:
    result = first_with_status(recorded[job_type], "result")

    assert result.at <= scaled_duration(job_type, stack) + stack.pickup_delay + RESULT_LATE_BY_AT_MOST
