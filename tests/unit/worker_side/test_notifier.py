"""The worker's notifier sends a running job's progress to the socket's channel, and only logs a failure to deliver a
progress report or an outcome."""

import asyncio
import logging

import pytest
from fast_channels.layers import InMemoryChannelLayer

from src.apps.background_jobs.messages import JobProgress, JobResult, ProgressUpdate
from src.apps.background_jobs.outcomes import error_outcome
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


async def test_an_outcome_the_notifier_cannot_deliver_is_logged_with_its_job_and_status_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def layer_down(event: JobResult | JobProgress, channel_name: str) -> None:
        raise ConnectionError("Redis is away")

    await ChannelLayerNotifier(layer_down).notify(error_outcome("generate_3", "generate", "boom"), "chan")

    (record,) = caplog.records
    assert record.levelname == "ERROR"
    first_line = " ".join(record.getMessage().splitlines()[0].split())
    assert first_line == "[error ] could not deliver job outcome job_id=generate_3 status=error"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConnectionError)
