"""A running job's latest progress, kept in Redis beside ARQ's record of the job: tasks write it, lookups read it."""

from arq import ArqRedis
from pydantic import ValidationError

from src.apps.background_jobs.messages import ProgressUpdate

#: Beside ARQ's own ``arq:job:<id>`` and ``arq:result:<id>``.
PROGRESS_KEY_PREFIX = "arq:progress:"


def progress_key(job_id: str) -> str:
    """The key that holds ``job_id``'s latest progress."""
    return f"{PROGRESS_KEY_PREFIX}{job_id}"


async def store_progress(redis: ArqRedis, update: ProgressUpdate, seconds: int) -> None:
    """Keep ``update`` as its job's latest progress for ``seconds``."""
    await redis.set(progress_key(update.job_id), update.model_dump_json(), ex=seconds)


async def stored_progress(redis: ArqRedis, job_id: str) -> ProgressUpdate | None:
    """The latest progress kept for ``job_id`` (None if none is, or it is unreadable)."""
    raw = await redis.get(progress_key(job_id))
    if raw is None:
        return None
    try:
        return ProgressUpdate.model_validate_json(raw)
    except ValidationError:
        return None
