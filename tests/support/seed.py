"""The seed's contract, written out by hand from the tutorial (``seed/000_500b259515f3c61f.txt``), never imported
from ``src``: the oracle the tests hold the code to.

Each value below is copied from the tutorial's code blocks (``tasks.py``'s four tasks and ``consumer.py``'s
``handle_job``); each rule is the tutorial's own expression, restated. A test that needs an expected text or
duration takes it from here, so that a change in ``src`` cannot move the expectation along with it.
"""

from collections.abc import Callable, Mapping
from types import MappingProxyType

#: ``translate``'s table (the tutorial's ``translations`` dict), looked up by ``content.lower()``.
SEED_TRANSLATIONS: Mapping[str, str] = MappingProxyType(
    {
        "hello": "hola",
        "world": "mundo",
        "good morning": "buenos días",
        "thank you": "gracias",
    }
)

#: ``generate``'s canned response (the tutorial's ``response``).
SEED_AI_RESPONSE = "That's an interesting point... Based on my analysis, I would suggest exploring this topic further."

#: Simulated work per job type, in seconds (the tutorial's ``asyncio.sleep`` in each task); shortest first.
SEED_DURATIONS: Mapping[str, float] = MappingProxyType(
    {"default": 1.0, "translate": 2.0, "analyze": 3.0, "generate": 4.0}
)
#: The tutorial's job types (``JOB_FUNCTIONS``); any other type runs ``default``.
JOB_TYPES = tuple(SEED_DURATIONS)

#: The consumer's status on connect (``post_authentication``).
SEED_CONNECTED_TEXT = "🔄 Background Job Processor: Connected!"


def seed_translation(content: str) -> str:
    """``translate``: ``translations.get(content.lower(), f"[TRANSLATED: {content}]")``, quoted."""
    translated = SEED_TRANSLATIONS.get(content.lower(), f"[TRANSLATED: {content}]")
    return f"🌍 Translated: '{content}' → '{translated}'"


def seed_analysis(content: str) -> str:
    """``analyze``: characters (``len``), words (``len(content.split())``), vowels (``aeiou`` in ``lower()``)."""
    vowels = sum(1 for char in content.lower() if char in "aeiou")
    return (
        f"📊 Analysis of '{content}':\n"
        f"• Characters: {len(content)}\n"
        f"• Words: {len(content.split())}\n"
        f"• Vowels: {vowels}"
    )


def seed_ai_response(content: str) -> str:
    """``generate``: the canned response, under a line naming the content."""
    return f"🤖 AI Response to '{content}':\n{SEED_AI_RESPONSE}"


def seed_processed(content: str) -> str:
    """``default``: the content upper-cased."""
    return f"✅ Processed: {content.upper()}"


SEED_RESULT_RULES: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "default": seed_processed,
        "translate": seed_translation,
        "analyze": seed_analysis,
        "generate": seed_ai_response,
    }
)


def seed_result_text(job_type: str, content: str) -> str:
    """The tutorial's result text of a ``job_type`` job on ``content``."""
    return SEED_RESULT_RULES[job_type](content)


def seed_queuing_text(job_type: str, content: str) -> str:
    """``handle_job``'s first status: ``f"⏳ Queuing {job_type} job: {content}"``.

    The tutorial formats the type the client asked for; the README has the frames name the type that runs
    (``default`` for an unknown one), a documented departure: callers pass the type they expect to run.
    """
    return f"⏳ Queuing {job_type} job: {content}"


def seed_queued_text(job_id: str) -> str:
    """``handle_job``'s second status: ``f"📋 Job {job_id} queued successfully!"``."""
    return f"📋 Job {job_id} queued successfully!"
