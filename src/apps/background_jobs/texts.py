"""The protocol's texts: what each frame about a job says, character for character the seed's where it has them."""

CONNECTED_TEXT = "🔄 Background Job Processor: Connected!"


def progress_text(job_id: str, percent: int) -> str:
    """A running job's progress."""
    return f"⚙️ Job {job_id}: {percent}%"


def queuing_text(job_type: str, content: str) -> str:
    """The seed's text for a job about to be queued."""
    return f"⏳ Queuing {job_type} job: {content}"


def queued_text(job_id: str) -> str:
    """The seed's text for a job on the queue."""
    return f"📋 Job {job_id} queued successfully!"


def queue_error_text(reason: str) -> str:
    """The seed's text for a job that could not be queued."""
    return f"❌ Error queuing job: {reason}"


def queue_full_text(limit: int) -> str:
    """The reason a job over ``MAX_QUEUE_DEPTH`` is not queued."""
    return f"the job queue is full ({limit} jobs); try again later"


def lookup_queued_text(job_id: str) -> str:
    """A looked-up job that waits on the queue."""
    return f"📋 Job {job_id} is queued"


def in_progress_text(job_id: str) -> str:
    """A looked-up job that a worker is running."""
    return f"⚙️ Job {job_id} is in progress"


def not_found_text(job_id: str) -> str:
    """A looked-up job that ARQ does not know (never queued, or its result has expired)."""
    return f"❓ No job {job_id}: unknown, or its result has expired"


def no_job_to_cancel_text(job_id: str) -> str:
    """Cancelling a job that ARQ does not know."""
    return f"❌ No job {job_id} to cancel"


def already_finished_text(job_id: str) -> str:
    """Cancelling a job whose result or error is stored."""
    return f"❌ Job {job_id} has already finished"


def already_cancelled_text(job_id: str) -> str:
    """Cancelling a job that was cancelled before."""
    return f"❌ Job {job_id} was already cancelled"


def too_many_jobs_text(limit: int) -> str:
    """A job over the socket's ``MAX_JOBS_IN_FLIGHT``."""
    return f"❌ Too many jobs in flight ({limit}); wait for one to finish"


def too_many_user_jobs_text(limit: int) -> str:
    """A job over its user's ``MAX_JOBS_PER_USER`` (queued or running, across the deployment)."""
    return f"❌ Too many jobs for this user ({limit}); wait for one to finish"


def lookup_error_text(reason: str) -> str:
    """A lookup that Redis could not answer."""
    return f"❌ Error looking up job: {reason}"


def cancel_error_text(reason: str) -> str:
    """A cancel that Redis could not record."""
    return f"❌ Error cancelling job: {reason}"


def too_many_watches_text(limit: int) -> str:
    """A watch over the socket's ``MAX_WATCHES``."""
    return f"❌ Too many jobs watched on this socket ({limit}); unwatch one first"


def unwatched_text(job_id: str) -> str:
    """A job this socket no longer watches."""
    return f"👋 No longer watching job {job_id}"


def watch_error_text(reason: str) -> str:
    """A watch that Redis could not set up."""
    return f"❌ Error watching job: {reason}"
