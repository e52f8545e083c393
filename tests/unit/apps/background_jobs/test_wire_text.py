"""Text the wire can carry: a lone surrogate is found wherever a decoded frame holds one, and a worker's text shows
each as U+FFFD; UTF-8's own encoder is the judge."""

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.apps.background_jobs.wire_text import carried_text, lone_surrogate
from tests.support.frames import utf8_carries

#: Any code point, surrogates included (hypothesis leaves them out of text unless asked).
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
ANY_TEXT = st.text(ANY_CHARACTER, max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_a_lone_surrogate_is_found_exactly_when_utf8_cannot_carry_the_value(value: Any) -> None:
    assert (lone_surrogate(value) is None) == utf8_carries(value)


@given(ANY_TEXT)
def test_carried_text_encodes_as_utf8_and_changes_only_lone_surrogates(text: str) -> None:
    carried = carried_text(text)

    carried.encode()
    assert len(carried) == len(text)
    assert all(kept == original or kept == "\ufffd" for kept, original in zip(carried, text, strict=True))


def test_a_surrogate_pair_decoded_from_json_is_one_character_and_no_lone_surrogate() -> None:
    emoji = json.loads('"\\ud83d\\ude00"')

    assert emoji == "😀"
    assert lone_surrogate(emoji) is None
    assert carried_text(emoji) == "😀"


def test_the_place_named_is_the_path_to_the_string_or_the_key() -> None:
    frame = json.loads('{"action": "job", "payload": {"type": "default", "content": "ok\\udc00", "x\\ud800": 1}}')
    found = lone_surrogate(frame)

    assert found is not None
    error = found.validation_error().errors(include_url=False, include_context=False, include_input=False)
    assert [(e["type"], e["loc"]) for e in error] in (
        [("lone_surrogate", ("payload", "content"))],
        [("lone_surrogate", ("payload", "x\\ud800"))],
    )
    assert error[0]["msg"].startswith("payload.")


def test_a_list_item_is_named_by_its_index() -> None:
    found = lone_surrogate(json.loads('{"items": ["a", ["b", "\\udfff"]]}'))

    assert found is not None
    assert found.field() == "items[1][1]"
    assert (found.index, found.code_point, found.in_key) == (0, 0xDFFF, False)


def test_a_workers_outcome_and_progress_show_each_lone_surrogate_as_the_replacement_character() -> None:
    outcome = JobOutcome(status="result", job_id="default_1", job_type="default", message="✅ Processed: A\ud800B")
    update = ProgressUpdate(job_id="generate_1", job_type="generate", progress=50, partial="\udbff half")

    assert outcome.message == "✅ Processed: A\ufffdB"
    assert update.partial == "\ufffd half"
    outcome.model_dump_json()
    update.model_dump_json()


def messages(raw: str) -> list[tuple[str, tuple[str | int, ...], str]]:
    """The error chanx's frame lists for the frame ``raw``: its type, its place and its message."""
    found = lone_surrogate(json.loads(raw))
    assert found is not None
    return [(e["type"], e["loc"], e["msg"]) for e in found.validation_error().errors(include_url=False)]


def test_the_message_names_the_field_the_character_and_its_index_in_a_string() -> None:
    assert messages('{"payload": {"content": "ab\\ud800"}}') == [
        (
            "lone_surrogate",
            ("payload", "content"),
            "payload.content: the text holds a lone surrogate (U+D800) at index 2, which UTF-8 cannot carry; "
            "send valid Unicode",
        )
    ]


def test_the_message_says_when_the_lone_surrogate_is_in_a_key() -> None:
    assert messages('{"payload": {"x\\udfff": 1}}') == [
        (
            "lone_surrogate",
            ("payload", "x\\udfff"),
            "payload.x\\udfff: the key holds a lone surrogate (U+DFFF) at index 1, which UTF-8 cannot carry; "
            "send valid Unicode",
        )
    ]


def test_a_bare_string_frame_is_named_the_frame() -> None:
    assert messages('"\\udbff"')[0][2].startswith("the frame: the text holds a lone surrogate (U+DBFF) at index 0,")
