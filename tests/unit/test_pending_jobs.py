"""PendingJobs: outcomes wait for their ``queued`` frame, are sent once, and are recovered when lost."""

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError

from src.apps.background_jobs.messages import JobOutcome
from src.apps.background_jobs.pending import PendingJobs
from src.settings import Settings

FAST = Settings(job_time_scale=0.0, result_recovery_grace=0.0, result_recovery_interval=0.01)


def outcome(job_id: str) -> JobOutcome:
    """A result outcome for ``job_id``."""
    return JobOutcome(status="result", job_id=job_id, job_type="default", message="✅ Processed: X")


class Recorder:
    """A stored-outcome lookup and a deliver callback that record their calls."""

    def __init__(self, stored: dict[str, JobOutcome | Exception]) -> None:
        self.stored = stored
        self.lookups: list[str] = []
        self.delivered: list[JobOutcome] = []
        self.got_one = asyncio.Event()

    async def lookup(self, job_id: str, job_type: str) -> JobOutcome | None:
        self.lookups.append(job_id)
        found = self.stored.get(job_id)
        if isinstance(found, Exception):
            raise found
        return found

    async def deliver(self, delivered: JobOutcome) -> None:
        self.delivered.append(delivered)
        self.got_one.set()


async def test_an_overdue_outcome_is_looked_up_and_delivered_once() -> None:
    recorder = Recorder({"job-1": outcome("job-1")})
    pending = PendingJobs(FAST, recorder.lookup, recorder.deliver)

    pending.queued("job-1", "default")
    await asyncio.wait_for(recorder.got_one.wait(), timeout=1)

    assert recorder.delivered == [outcome("job-1")]
    assert "job-1" not in pending
    assert not await pending.claim("job-1"), "a late event for it is not relayed again"
    pending.close()


async def test_a_claimed_outcome_is_not_recovered_again() -> None:
    recorder = Recorder({"job-1": outcome("job-1")})
    slow = FAST.model_copy(update={"result_recovery_interval": 0.05})
    pending = PendingJobs(slow, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")

    assert await pending.claim("job-1")
    await asyncio.wait_for(pending._recovery, timeout=1)  # type: ignore[arg-type]

    assert (recorder.lookups, recorder.delivered) == ([], [])


async def test_a_lookup_that_fails_is_tried_again_next_round() -> None:
    recorder = Recorder({"job-1": RedisConnectionError("down")})
    pending = PendingJobs(FAST, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")
    async with asyncio.timeout(1):
        while len(recorder.lookups) < 2:  # noqa: ASYNC110 - waiting for the loop's second round
            await asyncio.sleep(0.005)

    recorder.stored["job-1"] = outcome("job-1")
    await asyncio.wait_for(recorder.got_one.wait(), timeout=1)

    assert recorder.delivered == [outcome("job-1")]
    pending.close()


async def test_an_outcome_waits_for_its_queued_frame() -> None:
    recorder = Recorder({})
    pending = PendingJobs(FAST.model_copy(update={"result_recovery_grace": 60.0}), recorder.lookup, recorder.deliver)
    pending.queuing("job-1")
    claim = asyncio.create_task(pending.claim("job-1"))
    await asyncio.sleep(0)  # let the claim start waiting: one turn of the loop, not a delay

    assert not claim.done()
    pending.queued("job-1", "default")
    pending.release("job-1")
    assert await asyncio.wait_for(claim, timeout=1)
    pending.close()


async def test_an_outcome_for_a_job_never_reported_queued_is_not_relayed() -> None:
    recorder = Recorder({})
    pending = PendingJobs(FAST, recorder.lookup, recorder.deliver)
    pending.queuing("job-1")
    pending.release("job-1")  # the queued frame could not be sent: the client left

    assert not await pending.claim("job-1")


async def test_jobs_in_flight_are_those_being_queued_and_those_owed_an_outcome() -> None:
    recorder = Recorder({})
    pending = PendingJobs(FAST.model_copy(update={"result_recovery_grace": 60.0}), recorder.lookup, recorder.deliver)
    pending.queuing("job-1")
    pending.queuing("job-2")
    pending.queued("job-1", "default")
    pending.release("job-1")

    assert pending.in_flight == 2
    assert await pending.claim("job-1")
    assert pending.in_flight == 1
    pending.close()


async def test_a_withdrawn_job_is_neither_relayed_nor_recovered() -> None:
    recorder = Recorder({"job-1": outcome("job-1")})
    slow = FAST.model_copy(update={"result_recovery_interval": 0.05})
    pending = PendingJobs(slow, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")

    assert pending.withdraw("job-1") is not None
    assert not await pending.claim("job-1")
    await asyncio.wait_for(pending._recovery, timeout=1)  # type: ignore[arg-type]

    assert (recorder.lookups, recorder.delivered, pending.in_flight) == ([], [], 0)
