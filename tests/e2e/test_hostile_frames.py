"""Arbitrary Unicode through a real server and worker (hypothesis): every frame gets an answer, one holding text
UTF-8 cannot carry is refused naming its field, a job that is queued ends as its result, the server and the worker
live on, and another socket is served all along."""

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Stack
from tests.support.frames import utf8_carries
from tests.support.protocol import PROMPT, has_status, is_final, job, job_status
from tests.support.ws_driver import JobSocket

#: Any code point, lone surrogates included and drawn often (hypothesis leaves them out of text unless asked).
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, codec=None, exclude_categories=())
ANY_TEXT = st.lists(st.characters(codec=None, exclude_categories=()) | SURROGATES, max_size=24).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(ANY_TEXT, children, max_size=3),
    max_leaves=6,
)
JOB_TYPES = st.sampled_from(["translate", "analyze", "generate", "default"]) | ANY_TEXT
FRAMES = st.one_of(
    st.fixed_dictionaries(
        {"action": st.just("job"), "payload": st.fixed_dictionaries({"type": JOB_TYPES, "content": ANY_TEXT})},
        optional={"extra": JSON_VALUES},
    ),
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(["job_lookup", "job_watch", "job_unwatch", "cancel"]),
            "payload": st.fixed_dictionaries({"job_id": ANY_TEXT}),
        }
    ),
    st.fixed_dictionaries({"action": ANY_TEXT | st.just("ping"), "payload": JSON_VALUES}),
    st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3),
)
#: Each frame as JSON text, its non-ASCII written as itself or as \u escapes (a lone surrogate only as an escape:
#: on the wire, text is UTF-8), or text that is not JSON at all.
WIRE_TEXT = st.tuples(FRAMES, st.booleans()).map(
    lambda drawn: json.dumps(drawn[0], ensure_ascii=drawn[1] or not utf8_carries(drawn[0]))
) | st.text(max_size=24)
#: Seconds a queued job of the scaled stack may take to end (generate: 0.2 s of work; off the fast path, a poll).
JOB_END = 10.0


def decoded(text: str) -> Any:
    """The frame as the server decodes it, or None if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


# One example is a frame on a socket of its own, beside a socket that queues a job of its own meanwhile. Off the fast
# path each job waits for ARQ's poll: 50 examples keep the test within seconds there too.
@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=WIRE_TEXT)
async def test_any_frame_gets_an_answer_the_worker_lives_and_another_socket_is_served(
    text: str, scaled_stack: Stack
) -> None:
    async with (
        httpx.AsyncClient(timeout=5.0) as http,
        JobSocket(http, scaled_stack.ws_url) as other,
        JobSocket(http, scaled_stack.ws_url) as ws,
    ):
        await other.receive(timeout=PROMPT)
        await ws.receive(timeout=PROMPT)
        await other.send(job("default", "beside"))
        await ws.send_text(text)

        answer = await ws.receive(timeout=PROMPT)
        queued = has_status("queuing")(answer)
        final = (await ws.receive_until(is_final(answer["payload"]["job_id"]), timeout=JOB_END))[-1] if queued else None
        other_id = (await other.receive_until(has_status("queued"), timeout=PROMPT))[-1]["payload"]["job_id"]
        other_final = (await other.receive_until(is_final(other_id), timeout=JOB_END))[-1]

    frame = decoded(text)
    if not utf8_carries(frame):
        event("refused: a lone surrogate")
        assert answer["action"] == "error"
        assert [detail["type"] for detail in answer["payload"]] == ["lone_surrogate"]
    elif queued:
        event("a job, queued")
        assert final is not None
        assert final["payload"]["status"] == "result", final
    else:
        event(f"answered: {answer['action']}")
    assert other_final == job_status("result", other_id, "default", "✅ Processed: BESIDE")
    assert scaled_stack.worker.is_running()
    assert scaled_stack.server.is_running()
