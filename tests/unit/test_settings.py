"""Settings come from the environment, once, and both processes are built from the one object."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from src.parts import StockParts
from src.settings import Settings, get_settings
from src.tasks import REPORT_GRACE, analyze, default, generate, shutdown, startup, translate, worker_settings
from tests.support.processes import PROJECT_ROOT

TASKS = {task.__name__: task for task in (translate, analyze, generate, default)}


def test_defaults_match_the_seed_and_the_readme(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "JOB_TIME_SCALE", "MAX_CONTENT_LENGTH"):
        monkeypatch.delenv(name, raising=False)

    settings = get_settings()

    assert (settings.redis_url, settings.job_time_scale, settings.max_content_length) == (
        "redis://localhost:6379",
        1.0,
        10_000,
    )


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("JOB_TIME_SCALE", "0.05")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "500")
    monkeypatch.setenv("TASK_TIMEOUTS", '{"generate": 0.5}')

    settings = get_settings()

    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert settings.job_time_scale == 0.05
    assert settings.max_content_length == 500
    assert (settings.timeout_for("generate"), settings.timeout_for("translate")) == (0.5, 20.0)
    assert (settings.arq_redis.host, settings.arq_redis.port, settings.arq_redis.database) == (
        "cache.internal",
        6380,
        2,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("JOB_TIME_SCALE", "-1"), ("MAX_CONTENT_LENGTH", "0")],
    ids=["JOB_TIME_SCALE=-1", "MAX_CONTENT_LENGTH=0"],
)
def test_out_of_range_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.lower()):
        get_settings()


def test_worker_settings_are_built_from_the_settings_object() -> None:
    """The tutorial's settings (its four tasks, start-up, shutdown, Redis), and this project's, from ``Settings``."""
    settings = Settings(
        queue_name="q:test",
        worker_max_jobs=7,
        worker_poll_delay=0.01,
        job_timeout=9.0,
        task_timeouts={"analyze": 2.0, "generate": 12.0},
        keep_result=60,
        max_tries=3,
        fast_path=False,
    )

    worker = worker_settings(settings)

    assert worker.functions == [TASKS["translate"], TASKS["analyze"], TASKS["generate"], TASKS["default"]]
    assert (worker.on_startup, worker.on_shutdown) == (startup, shutdown)
    # Each task times itself out; ARQ's timeout is a backstop a little above the longest of theirs.
    assert (worker.job_timeout, worker.max_tries) == (12.0 + REPORT_GRACE, 3)
    assert (worker.queue_name, worker.max_jobs, worker.poll_delay, worker.keep_result) == (
        "q:test",
        7,
        0.01,
        60,
    )
    assert worker.redis_pool is None  # ARQ makes its own, from redis_settings
    assert worker.ctx["settings"] is settings
    assert isinstance(worker.ctx["parts"], StockParts)
    assert worker.job_completion_wait == settings.worker_shutdown_grace
    assert (worker.redis_settings.host, worker.redis_settings.port) == (
        settings.arq_redis.host,
        settings.arq_redis.port,
    )


def test_without_the_fast_path_the_worker_polls_every_poll_delay_on_the_pool_arq_makes_itself() -> None:
    worker = worker_settings(Settings(worker_poll_delay=0.25, fast_path=False))

    assert (worker.poll_delay, worker.redis_pool) == (0.25, None)


def test_the_worker_honours_arqs_abort_so_jobs_can_be_cancelled() -> None:
    assert worker_settings(Settings()).allow_abort_jobs is True


def test_the_hardening_defaults_are_the_readmes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALLOWED_ORIGINS", "MAX_JOBS_IN_FLIGHT", "WS_MAX_SIZE"):
        monkeypatch.delenv(name, raising=False)

    settings = get_settings()

    assert (settings.allowed_origins, settings.max_jobs_in_flight, settings.ws_max_size) == ([], 100, 65_536)


#: Imports the task module as ``arq src.tasks.WorkerSettings`` does, and says what its ``WorkerSettings`` holds.
PROBE = (
    "import src.tasks as t; w = t.WorkerSettings; "
    "print(w.__name__, w.queue_name, type(w.ctx['parts']).__name__, w.redis_pool is not None)"
)


@pytest.mark.parametrize(
    ("fast_path", "parts", "brings_a_pool"),
    [("true", "FastPath", "True"), ("false", "StockParts", "False")],
    ids=["FAST_PATH=true", "FAST_PATH=false"],
)
def test_the_worker_settings_the_arq_command_reads_are_built_from_the_environment(
    fast_path: str, parts: str, brings_a_pool: str
) -> None:
    env = {"PATH": "/usr/bin:/bin", "QUEUE_NAME": "q:from-env", "FAST_PATH": fast_path}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["WorkerSettings", "q:from-env", parts, brings_a_pool]
