"""The worker's Redis pool: an empty poll of the queue waits for an enqueue's wake-up instead of sleeping."""

import asyncio
import contextlib
from typing import Any

import structlog
from arq import ArqRedis
from arq.constants import in_progress_key_prefix
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from src.fastpath.connection_pool import ReadyConnectionPool
from src.fastpath.pipelines import ScriptedTransactions, ShortcutPipeline, transaction_script_source
from src.settings import RECONNECT_ERRORS, Settings, reconnecting_retry

logger = structlog.stdlib.get_logger(__name__)

#: ARQ's poll delay under a wakeable pool: the pause between loop iterations that found work.
WAKEABLE_PACE = 0.001


def wake_channel(queue_name: str) -> str:
    """The Redis pub/sub channel enqueues (and aborts) publish to and idle workers of ``queue_name`` wait on."""
    return queue_name + ":wake"


class WakeableArqRedis(ArqRedis):
    """ARQ's pool, given to the worker as ``redis_pool``; only its polls of the queue change.

    ARQ's worker polls its queue every ``poll_delay`` and sleeps in between, so a job waits for the
    next poll. Here a poll that finds the queue empty waits up to ``wait`` seconds for a message on
    ``wake_channel`` (every enqueue publishes one) and polls again at once, and the worker's own
    ``poll_delay`` is set to a millisecond (``WAKEABLE_PACE``): an idle worker blocks here, a
    busy one loops at once. Waking is an optimisation: without wake-ups the worker still finds every
    job, polling every ``wait`` seconds. Its pipelines can save the worker round trips
    (``BatchClaimWorker`` uses them).
    """

    def __init__(self, *args: Any, wake_channel: str, wait: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake_channel = wake_channel
        self.wake_wait = wait
        self._woken = asyncio.Event()
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._scripted = ScriptedTransactions(self.register_script(transaction_script_source()))

    async def zrangebyscore(self, name: Any, *args: Any, **kwargs: Any) -> Any:
        """Poll; if nothing there can start, wait for a wake-up (or ``wait`` seconds) and answer that nothing was
        found, so that ARQ's worker polls again at once (after ``WAKEABLE_PACE``).

        Not polling again here: the worker decides afresh whether to poll at all (after SIGTERM it takes no new
        job, and a job queued while it waited is left for the next worker).
        """
        if name != self.default_queue_name:
            return await super().zrangebyscore(name, *args, **kwargs)
        await self.arm_wakeup()
        found = await super().zrangebyscore(name, *args, **kwargs)
        if found and not await self._all_in_progress(found):
            return found
        # Nothing to start (running jobs stay on ARQ's queue until they finish): wait, do not spin.
        await self.wait_for_wakeup()
        return []

    async def arm_wakeup(self) -> None:
        """Listen for wake-ups (subscribing on first use) and forget those before now: call it before polling."""
        await self._listen()
        self._woken.clear()

    async def wait_for_wakeup(self) -> None:
        """Wait for a wake-up since ``arm_wakeup``, or ``wait`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.wake_wait):
                await self._woken.wait()

    def wake(self) -> None:
        """End a ``wait_for_wakeup`` now, as an enqueue's wake-up would (a job slot has come free, say)."""
        self._woken.set()

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> ShortcutPipeline:
        """A pipeline that can carry a riding publish, answer a transaction read ahead, and send a finishing
        transaction as one script (``pipelines``)."""
        return ShortcutPipeline.of(self, transaction, shard_hint, self._scripted)

    async def _all_in_progress(self, job_ids: list[bytes]) -> bool:
        """Whether every one of ``job_ids`` is already running (here or on another worker)."""
        running = await self.exists(*(in_progress_key_prefix + job_id.decode() for job_id in job_ids))
        return bool(running == len(job_ids))

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Stop listening, then close as usual."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        await super().aclose(close_connection_pool)

    async def _listen(self) -> None:
        """Subscribe to the wake channel once, and keep a task reading it."""
        if self._listener is not None:
            return
        self._pubsub = self.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.wake_channel)
        self._listener = asyncio.create_task(self._read_wakeups(self._pubsub), name="worker wake-ups")

    async def _read_wakeups(self, pubsub: PubSub) -> None:
        """Set the wake event for every message (the connection's retry rides out a Redis restart)."""
        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                logger.warning("wake-ups interrupted; polling meanwhile", error=str(exc))
                await asyncio.sleep(self.wake_wait)
                continue
            if message is not None:
                self.wake()


def worker_pool(settings: Settings) -> WakeableArqRedis:
    """The worker's pool for ``settings``: wakeable, and riding out Redis restarts like ``worker_arq_redis``."""
    connections = ReadyConnectionPool.from_url(
        settings.redis_url,
        retry=reconnecting_retry(settings.redis_reconnect_attempts),
        retry_on_error=list(RECONNECT_ERRORS),
        socket_connect_timeout=1.0,
    )
    return WakeableArqRedis(
        connections,
        default_queue_name=settings.queue_name,
        wake_channel=wake_channel(settings.queue_name),
        wait=settings.worker_poll_delay,
    )
