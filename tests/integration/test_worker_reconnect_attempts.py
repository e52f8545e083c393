"""``REDIS_RECONNECT_ATTEMPTS``: a worker whose Redis stays down retries that many times (backoff capped at 1 s),
then exits by itself, non-zero, so that its supervisor sees it.

With either worker command: ``arq src.tasks.WorkerSettings`` (arq-cli) and ``python -m src.worker`` (src.worker).
"""

import subprocess
import time

import pytest

from tests.support.processes import WorkerProcess
from tests.support.redis_provider import RedisServerProcess

pytestmark = pytest.mark.processes

RECONNECT_ATTEMPTS = 3
#: The longest the worker's backoff waits before an attempt (docs/operating.md, "Healing without a human": "backoff
#: (capped at 1 s)").
BACKOFF_CAP = 1.0
#: ``WORKER_POLL_DELAY``'s default: an idle worker may sleep this long before it meets the outage.
WORKER_POLL_DELAY = 0.5
#: The worker's own way out once it gives up: ARQ's shutdown, the interpreter's exit.
EXIT_MARGIN = 1.0
#: The attempts' waits, each at most the cap, once the worker meets the outage; then its exit.
EXITS_WITHIN = WORKER_POLL_DELAY + RECONNECT_ATTEMPTS * BACKOFF_CAP + EXIT_MARGIN


def exit_code_within(worker: WorkerProcess, timeout: float) -> int | None:
    """The worker's exit code, if it exits within ``timeout`` seconds; else None."""
    try:
        return worker.wait_exit(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def test_a_worker_whose_redis_stays_down_exits_by_itself_non_zero_after_redis_reconnect_attempts(
    worker_class: type[WorkerProcess],
) -> None:
    redis_server = RedisServerProcess()
    redis_server.start()
    worker = worker_class(
        redis_server.url,
        redis_reconnect_attempts=str(RECONNECT_ATTEMPTS),
        worker_poll_delay=str(WORKER_POLL_DELAY),
    )
    try:
        worker.start()
        worker.wait_ready()
        redis_server.stop()  # for good
        stopped = time.monotonic()
        exit_code = exit_code_within(worker, timeout=EXITS_WITHIN)
        took = time.monotonic() - stopped
    finally:
        worker.stop()
        redis_server.close()

    assert exit_code is not None, (
        f"the worker still ran {EXITS_WITHIN}s after Redis stopped; it logged:\n{worker.log()}"
    )
    assert exit_code != 0
    assert took <= EXITS_WITHIN
