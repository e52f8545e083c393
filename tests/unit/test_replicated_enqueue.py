"""``REDIS_MIN_REPLICAS_ACK`` off the fast path, on fakeredis with stand-in replicas answering Redis's ``WAIT``: the job
is written and waited for on one connection, queued whole on the configured queue, for a bounded wait.

(``tests/integration/test_replicas_ack.py`` runs it against a real Redis, which has no replica to answer.)
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from arq import ArqRedis

import src.web.arq_writer
from src.parts import StockParts
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.fake_arq import fake_arq_pool


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
