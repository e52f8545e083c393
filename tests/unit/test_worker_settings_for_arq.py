"""The ``WorkerSettings`` ARQ is given carries the heartbeat interval ``/readyz`` and start_dev rely on."""

from typing import Any, cast

from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

from src.settings import Settings
from src.tasks import worker_settings


def test_arq_is_given_worker_health_check_interval_as_its_heartbeat() -> None:
    """ARQ reads a settings class's own ``__dict__``: the interval must be there under ARQ's name for it."""
    arq_settings = worker_settings(Settings(worker_health_check_interval=7.0, fast_path=False))

    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], arq_settings))
    assert kwargs["health_check_interval"] == 7.0
