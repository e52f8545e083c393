"""With the fast path off (``FAST_PATH=false``), the consumer serves its socket through fast-channels' stock loop,
and the protocol is the same."""

from collections.abc import AsyncIterator

import pytest_asyncio
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.main import create_app
from src.parts import StockParts
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, PING, PONG, job_status


@pytest_asyncio.fixture
async def stock_ws(settings: Settings, pool: ArqRedis) -> AsyncIterator[WebsocketCommunicator]:
    """A socket on the app built without the fast path, its connected frame already read."""
    stock = settings.model_copy(update={"fast_path": False})
    communicator = socket_on(create_app(stock, jobs=JobQueue(stock, StockParts(stock), pool=pool)))
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from(timeout=1) == CONNECTED
    yield communicator
    await communicator.disconnect()


async def test_without_the_fast_path_a_socket_answers_pings_and_relays_its_jobs_outcome(
    stock_ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    await stock_ws.send_json_to(PING)
    assert await stock_ws.receive_json_from(timeout=1) == PONG

    await stock_ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    statuses = [(await stock_ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(2)]
    assert statuses == ["queuing", "queued"]
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)

    assert await stock_ws.receive_json_from(timeout=1) == job_status("result", job_id, "translate", "🌍 done")
