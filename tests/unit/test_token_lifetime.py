"""Token lifetime (issue 22): a token must carry a finite, numeric ``exp`` (and numeric ``nbf`` and ``iat`` if any),
no further away than ``AUTH_MAX_TOKEN_AGE`` when that is set."""

import hashlib
import hmac
import json
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from src.apps.background_jobs.token_auth import EXPIRES, USER, InvalidToken, JwtAuthenticator, holder_of
from src.main import WS_PATH
from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.who_may_connect import SECRET, Claims, b64url, expires_in, hs256, segment

MAX_AGE = 900.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The unit layer's settings, with tokens checked against an HS256 secret."""
    return settings.model_copy(update={"auth_jwt_secret": SecretStr(SECRET)})


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


# --- which tokens' times hold ----------------------------------------------------------------------------------

IN_AN_HOUR = expires_in(3600)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "alice"}, id="no exp"),
        pytest.param({"sub": "alice", "exp": None}, id="exp null"),
        pytest.param({"sub": "alice", "exp": str(IN_AN_HOUR)}, id="exp a string of digits"),
        pytest.param({"sub": "alice", "exp": True}, id="exp true"),
        pytest.param({"sub": "alice", "exp": [IN_AN_HOUR]}, id="exp a list"),
        pytest.param({"sub": "alice", "exp": IN_AN_HOUR, "nbf": "0"}, id="nbf a string"),
        pytest.param({"sub": "alice", "exp": IN_AN_HOUR, "nbf": False}, id="nbf false"),
        pytest.param({"sub": "alice", "exp": IN_AN_HOUR, "iat": "0"}, id="iat a string"),
        pytest.param({"sub": "alice", "exp": IN_AN_HOUR, "iat": {}}, id="iat an object"),
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
        pytest.param(f'{{"sub":"alice","exp":{IN_AN_HOUR},"nbf":NaN}}', id="nbf NaN"),
        pytest.param(f'{{"sub":"alice","exp":{IN_AN_HOUR},"iat":Infinity}}', id="iat Infinity"),
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
        holder_of(hs256({"sub": "alice", "exp": IN_AN_HOUR, "iat": expires_in(1800)}), settings)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "alice", "exp": IN_AN_HOUR, "nbf": expires_in(-60), "iat": expires_in(-60)}, id="ints"),
        pytest.param(
            {"sub": "alice", "exp": time.time() + 3600.5, "nbf": time.time() - 0.5, "iat": time.time() - 0.5},
            id="fractions of a second",
        ),
    ],
)
def test_a_token_whose_times_are_numbers_and_in_force_names_its_user_until_its_exp(
    settings: Settings, claims: Claims
) -> None:
    assert holder_of(hs256(claims), settings) == ("alice", claims["exp"])


@pytest.mark.parametrize(
    "exp",
    [pytest.param(1e30, id="exp 1e30"), pytest.param(time.time() + MAX_AGE + 60, id="a minute past the max age")],
)
def test_a_token_expiring_further_away_than_auth_max_token_age_is_refused(settings: Settings, exp: float) -> None:
    with pytest.raises(InvalidToken, match=r"more than AUTH_MAX_TOKEN_AGE \(900 s\) away"):
        holder_of(alice_until(exp), with_max_age(settings))


def test_a_token_expiring_within_auth_max_token_age_is_accepted(settings: Settings) -> None:
    exp = time.time() + MAX_AGE - 60

    assert holder_of(alice_until(exp), with_max_age(settings)) == ("alice", exp)


def test_without_auth_max_token_age_a_far_exp_is_accepted(settings: Settings) -> None:
    assert holder_of(alice_until(1e30), with_max_age(settings, None)) == ("alice", 1e30)


# --- the handshake ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(hs256({"sub": "alice"}), id="no exp"),
        pytest.param(hs256({"sub": "alice", "exp": str(IN_AN_HOUR)}), id="exp a string"),
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
