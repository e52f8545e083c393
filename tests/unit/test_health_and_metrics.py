"""``/healthz``, ``/readyz`` and ``/metrics`` in-process, on fakeredis; and what the consumer counts."""

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.settings import Settings

HEARTBEAT = "arq:queue:health-check"  # ARQ's health-check key for the default queue


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition: (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_healthz_answers_200_whatever_redis_does(http: httpx.AsyncClient, redis_server: FakeServer) -> None:
    redis_server.connected = False

    response = await http.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_200_when_redis_answers_and_a_worker_has_checked_in(
    http: httpx.AsyncClient, pool: ArqRedis
) -> None:
    await pool.set(HEARTBEAT, b"j_complete=0", px=6000)

    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok", "worker": "ok"}}


async def test_readyz_is_503_naming_the_missing_worker_heartbeat(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"redis": "ok", "worker": "no worker has checked in within the last 6s"},
    }


async def test_readyz_is_503_while_redis_is_down_and_200_again_once_it_is_back(
    http: httpx.AsyncClient, pool: ArqRedis, redis_server: FakeServer
) -> None:
    await pool.set(HEARTBEAT, b"j_complete=0")
    redis_server.connected = False

    down = await http.get("/readyz")
    redis_server.connected = True
    back = await http.get("/readyz")

    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["checks"]["redis"] == "Redis is unavailable"
    assert (await http.get("/healthz")).status_code == 200
    assert back.status_code == 200


async def test_metrics_count_sockets_frames_jobs_refusals_and_outcomes(
    app: FastAPI, http: httpx.AsyncClient, ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    await ws.send_json_to({"action": "ping"})
    await ws.receive_json_from(timeout=1)
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    await ws.receive_json_from(timeout=1)
    await ws.receive_json_from(timeout=1)
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "x" * 10_001}})
    await ws.receive_json_from(timeout=1)
    await ws.send_to(text_data="not json")
    await ws.receive_json_from(timeout=1)
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)
    await ws.receive_json_from(timeout=1)

    response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("background_jobs_sockets_open", ())] == 1
    assert got[("background_jobs_frames_received_total", (("action", "ping"),))] == 1
    assert got[("background_jobs_frames_received_total", (("action", "job"),))] == 2
    assert got[("background_jobs_frames_received_total", (("action", "invalid"),))] == 1
    assert got[("background_jobs_jobs_queued_total", (("job_type", "translate"),))] == 1
    assert got[("background_jobs_jobs_refused_total", (("reason", "content_too_long"),))] == 1
    assert got[("background_jobs_outcomes_total", (("job_type", "translate"), ("status", "result")))] == 1
    assert got[("background_jobs_outcome_latency_seconds_count", (("job_type", "translate"),))] == 1
    assert got[("background_jobs_enqueue_latency_seconds_count", ())] == 1


async def test_a_job_refused_because_redis_is_down_is_counted_as_queue_unavailable(
    http: httpx.AsyncClient, ws: WebsocketCommunicator, redis_server: FakeServer
) -> None:
    redis_server.connected = False
    await ws.send_json_to({"action": "job", "payload": {"type": "default", "content": "hi"}})
    await ws.receive_json_from(timeout=2)
    await ws.receive_json_from(timeout=2)

    got = samples((await http.get("/metrics")).text)

    assert got[("background_jobs_jobs_refused_total", (("reason", "queue_unavailable"),))] == 1
    assert ("background_jobs_jobs_queued_total", (("job_type", "default"),)) not in got
