"""Contract fixtures: a real Redis (emptied per test), pools on it, ARQ's clock held still, and snapshots of Redis.

The contract tests run ARQ's, chanx's and fast-channels' own code and record what it writes, then
compare it with what ``src/fastpath/`` writes in its place: an upgrade of any of them shows up here.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import arq.connections
import arq.worker
import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.worker import Worker
from fast_channels.layers import channel_layers
from redis.asyncio import ConnectionPool, Redis

import src.fastpath.batch_claim_worker
import src.fastpath.enqueue_batcher
from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.fastpath.batch_claim_worker import BatchClaimWorker
from src.layers import setup_layers, teardown_layers
from src.settings import Settings
from src.worker_side.notifier import Notifier
from tests.support.burst_worker import run_burst_worker

#: The one instant every clock below reads, in ms: what ARQ and the fast path write is then byte for byte comparable.
NOW_MS = 1_780_000_000_000


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Instant jobs on the real Redis, with the fast path on (whatever FAST_PATH says)."""
    return Settings(redis_url=redis_url, job_time_scale=0.0, worker_poll_delay=0.01, fast_path=True)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> int:
    """ARQ's clock and the fast path's read ``NOW_MS``: enqueue times, scores and start and finish times agree."""
    for module in (arq.connections, arq.worker, src.fastpath.enqueue_batcher, src.fastpath.batch_claim_worker):
        monkeypatch.setattr(module, "timestamp_ms", lambda: NOW_MS)
    return NOW_MS


@pytest_asyncio.fixture
async def pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """An ARQ pool on redis-py's own connection pool, as the reference path's web side has."""
    arq_pool = ArqRedis(ConnectionPool.from_url(settings.redis_url), default_queue_name=settings.queue_name)
    yield arq_pool
    await arq_pool.aclose(close_connection_pool=True)


@pytest_asyncio.fixture
async def redis_layer(settings: Settings) -> AsyncIterator[None]:
    """The app's Redis pub/sub channel layer, registered as the worker's start-up registers it, closed after."""
    channel_layers.clear()
    setup_layers(settings)
    yield
    await teardown_layers()


@dataclass(frozen=True)
class Entry:
    """One Redis key as a test compares it: its type, its value, and its time to live in ms (-1: none)."""

    kind: str
    value: Any
    pttl: int


async def snapshot(client: Redis, *, ignore: tuple[str, ...] = ()) -> dict[str, Entry]:
    """Every key in the database (but those starting with ``ignore``), with its type, value and TTL."""
    entries: dict[str, Entry] = {}
    for raw in sorted(await client.keys("*")):
        key = raw.decode()
        if key.startswith(ignore):
            continue
        kind = (await client.type(key)).decode()
        value: Any
        if kind == "string":
            value = await client.get(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        else:  # nothing the contracts compare is of another type
            raise AssertionError(f"{key} is a {kind}")
        entries[key] = Entry(kind, value, await client.pttl(key))
    return entries


async def commands_run(client: Redis) -> dict[str, int]:
    """How many times Redis ran each command since its stats were last reset (``INFO commandstats``), by name."""
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(command["calls"]) for name, command in stats.items()}


def same_within(first: dict[str, Entry], second: dict[str, Entry], ttl_ms: int = 2_000) -> None:
    """Assert two snapshots hold the same keys, types and values, and TTLs no further apart than ``ttl_ms``."""
    assert sorted(first) == sorted(second)
    assert {key: (e.kind, e.value) for key, e in first.items()} == {key: (e.kind, e.value) for key, e in second.items()}
    for key, entry in first.items():
        assert (entry.pttl < 0) == (second[key].pttl < 0), key
        assert abs(entry.pttl - second[key].pttl) <= ttl_ms, (key, entry.pttl, second[key].pttl)


async def run_burst(settings: Settings, *, fast: bool, notifier: Notifier | None = None, **overrides: Any) -> Worker:
    """Run ARQ's own worker (``fast=False``) or the fast path's until the queue is empty; its tasks report to
    ``notifier``, by default a recorder (the contracts compare Redis, not frames)."""
    return await run_burst_worker(
        settings.model_copy(update={"fast_path": fast}),
        worker_class=BatchClaimWorker if fast else Worker,
        notifier=notifier if notifier is not None else RecordingNotifier(),
        **overrides,
    )


class RecordingNotifier:
    """A notifier that keeps what the tasks report (the contracts compare Redis, not frames)."""

    def __init__(self) -> None:
        self.sent: list[tuple[JobOutcome, str]] = []

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        self.sent.append((outcome, channel_name))

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Zero-work jobs report no progress."""
