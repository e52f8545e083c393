"""Which client frames run a job, by the README's protocol section, written out by hand: the oracle for tests that
throw arbitrary frames at the consumer (never ``src``'s own message models)."""

import json
from typing import Any

from chanx.core.envelope import Envelope
from pydantic import ValidationError


def is_valid_job_frame(text: str, max_content_length: int) -> bool:
    """Whether the text frame ``text`` is one the README says is queued as a job.

    ``{"action":"job","payload":{"type":T,"content":C}}``: a JSON object whose ``action`` is ``"job"`` and whose
    ``payload`` is an object with a string ``content`` of at most ``max_content_length`` characters and, if it has
    a ``type``, a string one (``type`` defaults to ``default``). Missing or ill-typed fields, and content over the
    limit, are invalid; keys the protocol does not name are ignored. No text anywhere in the frame may hold a lone
    surrogate (a ``\ud800`` escape), which UTF-8 cannot carry. The frame must also be for the consumer itself, not
    routed elsewhere by chanx's envelope (``for_the_consumer_itself``).
    """
    try:
        frame = json.loads(text)
    except ValueError:
        return False
    return (
        isinstance(frame, dict)
        and utf8_carries(frame)
        and is_job(frame, max_content_length)
        and for_the_consumer_itself(frame)
    )


def utf8_carries(frame: Any) -> bool:
    """Whether UTF-8 can carry every key and string of the decoded frame: the encoder is the judge."""
    try:
        json.dumps(frame, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def is_job(frame: dict[str, Any], max_content_length: int) -> bool:
    """The README's ``job`` frame: action ``job``, a payload object, string content within the limit, a string
    type if any."""
    if frame.get("action") != "job":
        return False
    payload = frame.get("payload")
    if not isinstance(payload, dict):
        return False
    content = payload.get("content")
    job_type = payload.get("type", "default")
    return isinstance(content, str) and len(content) <= max_content_length and isinstance(job_type, str)


def for_the_consumer_itself(frame: dict[str, Any]) -> bool:
    """Whether chanx hands the frame to the consumer's own handlers: its envelope keys (``version``, ``topic``,
    ``ref``, ``seq``), if any, are well-typed, and it names no topic.

    The envelope is chanx's, not the project's (the README documents none of it), so it is judged by chanx's own
    model, with pydantic's lax coercions (``"1"`` is a fine ``version``); nothing here comes from ``src``.
    """
    try:
        return Envelope.model_validate(frame).topic is None
    except ValidationError:
        return False
