"""Many jobs at once: on one socket they finish in order of duration, each under its own id; across
sockets, every socket hears about its own jobs only."""

import asyncio
import itertools
from contextlib import AsyncExitStack

import httpx
import pytest_asyncio

from tests.e2e.conftest import Stack
from tests.support.protocol import (
    CONNECTED,
    JOB_TYPES,
    PROMPT,
    SEED_DURATIONS,
    by_job_id,
    has_status,
    is_progress,
    job,
    job_frames,
    nth_result,
    seed_job_frames,
    status_of,
    without_progress,
)
from tests.support.ws_driver import JobSocket, JSONFrame

#: Longest first, so that results arriving shortest first is the server's doing, not the send order.
LONGEST_FIRST = tuple(reversed(JOB_TYPES))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def four_types_on_one_socket(real_time_stack: Stack) -> list[JSONFrame]:
    """Every frame of one socket that sent a "hello" job of each type in the same instant (real durations)."""
    async with httpx.AsyncClient() as client, JobSocket(client, real_time_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        for job_type in LONGEST_FIRST:
            await ws.send(job(job_type))
        await ws.receive_until(nth_result(4), timeout=max(SEED_DURATIONS.values()) + 5)
        return ws.data


def test_results_of_four_types_sent_at_once_arrive_shortest_first(
    four_types_on_one_socket: list[JSONFrame],
) -> None:
    results = [frame for frame in four_types_on_one_socket if status_of(frame) == "result"]

    assert [frame["payload"]["job_type"] for frame in results] == [
        "default",
        "translate",
        "analyze",
        "generate",
    ]


def test_four_types_sent_at_once_each_get_queuing_queued_and_their_result_under_their_own_id(
    four_types_on_one_socket: list[JSONFrame],
) -> None:
    """Four types' jobs on one socket each get ``queuing``, ``queued`` and their ``result``, all under their own id."""
    connected, *job_status_frames = four_types_on_one_socket
    jobs = by_job_id(without_progress(job_status_frames))

    types = {job_id: frames[0]["payload"]["job_type"] for job_id, frames in jobs.items()}
    assert connected == CONNECTED
    assert sorted(types.values()) == sorted(JOB_TYPES)
    assert jobs == {job_id: seed_job_frames(job_type, job_id) for job_id, job_type in types.items()}
    assert len(without_progress(job_status_frames)) == 3 * len(JOB_TYPES)


async def test_jobs_of_one_type_sent_in_the_same_instant_all_finish_under_distinct_ids(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """Five ``translate`` jobs sent at once get distinct ids, each with its ``queuing``, ``queued`` and ``result``."""
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        for _ in range(5):
            await ws.send(job("translate"))

        frames = await ws.receive_until(nth_result(5), timeout=5)

    jobs = by_job_id(without_progress(frames))
    assert len(jobs) == 5
    assert jobs == {job_id: seed_job_frames("translate", job_id) for job_id in jobs}
    assert len(without_progress(frames)) == 15


async def test_each_socket_gets_the_frames_of_its_own_job_only(scaled_stack: Stack, http: httpx.AsyncClient) -> None:
    """Three sockets each sending a job get their own job's frames only, and nothing after its ``result``."""
    contents = {"hello": "hola", "world": "mundo", "thank you": "gracias"}
    async with AsyncExitStack() as stack:
        sockets = {
            content: await stack.enter_async_context(JobSocket(http, scaled_stack.ws_url)) for content in contents
        }
        await asyncio.gather(*(ws.receive(timeout=PROMPT) for ws in sockets.values()))
        await asyncio.gather(*(ws.send(job("translate", content)) for content, ws in sockets.items()))
        await asyncio.gather(*(ws.receive_until(has_status("result"), timeout=5) for ws in sockets.values()))
        silent = await asyncio.gather(*(ws.receive_nothing(timeout=0.3) for ws in sockets.values()))

    assert silent == [True] * len(sockets)
    for content, ws in sockets.items():
        job_id = ws.data[1]["payload"]["job_id"]
        result = f"🌍 Translated: '{content}' → '{contents[content]}'"
        assert without_progress(ws.data) == [CONNECTED, *job_frames("translate", job_id, content, result)]


async def test_twenty_jobs_at_once_each_get_progress_frames_one_interval_to_half_a_second_apart(
    real_time_stack: Stack, http: httpx.AsyncClient
) -> None:
    """Twenty sockets send a ``translate`` job in the same instant: each job's ``progress`` frames reach its socket
    at least ``PROGRESS_INTERVAL`` (0.25 s) and at most 0.5 s apart, never going down."""
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(JobSocket(http, real_time_stack.ws_url)) for _ in range(20)]
        await asyncio.gather(*(ws.receive(timeout=PROMPT) for ws in sockets))
        await asyncio.gather(*(ws.send(job("translate")) for ws in sockets))
        wait = SEED_DURATIONS["translate"] + 5
        await asyncio.gather(*(ws.receive_until(has_status("result"), timeout=wait) for ws in sockets))

    for ws in sockets:
        progress = [frame for frame in ws.frames if is_progress(frame.data)]
        percents = [frame.data["payload"]["progress"] for frame in progress]
        assert len(progress) >= SEED_DURATIONS["translate"] / 0.5
        assert percents == sorted(percents)
        assert all(0.25 <= later.at - earlier.at <= 0.5 for earlier, later in itertools.pairwise(progress))
