"""Authentication on the socket (AUTH_JWT_SECRET set): a handshake without a valid token is closed before it is
accepted; a user's jobs are theirs alone (another user's lookup and cancel answer as for no job); /auth.json and the
AsyncAPI document say so."""

import logging
from typing import Any

import httpx
import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from pydantic import SecretStr

from src.main import WS_PATH
from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.fake_arq import fake_arq_pool
from tests.support.protocol import CONNECTED, job_id_of, job_status
from tests.support.who_may_connect import OTHER_SECRET, SECRET, app_on, expires_in, hs256, unsigned

NEVER_ISSUED = "translate_0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The unit layer's settings, with tokens checked against an HS256 secret."""
    return settings.model_copy(update={"auth_jwt_secret": SecretStr(SECRET)})


def token_of(user: str) -> str:
    return hs256({"sub": user, "exp": expires_in(600)})


def bearer(token: str) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {token}".encode())


async def open_as(app: FastAPI, user: str) -> WebsocketCommunicator:
    """A socket whose token names ``user``, its connected frame read."""
    ws = socket_on(app, headers=[bearer(token_of(user))])
    assert await ws.connect() == (True, None)
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    return ws


async def queue_translate(ws: WebsocketCommunicator) -> str:
    """Queue a translate job; its id, once it is reported queued."""
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    return job_id


async def ask(ws: WebsocketCommunicator, action: str, job_id: str) -> Any:
    await ws.send_json_to({"action": action, "payload": {"job_id": job_id}})
    return await ws.receive_json_from(timeout=1)


def not_found(job_id: str) -> dict[str, Any]:
    return job_status("not_found", job_id, "translate", f"❓ No job {job_id}: unknown, or its result has expired")


def nothing_to_cancel(job_id: str) -> dict[str, Any]:
    return job_status("error", job_id, "translate", f"❌ No job {job_id} to cancel")


# --- the handshake ---------------------------------------------------------------------------------------------


async def test_a_handshake_without_a_token_is_closed_before_it_is_accepted(app: FastAPI) -> None:
    ws = socket_on(app)

    assert await ws.connect() == (False, 1008)
    await ws.wait()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-jwt", id="malformed"),
        pytest.param(hs256({"sub": "alice"}, OTHER_SECRET), id="signed with another secret"),
        pytest.param(hs256({"sub": "alice", "exp": expires_in(-60)}), id="expired"),
        pytest.param(unsigned({"sub": "alice"}), id="alg none"),
        pytest.param(hs256({"name": "alice"}), id="no sub"),
    ],
)
async def test_a_handshake_with_a_token_that_is_not_valid_is_closed_before_it_is_accepted(
    app: FastAPI, token: str
) -> None:
    ws = socket_on(app, path=f"{WS_PATH}?token={token}")

    assert await ws.connect() == (False, 1008)
    await ws.wait()


async def test_a_refused_handshake_logs_nothing_at_error_and_never_the_token(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    token = hs256({"sub": "alice"}, OTHER_SECRET)
    ws = socket_on(app, headers=[bearer(token)])

    with caplog.at_level(logging.INFO):
        assert await ws.connect() == (False, 1008)
        await ws.wait()

    assert [record.levelname for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert "refusing a WebSocket: its token is not valid" in caplog.text
    assert token not in caplog.text


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param(WS_PATH, [bearer(token_of("alice"))], id="Authorization header"),
        pytest.param(f"{WS_PATH}?token={token_of('alice')}", [], id="token query parameter"),
        pytest.param(WS_PATH, [(b"cookie", f"access_token={token_of('alice')}".encode())], id="access_token cookie"),
    ],
)
async def test_a_handshake_with_a_valid_token_gets_the_connected_frame(
    app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    ws = socket_on(app, path=path, headers=headers)

    assert await ws.connect() == (True, None)
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    await ws.disconnect()


async def test_job_ids_handed_to_an_authenticated_socket_keep_their_form(app: FastAPI) -> None:
    ws = await open_as(app, "alice")

    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})

    assert await ws.receive_json_from(timeout=1) == job_status(
        "queuing", job_id_of("translate"), "translate", "⏳ Queuing translate job: hello"
    )
    await ws.disconnect()


# --- whose jobs are whose --------------------------------------------------------------------------------------


async def test_a_user_looks_up_their_own_job_as_queued(app: FastAPI) -> None:
    alice = await open_as(app, "alice")
    job_id = await queue_translate(alice)

    assert await ask(alice, "job_lookup", job_id) == job_status(
        "queued", job_id, "translate", f"📋 Job {job_id} is queued"
    )
    await alice.disconnect()


async def test_a_user_looks_up_their_job_from_another_socket_of_theirs(app: FastAPI) -> None:
    first = await open_as(app, "alice")
    job_id = await queue_translate(first)
    second = await open_as(app, "alice")

    assert await ask(second, "job_lookup", job_id) == job_status(
        "queued", job_id, "translate", f"📋 Job {job_id} is queued"
    )
    await first.disconnect()
    await second.disconnect()


async def test_another_users_lookup_of_a_job_answers_as_for_a_job_never_issued(app: FastAPI) -> None:
    alice = await open_as(app, "alice")
    job_id = await queue_translate(alice)
    bob = await open_as(app, "bob")

    assert await ask(bob, "job_lookup", job_id) == not_found(job_id)
    assert await ask(bob, "job_lookup", NEVER_ISSUED) == not_found(NEVER_ISSUED)
    await alice.disconnect()
    await bob.disconnect()


async def test_another_users_cancel_of_a_job_answers_as_for_a_job_never_issued_and_cancels_nothing(
    app: FastAPI, pool: ArqRedis
) -> None:
    alice = await open_as(app, "alice")
    job_id = await queue_translate(alice)
    bob = await open_as(app, "bob")

    assert await ask(bob, "cancel", job_id) == nothing_to_cancel(job_id)
    assert await ask(bob, "cancel", NEVER_ISSUED) == nothing_to_cancel(NEVER_ISSUED)
    assert await pool.zscore(abort_jobs_ss, job_id) is None
    assert await ask(alice, "job_lookup", job_id) == job_status(
        "queued", job_id, "translate", f"📋 Job {job_id} is queued"
    )
    await alice.disconnect()
    await bob.disconnect()


async def test_a_user_cancels_their_own_job(app: FastAPI, pool: ArqRedis) -> None:
    alice = await open_as(app, "alice")
    job_id = await queue_translate(alice)

    assert await ask(alice, "cancel", job_id) == job_status(
        "cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled"
    )
    assert await pool.zscore(abort_jobs_ss, job_id) is not None
    await alice.disconnect()


async def test_the_header_token_names_the_user_when_the_query_names_another(app: FastAPI) -> None:
    both = socket_on(app, path=f"{WS_PATH}?token={token_of('bob')}", headers=[bearer(token_of("alice"))])
    assert (await both.connect())[0]
    assert await both.receive_json_from(timeout=1) == CONNECTED
    job_id = await queue_translate(both)
    alice = await open_as(app, "alice")
    bob = await open_as(app, "bob")

    assert (await ask(alice, "job_lookup", job_id))["payload"]["status"] == "queued"
    assert await ask(bob, "job_lookup", job_id) == not_found(job_id)
    for ws in (both, alice, bob):
        await ws.disconnect()


# --- the owners' key, from Redis --------------------------------------------------------------------------------


async def test_a_job_sent_while_redis_cannot_give_the_owners_key_is_refused_as_the_queue_unavailable(
    app: FastAPI, redis_server: FakeServer
) -> None:
    alice = await open_as(app, "alice")
    redis_server.connected = False

    await alice.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})

    assert await alice.receive_json_from(timeout=1) == job_status(
        "error", job_id_of("translate"), "translate", "❌ Error queuing job: the job queue is unavailable"
    )
    refused = app.state.metrics.registry.get_sample_value(
        "background_jobs_jobs_refused_total", {"reason": "queue_unavailable"}
    )
    assert refused == 1
    await alice.disconnect()


async def test_a_lookup_and_a_cancel_while_redis_cannot_give_the_owners_key_say_so_for_every_id_alike(
    app: FastAPI, settings: Settings, redis_server: FakeServer
) -> None:
    """Alice's job on one server; Bob asks another server, which has not read the key yet: whose the id is or
    whether it was ever issued changes nothing in the answers."""
    alice = await open_as(app, "alice")
    alices = await queue_translate(alice)
    bob = await open_as(app_on(settings, fake_arq_pool(redis_server)), "bob")
    redis_server.connected = False

    answers = [
        await ask(bob, action, job_id) for action in ("job_lookup", "cancel") for job_id in (alices, NEVER_ISSUED)
    ]

    assert [answer["payload"]["message"] for answer in answers] == [
        "❌ Error looking up job: the job queue is unavailable",
        "❌ Error looking up job: the job queue is unavailable",
        "❌ Error cancelling job: the job queue is unavailable",
        "❌ Error cancelling job: the job queue is unavailable",
    ]
    await alice.disconnect()
    await bob.disconnect()


async def test_another_users_job_is_answered_without_asking_redis_as_a_job_never_issued_is(
    app: FastAPI, redis_server: FakeServer
) -> None:
    """With the key read, neither answer waits on Redis (so neither takes longer); the owner's own lookup does."""
    alice = await open_as(app, "alice")
    alices = await queue_translate(alice)
    bob = await open_as(app, "bob")
    redis_server.connected = False

    assert await ask(bob, "job_lookup", alices) == not_found(alices)
    assert await ask(bob, "job_lookup", NEVER_ISSUED) == not_found(NEVER_ISSUED)
    assert await ask(bob, "cancel", alices) == nothing_to_cancel(alices)
    assert await ask(bob, "cancel", NEVER_ISSUED) == nothing_to_cancel(NEVER_ISSUED)
    assert (await ask(alice, "job_lookup", alices))["payload"]["message"] == (
        "❌ Error looking up job: the job queue is unavailable"
    )
    await alice.disconnect()
    await bob.disconnect()


# --- what the app says about it --------------------------------------------------------------------------------


async def http_get_json(app: FastAPI, path: str) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        response = await http.get(path)
    assert response.status_code == 200
    return response.json()


async def test_auth_json_says_a_token_is_required(app: FastAPI) -> None:
    assert await http_get_json(app, "/auth.json") == {"token_required": True}


async def test_auth_json_says_no_token_is_required_with_authentication_off(settings: Settings, pool: ArqRedis) -> None:
    app = app_on(settings.model_copy(update={"auth_jwt_secret": None}), pool)

    assert await http_get_json(app, "/auth.json") == {"token_required": False}


async def test_the_asyncapi_document_names_the_header_the_query_parameter_and_the_cookie_a_token_goes_in(
    app: FastAPI,
) -> None:
    spec = await http_get_json(app, "/asyncapi.json")

    schemes = spec["components"]["securitySchemes"]
    assert {(scheme["type"], scheme["in"], scheme["name"]) for scheme in schemes.values()} == {
        ("httpApiKey", "header", "Authorization"),
        ("httpApiKey", "query", "token"),
        ("httpApiKey", "cookie", "access_token"),
    }
    for name, operation in spec["operations"].items():
        assert sorted(ref["$ref"] for ref in operation["security"]) == sorted(
            f"#/components/securitySchemes/{scheme}" for scheme in schemes
        ), name
