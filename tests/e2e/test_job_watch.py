"""``job_watch`` end to end, with either worker command (and, by tox env, ``FAST_PATH`` on and off): a second socket
sees a job move and end once; a web server's restart closes sockets with 1012, and a socket on the new server
watches the job to its result.

Each worker command gets a stack of this module's own, at half the seed's durations (generate: 2 s), so that a
watch lands mid-job.
"""

import asyncio
import itertools
import json
import signal
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import RUNNING, Stack, running_stack
from tests.support.processes import AppWorkerProcess, WorkerProcess
from tests.support.protocol import (
    PROMPT,
    SEED_DURATIONS,
    SEED_RESULTS_FOR_HELLO,
    ends,
    has_status,
    is_progress,
    job,
    payloads_of,
    watch,
)
from tests.support.redis_provider import ProvidedRedis
from tests.support.ws_driver import JobSocket

TIME_SCALE = 0.5
#: Redis DBs of this module's own stacks.
DBS = {"src.worker": 13, "arq-cli": 14}
#: RFC 6455 "Service Restart": what a server that is going away for a restart closes its sockets with.
SERVICE_RESTART = 1012
#: How much later than the socket that queued it a watching socket may get the job's result.
WATCHER_LATE_BY_AT_MOST = 0.25


@pytest.fixture(scope="module", params=list(DBS))
def stack(request: pytest.FixtureRequest, redis_service: ProvidedRedis) -> Iterator[Stack]:
    """A stack at half the seed's durations, with each worker command in turn."""
    worker_class: type[WorkerProcess] = AppWorkerProcess if request.param == "src.worker" else WorkerProcess
    name = f"watch-{request.param}"
    with running_stack(name, redis_service.url, DBS[request.param], TIME_SCALE, worker_class=worker_class) as own:
        RUNNING["stack"] = own  # a failing test's report carries its logs
        try:
            yield own
        finally:
            del RUNNING["stack"]


async def closing(ws: ClientConnection) -> ConnectionClosed:
    """Read ``ws`` until the server closes it; how it was closed."""
    while True:
        try:
            await asyncio.wait_for(ws.recv(), PROMPT)
        except ConnectionClosed as closed:
            return closed


async def test_a_second_socket_watching_a_job_sees_it_move_and_end_once_as_the_first_does(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """The watch answers ``in_progress`` with the progress so far, then pushes progress never going down, then the
    one result, the very frame the queuing socket gets, no later than 250 ms after it, and nothing after."""
    async with JobSocket(http, stack.ws_url) as owner, JobSocket(http, stack.ws_url) as watcher:
        await owner.receive(timeout=PROMPT)
        await watcher.receive(timeout=PROMPT)
        await owner.send(job("generate"))
        job_id = (await owner.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]
        await owner.receive_until(lambda f: is_progress(f) and f["payload"]["progress"] > 0, timeout=PROMPT)
        await watcher.send(watch(job_id))
        duration = SEED_DURATIONS["generate"] * TIME_SCALE
        watcher_done = asyncio.create_task(watcher.receive_until(ends(job_id), timeout=duration + PROMPT))
        owned = await owner.receive_until(ends(job_id), timeout=duration + PROMPT)
        owner_at = asyncio.get_running_loop().time()
        watched = await watcher_done
        watcher_late_by = asyncio.get_running_loop().time() - owner_at
        quiet = await watcher.receive_nothing(0.3)

    payloads = payloads_of(job_id, watched)
    assert payloads[0]["status"] == "in_progress"
    assert 0 < payloads[0]["progress"] < 100
    pushed = payloads[1:-1]
    assert pushed
    assert all(p["status"] == "progress" for p in pushed)
    percents = [p["progress"] for p in payloads[:-1]]
    assert percents == sorted(percents)
    assert all(later["partial"].startswith(earlier["partial"]) for earlier, later in itertools.pairwise(pushed))
    assert payloads[-1] == owned[-1]["payload"]
    assert payloads[-1]["message"] == SEED_RESULTS_FOR_HELLO["generate"]
    assert watcher_late_by <= WATCHER_LATE_BY_AT_MOST
    assert quiet


async def test_a_watch_of_a_finished_job_is_its_status_alone(stack: Stack, http: httpx.AsyncClient) -> None:
    async with JobSocket(http, stack.ws_url) as owner:
        await owner.receive(timeout=PROMPT)
        await owner.send(job("default"))
        result = (await owner.receive_until(has_status("result"), timeout=PROMPT + 1))[-1]
        await owner.send(watch(result["payload"]["job_id"]))
        answer = await owner.receive(timeout=PROMPT)
        quiet = await owner.receive_nothing(0.5)

    assert answer == result
    assert quiet


async def test_a_restarted_server_closes_its_sockets_with_1012_and_a_socket_on_the_new_one_watches_the_job_to_its_end(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """SIGTERM to the web server mid-job: its socket is closed with 1012 (Service Restart); a new server on the same
    port serves a new socket, whose watch answers where the job stands and then brings its one result."""
    server = stack.server
    async with connect(stack.ws_url) as old:
        await old.recv()
        await old.send('{"action": "job", "payload": {"type": "generate", "content": "hello"}}')
        job_id = None
        while job_id is None:
            frame = await asyncio.wait_for(old.recv(), PROMPT)
            payload = json.loads(frame)["payload"]
            if payload.get("status") == "queued":
                job_id = payload["job_id"]
        server.signal(signal.SIGTERM)
        closed = await closing(old)
    await asyncio.to_thread(server.wait_exit, 15)
    server.start()  # a new process on the same port, as a deploy starts it
    await asyncio.to_thread(server.wait_ready)
    async with JobSocket(http, server.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        await ws.send(watch(job_id))
        watched = await ws.receive_until(ends(job_id), timeout=SEED_DURATIONS["generate"] + PROMPT)
        quiet = await ws.receive_nothing(0.3)

    assert closed.rcvd is not None
    assert closed.rcvd.code == SERVICE_RESTART
    payloads = payloads_of(job_id, watched)
    assert payloads[0]["status"] in {"queued", "in_progress", "result"}
    assert [p["status"] for p in payloads].count("result") == 1
    assert payloads[-1]["message"] == SEED_RESULTS_FOR_HELLO["generate"]
    assert quiet
