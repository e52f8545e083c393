"""Token authentication: which tokens name a user and which are refused (``holder_of``; a token must carry a finite,
numeric ``exp``, and numeric ``nbf`` and ``iat`` if any, no further away than ``AUTH_MAX_TOKEN_AGE`` when that is
set), why, as the operator's log says it, where a handshake's token is read from (``token_from``), and chanx's
authenticator hook (``JwtAuthenticator``) that puts the user on the scope; and on the socket (``AUTH_JWT_SECRET``
set): a handshake without a valid token is closed before it is accepted, a user's jobs are theirs alone (another
user's lookup and cancel answer as for no job), and ``/auth.json`` and the AsyncAPI document say so."""

import hashlib
import hmac
import json
import logging
import time
import warnings
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
import pytest
from arq import ArqRedis
from arq.constants import abort_jobs_ss
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from src.main import WS_PATH, warn_of_a_short_secret
from src.settings import Settings
from src.web.token_auth import EXPIRES, USER, InvalidToken, JwtAuthenticator, holder_of, token_from
from tests.support.communicator import socket_on
from tests.support.fake_arq import fake_arq_pool
from tests.support.protocol import CONNECTED, job_id_of, job_status
from tests.support.who_may_connect import (
    OTHER_SECRET,
    SECRET,
    Claims,
    app_on,
    b64url,
    ec_keys,
    expires_in,
    hmac_signed_with,
    hs256,
    rsa_keys,
    segment,
    signed,
    unsigned,
)

#: An ``exp`` an hour away: every token that is to be valid carries one (a token without is refused).
#: Computed once, when the tests are collected: a day outlasts any run of them (a mutation run reruns them for hours).
A_DAY_AHEAD = expires_in(86_400)
ALICE: Claims = {"sub": "alice", "exp": A_DAY_AHEAD}
SHORT_WARNING = "AUTH_JWT_SECRET is shorter than 32 bytes: tokens signed with it are easier to forge"
AUDIENCE = "background-jobs"
ISSUER = "https://issuer.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The unit layer's settings, with tokens checked against an HS256 secret."""
    return settings.model_copy(update={"auth_jwt_secret": SecretStr(SECRET)})


def with_secret(**changes: Any) -> Settings:
    return Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=None, **changes)


def with_public_key(public_pem: str) -> Settings:
    return Settings(auth_jwt_secret=None, auth_jwt_public_key=public_pem)


def handshake_scope(
    settings: Settings, headers: list[tuple[bytes, bytes]] | None = None, query: bytes = b""
) -> dict[str, Any]:
    """A WebSocket scope as the app's consumer sees it (the app's state holds the settings)."""
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    return {"type": "websocket", "app": app, "headers": headers or [], "query_string": query, "path": "/ws"}


async def send_nothing(message: Any) -> None:
    raise AssertionError("the authenticator sends no message")


# --- which tokens name a user ----------------------------------------------------------------------------------


def test_an_hs256_token_signed_with_the_secret_names_its_sub() -> None:
    assert holder_of(hs256({"sub": "alice", "exp": expires_in(60)}), with_secret()).user == "alice"


def test_an_rs256_token_signed_with_the_private_key_names_its_sub() -> None:
    keys = rsa_keys()
    token = signed({"sub": "bob", "exp": A_DAY_AHEAD}, keys, "RS256")

    assert holder_of(token, with_public_key(keys.public_pem)).user == "bob"


def test_an_es256_token_signed_with_the_private_key_names_its_sub() -> None:
    keys = ec_keys()
    token = signed({"sub": "carol", "exp": A_DAY_AHEAD}, keys, "ES256")

    assert holder_of(token, with_public_key(keys.public_pem)).user == "carol"


def test_a_token_naming_the_audience_and_issuer_that_are_set_is_accepted() -> None:
    settings = with_secret(auth_jwt_audience=AUDIENCE, auth_jwt_issuer=ISSUER)

    assert holder_of(hs256({**ALICE, "aud": AUDIENCE, "iss": ISSUER}), settings).user == "alice"


# --- which tokens are refused ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, ""], ids=["absent", "empty"])
def test_no_token_is_refused(token: str | None) -> None:
    with pytest.raises(InvalidToken, match="no token"):
        holder_of(token, with_secret())


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-jwt", id="one segment"),
        pytest.param("a.b.c", id="three segments of nothing"),
        pytest.param("e30.e30.", id="empty header and claims, no signature"),
        pytest.param(hs256(ALICE) + "x", id="signature with a trailing character"),
        pytest.param(hs256(ALICE).rsplit(".", 1)[0], id="signature cut off"),
        pytest.param("Bearer " + hs256(ALICE), id="the header's scheme kept"),
    ],
)
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        holder_of(token, with_secret())


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(hs256(ALICE, OTHER_SECRET), id="signed with another secret"),
        pytest.param(hs256({"sub": "alice", "exp": expires_in(-60)}), id="expired a minute ago"),
        pytest.param(hs256({**ALICE, "nbf": expires_in(1800)}), id="not valid for another half hour"),
        pytest.param(unsigned(ALICE), id="alg none"),
        pytest.param(hs256({"name": "alice", "exp": A_DAY_AHEAD}), id="no sub"),
        pytest.param(hs256({"sub": "", "exp": A_DAY_AHEAD}), id="an empty sub"),
        pytest.param(hs256({"sub": 42, "exp": A_DAY_AHEAD}), id="a numeric sub"),
    ],
)
def test_a_token_the_secret_does_not_vouch_for_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        holder_of(token, with_secret())


def test_an_rs256_token_is_refused_by_a_server_that_holds_a_secret() -> None:
    with pytest.raises(InvalidToken):
        holder_of(signed(ALICE, rsa_keys(), "RS256"), with_secret())


def test_an_hs256_token_keyed_with_the_servers_public_key_is_refused() -> None:
    """Algorithm confusion: the public key is public, so it must never be taken as an HMAC secret."""
    keys = rsa_keys()
    forged = hmac_signed_with(keys.public_pem.encode(), ALICE)

    with pytest.raises(InvalidToken):
        holder_of(forged, with_public_key(keys.public_pem))


def test_an_hs256_token_signed_with_any_secret_is_refused_by_a_server_that_holds_a_public_key() -> None:
    with pytest.raises(InvalidToken):
        holder_of(hs256(ALICE), with_public_key(rsa_keys().public_pem))


def test_a_token_signed_with_another_private_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        holder_of(signed(ALICE, rsa_keys("someone else"), "RS256"), with_public_key(rsa_keys().public_pem))


def test_an_alg_none_token_is_refused_by_a_server_that_holds_a_public_key() -> None:
    with pytest.raises(InvalidToken):
        holder_of(unsigned(ALICE), with_public_key(ec_keys().public_pem))


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({**ALICE, "aud": "another-service", "iss": ISSUER}, id="another audience"),
        pytest.param({**ALICE, "iss": ISSUER}, id="no audience"),
        pytest.param({**ALICE, "aud": AUDIENCE, "iss": "https://elsewhere.example"}, id="another issuer"),
        pytest.param({**ALICE, "aud": AUDIENCE}, id="no issuer"),
    ],
)
def test_a_token_not_naming_the_audience_and_issuer_that_are_set_is_refused(claims: Claims) -> None:
    settings = with_secret(auth_jwt_audience=AUDIENCE, auth_jwt_issuer=ISSUER)

    with pytest.raises(InvalidToken):
        holder_of(hs256(claims), settings)


# --- where the token is read from ------------------------------------------------------------------------------

HEADER_TOKEN, QUERY_TOKEN, COOKIE_TOKEN = "header.token.1", "query.token.2", "cookie.token.3"


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        pytest.param(
            [(b"authorization", b"Bearer header.token.1"), (b"cookie", b"access_token=cookie.token.3")],
            b"token=query.token.2",
            HEADER_TOKEN,
            id="the header beats the query and the cookie",
        ),
        pytest.param(
            [(b"cookie", b"theme=dark; access_token=cookie.token.3")],
            b"a=1&token=query.token.2",
            QUERY_TOKEN,
            id="the query beats the cookie",
        ),
        pytest.param([(b"cookie", b"theme=dark; access_token=cookie.token.3")], b"", COOKIE_TOKEN, id="the cookie"),
        pytest.param([(b"authorization", b"bearer   header.token.1  ")], b"", HEADER_TOKEN, id="any case, trimmed"),
        pytest.param(
            [(b"authorization", b"Basic YWxpY2U6cHc=")], b"token=query.token.2", QUERY_TOKEN, id="not Bearer: ignored"
        ),
        pytest.param(
            [(b"authorization", b"Bearer ")], b"token=query.token.2", QUERY_TOKEN, id="an empty Bearer: ignored"
        ),
        pytest.param([], b"token=", None, id="an empty query parameter is none"),
        pytest.param([], b"", None, id="none anywhere"),
    ],
)
def test_the_token_is_read_from_the_bearer_header_then_the_token_query_parameter_then_the_access_token_cookie(
    headers: list[tuple[bytes, bytes]], query: bytes, expected: str | None
) -> None:
    assert token_from(handshake_scope(with_secret(), headers, query)) == expected


# --- the authenticator hook ------------------------------------------------------------------------------------


async def test_the_authenticator_puts_the_tokens_sub_on_the_scope_as_its_user() -> None:
    scope = handshake_scope(with_secret(), query=b"token=" + hs256(ALICE).encode())

    assert await JwtAuthenticator(send_nothing).authenticate(scope)
    assert scope[USER] == "alice"


async def test_a_bad_bearer_header_is_refused_even_beside_a_good_query_token_and_cookie() -> None:
    good = hs256(ALICE).encode()
    headers = [
        (b"authorization", b"Bearer " + hs256(ALICE, OTHER_SECRET).encode()),
        (b"cookie", b"access_token=" + good),
    ]
    scope = handshake_scope(with_secret(), headers, query=b"token=" + good)

    assert not await JwtAuthenticator(send_nothing).authenticate(scope)
    assert USER not in scope


async def test_a_server_holding_only_a_public_key_refuses_a_handshake_without_a_token() -> None:
    scope = handshake_scope(with_public_key(rsa_keys().public_pem))

    assert not await JwtAuthenticator(send_nothing).authenticate(scope)
    assert USER not in scope


async def test_the_authenticator_refuses_a_bad_token_and_names_no_user() -> None:
    scope = handshake_scope(with_secret(), query=b"token=" + hs256(ALICE, OTHER_SECRET).encode())

    assert not await JwtAuthenticator(send_nothing).authenticate(scope)
    assert USER not in scope


async def test_with_authentication_off_the_authenticator_lets_any_handshake_on_and_names_no_user() -> None:
    scope = handshake_scope(Settings(auth_jwt_secret=None, auth_jwt_public_key=None))

    assert await JwtAuthenticator(send_nothing).authenticate(scope)
    assert USER not in scope


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="missing"),
        pytest.param("garbage", id="malformed"),
        pytest.param(hs256(ALICE, OTHER_SECRET), id="another secret"),
        pytest.param(hs256({"sub": "alice", "exp": expires_in(-60)}), id="expired"),
        pytest.param(unsigned(ALICE), id="alg none"),
        pytest.param(hs256({"name": "alice", "exp": A_DAY_AHEAD}), id="no sub"),
    ],
)
async def test_a_refused_token_is_logged_at_info_without_the_token_and_nothing_at_error(
    caplog: pytest.LogCaptureFixture, token: str
) -> None:
    scope = handshake_scope(with_secret(), query=f"token={token}".encode())

    with caplog.at_level(logging.INFO):
        assert not await JwtAuthenticator(send_nothing).authenticate(scope)

    assert [record.levelname for record in caplog.records] == ["INFO"]
    assert "refusing a WebSocket: its token is not valid" in caplog.records[0].getMessage()
    if token:
        assert token not in caplog.text


@pytest.mark.parametrize(
    "key",
    ["not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"],
    ids=["not a PEM", "a broken PEM"],
)
def test_a_public_key_that_does_not_load_fails_at_start_up_not_at_each_handshake(key: str) -> None:
    with pytest.raises(ValidationError, match="AUTH_JWT_PUBLIC_KEY is not a PEM public key"):
        Settings(auth_jwt_public_key=key)


def test_a_public_key_written_with_escaped_line_breaks_as_env_files_do_is_read_as_its_pem() -> None:
    pem = rsa_keys().public_pem
    escaped = pem.strip().replace("\n", "\\n")

    settings = with_public_key(escaped)

    assert settings.auth_jwt_public_key == pem.strip()
    assert holder_of(signed(ALICE, rsa_keys(), "RS256"), settings).user == "alice"


async def test_a_user_another_middleware_put_on_the_scope_does_not_pass_for_a_checked_token() -> None:
    settings = with_secret()
    scope = handshake_scope(settings)
    scope["user"] = "mallory"  # what Starlette's AuthenticationMiddleware would set

    assert await JwtAuthenticator(send_nothing).authenticate(scope) is False


def test_a_short_secret_is_warned_of_once_at_start_up_and_its_tokens_still_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    short = Settings(auth_jwt_secret="short")

    with caplog.at_level(logging.WARNING):
        warn_of_a_short_secret(short)
        warn_of_a_short_secret(with_secret())

    warned = [record for record in caplog.records if "AUTH_JWT_SECRET" in record.getMessage()]
    assert [(record.levelname, record.getMessage().endswith(SHORT_WARNING)) for record in warned] == [("WARNING", True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns when a token is signed with a short key: the test's doing
        token = jwt.encode(ALICE, "short", algorithm="HS256")
    assert holder_of(token, short).user == "alice"  # no warning escapes the check (warnings are errors here)


# --- which tokens' times hold ----------------------------------------------------------------------------------

MAX_AGE = 900.0


def with_max_age(settings: Settings, max_age: float | None = MAX_AGE) -> Settings:
    return settings.model_copy(update={"auth_max_token_age": max_age})


def signed_as_written(payload: str) -> str:
    """An HS256 token signed with the server's secret whose payload is exactly the JSON text ``payload``: numbers
    PyJWT would not write (``Infinity``, ``NaN``, ``1e400``), which Python's json reads all the same."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{b64url(payload.encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def alice_until(exp: float) -> str:
    """A token naming alice, expiring at ``exp`` (a float: JWT times need not be whole seconds)."""
    return hs256({"sub": "alice", "exp": exp})


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "alice"}, id="no exp"),
        pytest.param({"sub": "alice", "exp": None}, id="exp null"),
        pytest.param({"sub": "alice", "exp": str(A_DAY_AHEAD)}, id="exp a string of digits"),
        pytest.param({"sub": "alice", "exp": True}, id="exp true"),
        pytest.param({"sub": "alice", "exp": [A_DAY_AHEAD]}, id="exp a list"),
        pytest.param({"sub": "alice", "exp": A_DAY_AHEAD, "nbf": "0"}, id="nbf a string"),
        pytest.param({"sub": "alice", "exp": A_DAY_AHEAD, "nbf": False}, id="nbf false"),
        pytest.param({"sub": "alice", "exp": A_DAY_AHEAD, "iat": "0"}, id="iat a string"),
        pytest.param({"sub": "alice", "exp": A_DAY_AHEAD, "iat": {}}, id="iat an object"),
    ],
)
def test_a_token_whose_exp_is_missing_or_whose_times_are_not_json_numbers_is_refused(
    settings: Settings, claims: Claims
) -> None:
    with pytest.raises(InvalidToken):
        holder_of(hs256(claims), settings)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param('{"sub":"alice","exp":Infinity}', id="exp Infinity"),
        pytest.param('{"sub":"alice","exp":-Infinity}', id="exp -Infinity"),
        pytest.param('{"sub":"alice","exp":NaN}', id="exp NaN"),
        pytest.param('{"sub":"alice","exp":1e400}', id="exp 1e400, read as infinity"),
        pytest.param('{"sub":"alice","exp":1' + "0" * 400 + "}", id="exp an integer past a float's range"),
        pytest.param(f'{{"sub":"alice","exp":{A_DAY_AHEAD},"nbf":NaN}}', id="nbf NaN"),
        pytest.param(f'{{"sub":"alice","exp":{A_DAY_AHEAD},"iat":Infinity}}', id="iat Infinity"),
    ],
)
def test_a_signed_token_whose_times_are_not_finite_is_refused_and_nothing_else_is_raised(
    settings: Settings, payload: str
) -> None:
    assert json.loads(payload)["sub"] == "alice"  # the payload is JSON as Python reads it

    with pytest.raises(InvalidToken):
        holder_of(signed_as_written(payload), settings)


def test_a_token_issued_in_the_future_is_refused(settings: Settings) -> None:
    with pytest.raises(InvalidToken, match=r"not valid yet \(iat\)"):
        holder_of(hs256({"sub": "alice", "exp": A_DAY_AHEAD, "iat": expires_in(1800)}), settings)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "alice", "exp": A_DAY_AHEAD, "nbf": expires_in(-60), "iat": expires_in(-60)}, id="ints"),
        pytest.param(
            {"sub": "alice", "exp": time.time() + 86_400.5, "nbf": time.time() - 0.5, "iat": time.time() - 0.5},
            id="fractions of a second",
        ),
    ],
)
def test_a_token_whose_times_are_numbers_and_in_force_names_its_user_until_its_exp(
    settings: Settings, claims: Claims
) -> None:
    assert holder_of(hs256(claims), settings) == ("alice", claims["exp"])


@pytest.mark.parametrize(
    "seconds_away",
    [pytest.param(1e30, id="exp 1e30"), pytest.param(MAX_AGE + 60, id="a minute past the max age")],
)
def test_a_token_expiring_further_away_than_auth_max_token_age_is_refused(
    settings: Settings, seconds_away: float
) -> None:
    # The exp is taken when the test runs, not when it is collected: mutmut runs it long after collecting it.
    with pytest.raises(InvalidToken, match=r"more than AUTH_MAX_TOKEN_AGE \(900 s\) away"):
        holder_of(alice_until(time.time() + seconds_away), with_max_age(settings))


def test_a_token_expiring_within_auth_max_token_age_is_accepted(settings: Settings) -> None:
    exp = time.time() + MAX_AGE - 60

    assert holder_of(alice_until(exp), with_max_age(settings)) == ("alice", exp)


def test_without_auth_max_token_age_a_far_exp_is_accepted(settings: Settings) -> None:
    assert holder_of(alice_until(1e30), with_max_age(settings, None)) == ("alice", 1e30)


# --- their times, at the handshake -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(hs256({"sub": "alice"}), id="no exp"),
        pytest.param(hs256({"sub": "alice", "exp": str(A_DAY_AHEAD)}), id="exp a string"),
        pytest.param(signed_as_written('{"sub":"alice","exp":Infinity}'), id="exp Infinity"),
    ],
)
async def test_a_handshake_whose_token_lacks_a_numeric_exp_is_refused_before_accept_and_logged_at_info_only(
    app: FastAPI, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    ws = socket_on(app, path=f"{WS_PATH}?token={token}")

    with caplog.at_level(logging.INFO):
        assert await ws.connect() == (False, 1008)
        await ws.wait()

    assert [record.levelname for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert "refusing a WebSocket: its token is not valid" in caplog.text
    assert token not in caplog.text


async def test_the_authenticator_keeps_the_tokens_exp_on_the_scope_beside_its_user(settings: Settings) -> None:
    exp = time.time() + 60
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    query = f"token={alice_until(exp)}".encode()
    scope: dict[str, Any] = {"type": "websocket", "app": app, "headers": [], "query_string": query}

    async def send_nothing(message: Any) -> None:
        raise AssertionError("the authenticator sends no message")

    assert await JwtAuthenticator(send_nothing).authenticate(scope)
    assert (scope[USER], scope[EXPIRES]) == ("alice", exp)


# --- why a token is refused ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(None, "no token", id="absent"),
        pytest.param("", "no token", id="empty"),
        pytest.param(hs256({"sub": "", "exp": expires_in(60)}), "the token's sub names no user", id="an empty sub"),
        pytest.param(
            hs256({"sub": "alice", "exp": expires_in(-60)}), "the token has expired (exp)", id="expired a minute ago"
        ),
        pytest.param(hs256({"sub": "alice"}), "the token has no exp", id="no exp"),
        pytest.param(
            hs256({"sub": "alice", "exp": "2000000000"}), "the token's exp is not a number", id="exp a string"
        ),
        pytest.param("not-a-jwt", "DecodeError: Not enough segments", id="one segment"),
    ],
)
def test_a_refused_token_says_why_in_words_of_its_own(token: str | None, reason: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        holder_of(token, with_secret())

    assert str(refused.value) == reason


async def test_the_authenticators_refusal_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    app = SimpleNamespace(state=SimpleNamespace(settings=with_secret()))
    scope: dict[str, Any] = {"type": "websocket", "app": app, "headers": [], "query_string": b"", "path": "/ws"}

    with caplog.at_level(logging.INFO, logger="src.web.token_auth"):
        assert not await JwtAuthenticator(send_nothing).authenticate(scope)

    lines = [" ".join(record.getMessage().split()) for record in caplog.records]
    assert lines == ["[info ] refusing a WebSocket: its token is not valid reason='no token'"]


# --- on the socket (AUTH_JWT_SECRET set) -----------------------------------------------------------------------

NEVER_ISSUED = "translate_0123456789abcdef0123456789abcdef"


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


# --- on the socket: the handshake ------------------------------------------------------------------------------


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


# --- on the socket: whose jobs are whose -----------------------------------------------------------------------


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


# --- on the socket: the owners' key, from Redis ----------------------------------------------------------------


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


# --- on the socket: what the app says about it -----------------------------------------------------------------


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
