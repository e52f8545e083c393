"""An ARQ pool on fakeredis: enqueueing without a network, for the unit layer; and ARQ's keys for a job, written as
ARQ's worker writes them."""

from typing import Any

from arq import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.jobs import serialize_result
from arq.utils import timestamp_ms
from fakeredis import FakeServer
from fakeredis.aioredis import FakeAsyncRedisMixin

from src.settings import Settings


class FakeArqRedis(FakeAsyncRedisMixin, ArqRedis):  # type: ignore[misc]
    """ArqRedis whose connections go to an in-process fakeredis server."""


def fake_arq_pool(server: FakeServer | None = None) -> ArqRedis:
    """A fresh fake ARQ pool; ``server.connected = False`` makes it fail like a lost Redis."""
    return FakeArqRedis(server=server or FakeServer())


async def store_result(pool: ArqRedis, settings: Settings, job_id: str, success: bool, result: Any) -> None:
    """Finish the job as ARQ's worker does: its result stored, off the queue."""
    now = timestamp_ms()
    data = serialize_result(
        job_id.partition("_")[0], (), {}, 1, now, success, result, now, now, job_id, settings.queue_name, job_id=job_id
    )
    assert data is not None
    await pool.set(result_key_prefix + job_id, data)
    await pool.zrem(settings.queue_name, job_id)


async def start_running(pool: ArqRedis, job_id: str) -> None:
    """Mark the job as running, as ARQ's worker does when it takes it."""
    await pool.set(in_progress_key_prefix + job_id, b"1")
