"""Message types of the background jobs consumer: what clients send, what they get, what workers report."""

from typing import Annotated, Literal

from chanx.messages.base import BaseMessage
from pydantic import BaseModel, Field

CONNECTED_TEXT = "🔄 Background Job Processor: Connected!"


class JobPayload(BaseModel):
    """A job request: the type to run and the content to run it on."""

    type: str = "default"
    content: str


class JobMessage(BaseMessage):
    """Client → server: run a background job."""

    action: Literal["job"] = "job"
    payload: JobPayload


class ConnectedStatus(BaseModel):
    """Status sent once, when the socket is accepted."""

    status: Literal["connected"] = "connected"
    message: str = CONNECTED_TEXT


JobState = Literal["queuing", "queued", "result", "error"]


class JobStatus(BaseModel):
    """Status of one job; every frame about a job carries its id and the type that runs."""

    status: JobState
    job_id: str
    job_type: str
    message: str


class JobStatusMessage(BaseMessage):
    """Server → client: connection status or the status of one job."""

    action: Literal["job_status"] = "job_status"
    payload: Annotated[ConnectedStatus | JobStatus, Field(discriminator="status")]


class JobOutcome(BaseModel):
    """What a worker reports when a job has finished: its result text or why it failed."""

    status: Literal["result", "error"]
    job_id: str
    job_type: str
    message: str


class JobResult(BaseMessage):
    """Worker → consumer, through the channel layer: a job's outcome for the socket that asked."""

    action: Literal["job_result"] = "job_result"
    payload: JobOutcome


def queuing_text(job_type: str, content: str) -> str:
    """The seed's text for a job about to be queued."""
    return f"⏳ Queuing {job_type} job: {content}"


def queued_text(job_id: str) -> str:
    """The seed's text for a job on the queue."""
    return f"📋 Job {job_id} queued successfully!"


def queue_error_text(reason: str) -> str:
    """The seed's text for a job that could not be queued."""
    return f"❌ Error queuing job: {reason}"
