"""The app ``create_app`` builds: its HTTP side and its socket handshake (the page, the AsyncAPI docs, the connected
frame), the parts it is built with, whose consumer app serves each socket (``Parts.consumer_app``: the stock parts'
``as_asgi()``, or the fast path's own loop), the background-jobs socket going straight to its consumer past the
app's middleware while everything else does not, and the start-up warning of a short ``AUTH_JWT_SECRET`` (under 32
bytes as encoded in UTF-8, and only then)."""

import logging
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from arq import ArqRedis
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.layers import channel_layers
from fastapi import FastAPI

from src.fastpath import FastPath
from src.layers import JOBS_LAYER_ALIAS
from src.main import WS_PATH, SocketFirst, create_app, warn_of_a_short_secret
from src.parts import StockParts
from src.settings import Settings
from src.web.host_allowlist import HostAllowlist
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, PING, PONG


async def test_connecting_sends_the_connected_status(app: FastAPI) -> None:
    """A handshake is accepted and gets exactly one frame: ``job_status`` ``connected`` with the seed's greeting."""
    ws = socket_on(app)

    connected, _ = await ws.connect()

    assert connected
    assert await ws.receive_json_from(timeout=1) == {
        "action": "job_status",
        "payload": {"status": "connected", "message": "🔄 Background Job Processor: Connected!"},
    }
    assert await ws.receive_nothing()
    await ws.disconnect()


async def test_index_serves_the_background_jobs_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Background Jobs" in response.text


async def test_asyncapi_json_documents_the_background_jobs_channel_and_its_messages(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/asyncapi.json")

    assert response.status_code == 200
    spec = response.json()
    assert spec["asyncapi"].startswith("3.")
    (channel,) = spec["channels"].values()
    assert channel["address"] == WS_PATH
    assert set(spec["components"]["messages"]) == {
        "job_message",
        "job_lookup_message",
        "job_watch_message",
        "job_unwatch_message",
        "cancel_message",
        "job_status_message",
        "error_message",
        "ping_message",
        "pong_message",
    }
    assert {"handle_job", "handle_job_lookup", "handle_cancel", "handle_ping", "handle_job_result"} <= set(
        spec["operations"]
    )


async def test_asyncapi_page_renders_the_spec(http: httpx.AsyncClient) -> None:
    response = await http.get("/asyncapi")

    assert response.status_code == 200
    assert "AsyncApiStandalone.render" in response.text
    assert "background_jobs" in response.text


async def test_the_pages_script_and_styles_are_served_under_static(app: FastAPI, http: httpx.AsyncClient) -> None:
    script, styles = await http.get("/static/app.js"), await http.get("/static/style.css")

    assert (script.status_code, styles.status_code) == (200, 200)
    assert styles.headers["content-type"].startswith("text/css")
    assert app.url_path_for("static", path="app.js") == "/static/app.js"


def test_the_app_is_built_for_the_settings_it_is_given_with_a_job_queue_of_its_own(settings: Settings) -> None:
    app = create_app(settings)

    assert app.state.settings is settings
    assert isinstance(app.state.jobs, JobQueue)
    assert app.state.jobs.settings is settings


def test_without_settings_the_app_reads_them_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_NAME", "q:from-env")

    app = create_app()

    assert app.state.settings.queue_name == app.state.jobs.settings.queue_name == "q:from-env"


async def test_the_apps_lifespan_opens_the_job_queue_and_the_layer_and_closes_both(settings: Settings) -> None:
    channel_layers.clear()
    app = create_app(settings)

    async with app.router.lifespan_context(app):
        assert app.state.jobs.pool is not None
        assert channel_layers.list_aliases() == [JOBS_LAYER_ALIAS]

    assert channel_layers.list_aliases() == []
    with pytest.raises(RuntimeError):
        _ = app.state.jobs.pool


@pytest.mark.parametrize("fast_path", [True, False], ids=["FAST_PATH on", "FAST_PATH off"])
def test_the_app_is_built_with_the_parts_the_seam_chooses_as_the_settings_say(fast_path: bool) -> None:
    app = create_app(Settings(fast_path=fast_path))

    assert isinstance(app.state.parts, FastPath if fast_path else StockParts)
    assert app.state.jobs.parts is app.state.parts


# --- each socket through the consumer app of the app's parts ---------------------------------------------------


class ServingSpy(StockParts):
    """The stock parts, noting each socket their consumer app serves."""

    served: list[str]

    def consumer_app(self, consumer_class: type[AsyncConsumer]) -> Any:
        self.served = []
        stock = super().consumer_app(consumer_class)

        async def noting(scope: Any, receive: Any, send: Any) -> None:
            self.served.append(scope["path"])
            await stock(scope, receive, send)

        return noting


async def test_each_socket_is_served_by_the_consumer_app_of_the_apps_parts(settings: Settings, pool: ArqRedis) -> None:
    spy = ServingSpy(settings)
    app = create_app(settings, jobs=JobQueue(settings, spy, pool=pool))

    ws = socket_on(app)
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    await ws.send_json_to(PING)
    assert await ws.receive_json_from(timeout=1) == PONG
    await ws.disconnect()

    assert spy.served == ["/ws/background_jobs"]


# --- the socket first, past the middleware ---------------------------------------------------------------------


class Recorder:
    """An ASGI app that notes the scopes it is called with."""

    def __init__(self) -> None:
        self.scopes: list[MutableMapping[str, Any]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)


async def nothing() -> MutableMapping[str, Any]:
    return {}


async def drop(message: MutableMapping[str, Any]) -> None:
    """Send nowhere."""


@pytest.mark.parametrize(
    ("kind", "path", "to_consumer"),
    [("websocket", WS_PATH, True), ("websocket", "/ws/other", False), ("http", WS_PATH, False), ("http", "/", False)],
    ids=["the background-jobs socket", "a socket on another path", "HTTP on the socket's path", "HTTP on /"],
)
async def test_only_the_background_jobs_socket_goes_straight_to_the_consumer(
    kind: str, path: str, to_consumer: bool
) -> None:
    app, consumer = Recorder(), Recorder()
    shortcut = SocketFirst(app, path=WS_PATH, endpoint=consumer)
    scope: MutableMapping[str, Any] = {"type": kind, "path": path}

    await shortcut(scope, nothing, drop)

    assert (consumer.scopes, app.scopes) == (([scope], []) if to_consumer else ([], [scope]))


def test_the_app_checks_the_host_first_then_takes_the_shortcut_for_its_socket(settings: Settings) -> None:
    """The outermost middleware is the host allowlist, then the consumer's shortcut for ``/ws/background_jobs``."""
    app: FastAPI = create_app(settings)

    outermost: list[object] = [middleware.cls for middleware in app.user_middleware[:2]]
    assert outermost == [HostAllowlist, SocketFirst]
    assert app.user_middleware[1].kwargs["path"] == WS_PATH


# --- the warning of a short secret -----------------------------------------------------------------------------

WARNING = "AUTH_JWT_SECRET is shorter than 32 bytes: tokens signed with it are easier to forge"


def warnings_for(secret: str | None, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages ``warn_of_a_short_secret`` logs for settings with ``secret``."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        warn_of_a_short_secret(Settings(auth_jwt_secret=secret))
    return [record.getMessage() for record in caplog.records if "AUTH_JWT_SECRET" in record.getMessage()]


@pytest.mark.parametrize(
    ("secret", "warned"),
    [
        ("s" * 31, True),
        ("s" * 32, False),
        ("s" * 33, False),
        ("é" * 15 + "s", True),  # 31 bytes in 16 characters
        ("é" * 16, False),  # 32 bytes in 16 characters
        (None, False),
    ],
    ids=["31 bytes", "32 bytes", "33 bytes", "31 bytes of 16 characters", "32 bytes of 16 characters", "no secret"],
)
def test_a_secret_is_warned_of_only_when_it_is_shorter_than_32_bytes(
    secret: str | None, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    messages = warnings_for(secret, caplog)

    assert len(messages) == (1 if warned else 0)
    assert all(message.endswith(WARNING) for message in messages)
