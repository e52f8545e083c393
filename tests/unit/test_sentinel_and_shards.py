"""Where each side finds Redis with ``REDIS_SENTINELS`` and ``CHANNEL_LAYER_URLS`` (nothing is connected here)."""

from typing import Any

import pytest
from fast_channels.layers import channel_layers, get_channel_layer
from redis.asyncio.sentinel import SentinelConnectionPool

import src.layers
from src.fastpath import install
from src.layers import JOBS_LAYER_ALIAS, setup_layers
from src.parts import StockParts
from src.plumbing.pools import web_pool
from src.settings import RECONNECT_ERRORS, Settings

SENTINELS = "10.0.0.1:26379,10.0.0.2:26380,10.0.0.3"


class RecordingLayer:
    """Stands in for the Redis pub/sub layer: keeps what it was built with."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@pytest.fixture
def recorded_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup_layers builds RecordingLayers instead of Redis layers."""
    channel_layers.clear()
    monkeypatch.setattr(src.layers, "RedisPubSubChannelLayer", RecordingLayer)


def registered_hosts() -> list[dict[str, Any]]:
    """The hosts the registered layer was built with."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert isinstance(layer, RecordingLayer)
    return list(layer.kwargs["hosts"])


def test_sentinels_and_layer_urls_read_as_lists_from_text_or_json() -> None:
    settings = Settings(redis_sentinels=SENTINELS, channel_layer_urls='["redis://a:1", "redis://b:2"]')

    assert settings.sentinel_hosts == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)]
    assert settings.layer_urls == ["redis://a:1", "redis://b:2"]
    assert Settings(redis_url="redis://q:6379/4").layer_urls == ["redis://q:6379/4"]


async def test_through_sentinel_the_web_pool_is_on_the_named_master_with_redis_urls_database() -> None:
    settings = Settings(redis_url="redis://ignored:1/3", redis_sentinels=SENTINELS, redis_sentinel_master="jobs")

    pool = web_pool(settings)

    connections = pool.connection_pool
    assert isinstance(connections, SentinelConnectionPool)
    assert connections.service_name == "jobs"
    assert connections.connection_kwargs["db"] == 3
    assert connections.connection_kwargs["socket_timeout"] == settings.redis_socket_timeout
    assert [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in connections.sentinel_manager.sentinels
    ] == settings.sentinel_hosts
    assert pool.default_queue_name == settings.queue_name
    await pool.aclose()


async def test_through_sentinel_the_workers_pool_retries_commands_but_not_a_dead_masters_address() -> None:
    settings = Settings(redis_sentinels=SENTINELS, redis_reconnect_attempts=7)

    pool = StockParts(settings).worker_pool()

    assert pool is not None
    assert isinstance(pool.connection_pool, SentinelConnectionPool)
    retry = pool.connection_pool.connection_kwargs["retry"]
    assert retry._retries == 7
    assert set(retry._supported_errors) == set(RECONNECT_ERRORS)  # OSError left to the command's retry
    await pool.aclose()


def test_without_sentinel_the_worker_builds_arqs_own_pool() -> None:
    assert StockParts(Settings(fast_path=False)).worker_pool() is None


@pytest.mark.usefixtures("recorded_layers")
def test_through_sentinel_the_layer_has_one_sentinel_host_entry() -> None:
    setup_layers(Settings(redis_url="redis://x:1/2", redis_sentinels=SENTINELS, redis_sentinel_master="jobs"))

    (host,) = registered_hosts()
    assert (host["sentinels"], host["master_name"], host["db"]) == (
        Settings(redis_sentinels=SENTINELS).sentinel_hosts,
        "jobs",
        2,
    )
    assert OSError not in host["retry"]._supported_errors


@pytest.mark.usefixtures("recorded_layers")
def test_channel_layer_urls_make_one_host_each_in_order() -> None:
    setup_layers(Settings(redis_url="redis://queue:1", channel_layer_urls="redis://a:1,redis://b:2"))

    hosts = registered_hosts()
    assert [host["address"] for host in hosts] == ["redis://a:1", "redis://b:2"]


@pytest.mark.parametrize(
    "settings", [Settings(redis_sentinels=SENTINELS), Settings(redis_min_replicas_ack=1)], ids=["sentinel", "wait"]
)
def test_the_fast_path_stays_off_through_sentinel_or_when_waiting_for_replicas(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert install(settings) is None
    assert "fast path off" in caplog.text
