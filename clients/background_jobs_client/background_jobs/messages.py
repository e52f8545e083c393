from typing import Any, Annotated, Literal

from pydantic import BaseModel, Field


class ConnectedStatus(BaseModel):
    """Status sent once, when the socket is accepted."""

    status: Literal["connected"] = "connected"
    message: str = "🔄 Background Job Processor: Connected!"


class ErrorMessage(BaseModel):
    """Error message for communicating issues to the client.

Attributes:
    payload: Error information dictionary with 'detail' field and optional error codes"""

    action: Literal["error"] = "error"
    payload: Any | None = None


class JobPayload(BaseModel):
    """A job request: the type to run and the content to run it on."""

    type: str = "default"
    content: str


class JobMessage(BaseModel):
    """Client → server: run a background job."""

    action: Literal["job"] = "job"
    payload: JobPayload


class JobRef(BaseModel):
    """Names one job by the id the server gave it."""

    job_id: str


class CancelMessage(BaseModel):
    """Client → server: cancel this queued or running job."""

    action: Literal["cancel"] = "cancel"
    payload: JobRef


class JobLookupMessage(BaseModel):
    """Client → server: where does this job stand? Answered from any socket while ARQ keeps the job."""

    action: Literal["job_lookup"] = "job_lookup"
    payload: JobRef


class JobStatus(BaseModel):
    """Status of one job; every frame about a job carries its id and the type that runs."""

    status: Literal["queuing", "queued", "progress", "in_progress", "result", "error", "cancelled", "not_found", "unwatched"]
    job_id: str
    job_type: str
    message: str
    progress: int | None = None
    partial: str | None = None


class JobStatusMessage(BaseModel):
    """Server → client: connection status or the status of one job."""

    action: Literal["job_status"] = "job_status"
    payload: Annotated[ConnectedStatus | JobStatus, Field(discriminator="status")]


class JobUnwatchMessage(BaseModel):
    """Client → server: no more of this watched job's frames on this socket."""

    action: Literal["job_unwatch"] = "job_unwatch"
    payload: JobRef


class JobWatchMessage(BaseModel):
    """Client → server: where does this job stand, and from now on its progress and outcome, on this socket too."""

    action: Literal["job_watch"] = "job_watch"
    payload: JobRef


class PingMessage(BaseModel):
    """Simple ping message to check WebSocket connection status."""

    action: Literal["ping"] = "ping"
    payload: None = None


class PongMessage(BaseModel):
    """Simple pong message response to ping requests."""

    action: Literal["pong"] = "pong"
    payload: None = None

IncomingMessage = JobStatusMessage | PongMessage | ErrorMessage
OutgoingMessage = CancelMessage | JobMessage | JobLookupMessage | JobUnwatchMessage | JobWatchMessage | PingMessage
