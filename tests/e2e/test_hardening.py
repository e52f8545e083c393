"""Hardening over real sockets on a real uvicorn: the handshake's Origin check (HTTP 403) and MAX_JOBS_IN_FLIGHT.

The server here has no worker, so every job it queues stays in flight: the limit is reached without racing a clock.
"""

from collections.abc import Iterator

import httpx
import pytest
import redis
from httpx_ws import WebSocketUpgradeError, aconnect_ws

from tests.e2e.conftest import with_db
from tests.support.processes import ServerProcess, running
from tests.support.protocol import CONNECTED, PING, PONG, PROMPT, job, job_id_of, job_status, status_of
from tests.support.redis_provider import ProvidedRedis
from tests.support.ws_driver import JobSocket

ALLOWED_ORIGIN = "https://partner.example"
MAX_JOBS_IN_FLIGHT = 3
FORBIDDEN = 403


@pytest.fixture(scope="module")
def server(redis_service: ProvidedRedis) -> Iterator[ServerProcess]:
    """A server (and no worker) on its own DB and queue, one extra origin allowed, three jobs in flight per socket."""
    url = with_db(redis_service.url, 3)
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    process = ServerProcess(
        url,
        queue_name="e2e:hardening:queue",
        channel_layer_prefix="e2e-hardening",
        allowed_origins=ALLOWED_ORIGIN,
        max_jobs_in_flight=str(MAX_JOBS_IN_FLIGHT),
    )
    with running(process):
        yield process


async def handshake_status(http: httpx.AsyncClient, server: ServerProcess, origin: str) -> int:
    """The HTTP status of a handshake refused for ``origin`` (fails if it is accepted)."""
    with pytest.raises(WebSocketUpgradeError) as refused:
        async with aconnect_ws(server.ws_url, http, headers={"origin": origin}):
            pass
    return refused.value.response.status_code


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://127.0.0.1:1", "null"],
    ids=["another site", "another port of the app's host", "null"],
)
async def test_a_browser_handshake_from_a_foreign_origin_is_refused_with_403(
    origin: str, server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """A handshake whose ``Origin`` is another site, another port of the app's host, or ``null`` gets HTTP 403."""
    assert await handshake_status(http, server, origin) == FORBIDDEN


@pytest.mark.parametrize("origin", ["own", ALLOWED_ORIGIN, None], ids=["the app's own", "allowed", "none"])
async def test_a_handshake_from_the_apps_own_origin_an_allowed_one_or_none_is_served(
    origin: str | None, server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """A handshake from the app's own origin, one in ``ALLOWED_ORIGINS``, or without ``Origin`` is served."""
    headers = {} if origin is None else {"origin": server.http_url if origin == "own" else origin}
    async with JobSocket(http, server.ws_url, headers=headers) as ws:
        assert await ws.receive(timeout=PROMPT) == CONNECTED
        await ws.send(PING)
        assert await ws.receive(timeout=PROMPT) == PONG


async def test_the_server_goes_on_serving_after_refusing_a_foreign_origin(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """After refusing a foreign origin's handshake, the server serves its own origin's, with no traceback logged."""
    await handshake_status(http, server, "https://evil.example")

    async with JobSocket(http, server.ws_url, headers={"origin": server.http_url}) as ws:
        assert await ws.receive(timeout=PROMPT) == CONNECTED
    assert "Traceback" not in server.log()


async def queue_job(ws: JobSocket) -> str:
    """Send a job and return its id once it is reported queued."""
    await ws.send(job("generate"))
    frames = await ws.receive_until(lambda frame: status_of(frame) == "queued", timeout=PROMPT)
    job_id: str = frames[-1]["payload"]["job_id"]
    return job_id


async def test_a_job_over_max_jobs_in_flight_gets_an_error_frame_and_is_not_queued(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """A job over ``MAX_JOBS_IN_FLIGHT`` gets ``❌ Too many jobs in flight …`` under a fresh id, and is not queued."""
    async with JobSocket(http, server.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        for _ in range(MAX_JOBS_IN_FLIGHT):
            await queue_job(ws)

        await ws.send(job("generate"))

        assert await ws.receive(timeout=PROMPT) == job_status(
            "error",
            job_id_of("generate"),
            "generate",
            f"❌ Too many jobs in flight ({MAX_JOBS_IN_FLIGHT}); wait for one to finish",
        )
        assert await ws.receive_nothing()


async def test_another_socket_has_its_own_max_jobs_in_flight(server: ServerProcess, http: httpx.AsyncClient) -> None:
    """``MAX_JOBS_IN_FLIGHT`` counts per socket: another socket's job is queued while one socket is at its limit."""
    async with JobSocket(http, server.ws_url) as busy, JobSocket(http, server.ws_url) as other:
        await busy.receive(timeout=PROMPT)
        await other.receive(timeout=PROMPT)
        for _ in range(MAX_JOBS_IN_FLIGHT):
            await queue_job(busy)

        assert await queue_job(other) == job_id_of("generate")


async def test_cancelling_a_job_in_flight_makes_room_for_another(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    """A ``cancelled`` job no longer counts against ``MAX_JOBS_IN_FLIGHT``: its socket may queue another."""
    async with JobSocket(http, server.ws_url) as ws:
        await ws.receive(timeout=PROMPT)
        first, *_ = [await queue_job(ws) for _ in range(MAX_JOBS_IN_FLIGHT)]
        await ws.send({"action": "cancel", "payload": {"job_id": first}})
        reply = await ws.receive(timeout=PROMPT)
        assert reply == job_status("cancelled", first, "generate", f"🛑 Job {first} cancelled")

        assert await queue_job(ws) == job_id_of("generate")
