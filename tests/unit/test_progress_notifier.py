"""The worker's notifier sends a running job's progress to the socket's channel, and only logs a failure to."""

import asyncio
import logging

import pytest
from fast_channels.layers import InMemoryChannelLayer

from src.apps.background_jobs.messages import JobProgress, JobResult, ProgressUpdate
from src.worker_side.consumer_notifier import consumer_notifier
from src.worker_side.notifier import ChannelLayerNotifier


async def test_progress_reaches_the_sockets_channel_as_a_job_progress_event(
    channel_layer: InMemoryChannelLayer,
) -> None:
    channel = await channel_layer.new_channel()
    update = ProgressUpdate(job_id="generate_7", job_type="generate", progress=40, partial="Once upon")

    await consumer_notifier().progress(update, channel)

    event = await asyncio.wait_for(channel_layer.receive(channel), timeout=1)
    assert event == {
        "type": "handle_channel_event",
        "event_data": {
            "action": "job_progress",
            "payload": {"job_id": "generate_7", "job_type": "generate", "progress": 40, "partial": "Once upon"},
        },
    }


async def test_progress_that_cannot_be_delivered_is_logged_at_info_with_its_job_and_why_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def layer_down(event: JobResult | JobProgress, channel_name: str) -> None:
        raise ConnectionError("Redis is away")

    update = ProgressUpdate(job_id="translate_3", job_type="translate", progress=50)
    with caplog.at_level(logging.INFO):
        await ChannelLayerNotifier(layer_down).progress(update, "chan")

    (record,) = caplog.records
    assert record.levelname == "INFO"
    line = " ".join(record.getMessage().split())
    assert line == "[info ] could not deliver job progress error='Redis is away' job_id=translate_3"
