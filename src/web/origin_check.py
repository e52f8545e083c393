"""The handshake's Origin check: browsers may open the socket only from an allowed host's page or an allowed origin.

The Origin's host is compared with ``ALLOWED_HOSTS``, never with the host the request's ``Host`` header names,
which a page on a rebound domain chooses.
"""

from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from src.settings import DEFAULT_PORTS, normalized_origin


def header(scope: Any, name: bytes) -> str | None:
    """The value of the request header ``name`` (lower-case), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def host_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` is the allowed host ``pattern``, or under its ``*.domain`` (``*`` alone vouches for none)."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def port_of(origin: str) -> int:
    """The port a normalised origin names, or its scheme's default (``settings.DEFAULT_PORTS``)."""
    parts = urlsplit(origin)
    return DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port


def origin_allowed(scope: Any, allowed_origins: Collection[str], allowed_hosts: Collection[str]) -> bool:
    """Whether the handshake may go on: no ``Origin`` (not a browser), an allowed origin, or an origin on an allowed
    host and on the port the request was addressed to.

    ``allowed_origins`` are normalised (``settings.normalized_origin``); an ``Origin`` that is not one
    (``null``, say) is refused. Only the port is read from the ``Host`` header (whose host the allowlist vouched
    for): a page on another port of an allowed host is another origin. A ``Host`` without a port means the
    default port of the handshake's own scheme (``ws``: 80, ``wss``: 443), not of the origin's.
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
    host_header = header(scope, b"host")
    if host_header is None:
        return False
    try:
        addressed = normalized_origin(f"{scope.get('scheme', 'ws')}://{host_header}")
    except ValueError:
        return False
    if port_of(origin) != port_of(addressed):
        return False
    hostname = urlsplit(origin).hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname  # as a Host header names an IPv6 address
    return any(host_matches(host, pattern) for pattern in allowed_hosts)
