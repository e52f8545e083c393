"""A socket's end at its token's expiry (with ``AUTH_JWT_SECRET`` set): it is closed with 4401 "token expired" when its
token expires, on the stock loop and on the fast path's, a frame that arrives after that is not handled, and the
close is logged at info, never with the token."""

import asyncio
import gc
import logging
import time
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fast_channels.layers import channel_layers, register_channel_layer
from fast_channels.layers.redis.pubsub import RedisSingleShardConnection
from fastapi import FastAPI
from pydantic import SecretStr

import src.base_consumer
from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.fastpath import FastPath
from src.fastpath.lean_channel_layer import LeanChannelLayer, LeanLoopLayer
from src.layers import JOBS_LAYER_ALIAS
from src.main import WS_PATH, create_app
from src.parts import StockParts
from src.settings import Settings
from src.web import token_auth, token_expiry
from tests.support.communicator import socket_on
from tests.support.held_job_queue import HeldJobQueue
from tests.support.log_lines import log_lines
from tests.support.protocol import CONNECTED, PING, PONG, job
from tests.support.who_may_connect import SECRET, app_on, hs256

CONSUMER_LOGGER = "src.base_consumer"
CLOSED_AS_EXPIRED = {"type": "websocket.close", "code": 4401, "reason": "token expired"}
#: Seconds a socket's token lives in the tests that wait for it to expire (the handshake is done well before).
SHORT_LIFE = 0.5
#: Seconds past its token's ``exp`` a socket may take to be closed.
CLOSE_BOUND = 2.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The unit layer's settings, with tokens checked against an HS256 secret."""
    return settings.model_copy(update={"auth_jwt_secret": SecretStr(SECRET)})


def alice_until(exp: float) -> str:
    """A token naming alice, expiring at ``exp`` (a float: JWT times need not be whole seconds)."""
    return hs256({"sub": "alice", "exp": exp})


# --- an open socket whose token expires ------------------------------------------------------------------------

UNREACHABLE = "redis://127.0.0.1:1"


async def subscribe_nothing(shard: RedisSingleShardConnection, channel: str) -> None:
    """A shard's (un)subscription, stood in for: these sockets get no channel-layer event."""


async def listen_nowhere(layer: LeanLoopLayer) -> None:
    """The lean layer's pattern subscription, stood in for."""


@pytest.fixture(params=["stock loop", "fast path's loop"])
def app_on_a_loop(
    request: pytest.FixtureRequest, settings: Settings, pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> FastAPI:
    """The app serving its sockets on fast-channels' ``AsyncConsumer.__call__`` (``FAST_PATH=false``), or on the fast
    path's own loop (``serve_consumer``, which takes it only on its lean channel layer: here one without Redis)."""
    if request.param == "stock loop":
        stock = settings.model_copy(update={"fast_path": False})
        app = app_on(stock, pool)
        assert isinstance(app.state.parts, StockParts)
        return app
    monkeypatch.setattr(RedisSingleShardConnection, "subscribe", subscribe_nothing)
    monkeypatch.setattr(RedisSingleShardConnection, "unsubscribe", subscribe_nothing)
    monkeypatch.setattr(LeanLoopLayer, "listen", listen_nowhere)
    channel_layers.clear()
    register_channel_layer(JOBS_LAYER_ALIAS, LeanChannelLayer(hosts=[UNREACHABLE], prefix="unit."))
    app = app_on(settings, pool)
    assert isinstance(app.state.parts, FastPath)
    return app


async def opened(app: FastAPI, exp: float) -> WebsocketCommunicator:
    """A socket whose token (alice's) expires at ``exp``, past its connected frame."""
    ws = socket_on(app, path=f"{WS_PATH}?token={alice_until(exp)}")
    assert await ws.connect() == (True, None)
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    return ws


async def test_a_socket_is_closed_with_4401_token_expired_when_its_token_expires(app_on_a_loop: FastAPI) -> None:
    exp = time.time() + SHORT_LIFE
    ws = await opened(app_on_a_loop, exp)
    await ws.send_json_to(PING)
    assert await ws.receive_json_from(timeout=1) == PONG  # served while the token is valid

    closed = await ws.receive_output(timeout=exp - time.time() + CLOSE_BOUND)
    closed_at = time.time()

    assert closed == CLOSED_AS_EXPIRED
    assert closed_at >= exp
    await ws.disconnect(code=4401)


def test_a_token_has_expired_from_the_instant_of_its_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    exp = 1_900_000_000.0
    scope = {token_auth.EXPIRES: exp}

    monkeypatch.setattr(token_expiry, "wall_clock", lambda: exp - 0.001)
    before = token_expiry.expired(scope)
    monkeypatch.setattr(token_expiry, "wall_clock", lambda: exp)

    assert (before, token_expiry.expired(scope)) == (False, True)


async def test_a_frame_that_arrives_after_the_tokens_exp_closes_the_socket_and_is_not_handled(
    app_on_a_loop: FastAPI, pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket's timer has not run (its ``exp`` is an hour away by the loop's clock) when the wall clock says the
    token has expired: the frame that arrives then closes the socket, and its job is not queued."""
    exp = time.time() + 3600
    ws = await opened(app_on_a_loop, exp)
    monkeypatch.setattr(token_expiry, "wall_clock", lambda: exp + 1)

    await ws.send_json_to(job("translate"))

    assert await ws.receive_output(timeout=1) == CLOSED_AS_EXPIRED
    assert await ws.receive_nothing()
    assert await pool.queued_jobs() == []
    await ws.disconnect(code=4401)


async def test_the_close_at_expiry_is_logged_at_info_and_never_the_token(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    exp = time.time() + SHORT_LIFE
    with caplog.at_level(logging.INFO):
        ws = await opened(app, exp)
        assert await ws.receive_output(timeout=exp - time.time() + CLOSE_BOUND) == CLOSED_AS_EXPIRED
        await ws.disconnect(code=4401)

    assert log_lines(caplog, CONSUMER_LOGGER) == ["[info ] closing a socket: its token has expired"]
    assert [record.levelname for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert alice_until(exp) not in caplog.text


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.TimerHandle | None]:
    """The expiry timer each socket's consumer set (None for a socket without one)."""
    made: list[asyncio.TimerHandle | None] = []

    def noted(scope: Any, close: token_expiry.Close) -> asyncio.TimerHandle | None:
        timer = token_expiry.close_at_expiry(scope, close)
        made.append(timer)
        return timer

    monkeypatch.setattr(src.base_consumer, "close_at_expiry", noted)
    return made


async def test_the_timer_of_a_socket_that_leaves_before_its_token_expires_is_cancelled(
    app: FastAPI, timers: list[asyncio.TimerHandle | None]
) -> None:
    ws = await opened(app, time.time() + 3600)
    (timer,) = timers
    assert timer is not None
    assert not timer.cancelled()

    await ws.disconnect()

    assert timer.cancelled()


async def test_with_authentication_off_a_socket_gets_no_expiry_timer(
    settings: Settings, pool: ArqRedis, timers: list[asyncio.TimerHandle | None]
) -> None:
    ws = socket_on(app_on(settings.model_copy(update={"auth_jwt_secret": None}), pool))
    assert await ws.connect() == (True, None)
    assert await ws.receive_json_from(timeout=1) == CONNECTED

    await ws.disconnect()

    assert timers == [None]


async def test_an_answer_ready_after_the_socket_was_closed_at_its_tokens_expiry_is_not_sent(
    settings: Settings, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Bob's ping waits for the server's enqueue backlog (alice's job, held) while his token expires: the socket is
    closed with 4401 at once, and the pong, ready once the backlog drains, is dropped without an error."""
    one_job_backlog = settings.model_copy(update={"max_enqueue_backlog": 1})
    jobs = HeldJobQueue(one_job_backlog, pool)
    app = create_app(one_job_backlog, jobs=jobs)
    alice = await opened(app, time.time() + 3600)
    exp = time.time() + SHORT_LIFE
    bob = await opened(app, exp)
    await alice.send_json_to(job("translate"))
    assert (await alice.receive_json_from(timeout=1))["payload"]["status"] == "queuing"

    with caplog.at_level(logging.INFO):
        await bob.send_json_to(PING)
        assert await bob.receive_output(timeout=exp - time.time() + CLOSE_BOUND) == CLOSED_AS_EXPIRED
        jobs.let_through.set()
        assert (await alice.receive_json_from(timeout=1))["payload"]["status"] == "queued"

        assert await bob.receive_nothing()
        await bob.disconnect(code=4401)
        await alice.disconnect()

    assert [record.levelname for record in caplog.records if record.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ConnectionResetError("the client has gone"), id="ClientDisconnected, an OSError"),
        pytest.param(RuntimeError("Unexpected ASGI message 'websocket.close'"), id="the disconnect already read"),
    ],
)
async def test_a_socket_whose_client_has_gone_as_its_token_expires_ends_without_an_error(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    """The close raises what uvicorn raises for a client that has gone; nothing is logged as an error, not even the
    task of the close ending with an exception nobody read."""
    tried = asyncio.Event()

    async def client_gone(consumer: BackgroundJobConsumer, code: int | None = None, reason: str | None = None) -> None:
        tried.set()
        raise error

    monkeypatch.setattr(BackgroundJobConsumer, "close", client_gone)
    exp = time.time() + SHORT_LIFE
    with caplog.at_level(logging.INFO):
        ws = await opened(app, exp)
        await asyncio.wait_for(tried.wait(), exp - time.time() + CLOSE_BOUND)
        for _ in range(3):  # the close's task ends, is let go of, and is collected
            await asyncio.sleep(0)
        gc.collect()
        await ws.disconnect()

    assert [record.levelname for record in caplog.records if record.levelno >= logging.WARNING] == []
