"""Properties of the message models for arbitrary content (hypothesis): the frames and events round-trip, and the hot
path's ``job_status`` frame is exactly the model's JSON."""

from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from src.apps.background_jobs.messages import (
    JobMessage,
    JobOutcome,
    JobPayload,
    JobResult,
    JobState,
    JobStatus,
    JobStatusMessage,
    job_status_frame,
)

any_content = st.text()
job_ids = st.text(min_size=1, max_size=80)


@given(st.text(), any_content)
def test_job_message_round_trips_any_content(job_type: str, content: str) -> None:
    message = JobMessage(payload=JobPayload(type=job_type, content=content))

    assert JobMessage.model_validate_json(message.model_dump_json()) == message


@given(st.sampled_from(get_args(JobState)), job_ids, any_content)
def test_job_status_message_round_trips_any_text(status: str, job_id: str, text: str) -> None:
    message = JobStatusMessage(
        payload=JobStatus.model_validate({"status": status, "job_id": job_id, "job_type": "default", "message": text})
    )

    assert JobStatusMessage.model_validate_json(message.model_dump_json()) == message


@given(st.sampled_from(["result", "error", "cancelled"]), job_ids, any_content)
def test_job_result_event_round_trips_any_text(status: str, job_id: str, text: str) -> None:
    event = JobResult(
        payload=JobOutcome.model_validate({"status": status, "job_id": job_id, "job_type": "analyze", "message": text})
    )

    assert JobResult.model_validate_json(event.model_dump_json()) == event


@given(st.sampled_from(list(get_args(JobState))), job_ids, any_content)
def test_the_hot_path_job_status_frame_is_exactly_the_models_json(status: JobState, job_id: str, text: str) -> None:
    model = JobStatusMessage(payload=JobStatus(status=status, job_id=job_id, job_type="translate", message=text))

    assert job_status_frame(status, job_id, "translate", text) == model.model_dump(mode="json")
