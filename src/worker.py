"""``python -m src.worker``: the ARQ worker on uvloop (``arq src.tasks.WorkerSettings`` runs the same, on asyncio)."""

import logging.config
from typing import cast

import uvloop
from arq.logs import default_log_config
from arq.typing import WorkerSettingsBase
from arq.worker import run_worker

from src.tasks import WorkerSettings


def main() -> None:
    """Run the worker until SIGINT/SIGTERM, logging as the ``arq`` command does."""
    logging.config.dictConfig(default_log_config(verbose=False))
    uvloop.install()
    run_worker(cast(type[WorkerSettingsBase], WorkerSettings))


if __name__ == "__main__":
    main()
