"""A Redis that accepts connections but never answers: the job that meets it is told so within ``ENQUEUE_TIMEOUT``.

A private ``redis-server`` is paused (SIGSTOP) under a running server and worker: the kernel still holds its
connections and takes what is written to them, but nothing answers. One stall is staged per worker command; each
test reads one observation of it. The bound is ``docs/operating.md``'s ("Under load"): a job's ``error`` frame says
the queue "did not answer in time", answered within ``ENQUEUE_TIMEOUT`` (counted in time the server was idle,
``src/plumbing/deadlines.py``: this server has nothing else to do, so it times out at about the setting's value).
"""

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from tests.support.processes import ServerProcess, WorkerProcess, running
from tests.support.protocol import CONNECTED, PING, PONG, PROMPT, has_status, is_final, is_pong, job, status_of
from tests.support.redis_provider import RedisServerProcess
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

#: The server's ``ENQUEUE_TIMEOUT`` (its default, set here so the bounds below read it).
ENQUEUE_TIMEOUT = 1.0
#: The server's ``REDIS_SOCKET_TIMEOUT``: well above ``ENQUEUE_TIMEOUT`` (so the two bounds cannot be mistaken for each
#: other), well below its 10 s default (so a server that waits for it instead fails the test in seconds).
REDIS_SOCKET_TIMEOUT = 3.0
#: How much later than ``ENQUEUE_TIMEOUT`` the error frame may come: the frame's trip over loopback both ways and the
#: server's own handling around its wait (milliseconds on an idle machine), with room for a loaded 2-core box's
#: scheduling, and well short of a second ``ENQUEUE_TIMEOUT``.
ERROR_FRAME_MARGIN = 0.3
#: How early a deadline may fire: ``src/plumbing/deadlines.py`` counts idle time this close to one as reaching it.
DEADLINE_TOLERANCE = 0.001
DID_NOT_ANSWER = "❌ Error queuing job: the job queue did not answer in time"


@dataclass
class Stall:
    """What one socket saw while Redis accepted its writes and did not answer, and once it answered again."""

    #: The frame that ended the job sent during the stall (its error, if it was refused), and when it came.
    stalled_final: dict[str, Any] = field(default_factory=dict)
    stalled_after: float = 0.0
    stalled_job_id: str = ""
    #: What a ping during the stall got.
    ping_answer: dict[str, Any] = field(default_factory=dict)
    #: The final frame of a job sent on the same socket once Redis answered again.
    later_final: dict[str, Any] = field(default_factory=dict)
    #: What a lookup of the stalled job said, once Redis answered again.
    stalled_lookup: dict[str, Any] = field(default_factory=dict)


@contextmanager
def paused(redis_server: RedisServerProcess) -> Iterator[None]:
    """Redis paused (SIGSTOP): its port still takes connections and bytes, nothing answers; resumed after."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]  # the sync client's reply
        pid = int(info["process_id"])
    finally:
        client.close()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def stage(redis_server: RedisServerProcess, server: ServerProcess) -> Stall:
    """Stall Redis under one socket's job, then let it answer again; record what the socket saw."""
    seen = Stall()
    async with httpx.AsyncClient() as http, JobSocket(http, server.ws_url) as ws:
        assert await ws.receive(timeout=PROMPT) == CONNECTED
        # A job first, so every pool the server and the worker use is connected before Redis stops answering.
        await ws.send(job("default", "before the stall"))
        await ws.receive_until(has_status("result"), timeout=PROMPT)

        with paused(redis_server):
            await ws.send(job("default", "during the stall"))
            queuing = await ws.receive(timeout=PROMPT)
            seen.stalled_job_id = queuing["payload"]["job_id"]
            ended = has_status("error"), has_status("queued")
            seen.stalled_final = (
                await ws.receive_until(
                    lambda frame: any(is_it(frame) for is_it in ended), REDIS_SOCKET_TIMEOUT + PROMPT
                )
            )[-1]
            seen.stalled_after = ws.frames[-1].at
            await ws.send(PING)
            seen.ping_answer = (await ws.receive_until(is_pong, timeout=PROMPT))[-1]

        await ws.send(job("translate", "hello"))
        later_id = (await ws.receive(timeout=PROMPT))["payload"]["job_id"]
        seen.later_final = (await ws.receive_until(is_final(later_id), timeout=PROMPT))[-1]
        await ws.send({"action": "job_lookup", "payload": {"job_id": seen.stalled_job_id}})
        seen.stalled_lookup = (
            await ws.receive_until(
                lambda frame: status_of(frame) is not None and frame["payload"]["job_id"] == seen.stalled_job_id,
                timeout=PROMPT,
            )
        )[-1]
    return seen


@pytest.fixture(scope="module")
def stall(worker_class: type[WorkerProcess]) -> Iterator[Stall]:
    """Stage the stall once per worker command, with its own Redis, server and worker, all stopped afterwards."""
    redis_server = RedisServerProcess()
    redis_server.start()
    worker = worker_class(redis_server.url, job_time_scale="0")
    server = ServerProcess(
        redis_server.url,
        job_time_scale="0",
        enqueue_timeout=str(ENQUEUE_TIMEOUT),
        redis_socket_timeout=str(REDIS_SOCKET_TIMEOUT),
    )
    try:
        with running(worker, server):
            yield asyncio.run(stage(redis_server, server))
    finally:
        redis_server.close()


def test_while_redis_does_not_answer_a_job_gets_an_error_frame_saying_so_within_the_enqueue_timeout(
    stall: Stall,
) -> None:
    """While Redis does not answer, a job gets ``error`` (``❌ Error queuing job: …``) within ``ENQUEUE_TIMEOUT``."""
    assert stall.stalled_final == {
        "action": "job_status",
        "payload": {
            "status": "error",
            "job_id": stall.stalled_job_id,
            "job_type": "default",
            "message": DID_NOT_ANSWER,
        },
    }
    assert ENQUEUE_TIMEOUT - DEADLINE_TOLERANCE <= stall.stalled_after <= ENQUEUE_TIMEOUT + ERROR_FRAME_MARGIN


def test_while_redis_does_not_answer_the_socket_stays_open_and_answers_a_ping(stall: Stall) -> None:
    assert stall.ping_answer == PONG


def test_once_redis_answers_again_a_later_job_on_the_same_socket_gets_its_result(stall: Stall) -> None:
    assert stall.later_final["payload"]["status"] == "result"
    assert stall.later_final["payload"]["message"] == "🌍 Translated: 'hello' → 'hola'"


def test_a_job_redis_did_not_answer_in_time_is_not_queued_and_a_lookup_does_not_find_it(stall: Stall) -> None:
    assert stall.stalled_lookup == {
        "action": "job_status",
        "payload": {
            "status": "not_found",
            "job_id": stall.stalled_job_id,
            "job_type": "default",
            "message": f"❓ No job {stall.stalled_job_id}: unknown, or its result has expired",
        },
    }
