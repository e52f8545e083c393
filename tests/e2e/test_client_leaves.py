"""A client that goes away mid-job: the server and the worker carry on, and log no error for it."""

import asyncio
import re

import httpx

from tests.e2e.conftest import LOG_TIMEOUT, Stack
from tests.support.metric_samples import samples
from tests.support.processes import wait_for_output
from tests.support.protocol import CONNECTED, PROMPT, has_status, job, seed_job_frames, without_progress
from tests.support.ws_driver import JobSocket

#: What a log must not contain: a traceback, or a record at error level (uvicorn's or structlog's style).
TROUBLE = re.compile(r"Traceback|ERROR|\[error|CRITICAL|\[critical")


async def sockets_open(stack: Stack, http: httpx.AsyncClient) -> float:
    """How many sockets the server says it holds open (``/metrics``): one less once it has handled a disconnect."""
    return samples((await http.get(stack.http_url + "/metrics")).text)[("background_jobs_sockets_open", ())]


async def disconnect_handled(stack: Stack, http: httpx.AsyncClient, open_before: float) -> None:
    """Until the server holds no more sockets than before the test's own opened (no event to wait on: the gauge)."""
    async with asyncio.timeout(LOG_TIMEOUT):
        while await sockets_open(stack, http) > open_before:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def run_a_job_on_a_new_socket(stack: Stack, http: httpx.AsyncClient) -> None:
    """Evidence the server is past whatever came before: a fresh socket's job runs to its result."""
    async with JobSocket(http, stack.ws_url) as ws:
        assert await ws.receive(timeout=PROMPT) == CONNECTED
        await ws.send(job("translate"))
        frames = await ws.receive_until(has_status("result"), timeout=5)
    assert without_progress(frames) == seed_job_frames("translate", frames[0]["payload"]["job_id"])


async def test_client_closing_right_after_sending_a_job_leaves_no_traceback_in_the_server_log(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """A client closing right after sending a job leaves no traceback or error in the server's log."""
    mark, open_before = scaled_stack.server.log_size(), await sockets_open(scaled_stack, http)
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await ws.send(job("translate"))
    await disconnect_handled(scaled_stack, http, open_before)
    await run_a_job_on_a_new_socket(scaled_stack, http)

    assert TROUBLE.findall(scaled_stack.server.log_since(mark)) == []


async def test_client_leaving_while_its_job_runs_leaves_no_traceback_in_the_server_or_worker_log(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """A client leaving while its job runs leaves no traceback or error in either log; the job still completes."""
    server_mark, worker_mark = scaled_stack.server.log_size(), scaled_stack.worker.log_size()
    open_before = await sockets_open(scaled_stack, http)
    async with JobSocket(http, scaled_stack.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await ws.send(job("generate"))
        queued = (await ws.receive_until(has_status("queued"), timeout=PROMPT))[-1]
    job_id = queued["payload"]["job_id"]
    await disconnect_handled(scaled_stack, http, open_before)
    await wait_for_output(
        scaled_stack.worker, f"{job_id}:generate ●", timeout=LOG_TIMEOUT, since=worker_mark
    )  # arq: the job completed
    await run_a_job_on_a_new_socket(scaled_stack, http)

    assert TROUBLE.findall(scaled_stack.server.log_since(server_mark)) == []
    assert TROUBLE.findall(scaled_stack.worker.log_since(worker_mark)) == []
