"""Optional token authentication of the socket: a JWT (PyJWT) through chanx's authenticator hook.

Off unless ``AUTH_JWT_SECRET`` (HS256) or ``AUTH_JWT_PUBLIC_KEY`` (RS256, ES256) is set. A handshake then carries
a valid, unexpired token — in an ``Authorization: Bearer`` header, or, since a browser cannot set headers on a
WebSocket, a ``token`` query parameter or an ``access_token`` cookie — whose ``sub`` claim names the user.
"""

import warnings
from collections.abc import MutableMapping
from typing import Any, ClassVar

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
#: HS256 secrets shorter than this make PyJWT warn on every decode (RFC 7518, 3.2).
SHORT_SECRET = 32
#: The algorithms each kind of key verifies (never a public key as an HMAC secret).
SECRET_ALGORITHMS = ["HS256"]
PUBLIC_KEY_ALGORITHMS = ["RS256", "ES256"]


class InvalidToken(Exception):
    """The handshake's token is missing or not valid; the message says why (for the log, not the client)."""


def token_from(scope: MutableMapping[str, Any]) -> str | None:
    """The handshake's token: an ``Authorization: Bearer`` header, else a ``token`` query parameter, else an
    ``access_token`` cookie."""
    connection = HTTPConnection(scope)
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.query_params.get("token") or connection.cookies.get("access_token") or None


def user_of(token: str | None, settings: Settings) -> str:
    """The user a token names (its ``sub``), once its signature, expiry and (when set) audience and issuer hold."""
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
                options={"require": ["sub"]},
            )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(f"{type(exc).__name__}: {exc}") from None
    user = claims["sub"]
    if not isinstance(user, str) or not user:
        raise InvalidToken("the token's sub names no user")
    return user


class JwtAuthenticator(BaseAuthenticator):
    """chanx's authenticator hook: with authentication on, the scope's token must name a user (``scope["user"]``).

    The consumer runs it before accepting the handshake, so a refused one gets HTTP 403; chanx runs it again
    after accepting, when it finds the user already there.
    """

    credentials: ClassVar[tuple[Credential, ...]] = (
        Credential("Authorization", "header", "`Bearer <JWT>`, when AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY is set"),
        Credential("token", "query", "a JWT, for browsers (which cannot set headers on a WebSocket)"),
        Credential("access_token", "cookie", "a JWT, for browsers"),
    )
    status_code = 403

    async def authenticate(self, scope: MutableMapping[str, Any]) -> bool:
        """Whether the handshake may go on: authentication is off, or its token names a user."""
        settings: Settings = scope["app"].state.settings
        if not settings.auth_enabled or USER in scope:
            return True
        try:
            scope[USER] = user_of(token_from(scope), settings)
        except InvalidToken as exc:
            logger.info("refusing a WebSocket: its token is not valid", reason=str(exc))
            return False
        return True
