"""The app's HTTP side and its socket handshake: the page, the AsyncAPI docs, the connected frame."""

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.main import WS_PATH


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_connecting_sends_the_connected_status(app: FastAPI) -> None:
    ws = WebsocketCommunicator(app, WS_PATH, consumer=BackgroundJobConsumer)

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
