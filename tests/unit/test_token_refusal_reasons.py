"""Why a token is refused, as the operator's log says it: the reason names what is wrong, and PyJWT's error."""

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from src.settings import Settings
from src.web.token_auth import InvalidToken, JwtAuthenticator, holder_of
from tests.support.who_may_connect import SECRET, expires_in, hs256


async def send_nothing(message: Any) -> None:
    raise AssertionError("the authenticator sends no message")


def with_secret() -> Settings:
    return Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=None)


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
