"""Run one job per socket, all sent in the same instant, and keep every socket's timed frames."""

import asyncio
from collections.abc import Iterable
from contextlib import AsyncExitStack

import httpx

from tests.support.protocol import PROMPT, has_status, job
from tests.support.ws_driver import Frame, JobSocket


async def run_side_by_side(ws_url: str, job_types: Iterable[str], result_timeout: float) -> dict[str, list[Frame]]:
    """Open a socket per job type, send each its "hello" job at once, wait for every result."""
    async with httpx.AsyncClient() as client, AsyncExitStack() as sockets:
        by_type = {job_type: await sockets.enter_async_context(JobSocket(client, ws_url)) for job_type in job_types}
        await asyncio.gather(*(ws.receive(timeout=PROMPT) for ws in by_type.values()))
        await asyncio.gather(*(ws.send(job(job_type)) for job_type, ws in by_type.items()))
        await asyncio.gather(
            *(ws.receive_until(has_status("result"), timeout=result_timeout) for ws in by_type.values())
        )
        return {job_type: list(ws.frames) for job_type, ws in by_type.items()}
