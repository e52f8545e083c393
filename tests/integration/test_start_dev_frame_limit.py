"""``start_dev``'s uvicorn runs with ``--ws-max-size WS_MAX_SIZE``: it closes a socket that sends a bigger frame with
1009 (Message Too Big) before the app reads the frame, and the server goes on serving the other sockets."""

import contextlib
import sys
from collections.abc import Iterator

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError

from tests.integration.test_start_dev import BANNER_END, READY
from tests.support.processes import ManagedProcess, app_env, wait_for_output
from tests.support.protocol import CONNECTED, PING, PONG, PROMPT, is_final, job
from tests.support.redis_provider import free_port
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

#: A limit well under uvicorn's own (16 MiB) and the default (64 KiB), so only ``--ws-max-size`` can explain a close.
WS_MAX_SIZE = 4096
#: RFC 6455's close code for a message too big to process.
MESSAGE_TOO_BIG = 1009
#: How the app closes a socket whose frame it read and found too big (``BackgroundJobConsumer.receive``).
APPS_OWN_CLOSE_REASON = f"frame over {WS_MAX_SIZE} bytes"
APPS_OWN_LOG_LINE = "closing a socket that sent a frame over WS_MAX_SIZE"


@pytest.fixture
def port() -> int:
    """The port start_dev serves on."""
    return free_port()


@pytest.fixture
def start_dev(redis_url: str, port: int) -> Iterator[ManagedProcess]:
    """start_dev on ``port`` with ``WS_MAX_SIZE`` set, stopped (with its children) after the test."""
    env = app_env(redis_url, port=str(port), job_time_scale="0", ws_max_size=str(WS_MAX_SIZE))
    process = ManagedProcess("start_dev", [sys.executable, "src/start_dev.py"], env)
    process.start()
    yield process
    process.stop(timeout=20)


async def close_of(ws: JobSocket, timeout: float) -> WebSocketDisconnect:
    """How the server closed ``ws`` (fails if a frame comes instead, or nothing within ``timeout``)."""
    with pytest.raises(WebSocketDisconnect) as closed:
        await ws.receive(timeout=timeout)
    return closed.value


async def test_start_devs_uvicorn_closes_a_frame_over_ws_max_size_with_1009_and_serves_other_sockets_on(
    start_dev: ManagedProcess, port: int, http: httpx.AsyncClient
) -> None:
    await wait_for_output(start_dev, BANNER_END, timeout=READY)
    url = f"ws://127.0.0.1:{port}/ws/background_jobs"

    async with JobSocket(http, url) as bystander, JobSocket(http, url) as sender:
        assert await bystander.receive(timeout=PROMPT) == CONNECTED
        assert await sender.receive(timeout=PROMPT) == CONNECTED
        # The server may close the socket before the whole frame is written: the write then fails, and the close
        # frame the server sent first is still there to receive.
        with contextlib.suppress(WebSocketNetworkError):
            await sender.send_text("x" * (WS_MAX_SIZE + 1))
        closed = await close_of(sender, timeout=PROMPT)

        await bystander.send(PING)
        bystanders_pong = await bystander.receive(timeout=PROMPT)

    async with JobSocket(http, url) as fresh:
        assert await fresh.receive(timeout=PROMPT) == CONNECTED
        await fresh.send(job("translate", "hello"))
        job_id = (await fresh.receive(timeout=PROMPT))["payload"]["job_id"]
        final = (await fresh.receive_until(is_final(job_id), timeout=PROMPT))[-1]

    assert closed.code == MESSAGE_TOO_BIG
    assert closed.reason != APPS_OWN_CLOSE_REASON  # uvicorn refused the frame; the app never read it
    assert APPS_OWN_LOG_LINE not in start_dev.log()
    assert bystanders_pong == PONG
    assert final["payload"]["message"] == "🌍 Translated: 'hello' → 'hola'"
