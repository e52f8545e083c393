"""Health, readiness and metrics of real processes: a server's and a worker's ``/metrics`` after known jobs, and
``/readyz`` following Redis down and back, with either worker command."""

import asyncio

import httpx
import pytest

from tests.support.metric_samples import samples
from tests.support.processes import WORKER_COMMANDS, ServerProcess, WorkerProcess, running
from tests.support.protocol import has_status, job
from tests.support.redis_provider import free_port, redis_server_process
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

PROMPT = 5.0
#: Quick heartbeats, so that readiness follows a restarted Redis within a test's patience.
HEARTBEAT = "1"


@pytest.mark.parametrize("worker_class", WORKER_COMMANDS.values(), ids=WORKER_COMMANDS)
async def test_after_known_jobs_the_servers_and_the_workers_metrics_count_them(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    metrics_port = free_port()
    server = ServerProcess(redis_url, job_time_scale="0")
    worker = worker_class(redis_url, job_time_scale="0", worker_metrics_port=str(metrics_port))
    with running(worker, server):
        async with JobSocket(http, server.ws_url) as ws:
            await ws.receive(timeout=PROMPT)
            for job_type in ("translate", "translate", "generate"):
                await ws.send(job(job_type))
                await ws.receive_until(has_status("result"), timeout=PROMPT)
            await ws.send({"action": "nonsense"})
            await ws.receive(timeout=PROMPT)
            web = samples((await http.get(server.http_url + "/metrics")).text)
        worker_text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        done = samples(worker_text)

    assert web[("background_jobs_sockets_open", ())] == 1
    assert web[("background_jobs_frames_received_total", (("action", "job"),))] == 3
    assert web[("background_jobs_frames_received_total", (("action", "invalid"),))] == 1
    assert web[("background_jobs_jobs_queued_total", (("job_type", "translate"),))] == 2
    assert web[("background_jobs_outcomes_total", (("job_type", "translate"), ("status", "result")))] == 2
    assert web[("background_jobs_outcomes_total", (("job_type", "generate"), ("status", "result")))] == 1
    assert web[("background_jobs_outcome_latency_seconds_count", (("job_type", "translate"),))] == 2
    assert web[("background_jobs_enqueue_latency_seconds_count", ())] == 3
    assert done[("background_jobs_worker_jobs_started_total", (("job_type", "translate"),))] == 2
    assert done[("background_jobs_worker_jobs_finished_total", (("job_type", "translate"), ("status", "result")))] == 2
    assert done[("background_jobs_worker_jobs_finished_total", (("job_type", "generate"), ("status", "result")))] == 1
    assert done[("background_jobs_worker_job_run_seconds_count", (("job_type", "generate"),))] == 1
    assert done[("background_jobs_worker_jobs_running", ())] == 0
    assert ("background_jobs_worker_queue_depth", ()) in done


async def until_status(http: httpx.AsyncClient, url: str, status: int, timeout: float = 10.0) -> httpx.Response:
    """GET ``url`` every 0.1 s until it answers ``status`` (readiness is a state to poll; nothing announces it)."""
    async with asyncio.timeout(timeout):
        while (response := await http.get(url)).status_code != status:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return response


@pytest.mark.parametrize("worker_class", WORKER_COMMANDS.values(), ids=WORKER_COMMANDS)
async def test_readyz_follows_redis_down_and_back_while_healthz_stays_200(
    worker_class: type[WorkerProcess], http: httpx.AsyncClient
) -> None:
    with redis_server_process() as redis_server:
        server = ServerProcess(redis_server.url, job_time_scale="0", worker_health_check_interval=HEARTBEAT)
        worker = worker_class(redis_server.url, job_time_scale="0", worker_health_check_interval=HEARTBEAT)
        with running(worker, server):
            ready = await until_status(http, server.http_url + "/readyz", 200)
            assert ready.json() == {"status": "ready", "checks": {"redis": "ok", "worker": "ok"}}

            redis_server.stop()
            down = await until_status(http, server.http_url + "/readyz", 503)
            assert down.json()["checks"]["redis"] != "ok"
            assert (await http.get(server.http_url + "/healthz")).status_code == 200

            redis_server.start()
            back = await until_status(http, server.http_url + "/readyz", 200, timeout=20.0)
            assert back.json()["status"] == "ready"


async def test_readyz_of_a_server_whose_redis_is_stopped_names_no_address_and_logs_it_once(
    http: httpx.AsyncClient,
) -> None:
    """The body says ``Redis is unavailable`` and no more; the server's log names the address, once for three probes."""
    with redis_server_process() as redis_server:
        address = f"127.0.0.1:{redis_server.port}"
        server = ServerProcess(redis_server.url, job_time_scale="0")
        with running(server):
            mark = server.log_size()
            redis_server.stop()
            answers = [await http.get(server.http_url + "/readyz") for _ in range(3)]
            logged = server.log_since(mark)

    assert [(answer.status_code, answer.json()) for answer in answers] == [
        (
            503,
            {
                "status": "unavailable",
                "checks": {"redis": "Redis is unavailable", "worker": "unknown: Redis is unavailable"},
            },
        )
    ] * 3
    assert not any(address in answer.text or "127.0.0.1" in answer.text for answer in answers)
    [warning] = [line for line in logged.splitlines() if "not ready" in line]
    assert "[warning  ]" in warning
    assert address in warning
