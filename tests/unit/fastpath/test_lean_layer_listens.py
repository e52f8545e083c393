"""The lean layer's one pattern subscription per shard, without Redis: confirmed before a channel is given out,
bounded in time, made once however many ask at once, made again after a failure only where it failed, and refused
on a shard whose reader already runs; a channel subscribed on its own goes to and leaves its own shard."""

import asyncio
import re
import uuid
from typing import Any

import pytest
from fast_channels.layers.redis.pubsub import RedisSingleShardConnection
from fast_channels.layers.redis.utils import consistent_hash

import src.fastpath.lean_channel_layer
from src.fastpath.lean_channel_layer import LeanChannelLayer, LeanLoopLayer, _subscribe_confirmed

SHARDS = ["redis://127.0.0.1:1/0", "redis://127.0.0.1:1/1"]
FIRST_SUBSCRIPTION = "the lean layer's pattern must be the first subscription on each shard"


class SlowToConfirm:
    """A pub/sub connection whose confirmation of a pattern comes after ``silences`` empty reads."""

    def __init__(self, silences: int) -> None:
        self.silences = silences
        self.patterns: list[str] = []
        self.reads = 0

    async def psubscribe(self, pattern: str) -> None:
        self.patterns.append(pattern)

    async def get_message(self, timeout: float | None = None) -> dict[str, Any] | None:
        self.reads += 1
        if self.reads <= self.silences:
            await asyncio.sleep(0)
            return None
        if self.silences < 0:  # never confirms
            await asyncio.sleep(3600)
        return {"type": "psubscribe", "pattern": self.patterns[-1].encode(), "channel": None, "data": 1}


def shard_on(pubsub: SlowToConfirm, monkeypatch: pytest.MonkeyPatch) -> tuple[RedisSingleShardConnection, list[str]]:
    """A shard whose pub/sub connection is ``pubsub``; the list notes when its reader was started."""
    shard = RedisSingleShardConnection({"address": SHARDS[0]}, None)  # type: ignore[arg-type]
    shard._pubsub = pubsub  # type: ignore[assignment]
    shard._redis = object()  # type: ignore[assignment]
    events: list[str] = []

    def start_reader() -> None:
        events.append(f"reader started after {pubsub.reads} reads")

    monkeypatch.setattr(shard, "_ensure_receiver", start_reader)
    return shard, events


async def test_the_reader_starts_only_once_redis_has_confirmed_the_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    pubsub = SlowToConfirm(silences=2)
    shard, events = shard_on(pubsub, monkeypatch)

    await _subscribe_confirmed(shard, "p.*")

    assert pubsub.patterns == ["p.*"]
    assert events == ["reader started after 3 reads"]


async def test_a_pattern_redis_never_confirms_fails_within_the_listen_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(src.fastpath.lean_channel_layer, "LISTEN_TIMEOUT", 0.05)
    shard, events = shard_on(SlowToConfirm(silences=-1), monkeypatch)

    subscribing = asyncio.create_task(_subscribe_confirmed(shard, "p.*"))
    done, _ = await asyncio.wait({subscribing}, timeout=2.0)

    assert subscribing in done
    assert isinstance(subscribing.exception(), TimeoutError)
    assert events == []


async def test_a_pattern_on_a_shard_whose_reader_already_runs_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    shard, _ = shard_on(SlowToConfirm(silences=0), monkeypatch)
    shard._receive_task = asyncio.get_running_loop().create_future()

    with pytest.raises(RuntimeError, match=f"^{re.escape(FIRST_SUBSCRIPTION)}$"):
        await _subscribe_confirmed(shard, "p.*")
    shard._receive_task.cancel()


@pytest.fixture
def confirmations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """Each shard's pattern subscription, noted (shard index, pattern); the second shard's first one fails."""
    made: list[tuple[int, str]] = []

    async def confirmed(shard: RedisSingleShardConnection, pattern: str) -> None:
        index = int(pattern.rpartition("!")[0].rpartition(".")[2])
        made.append((index, pattern))
        await asyncio.sleep(0)
        if index == 1 and sum(1 for shard_index, _ in made if shard_index == 1) == 1:
            raise ConnectionError("the second shard is not there yet")

    monkeypatch.setattr(src.fastpath.lean_channel_layer, "_subscribe_confirmed", confirmed)
    return made


async def test_after_a_failed_listen_only_the_shard_that_failed_subscribes_again(
    confirmations: list[tuple[int, str]],
) -> None:
    layer = LeanChannelLayer(hosts=SHARDS, prefix="test.")
    loop_layer = layer.loop_layer()

    with pytest.raises(ConnectionError):
        await layer.new_channel()
    channel = await layer.new_channel()
    await layer.new_channel()

    assert [index for index, _ in confirmations] == [0, 1, 1]
    assert all(pattern == f"{loop_layer.local_prefix}{index}!*" for index, pattern in confirmations)
    assert channel.startswith(loop_layer.local_prefix)


async def test_many_sockets_opening_at_once_share_one_listen(confirmations: list[tuple[int, str]]) -> None:
    layer = LeanChannelLayer(hosts=SHARDS[:1], prefix="test.")

    channels = await asyncio.gather(*(layer.new_channel() for _ in range(5)))

    assert len(set(channels)) == 5
    assert len(confirmations) == 1


async def test_a_prefix_with_glob_characters_is_escaped_in_the_pattern(confirmations: list[tuple[int, str]]) -> None:
    layer = LeanChannelLayer(hosts=SHARDS[:1], prefix="a*b?[c]\\^.")
    channel = await layer.new_channel()

    [(_, pattern)] = confirmations
    token = channel[len("a*b?[c]\\^.specific.") :].partition(".")[0]
    assert pattern == f"a\\*b\\?\\[c\\]\\\\\\^.specific.{token}.0!*"


async def test_after_a_flush_the_next_channel_listens_again(confirmations: list[tuple[int, str]]) -> None:
    layer = LeanChannelLayer(hosts=SHARDS[:1], prefix="test.")
    await layer.new_channel()
    await layer.flush()

    assert (await layer.new_channel()).startswith(layer.loop_layer().local_prefix)
    assert len(confirmations) == 2


@pytest.fixture
def shards_noted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str]]:
    """Each shard's own subscriptions and unsubscriptions, noted with the shard's index; the pattern taken as there."""
    noted: list[tuple[str, int, str]] = []

    async def listen(layer: LeanLoopLayer) -> None:
        pass

    def recorder(what: str) -> Any:
        async def record(shard: RedisSingleShardConnection, channel: str) -> None:
            noted.append((what, int(shard.host["address"][-1]), channel))

        return record

    monkeypatch.setattr(LeanLoopLayer, "listen", listen)
    monkeypatch.setattr(RedisSingleShardConnection, "subscribe", recorder("subscribe"))
    monkeypatch.setattr(RedisSingleShardConnection, "unsubscribe", recorder("unsubscribe"))
    return noted


async def test_a_channel_named_elsewhere_is_subscribed_and_let_go_on_its_own_shard(
    shards_noted: list[tuple[str, int, str]],
) -> None:
    layer = LeanChannelLayer(hosts=SHARDS, prefix="test.")
    loop_layer = layer.loop_layer()
    channels: list[str] = []
    while {consistent_hash(c, 2) for c in channels} != {0, 1}:  # names on both shards
        channels.append(f"elsewhere.specific.{uuid.uuid4().hex}")

    for channel in channels:
        await loop_layer._subscribe_to_channel(channel)
        await loop_layer.drop_channel(channel)

    expected = [(what, consistent_hash(c, 2), c) for c in channels for what in ("subscribe", "unsubscribe")]
    assert shards_noted == expected


async def test_a_channel_asked_for_with_another_prefix_is_named_with_it(
    shards_noted: list[tuple[str, int, str]],
) -> None:
    layer = LeanChannelLayer(hosts=SHARDS[:1], prefix="test.")

    channel = await layer.new_channel("other.")

    assert channel.startswith("test.other.")
    assert shards_noted == [("subscribe", 0, channel)]
