"""``python -m src.worker``'s worker claims a poll's jobs in one round trip: every job still runs exactly once."""

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss, result_key_prefix
from arq.jobs import Job
from arq.utils import timestamp_ms
from arq.worker import Worker
from chanx.fast_channels.testing import WebsocketCommunicator
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from src.fastpath import batch_claim_worker
from src.fastpath.batch_claim_worker import BatchClaimWorker
from src.fastpath.enqueue_batcher import NewJob
from src.fastpath.enqueue_batcher import queue_jobs as fast_queue_jobs
from src.fastpath.pipelines import ShortcutPipeline
from src.settings import Settings
from tests.support.burst_worker import run_burst_worker


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[Any, ...]]]:
    """Each pipeline that reaches Redis from now on (past a read-ahead), as MULTI/EXEC or as the transaction script,
    as its commands' first two words."""
    sent: list[list[tuple[Any, ...]]] = []
    execute = Pipeline.execute
    execute_as_script = ShortcutPipeline._execute_as_script

    async def recording_execute(pipe: Pipeline, raise_on_error: bool = True) -> Any:
        sent.append([tuple(args[:2]) for args, _ in pipe.command_stack])
        return await execute(pipe, raise_on_error)

    async def recording_execute_as_script(pipe: ShortcutPipeline, *args: Any) -> Any:
        sent.append([tuple(command[:2]) for command, _ in pipe.command_stack])
        return await execute_as_script(pipe, *args)

    monkeypatch.setattr(Pipeline, "execute", recording_execute)
    monkeypatch.setattr(ShortcutPipeline, "_execute_as_script", recording_execute_as_script)
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


class NotReadingAhead(BatchClaimWorker):
    """The worker as it runs once it has stopped reading ahead: ARQ's run_job starts each job itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_ahead = False


async def test_a_batch_claiming_worker_not_reading_ahead_runs_every_job_once_at_its_first_try(
    ws: WebsocketCommunicator, settings: Settings, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    job_ids = await queue_jobs(ws, 6)
    full = settings.model_copy(update={"worker_max_jobs": 2})  # every slot busy, polls that claim 2 at a time

    worker = await run_burst_worker(full, worker_class=NotReadingAhead)

    assert (worker.jobs_complete, worker.jobs_failed) == (6, 0)
    assert await results(ws, 6) == Counter(job_ids)
    assert await ws.receive_nothing()
    tries = [(await Job(job_id, pool).result_info()) for job_id in job_ids]
    assert [info.job_try if info else None for info in tries] == [1] * 6
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_first_transaction_arq_queues_unlike_the_one_read_ahead_never_reaches_redis_and_the_job_is_retried(
    ws: WebsocketCommunicator,
    settings: Settings,
    pool: ArqRedis,
    transactions: list[list[tuple[Any, ...]]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The script now reads ahead for a retry counter ARQ does not write (as if ARQ had changed its own).
    monkeypatch.setattr(batch_claim_worker, "RETRY_COUNTER_SECONDS", 1234)
    job_ids = await queue_jobs(ws, 2)
    slow = settings.model_copy(update={"worker_max_jobs": 1})  # one job at a time: the first one finds out

    worker = await run_burst_worker(slow, worker_class=BatchClaimWorker)

    assert await results(ws, 2) == Counter(job_ids)
    assert isinstance(worker, BatchClaimWorker)
    assert worker.read_ahead is False
    starts = [t for t in transactions if any(command[0] == "GET" for command in t)]
    assert len(starts) == 2  # one start per job, by ARQ itself: the mismatching one was not sent
    tries = [(await Job(job_id, pool).result_info()) for job_id in job_ids]
    # The job that found out was counted by the script too; the other was started by ARQ alone.
    assert sorted(info.job_try if info else 0 for info in tries) == [1, 2]
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert (
        "ARQ's run_job queued a transaction the fast path did not read ahead; reading ahead is off "
        "from now on and the job goes back on the queue"
    ) in error
    assert any(f"job_id={job_id}" in error for job_id in job_ids)
    assert "expected=[('GET', 'arq:job:" in error
    assert "1234)" in error  # what the script read ahead for
    assert "queued=[('GET', 'arq:job:" in error
    assert "88400)" in error  # what ARQ queued


async def test_a_job_whose_abort_was_requested_stays_aborted_when_a_mismatch_puts_it_back(
    settings: Settings, pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_claim_worker, "RETRY_COUNTER_SECONDS", 1234)
    await fast_queue_jobs(pool, [NewJob("default", "default_1", "x", "chan")], "arq:queue:wake")
    await pool.zadd(abort_jobs_ss, {"default_1": timestamp_ms()})

    await run_burst_worker(settings, worker_class=BatchClaimWorker)

    info = await Job("default_1", pool).result_info()
    assert info is not None
    assert isinstance(info.result, asyncio.CancelledError)  # the abort the script took was put back, and honoured
    assert await pool.zscore(abort_jobs_ss, "default_1") is None
