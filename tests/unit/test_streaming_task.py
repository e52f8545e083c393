"""The streaming type's task (``generate``): its simulated work is given its whole text, to report the part done
with each progress report, and those reports reach the socket's channel before the result."""

import asyncio
from typing import Any

import pytest
from fast_channels.layers import InMemoryChannelLayer

import src.worker_side.reporting
from src.settings import Settings
from src.tasks import generate
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.progress_reporter import Progress
from tests.support.seed import seed_ai_response


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
