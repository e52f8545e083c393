"""Each handshake the server refuses is counted under its reason (``background_jobs_sockets_refused_total``)."""

from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from pydantic import SecretStr

from src.settings import Settings
from tests.support.communicator import LOCAL_HOST
from tests.support.metric_samples import handshakes_refused, metric_samples
from tests.support.who_may_connect import SECRET, app_on, bearer_of, socket_with

ALICE = bearer_of("alice")
TOKENS_ON = {"auth_jwt_secret": SecretStr(SECRET)}

#: reason → (the settings' changes, the headers of each handshake: the last one is refused).
CASES: dict[str, tuple[dict[str, Any], list[list[tuple[bytes, bytes]]]]] = {
    "host": ({}, [[(b"host", b"evil.example:8000")]]),
    "origin": ({}, [[LOCAL_HOST, (b"origin", b"http://evil.example")]]),
    "token": (TOKENS_ON, [[LOCAL_HOST]]),
    "capacity": ({"max_connections": 1}, [[LOCAL_HOST]] * 2),
    "client_sockets": ({"max_sockets_per_client": 1}, [[LOCAL_HOST]] * 2),
    "user_sockets": ({**TOKENS_ON, "max_sockets_per_user": 1}, [[LOCAL_HOST, ALICE]] * 2),
}


@pytest.mark.parametrize(("reason", "case"), CASES.items(), ids=list(CASES))
async def test_a_refused_handshake_is_counted_under_its_reason(
    reason: str, case: tuple[dict[str, Any], list[list[tuple[bytes, bytes]]]], settings: Settings, pool: ArqRedis
) -> None:
    changes, handshakes = case
    app = app_on(settings.model_copy(update=changes), pool)
    opened: list[WebsocketCommunicator] = []
    for headers in handshakes:
        ws = socket_with(app, headers)
        ws.scope["client"] = ("198.51.100.1", 50_000 + len(opened))
        opened.append(ws)
        accepted, _ = await ws.connect()

    assert not accepted or (await opened[-1].receive_output(timeout=1))["code"] == 1013  # refused, one way or the other
    assert handshakes_refused(await metric_samples(app)) == {reason: 1.0}
    for ws in opened:
        await ws.disconnect()


async def test_a_handshake_refused_while_redis_is_away_is_counted_as_queue_unavailable(
    settings: Settings, pool: ArqRedis, redis_server: FakeServer
) -> None:
    app = app_on(settings, pool)
    redis_server.connected = False
    ws = socket_with(app, [LOCAL_HOST])
    await ws.connect()

    assert (await ws.receive_output(timeout=1))["code"] == 1013
    assert handshakes_refused(await metric_samples(app)) == {"queue_unavailable": 1.0}


async def test_a_served_handshake_is_not_counted(settings: Settings, pool: ArqRedis) -> None:
    app = app_on(settings, pool)
    ws = socket_with(app, [LOCAL_HOST])
    await ws.connect()
    await ws.receive_output(timeout=1)

    assert handshakes_refused(await metric_samples(app)) == {}
    await ws.disconnect()
