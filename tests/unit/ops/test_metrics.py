"""The web server's metrics: as Prometheus shows them (each family's name, type and help, labels and buckets), as
``/metrics`` serves them in-process on fakeredis after what the consumer counts, and the outcome latency the socket
observes: the time from the job's frame to its outcome's, within the time the test took from sending the one to
reading the other (read from the same loop clock)."""

import asyncio

import httpx
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobResult
from src.main import create_app
from src.ops.metrics import WebMetrics
from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.held_job_queue import HeldJobQueue
from tests.support.metric_samples import metric_samples, samples
from tests.support.protocol import CONNECTED


def a_fresh_servers_metrics() -> WebMetrics:
    """A server's metrics holding two sockets, nothing counted yet."""
    return WebMetrics(sockets_open=lambda: 2)


def test_each_metric_is_named_by_prometheus_conventions_with_its_type_and_help() -> None:
    metrics = a_fresh_servers_metrics()

    described = {family.name: (family.type, family.documentation) for family in metrics.registry.collect()}

    assert described == {
        "background_jobs_sockets_open": ("gauge", "WebSocket connections this server holds open"),
        "background_jobs_sockets_refused": (
            "counter",
            "WebSocket handshakes refused, by reason (host, origin, token, capacity, client_sockets, "
            "queue_unavailable, user_sockets)",
        ),
        "background_jobs_frames_received": (
            "counter",
            "Frames received from clients, by action (invalid: not a frame of the protocol)",
        ),
        "background_jobs_jobs_queued": ("counter", "Jobs put on ARQ's queue, by type"),
        "background_jobs_jobs_refused": (
            "counter",
            "Jobs not queued, by reason (content_too_long, too_many_in_flight, too_many_for_user, queue_full, "
            "queue_unavailable, replicas_unavailable)",
        ),
        "background_jobs_outcomes": (
            "counter",
            "Job outcomes sent to their sockets, by type and status (result, error, cancelled)",
        ),
        "background_jobs_outcome_latency_seconds": (
            "histogram",
            "Seconds from a job's frame to its outcome's frame on the same socket",
        ),
        "background_jobs_enqueue_latency_seconds": (
            "histogram",
            "Seconds one enqueue took (the job written to Redis, or refused)",
        ),
    }


def test_each_counted_sample_carries_its_labels_and_the_latencies_fall_in_their_buckets() -> None:
    metrics = a_fresh_servers_metrics()
    metrics.frames_received.labels(action="job").inc()
    metrics.jobs_queued.labels(job_type="translate").inc()
    metrics.jobs_refused.labels(reason="queue_full").inc()
    metrics.outcomes.labels(job_type="translate", status="result").inc()
    metrics.outcome_latency.labels(job_type="translate").observe(0.3)
    metrics.enqueue_latency.observe(0.003)

    families = {
        family.name: family for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
    }

    counted = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for name in ("frames_received", "jobs_queued", "jobs_refused", "outcomes")
        for sample in families[f"background_jobs_{name}"].samples
        if sample.name.endswith("_total")
    }
    assert counted == {
        ("background_jobs_frames_received_total", (("action", "job"),)),
        ("background_jobs_jobs_queued_total", (("job_type", "translate"),)),
        ("background_jobs_jobs_refused_total", (("reason", "queue_full"),)),
        ("background_jobs_outcomes_total", (("job_type", "translate"), ("status", "result"))),
    }
    outcome_buckets = {
        sample.labels["le"]: sample.value
        for sample in families["background_jobs_outcome_latency_seconds"].samples
        if sample.name.endswith("_bucket")
    }
    assert list(outcome_buckets) == [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "3.0", "4.0", "5.0", "7.5", "10.0",
        "20.0", "60.0", "+Inf",
    ]  # fmt: skip
    assert (outcome_buckets["0.25"], outcome_buckets["0.5"]) == (0, 1)
    enqueue_buckets = {
        sample.labels["le"]: sample.value
        for sample in families["background_jobs_enqueue_latency_seconds"].samples
        if sample.name.endswith("_bucket")
    }
    assert list(enqueue_buckets) == [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf",
    ]  # fmt: skip
    assert (enqueue_buckets["0.0025"], enqueue_buckets["0.005"]) == (0, 1)


# --- what the server counts ------------------------------------------------------------------------------------


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


# --- the outcome latency ---------------------------------------------------------------------------------------


async def test_an_outcomes_latency_lies_between_its_jobs_frame_and_its_outcomes_frame(
    app: FastAPI, ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    assert [(await ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(2)] == ["queuing", "queued"]
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "result"
    read_at = loop.time()

    got = await metric_samples(app)
    latency = (("job_type", "translate"),)
    assert got[("background_jobs_outcome_latency_seconds_count", latency)] == 1
    assert 0 <= got[("background_jobs_outcome_latency_seconds_sum", latency)] <= read_at - sent_at


async def test_an_outcomes_latency_counts_the_time_its_job_took_to_be_queued(
    settings: Settings, pool: ArqRedis
) -> None:
    """Timed from the job's frame, not from its ``queued`` frame: a slow enqueue is part of the latency."""
    jobs = HeldJobQueue(settings, pool)
    held_app = create_app(settings, jobs=jobs)
    ws = socket_on(held_app)
    assert (await ws.connect())[0]
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    loop = asyncio.get_running_loop()
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queuing"
    queuing_at = loop.time()
    await asyncio.sleep(0.2)  # the enqueue is held this long: not a wait for anything, the time being measured
    released_at = loop.time()
    jobs.let_through.set()
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    (job,) = await pool.queued_jobs()
    job_id, _, channel = job.args
    outcome = JobOutcome(status="result", job_id=job_id, job_type="translate", message="🌍 done")
    await BackgroundJobConsumer.send_event(JobResult(payload=outcome), channel)
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "result"
    await ws.disconnect()

    got = await metric_samples(held_app)
    assert (
        got[("background_jobs_outcome_latency_seconds_sum", (("job_type", "translate"),))] >= released_at - queuing_at
    )
