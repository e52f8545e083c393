"""``python -m src.worker``: run the ARQ worker for the environment's settings, on uvloop.

With the fast path on, the worker is its batch-claiming ``Worker`` on its wakeable pool; with
``FAST_PATH=false`` it is ARQ's own, as ``arq src.tasks.WorkerSettings`` runs it.
"""

import logging.config
from typing import Any, cast

import uvloop
from arq.logs import default_log_config
from arq.typing import WorkerSettingsBase
from arq.worker import Worker, get_kwargs

from src.settings import get_settings
from src.speedups import speedups
from src.tasks import build_worker_settings


def main() -> None:
    """Run the worker until SIGINT/SIGTERM, logging as the ``arq`` command does."""
    logging.config.dictConfig(default_log_config(verbose=False))
    uvloop.install()
    settings = get_settings()
    fast = speedups(settings)
    worker_class = Worker if fast is None else fast.worker_class
    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], build_worker_settings(settings, fast)))
    worker_class(**kwargs).run()


if __name__ == "__main__":
    main()
