"""The worker's wakeable pool: an idle poll waits for an enqueue's wake-up instead of sleeping, and never spins."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from fakeredis import FakeServer

from src.fastpath.enqueue_batcher import NewJob, queue_jobs
from src.fastpath.wakeable_pool import WakeableArqRedis
from tests.support.fake_arq import fake_arq_pool
from tests.unit.fastpath.fakes import fake_worker_pool

QUEUE = "arq:queue"
WAKE = "arq:queue:wake"
FALLBACK = 0.5


@pytest_asyncio.fixture
async def server() -> FakeServer:
    """One fakeredis server for the worker's pool and the web side's."""
    return FakeServer()


@pytest_asyncio.fixture
async def worker_pool(server: FakeServer) -> AsyncIterator[WakeableArqRedis]:
    """The worker's pool, falling back to polling every ``FALLBACK`` seconds."""
    pool = fake_worker_pool(server, wait=FALLBACK, queue=QUEUE)
    yield pool
    await pool.aclose()


async def poll(pool: WakeableArqRedis) -> Any:
    """Poll the queue the way ARQ's worker does."""
    return await pool.zrangebyscore(QUEUE, min=float("-inf"), start=0, num=100, max=timestamp_ms())


def note_waits(pool: WakeableArqRedis, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """An event set when one of ``pool``'s polls begins to wait for a wake-up (its public ``wait_for_wakeup``)."""
    waiting = asyncio.Event()
    wait_for_wakeup = pool.wait_for_wakeup

    async def noting_the_wait() -> None:
        waiting.set()  # the wait begins in this same step: no other task runs in between
        await wait_for_wakeup()

    monkeypatch.setattr(pool, "wait_for_wakeup", noting_the_wait)
    return waiting


async def enqueue(server: FakeServer, job_id: str, wake: bool = True) -> None:
    """Enqueue as the web side does with the fast path (its wake-up included), or as ARQ does (none)."""
    web = fake_arq_pool(server)
    try:
        if wake:
            await queue_jobs(web, [NewJob("default", job_id, "x", "channel")], WAKE)
        else:
            await web.enqueue_job("default", job_id, "x", "channel", _job_id=job_id)
    finally:
        await web.aclose()


async def test_a_poll_that_finds_a_job_returns_it_at_once(worker_pool: WakeableArqRedis, server: FakeServer) -> None:
    await enqueue(server, "default_1", wake=False)

    started = time.monotonic()
    assert await poll(worker_pool) == [b"default_1"]
    assert time.monotonic() - started < FALLBACK / 2


async def test_an_idle_poll_ends_at_an_enqueues_wake_up_finding_nothing_and_the_next_poll_returns_the_job(
    worker_pool: WakeableArqRedis, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait answers nothing, so that ARQ's worker decides afresh whether to poll (not after SIGTERM)."""
    poll_waits = note_waits(worker_pool, monkeypatch)
    waiting = asyncio.create_task(poll(worker_pool))
    await asyncio.wait_for(poll_waits.wait(), timeout=FALLBACK / 2)  # it found nothing and waits for a wake-up

    started = time.monotonic()
    await enqueue(server, "default_2")
    found = await asyncio.wait_for(waiting, timeout=FALLBACK)

    assert found == []
    assert time.monotonic() - started < FALLBACK / 2
    assert await poll(worker_pool) == [b"default_2"]


async def test_a_poll_that_finds_only_running_jobs_waits_instead_of_spinning(
    worker_pool: WakeableArqRedis, server: FakeServer
) -> None:
    await enqueue(server, "default_3", wake=False)
    await worker_pool.set(in_progress_key_prefix + "default_3", b"1")

    started = time.monotonic()
    found = await poll(worker_pool)

    assert found == []
    assert time.monotonic() - started >= FALLBACK * 0.9
