"""``REDIS_MIN_REPLICAS_ACK`` seen from a socket, on a real Redis with no replica: the job is refused with an error
frame, and counted as ``replicas_unavailable``: at 3 a.m. the refusal says the replicas are behind, not that Redis
is down (it answered)."""

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.settings import Settings
from tests.support.metric_samples import metric_samples, refusals


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One replica to wait for (this Redis has none), within half a second; ARQ's own enqueue."""
    return settings.model_copy(update={"redis_min_replicas_ack": 1, "enqueue_timeout": 0.5, "fast_path": False})


async def test_a_job_no_replica_acknowledges_gets_an_error_frame_counted_as_replicas_unavailable(
    app: FastAPI, ws: WebsocketCommunicator
) -> None:
    await ws.send_json_to({"action": "job", "payload": {"type": "default", "content": "hello"}})
    queuing = (await ws.receive_json_from(timeout=2))["payload"]
    error = (await ws.receive_json_from(timeout=2))["payload"]

    assert queuing["status"] == "queuing"
    assert error["status"] == "error"
    assert error["job_id"] == queuing["job_id"]
    assert "could not copy the job to 1 replica(s) in time" in error["message"]
    assert refusals(await metric_samples(app)) == {"replicas_unavailable": 1.0}
