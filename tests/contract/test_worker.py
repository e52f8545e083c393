"""The fast path's worker writes what ARQ's own worker writes: its claim, ``run_job``'s first transaction, the
finished job's result and keys; jobs enqueued and run by either, in any mix, store the same result."""

from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from redis.asyncio.client import Pipeline

import src.fastpath.batch_claim_worker
from src.fastpath.batch_claim_worker import RETRY_COUNTER_SECONDS
from src.fastpath.enqueue_batcher import NewJob, queue_jobs
from src.fastpath.pipelines import ReadAhead, read_ahead_context
from src.settings import Settings
from tests.contract.conftest import Entry, commands_run, run_burst, same_within, snapshot

HEALTH_CHECK = "arq:queue:health-check"  # the worker's heartbeat: counters of its own, not a job's state


async def enqueue_with_arq(pool: ArqRedis, job_type: str = "default", job_id: str = "default_1") -> None:
    """One job, queued by ARQ's own ``enqueue_job``."""
    assert await pool.enqueue_job(job_type, job_id, "hello", "chan", _job_id=job_id) is not None


async def state_at_job_start(pool: ArqRedis, settings: Settings, *, fast: bool) -> dict[str, Entry]:
    """What Redis holds when the job's function is about to run: after the claim and run_job's first transaction."""
    seen: list[dict[str, Entry]] = []

    async def on_job_start(ctx: dict[str, Any]) -> None:
        seen.append(await snapshot(pool, ignore=(HEALTH_CHECK,)))

    await run_burst(settings, fast=fast, on_job_start=on_job_start)
    [state] = seen
    return state


async def test_the_fast_paths_claim_and_start_leave_redis_as_arqs_claim_and_first_transaction_do(
    pool: ArqRedis, settings: Settings, frozen_clock: int
) -> None:
    await enqueue_with_arq(pool)
    arqs = await state_at_job_start(pool, settings, fast=False)
    await pool.flushdb()
    await enqueue_with_arq(pool)

    ours = await state_at_job_start(pool, settings, fast=True)

    same_within(ours, arqs)
    assert arqs["arq:in-progress:default_1"].value == b"1"
    assert arqs["arq:retry:default_1"].value == b"1"  # the first try, counted once
    assert abs(arqs["arq:retry:default_1"].pttl - RETRY_COUNTER_SECONDS * 1000) <= 2_000


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[tuple[Any, ...]], list[Any]]]:
    """Each transaction that reaches Redis from now on: its commands and Redis's replies."""
    sent: list[tuple[list[tuple[Any, ...]], list[Any]]] = []
    execute = Pipeline.execute

    async def recording_execute(pipe: Pipeline, raise_on_error: bool = True) -> Any:
        commands = [args for args, _ in pipe.command_stack]
        replies = await execute(pipe, raise_on_error)
        sent.append((commands, replies))
        return replies

    monkeypatch.setattr(Pipeline, "execute", recording_execute)
    return sent


@pytest.fixture
def read_aheads(monkeypatch: pytest.MonkeyPatch) -> list[ReadAhead]:
    """Each transaction the fast path's worker reads ahead from now on."""
    made: list[ReadAhead] = []

    def recording_context(read_ahead: ReadAhead) -> Any:
        made.append(read_ahead)
        return read_ahead_context(read_ahead)

    monkeypatch.setattr(src.fastpath.batch_claim_worker, "read_ahead_context", recording_context)
    return made


@pytest.mark.parametrize("abort_requested", [False, True], ids=["plain", "abort-requested"])
async def test_the_transaction_read_ahead_is_the_one_arqs_run_job_queues_with_the_replies_redis_gives_it(
    pool: ArqRedis,
    settings: Settings,
    frozen_clock: int,
    transactions: list[tuple[list[tuple[Any, ...]], list[Any]]],
    read_aheads: list[ReadAhead],
    abort_requested: bool,
) -> None:
    async def queue() -> None:
        await enqueue_with_arq(pool)
        if abort_requested:
            await pool.zadd(abort_jobs_ss, {"default_1": frozen_clock})

    await queue()
    await run_burst(settings, fast=False)
    [(arqs_commands, arqs_replies)] = [sent for sent in transactions if sent[0][0] == ("GET", "arq:job:default_1")]
    await pool.flushdb()
    await queue()

    await run_burst(settings, fast=True)

    [read_ahead] = read_aheads
    assert read_ahead.commands == arqs_commands  # ARQ's retry counter TTL (88400) included, as ARQ runs it
    assert read_ahead.replies == arqs_replies
    assert arqs_replies[1:] == [1, True, int(abort_requested)]
    assert read_ahead.used


async def finished_state(pool: ArqRedis, settings: Settings, *, fast: bool) -> dict[str, Entry]:
    """What Redis holds after the worker has run every queued job."""
    worker = await run_burst(settings, fast=fast)
    assert worker.jobs_complete + worker.jobs_failed == 1
    return await snapshot(pool, ignore=(HEALTH_CHECK,))


@pytest.mark.parametrize("case", ["result", "aborted-before-start", "unknown-function"])
async def test_a_job_finished_by_the_fast_paths_worker_leaves_the_result_and_keys_arqs_worker_leaves(
    pool: ArqRedis, settings: Settings, frozen_clock: int, case: str
) -> None:
    async def queue() -> None:
        await enqueue_with_arq(pool, "summarize" if case == "unknown-function" else "default")
        if case == "aborted-before-start":
            await pool.zadd(abort_jobs_ss, {"default_1": frozen_clock})

    await queue()
    arqs = await finished_state(pool, settings, fast=False)
    await pool.flushdb()
    await queue()

    ours = await finished_state(pool, settings, fast=True)

    same_within(ours, arqs)  # values byte for byte; TTLs as far apart as the two reads of them
    assert sorted(arqs) == ["arq:result:default_1"]  # the job, its queue entry, lock and counter are gone
    assert abs(arqs["arq:result:default_1"].pttl - settings.keep_result * 1000) <= 2_000


async def result_after(pool: ArqRedis, settings: Settings, *, enqueue_fast: bool, run_fast: bool) -> Entry:
    """The stored result of one job enqueued by ARQ or the fast path, and run by ARQ's worker or the fast path's."""
    await pool.flushdb()
    if enqueue_fast:
        await queue_jobs(pool, [NewJob("translate", "translate_1", "hello", "chan")], settings.queue_name + ":wake")
    else:
        await enqueue_with_arq(pool, "translate", "translate_1")
    await run_burst(settings, fast=run_fast)
    return (await snapshot(pool, ignore=(HEALTH_CHECK,)))["arq:result:translate_1"]


async def test_jobs_enqueued_and_run_by_arq_or_the_fast_path_in_any_mix_store_the_same_result(
    pool: ArqRedis, settings: Settings, frozen_clock: int
) -> None:
    arqs = await result_after(pool, settings, enqueue_fast=False, run_fast=False)

    mixes = {
        (enqueue_fast, run_fast): await result_after(pool, settings, enqueue_fast=enqueue_fast, run_fast=run_fast)
        for enqueue_fast, run_fast in [(True, False), (False, True), (True, True)]
    }

    assert {mix: entry.value for mix, entry in mixes.items()} == dict.fromkeys(mixes, arqs.value)
    assert all(abs(entry.pttl - arqs.pttl) <= 2_000 for entry in mixes.values())


async def test_the_fast_paths_worker_finishes_its_jobs_through_the_transaction_script_arqs_through_multi_exec(
    pool: ArqRedis, settings: Settings
) -> None:
    calls: dict[bool, dict[str, int]] = {}
    for fast in (False, True):
        await pool.flushdb()
        for number in range(30):
            await enqueue_with_arq(pool, "default", f"default_{number}")
        await pool.config_resetstat()
        await run_burst(settings, fast=fast)
        calls[fast] = await commands_run(pool)
        assert len(await pool.keys("arq:result:*")) == 30

    assert calls[False]["exec"] >= 30  # ARQ's claims, first transactions and finishes
    assert "multi" not in calls[True]  # claimed and started by one script, finished by another
    assert "exec" not in calls[True]
