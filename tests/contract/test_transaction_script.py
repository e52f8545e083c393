"""A transaction of the worker's sent as one script (``transaction.lua``) leaves Redis as MULTI/EXEC leaves it and
is answered as redis-py answers MULTI/EXEC: ARQ's finishing transactions, errors in place, and what is not scripted."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from arq import ArqRedis
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError, WatchError

from src.fastpath.pipelines import SCRIPTED_COMMANDS, ShortcutPipeline, publishing, script_call
from src.fastpath.wakeable_pool import WakeableArqRedis, worker_pool
from src.settings import Settings
from tests.contract.conftest import commands_run, same_within, snapshot

JOB = "default_4b7bc80664e14d6c9e2bd1e5f0a3c7d8"

#: Each transaction queues the commands ARQ's worker (arq 0.28, ``finish_job`` and ``finish_failed_job``) queues to
#: finish a job in one of its ways, or to start it (``run_job``), on keys a job in progress has.
Queue = Callable[[Pipeline], object]
ARQS_TRANSACTIONS: dict[str, Queue] = {
    "result": lambda tr: (
        tr.set("arq:result:" + JOB, b"\x80\x05result", px=86_400_000),
        tr.zrem("arq:abort", JOB),
        tr.zrem("arq:queue", JOB),
        tr.delete("arq:in-progress:" + JOB, "arq:retry:" + JOB, "arq:job:" + JOB),
    ),
    "retry-later": lambda tr: (tr.zincrby("arq:queue", 5_000, JOB), tr.delete("arq:in-progress:" + JOB)),
    "kept-in-progress": lambda tr: (tr.pexpire("arq:in-progress:" + JOB, 60_000), tr.zrem("arq:queue", JOB)),
    "failed": lambda tr: (
        tr.delete("arq:retry:" + JOB, "arq:in-progress:" + JOB, "arq:job:" + JOB),
        tr.zrem("arq:abort", JOB),
        tr.zrem("arq:queue", JOB),
        tr.set("arq:result:" + JOB, b"\x80\x05failed", px=3_600_000),
    ),
    "psetex": lambda tr: tr.psetex("arq:result:" + JOB, 1_000, "é ✅"),
    # run_job's first transaction, as ARQ's own worker sends it (the fast path's reads it ahead)
    "started": lambda tr: (
        tr.get("arq:job:" + JOB),
        tr.incr("arq:retry:" + JOB),
        tr.expire("arq:retry:" + JOB, 88_400),
        tr.zrem("arq:abort", JOB),
    ),
}


@pytest_asyncio.fixture
async def wakeable(settings: Settings) -> AsyncIterator[WakeableArqRedis]:
    """The worker's pool (its pipelines send scripts), on the test's Redis."""
    pool = worker_pool(settings)
    yield pool
    await pool.aclose(close_connection_pool=True)


async def job_in_progress(client: Redis) -> None:
    """The keys of a job the worker is running (and a stale result, and an abort request)."""
    await client.zadd("arq:queue", {JOB: 1_780_000_000_000})
    await client.zadd("arq:abort", {JOB: 1_780_000_000_000})
    await client.set("arq:job:" + JOB, b"record", px=86_400_000)
    await client.set("arq:in-progress:" + JOB, b"1", px=60_000)
    await client.set("arq:retry:" + JOB, 1, ex=88_400)


@pytest.mark.parametrize("transaction", ARQS_TRANSACTIONS, ids=str)
async def test_arqs_transaction_sent_as_a_script_leaves_redis_and_answers_as_multi_exec(
    transaction: str, pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    await job_in_progress(pool)
    async with pool.pipeline(transaction=True) as tr:
        ARQS_TRANSACTIONS[transaction](tr)
        stock_replies = await tr.execute()
    stock = await snapshot(pool)
    await pool.flushdb()

    async with wakeable.pipeline(transaction=True) as tr:
        tr.delete("nothing")  # the script now known to Redis
        await tr.execute()
    await job_in_progress(pool)
    await pool.config_resetstat()
    async with wakeable.pipeline(transaction=True) as tr:
        ARQS_TRANSACTIONS[transaction](tr)
        assert script_call(tr.command_stack) is not None
        replies = await tr.execute()
    ours = await snapshot(pool)

    assert replies == stock_replies
    same_within(ours, stock)  # keys, types and values; TTLs as far apart as the two reads of them
    run = await commands_run(pool)
    assert "multi" not in run
    assert "exec" not in run
    assert run["evalsha"] == 1


async def test_a_riding_publish_goes_out_from_the_script(pool: ArqRedis, wakeable: WakeableArqRedis) -> None:
    listener = pool.pubsub()
    await listener.subscribe("asgispecific.a1!b2")
    await listener.get_message(timeout=1.0)  # the subscription's confirmation

    with publishing("asgispecific.a1!b2", b"\x82\xa4type\xa3msg"):
        async with wakeable.pipeline(transaction=True) as tr:
            ARQS_TRANSACTIONS["result"](tr)
            replies = await tr.execute()

    assert replies[0] == 1  # PUBLISH: heard by one subscriber
    message = await listener.get_message(timeout=2.0)
    assert message is not None
    assert message["data"] == b"\x82\xa4type\xa3msg"
    await listener.aclose()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("raise_on_error", [True, False])
async def test_an_error_is_its_commands_reply_the_commands_after_it_run_and_the_first_is_raised_as_redis_py_raises(
    raise_on_error: bool, pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    def queue(tr: Pipeline) -> None:
        tr.set("plain", b"v")
        tr.zrem("plain", JOB)  # WRONGTYPE: a string is not a sorted set
        tr.delete("other")
        tr.set("after", b"ran")

    outcomes: list[Any] = []
    for client in (pool, wakeable):
        await pool.flushdb()
        await pool.set("other", b"x")
        async with client.pipeline(transaction=True) as tr:
            queue(tr)
            try:
                outcomes.append([repr(reply) for reply in await tr.execute(raise_on_error=raise_on_error)])
            except ResponseError as error:
                outcomes.append(("raised", str(error)))
        outcomes.append(await snapshot(pool))

    stock_answer, stock_state, our_answer, our_state = outcomes
    assert our_answer == stock_answer
    assert our_state.keys() == stock_state.keys() == {"plain", "after"}
    if raise_on_error:
        assert stock_answer[0] == "raised"
        assert "Command # 2 (ZREM plain" in stock_answer[1]


async def test_a_transaction_holding_another_command_goes_as_multi_exec(
    pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    assert "ZADD" not in SCRIPTED_COMMANDS
    await pool.config_resetstat()
    async with wakeable.pipeline(transaction=True) as tr:
        tr.delete("arq:in-progress:" + JOB)
        tr.zadd("arq:abort", {JOB: 1})
        assert script_call(tr.command_stack) is None
        assert await tr.execute() == [0, 1]

    run = await commands_run(pool)
    assert run["multi"] == run["exec"] == 1
    assert "evalsha" not in run


@pytest.mark.parametrize(
    "command",
    [("DEL",), ("SET", "k"), ("PUBLISH", "c"), ("PUBLISH", "c", "m", "x"), ("PSETEX", "k", 1), ("ZINCRBY", "k", 1)],
    ids=lambda command: "-".join(map(str, command)),
)
async def test_a_transaction_redis_would_refuse_before_exec_goes_as_multi_exec_and_is_refused_whole(
    command: tuple[Any, ...], pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    errors = []
    for client in (pool, wakeable):
        async with client.pipeline(transaction=True) as tr:
            tr.set("before", b"v")
            tr.execute_command(*command)
            assert script_call(tr.command_stack) is None
            with pytest.raises(ResponseError) as refused:
                await tr.execute()
            errors.append(str(refused.value))

    assert errors[0] == errors[1]
    assert "wrong number of arguments" in errors[0]
    assert await pool.exists("before") == 0  # nothing of it ran


async def test_a_pipeline_not_a_transaction_is_sent_as_redis_py_sends_it(
    pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    await pool.config_resetstat()
    async with wakeable.pipeline(transaction=False) as pipe:
        pipe.delete("a")
        pipe.zrem("arq:queue", JOB)
        assert await pipe.execute() == [0, 0]

    run = await commands_run(pool)
    assert run["del"] == run["zrem"] == 1
    assert "evalsha" not in run
    assert "multi" not in run


async def test_a_redis_that_lost_its_scripts_is_given_the_script_again(
    pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    async with wakeable.pipeline(transaction=True) as tr:
        tr.delete("a")
        await tr.execute()
    await pool.script_flush()  # as a restarted Redis has none

    await job_in_progress(pool)
    async with wakeable.pipeline(transaction=True) as tr:
        ARQS_TRANSACTIONS["result"](tr)
        assert await tr.execute() == [True, 1, 1, 3]
    assert sorted(await pool.keys("*")) == [b"arq:result:" + JOB.encode()]


def test_a_pipeline_made_without_the_script_sends_every_transaction_as_multi_exec() -> None:
    assert ShortcutPipeline.of(Redis()).scripted is None


async def test_transactions_finishing_at_once_go_in_two_calls_each_answered_with_its_own_replies(
    pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    async def finish(job: int) -> list[Any]:
        async with wakeable.pipeline(transaction=True) as tr:
            tr.delete(*(f"job:{job}:{key}" for key in range(1 + job % 4)))
            tr.zrem("queue", f"job:{job}", f"job:{job}:again")
            if job == 7:
                tr.zrem("plain", "x")  # WRONGTYPE: only this transaction's reply
            tr.set(f"result:{job}", job)
            return await tr.execute(raise_on_error=False)

    await pool.set("plain", b"v")
    for job in range(40):
        await pool.zadd("queue", {f"job:{job}": job})
        for key in range(job % 4):
            await pool.set(f"job:{job}:{key}", b"x")
    await pool.config_resetstat()

    answers = await asyncio.gather(*(finish(job) for job in range(40)))

    for job, answer in enumerate(answers):
        if job == 7:
            assert answer[:2] == [job % 4, 1]  # of its 1 + job % 4 keys, job % 4 were there
            assert isinstance(answer[2], ResponseError)
            assert answer[3:] == [True]
        else:
            assert answer == [job % 4, 1, True]
    assert await pool.zcard("queue") == 0
    assert [int(value) for value in await pool.mget([f"result:{job}" for job in range(40)])] == list(range(40))
    assert (await commands_run(pool))["evalsha"] == 2  # the first at once; the 39 that came meanwhile together


async def test_arqs_watched_claim_stays_multi_exec_and_a_claim_elsewhere_meanwhile_aborts_it(
    pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    lock = "arq:in-progress:" + JOB
    async with wakeable.pipeline(transaction=True) as pipe:
        await pipe.watch(lock)
        assert await pipe.exists(lock) == 0
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.psetex(lock, 60_000, b"1")
        await pool.set(lock, b"another worker's")
        with pytest.raises(WatchError):
            await pipe.execute()

    assert await pool.get(lock) == b"another worker's"


async def test_a_command_queued_with_an_option_that_changes_its_reply_goes_as_multi_exec(
    pool: ArqRedis, wakeable: WakeableArqRedis
) -> None:
    answers = []
    for client in (pool, wakeable):
        await pool.set("k", b"old")
        async with client.pipeline(transaction=True) as tr:
            tr.set("k", b"new", get=True)  # redis-py queues it with the option ``get``: the reply is the old value
            assert script_call(tr.command_stack) is None
            answers.append(await tr.execute())

    assert answers == [[b"old"], [b"old"]]
