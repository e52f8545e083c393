"""``type`` defaults to ``default``; an unknown type runs ``default``, and the frames say ``default`` (end to end).

On the scaled stack (a real uvicorn, ``python -m src.worker`` and Redis): the worker really runs ``default``, so the
result is the seed's ``default`` text, and every frame about the job, its id included, names ``default``.
"""

from typing import Any

import httpx

from tests.e2e.conftest import Stack
from tests.support.protocol import (
    CONNECTED,
    PROMPT,
    SEED_DURATIONS,
    has_status,
    job_frames,
    job_id_of,
    without_progress,
)
from tests.support.ws_driver import JobSocket

CONTENT = "Hello there, summarize me"
#: The seed's ``default`` result: "✅ Processed: " and the content upper-cased.
DEFAULT_RESULT = "✅ Processed: HELLO THERE, SUMMARIZE ME"
#: How much longer than the scaled ``default`` job (and the worker's pickup) the test waits for its result.
RESULT_WAIT_MARGIN = 1.0


async def run_to_its_result(payload: dict[str, Any], stack: Stack, http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Send a job with ``payload`` on a fresh socket; its frames up to its result (and nothing after it)."""
    wait = SEED_DURATIONS["default"] * stack.time_scale + stack.pickup_delay + RESULT_WAIT_MARGIN
    async with JobSocket(http, stack.ws_url) as ws:
        assert await ws.receive(timeout=PROMPT) == CONNECTED
        await ws.send({"action": "job", "payload": payload})

        frames = await ws.receive_until(has_status("result"), timeout=wait)
        assert await ws.receive_nothing()
    return frames


def assert_ran_as_default(frames: list[dict[str, Any]]) -> None:
    """``frames`` are one ``default`` job's: its seed frames and result, every frame (progress too) saying
    ``default``."""
    job_id = frames[0]["payload"]["job_id"]
    assert job_id == job_id_of("default")
    assert without_progress(frames) == job_frames("default", job_id, CONTENT, DEFAULT_RESULT)
    assert {(frame["payload"]["job_id"], frame["payload"]["job_type"]) for frame in frames} == {(job_id, "default")}


async def test_an_unknown_job_type_runs_default_and_the_frames_say_default(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """A job of an unknown type runs ``default``, and every frame's ``job_type`` (and id) says ``default``."""
    frames = await run_to_its_result({"type": "summarize", "content": CONTENT}, scaled_stack, http)

    assert_ran_as_default(frames)


async def test_a_job_without_a_type_runs_default(scaled_stack: Stack, http: httpx.AsyncClient) -> None:
    """A job without a ``type`` runs ``default``, and every frame says ``default``."""
    frames = await run_to_its_result({"content": CONTENT}, scaled_stack, http)

    assert_ran_as_default(frames)
