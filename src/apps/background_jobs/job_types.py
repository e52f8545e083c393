"""The job types this system runs, with the seed's simulated durations; shared by both sides."""

from collections.abc import Mapping
from types import MappingProxyType

from src.settings import Settings

DEFAULT_JOB_TYPE = "default"
#: The type a frame names for a job id whose prefix is no known type.
UNKNOWN_JOB_TYPE = "unknown"

#: Simulated work per type, in seconds at ``JOB_TIME_SCALE=1`` (the seed's figures).
JOB_DURATIONS: Mapping[str, float] = MappingProxyType(
    {"default": 1.0, "translate": 2.0, "analyze": 3.0, "generate": 4.0}
)


def resolve_job_type(requested: str) -> str:
    """The type that actually runs: an unknown type runs ``default``."""
    return requested if requested in JOB_DURATIONS else DEFAULT_JOB_TYPE


def work_seconds(settings: Settings, job_type: str) -> float:
    """Simulated work for ``job_type``: the seed's duration times ``JOB_TIME_SCALE``."""
    return JOB_DURATIONS[job_type] * settings.job_time_scale


def job_type_of(job_id: str) -> str:
    """The type a job id names (ids are ``<type>_<32 hex>``), or ``unknown``."""
    prefix = job_id.partition("_")[0]
    return prefix if prefix in JOB_DURATIONS else UNKNOWN_JOB_TYPE
