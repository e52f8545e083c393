"""The stock writer (``ArqJobWriter``, off the fast path): jobs queued by ARQ's ``enqueue_job`` under their ids, a
cancel recorded as ARQ's abort request, ``MAX_QUEUE_DEPTH`` and ``ENQUEUE_TIMEOUT`` (for Redis's work only, not
a job's wait for its turn); and ``REDIS_MIN_REPLICAS_ACK``, on fakeredis with stand-in replicas answering Redis's
``WAIT``: the job is written and waited for on one connection, queued whole on the configured queue, for a bounded
wait.

(``tests/integration/test_replicas_ack.py`` runs it against a real Redis, which has no replica to answer.)"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss

import src.web.arq_writer
from src.parts import StockParts
from src.settings import Settings
from src.web.arq_writer import ArqJobWriter
from src.web.job_queue import JobQueue, QueueError, QueueFull
from tests.support.fake_arq import fake_arq_pool


async def test_without_the_fast_path_jobs_are_queued_by_arqs_enqueue_job_under_their_ids() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(), StockParts(Settings()), pool=pool)
    assert isinstance(jobs.writer, ArqJobWriter)

    await jobs.enqueue("translate", "translate_1", "hello", "chan-1")

    queued = [(job.job_id, job.function, job.args) for job in await pool.queued_jobs()]
    assert queued == [("translate_1", "translate", ("translate_1", "hello", "chan-1"))]
    await pool.aclose()


async def test_without_the_fast_path_a_cancel_records_arqs_abort_request() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(), StockParts(Settings()), pool=pool)

    await jobs.request_abort("default_1")

    assert await pool.zscore(abort_jobs_ss, "default_1") is not None
    await pool.aclose()


async def test_without_the_fast_path_an_enqueue_redis_does_not_take_in_time_fails_saying_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(enqueue_timeout=0.05), StockParts(Settings(enqueue_timeout=0.05)), pool=pool)
    never = asyncio.Event()

    async def hung_enqueue(*args: Any, **kwargs: Any) -> None:
        await never.wait()

    monkeypatch.setattr(pool, "enqueue_job", hung_enqueue)

    with pytest.raises(QueueError, match=r"^the job queue did not answer in time$"):
        await asyncio.wait_for(jobs.enqueue("default", "default_1", "a", "channel"), timeout=1)

    assert any("enqueue timed out" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    await pool.aclose()


async def test_without_the_fast_path_a_job_over_max_queue_depth_is_not_queued_and_the_queue_is_said_full() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(max_queue_depth=1), StockParts(Settings(max_queue_depth=1)), pool=pool)
    await jobs.enqueue("default", "default_1", "a", "channel")

    with pytest.raises(QueueFull, match=r"^the job queue is full \(1 jobs\); try again later$"):
        await jobs.enqueue("default", "default_2", "b", "channel")

    assert [job.job_id for job in await pool.queued_jobs()] == ["default_1"]
    await pool.aclose()


async def test_without_the_fast_path_an_enqueue_waiting_its_turn_is_not_timed_only_redis_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = fake_arq_pool()
    monkeypatch.setattr(src.web.arq_writer, "STOCK_ENQUEUES_AT_ONCE", 1)
    jobs = JobQueue(Settings(enqueue_timeout=0.1), StockParts(Settings(enqueue_timeout=0.1)), pool=pool)
    enqueue_job = pool.enqueue_job

    async def redis_takes_a_while(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.06)  # within ENQUEUE_TIMEOUT, each on its own
        return await enqueue_job(*args, **kwargs)

    monkeypatch.setattr(pool, "enqueue_job", redis_takes_a_while)

    await asyncio.gather(*(jobs.enqueue("default", f"default_{n}", "x", "channel") for n in range(3)))

    assert len(await pool.queued_jobs()) == 3  # the last waited 0.12 s for its turn, more than the timeout
    await pool.aclose()


# --- REDIS_MIN_REPLICAS_ACK ------------------------------------------------------------------------------------


@dataclass
class Replicas:
    """Stand-in replicas: how many acknowledge a ``WAIT``; the connections made to wait on them, and the waits."""

    acknowledging: int
    connections: list[dict[str, Any]] = field(default_factory=list)
    waits: list[tuple[int, int]] = field(default_factory=list)


@pytest.fixture
def replicas(monkeypatch: pytest.MonkeyPatch) -> Replicas:
    """Two replicas acknowledging every ``WAIT`` made by the job queue's writer (fakeredis has no ``WAIT``)."""
    stand_ins = Replicas(acknowledging=2)

    class ConnectionToAMasterWithReplicas(ArqRedis):
        def __init__(self, **kwargs: Any) -> None:
            stand_ins.connections.append(kwargs)
            super().__init__(**kwargs)

        async def wait(self, num_replicas: int, timeout: int, **kwargs: Any) -> int:
            stand_ins.waits.append((num_replicas, timeout))
            return stand_ins.acknowledging

    monkeypatch.setattr(src.web.arq_writer, "ArqRedis", ConnectionToAMasterWithReplicas)
    return stand_ins


async def test_a_job_its_replicas_acknowledge_is_queued_whole_on_the_configured_queue(replicas: Replicas) -> None:
    pool = fake_arq_pool()
    settings = Settings(redis_min_replicas_ack=2, enqueue_timeout=2.0, queue_name="q:replicated")
    jobs = JobQueue(settings, StockParts(settings), pool=pool)

    await jobs.enqueue("translate", "translate_1", "hello", "chan-1")

    queued = [(job.job_id, job.function, job.args) for job in await pool.queued_jobs(queue_name="q:replicated")]
    assert queued == [("translate_1", "translate", ("translate_1", "hello", "chan-1"))]
    assert replicas.waits == [(2, 1000)]  # 2 replicas, for half of the 2 s ENQUEUE_TIMEOUT, in milliseconds
    await pool.aclose()


async def test_the_job_is_written_and_waited_for_on_one_connection_of_the_pool(replicas: Replicas) -> None:
    """Redis's ``WAIT`` counts the replicas holding the writes of its own connection: it must be the job's."""
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(redis_min_replicas_ack=1), StockParts(Settings(redis_min_replicas_ack=1)), pool=pool)

    await jobs.enqueue("default", "default_1", "a", "chan")

    assert replicas.connections == [{"connection_pool": pool.connection_pool, "single_connection_client": True}]
    await pool.aclose()


async def test_a_tiny_enqueue_timeout_still_waits_a_millisecond_for_the_replicas_not_forever(
    replicas: Replicas,
) -> None:
    """Half of a 3 ms ``ENQUEUE_TIMEOUT`` is 1 ms; under a millisecond would be ``WAIT 0``: block until acknowledged."""
    pool = fake_arq_pool()
    jobs = JobQueue(
        Settings(redis_min_replicas_ack=1, enqueue_timeout=0.003),
        StockParts(Settings(redis_min_replicas_ack=1, enqueue_timeout=0.003)),
        pool=pool,
    )

    await jobs.enqueue("default", "default_1", "a", "chan")

    assert replicas.waits == [(1, 1)]
    await pool.aclose()
