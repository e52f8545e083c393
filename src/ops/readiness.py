"""``/readyz``: whether this server can take jobs now: Redis answers, and a worker has checked in lately.

The reasons a caller reads name no address and carry no exception's text (which names Redis's host and port);
the log has those, once each time the verdict changes.
"""

from dataclasses import dataclass, field

import structlog
from arq import ArqRedis
from arq.constants import health_check_key_suffix
from redis.exceptions import RedisError

from src.plumbing.deadlines import within
from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

OK = "ok"


def all_ok(checks: dict[str, str]) -> bool:
    """Whether every check's verdict is ``ok``."""
    return all(verdict == OK for verdict in checks.values())


@dataclass(frozen=True)
class Readiness:
    """Each check's verdict (``ok``, or why not); ready when every one is ``ok``. ``error``: what Redis raised,
    for the log only."""

    checks: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ready(self) -> bool:
        return all_ok(self.checks)

    def body(self) -> dict[str, object]:
        """The JSON ``/readyz`` answers with."""
        return {"status": "ready" if self.ready else "unavailable", "checks": self.checks}


async def readiness(pool: ArqRedis, settings: Settings) -> Readiness:
    """Redis must answer a PING within ``ENQUEUE_TIMEOUT``, and a worker's heartbeat (ARQ's health-check key,
    which each worker writes every ``WORKER_HEALTH_CHECK_INTERVAL`` seconds to last one second longer) be there."""
    deadline = settings.enqueue_timeout
    try:
        await within(pool.ping(), deadline)
    except TimeoutError:
        reason = f"Redis did not answer within {deadline:g}s"
        return Readiness({"redis": reason, "worker": "unknown: Redis did not answer"})
    except (RedisError, OSError) as exc:
        return Readiness({"redis": "Redis is unavailable", "worker": "unknown: Redis is unavailable"}, str(exc))
    try:
        beating = await within(pool.exists(settings.queue_name + health_check_key_suffix), deadline)
    except TimeoutError:
        return Readiness({"redis": OK, "worker": f"unknown: the heartbeat could not be read within {deadline:g}s"})
    except (RedisError, OSError) as exc:
        return Readiness({"redis": OK, "worker": "unknown: the heartbeat could not be read"}, str(exc))
    if not beating:
        interval = settings.worker_health_check_interval
        return Readiness({"redis": OK, "worker": f"no worker has checked in within the last {interval + 1:g}s"})
    return Readiness({"redis": OK, "worker": OK})


class ReadinessLog:
    """Logs ``/readyz``'s verdicts as they change (a probe asks every few seconds): not ready at WARNING, with
    Redis's error, ready at INFO; a verdict the same as the last one is not logged again."""

    def __init__(self) -> None:
        self._last: dict[str, str] | None = None

    def record(self, verdict: Readiness) -> None:
        """Log ``verdict`` unless its checks are the last one's."""
        if verdict.checks == self._last:
            return
        self._last = verdict.checks
        if verdict.ready:
            logger.info("ready: Redis answers and a worker has checked in")
        else:
            logger.warning("not ready", checks=verdict.checks, error=verdict.error)
