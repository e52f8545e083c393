"""Properties of the seed's result texts, as the tasks return them, and of the message models, for arbitrary content.

The expected texts are the tutorial's rules as ``tests.support.seed`` writes them out, never ``src``'s own table."""

from typing import Any, get_args

from hypothesis import assume, given
from hypothesis import strategies as st

from src.apps.background_jobs.messages import (
    JobMessage,
    JobOutcome,
    JobPayload,
    JobResult,
    JobState,
    JobStatus,
    JobStatusMessage,
    ProgressUpdate,
    job_status_frame,
)
from src.apps.background_jobs.messages import JobOutcome as Outcome
from src.settings import Settings
from tests.support.seed import (
    JOB_TYPES,
    SEED_TRANSLATIONS,
    seed_ai_response,
    seed_analysis,
    seed_processed,
    seed_result_text,
)
from tests.support.tasks import TASKS

any_content = st.text()
job_ids = st.text(min_size=1, max_size=80)


class Unheard:
    """A notifier nobody listens to: the tests read the text a task returns."""

    async def notify(self, outcome: Outcome, channel_name: str) -> None:
        """Deliver nothing."""

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Deliver no progress."""


#: A worker's ``ctx`` for tasks with no simulated work.
CTX: dict[str, Any] = {"settings": Settings(job_time_scale=0.0), "notifier": Unheard()}


async def result_text(job_type: str, content: str) -> str:
    """The text the ``job_type`` task returns as its result for ``content``."""
    reply: dict[str, Any] = await TASKS[job_type](CTX, f"{job_type}_1", content, "nobody")
    return str(reply["result"])


@given(any_content)
async def test_analysis_counts_characters_words_and_vowels_of_any_text(content: str) -> None:
    assert await result_text("analyze", content) == seed_analysis(content)


@given(st.sampled_from(sorted(SEED_TRANSLATIONS)), st.data())
async def test_translate_uses_the_seeds_table_whatever_the_case(phrase: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(phrase), max_size=len(phrase)))
    content = "".join(c.upper() if up else c for c, up in zip(phrase, flips, strict=True))

    assert await result_text("translate", content) == f"🌍 Translated: '{content}' → '{SEED_TRANSLATIONS[phrase]}'"


@given(any_content)
async def test_translate_marks_text_outside_the_seeds_table(content: str) -> None:
    assume(content.lower() not in SEED_TRANSLATIONS)

    assert await result_text("translate", content) == f"🌍 Translated: '{content}' → '[TRANSLATED: {content}]'"


@given(any_content)
async def test_default_upper_cases_the_content(content: str) -> None:
    assert await result_text("default", content) == seed_processed(content)


@given(any_content)
async def test_generate_answers_any_content_with_the_seeds_canned_response(content: str) -> None:
    assert await result_text("generate", content) == seed_ai_response(content)


@given(st.sampled_from(JOB_TYPES), any_content)
async def test_each_job_types_result_text_is_the_seeds_for_any_content(job_type: str, content: str) -> None:
    """For any content, each job type's result text is the tutorial's, as ``tests.support.seed`` writes it out."""
    assert await result_text(job_type, content) == seed_result_text(job_type, content)


def test_the_worker_has_a_task_for_exactly_the_seeds_job_types() -> None:
    assert sorted(TASKS) == sorted(JOB_TYPES)


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
