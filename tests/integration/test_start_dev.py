"""``python src/start_dev.py``: worker and server together, a banner once both serve, supervision, Ctrl+C."""

import os
import re
import signal
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import ManagedProcess, app_env, wait_for_output
from tests.support.protocol import is_final, job
from tests.support.redis_provider import free_port
from tests.support.ws_driver import JobSocket

pytestmark = pytest.mark.processes

BANNER_END = "Press Ctrl+C to stop both services"
READY = 30.0


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` still exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def child_pids(output: str, child: str) -> list[int]:
    """The pids start_dev logged for ``child`` ("ARQ worker" or "uvicorn server"), oldest first."""
    return [int(pid) for pid in re.findall(rf"Started {child} \(pid (\d+)\)", output)]


@pytest.fixture
def port() -> int:
    """The port start_dev serves on."""
    return free_port()


@pytest.fixture
def start_dev(redis_url: str, port: int) -> Iterator[ManagedProcess]:
    """start_dev on ``port``, stopped (with its children) after the test."""
    env = app_env(redis_url, port=str(port), job_time_scale="0")
    process = ManagedProcess("start_dev", [sys.executable, "src/start_dev.py"], env)
    process.start()
    yield process
    process.stop(timeout=20)


async def test_start_dev_prints_its_banner_once_both_services_serve_and_jobs_run(
    start_dev: ManagedProcess, port: int, http: httpx.AsyncClient
) -> None:
    await wait_for_output(start_dev, BANNER_END, timeout=READY)

    page = await http.get(f"http://127.0.0.1:{port}/")
    async with JobSocket(http, f"ws://127.0.0.1:{port}/ws/background_jobs") as ws:
        await ws.receive(timeout=5)
        await ws.send(job("translate", "hello"))
        job_id = (await ws.receive(timeout=5))["payload"]["job_id"]
        final = (await ws.receive_until(is_final(job_id), timeout=10))[-1]

    assert page.status_code == 200
    assert final["payload"]["message"] == "🌍 Translated: 'hello' → 'hola'"
    assert start_dev.log().count(BANNER_END) == 1


async def test_start_dev_restarts_a_worker_that_dies(start_dev: ManagedProcess) -> None:
    await wait_for_output(start_dev, BANNER_END, timeout=READY)
    (first_worker,) = child_pids(start_dev.log(), "ARQ worker")

    os.kill(first_worker, signal.SIGKILL)
    await wait_for_output(start_dev, "The ARQ worker is running again", timeout=READY)

    workers = child_pids(start_dev.log(), "ARQ worker")
    assert len(workers) == 2
    assert pid_alive(workers[1])
    assert "The ARQ worker exited unexpectedly (exit code -9)" in start_dev.log()


async def test_ctrl_c_stops_the_worker_and_the_server_and_exits_cleanly(start_dev: ManagedProcess) -> None:
    await wait_for_output(start_dev, BANNER_END, timeout=READY)
    children = child_pids(start_dev.log(), "ARQ worker") + child_pids(start_dev.log(), "uvicorn server")

    start_dev.signal(signal.SIGINT)

    assert start_dev.wait_exit(timeout=30) == 0
    assert [pid for pid in children if pid_alive(pid)] == []
    assert "Shutdown complete" in start_dev.log()
