"""Optional token authentication of the socket: a JWT (PyJWT) through chanx's authenticator hook.

Off unless ``AUTH_JWT_SECRET`` (HS256) or ``AUTH_JWT_PUBLIC_KEY`` (RS256, ES256) is set. A handshake then carries
a valid, unexpired token — in an ``Authorization: Bearer`` header, or, since a browser cannot set headers on a
WebSocket, a ``token`` query parameter or an ``access_token`` cookie — whose ``sub`` claim names the user and whose
``exp`` says until when (``token_expiry.py`` closes the socket then).
"""

import math
import time
import warnings
from collections.abc import MutableMapping
from typing import Any, ClassVar, NamedTuple

import jwt
import jwt.warnings
import structlog
from chanx.core.authenticator import BaseAuthenticator, Credential
from starlette.requests import HTTPConnection

from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

#: Where the scope keeps the user this authenticator found in the token (its ``sub``); a key of its own, so that
#: another middleware's ``scope["user"]`` never passes for a checked token.
USER = "jwt_user"
#: Where the scope keeps when that token expires (its ``exp``, in seconds since the epoch).
EXPIRES = "jwt_expires"
#: HS256 secrets shorter than this make PyJWT warn on every decode (RFC 7518, 3.2).
SHORT_SECRET = 32
#: The algorithms each kind of key verifies (never a public key as an HMAC secret).
SECRET_ALGORITHMS = ["HS256"]
PUBLIC_KEY_ALGORITHMS = ["RS256", "ES256"]


class InvalidToken(Exception):
    """The handshake's token is missing or not valid; the message says why (for the log, not the client)."""


class Holder(NamedTuple):
    """Who a valid token names (its ``sub``), and until when (its ``exp``, in seconds since the epoch)."""

    user: str
    expires: float


def token_from(scope: MutableMapping[str, Any]) -> str | None:
    """The handshake's token: an ``Authorization: Bearer`` header, else a ``token`` query parameter, else an
    ``access_token`` cookie."""
    connection = HTTPConnection(scope)
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.query_params.get("token") or connection.cookies.get("access_token") or None


def holder_of(token: str | None, settings: Settings, now: float | None = None) -> Holder:
    """Who a token names and until when, once its signature, its times and (when set) audience and issuer hold."""
    if not token:
        raise InvalidToken("no token")
    if settings.auth_jwt_secret is not None:
        key, algorithms = settings.auth_jwt_secret.get_secret_value(), SECRET_ALGORITHMS
    else:
        key, algorithms = settings.auth_jwt_public_key or "", PUBLIC_KEY_ALGORITHMS
    try:
        with warnings.catch_warnings():
            # A short secret is the operator's choice, said once at start-up (src/main.py), not per handshake.
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=settings.auth_jwt_audience,
                issuer=settings.auth_jwt_issuer,
                # The times are checked below: PyJWT takes whatever int() takes as one (a string, a bool).
                options={"require": ["sub"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(f"{type(exc).__name__}: {exc}") from None
    user = claims["sub"]
    if not isinstance(user, str) or not user:
        raise InvalidToken("the token's sub names no user")
    expires = in_force_until(claims, time.time() if now is None else now, settings.auth_max_token_age)
    return Holder(user, expires)


def in_force_until(claims: dict[str, Any], now: float, max_age: float | None) -> float:
    """The token's ``exp``, once it is later than ``now`` (and, with ``AUTH_MAX_TOKEN_AGE``, at most ``max_age``
    seconds later) and the token's ``nbf`` and ``iat``, if any, are not."""
    expires, not_before, issued_at = (seconds(claims, name) for name in ("exp", "nbf", "iat"))
    if expires is None:
        raise InvalidToken("the token has no exp")
    if expires <= now:
        raise InvalidToken("the token has expired (exp)")
    if not_before is not None and not_before > now:
        raise InvalidToken("the token is not valid yet (nbf)")
    if issued_at is not None and issued_at > now:
        raise InvalidToken("the token is not valid yet (iat)")
    if max_age is not None and expires > now + max_age:
        raise InvalidToken(f"the token's exp is more than AUTH_MAX_TOKEN_AGE ({max_age:g} s) away")
    return expires


def seconds(claims: dict[str, Any], name: str) -> float | None:
    """Time claim ``name`` (None when absent), which must be a JSON number (not a string, not a bool) that is finite
    as a float: a signed token may carry ``Infinity``, ``NaN`` or ``1e400``, all of which Python's json reads."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the token's {name} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer past a float's range
        number = math.inf
    if not math.isfinite(number):
        raise InvalidToken(f"the token's {name} is not a finite number")
    return number


def authenticated(scope: MutableMapping[str, Any], settings: Settings) -> bool:
    """Whether the handshake may go on: authentication is off, or its token names a user, who goes on the scope
    (``scope[USER]``) with the token's expiry (``scope[EXPIRES]``); a refusal is logged with its reason."""
    if not settings.auth_enabled or USER in scope:
        return True
    try:
        scope[USER], scope[EXPIRES] = holder_of(token_from(scope), settings)
    except InvalidToken as exc:
        logger.info("refusing a WebSocket: its token is not valid", reason=str(exc))
        return False
    return True


class JwtAuthenticator(BaseAuthenticator):
    """chanx's authenticator hook: with authentication on, the scope's token must name a user.

    The gate in front of the consumer (``src/web/gate.py``) decides it before accepting the handshake, so a refused
    one gets HTTP 403; chanx asks again after accepting, and finds the user already there. It also names the three
    ways a token may come in the AsyncAPI document.
    """

    credentials: ClassVar[tuple[Credential, ...]] = (
        Credential("Authorization", "header", "`Bearer <JWT>`, when AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY is set"),
        Credential("token", "query", "a JWT, for browsers (which cannot set headers on a WebSocket)"),
        Credential("access_token", "cookie", "a JWT, for browsers"),
    )
    status_code = 403

    async def authenticate(self, scope: MutableMapping[str, Any]) -> bool:
        """Whether the handshake may go on (``authenticated``, with the settings of the app serving it)."""
        return authenticated(scope, scope["app"].state.settings)
