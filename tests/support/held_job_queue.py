"""A job queue whose enqueues wait until the test lets them through: a job caught between its ``queuing`` and
``queued`` frames."""

import asyncio

from arq import ArqRedis

from src.parts import parts_for
from src.settings import Settings
from src.web.job_queue import JobQueue


class HeldJobQueue(JobQueue):
    """The app's job queue (with the fast path as the settings have it), whose enqueues wait for ``let_through``."""

    def __init__(self, settings: Settings, pool: ArqRedis) -> None:
        super().__init__(settings, parts_for(settings), pool=pool)
        self.let_through = asyncio.Event()

    async def enqueue(self, job_type: str, job_id: str, content: str, channel_name: str) -> None:
        await self.let_through.wait()
        await super().enqueue(job_type, job_id, content, channel_name)
