"""Properties of the seed's result texts, and of the message models, for arbitrary content."""

import re
from typing import get_args

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
    job_status_frame,
)
from src.tasks import TRANSLATIONS, analyze_text, default_text, translate_text

ANALYSIS = re.compile(
    r"\A📊 Analysis of '(?P<content>.*)':\n"
    r"• Characters: (?P<chars>\d+)\n• Words: (?P<words>\d+)\n• Vowels: (?P<vowels>\d+)\Z",
    re.DOTALL,
)

any_content = st.text()
job_ids = st.text(min_size=1, max_size=80)


@given(any_content)
def test_analysis_counts_characters_words_and_vowels_of_any_text(content: str) -> None:
    match = ANALYSIS.match(analyze_text(content))

    assert match is not None
    assert match["content"] == content
    assert int(match["chars"]) == len(content)
    assert int(match["words"]) == len(content.split())
    assert int(match["vowels"]) == sum(content.lower().count(v) for v in "aeiou")


@given(st.sampled_from(sorted(TRANSLATIONS)), st.data())
def test_translate_uses_its_table_whatever_the_case(phrase: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(phrase), max_size=len(phrase)))
    content = "".join(c.upper() if up else c for c, up in zip(phrase, flips, strict=True))

    assert translate_text(content) == f"🌍 Translated: '{content}' → '{TRANSLATIONS[phrase]}'"


@given(any_content)
def test_translate_marks_text_outside_its_table(content: str) -> None:
    assume(content.lower() not in TRANSLATIONS)

    assert translate_text(content) == f"🌍 Translated: '{content}' → '[TRANSLATED: {content}]'"


@given(any_content)
def test_default_upper_cases_the_content(content: str) -> None:
    assert default_text(content) == f"✅ Processed: {content.upper()}"


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
