"""Watched jobs, per web server: a job's events, heard on the channel of the socket that queued it, brought to each
socket that watches it.

The worker sends a job's progress and outcome to one channel: the ``channel_name`` it was queued with, that of the
socket that queued it. Redis pub/sub delivers a message to every subscriber of its channel, so a server whose
sockets watch the job subscribes to that channel too (with redis-py, beside the channel layer's own subscriptions)
and sends each of the job's events on to each watching socket's own channel with the channel layer's ``send``. The
worker does as it always did: a job nobody watches costs no command more. A subscription is confirmed by Redis before
``watch`` returns, so an event published after it is heard.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from fast_channels.layers import get_channel_layer
from fast_channels.layers.redis import RedisPubSubChannelLayer
from fast_channels.layers.redis.utils import consistent_hash
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from src.apps.background_jobs.messages import JobResult
from src.layers import JOBS_LAYER_ALIAS, layer_connection, layer_through_sentinel
from src.plumbing.sentinel import master_pool
from src.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

#: The action of an event that carries a job's outcome (``JobResult``'s); the others carry progress.
OUTCOME_ACTION: str = JobResult.model_fields["action"].default
#: Seconds the reader waits after Redis failed it, before it reads again (redis-py reconnects and subscribes again).
READ_AGAIN_AFTER = 0.2


@dataclass
class Shard:
    """One Redis of the channel layer: its client, the subscriptions on it, and the task reading them."""

    redis: Redis
    pubsub: PubSub
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.Task[None] | None = None


class JobWatches:
    """Who watches which job on this server, and the queuing sockets' channels it listens to for them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._shards: list[Shard] = []
        #: Watched job id → the channels of the sockets watching it.
        self._watchers: dict[str, set[str]] = {}
        #: Watched job id → the channel its events are published on.
        self._channel_of: dict[str, str] = {}
        #: Channel listened to → the watched jobs published on it.
        self._jobs_on: dict[str, set[str]] = {}
        #: Channel listened to → resolved once Redis has confirmed the subscription.
        self._subscribed: dict[str, asyncio.Future[None]] = {}
        #: Watched job id → its latest event not yet sent on, in the order the jobs' events came (``_hold``).
        self._held: dict[str, Any] = {}
        self._sender: asyncio.Task[None] | None = None

    @property
    def channels(self) -> int:
        """How many queuing sockets' channels this server listens to."""
        return len(self._jobs_on)

    @property
    def backlog(self) -> int:
        """How many watched jobs have an event heard and not yet sent on."""
        return len(self._held)

    async def watch(self, job_id: str, channel: str, watcher: str) -> None:
        """Send ``job_id``'s events published on ``channel`` to ``watcher`` too, from the moment this returns.

        Raises ``RedisError`` (or is cancelled by its caller's deadline) if Redis does not confirm the subscription;
        the watch is undone then.
        """
        self._watchers.setdefault(job_id, set()).add(watcher)
        self._channel_of[job_id] = channel
        self._jobs_on.setdefault(channel, set()).add(job_id)
        subscribed = self._subscribed.get(channel)
        try:
            if subscribed is None:
                subscribed = self._subscribed[channel] = asyncio.get_running_loop().create_future()
                shard = self._shard(channel)
                async with shard.lock:
                    await shard.pubsub.subscribe(channel)
                if shard.reader is None:
                    shard.reader = asyncio.create_task(self._read(shard), name="read watched jobs' channels")
            await asyncio.shield(subscribed)
        except BaseException:
            await self.unwatch(job_id, watcher)
            raise

    async def unwatch(self, job_id: str, watcher: str) -> None:
        """Send ``job_id``'s events to ``watcher`` no more; stop listening to a channel no watched job is on."""
        watchers = self._watchers.get(job_id)
        if watchers is None or watcher not in watchers:
            return
        watchers.discard(watcher)
        if watchers:
            return
        del self._watchers[job_id]
        channel = self._channel_of.pop(job_id)
        jobs = self._jobs_on[channel]
        jobs.discard(job_id)
        if jobs:
            return
        del self._jobs_on[channel]
        subscribed = self._subscribed.pop(channel, None)
        if subscribed is not None and not subscribed.done():
            subscribed.cancel()
        shard = self._shard(channel)
        try:
            async with shard.lock:
                await shard.pubsub.unsubscribe(channel)
        except (RedisError, OSError) as exc:  # it is dropped with the connection anyway; its messages are ignored
            logger.info("could not unsubscribe from a watched channel", error=str(exc))

    async def close(self) -> None:
        """Stop reading and sending, and close the connections."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        for shard in self._shards:
            if shard.reader is not None:
                shard.reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await shard.reader
            await shard.pubsub.aclose()  # type: ignore[no-untyped-call]
            await shard.redis.aclose()
        self._shards.clear()

    def _shard(self, channel: str) -> Shard:
        """The Redis the channel layer publishes ``channel`` on (fast-channels' consistent hash over its hosts)."""
        if not self._shards:
            self._shards = [Shard(redis, redis.pubsub()) for redis in self._clients()]
        return self._shards[consistent_hash(channel, len(self._shards))]

    def _clients(self) -> list[Redis]:
        """A client for each of the channel layer's Redis hosts, connecting as the layer's own connections do."""
        settings = self._settings
        connection = layer_connection(settings)
        if layer_through_sentinel(settings):
            return [master_pool(settings, **connection)]
        return [Redis.from_url(url, **connection) for url in settings.layer_urls]

    async def _read(self, shard: Shard) -> None:
        """Hear the watched channels of ``shard``: confirm their subscriptions, and pass their jobs' events on."""
        while True:
            try:
                message = await shard.pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                logger.info("watched channels unreadable; reading again", error=str(exc))
                await asyncio.sleep(READ_AGAIN_AFTER)
                continue
            if message is None:
                continue
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            if message["type"] == "subscribe":
                subscribed = self._subscribed.get(channel)
                if subscribed is not None and not subscribed.done():
                    subscribed.set_result(None)
            elif message["type"] == "message" and channel in self._jobs_on:
                self._hold(message["data"])

    def _hold(self, data: bytes) -> None:
        """Keep an event of a watched job for the sender (an event of no watched job is dropped).

        The reader never waits on a send, so a subscription's confirmation is never held up behind events. A job's
        progress held and not yet sent is replaced by its next one (as the worker coalesces it), and its outcome
        replaces any progress and is replaced by nothing: the sender brings the latest word on each job.
        """
        layer = cast(RedisPubSubChannelLayer, get_channel_layer(JOBS_LAYER_ALIAS))
        try:
            event: Any = layer.deserialize(data)
            job_id, action = event["event_data"]["payload"]["job_id"], event["event_data"]["action"]
        except (ValueError, TypeError, KeyError) as exc:
            job_id = action = exc
        if not isinstance(job_id, str):
            logger.info("not a job's event, on a watched channel", error=str(job_id))
            return
        if job_id not in self._watchers:
            return
        held = self._held.get(job_id)
        if held is not None and held["event_data"]["action"] == OUTCOME_ACTION and action != OUTCOME_ACTION:
            return
        self._held[job_id] = event
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_held(layer), name="bring watched jobs' events")

    async def _send_held(self, layer: RedisPubSubChannelLayer) -> None:
        """Send each held event to the sockets watching its job, oldest job first, until none is held."""
        while self._held:
            job_id = next(iter(self._held))
            event = self._held.pop(job_id)
            for watcher in list(self._watchers.get(job_id, ())):
                try:
                    await layer.send(watcher, event)
                except (RedisError, OSError) as exc:  # as a lost publish: the watcher's recovery looks the outcome up
                    logger.info("could not pass a watched job's event on", job_id=job_id, error=str(exc))
