"""How each side connects to Redis: the web side fails fast and bounds its waits, the worker and the layer reconnect."""

import asyncio
import logging
import re
from typing import Any

import pytest
from fast_channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

import src.layers
from src.layers import JOBS_LAYER_ALIAS, keep_listening, setup_layers, teardown_layers
from src.parts import StockParts
from src.plumbing.pools import web_pool
from src.settings import RECONNECT_ERRORS, Settings, reconnecting_retry
from src.tasks import shutdown, startup
from src.web.job_queue import JobQueue, QueueError
from tests.support.fake_arq import fake_arq_pool


class RecordingLayer:
    """Stands in for the Redis pub/sub layer: keeps what it was built with."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    async def flush(self) -> None:
        """Nothing to close."""


@pytest.fixture
def recorded_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup_layers builds RecordingLayers instead of Redis layers."""
    channel_layers.clear()
    monkeypatch.setattr(src.layers, "RedisPubSubChannelLayer", RecordingLayer)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings logged: the event and its key=value pairs, spaces collapsed, without the level tag."""
    return [
        re.sub(r"^\[warning *\] ", "", " ".join(r.getMessage().split()))
        for r in caplog.records
        if r.levelname == "WARNING"
    ]


def registered_layer() -> RecordingLayer:
    """The layer registered under the consumer's alias."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert isinstance(layer, RecordingLayer)
    return layer


def test_only_the_worker_rides_out_a_lost_redis_the_web_side_fails_fast() -> None:
    settings = Settings(redis_reconnect_attempts=42)

    assert settings.arq_redis.retry is None
    worker_retry = settings.worker_arq_redis.retry
    assert worker_retry is not None
    assert worker_retry._retries == 42
    assert issubclass(ConnectionRefusedError, worker_retry._supported_errors)


def test_reconnects_back_off_exponentially_from_50_ms_up_to_1_s() -> None:
    """A reconnecting retry waits 50 ms, twice as long each time up to 1 s, for its attempts, on connection errors."""
    retry = reconnecting_retry(3)

    assert [retry._backoff.compute(failures) for failures in range(6)] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert retry._retries == 3
    assert set(retry._supported_errors) == {*RECONNECT_ERRORS, OSError}


async def test_the_web_pool_connects_within_1_s_and_waits_redis_socket_timeout_for_an_answer() -> None:
    settings = Settings(redis_url="redis://cache.internal:6380/3", redis_socket_timeout=2.5, queue_name="q:web")

    pool = web_pool(settings)

    connection = pool.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"]) == ("cache.internal", 6380, 3)
    assert (connection["socket_connect_timeout"], connection["socket_timeout"]) == (1.0, 2.5)
    assert "retry" not in connection or connection["retry"] is None or connection["retry"]._retries == 0
    assert pool.default_queue_name == "q:web"
    await pool.aclose()


async def test_setup_layers_registers_only_the_consumers_redis_layer() -> None:
    channel_layers.clear()

    setup_layers(Settings(redis_url="redis://127.0.0.1:1"))

    assert channel_layers.list_aliases() == [JOBS_LAYER_ALIAS]
    assert isinstance(get_channel_layer(JOBS_LAYER_ALIAS), RedisPubSubChannelLayer)
    await teardown_layers()
    assert channel_layers.list_aliases() == []


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
def test_the_apps_layer_is_redis_pub_sub_on_redis_url_retrying_for_as_long_as_it_takes() -> None:
    setup_layers(Settings(redis_url="redis://cache.internal:6380/3", channel_layer_prefix="e2e"))

    layer = registered_layer()
    (host,) = layer.kwargs["hosts"]
    assert layer.kwargs["prefix"] == "e2e"
    assert (host["address"], host["socket_connect_timeout"]) == ("redis://cache.internal:6380/3", 1.0)
    assert (host["retry"]._retries, host["retry_on_error"]) == (-1, list(RECONNECT_ERRORS))


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


async def test_an_enqueue_redis_refuses_fails_saying_it_is_unavailable_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = fake_arq_pool()
    pool.connection_pool.connection_kwargs["server"].connected = False
    jobs = JobQueue(Settings(enqueue_timeout=1.0), StockParts(Settings(enqueue_timeout=1.0)), pool=pool)

    with pytest.raises(QueueError, match=r"^the job queue is unavailable$"):
        await jobs.enqueue("default", "default_3", "c", "channel")

    assert warnings(caplog) == ["enqueue failed error='FakeRedis is emulating a connection error.' job_id=default_3"]
    await pool.aclose()


async def test_the_handshakes_redis_check_gives_up_on_a_redis_that_does_not_answer_in_enqueue_timeout() -> None:
    pool = fake_arq_pool()
    jobs = JobQueue(Settings(enqueue_timeout=0.05), StockParts(Settings(enqueue_timeout=0.05)), pool=pool)
    never = asyncio.Event()

    async def hung_ping(**kwargs: Any) -> bool:
        await never.wait()
        return True

    pool.ping = hung_ping  # type: ignore[method-assign]

    assert await asyncio.wait_for(jobs.is_available(), timeout=1) is False
    await pool.aclose()


async def test_the_layer_is_kept_listening_on_a_channel_of_the_servers_own(
    channel_layer: InMemoryChannelLayer,
) -> None:
    name = await keep_listening()

    assert name.startswith("specific.")
    await channel_layer.send(name, {"type": "nothing"})
    assert await asyncio.wait_for(channel_layer.receive(name), timeout=1) == {"type": "nothing"}


async def test_keeping_a_layer_listening_before_it_is_set_up_says_so() -> None:
    channel_layers.clear()

    with pytest.raises(AssertionError, match=r"^setup_layers\(\) has not been called$"):
        await keep_listening()
