"""A flood a busy site sees: 2,000 sockets on a real server each send one job in the same instant. Every socket
gets its own result and no job is refused, whatever the server's backlog; the test counts, it does not time."""

import asyncio
import json
import resource
from collections import Counter

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.processes import ServerProcess, WorkerProcess, running
from tests.support.protocol import job

pytestmark = pytest.mark.processes

SOCKETS = 2_000
#: Handshakes in flight at once while the sockets open (a browser crowd arrives over a moment, not at once).
OPENING_AT_ONCE = 200
#: Seconds for everything: opening, queuing and running 2,000 instant jobs take a few here.
DEADLINE = 90.0


@pytest.fixture(autouse=True)
def enough_file_descriptors() -> None:
    """This process holds 2,000 sockets: raise its open-files limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert hard > SOCKETS + 100, f"this machine allows {hard} open files; the test needs {SOCKETS + 100}"


async def open_sockets(url: str) -> list[ClientConnection]:
    """Open the sockets (offering permessage-deflate, as browsers do), each past its connected frame."""
    sockets: list[ClientConnection] = []
    for start in range(0, SOCKETS, OPENING_AT_ONCE):
        batch = await asyncio.gather(*(connect(url) for _ in range(min(OPENING_AT_ONCE, SOCKETS - start))))
        for ws in batch:
            assert json.loads(await ws.recv())["payload"]["status"] == "connected"
        sockets += batch
    return sockets


async def final_status(ws: ClientConnection) -> tuple[str, str, str, str]:
    """The socket's job: the id its ``queued`` (or error) frame named, its final status, that frame's id and text."""
    queued_id = ""
    while True:
        payload = json.loads(await ws.recv())["payload"]
        if payload["status"] == "queued":
            queued_id = payload["job_id"]
        if payload["status"] in ("result", "error"):
            return queued_id, payload["status"], payload["job_id"], payload["message"]


async def test_two_thousand_sockets_sending_one_job_each_at_once_each_get_their_own_result_none_refused(
    redis_url: str, worker_class: type[WorkerProcess]
) -> None:
    """2,000 sockets each sending a job at once each get their own job's ``result``: a busy server answers later."""
    server, worker = ServerProcess(redis_url, job_time_scale="0"), worker_class(redis_url, job_time_scale="0")
    with running(worker, server):
        async with asyncio.timeout(DEADLINE):
            sockets = await open_sockets(server.ws_url)
            try:
                await asyncio.gather(
                    *(ws.send(json.dumps(job("default", f"flood {n}"))) for n, ws in enumerate(sockets))
                )
                outcomes = await asyncio.gather(*(final_status(ws) for ws in sockets))
            finally:
                await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    errors = Counter(text for _, status, _, text in outcomes if status != "result")
    assert Counter(status for _, status, _, _ in outcomes) == {"result": SOCKETS}, errors
    assert all(queued_id == result_id for queued_id, _, result_id, _ in outcomes)  # each socket got its own job's
    assert len({result_id for _, _, result_id, _ in outcomes}) == SOCKETS
