"""The handshake's Origin check: browsers may open the socket only from the app's own host or an allowed origin."""

from collections.abc import Collection
from typing import Any

from src.settings import normalized_origin


def header(scope: Any, name: bytes) -> str | None:
    """The value of the request header ``name`` (lower-case), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def origin_allowed(scope: Any, allowed_origins: Collection[str]) -> bool:
    """Whether the handshake may go on: no ``Origin`` (not a browser), the request's own host, or an allowed origin.

    ``allowed_origins`` are normalised (``settings.normalized_origin``); an ``Origin`` that is not one
    (``null``, say) is refused.
    """
    origin = header(scope, b"origin")
    if origin is None:
        return True
    try:
        origin = normalized_origin(origin)
    except ValueError:
        return False
    if origin in allowed_origins:
        return True
    host = header(scope, b"host")
    if host is None:
        return False
    scheme = origin.partition("://")[0]
    try:
        return normalized_origin(f"{scheme}://{host}") == origin
    except ValueError:
        return False
