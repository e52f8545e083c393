"""``python -m src.worker``: run the ARQ worker for the environment's settings, on uvloop.

The worker's class is its parts' (``src/parts.py``): with the fast path on, its batch-claiming ``Worker`` on its
wakeable pool; with ``FAST_PATH=false``, ARQ's own, as ``arq src.tasks.WorkerSettings`` runs it.
"""

import logging.config
from typing import Any, cast

import uvloop
from arq.logs import default_log_config
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

from src.parts import Parts
from src.tasks import WorkerSettings


def run(arq_settings: type[Any]) -> None:
    """Run the worker ``arq_settings`` describe (``src.tasks.worker_settings``), with their parts' worker class,
    until SIGINT/SIGTERM, logging as the ``arq`` command does."""
    logging.config.dictConfig(default_log_config(verbose=False))
    uvloop.install()
    parts: Parts = arq_settings.ctx["parts"]
    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], arq_settings))
    parts.worker_class(**kwargs).run()


def main() -> None:
    """The worker for the environment's settings: what ``arq src.tasks.WorkerSettings`` reads, on uvloop."""
    run(WorkerSettings)


if __name__ == "__main__":
    main()
