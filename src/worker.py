"""``python -m src.worker``: the ARQ worker on uvloop, claiming jobs in batches.

``arq src.tasks.WorkerSettings`` runs the same tasks with ARQ's stock worker on asyncio.
"""

import logging.config
from typing import cast

import uvloop
from arq.logs import default_log_config
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs

from src.batch_worker import BatchClaimWorker
from src.tasks import WorkerSettings


def main() -> None:
    """Run the worker until SIGINT/SIGTERM, logging as the ``arq`` command does."""
    logging.config.dictConfig(default_log_config(verbose=False))
    uvloop.install()
    BatchClaimWorker(**get_kwargs(cast(type[WorkerSettingsBase], WorkerSettings))).run()


if __name__ == "__main__":
    main()
