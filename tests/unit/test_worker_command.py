"""``python -m src.worker``: ARQ's logging, uvloop, then the batch-claiming worker on ``WorkerSettings``."""

import logging.config
from typing import Any, cast

import pytest
import uvloop
from arq.logs import default_log_config
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

import src.worker
from src.tasks import WorkerSettings


def test_python_m_src_worker_logs_as_arq_does_installs_uvloop_then_runs_the_worker_on_worker_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[tuple[str, Any]] = []

    class RecordingWorker:
        def __init__(self, **kwargs: Any) -> None:
            steps.append(("worker", kwargs))

        def run(self) -> None:
            steps.append(("run", None))

    monkeypatch.setattr(logging.config, "dictConfig", lambda config: steps.append(("logging", config)))
    monkeypatch.setattr(uvloop, "install", lambda: steps.append(("uvloop", None)))
    monkeypatch.setattr(src.worker, "BatchClaimWorker", RecordingWorker)

    src.worker.main()

    assert steps == [
        ("logging", default_log_config(verbose=False)),
        ("uvloop", None),
        ("worker", get_kwargs(cast(type[WorkerSettingsBase], WorkerSettings))),
        ("run", None),
    ]
