"""The app's HTTP side and its socket handshake: the page, the AsyncAPI docs, the connected frame."""

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fakeredis import FakeServer
from fast_channels.layers import channel_layers
from fastapi import FastAPI

from src.fastpath import FastPath
from src.layers import JOBS_LAYER_ALIAS
from src.main import WS_PATH, create_app
from src.parts import StockParts
from src.settings import Settings
from src.web.gate import UNAVAILABLE_TEXT, close_with_1013
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


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


async def test_a_handshake_while_redis_is_unreachable_is_closed_with_1013_try_again_later(
    app: FastAPI, redis_server: FakeServer
) -> None:
    """With Redis unreachable, a handshake is accepted, then closed with 1013 saying the job queue is unavailable."""
    redis_server.connected = False
    ws = socket_on(app)

    connected, _ = await ws.connect()

    assert connected  # accepted, to say why in the close frame
    assert await ws.receive_output(timeout=1) == {
        "type": "websocket.close",
        "code": 1013,
        "reason": "The job queue is unavailable; try again shortly.",
    }


async def test_a_handshake_refused_for_an_unreachable_redis_sends_nothing_if_the_client_already_left() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await close_with_1013(receive, send, UNAVAILABLE_TEXT)

    assert sent == []


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
