"""Message types of the background jobs consumer: what clients send, what they get, what workers report."""

from typing import Annotated, Any, Literal

from chanx.messages.base import BaseMessage
from pydantic import AfterValidator, BaseModel, Field

from src.apps.background_jobs.texts import CONNECTED_TEXT, progress_text
from src.apps.background_jobs.wire_text import carried_text

#: The longest job id a client may send; the server's ids are far shorter (``translate_<32 hex>``).
MAX_JOB_ID_LENGTH = 100


class JobPayload(BaseModel):
    """A job request: the type to run and the content to run it on."""

    type: str = "default"
    content: str


class JobMessage(BaseMessage):
    """Client → server: run a background job."""

    action: Literal["job"] = "job"
    payload: JobPayload


class JobRef(BaseModel):
    """Names one job by the id the server gave it."""

    job_id: str = Field(min_length=1, max_length=MAX_JOB_ID_LENGTH)


class JobLookupMessage(BaseMessage):
    """Client → server: where does this job stand? Answered from any socket while ARQ keeps the job."""

    action: Literal["job_lookup"] = "job_lookup"
    payload: JobRef


class CancelMessage(BaseMessage):
    """Client → server: cancel this queued or running job."""

    action: Literal["cancel"] = "cancel"
    payload: JobRef


class JobWatchMessage(BaseMessage):
    """Client → server: where does this job stand, and from now on its progress and outcome, on this socket too."""

    action: Literal["job_watch"] = "job_watch"
    payload: JobRef


class JobUnwatchMessage(BaseMessage):
    """Client → server: no more of this watched job's frames on this socket."""

    action: Literal["job_unwatch"] = "job_unwatch"
    payload: JobRef


class ConnectedStatus(BaseModel):
    """Status sent once, when the socket is accepted."""

    status: Literal["connected"] = "connected"
    message: str = CONNECTED_TEXT


JobState = Literal[
    "queuing", "queued", "progress", "in_progress", "result", "error", "cancelled", "not_found", "unwatched"
]
#: The states after which a job gets no more frames.
FINAL_STATES: frozenset[JobState] = frozenset({"result", "error", "cancelled", "not_found"})

#: A running job's progress, in whole percent.
Percent = Annotated[int, Field(ge=0, le=100)]
#: Text a worker sends: any lone surrogate in it (from a job's content, say) shown as U+FFFD, so that it can travel.
CarriedText = Annotated[str, AfterValidator(carried_text)]


class JobStatus(BaseModel):
    """Status of one job; every frame about a job carries its id and the type that runs."""

    status: JobState
    job_id: str
    job_type: str
    message: str
    # With ``progress`` frames and ``in_progress`` lookups only (other frames carry neither key): how far the
    # job is, and the text so far of a job that streams it (``generate``).
    progress: Percent | None = Field(default=None, exclude_if=lambda value: value is None)
    partial: str | None = Field(default=None, exclude_if=lambda value: value is None)


class JobStatusMessage(BaseMessage):
    """Server → client: connection status or the status of one job."""

    action: Literal["job_status"] = "job_status"
    payload: Annotated[ConnectedStatus | JobStatus, Field(discriminator="status")]


class JobOutcome(BaseModel):
    """How a job ended: its result text, why it failed, or that it was cancelled (known from ARQ's store only)."""

    status: Literal["result", "error", "cancelled"]
    job_id: str
    job_type: str
    message: CarriedText


class JobResult(BaseMessage):
    """Worker → consumer, through the channel layer: a job's outcome for the socket that asked."""

    action: Literal["job_result"] = "job_result"
    payload: JobOutcome


class ProgressUpdate(BaseModel):
    """How far a running job is: whole percent, and for a job that streams its text, the text so far."""

    job_id: str
    job_type: str
    progress: Percent
    partial: CarriedText | None = None


class JobProgress(BaseMessage):
    """Worker → consumer, through the channel layer: a running job's progress, for the socket that asked."""

    action: Literal["job_progress"] = "job_progress"
    payload: ProgressUpdate


def job_status_frame(status: JobState, job_id: str, job_type: str, message: str) -> dict[str, Any]:
    """The JSON of ``JobStatusMessage(payload=JobStatus(...))``, built without pydantic on the hot path."""
    return {
        "action": "job_status",
        "payload": {"status": status, "job_id": job_id, "job_type": job_type, "message": message},
    }


def progress_frame(update: ProgressUpdate) -> dict[str, Any]:
    """The JSON of a ``progress`` job_status frame for ``update`` (``partial`` only when the job streams text)."""
    frame = job_status_frame("progress", update.job_id, update.job_type, progress_text(update.job_id, update.progress))
    frame["payload"]["progress"] = update.progress
    if update.partial is not None:
        frame["payload"]["partial"] = update.partial
    return frame
