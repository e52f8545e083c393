"""The four tasks and the ``WorkerSettings`` ARQ is given: each task, called directly, reports its seed result to the
socket's channel and returns it, and its result text is the seed's for any content (hypothesis; the expected texts
are the tutorial's rules as ``tests.support.seed`` writes them out, never ``src``'s own table); the streaming type's
task (``generate``) streams its text through its progress; the worker settings are built from the settings object
(and from the environment, as ``arq src.tasks.WorkerSettings`` reads them), with the heartbeat ``/readyz`` and
start_dev rely on; and the worker's start-up and shutdown set up and take down its layer and notifier."""

import asyncio
import logging
import subprocess
import sys
from typing import Any, cast

import pytest
from arq.typing import WorkerSettingsBase
from arq.worker import get_kwargs
from fast_channels.layers import InMemoryChannelLayer, channel_layers
from hypothesis import assume, given
from hypothesis import strategies as st

import src.layers
import src.worker_side.reporting
import src.worker_side.simulated_work
from src.apps.background_jobs.messages import JobOutcome as Outcome
from src.apps.background_jobs.messages import (
    ProgressUpdate,
)
from src.layers import JOBS_LAYER_ALIAS
from src.parts import StockParts
from src.settings import Settings
from src.tasks import REPORT_GRACE, generate, shutdown, startup, worker_settings
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.progress_reporter import Progress
from tests.support.processes import PROJECT_ROOT
from tests.support.protocol import SEED_RESULTS_FOR_HELLO
from tests.support.recording_layer import registered_layer
from tests.support.seed import (
    JOB_TYPES,
    SEED_TRANSLATIONS,
    seed_ai_response,
    seed_analysis,
    seed_processed,
    seed_result_text,
)
from tests.support.tasks import TASKS, result_event, worker_ctx


@pytest.mark.parametrize("job_type", sorted(SEED_RESULTS_FOR_HELLO))
async def test_task_sends_its_seed_result_event_to_the_given_channel(
    job_type: str, settings: Settings, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()
    job_id = f"{job_type}_0123"

    await TASKS[job_type](worker_ctx(settings), job_id, "hello", channel)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event("result", job_id, job_type, SEED_RESULTS_FOR_HELLO[job_type])


@pytest.mark.parametrize("job_type", sorted(SEED_RESULTS_FOR_HELLO))
async def test_task_returns_the_seeds_result_dict(
    job_type: str, settings: Settings, channel_layer: InMemoryChannelLayer
) -> None:
    channel = await channel_layer.new_channel()

    returned = await TASKS[job_type](worker_ctx(settings), "job-1", "hello", channel)

    assert returned == {"status": "completed", "result": SEED_RESULTS_FOR_HELLO[job_type], "job_id": "job-1"}


async def test_analyze_counts_only_the_five_vowels(settings: Settings, channel_layer: InMemoryChannelLayer) -> None:
    channel = await channel_layer.new_channel()

    returned = await TASKS["analyze"](worker_ctx(settings), "analyze_x", "Xerxes' box", channel)

    assert returned["result"] == seed_analysis("Xerxes' box")
    assert returned["result"].endswith("• Vowels: 3")


async def test_a_task_does_its_simulated_work_under_its_type_then_reports_its_text(
    settings: Settings, channel_layer: InMemoryChannelLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked: list[tuple[dict[str, Any], str, str | None]] = []

    async def record_work(ctx: dict[str, Any], job_type: str, progress: Progress, text: str | None = None) -> None:
        worked.append((ctx, job_type, text))

    monkeypatch.setattr(src.worker_side.reporting, "simulate_work", record_work)
    channel = await channel_layer.new_channel()
    ctx = worker_ctx(settings)

    returned = await TASKS["analyze"](ctx, "analyze_5", "hi", channel)

    assert worked == [(ctx, "analyze", None)]  # analyze does not stream its text
    assert returned == {"status": "completed", "result": seed_analysis("hi"), "job_id": "analyze_5"}
    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == result_event("result", "analyze_5", "analyze", seed_analysis("hi"))


async def test_a_generate_task_streams_its_text_through_the_progress_its_work_reports(
    settings: Settings, channel_layer: InMemoryChannelLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = seed_ai_response("hi")
    worked: list[tuple[str, str | None]] = []

    async def work_half_way(ctx: dict[str, Any], job_type: str, progress: Progress, text: str | None = None) -> None:
        worked.append((job_type, text))
        await progress(50, partial="🤖 AI")

    monkeypatch.setattr(src.worker_side.reporting, "simulate_work", work_half_way)
    channel = await channel_layer.new_channel()

    returned = await generate({"settings": settings, "notifier": consumer_notifier()}, "generate_4", "hi", channel)

    assert worked == [("generate", text)]
    assert returned == {"status": "completed", "result": text, "job_id": "generate_4"}
    progress_event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert progress_event["event_data"] == {
        "action": "job_progress",
        "payload": {"job_id": "generate_4", "job_type": "generate", "progress": 50, "partial": "🤖 AI"},
    }
    result_event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert result_event["event_data"]["action"] == "job_result"


# --- result texts for any content ------------------------------------------------------------------------------

any_content = st.text()


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


# --- the worker settings ---------------------------------------------------------------------------------------


def test_worker_settings_are_built_from_the_settings_object() -> None:
    settings = Settings(
        queue_name="q:test",
        worker_max_jobs=7,
        worker_poll_delay=0.01,
        job_timeout=9.0,
        task_timeouts={"analyze": 2.0, "generate": 12.0},
        keep_result=60,
        max_tries=3,
        fast_path=False,
    )

    worker = worker_settings(settings)

    assert worker.functions == [TASKS["translate"], TASKS["analyze"], TASKS["generate"], TASKS["default"]]
    assert (worker.on_startup, worker.on_shutdown) == (startup, shutdown)
    # Each task times itself out; ARQ's timeout is a backstop a little above the longest of theirs.
    assert (worker.job_timeout, worker.max_tries) == (12.0 + REPORT_GRACE, 3)
    assert (worker.queue_name, worker.max_jobs, worker.poll_delay, worker.keep_result) == (
        "q:test",
        7,
        0.01,
        60,
    )
    assert worker.redis_pool is None  # ARQ makes its own, from redis_settings
    assert worker.ctx["settings"] is settings
    assert isinstance(worker.ctx["parts"], StockParts)
    assert worker.job_completion_wait == settings.worker_shutdown_grace
    assert (worker.redis_settings.host, worker.redis_settings.port) == (
        settings.arq_redis.host,
        settings.arq_redis.port,
    )


def test_without_the_fast_path_the_worker_polls_every_poll_delay_on_the_pool_arq_makes_itself() -> None:
    worker = worker_settings(Settings(worker_poll_delay=0.25, fast_path=False))

    assert (worker.poll_delay, worker.redis_pool) == (0.25, None)


def test_the_worker_honours_arqs_abort_so_jobs_can_be_cancelled() -> None:
    assert worker_settings(Settings()).allow_abort_jobs is True


#: Imports the task module as ``arq src.tasks.WorkerSettings`` does, and says what its ``WorkerSettings`` holds.
PROBE = (
    "import src.tasks as t; w = t.WorkerSettings; "
    "print(w.__name__, w.queue_name, type(w.ctx['parts']).__name__, w.redis_pool is not None)"
)


@pytest.mark.parametrize(
    ("fast_path", "parts", "brings_a_pool"),
    [("true", "FastPath", "True"), ("false", "StockParts", "False")],
    ids=["FAST_PATH=true", "FAST_PATH=false"],
)
def test_the_worker_settings_the_arq_command_reads_are_built_from_the_environment(
    fast_path: str, parts: str, brings_a_pool: str
) -> None:
    env = {"PATH": "/usr/bin:/bin", "QUEUE_NAME": "q:from-env", "FAST_PATH": fast_path}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["WorkerSettings", "q:from-env", parts, brings_a_pool]


def test_arq_is_given_worker_health_check_interval_as_its_heartbeat() -> None:
    """ARQ reads a settings class's own ``__dict__``: the interval must be there under ARQ's name for it."""
    arq_settings = worker_settings(Settings(worker_health_check_interval=7.0, fast_path=False))

    kwargs: dict[str, Any] = get_kwargs(cast(type[WorkerSettingsBase], arq_settings))
    assert kwargs["health_check_interval"] == 7.0


# --- the worker's start-up and shutdown ------------------------------------------------------------------------


async def test_worker_startup_puts_a_notifier_in_ctx_and_shutdown_removes_the_layer() -> None:
    channel_layers.clear()
    settings = Settings(redis_url="redis://127.0.0.1:1")
    ctx: dict[str, object] = {"settings": settings, "parts": StockParts(settings)}

    await startup(ctx)

    assert hasattr(ctx["notifier"], "notify")
    assert channel_layers.list_aliases() == [JOBS_LAYER_ALIAS]
    await shutdown(ctx)
    assert channel_layers.list_aliases() == []


@pytest.mark.usefixtures("recorded_layers")
async def test_the_workers_layer_retries_redis_reconnect_attempts_times_and_arqs_job_lines_follow_the_setting() -> None:
    arq_worker = logging.getLogger("arq.worker")
    level = arq_worker.level
    try:
        for log_jobs, expected in ((True, logging.INFO), (False, logging.WARNING)):
            settings = Settings(redis_reconnect_attempts=12, worker_log_jobs=log_jobs)
            ctx: dict[str, Any] = {"settings": settings, "parts": StockParts(settings)}

            await startup(ctx)

            (host,) = registered_layer().kwargs["hosts"]
            assert host["retry"]._retries == 12
            assert arq_worker.level == expected
            await shutdown(ctx)
    finally:
        arq_worker.setLevel(level)
