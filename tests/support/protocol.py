"""The wire protocol as the e2e layer pins it: the seed's texts and durations, frame builders, predicates."""

from collections.abc import Iterable
from typing import Any

from dirty_equals import IsStr

# The seed's job types and durations, re-exported for the e2e layer.
from tests.support.seed import JOB_TYPES as JOB_TYPES
from tests.support.seed import SEED_CONNECTED_TEXT, seed_queued_text, seed_queuing_text
from tests.support.seed import SEED_DURATIONS as SEED_DURATIONS
from tests.support.ws_driver import Frame, FramePredicate, JSONFrame

#: The seed's result text of each job type for the content "hello".
SEED_RESULTS_FOR_HELLO = {
    "default": "✅ Processed: HELLO",
    "translate": "🌍 Translated: 'hello' → 'hola'",
    "analyze": "📊 Analysis of 'hello':\n• Characters: 5\n• Words: 1\n• Vowels: 2",
    "generate": (
        "🤖 AI Response to 'hello':\nThat's an interesting point... Based on my analysis, "
        "I would suggest exploring this topic further."
    ),
}

CONNECTED = {
    "action": "job_status",
    "payload": {"status": "connected", "message": SEED_CONNECTED_TEXT},
}
PING = {"action": "ping"}
PONG = {"action": "pong", "payload": None}

#: Seconds to wait for frames the server sends at once (connected, queuing, queued, pong, errors).
PROMPT = 2.0


def job(job_type: str, content: str = "hello") -> JSONFrame:
    """The frame a client sends to run a job."""
    return {"action": "job", "payload": {"type": job_type, "content": content}}


def job_id_of(job_type: str) -> IsStr:
    """Matches a job id the server hands out for ``job_type``."""
    return IsStr(regex=rf"{job_type}_[0-9a-f]{{32}}")


def job_status(status: str, job_id: Any, job_type: str, message: Any) -> JSONFrame:
    """A ``job_status`` frame about one job."""
    return {
        "action": "job_status",
        "payload": {"status": status, "job_id": job_id, "job_type": job_type, "message": message},
    }


def job_frames(job_type: str, job_id: str, content: str, result: str) -> list[JSONFrame]:
    """The three frames one job gets: queuing, queued and its result, all under ``job_id``."""
    return [
        job_status("queuing", job_id, job_type, seed_queuing_text(job_type, content)),
        job_status("queued", job_id, job_type, seed_queued_text(job_id)),
        job_status("result", job_id, job_type, result),
    ]


def seed_job_frames(job_type: str, job_id: str) -> list[JSONFrame]:
    """The three frames a job of ``job_type`` on "hello" gets, with the seed's texts."""
    return job_frames(job_type, job_id, "hello", SEED_RESULTS_FOR_HELLO[job_type])


def error(*details: JSONFrame) -> JSONFrame:
    """chanx's error frame listing validation errors."""
    return {"action": "error", "payload": list(details)}


def invalid(error_type: str, loc: list[str | int]) -> JSONFrame:
    """One validation error of chanx's error frame, matched on what ``docs/protocol.md`` documents of it: its ``type``
    and ``loc``. Its ``msg`` is pydantic's wording, which the protocol does not promise: any text."""
    return {"type": error_type, "loc": loc, "msg": IsStr(min_length=1)}


def has_status(status: str) -> FramePredicate:
    """Matches a ``job_status`` frame with ``status``."""
    return lambda frame: frame.get("action") == "job_status" and frame["payload"].get("status") == status


def is_pong(frame: JSONFrame) -> bool:
    """Matches the ``pong`` frame."""
    return frame == PONG


def status_of(frame: JSONFrame) -> str | None:
    """The status of a ``job_status`` frame, else None."""
    if frame.get("action") != "job_status":
        return None
    return str(frame["payload"]["status"])


def first_with_status(frames: Iterable[Frame], status: str) -> Frame:
    """The first recorded frame with ``status``."""
    return next(frame for frame in frames if status_of(frame.data) == status)


def is_progress(frame: JSONFrame) -> bool:
    """A running job's ``progress`` frame (issue 13)."""
    return frame.get("action") == "job_status" and frame["payload"].get("status") == "progress"


def without_progress(frames: Iterable[JSONFrame]) -> list[JSONFrame]:
    """``frames`` but the running jobs' ``progress`` frames: the seed's sequence of each job."""
    return [frame for frame in frames if not is_progress(frame)]


def by_job_id(frames: Iterable[JSONFrame]) -> dict[str, list[JSONFrame]]:
    """The ``job_status`` frames of each job, in arrival order, keyed by job id (in order of first frame)."""
    jobs: dict[str, list[JSONFrame]] = {}
    for frame in frames:
        if frame.get("action") == "job_status" and "job_id" in frame["payload"]:
            jobs.setdefault(frame["payload"]["job_id"], []).append(frame)
    return jobs


def nth_result(count: int) -> FramePredicate:
    """Matches the ``count``-th result frame it is shown (a fresh predicate per wait)."""
    seen = 0

    def is_nth_result(frame: JSONFrame) -> bool:
        nonlocal seen
        if status_of(frame) == "result":
            seen += 1
        return seen == count

    return is_nth_result


def is_final(job_id: str) -> FramePredicate:
    """Matches the ``result`` or ``error`` frame of ``job_id``."""
    return lambda frame: (
        frame.get("action") == "job_status"
        and frame["payload"].get("job_id") == job_id
        and frame["payload"]["status"] in {"result", "error"}
    )


#: The statuses after which a socket gets no more frames about a job (a watch's answer may be the last two too).
ENDING_STATUSES = frozenset({"result", "error", "cancelled", "not_found"})


def watch(job_id: Any) -> JSONFrame:
    """The frame that watches a job."""
    return {"action": "job_watch", "payload": {"job_id": job_id}}


def unwatch(job_id: Any) -> JSONFrame:
    """The frame that stops watching a job."""
    return {"action": "job_unwatch", "payload": {"job_id": job_id}}


def ends(job_id: str) -> FramePredicate:
    """Matches the frame after which a socket gets nothing more about ``job_id`` (``ENDING_STATUSES``)."""
    return lambda frame: frame["payload"].get("job_id") == job_id and frame["payload"]["status"] in ENDING_STATUSES


def payloads_of(job_id: str, frames: Iterable[JSONFrame]) -> list[dict[str, Any]]:
    """The payloads of ``job_id``'s ``job_status`` frames among ``frames``, in arrival order."""
    return [frame["payload"] for frame in by_job_id(frames).get(job_id, [])]
