"""Token authentication: which tokens name a user and which are refused (``holder_of``), where a handshake's token is
read from (``token_from``), and chanx's authenticator hook (``JwtAuthenticator``) that puts the user on the scope."""

import logging
import warnings
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from src.main import warn_of_a_short_secret
from src.settings import Settings
from src.web.token_auth import USER, InvalidToken, JwtAuthenticator, holder_of, token_from
from tests.support.who_may_connect import (
    OTHER_SECRET,
    SECRET,
    Claims,
    ec_keys,
    expires_in,
    hmac_signed_with,
    hs256,
    rsa_keys,
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


async def test_the_authenticator_refuses_a_bad_token_and_names_no_user() -> None:
    scope = handshake_scope(with_secret(), query=b"token=" + hs256(ALICE, OTHER_SECRET).encode())

    assert not await JwtAuthenticator(send_nothing).authenticate(scope)
    assert USER not in scope


async def test_with_authentication_off_the_authenticator_lets_any_handshake_on_and_names_no_user() -> None:
    scope = handshake_scope(Settings(auth_jwt_secret=None, auth_jwt_public_key=None))

    assert await JwtAuthenticator(send_nothing).authenticate(scope)
    assert USER not in scope


async def test_a_server_holding_only_a_public_key_refuses_a_handshake_without_a_token() -> None:
    scope = handshake_scope(with_public_key(rsa_keys().public_pem))

    assert not await JwtAuthenticator(send_nothing).authenticate(scope)
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
