"""A job's outcome as the client sees it, built live by the task or later from what ARQ stored."""

import asyncio
from typing import Any

from arq import ArqRedis
from arq.jobs import Job, JobResult

from src.apps.background_jobs.messages import JobOutcome


class TaskTimeout(Exception):
    """A task ran longer than its timeout; the message is the client's error text."""


def timeout_text(job_id: str, timeout: float) -> str:
    """The error text for a job that ran out of time."""
    return f"❌ Job {job_id} timed out after {timeout:g}s"


def failure_text(job_id: str, error: BaseException) -> str:
    """The error text for a job that raised ``error``."""
    if isinstance(error, TaskTimeout):
        return str(error)
    return f"❌ Job {job_id} failed: {type(error).__name__}: {error}"


def cancelled_text(job_id: str) -> str:
    """The text for a cancelled job (the cancel's reply, and its lookup afterwards)."""
    return f"🛑 Job {job_id} cancelled"


def result_outcome(job_id: str, job_type: str, text: str) -> JobOutcome:
    """A job's result."""
    return JobOutcome(status="result", job_id=job_id, job_type=job_type, message=text)


def error_outcome(job_id: str, job_type: str, text: str) -> JobOutcome:
    """A job's failure."""
    return JobOutcome(status="error", job_id=job_id, job_type=job_type, message=text)


def cancelled_outcome(job_id: str, job_type: str) -> JobOutcome:
    """A job cancelled through ARQ's abort."""
    return JobOutcome(status="cancelled", job_id=job_id, job_type=job_type, message=cancelled_text(job_id))


async def stored_outcome(pool: ArqRedis, job_id: str, job_type: str) -> JobOutcome | None:
    """The outcome ARQ kept for a finished job (for ``keep_result`` seconds); None while there is none."""
    stored = await Job(job_id, pool).result_info()
    return None if stored is None else outcome_of(stored, job_id, job_type)


def outcome_of(stored: JobResult, job_id: str, job_type: str) -> JobOutcome:
    """The outcome of a job from what ARQ stored when it finished."""
    if stored.success:
        result: dict[str, Any] = stored.result
        return result_outcome(job_id, job_type, str(result["result"]))
    if isinstance(stored.result, asyncio.CancelledError):  # what ARQ stores for an aborted job
        return cancelled_outcome(job_id, job_type)
    return error_outcome(job_id, job_type, failure_text(job_id, stored.result))
