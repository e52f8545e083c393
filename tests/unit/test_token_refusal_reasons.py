"""Why a token is refused, as the operator's log says it: the reason names what is wrong, and PyJWT's error."""

import pytest

from src.apps.background_jobs.token_auth import InvalidToken, user_of
from src.settings import Settings
from tests.support.who_may_connect import SECRET, expires_in, hs256


def with_secret() -> Settings:
    return Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=None)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(None, "no token", id="absent"),
        pytest.param("", "no token", id="empty"),
        pytest.param(hs256({"sub": ""}), "the token's sub names no user", id="an empty sub"),
        pytest.param(
            hs256({"sub": "alice", "exp": expires_in(-60)}),
            "ExpiredSignatureError: Signature has expired",
            id="expired a minute ago",
        ),
        pytest.param("not-a-jwt", "DecodeError: Not enough segments", id="one segment"),
    ],
)
def test_a_refused_token_says_why_in_words_of_its_own(token: str | None, reason: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        user_of(token, with_secret())

    assert str(refused.value) == reason
