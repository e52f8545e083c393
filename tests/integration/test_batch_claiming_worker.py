"""``python -m src.worker``'s worker claims a poll's jobs in one round trip: every job still runs exactly once."""

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import result_key_prefix
from arq.jobs import Job
from arq.worker import Worker
from chanx.fast_channels.testing import WebsocketCommunicator
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from src.batch_worker import BatchClaimWorker
from src.settings import Settings
from tests.integration.conftest import run_burst_worker


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[Any, ...]]]:
    """Each pipeline that reaches Redis from now on (past a read-ahead), as its commands' first two words."""
    sent: list[list[tuple[Any, ...]]] = []
    execute = Pipeline.execute

    async def recording_execute(pipe: Pipeline, raise_on_error: bool = True) -> Any:
        sent.append([tuple(args[:2]) for args, _ in pipe.command_stack])
        return await execute(pipe, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", recording_execute)
    return sent


async def queue_jobs(ws: WebsocketCommunicator, count: int) -> list[str]:
    """Queue ``count`` default jobs over the socket; their ids, once all are reported queued."""
    for n in range(count):
        await ws.send_json_to({"action": "job", "payload": {"type": "default", "content": f"job {n}"}})
    frames = [await ws.receive_json_from(timeout=2) for _ in range(2 * count)]
    return [f["payload"]["job_id"] for f in frames if f["payload"]["status"] == "queued"]


async def results(ws: WebsocketCommunicator, count: int) -> Counter[str]:
    """How many result frames each job got, over the next ``count`` frames."""
    frames = [await ws.receive_json_from(timeout=2) for _ in range(count)]
    return Counter(f["payload"]["job_id"] for f in frames if f["payload"]["status"] == "result")


async def test_the_batch_claiming_worker_runs_every_job_of_a_burst(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    job_ids = await queue_jobs(ws, 30)

    worker = await run_burst_worker(settings, worker_class=BatchClaimWorker)

    assert (worker.jobs_complete, worker.jobs_failed) == (30, 0)
    assert await results(ws, 30) == Counter(job_ids)
    assert await ws.receive_nothing()


async def test_two_batch_claiming_workers_racing_for_one_queue_never_run_a_job_twice(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    job_ids = await queue_jobs(ws, 40)

    workers = await asyncio.gather(*(run_burst_worker(settings, worker_class=BatchClaimWorker) for _ in range(2)))

    assert sum(w.jobs_complete for w in workers) == 40
    assert await results(ws, 40) == Counter(job_ids)
    assert await ws.receive_nothing()


async def test_arqs_stock_worker_and_the_batch_claiming_worker_share_one_queue_and_never_run_a_job_twice(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    job_ids = await queue_jobs(ws, 40)

    # The batch worker, much the faster claimer, stops after 20: the stock worker runs the rest at least.
    stock, batch = await asyncio.gather(
        run_burst_worker(settings, worker_class=Worker),
        run_burst_worker(settings, worker_class=BatchClaimWorker, max_burst_jobs=20),
    )

    assert (stock.jobs_complete + batch.jobs_complete, stock.jobs_failed + batch.jobs_failed) == (40, 0)
    assert stock.jobs_complete >= 20
    assert await results(ws, 40) == Counter(job_ids)
    assert await ws.receive_nothing()


async def test_the_batch_claiming_worker_claims_no_more_jobs_than_it_has_slots(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    job_ids = await queue_jobs(ws, 12)
    narrow = settings.model_copy(update={"worker_max_jobs": 5})

    worker = await run_burst_worker(narrow, worker_class=BatchClaimWorker)

    assert worker.jobs_complete == 12
    assert await results(ws, 12) == Counter(job_ids)


async def test_each_outcome_is_published_in_the_transaction_that_stores_its_jobs_result(
    ws: WebsocketCommunicator, settings: Settings, transactions: list[list[tuple[Any, ...]]]
) -> None:
    job_ids = await queue_jobs(ws, 5)

    await run_burst_worker(settings, worker_class=BatchClaimWorker)

    assert await results(ws, 5) == Counter(job_ids)
    finishing = [[t for t in transactions if ("SET", result_key_prefix + job_id) in t] for job_id in job_ids]
    assert [len(found) for found in finishing] == [1] * 5, transactions
    published_on = {command[1] for [found] in finishing for command in found if command[0] == "PUBLISH"}
    assert len(published_on) == 1, finishing  # the one socket's channel, in each of the five
    assert published_on.pop().startswith(settings.channel_layer_prefix)


async def test_an_outcome_whose_finishing_transaction_failed_is_still_delivered(
    ws: WebsocketCommunicator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def redis_fails(*_args: Any) -> None:
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(Worker, "finish_job", redis_fails)  # ARQ's finish, inside BatchClaimWorker's
    [job_id] = await queue_jobs(ws, 1)

    with pytest.raises(RedisConnectionError):
        await run_burst_worker(settings, worker_class=BatchClaimWorker)

    frame = await ws.receive_json_from(timeout=5)
    assert (frame["payload"]["status"], frame["payload"]["job_id"]) == ("result", job_id)


async def test_starting_a_claimed_job_costs_no_round_trip_and_counts_its_first_try(
    ws: WebsocketCommunicator, settings: Settings, pool: ArqRedis, transactions: list[list[tuple[Any, ...]]]
) -> None:
    job_ids = await queue_jobs(ws, 3)

    await run_burst_worker(settings, worker_class=BatchClaimWorker)

    assert await results(ws, 3) == Counter(job_ids)
    starts = [t for t in transactions if any(command[0] == "GET" for command in t)]
    assert starts == []  # ARQ's run_job asked for exactly what the claim had read
    tries = [(await Job(job_id, pool).result_info()) for job_id in job_ids]
    assert [info.job_try if info else None for info in tries] == [1, 1, 1]


async def test_the_batch_claiming_worker_without_wake_ups_runs_every_job_once_without_an_error(
    ws: WebsocketCommunicator, settings: Settings, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    job_ids = await queue_jobs(ws, 6)
    polling = settings.model_copy(update={"worker_wakeup": False, "worker_max_jobs": 2})  # a plain pool, slots full

    worker = await run_burst_worker(polling, worker_class=BatchClaimWorker)

    assert (worker.jobs_complete, worker.jobs_failed) == (6, 0)
    assert await results(ws, 6) == Counter(job_ids)
    assert await ws.receive_nothing()
    tries = [(await Job(job_id, pool).result_info()) for job_id in job_ids]
    assert [info.job_try if info else None for info in tries] == [1] * 6
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_without_wake_ups_an_outcome_is_sent_as_its_job_ends_not_held_until_its_result_is_stored(
    ws: WebsocketCommunicator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame_seen = asyncio.Event()
    finish_job = Worker.finish_job

    async def finish_once_the_frame_is_seen(worker: Worker, *args: Any) -> None:
        with contextlib.suppress(TimeoutError):  # bounded: an outcome held behind this would fail the test, not hang it
            await asyncio.wait_for(frame_seen.wait(), timeout=5)
        await finish_job(worker, *args)

    monkeypatch.setattr(Worker, "finish_job", finish_once_the_frame_is_seen)  # ARQ's write of the result, held
    [job_id] = await queue_jobs(ws, 1)
    polling = settings.model_copy(update={"worker_wakeup": False})  # a plain pool: no publish can ride in it
    running = asyncio.create_task(run_burst_worker(polling, worker_class=BatchClaimWorker))
    try:
        frame = await ws.receive_json_from(timeout=2)
    finally:
        frame_seen.set()
        await asyncio.wait_for(running, timeout=10)

    assert (frame["payload"]["status"], frame["payload"]["job_id"]) == ("result", job_id)
