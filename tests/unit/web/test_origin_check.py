"""The handshake's Origin check: the rule, ALLOWED_ORIGINS as read from the environment, and the refusal."""

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI
from pydantic import ValidationError

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.main import WS_PATH
from src.settings import Settings, get_settings
from src.web.origin_check import origin_allowed
from tests.support.protocol import CONNECTED

ALLOWED = ["https://partner.example", "http://localhost:3000"]
HOSTS = ["127.0.0.1", "localhost", "[::1]", "app.example", "*.apps.example"]


def handshake(origin: str | None, host: str | None = "app.example:8000", scheme: str = "ws") -> dict[str, object]:
    """A WebSocket scope over ``scheme`` with the given ``Origin`` and ``Host`` headers (None: absent)."""
    headers = [(name, value.encode()) for name, value in ((b"origin", origin), (b"host", host)) if value is not None]
    return {"type": "websocket", "scheme": scheme, "headers": headers}


def test_a_handshake_without_an_origin_header_is_allowed() -> None:
    assert origin_allowed(handshake(None), ALLOWED, HOSTS)


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://app.example:8000", "app.example:8000", "ws"),
        ("https://app.example", "app.example", "wss"),
        ("https://app.example", "app.example:443", "ws"),
        ("HTTP://App.Example:8000", "app.example:8000", "ws"),
        ("http://127.0.0.1:8000", "localhost:8000", "ws"),
        ("http://[::1]:8000", "[::1]:8000", "ws"),
        ("https://one.apps.example", "two.apps.example", "wss"),
    ],
)
def test_an_origin_on_an_allowed_host_and_the_port_the_request_was_addressed_to_is_allowed(
    origin: str, host: str, scheme: str
) -> None:
    assert origin_allowed(handshake(origin, host, scheme), [], HOSTS)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://localhost", True), ("http://localhost:80", True), ("https://localhost", False)],
    ids=["http (80)", "http, port 80 written out", "https (443)"],
)
def test_over_plain_ws_a_host_header_without_a_port_means_port_80(origin: str, allowed: bool) -> None:
    """``Host: localhost`` on a ``ws`` handshake was addressed to port 80, whatever port the origin's scheme implies."""
    assert origin_allowed(handshake(origin, "localhost", "ws"), [], HOSTS) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://app.example", True), ("http://app.example:443", True), ("http://app.example", False)],
    ids=["https (443)", "http on port 443", "http (80)"],
)
def test_over_wss_a_host_header_without_a_port_means_port_443(origin: str, allowed: bool) -> None:
    """``Host: app.example`` on a ``wss`` handshake was addressed to port 443, whatever the origin's scheme implies."""
    assert origin_allowed(handshake(origin, "app.example", "wss"), [], HOSTS) is allowed


def test_a_handshake_whose_scope_names_no_scheme_is_taken_as_plain_ws() -> None:
    """The ASGI spec's default scheme for a WebSocket scope is ``ws``: ``Host: localhost`` means port 80."""
    scope = {"type": "websocket", "headers": [(b"host", b"localhost"), (b"origin", b"https://localhost")]}

    assert not origin_allowed(scope, [], HOSTS)
    assert origin_allowed({**scope, "headers": [(b"host", b"localhost"), (b"origin", b"http://localhost")]}, [], HOSTS)


def test_an_origin_listed_in_allowed_origins_is_allowed_whatever_port_the_request_was_addressed_to() -> None:
    """An ``ALLOWED_ORIGINS`` entry is taken as it is written: the request's scheme and port are not consulted."""
    assert origin_allowed(handshake("https://partner.example", "localhost", "ws"), ALLOWED, HOSTS)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:3001", "localhost:8000"),
        ("http://127.0.0.1:1", "127.0.0.1:8000"),
        ("https://app.example", None),
    ],
    ids=["localhost:3001 for localhost:8000", "127.0.0.1:1 for 127.0.0.1:8000", "no Host header"],
)
def test_a_page_on_another_port_of_an_allowed_host_is_another_origin(origin: str, host: str | None) -> None:
    """An origin on an allowed host but not the request's port is refused, as is one when no ``Host`` names the port."""
    assert not origin_allowed(handshake(origin, host), [], HOSTS)


@pytest.mark.parametrize("origin", ["https://partner.example", "https://partner.example:443", "http://localhost:3000"])
def test_an_origin_listed_in_allowed_origins_is_allowed(origin: str) -> None:
    """An origin in ``ALLOWED_ORIGINS`` is allowed though no allowed host vouches for it, default port or not."""
    assert origin_allowed(handshake(origin), ALLOWED, [])


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://app.example.evil.example:8000",
        "http://evilapp.example",
        "http://apps.example",
        "http://partner.example",
        "https://partner.example:8443",
        "null",
        "not an origin",
    ],
)
def test_an_origin_neither_on_an_allowed_host_nor_listed_is_refused(origin: str) -> None:
    assert not origin_allowed(handshake(origin), ALLOWED, HOSTS)


@pytest.mark.parametrize("host", ["evil.example:8000", "app.example:8000"])
def test_the_origin_is_never_compared_with_the_host_the_request_claims(host: str) -> None:
    """DNS rebinding: a page on evil.example, rebound to this machine, names its own host and origin."""
    assert not origin_allowed(handshake("http://evil.example:8000", host), [], HOSTS)
    assert origin_allowed(handshake("http://app.example:8000", host), [], HOSTS)


def test_a_wildcard_host_vouches_for_no_origin() -> None:
    """``ALLOWED_HOSTS=*`` accepts any Host; browsers' origins must then be listed in ``ALLOWED_ORIGINS``."""
    assert not origin_allowed(handshake("http://evil.example:8000"), [], ["*"])
    assert origin_allowed(handshake("https://partner.example"), ALLOWED, ["*"])


@pytest.mark.parametrize(
    "value", ["https://partner.example, http://localhost:3000", '["https://partner.example/", "http://LOCALHOST:3000"]']
)
def test_allowed_origins_are_read_comma_separated_or_as_a_json_list(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", value)

    assert get_settings().allowed_origins == ALLOWED


def test_allowed_origins_default_to_none_but_the_own_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALLOWED_ORIGINS", raising=False)

    assert get_settings().allowed_origins == []


@pytest.mark.parametrize("value", ["example.com", "https://example.com/path", "ftp://example.com"])
def test_an_allowed_origin_that_is_not_an_origin_is_refused_at_start_up(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", value)

    with pytest.raises(ValidationError, match=r"is not an origin like https://example\.com"):
        get_settings()


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings, serving app.example, with one origin allowed besides the allowed hosts'."""
    return Settings(
        redis_url="redis://unit-tests-use-no-redis:1",
        job_time_scale=0.0,
        allowed_hosts=["app.example"],
        allowed_origins=["https://partner.example"],
    )


async def test_a_handshake_from_a_foreign_origin_is_closed_before_it_is_accepted(app: FastAPI) -> None:
    ws = WebsocketCommunicator(
        app,
        WS_PATH,
        headers=[(b"host", b"app.example"), (b"origin", b"https://evil.example")],
        consumer=BackgroundJobConsumer,
    )

    assert await ws.connect() == (False, 1008)


@pytest.mark.parametrize("origin", [b"https://partner.example", b"http://app.example"])
async def test_a_handshake_from_an_allowed_origin_is_accepted(origin: bytes, app: FastAPI) -> None:
    ws = WebsocketCommunicator(
        app, WS_PATH, headers=[(b"host", b"app.example"), (b"origin", origin)], consumer=BackgroundJobConsumer
    )

    assert await ws.connect() == (True, None)
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    await ws.disconnect()


@pytest.mark.parametrize("origin", ["https://evilapps.example", "https://apps.example"])
def test_a_subdomain_wildcard_vouches_for_no_host_that_merely_ends_with_the_domains_name(origin: str) -> None:
    """``*.apps.example`` covers hosts under ``apps.example``, not ``evilapps.example`` nor the bare domain (over
    ``wss``, where the origin's port is the one the request was addressed to: only the host decides)."""
    assert not origin_allowed(handshake(origin, origin.removeprefix("https://"), "wss"), [], ["*.apps.example"])
    assert origin_allowed(handshake("https://one.apps.example", "one.apps.example", "wss"), [], ["*.apps.example"])


def test_a_scope_without_a_headers_list_names_no_origin_and_is_allowed() -> None:
    assert origin_allowed({"type": "websocket"}, ALLOWED, HOSTS)


@pytest.mark.parametrize("host", ["app.example:8000/x", "u@app.example:8000", "app.example:port"])
def test_an_origin_is_refused_when_the_host_header_names_no_host_and_port(host: str) -> None:
    """The port the request was addressed to cannot be read from such a ``Host``: the origin is not vouched for."""
    assert not origin_allowed(handshake("http://app.example:8000", host), [], HOSTS)
