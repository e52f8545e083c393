"""A socket whose job's outcome event was lost (pub/sub drops it while the subscription is down) still gets the
outcome: once it is overdue, the socket reads it from what ARQ stored."""

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator

from src.settings import Settings
from tests.support.protocol import job_status
from tests.unit.test_consumer_lookup_and_cancel import queue_job, store_result


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings, with outcomes overdue at once and looked for every 10 ms."""
    return Settings(
        redis_url="redis://unit-tests-use-no-redis:1",
        job_time_scale=0.0,
        result_recovery_grace=0.0,
        result_recovery_interval=0.01,
    )


async def test_an_outcome_whose_event_never_came_is_read_from_arqs_store_and_sent(
    ws: WebsocketCommunicator, pool: ArqRedis, settings: Settings
) -> None:
    job_id = await queue_job(ws)

    await store_result(pool, settings, job_id, True, {"result": "🌍 recovered"})

    assert await ws.receive_json_from(timeout=2) == job_status("result", job_id, "translate", "🌍 recovered")
