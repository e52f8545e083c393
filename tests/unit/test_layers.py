"""The channel layer the consumer and the worker talk through: only the consumer's Redis layer is registered, on
``REDIS_URL``, on the master the sentinels name (``REDIS_SENTINELS``), or one host per ``CHANNEL_LAYER_URLS``,
retrying for as long as it takes; and it is kept listening on a channel of the server's own."""

import asyncio
from typing import Any

import pytest
from fast_channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer

from src.layers import JOBS_LAYER_ALIAS, keep_listening, setup_layers, teardown_layers
from src.settings import RECONNECT_ERRORS, Settings
from tests.support.recording_layer import RecordingLayer, registered_layer


async def test_setup_layers_registers_only_the_consumers_redis_layer() -> None:
    channel_layers.clear()

    setup_layers(Settings(redis_url="redis://127.0.0.1:1"))

    assert channel_layers.list_aliases() == [JOBS_LAYER_ALIAS]
    assert isinstance(get_channel_layer(JOBS_LAYER_ALIAS), RedisPubSubChannelLayer)
    await teardown_layers()
    assert channel_layers.list_aliases() == []


@pytest.mark.usefixtures("recorded_layers")
def test_the_apps_layer_is_redis_pub_sub_on_redis_url_retrying_for_as_long_as_it_takes() -> None:
    setup_layers(Settings(redis_url="redis://cache.internal:6380/3", channel_layer_prefix="e2e"))

    layer = registered_layer()
    (host,) = layer.kwargs["hosts"]
    assert layer.kwargs["prefix"] == "e2e"
    assert (host["address"], host["socket_connect_timeout"]) == ("redis://cache.internal:6380/3", 1.0)
    assert (host["retry"]._retries, host["retry_on_error"]) == (-1, list(RECONNECT_ERRORS))


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


# --- through sentinels, and sharded ----------------------------------------------------------------------------

SENTINELS = "10.0.0.1:26379,10.0.0.2:26380,10.0.0.3"


def registered_hosts() -> list[dict[str, Any]]:
    """The hosts the registered layer was built with."""
    layer = get_channel_layer(JOBS_LAYER_ALIAS)
    assert isinstance(layer, RecordingLayer)
    return list(layer.kwargs["hosts"])


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
