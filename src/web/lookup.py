"""Where a job stands, read from what ARQ keeps in Redis."""

from collections.abc import Awaitable
from typing import TypeVar

from arq import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, deserialize_job, deserialize_result
from arq.jobs import JobStatus as ArqJobStatus
from redis.exceptions import RedisError

from src.apps.background_jobs.job_types import job_type_of
from src.apps.background_jobs.messages import JobStatus
from src.apps.background_jobs.outcomes import outcome_of, stored_outcome
from src.apps.background_jobs.progress import stored_progress
from src.apps.background_jobs.texts import in_progress_text, lookup_queued_text, not_found_text
from src.plumbing.deadlines import within
from src.web.job_queue import QueueError

T = TypeVar("T")


async def bounded(call: Awaitable[T], timeout: float) -> T:
    """Await a Redis call for at most ``timeout`` seconds; ``QueueError`` saying why it did not answer."""
    try:
        return await within(call, timeout)
    except TimeoutError:
        raise QueueError("the job queue did not answer in time") from None
    except RedisError as exc:
        raise QueueError("the job queue is unavailable") from exc


async def look_up(pool: ArqRedis, queue_name: str, job_id: str) -> JobStatus:
    """The job's status as ARQ knows it: queued, in progress (with its latest progress, once it has reported
    any), its stored outcome, or not found.

    The job type is the id's prefix (``unknown`` when that is no type), whatever the job's state.
    """
    job_type = job_type_of(job_id)
    state = await Job(job_id, pool, _queue_name=queue_name).status()
    if state is ArqJobStatus.complete:
        outcome = await stored_outcome(pool, job_id, job_type)
        if outcome is not None:
            return JobStatus(**outcome.model_dump())
        state = ArqJobStatus.not_found  # the result expired in between
    if state in (ArqJobStatus.queued, ArqJobStatus.deferred):
        return JobStatus(status="queued", job_id=job_id, job_type=job_type, message=lookup_queued_text(job_id))
    if state is ArqJobStatus.in_progress:
        progress = await stored_progress(pool, job_id)
        return JobStatus(
            status="in_progress",
            job_id=job_id,
            job_type=job_type,
            message=in_progress_text(job_id),
            progress=None if progress is None else progress.progress,
            partial=None if progress is None else progress.partial,
        )
    return JobStatus(status="not_found", job_id=job_id, job_type=job_type, message=not_found_text(job_id))


async def watched_channel(pool: ArqRedis, job_id: str) -> str | JobStatus | None:
    """The channel a queued or running job's frames are sent to (its ``channel_name`` argument, that of the socket
    that queued it); for a job that has finished, its status, which is all a watch of it gets; None if ARQ does not
    know the job now (it may have finished in between: look it up).

    ARQ's result and job definition, read in one transaction: what ``Job.info`` reads in two or three round trips.
    """
    async with pool.pipeline(transaction=True) as pipe:
        pipe.get(result_key_prefix + job_id)
        pipe.get(job_key_prefix + job_id)
        stored, queued = await pipe.execute()
    if stored is not None:
        result = deserialize_result(stored, deserializer=pool.job_deserializer)
        return JobStatus(**outcome_of(result, job_id, job_type_of(job_id)).model_dump())
    if queued is None:
        return None
    args = deserialize_job(queued, deserializer=pool.job_deserializer).args
    return args[2] if len(args) >= 3 and isinstance(args[2], str) else None
