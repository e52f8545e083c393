"""Requests must name an allowed host (ALLOWED_HOSTS): HTTP gets 400, a WebSocket handshake is closed before it is
accepted (a real server answers it with 403); the defaults, the wildcards, and the setting as read from the
environment. An allowed ``www.`` host does not stand for its bare domain (Starlette's ``www_redirect`` is off), and
the rule decides on the handshake's scope alone."""

from collections.abc import MutableMapping
from typing import Any

import pytest
from arq import ArqRedis
from fastapi import FastAPI
from pydantic import ValidationError

from src.settings import Settings, get_settings
from src.web.host_allowlist import HostAllowlist, nothing_to_receive
from tests.support.protocol import CONNECTED
from tests.support.who_may_connect import Answer, app_on, http_get, socket_with

INVALID_HOST = Answer(400, b"Invalid host header")
REFUSED_BEFORE_ACCEPT = (False, 1008)
ACCEPTED = (True, None)

WILDCARD_MESSAGE = r"a wildcard host is `\*` or like `\*\.example\.com`"


def host(value: str) -> tuple[bytes, bytes]:
    return (b"host", value.encode())


async def status_of_index(app: FastAPI, *headers: tuple[bytes, bytes]) -> int:
    return (await http_get(app, "/", headers)).status


async def handshake(app: FastAPI, *headers: tuple[bytes, bytes]) -> tuple[bool, int | str | None]:
    """Open a socket with ``headers``; on acceptance, check the connected frame and close it again."""
    ws = socket_with(app, headers)
    result = await ws.connect()
    if result[0]:
        assert await ws.receive_json_from(timeout=1) == CONNECTED
        await ws.disconnect()
    else:
        await ws.wait()  # the app has finished with the refused socket, and raised nothing
    return result


def with_hosts(settings: Settings, pool: ArqRedis, *allowed: str) -> FastAPI:
    return app_on(settings.model_copy(update={"allowed_hosts": list(allowed)}), pool)


# --- HTTP ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "evil.example:8000",
        "evil.example",
        "127.0.0.2:8000",
        "localhost.evil.example",
        "127.0.0.1:8000/x",
        "u@127.0.0.1",
    ],
)
async def test_an_http_request_naming_a_host_not_allowed_gets_400_invalid_host_header(app: FastAPI, value: str) -> None:
    assert await http_get(app, "/auth.json", [host(value)]) == INVALID_HOST


@pytest.mark.parametrize(
    "value", ["127.0.0.1:8000", "127.0.0.1", "localhost:8000", "LocalHost:3000", "[::1]:8000", "[::1]"]
)
async def test_an_http_request_naming_an_allowed_host_is_served(app: FastAPI, value: str) -> None:
    assert await http_get(app, "/auth.json", [host(value)]) == Answer(200, b'{"token_required":false}')


async def test_an_http_request_without_a_host_header_gets_400(app: FastAPI) -> None:
    assert await http_get(app, "/auth.json", []) == INVALID_HOST


@pytest.mark.parametrize("path", ["/", "/readyz", "/metrics", "/healthz"])
@pytest.mark.parametrize(
    "second", ["evil.example", "127.0.0.1:8000"], ids=["then a foreign host", "then the same host again"]
)
async def test_an_http_request_with_two_host_headers_gets_400_whatever_its_path(
    app: FastAPI, path: str, second: str
) -> None:
    """Two ``Host`` headers make a request malformed (RFC 9112 §3.2), the probes' paths included."""
    assert await http_get(app, path, [host("127.0.0.1:8000"), host(second)]) == INVALID_HOST


async def test_a_request_whose_one_host_header_is_allowed_is_served_among_other_headers(app: FastAPI) -> None:
    """Only ``Host`` headers are counted: other headers, repeated or not, leave one allowed host served."""
    headers = [(b"accept", b"*/*"), host("127.0.0.1:8000"), (b"x-forwarded-for", b"a"), (b"x-forwarded-for", b"b")]

    assert await http_get(app, "/auth.json", headers) == Answer(200, b'{"token_required":false}')


async def test_the_apps_liveness_probe_answers_a_probe_naming_the_servers_address(app: FastAPI) -> None:
    """``/healthz`` (and ``/readyz``) answer whatever host a probe names; the page does not."""
    probe = [host("10.0.0.7:8000")]

    assert await http_get(app, "/healthz", probe) == Answer(200, b'{"status":"ok"}')
    assert await http_get(app, "/", probe) == INVALID_HOST


async def test_the_apps_metrics_answer_a_scraper_naming_the_servers_address(app: FastAPI) -> None:
    """Prometheus scrapes a server by its address (a pod's IP): ``/metrics`` answers whatever host it names."""
    answer = await http_get(app, "/metrics", [host("10.0.0.7:8000")])

    assert answer.status == 200
    assert b"# TYPE background_jobs_sockets_open gauge" in answer.body


# --- WebSocket handshakes --------------------------------------------------------------------------------------


async def test_a_dns_rebinding_handshake_is_closed_before_it_is_accepted(app: FastAPI) -> None:
    """A page on evil.example whose name was rebound to 127.0.0.1: its browser names its own host and origin."""
    result = await handshake(app, host("evil.example:8000"), (b"origin", b"http://evil.example:8000"))

    assert result == REFUSED_BEFORE_ACCEPT


async def test_a_handshake_naming_a_host_not_allowed_is_refused_even_without_an_origin(app: FastAPI) -> None:
    assert await handshake(app, host("evil.example:8000")) == REFUSED_BEFORE_ACCEPT


async def test_a_handshake_naming_a_host_not_allowed_is_refused_even_from_an_allowed_origin(
    settings: Settings, pool: ArqRedis
) -> None:
    app = app_on(settings.model_copy(update={"allowed_origins": ["http://evil.example:8000"]}), pool)

    result = await handshake(app, host("evil.example:8000"), (b"origin", b"http://evil.example:8000"))

    assert result == REFUSED_BEFORE_ACCEPT


@pytest.mark.parametrize(
    "second", ["evil.example", "127.0.0.1:8000"], ids=["then a foreign host", "then the same host again"]
)
async def test_a_handshake_with_two_host_headers_is_closed_before_it_is_accepted(app: FastAPI, second: str) -> None:
    assert await handshake(app, host("127.0.0.1:8000"), host(second)) == REFUSED_BEFORE_ACCEPT


async def test_a_handshake_without_a_host_header_is_closed_before_it_is_accepted(app: FastAPI) -> None:
    assert await handshake(app) == REFUSED_BEFORE_ACCEPT


@pytest.mark.parametrize("value", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
async def test_a_handshake_naming_an_allowed_host_gets_the_connected_frame(app: FastAPI, value: str) -> None:
    assert await handshake(app, host(value), (b"origin", f"http://{value}".encode())) == ACCEPTED


# --- ALLOWED_HOSTS patterns ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("api.example.com", 200),
        ("a.b.example.com:8443", 200),
        ("API.Example.COM", 200),
        ("example.com", 400),
        ("evilexample.com", 400),
        ("example.com.evil.net", 400),
        ("127.0.0.1:8000", 400),  # the defaults are not added to a list that is set
    ],
)
async def test_a_subdomain_wildcard_allows_the_domains_subdomains_only(
    settings: Settings, pool: ArqRedis, value: str, status: int
) -> None:
    app = with_hosts(settings, pool, "*.example.com")

    assert await status_of_index(app, host(value)) == status


@pytest.mark.parametrize(
    ("value", "result"),
    [("api.example.com", ACCEPTED), ("example.com", REFUSED_BEFORE_ACCEPT)],
    ids=["a subdomain: accepted", "the domain itself: refused"],
)
async def test_a_subdomain_wildcard_decides_handshakes_as_it_decides_requests(
    settings: Settings, pool: ArqRedis, value: str, result: tuple[bool, int | None]
) -> None:
    app = with_hosts(settings, pool, "*.example.com")

    assert await handshake(app, host(value)) == result


@pytest.mark.parametrize("value", ["evil.example:8000", "203.0.113.7", "anything.at.all"])
async def test_an_explicit_star_allows_requests_naming_any_host(settings: Settings, pool: ArqRedis, value: str) -> None:
    app = with_hosts(settings, pool, "*")

    assert await status_of_index(app, host(value)) == 200


async def test_an_explicit_star_allows_a_handshake_naming_any_host(settings: Settings, pool: ArqRedis) -> None:
    app = with_hosts(settings, pool, "*")

    assert await handshake(app, host("evil.example:8000")) == ACCEPTED


async def test_a_listed_host_is_allowed_and_matched_without_regard_to_case(settings: Settings, pool: ArqRedis) -> None:
    app = app_on(settings.model_copy(update={"allowed_hosts": ["jobs.example"]}), pool)

    assert await status_of_index(app, host("JOBS.example:443")) == 200
    assert await status_of_index(app, host("localhost:8000")) == 400


# --- defaults and the setting ----------------------------------------------------------------------------------


def test_by_default_the_loopback_names_and_host_are_allowed() -> None:
    settings = Settings(allowed_hosts=[], host="0.0.0.0")

    assert settings.trusted_hosts == ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"]


def test_by_default_host_is_allowed_lower_cased_and_not_listed_twice() -> None:
    assert Settings(allowed_hosts=[], host="LOCALHOST").trusted_hosts == ["127.0.0.1", "localhost", "[::1]"]


def test_a_set_allowed_hosts_replaces_the_defaults() -> None:
    assert Settings(allowed_hosts=["jobs.example"], host="0.0.0.0").trusted_hosts == ["jobs.example"]


async def test_the_app_serves_requests_naming_its_host_setting(settings: Settings, pool: ArqRedis) -> None:
    app = app_on(settings.model_copy(update={"host": "jobs.internal"}), pool)

    assert await status_of_index(app, host("jobs.internal:8000")) == 200
    assert await status_of_index(app, host("other.internal:8000")) == 400


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jobs.Example, *.Apps.Example ,localhost", ["jobs.example", "*.apps.example", "localhost"]),
        ('["Jobs.Example", "*.apps.example", "localhost"]', ["jobs.example", "*.apps.example", "localhost"]),
        ("*", ["*"]),
        ("", []),
    ],
    ids=["comma-separated, spaced, mixed case", "a JSON list", "a star", "empty"],
)
def test_allowed_hosts_are_read_comma_separated_or_as_a_json_list_lower_cased(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", value)

    assert get_settings().allowed_hosts == expected


@pytest.mark.parametrize(
    "value", ["*example.com", "exa*mple.com", "api.*.example.com", "**.example.com", "example.*", "*x"]
)
def test_a_wildcard_other_than_star_or_star_dot_domain_fails_validation(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", f"localhost,{value}")

    with pytest.raises(ValidationError, match=WILDCARD_MESSAGE):
        get_settings()


def test_a_bad_wildcard_passed_to_the_settings_fails_validation_too() -> None:
    with pytest.raises(ValidationError, match=WILDCARD_MESSAGE):
        Settings(allowed_hosts=["*example.com"])


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_the_health_probes_answer_whatever_host_a_probe_names(path: str) -> None:
    """A load balancer's or an orchestrator's probe names the server by its address (``Host: 10.0.0.7:8000``)."""
    app = HostAllowlist(ok_app, allowed_hosts=["app.example"], probes=["/healthz", "/readyz"])

    assert (await http_get(app, path, [(b"host", b"10.0.0.7:8000")])).status == 200


async def test_every_other_path_still_needs_an_allowed_host() -> None:
    app = HostAllowlist(ok_app, allowed_hosts=["app.example"], probes=["/healthz", "/readyz"])

    assert [
        (await http_get(app, path, [(b"host", b"10.0.0.7:8000")])).status for path in ("/", "/auth.json", "/healthz/x")
    ] == [
        400,
        400,
        400,
    ]


async def ok_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """An app that answers 200 to every request."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


# --- a www. host and its bare domain ---------------------------------------------------------------------------


async def test_a_request_naming_the_bare_domain_of_an_allowed_www_host_gets_400_not_a_redirect(
    settings: Settings, pool: ArqRedis
) -> None:
    app = app_on(settings.model_copy(update={"allowed_hosts": ["www.example.com"]}), pool)

    assert await http_get(app, "/", [(b"host", b"example.com")]) == INVALID_HOST


# --- the scope alone -------------------------------------------------------------------------------------------


async def test_the_receive_handed_to_the_host_rule_fails_loudly_if_read() -> None:
    """Should Starlette's rule ever read a message, the handshake fails instead of losing the client's frame."""
    with pytest.raises(RuntimeError, match=r"^the host rule reads no messages$"):
        await nothing_to_receive()
