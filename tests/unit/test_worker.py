"""``python -m src.worker``: ARQ's logging, uvloop, then the worker for the settings, ARQ's own or the fast path's."""

import logging.config
from typing import Any

import pytest
import uvloop
from arq.logs import default_log_config

import src.tasks
import src.worker
from src.fastpath import FastPath
from src.fastpath.wakeable_pool import WakeableArqRedis
from src.parts import StockParts
from src.settings import Settings
from src.tasks import worker_settings


def recording_worker(steps: list[tuple[str, Any]]) -> type:
    """A worker class that records how it was built and that it was run."""

    class RecordingWorker:
        def __init__(self, **kwargs: Any) -> None:
            steps.append(("worker", kwargs))

        def run(self) -> None:
            steps.append(("run", None))

    return RecordingWorker


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What ``main`` does, in order: logging configured, uvloop installed, the worker built and run."""
    recorded: list[tuple[str, Any]] = []
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: recorded.append(("logging", config)))
    monkeypatch.setattr(uvloop, "install", lambda: recorded.append(("uvloop", None)))
    return recorded


def test_off_the_fast_path_it_logs_as_arq_does_installs_uvloop_then_runs_arqs_own_worker(
    steps: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    arq_settings = worker_settings(Settings(fast_path=False, queue_name="q:stock"))
    monkeypatch.setattr(StockParts, "worker_class", recording_worker(steps))

    src.worker.run(arq_settings)

    assert [step for step, _ in steps] == ["logging", "uvloop", "worker", "run"]
    assert steps[0][1] == default_log_config(verbose=False)
    kwargs = steps[2][1]
    assert (kwargs["queue_name"], kwargs["redis_pool"], kwargs["poll_delay"]) == ("q:stock", None, 0.5)
    assert [f.__name__ for f in kwargs["functions"]] == ["translate", "analyze", "generate", "default"]


async def test_on_the_fast_path_it_runs_the_fast_paths_worker_on_its_pool_at_its_pace(
    steps: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    arq_settings = worker_settings(Settings(fast_path=True))
    parts = arq_settings.ctx["parts"]
    assert isinstance(parts, FastPath)
    monkeypatch.setattr(FastPath, "worker_class", recording_worker(steps))

    src.worker.run(arq_settings)

    assert [step for step, _ in steps] == ["logging", "uvloop", "worker", "run"]
    kwargs = steps[2][1]
    assert isinstance(kwargs["redis_pool"], WakeableArqRedis)
    assert kwargs["poll_delay"] == parts.poll_delay
    await kwargs["redis_pool"].aclose()


def test_python_m_src_worker_runs_the_worker_settings_the_arq_command_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[type] = []
    monkeypatch.setattr(src.worker, "run", ran.append)

    src.worker.main()

    assert ran == [src.tasks.WorkerSettings]
