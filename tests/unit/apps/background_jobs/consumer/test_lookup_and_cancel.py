"""``job_lookup`` and ``cancel`` in-process, on ARQ's keys in fakeredis written as a worker would write them; and at
their edges: a failed job, an abort Redis refuses to record, what a cancel logs and counts, and a frame about a job
this socket is still queuing."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from chanx.fast_channels.testing import WebsocketCommunicator
from dirty_equals import IsStr
from fakeredis import FakeServer
from fastapi import FastAPI

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.main import create_app
from src.settings import Settings
from tests.support.communicator import ask, queue_job, socket_on
from tests.support.fake_arq import start_running, store_result
from tests.support.held_job_queue import HeldJobQueue
from tests.support.log_lines import log_lines
from tests.support.metric_samples import metric_samples
from tests.support.protocol import CONNECTED, PING, PONG, job_status


def lookup(job_id: Any) -> dict[str, Any]:
    """The frame that looks a job up."""
    return {"action": "job_lookup", "payload": {"job_id": job_id}}


def cancel(job_id: Any) -> dict[str, Any]:
    """The frame that cancels a job."""
    return {"action": "cancel", "payload": {"job_id": job_id}}


async def test_lookup_of_a_queued_job_says_it_is_queued(ws: WebsocketCommunicator) -> None:
    """``job_lookup`` of a job still on ARQ's queue gets one ``job_status`` frame: ``queued``."""
    job_id = await queue_job(ws)

    assert await ask(ws, lookup(job_id)) == job_status("queued", job_id, "translate", f"📋 Job {job_id} is queued")


async def test_lookup_of_a_running_job_says_it_is_in_progress(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    """``job_lookup`` of a job a worker has taken gets ``in_progress``; no ``progress`` until it reports some."""
    job_id = await queue_job(ws)
    await start_running(pool, job_id)

    assert await ask(ws, lookup(job_id)) == job_status(
        "in_progress", job_id, "translate", f"⚙️ Job {job_id} is in progress"
    )


async def test_lookup_of_a_finished_job_gives_its_result_text(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_job(ws)
    result = {"status": "completed", "result": "🌍 Translated: 'hello' → 'hola'", "job_id": job_id}
    await store_result(pool, settings, job_id, True, result)

    assert await ask(ws, lookup(job_id)) == job_status("result", job_id, "translate", "🌍 Translated: 'hello' → 'hola'")


async def test_lookup_of_a_failed_job_gives_its_error_text(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_job(ws)
    await store_result(pool, settings, job_id, False, KeyError("dictionary"))

    assert await ask(ws, lookup(job_id)) == job_status(
        "error", job_id, "translate", f"❌ Job {job_id} failed: KeyError: 'dictionary'"
    )


async def test_lookup_of_an_aborted_job_says_it_was_cancelled(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    """``job_lookup`` of a job whose stored ARQ result is a ``CancelledError`` (aborted) gets ``cancelled``."""
    job_id = await queue_job(ws)
    await store_result(pool, settings, job_id, False, asyncio.CancelledError())

    assert await ask(ws, lookup(job_id)) == job_status("cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled")


@pytest.mark.parametrize(
    ("job_id", "job_type"),
    [("analyze_0123456789abcdef0123456789abcdef", "analyze"), ("summarize_0123", "unknown"), ("nonsense", "unknown")],
    ids=["a job type's prefix", "a prefix that is no job type", "no prefix"],
)
async def test_lookup_of_an_unknown_job_says_not_found_typed_by_its_ids_prefix(
    job_id: str, job_type: str, ws: WebsocketCommunicator
) -> None:
    """``job_lookup`` of an unknown id: ``not_found``, typed by the id's prefix if a job type, else ``unknown``."""
    assert await ask(ws, lookup(job_id)) == job_status(
        "not_found", job_id, job_type, f"❓ No job {job_id}: unknown, or its result has expired"
    )


async def test_lookup_of_another_sockets_job_gives_the_same_answer(app: Any, ws: WebsocketCommunicator) -> None:
    """Another socket's ``job_lookup`` of a job this socket queued gets the same ``queued`` frame."""
    job_id = await queue_job(ws)
    other = socket_on(app)
    assert (await other.connect())[0]
    await other.receive_json_from(timeout=1)

    assert await ask(other, lookup(job_id)) == job_status("queued", job_id, "translate", f"📋 Job {job_id} is queued")
    await other.disconnect()


async def test_cancel_of_a_queued_job_records_arqs_abort_and_says_cancelled(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    job_id = await queue_job(ws)

    reply = await ask(ws, cancel(job_id))

    assert reply == job_status("cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled")
    assert await pool.zscore(abort_jobs_ss, job_id) is not None


async def test_cancel_of_a_running_job_records_arqs_abort_and_says_cancelled(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """``cancel`` of a running job answers ``cancelled`` and puts the id in ARQ's abort set."""
    job_id = await queue_job(ws)
    await start_running(pool, job_id)

    reply = await ask(ws, cancel(job_id))

    assert reply == job_status("cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled")
    assert await pool.zscore(abort_jobs_ss, job_id) is not None


async def test_no_result_frame_is_sent_for_a_job_after_its_cancel(ws: WebsocketCommunicator, pool: ArqRedis) -> None:
    """After ``cancel``, a ``result`` event for the job (its worker finishing anyway) sends no frame."""
    job_id = await queue_job(ws)
    (job,) = await pool.queued_jobs()
    await ask(ws, cancel(job_id))

    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 too late")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), job.args[2])

    assert await ws.receive_nothing(timeout=0.2)


async def test_cancel_of_a_finished_job_gets_an_error_frame_saying_it_has_finished(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_job(ws)
    await store_result(pool, settings, job_id, True, {"result": "🌍 done"})

    assert await ask(ws, cancel(job_id)) == job_status(
        "error", job_id, "translate", f"❌ Job {job_id} has already finished"
    )
    assert await pool.zscore(abort_jobs_ss, job_id) is None


async def test_cancel_of_a_cancelled_job_gets_an_error_frame_saying_so(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    """``cancel`` of a job ARQ stored as aborted gets ``error`` saying it was already cancelled."""
    job_id = await queue_job(ws)
    await store_result(pool, settings, job_id, False, asyncio.CancelledError())

    assert await ask(ws, cancel(job_id)) == job_status(
        "error", job_id, "translate", f"❌ Job {job_id} was already cancelled"
    )


async def test_cancel_of_an_unknown_job_gets_an_error_frame_saying_there_is_none(ws: WebsocketCommunicator) -> None:
    """``cancel`` of an id nobody queued gets ``error`` saying there is no such job, typed by the id's prefix."""
    assert await ask(ws, cancel("generate_feed")) == job_status(
        "error", "generate_feed", "generate", "❌ No job generate_feed to cancel"
    )


@pytest.mark.parametrize("frame", [lookup, cancel], ids=["job_lookup", "cancel"])
async def test_lookup_and_cancel_while_redis_is_down_get_an_error_frame_and_the_socket_keeps_serving(
    frame: Any, ws: WebsocketCommunicator, redis_server: FakeServer
) -> None:
    redis_server.connected = False
    action = "looking up" if frame is lookup else "cancelling"

    assert await ask(ws, frame("default_0a")) == job_status(
        "error", "default_0a", "default", f"❌ Error {action} job: the job queue is unavailable"
    )
    assert await ask(ws, PING) == PONG


INVALID_JOB_IDS = {
    "empty": ("", "string_too_short"),
    "over 100 characters": ("x" * 101, "string_too_long"),
    "a number": (42, "string_type"),
    "null": (None, "string_type"),
}


@pytest.mark.parametrize(("job_id", "error_type"), INVALID_JOB_IDS.values(), ids=INVALID_JOB_IDS)
@pytest.mark.parametrize("frame", [lookup, cancel], ids=["job_lookup", "cancel"])
async def test_lookup_and_cancel_of_an_invalid_job_id_get_chanxs_error_frame_and_the_socket_keeps_serving(
    frame: Any, job_id: Any, error_type: str, ws: WebsocketCommunicator
) -> None:
    sent = frame(job_id)

    assert await ask(ws, sent) == {
        "action": "error",
        "payload": [{"type": error_type, "loc": [sent["action"], "payload", "job_id"], "msg": IsStr()}],
    }
    assert await ask(ws, PING) == PONG


# --- at the edges ----------------------------------------------------------------------------------------------


async def test_cancel_of_a_job_that_failed_gets_an_error_frame_saying_it_has_finished(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_job(ws)
    await store_result(pool, settings, job_id, False, KeyError("dictionary"))

    assert await ask(ws, cancel(job_id)) == job_status(
        "error", job_id, "translate", f"❌ Job {job_id} has already finished"
    )
    assert await pool.zscore(abort_jobs_ss, job_id) is None


async def test_a_cancel_redis_refuses_to_record_gets_an_error_frame_and_the_jobs_outcome_is_still_relayed(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """The abort's write fails (Redis holds ARQ's abort set under another type): the job was not cancelled, so the
    socket says so and still relays the job's result when its worker reports it."""
    job_id = await queue_job(ws)
    (job,) = await pool.queued_jobs()
    await pool.set(abort_jobs_ss, b"not a sorted set")

    assert await ask(ws, cancel(job_id)) == job_status(
        "error", job_id, "translate", "❌ Error cancelling job: the job queue is unavailable"
    )

    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done after all")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), job.args[2])
    assert await ws.receive_json_from(timeout=1) == job_status("result", job_id, "translate", "🌍 done after all")


async def test_a_cancel_is_logged_with_the_job_and_the_state_it_was_in(
    ws: WebsocketCommunicator, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await queue_job(ws)

    with caplog.at_level(logging.INFO, logger="src.apps.background_jobs.consumer"):
        await ask(ws, cancel(job_id))

    lines = log_lines(caplog, "src.apps.background_jobs.consumer")
    assert lines == [f"[info ] job cancelled job_id={job_id} was=queued"]


async def test_a_cancelled_job_of_this_socket_is_counted_as_its_types_cancelled_outcome(
    app: FastAPI, ws: WebsocketCommunicator
) -> None:
    job_id = await queue_job(ws)

    await ask(ws, cancel(job_id))

    got = await metric_samples(app)
    outcomes = {labels: value for (name, labels), value in got.items() if name == "background_jobs_outcomes_total"}
    assert outcomes == {(("job_type", "translate"), ("status", "cancelled")): 1.0}
    assert got[("background_jobs_outcome_latency_seconds_count", (("job_type", "translate"),))] == 1


@pytest_asyncio.fixture
async def held(settings: Settings, pool: ArqRedis) -> AsyncIterator[tuple[HeldJobQueue, WebsocketCommunicator]]:
    """A socket on an app whose job queue holds each enqueue until released."""
    jobs = HeldJobQueue(settings, pool)
    communicator = socket_on(create_app(settings, jobs=jobs))
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == CONNECTED
    yield jobs, communicator
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "reply"),
    [(cancel, "cancelled"), (lookup, "queued")],
    ids=["cancel", "job_lookup"],
)
async def test_a_frame_about_a_job_this_socket_is_still_queuing_is_answered_once_it_is_queued(
    held: tuple[HeldJobQueue, WebsocketCommunicator], frame: Any, reply: str
) -> None:
    """Sent between the job's ``queuing`` and ``queued`` frames, a cancel or lookup is answered after ``queued``,
    about the job as queued (not as an unknown job)."""
    jobs, ws = held
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    await ws.send_json_to(frame(job_id))
    assert await ask(ws, PING) == PONG  # the frame about the job has been taken up meanwhile

    jobs.let_through.set()

    frames = [await ws.receive_json_from(timeout=1), await ws.receive_json_from(timeout=1)]
    assert [(f["payload"]["status"], f["payload"]["job_id"]) for f in frames] == [("queued", job_id), (reply, job_id)]
