"""Token lifetime against a real server and worker (``AUTH_JWT_SECRET`` set): a socket gets its frames while its
token is valid, and the server closes it with 4401 "token expired" when the token expires, a job in flight or not."""

import asyncio
import json
import time
from typing import Any

import jwt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import AUTH_SECRET, Stack

#: Seconds a frame may take to arrive (scaled jobs take at most 0.2 s of work).
FRAME_TIMEOUT = 5.0
#: Seconds the socket's token lives.
LIFETIME = 2.0
#: How long before the token's exp the last job is sent: less than that job's work (generate, 0.2 s scaled).
LAST_JOB_LEAD = 0.1
#: Seconds past the token's exp the close may take to reach the client.
CLOSE_BOUND = 1.0
#: How early the close may come: the server's timer may fire a few milliseconds before the ``exp`` (on uvloop,
#: uvicorn's loop here, timers count whole milliseconds from the clock the loop read at the start of its turn).
CLOCK_SLACK = 0.05


async def next_payload(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(decode=True), timeout))["payload"]
    return payload


async def send_job(ws: ClientConnection, job_type: str, content: str) -> None:
    await ws.send(json.dumps({"action": "job", "payload": {"type": job_type, "content": content}}))


async def statuses_until_closed(ws: ClientConnection, timeout: float) -> tuple[list[str], ConnectionClosed]:
    """The statuses of the frames ``ws`` gets until the server closes it, and how it closed (each frame waited for at
    most ``timeout``)."""
    statuses = []
    try:
        while True:
            statuses.append((await next_payload(ws, timeout))["status"])
    except ConnectionClosed as closed:
        return statuses, closed


async def test_a_socket_is_closed_with_4401_token_expired_soon_after_its_token_expires_with_a_job_in_flight(
    authenticated_stack: Stack,
) -> None:
    """A job runs to its result while the token is valid; one sent just before the token's exp does not keep the
    socket open: it is closed with 4401 "token expired" within ``CLOSE_BOUND`` of the exp, before that job's result."""
    exp = time.time() + LIFETIME
    token = jwt.encode({"sub": "alice", "exp": exp}, AUTH_SECRET, algorithm="HS256")

    async with connect(f"{authenticated_stack.ws_url}?token={token}", open_timeout=FRAME_TIMEOUT) as ws:
        assert (await next_payload(ws))["status"] == "connected"
        await send_job(ws, "translate", "hello")
        while (payload := await next_payload(ws))["status"] != "result":
            pass
        assert payload["message"] == "🌍 Translated: 'hello' → 'hola'"
        # No event marks the last moments of the token's life: wait for them, then send a job whose work outlasts it.
        await asyncio.sleep(exp - LAST_JOB_LEAD - time.time())
        await send_job(ws, "generate", "too late")

        statuses, closed = await statuses_until_closed(ws, LAST_JOB_LEAD + CLOSE_BOUND)
        closed_at = time.time()

    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4401, "token expired")
    assert exp - CLOCK_SLACK <= closed_at <= exp + CLOSE_BOUND
    assert set(statuses) <= {"queuing", "queued", "progress"}  # the job was taken, or refused as too late; no result
    assert "ERROR" not in authenticated_stack.server.log()
