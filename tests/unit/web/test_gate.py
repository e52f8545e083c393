"""The gate in front of the consumer, and who may connect: each handshake it refuses is counted under its reason
(``background_jobs_sockets_refused_total``) and logged (a foreign origin with that origin); while Redis is
unreachable a handshake is accepted and closed at once with 1013; ``MAX_SOCKETS_PER_CLIENT`` is off by default and
counts the client address uvicorn's proxy headers name; and over arbitrary input (hypothesis) any Host, Origin or
token gets a handshake accepted or closed before it is accepted, and any Host gets a request served or a 400 — never
an exception, never a 500 — as the allowed hosts and the secret say."""

import logging
import re
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from src.main import WS_PATH
from src.ops.logging_setup import RedactTokens
from src.parts import StockParts
from src.settings import Settings
from src.web.gate import UNAVAILABLE_TEXT, close_with_1013
from src.web.job_queue import JobQueue
from src.web.ownership import JobOwnership
from src.web.token_auth import InvalidToken, holder_of, token_from
from tests.support.communicator import LOCAL_HOST, socket_on
from tests.support.log_lines import logged
from tests.support.metric_samples import handshakes_refused, metric_samples
from tests.support.protocol import CONNECTED
from tests.support.who_may_connect import (
    OTHER_SECRET,
    SECRET,
    app_on,
    bearer_of,
    expires_in,
    hs256,
    http_get,
    served,
    socket_with,
    unsigned,
)

# --- refusals counted ------------------------------------------------------------------------------------------

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


# --- refusals logged -------------------------------------------------------------------------------------------


async def test_a_handshake_from_a_foreign_origin_is_logged_with_that_origin(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    ws = socket_on(app, headers=[(b"origin", b"https://evil.example")])  # its Host: 127.0.0.1, allowed

    assert await ws.connect() == (False, 1008)

    assert logged(caplog, "WARNING") == ["refusing a WebSocket from a foreign origin origin=https://evil.example"]


async def test_a_handshake_while_the_job_queue_is_unreachable_is_logged(
    app: FastAPI, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged as the consumer's one WARNING: ``refusing a WebSocket: the job queue is unavailable``."""
    redis_server.connected = False
    ws = socket_on(app)

    await ws.connect()

    assert logged(caplog, "WARNING") == ["refusing a WebSocket: the job queue is unavailable"]


# --- while Redis is unreachable --------------------------------------------------------------------------------


async def test_a_handshake_while_redis_is_unreachable_is_closed_with_1013_try_again_later(
    app: FastAPI, redis_server: FakeServer
) -> None:
    """With Redis unreachable, a handshake is accepted, then closed with 1013 saying the job queue is unavailable."""
    redis_server.connected = False
    ws = socket_on(app)

    connected, _ = await ws.connect()

    assert connected  # accepted, to say why in the close frame
    assert await ws.receive_output(timeout=1) == {
        "type": "websocket.close",
        "code": 1013,
        "reason": "The job queue is unavailable; try again shortly.",
    }


async def test_a_handshake_refused_for_an_unreachable_redis_sends_nothing_if_the_client_already_left() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await close_with_1013(receive, send, UNAVAILABLE_TEXT)

    assert sent == []


# --- MAX_SOCKETS_PER_CLIENT ------------------------------------------------------------------------------------

PER_CLIENT = 2
OVER_IT = {
    "type": "websocket.close",
    "code": 1013,
    "reason": "This client address holds its most sockets (2); close one and try again.",
}


async def open_from(
    app: Any, address: str, sockets: list[WebsocketCommunicator], headers: list[tuple[bytes, bytes]] | None = None
) -> Any:
    """Open a socket from ``address`` (the ASGI scope's client): its first output, the connected frame or a close."""
    ws = socket_on(app, headers=headers or [])
    ws.scope["client"] = (address, 50_000 + len(sockets))
    sockets.append(ws)
    await ws.connect()
    return await ws.receive_output(timeout=1)


def with_per_client_limit(settings: Settings, pool: ArqRedis) -> FastAPI:
    return app_on(settings.model_copy(update={"max_sockets_per_client": PER_CLIENT}), pool)


async def test_max_sockets_per_client_is_off_by_default_so_many_sockets_from_one_address_are_served(
    app: FastAPI, settings: Settings, sockets: list[WebsocketCommunicator]
) -> None:
    outputs = [await open_from(app, "198.51.100.1", sockets) for _ in range(10)]

    assert settings.max_sockets_per_client is None
    assert all(served(output) for output in outputs)
    assert app.state.admission.clients == {}


async def test_a_socket_over_max_sockets_per_client_from_one_address_is_closed_with_1013_while_another_is_served(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    app = with_per_client_limit(settings, pool)
    for _ in range(PER_CLIENT):
        assert served(await open_from(app, "198.51.100.1", sockets))

    refused = await open_from(app, "198.51.100.1", sockets)
    other = await open_from(app, "198.51.100.2", sockets)

    assert refused == OVER_IT
    assert served(other)


async def test_a_closed_socket_makes_room_for_another_from_its_address(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    app = with_per_client_limit(settings, pool)
    for _ in range(PER_CLIENT):
        await open_from(app, "198.51.100.1", sockets)
    await sockets[0].disconnect()

    assert served(await open_from(app, "198.51.100.1", sockets))


async def test_behind_a_trusted_proxy_sockets_are_counted_by_the_client_the_proxy_names(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    """uvicorn's ``--forwarded-allow-ips`` (its ``ProxyHeadersMiddleware``) names the client; the proxy is not one."""
    app: Any = with_per_client_limit(settings, pool)  # an ASGI app, as uvicorn types it
    behind_proxy = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.1")

    def forwarded_for(client: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-forwarded-for", client.encode())]

    first = [await open_from(behind_proxy, "10.0.0.1", sockets, forwarded_for("203.0.113.7")) for _ in range(2)]
    others = [await open_from(behind_proxy, "10.0.0.1", sockets, forwarded_for(f"203.0.113.{n}")) for n in (8, 9)]
    over = await open_from(behind_proxy, "10.0.0.1", sockets, forwarded_for("203.0.113.7"))

    assert all(served(output) for output in first + others)
    assert over == OVER_IT


async def test_a_socket_without_a_client_address_is_not_counted_per_client(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    """The ASGI scope may carry no client (a Unix socket, say): only ``MAX_CONNECTIONS`` bounds such sockets."""
    app = with_per_client_limit(settings, pool)
    outputs = []
    for _ in range(PER_CLIENT + 1):
        ws = socket_on(app)
        sockets.append(ws)
        await ws.connect()
        outputs.append(await ws.receive_output(timeout=1))

    assert all(served(output) for output in outputs)


# --- who may connect, over arbitrary input ---------------------------------------------------------------------

ACCEPTED = (True, None)
REFUSED_BEFORE_ACCEPT = (False, 1008)
#: A Host header naming one of the hosts allowed by default (the loopback names; HOST is 127.0.0.1), any port.
NAMES_A_DEFAULT_HOST = re.compile(rb"(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]+)?", re.IGNORECASE)
#: The examples share the function's app: each socket is closed (or refused) before the next example.
SHARED_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

ports = st.none() | st.integers(min_value=0, max_value=99999).map(str) | st.sampled_from(["", "x", "8000 ", "-1"])
names = st.sampled_from(["127.0.0.1", "localhost", "LocalHost", "[::1]"]) | st.sampled_from(
    ["[::2]", "[::1", "evil.example", "127.0.0.1.evil.example", "localhost.", ""]
)
near_hosts = st.tuples(names, ports).map(lambda pair: (pair[0] if pair[1] is None else f"{pair[0]}:{pair[1]}").encode())
hosts = st.none() | near_hosts | (st.binary(max_size=40) | st.text(max_size=20).map(lambda t: t.encode("utf-8")))
origins = st.none() | (
    st.sampled_from([b"http://127.0.0.1:8000", b"http://localhost", b"http://evil.example:8000", b"null", b""])
    | st.binary(max_size=40)
)


def names_a_default_host(host: bytes | None) -> bool:
    return host is not None and NAMES_A_DEFAULT_HOST.fullmatch(host) is not None


async def handshake(app: FastAPI, headers: list[tuple[bytes, bytes]], path: str = WS_PATH) -> tuple[object, object]:
    """Open a socket; accepted: its connected frame is checked and it is closed; refused: the app has finished."""
    ws = socket_with(app, headers, path)
    result = await ws.connect()
    assert result in (ACCEPTED, REFUSED_BEFORE_ACCEPT)
    if result == ACCEPTED:
        assert await ws.receive_json_from(timeout=1) == CONNECTED
        await ws.disconnect()
    else:
        await ws.wait()  # re-raises anything the app raised
    return result


@SHARED_APP
@given(host=hosts, origin=origins)
async def test_any_host_and_origin_get_a_handshake_accepted_or_refused_before_accept_as_the_allowed_hosts_say(
    app: FastAPI, host: bytes | None, origin: bytes | None
) -> None:
    headers = [(name, value) for name, value in ((b"host", host), (b"origin", origin)) if value is not None]

    result = await handshake(app, headers)

    event("accepted" if result == ACCEPTED else "refused")
    if not names_a_default_host(host):
        assert result == REFUSED_BEFORE_ACCEPT
    elif origin is None:
        assert result == ACCEPTED


@SHARED_APP
@given(host=hosts)
async def test_any_host_gets_the_page_or_400_as_the_allowed_hosts_say(app: FastAPI, host: bytes | None) -> None:
    answer = await http_get(app, "/", [] if host is None else [(b"host", host)])

    event(str(answer.status))
    assert answer.status == (200 if names_a_default_host(host) else 400)


several_hosts = st.lists(near_hosts, min_size=2, max_size=4)


@SHARED_APP
@given(values=several_hosts, path=st.sampled_from(["/", "/healthz", "/readyz", "/metrics"]))
async def test_any_request_with_several_host_headers_gets_400_whatever_they_name_and_its_path(
    app: FastAPI, values: list[bytes], path: str
) -> None:
    answer = await http_get(app, path, [(b"host", value) for value in values])

    assert answer.status == 400


@SHARED_APP
@given(values=several_hosts)
async def test_any_handshake_with_several_host_headers_is_refused_before_accept(
    app: FastAPI, values: list[bytes]
) -> None:
    assert await handshake(app, [(b"host", value) for value in values]) == REFUSED_BEFORE_ACCEPT


# --- over arbitrary input: tokens, with AUTH_JWT_SECRET set ----------------------------------------------------

users = st.text(min_size=1, max_size=12)
#: An hour from when the module is loaded: the valid tokens' ``exp``.
#: Computed once, when the tests are collected: a day outlasts any run of them (a mutation run reruns them for hours).
A_DAY_AHEAD = expires_in(86_400)
valid_tokens = users.map(lambda user: hs256({"sub": user, "exp": A_DAY_AHEAD}))
forged_tokens = users.flatmap(
    lambda user: st.sampled_from(
        [
            hs256({"sub": user, "exp": A_DAY_AHEAD}, OTHER_SECRET),
            unsigned({"sub": user, "exp": A_DAY_AHEAD}),
            hs256({"name": user, "exp": A_DAY_AHEAD}),
            hs256({"sub": user, "exp": A_DAY_AHEAD})[:-2],
            hs256({"sub": user}),
        ]
    )
)
#: (the token, whether the server's secret vouches for it)
tokens = (
    valid_tokens.map(lambda token: (token, True))
    | forged_tokens.map(lambda token: (token, False))
    | st.text(max_size=60).map(lambda token: (token, False))
)


def header_bytes(text: str) -> bytes:
    """``text`` in a header, as UTF-8 (the server reads headers as latin-1)."""
    return text.encode("utf-8")


@pytest.fixture
def settings_with_secret(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_jwt_secret": SecretStr(SECRET)})


@pytest.fixture
def auth_app(settings_with_secret: Settings, pool: ArqRedis) -> FastAPI:
    return app_on(settings_with_secret, pool)


LOCAL = (b"host", b"127.0.0.1:8000")


@SHARED_APP
@given(drawn=tokens, where=st.sampled_from(["query", "header", "cookie"]))
async def test_any_token_anywhere_gets_a_handshake_accepted_only_if_the_secret_vouches_for_it(
    auth_app: FastAPI, drawn: tuple[str, bool], where: str
) -> None:
    token, valid = drawn
    if where == "query":
        result = await handshake(auth_app, [LOCAL], f"{WS_PATH}?token={quote(token, safe='')}")
    elif where == "header":
        result = await handshake(auth_app, [LOCAL, (b"authorization", b"Bearer " + header_bytes(token))])
    else:
        result = await handshake(auth_app, [LOCAL, (b"cookie", b"access_token=" + header_bytes(token))])

    event(f"{where}: {'accepted' if result == ACCEPTED else 'refused'}")
    assert result == (ACCEPTED if valid else REFUSED_BEFORE_ACCEPT)


@SHARED_APP
@given(authorization=st.none() | st.binary(max_size=60), cookie=st.none() | st.binary(max_size=60))
async def test_any_authorization_and_cookie_header_bytes_get_a_handshake_refused_before_accept(
    auth_app: FastAPI, authorization: bytes | None, cookie: bytes | None
) -> None:
    headers = [(b"authorization", authorization), (b"cookie", cookie)]

    result = await handshake(auth_app, [LOCAL, *((name, value) for name, value in headers if value is not None)])

    assert result == REFUSED_BEFORE_ACCEPT


@SHARED_APP
@given(drawn=tokens)
def test_a_token_is_either_a_user_or_invalid_token_never_another_error(
    settings_with_secret: Settings, drawn: tuple[str, bool]
) -> None:
    token, valid = drawn
    try:
        user = holder_of(token, settings_with_secret).user
    except InvalidToken:
        assert not valid
    else:
        assert valid
        assert isinstance(user, str)
        assert user


@given(
    headers=st.lists(
        st.tuples(st.sampled_from([b"authorization", b"cookie", b"x"]), st.binary(max_size=30)), max_size=3
    ),
    query=st.binary(max_size=40),
)
def test_reading_the_token_of_any_handshake_never_raises(headers: list[tuple[bytes, bytes]], query: bytes) -> None:
    found = token_from({"type": "websocket", "headers": headers, "query_string": query})

    assert found is None or (isinstance(found, str) and found)


# --- over arbitrary input: ownership and redaction -------------------------------------------------------------


@pytest.fixture
def ownership(settings_with_secret: Settings, pool: ArqRedis) -> JobOwnership:
    """A server's ownership with authentication on, its key made in the test's fakeredis."""
    return JobOwnership(JobQueue(settings_with_secret, StockParts(settings_with_secret), pool=pool))


@SHARED_APP
@given(owner=st.text(max_size=12), other=st.text(max_size=12), job_type=st.sampled_from(["translate", "default"]))
async def test_a_users_job_id_is_owned_by_that_user_and_by_no_other(
    ownership: JobOwnership, owner: str, other: str, job_type: str
) -> None:
    job_id = await ownership.new_job_id(job_type, owner)

    assert re.fullmatch(rf"{job_type}_[0-9a-f]{{32}}", job_id)
    assert await ownership.owns(owner, job_id)
    assert await ownership.owns(other, job_id) is (other == owner)


@SHARED_APP
@given(user=st.text(max_size=12), job_id=st.text(max_size=50))
async def test_whether_a_user_owns_an_arbitrary_id_is_answered_without_raising(
    ownership: JobOwnership, user: str, job_id: str
) -> None:
    assert await ownership.owns(user, job_id) is False


@given(token=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.%+~", min_size=1))
def test_any_token_in_a_websocket_line_is_redacted(token: str) -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("10.0.0.1:5", f"/ws?token={token}"),
        None,
    )

    RedactTokens().filter(record)

    assert record.getMessage() == '10.0.0.1:5 - "WebSocket /ws?token=[redacted]" [accepted]'
