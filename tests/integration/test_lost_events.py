"""An outcome whose channel-layer event is lost (pub/sub keeps nothing) reaches its socket anyway, once."""

from typing import Any

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate
from src.settings import Settings
from tests.support.burst_worker import run_burst_worker
from tests.support.communicator import receive_but_progress, socket_on
from tests.support.protocol import CONNECTED, job_status


class LostEvents:
    """A notifier whose events never arrive, as when pub/sub publishes to nobody."""

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        """Drop the outcome."""

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        """Drop the progress."""


async def startup_losing_events(ctx: dict[str, Any]) -> None:
    """Worker start-up whose outcome events are all lost."""
    ctx["notifier"] = LostEvents()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Recovery looks for stored outcomes at once and often, to keep the tests short."""
    return settings.model_copy(
        update={
            "result_recovery_grace": 0.0,
            "result_recovery_interval": 0.05,
        }
    )


async def queue(ws: WebsocketCommunicator, job_type: str, content: str) -> str:
    """Queue a job over the socket; its id once it is reported queued."""
    await ws.send_json_to({"action": "job", "payload": {"type": job_type, "content": content}})
    job_id: str = (await ws.receive_json_from(timeout=2))["payload"]["job_id"]
    await ws.receive_json_from(timeout=2)
    return job_id


async def test_a_result_whose_event_was_lost_is_recovered_from_arqs_stored_result(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """A ``result`` whose event was lost is sent all the same, once, from the result ARQ stored."""
    job_id = await queue(ws, "translate", "thank you")

    await run_burst_worker(settings, on_startup=startup_losing_events)

    assert await ws.receive_json_from(timeout=2) == job_status(
        "result", job_id, "translate", "🌍 Translated: 'thank you' → 'gracias'"
    )
    assert await ws.receive_nothing(timeout=0.3)


async def test_a_failure_whose_event_was_lost_is_recovered_with_the_same_error_text(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """An ``error`` whose event was lost is sent all the same, with the text its live frame would have had."""
    job_id = await queue(ws, "generate", "slow")
    slow = settings.model_copy(update={"job_time_scale": 1.0, "task_timeouts": {"generate": 0.1}})

    await run_burst_worker(slow, on_startup=startup_losing_events)

    assert await receive_but_progress(ws) == job_status(
        "error", job_id, "generate", f"❌ Job {job_id} timed out after 0.1s"
    )


async def test_an_outcome_delivered_by_its_event_is_not_sent_again_by_recovery(
    ws: WebsocketCommunicator, settings: Settings
) -> None:
    """An outcome its event delivered is sent once: recovery from ARQ's store does not send it again."""
    job_id = await queue(ws, "default", "once")

    await run_burst_worker(settings)

    assert await ws.receive_json_from(timeout=2) == job_status("result", job_id, "default", "✅ Processed: ONCE")
    assert await ws.receive_nothing(timeout=0.3)


async def test_outcomes_for_another_sockets_jobs_are_not_relayed(app: FastAPI, settings: Settings) -> None:
    owner = socket_on(app)
    stranger = socket_on(app)
    for ws in (owner, stranger):
        assert (await ws.connect())[0]
        assert await ws.receive_json_from(timeout=2) == CONNECTED
    job_id = await queue(owner, "default", "mine")

    await run_burst_worker(settings)

    assert await owner.receive_json_from(timeout=2) == job_status("result", job_id, "default", "✅ Processed: MINE")
    assert await stranger.receive_nothing(timeout=0.3)
    for ws in (owner, stranger):
        await ws.disconnect()
