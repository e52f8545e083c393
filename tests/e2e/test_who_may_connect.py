"""Who may connect, against real servers: the Host allowlist stops DNS rebinding, and with ``AUTH_JWT_SECRET`` set
each socket carries a user's token and sees only that user's jobs."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import AUTH_SECRET, Stack
from tests.support.handshake import answer_to, handshake_status
from tests.support.processes import ServerProcess, running

WS_PATH = "/ws/background_jobs"
#: Seconds a frame may take to arrive (scaled jobs take at most 0.2 s of work).
FRAME_TIMEOUT = 5.0
NOT_OURS_SECRET = "a-secret-this-server-does-not-know-0123456789"


def token(user: str, secret: str = AUTH_SECRET, **claims: Any) -> str:
    """An HS256 JWT naming ``user``, valid for an hour unless ``claims`` say otherwise."""
    return jwt.encode({"sub": user, "exp": int(time.time()) + 3600, **claims}, secret, algorithm="HS256")


async def next_payload(ws: ClientConnection) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(await ws.recv(decode=True))["payload"]
    return payload


async def payload_with_status(ws: ClientConnection, status: str) -> dict[str, Any]:
    """The next frame of ``status``, past others (progress, say), each waited for at most ``FRAME_TIMEOUT``."""
    while (payload := await next_payload(ws))["status"] != status:
        pass
    return payload


async def opened_as(stack: Stack | ServerProcess, user: str) -> ClientConnection:
    """A socket on the server of ``stack`` opened with ``user``'s token as the ``token`` query parameter, past its
    connected frame."""
    ws = await connect(f"{stack.ws_url}?token={token(user)}", open_timeout=FRAME_TIMEOUT)
    assert (await next_payload(ws))["status"] == "connected"
    return ws


async def queued_job(ws: ClientConnection, job_type: str, content: str) -> str:
    """Send a job; its id, once it is queued."""
    await ws.send(json.dumps({"action": "job", "payload": {"type": job_type, "content": content}}))
    return str((await payload_with_status(ws, "queued"))["job_id"])


async def answer(ws: ClientConnection, action: str, job_id: str) -> dict[str, Any]:
    await ws.send(json.dumps({"action": action, "payload": {"job_id": job_id}}))
    return await next_payload(ws)


async def test_a_dns_rebinding_handshake_naming_a_foreign_host_is_refused_before_the_socket_opens(
    scaled_stack: Stack,
) -> None:
    """A handshake naming a foreign ``Host`` (DNS rebinding) is refused before the socket opens; 127.0.0.1's opens."""
    port = scaled_stack.server.port
    rebound = f"evil.example:{port}"

    status = await handshake_status(port, WS_PATH, {"Host": rebound, "Origin": f"http://{rebound}"})

    assert status in (400, 403)
    assert await handshake_status(port, WS_PATH, {"Host": f"127.0.0.1:{port}"}) == 101  # still serving


async def test_an_http_request_naming_a_foreign_host_gets_400(scaled_stack: Stack, http: httpx.AsyncClient) -> None:
    """An HTTP request whose ``Host`` is not an allowed host gets 400; one naming the server's own, 200."""
    foreign = await http.get(scaled_stack.http_url + "/", headers={"Host": "evil.example"})
    own = await http.get(scaled_stack.http_url + "/")

    assert (foreign.status_code, own.status_code) == (400, 200)


@pytest.mark.parametrize("path", ["/", "/readyz", "/metrics"])
async def test_an_http_request_with_two_host_headers_gets_400_from_a_real_server_whatever_its_path(
    scaled_stack: Stack, path: str
) -> None:
    """An allowed ``Host`` then a foreign one, as bytes on the wire (httpx sends one ``Host``): 400, probes included."""
    port = scaled_stack.server.port
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"

    assert await answer_to(port, request.encode()) == (400, b"Invalid host header")


async def test_a_handshake_with_two_host_headers_is_refused_by_a_real_server_with_403_and_no_error_logged(
    scaled_stack: Stack, http: httpx.AsyncClient
) -> None:
    """The handshake is closed before it is accepted (uvicorn's default protocol logs an error for a 400 instead)."""
    port, mark = scaled_stack.server.port, scaled_stack.server.log_size()

    status = await handshake_status(port, WS_PATH, [("Host", f"127.0.0.1:{port}"), ("Host", "evil.example")])
    await http.get(scaled_stack.http_url + "/healthz")  # served after the refused handshake's task has ended

    assert status == 403
    assert "ERROR" not in scaled_stack.server.log_since(mark)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?token=not-a-jwt",
        f"?token={token('alice', exp=int(time.time()) - 60)}",
        f"?token={token('alice', secret=NOT_OURS_SECRET)}",
    ],
    ids=["no token", "malformed", "expired", "signed with another secret"],
)
async def test_with_authentication_on_a_handshake_without_a_valid_token_is_refused_with_403(
    authenticated_stack: Stack, query: str
) -> None:
    """With authentication on, a handshake without a valid token gets HTTP 403, and nothing is logged as an error."""
    with pytest.raises(InvalidStatus) as refused:
        await connect(authenticated_stack.ws_url + query, open_timeout=FRAME_TIMEOUT)

    assert refused.value.response.status_code == 403
    assert "ERROR" not in authenticated_stack.server.log()


@pytest.mark.parametrize(
    "credential",
    [{"Authorization": f"Bearer {token('alice')}"}, {"Cookie": f"access_token={token('alice')}"}],
    ids=["Authorization header", "access_token cookie"],
)
async def test_a_token_may_come_as_a_bearer_header_or_a_cookie(
    authenticated_stack: Stack, credential: dict[str, str]
) -> None:
    """A valid token in an ``Authorization: Bearer`` header or an ``access_token`` cookie gets ``connected``."""
    async with connect(authenticated_stack.ws_url, additional_headers=credential, open_timeout=FRAME_TIMEOUT) as ws:
        assert (await next_payload(ws))["status"] == "connected"


@pytest_asyncio.fixture
async def two_users(authenticated_stack: Stack) -> AsyncIterator[tuple[ClientConnection, ClientConnection]]:
    """Alice's socket and Bob's, each opened with its own token and past its connected frame; closed after."""
    alice, bob = await opened_as(authenticated_stack, "alice"), await opened_as(authenticated_stack, "bob")
    try:
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()


async def test_two_users_each_get_their_own_results_and_cannot_look_up_or_cancel_the_others_jobs(
    two_users: tuple[ClientConnection, ClientConnection],
) -> None:
    """Each user gets their own results; another user's ``job_lookup`` and ``cancel`` answer as for no such job."""
    alice, bob = two_users
    alices = await queued_job(alice, "translate", "hello")
    bobs = await queued_job(bob, "default", "bob's")
    alices_result = await payload_with_status(alice, "result")
    bobs_result = await payload_with_status(bob, "result")

    assert (alices_result["job_id"], alices_result["message"]) == (alices, "🌍 Translated: 'hello' → 'hola'")
    assert (bobs_result["job_id"], bobs_result["message"]) == (bobs, "✅ Processed: BOB'S")
    assert await answer(bob, "job_lookup", alices) == {
        "status": "not_found",
        "job_id": alices,
        "job_type": "translate",
        "message": f"❓ No job {alices}: unknown, or its result has expired",
    }
    assert await answer(bob, "cancel", alices) == {
        "status": "error",
        "job_id": alices,
        "job_type": "translate",
        "message": f"❌ No job {alices} to cancel",
    }
    assert await answer(alice, "job_lookup", alices) == alices_result  # her own: the stored outcome


async def test_a_user_cannot_cancel_anothers_running_job_which_still_gets_its_result(
    two_users: tuple[ClientConnection, ClientConnection],
) -> None:
    """Another user's ``cancel`` of a running job gets ``❌ No job <id> to cancel``; the job still ends in a result."""
    alice, bob = two_users
    job_id = await queued_job(alice, "generate", "a long one")

    assert (await answer(bob, "cancel", job_id))["message"] == f"❌ No job {job_id} to cancel"
    assert (await payload_with_status(alice, "result"))["job_id"] == job_id


async def test_a_job_id_made_on_one_server_is_its_owners_on_another_server_sharing_the_redis_and_no_one_elses(
    authenticated_stack: Stack,
) -> None:
    """The owners' key is made in Redis by the first server that needs it; a second server reads the same key."""
    first = authenticated_stack.server
    second = ServerProcess(first.redis_url, port=None, **first.settings)
    with running(second):
        alice = await opened_as(authenticated_stack, "alice")
        job_id = await queued_job(alice, "translate", "hello")
        result = await payload_with_status(alice, "result")
        await alice.close()
        alice_elsewhere, bob_elsewhere = await opened_as(second, "alice"), await opened_as(second, "bob")
        try:
            alices_answer = await answer(alice_elsewhere, "job_lookup", job_id)
            bobs_answer = await answer(bob_elsewhere, "job_lookup", job_id)
        finally:
            await alice_elsewhere.close()
            await bob_elsewhere.close()

    assert alices_answer == result
    assert bobs_answer == {
        "status": "not_found",
        "job_id": job_id,
        "job_type": "translate",
        "message": f"❓ No job {job_id}: unknown, or its result has expired",
    }
