"""Channel module for background_jobs."""

from .client import BackgroundJobsClient
from .messages import (
    CancelMessage,
    ConnectedStatus,
    ErrorMessage,
    IncomingMessage,
    JobLookupMessage,
    JobMessage,
    JobPayload,
    JobRef,
    JobStatus,
    JobStatusMessage,
    JobUnwatchMessage,
    JobWatchMessage,
    OutgoingMessage,
    PingMessage,
    PongMessage,
)

__all__ = [
    "BackgroundJobsClient",
    "CancelMessage",
    "ConnectedStatus",
    "ErrorMessage",
    "IncomingMessage",
    "JobLookupMessage",
    "JobMessage",
    "JobPayload",
    "JobRef",
    "JobStatus",
    "JobStatusMessage",
    "JobUnwatchMessage",
    "JobWatchMessage",
    "OutgoingMessage",
    "PingMessage",
    "PongMessage",
]
