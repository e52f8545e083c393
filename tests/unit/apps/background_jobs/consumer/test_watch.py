"""``job_watch`` and ``job_unwatch`` in-process: the answer, then the job's events as the hub brings them (a fake hub
here, which relays what a worker sends to the queuing socket's channel), once, never going down; the limit, another
socket's own job, a finished job, a hub Redis fails, and the watch's end with its job, its socket or an unwatch."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError

from src.apps.background_jobs.consumer import BackgroundJobConsumer
from src.apps.background_jobs.messages import JobOutcome, JobProgress, JobResult, ProgressUpdate
from src.apps.background_jobs.progress import store_progress
from src.main import create_app
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import ask, connected
from tests.support.fake_arq import start_running, store_result
from tests.support.protocol import job_status, unwatch, watch


class FakeWatches:
    """Records the watches; ``relay`` brings an event to each socket watching its job, as the hub does."""

    def __init__(self) -> None:
        self.watchers: dict[str, set[str]] = {}
        self.channels: dict[str, str] = {}
        self.fail: Exception | None = None
        #: While set, ``watch`` waits for it (a subscription Redis has not confirmed yet).
        self.hold: asyncio.Event | None = None
        #: The channel of the socket that asked for a watch last.
        self.asked_by = ""

    async def watch(self, job_id: str, channel: str, watcher: str) -> None:
        self.asked_by = watcher
        if self.fail is not None:
            raise self.fail
        if self.hold is not None:
            await self.hold.wait()
        self.watchers.setdefault(job_id, set()).add(watcher)
        self.channels[job_id] = channel

    async def unwatch(self, job_id: str, watcher: str) -> None:
        self.watchers.get(job_id, set()).discard(watcher)
        if not self.watchers.get(job_id):
            self.watchers.pop(job_id, None)

    async def relay(self, event: JobResult | JobProgress) -> None:
        for watcher in sorted(self.watchers.get(event.payload.job_id, ())):
            await BackgroundJobConsumer.send_event(event, watcher)

    async def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def settings() -> Settings:
    return Settings(job_time_scale=0.0, max_watches=2)


@pytest.fixture
def watches() -> FakeWatches:
    return FakeWatches()


@pytest.fixture
def app(settings: Settings, jobs: JobQueue, watches: FakeWatches) -> FastAPI:
    app = create_app(settings, jobs=jobs)
    app.state.watches = watches
    return app


@pytest_asyncio.fixture
async def watcher(app: FastAPI) -> AsyncIterator[WebsocketCommunicator]:
    """A second socket, the one that watches."""
    communicator = await connected(app)
    yield communicator
    await communicator.disconnect()


async def queue_job(ws: WebsocketCommunicator, pool: ArqRedis, job_type: str = "generate") -> tuple[str, str]:
    """Queue a job on ``ws``: its id and the channel its events are sent to."""
    await ws.send_json_to({"action": "job", "payload": {"type": job_type, "content": "hello"}})
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    (job,) = [queued for queued in await pool.queued_jobs() if queued.job_id == job_id]
    return job_id, job.args[2]


def progress(job_id: str, percent: int) -> JobProgress:
    return JobProgress(payload=ProgressUpdate(job_id=job_id, job_type="generate", progress=percent))


def result(job_id: str) -> JobResult:
    return JobResult(payload=JobOutcome(status="result", job_id=job_id, job_type="generate", message="🤖 done"))


def progress_frame(job_id: str, percent: int) -> dict[str, Any]:
    frame = job_status("progress", job_id, "generate", f"⚙️ Job {job_id}: {percent}%")
    frame["payload"]["progress"] = percent
    return frame


async def test_a_watch_answers_queued_then_brings_the_jobs_progress_and_its_result_once(
    ws: WebsocketCommunicator, watcher: WebsocketCommunicator, pool: ArqRedis, watches: FakeWatches
) -> None:
    job_id, channel = await queue_job(ws, pool)

    assert await ask(watcher, watch(job_id)) == job_status("queued", job_id, "generate", f"📋 Job {job_id} is queued")
    assert watches.channels[job_id] == channel
    for event in (progress(job_id, 30), progress(job_id, 60), result(job_id), result(job_id)):
        await watches.relay(event)

    assert [await watcher.receive_json_from(timeout=1) for _ in range(3)] == [
        progress_frame(job_id, 30),
        progress_frame(job_id, 60),
        job_status("result", job_id, "generate", "🤖 done"),
    ]
    assert await watcher.receive_nothing()
    assert job_id not in watches.watchers  # the watch ended with its job


async def test_a_watch_of_a_running_job_answers_its_progress_and_relays_none_below_it(
    ws: WebsocketCommunicator, watcher: WebsocketCommunicator, pool: ArqRedis, watches: FakeWatches
) -> None:
    job_id, _ = await queue_job(ws, pool)
    await start_running(pool, job_id)
    await store_progress(pool, ProgressUpdate(job_id=job_id, job_type="generate", progress=50, partial="Once"), 60)

    answer = await ask(watcher, watch(job_id))
    for percent in (40, 50, 70):
        await watches.relay(progress(job_id, percent))

    assert answer["payload"] == {
        "status": "in_progress",
        "job_id": job_id,
        "job_type": "generate",
        "message": f"⚙️ Job {job_id} is in progress",
        "progress": 50,
        "partial": "Once",
    }
    assert [await watcher.receive_json_from(timeout=1) for _ in range(2)] == [
        progress_frame(job_id, 50),
        progress_frame(job_id, 70),
    ]
    assert await watcher.receive_nothing()


async def test_a_watch_of_a_finished_job_is_its_status_and_watches_nothing(
    watcher: WebsocketCommunicator, pool: ArqRedis, settings: Settings, watches: FakeWatches
) -> None:
    job_id = "generate_" + "1" * 32
    await store_result(pool, settings, job_id, True, {"status": "completed", "result": "🤖 done", "job_id": job_id})

    assert await ask(watcher, watch(job_id)) == job_status("result", job_id, "generate", "🤖 done")
    assert watches.watchers == {}


async def test_a_watch_of_an_unknown_job_is_not_found_and_watches_nothing(
    watcher: WebsocketCommunicator, watches: FakeWatches
) -> None:
    job_id = "translate_" + "2" * 32

    assert await ask(watcher, watch(job_id)) == job_status(
        "not_found", job_id, "translate", f"❓ No job {job_id}: unknown, or its result has expired"
    )
    assert watches.watchers == {}


async def test_a_watch_of_the_sockets_own_job_is_its_status_alone(
    ws: WebsocketCommunicator, pool: ArqRedis, watches: FakeWatches
) -> None:
    job_id, channel = await queue_job(ws, pool)

    assert await ask(ws, watch(job_id)) == job_status("queued", job_id, "generate", f"📋 Job {job_id} is queued")
    await BackgroundJobConsumer.send_event(result(job_id), channel)

    assert await ws.receive_json_from(timeout=1) == job_status("result", job_id, "generate", "🤖 done")
    assert await ws.receive_nothing()
    assert watches.watchers == {}


async def test_one_watch_over_max_watches_gets_an_error_and_an_unwatch_frees_one(
    ws: WebsocketCommunicator, watcher: WebsocketCommunicator, pool: ArqRedis, watches: FakeWatches
) -> None:
    job_ids = [(await queue_job(ws, pool))[0] for _ in range(3)]
    for job_id in job_ids[:2]:
        assert (await ask(watcher, watch(job_id)))["payload"]["status"] == "queued"

    refused = await ask(watcher, watch(job_ids[2]))
    unwatched = await ask(watcher, unwatch(job_ids[0]))
    accepted = await ask(watcher, watch(job_ids[2]))
    await watches.relay(result(job_ids[0]))

    assert refused == job_status(
        "error", job_ids[2], "generate", "❌ Too many jobs watched on this socket (2); unwatch one first"
    )
    assert unwatched == job_status("unwatched", job_ids[0], "generate", f"👋 No longer watching job {job_ids[0]}")
    assert accepted["payload"]["status"] == "queued"
    assert set(watches.watchers) == {job_ids[1], job_ids[2]}
    assert await watcher.receive_nothing()  # the unwatched job's result is not brought here


async def test_an_unwatch_of_a_job_not_watched_answers_unwatched_all_the_same(
    watcher: WebsocketCommunicator,
) -> None:
    assert await ask(watcher, unwatch("nothing")) == job_status(
        "unwatched", "nothing", "unknown", "👋 No longer watching job nothing"
    )


async def test_a_watch_redis_cannot_set_up_is_an_error_frame_and_leaves_no_watch(
    ws: WebsocketCommunicator, watcher: WebsocketCommunicator, pool: ArqRedis, watches: FakeWatches
) -> None:
    job_id, _ = await queue_job(ws, pool)
    watches.fail = RedisConnectionError("Connection refused")

    answer = await ask(watcher, watch(job_id))
    watches.fail = None
    again = await ask(watcher, watch(job_id))

    assert answer == job_status("error", job_id, "generate", "❌ Error watching job: the job queue is unavailable")
    assert again["payload"]["status"] == "queued"  # the failed watch left nothing that says it is watched


async def test_a_sockets_watches_end_when_it_closes(
    ws: WebsocketCommunicator, app: FastAPI, pool: ArqRedis, watches: FakeWatches
) -> None:
    job_id, _ = await queue_job(ws, pool)
    leaving = await connected(app)
    await ask(leaving, watch(job_id))
    assert job_id in watches.watchers

    await leaving.disconnect()

    assert watches.watchers == {}


async def test_an_unwatch_sent_while_the_watch_is_set_up_ends_it_once_it_is(
    ws: WebsocketCommunicator, watcher: WebsocketCommunicator, pool: ArqRedis, watches: FakeWatches
) -> None:
    """The watch is answered first, then the unwatch; the job's result is not brought afterwards."""
    job_id, _ = await queue_job(ws, pool)
    watches.hold = asyncio.Event()
    await watcher.send_json_to(watch(job_id))
    await watcher.send_json_to(unwatch(job_id))
    assert await watcher.receive_nothing()  # both wait on the subscription
    watches.hold.set()

    answers = [await watcher.receive_json_from(timeout=1) for _ in range(2)]
    await watches.relay(result(job_id))
    await BackgroundJobConsumer.send_event(result(job_id), watches.asked_by)

    assert [answer["payload"]["status"] for answer in answers] == ["queued", "unwatched"]
    assert watches.watchers == {}
    assert await watcher.receive_nothing()  # not owed any more: not even a result sent straight to its channel
