"""The app as the tutorial enqueues: a new Redis pool for every job (``create_pool``, ``enqueue_job``, close), for
the benchmark's ``seed`` configuration only (``uvicorn bench.tutorial_app:app``); everything else is the app's own."""

from arq import ArqRedis, create_pool
from fastapi import FastAPI

from src.main import create_app
from src.parts import StockParts
from src.plumbing.deadlines import within
from src.settings import Settings, get_settings
from src.web.arq_writer import ArqJobWriter
from src.web.job_queue import JobQueue


class PoolPerJobWriter(ArqJobWriter):
    """ARQ's writes, each enqueue on a pool of its own, as the tutorial's ``queue_job`` does."""

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        """A new pool, ARQ's ``enqueue_job`` under ``job_id``, the pool closed; within ``ENQUEUE_TIMEOUT``."""
        enqueue = self._enqueue_on_its_own_pool(job_type, job_id, content, channel_name)
        return await within(enqueue, self.settings.enqueue_timeout)

    async def _enqueue_on_its_own_pool(self, job_type: str, job_id: str, content: str, channel_name: str) -> bool:
        pool = await create_pool(self.settings.arq_redis, default_queue_name=self.settings.queue_name)
        try:
            await pool.enqueue_job(job_type, job_id, content, channel_name, _job_id=job_id)
        finally:
            await pool.aclose()
        return True


class TutorialParts(StockParts):
    """The stock parts, but for the writer: a pool per enqueue."""

    def job_writer(self, pool: ArqRedis) -> PoolPerJobWriter:
        """The tutorial's enqueue."""
        return PoolPerJobWriter(pool, self.settings)


def tutorial_app(settings: Settings) -> FastAPI:
    """The app for ``settings``, enqueueing as the tutorial does."""
    return create_app(settings, jobs=JobQueue(settings, TutorialParts(settings)))


app = tutorial_app(get_settings())
