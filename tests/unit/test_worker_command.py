"""``python -m src.worker``: ARQ's logging, uvloop, then the worker for the settings, ARQ's own or the fast path's."""

import logging.config
from collections.abc import Callable
from typing import Any

import pytest
import uvloop
from arq import ArqRedis
from arq.logs import default_log_config
from redis.asyncio import ConnectionPool

import src.worker
from src.settings import Settings
from src.speedups import JobWriter


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
    monkeypatch.setenv("FAST_PATH", "false")
    monkeypatch.setenv("QUEUE_NAME", "q:stock")
    monkeypatch.setattr(src.worker, "Worker", recording_worker(steps))

    src.worker.main()

    assert [step for step, _ in steps] == ["logging", "uvloop", "worker", "run"]
    assert steps[0][1] == default_log_config(verbose=False)
    kwargs = steps[2][1]
    assert (kwargs["queue_name"], kwargs["redis_pool"], kwargs["poll_delay"]) == ("q:stock", None, 0.5)
    assert [f.name for f in kwargs["functions"]] == ["translate", "analyze", "generate", "default"]


class FakeSpeedUps:
    """Stands in for the fast path: a worker class, a pool and a pace of its own."""

    connection_pool_class = ConnectionPool
    poll_delay = 0.002

    def __init__(self, worker_class: type, pool: ArqRedis) -> None:
        self.worker_class = worker_class
        self.pool = pool

    def job_writer(self, pool: ArqRedis) -> JobWriter:
        raise NotImplementedError

    def worker_pool(self) -> ArqRedis:
        return self.pool

    def tune_process(self) -> Callable[[], None]:
        return lambda: None


def test_on_the_fast_path_it_runs_the_fast_paths_worker_on_its_pool_at_its_pace(
    steps: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = ArqRedis()
    asked: list[Settings] = []

    def fake_speedups(settings: Settings) -> FakeSpeedUps:
        asked.append(settings)
        return FakeSpeedUps(recording_worker(steps), pool)

    monkeypatch.setenv("FAST_PATH", "true")
    monkeypatch.setattr(src.worker, "speedups", fake_speedups)

    src.worker.main()

    assert [step for step, _ in steps] == ["logging", "uvloop", "worker", "run"]
    assert len(asked) == 1  # the seam is asked once
    kwargs = steps[2][1]
    assert (kwargs["redis_pool"], kwargs["poll_delay"]) == (pool, 0.002)
