"""The typed client chanx generated from the AsyncAPI spec (``clients/background_jobs_client``) drives the real
server: it sends typed messages and every frame it gets back validates as the spec's types."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from clients.background_jobs_client.background_jobs import (
    BackgroundJobsClient,
    ConnectedStatus,
    IncomingMessage,
    JobLookupMessage,
    JobMessage,
    JobPayload,
    JobRef,
    JobStatus,
    JobStatusMessage,
    JobUnwatchMessage,
    JobWatchMessage,
    PingMessage,
    PongMessage,
)
from tests.e2e.conftest import Stack
from tests.support.protocol import PROMPT, SEED_RESULTS_FOR_HELLO, job_id_of

#: Seconds a job on the scaled stack may take to its result.
RESULT_TIMEOUT = 5.0
#: The statuses that end a job.
OUTCOMES = ("result", "error", "cancelled")


class RecordingClient(BackgroundJobsClient):
    """The generated client, with every message it receives put on a queue."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.received: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        self.connection_error: Exception | None = None

    async def handle_message(self, message: IncomingMessage) -> None:
        """Record the message."""
        await self.received.put(message)

    async def handle_websocket_connection_error(self, e: Exception) -> None:
        """Keep the error for the test to report (the generated client would swallow it)."""
        self.connection_error = e

    async def receive_job(self, timeout: float) -> list[JobStatusMessage]:
        """One job's messages up to its outcome (result, error or cancelled), each waited for with ``timeout``."""
        messages: list[JobStatusMessage] = []
        while not messages or messages[-1].payload.status not in OUTCOMES:
            message = await self.receive(timeout)
            assert isinstance(message, JobStatusMessage)
            messages.append(message)
        return messages

    async def receive(self, timeout: float) -> IncomingMessage:
        """The next message, waited for with a timeout."""
        try:
            return await asyncio.wait_for(self.received.get(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no message within {timeout}s (connection error: {self.connection_error!r})"
            ) from None


@asynccontextmanager
async def typed_client(stack: Stack) -> AsyncIterator[RecordingClient]:
    """The generated client connected to ``stack``'s server, its connected status read; disconnected after."""
    client = RecordingClient(f"ws://127.0.0.1:{stack.server.port}")
    listening = asyncio.create_task(client.handle(), name="typed client")
    try:
        assert await client.receive(PROMPT) == JobStatusMessage(payload=ConnectedStatus())
        yield client
    finally:
        if hasattr(client, "websocket"):
            await client.disconnect()
        await asyncio.wait_for(listening, timeout=PROMPT)


def status(status: str, job_id: str, job_type: str, message: str) -> JobStatusMessage:
    """The typed ``job_status`` message about one job."""
    return JobStatusMessage(payload=JobStatus.model_validate(locals()))


async def test_typed_client_runs_a_translate_job_to_its_seed_result(scaled_stack: Stack) -> None:
    """The typed client's ``job`` gets ``queuing``, ``queued`` and the tutorial's result, under one ``job_id``."""
    async with typed_client(scaled_stack) as client:
        await client.send_message(JobMessage(payload=JobPayload(type="translate", content="hello")))

        messages = await client.receive_job(RESULT_TIMEOUT)

        queuing = messages[0]
        assert isinstance(queuing.payload, JobStatus)
        job_id = queuing.payload.job_id
        assert job_id == job_id_of("translate")
        assert [m for m in messages if m.payload.status != "progress"] == [
            status("queuing", job_id, "translate", "⏳ Queuing translate job: hello"),
            status("queued", job_id, "translate", f"📋 Job {job_id} queued successfully!"),
            status("result", job_id, "translate", SEED_RESULTS_FOR_HELLO["translate"]),
        ]


async def test_typed_client_sees_a_running_jobs_progress_rise_before_its_result(real_time_stack: Stack) -> None:
    async with typed_client(real_time_stack) as client:
        await client.send_message(JobMessage(payload=JobPayload(type="default", content="hello")))

        messages = await client.receive_job(PROMPT + real_time_stack.pickup_delay)

    statuses = [m.payload.status for m in messages]
    progress = [m.payload for m in messages if m.payload.status == "progress"]
    assert statuses[:2] == ["queuing", "queued"]
    assert statuses[-1] == "result"
    assert set(statuses[2:-1]) == {"progress"}
    assert len(progress) >= 2  # default's 1 s of work: at least one per 0.5 s
    percents = [p.progress for p in progress if isinstance(p, JobStatus) and p.progress is not None]
    assert len(percents) == len(progress)
    assert percents == sorted(percents)
    assert all(isinstance(p, JobStatus) and p.message == f"⚙️ Job {p.job_id}: {p.progress}%" for p in progress)


async def test_typed_client_looks_up_a_finished_job_from_a_new_connection(scaled_stack: Stack) -> None:
    """``job_lookup`` from a new connection answers a finished job with the very ``result`` frame its socket got."""
    async with typed_client(scaled_stack) as client:
        await client.send_message(JobMessage(payload=JobPayload(type="analyze", content="hello")))
        messages = await client.receive_job(RESULT_TIMEOUT)
    result = messages[-1]
    assert isinstance(result, JobStatusMessage)
    assert isinstance(result.payload, JobStatus)

    async with typed_client(scaled_stack) as client:
        await client.send_message(JobLookupMessage(payload=JobRef(job_id=result.payload.job_id)))

        assert await client.receive(PROMPT) == result


async def test_typed_client_watches_a_job_from_a_second_connection_and_unwatches_it(real_time_stack: Stack) -> None:
    """``job_watch`` from a second connection answers where the job stands and brings its one result, the very frame
    the first connection gets; ``job_unwatch`` answers ``unwatched``."""
    async with typed_client(real_time_stack) as owner, typed_client(real_time_stack) as watcher:
        await owner.send_message(JobMessage(payload=JobPayload(type="translate", content="hello")))
        queuing = await owner.receive(PROMPT)
        assert isinstance(queuing, JobStatusMessage)
        assert isinstance(queuing.payload, JobStatus)
        job_id = queuing.payload.job_id
        assert await owner.receive(PROMPT) == status(
            "queued", job_id, "translate", f"📋 Job {job_id} queued successfully!"
        )
        await watcher.send_message(JobWatchMessage(payload=JobRef(job_id=job_id)))
        watched = await watcher.receive_job(PROMPT + 2 + real_time_stack.pickup_delay)
        owned = await owner.receive_job(PROMPT)
        await watcher.send_message(JobUnwatchMessage(payload=JobRef(job_id=job_id)))
        unwatched = await watcher.receive(PROMPT)

    assert watched[0].payload.status in ("queued", "in_progress")
    assert watched[-1] == owned[-1]
    assert watched[-1] == status("result", job_id, "translate", SEED_RESULTS_FOR_HELLO["translate"])
    assert unwatched == status("unwatched", job_id, "translate", f"👋 No longer watching job {job_id}")


async def test_typed_client_gets_pong_for_ping(scaled_stack: Stack) -> None:
    """The typed client's ``ping`` is answered with ``pong``."""
    async with typed_client(scaled_stack) as client:
        await client.send_message(PingMessage())

        assert await client.receive(PROMPT) == PongMessage()
