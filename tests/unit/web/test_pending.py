"""The jobs a socket waits on (``PendingJobs``): outcomes wait for their ``queued`` frame, are sent once, and are
recovered when lost; and through the socket, an outcome whose event never came (pub/sub drops it while the
subscription is down) is read from what ARQ stored once it is overdue, and sent."""

import asyncio

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from redis.exceptions import ConnectionError as RedisConnectionError

from src.apps.background_jobs.messages import JobOutcome
from src.settings import Settings
from src.web.pending import PendingJobs
from tests.support.communicator import queue_job
from tests.support.fake_arq import store_result
from tests.support.protocol import job_status
from tests.support.seed import SEED_DURATIONS

FAST = Settings(job_time_scale=0.0, result_recovery_grace=0.0, result_recovery_interval=0.01)


def outcome(job_id: str) -> JobOutcome:
    """A result outcome for ``job_id``."""
    return JobOutcome(status="result", job_id=job_id, job_type="default", message="✅ Processed: X")


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What PendingJobs logged: each event with its key=value pairs, spaces collapsed."""
    return [
        " ".join(r.getMessage().split()).removeprefix("[info ] ") for r in caplog.records if r.name == "src.web.pending"
    ]


class Recorder:
    """A stored-outcome lookup and a deliver callback that record their calls (and the loop's time of each
    lookup)."""

    def __init__(self, stored: dict[str, JobOutcome | Exception]) -> None:
        self.stored = stored
        self.lookups: list[str] = []
        self.looked_up_at: dict[str, list[float]] = {}
        self.delivered: list[JobOutcome] = []
        self.got_one = asyncio.Event()
        self.looked_up = asyncio.Event()

    async def lookup(self, job_id: str, job_type: str) -> JobOutcome | None:
        self.lookups.append(job_id)
        self.looked_up_at.setdefault(job_id, []).append(asyncio.get_running_loop().time())
        self.looked_up.set()
        found = self.stored.get(job_id)
        if isinstance(found, Exception):
            raise found
        return found

    async def deliver(self, delivered: JobOutcome) -> None:
        self.delivered.append(delivered)
        self.got_one.set()


async def test_an_overdue_outcome_is_looked_up_and_delivered_once(caplog: pytest.LogCaptureFixture) -> None:
    """An overdue outcome is looked up in ARQ's store, delivered once and logged; a late event is not relayed."""
    recorder = Recorder({"job-1": outcome("job-1")})
    pending = PendingJobs(FAST, recorder.lookup, recorder.deliver)

    pending.queued("job-1", "default")
    await asyncio.wait_for(recorder.got_one.wait(), timeout=1)

    assert recorder.delivered == [outcome("job-1")]
    assert "job-1" not in pending
    assert not await pending.claim("job-1"), "a late event for it is not relayed again"
    assert logged(caplog) == ["recovered an outcome whose event was lost job_id=job-1"]
    pending.close()


async def test_a_claimed_outcome_is_not_recovered_again() -> None:
    recorder = Recorder({"job-1": outcome("job-1")})
    slow = FAST.model_copy(update={"result_recovery_interval": 0.05})
    pending = PendingJobs(slow, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")

    assert pending.recovering  # a look is due while the outcome is owed
    assert await pending.claim("job-1")

    assert not pending.recovering  # nothing owed: no look is due
    assert (recorder.lookups, recorder.delivered) == ([], [])


async def test_a_lookup_that_fails_is_tried_again_next_round(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder({"job-1": RedisConnectionError("down")})
    pending = PendingJobs(FAST, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")
    async with asyncio.timeout(1):
        while len(recorder.lookups) < 2:  # noqa: ASYNC110 - waiting for the loop's second round
            await asyncio.sleep(0.005)  # polling the recorder: a bounded wait, not a timed assertion

    recorder.stored["job-1"] = outcome("job-1")
    await asyncio.wait_for(recorder.got_one.wait(), timeout=1)

    assert recorder.delivered == [outcome("job-1")]
    assert logged(caplog)[0] == "cannot look up overdue outcomes yet error=down"
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

    assert not pending.recovering
    assert (recorder.lookups, recorder.delivered, pending.in_flight) == ([], [], 0)


async def test_a_withdrawn_job_whose_cancel_failed_is_owed_again_and_recovered() -> None:
    recorder = Recorder({"job-1": outcome("job-1")})
    pending = PendingJobs(FAST.model_copy(update={"result_recovery_grace": 60.0}), recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")
    withdrawn = pending.withdraw("job-1")
    assert withdrawn is not None

    pending.restore("job-1", withdrawn)

    assert "job-1" in pending
    assert pending.in_flight == 1
    assert await pending.claim("job-1")
    pending.close()


async def test_releasing_a_job_that_is_not_being_queued_does_nothing() -> None:
    pending = PendingJobs(FAST, Recorder({}).lookup, Recorder({}).deliver)

    pending.release("job-1")

    assert pending.in_flight == 0


async def test_an_overdue_outcome_is_recovered_while_an_earlier_job_is_not_due_yet() -> None:
    recorder = Recorder({"job-2": outcome("job-2")})
    # No grace: each outcome is overdue after its type's work, 0.25 s for default and 1 s for generate.
    settings = FAST.model_copy(update={"job_time_scale": 0.25})
    pending = PendingJobs(settings, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "generate")  # owed first, overdue last

    pending.queued("job-2", "default")
    await asyncio.wait_for(recorder.got_one.wait(), timeout=1)

    # Unless the loop stalled for the 0.75 s between the two, job-1 was not due when job-2 was recovered.
    assert (recorder.lookups, recorder.delivered) == (["job-2"], [outcome("job-2")])
    pending.close()


async def test_an_outcome_claimed_while_its_lookup_is_in_flight_is_not_sent_again() -> None:
    """An event claiming the outcome while recovery's lookup is in flight wins: the lookup's answer is not sent."""
    looking, answer = asyncio.Event(), asyncio.Event()

    async def slow_lookup(job_id: str, job_type: str) -> JobOutcome | None:
        looking.set()
        await answer.wait()
        return outcome(job_id)

    recorder = Recorder({})
    pending = PendingJobs(FAST, slow_lookup, recorder.deliver)
    pending.queued("job-1", "default")
    await asyncio.wait_for(looking.wait(), timeout=1)

    assert await pending.claim("job-1")  # its event arrived meanwhile
    answer.set()
    async with asyncio.timeout(1):
        while pending.recovering:  # noqa: ASYNC110 - the look ends in the recovery's own task, which sets no event
            await asyncio.sleep(0)  # a turn of the loop at a time: a bounded wait, not a timed assertion

    assert recorder.delivered == []


async def test_an_outcome_is_not_looked_up_before_its_types_work_and_the_grace_are_over() -> None:
    recorder = Recorder({})  # nothing stored yet: each look finds nothing, and the next looks again
    settings = Settings(job_time_scale=0.05, result_recovery_grace=0.15, result_recovery_interval=0.01)
    overdue_after = SEED_DURATIONS["translate"] * 0.05 + 0.15  # 0.1 s of work, then the grace: 0.25 s
    pending = PendingJobs(settings, recorder.lookup, recorder.deliver)
    queued_at = asyncio.get_running_loop().time()

    pending.queued("job-1", "translate")
    await asyncio.wait_for(recorder.looked_up.wait(), timeout=2)

    # Looks come every 0.01 s from the start; none looked the job up before it was overdue.
    assert list(recorder.looked_up_at) == ["job-1"]
    assert recorder.looked_up_at["job-1"][0] - queued_at >= overdue_after - 1e-9
    pending.close()


async def test_jobs_owed_together_are_looked_up_once_each_per_look() -> None:
    recorder = Recorder({"job-1": outcome("job-1"), "job-2": outcome("job-2")})
    pending = PendingJobs(FAST, recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")
    pending.queued("job-2", "default")  # while a look is already due: no second timer

    async with asyncio.timeout(1):
        while len(recorder.delivered) < 2:  # noqa: ASYNC110 - waiting for both deliveries
            await asyncio.sleep(0.005)  # polling the recorder: a bounded wait, not a timed assertion

    assert sorted(recorder.lookups) == ["job-1", "job-2"]
    pending.close()


async def test_a_closed_socket_looks_for_nothing_more() -> None:
    pending = PendingJobs(FAST, Recorder({}).lookup, Recorder({}).deliver)
    pending.queued("job-1", "default")
    assert pending.recovering

    pending.close()

    assert not pending.recovering


async def test_a_look_under_way_counts_as_recovering_until_it_ends() -> None:
    """While recovery's lookup is in flight no timer is due, yet the socket is still recovering."""
    looking, ended = asyncio.Event(), asyncio.Event()

    async def stalled_lookup(job_id: str, job_type: str) -> JobOutcome | None:
        looking.set()
        try:
            await asyncio.Event().wait()  # Redis does not answer while the test looks
        finally:
            ended.set()
        return None

    recorder = Recorder({})
    pending = PendingJobs(FAST, stalled_lookup, recorder.deliver)
    pending.queued("job-1", "default")
    await asyncio.wait_for(looking.wait(), timeout=1)

    assert pending.recovering
    pending.close()
    await asyncio.wait_for(ended.wait(), timeout=1)  # closing the socket stopped the look


async def test_a_restored_job_keeps_the_time_its_frame_came_in() -> None:
    """A job owed again after a failed cancel is timed from its own frame, not from the restore."""
    recorder = Recorder({})
    pending = PendingJobs(FAST.model_copy(update={"result_recovery_grace": 60.0}), recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default", received_at=-5.0)
    withdrawn = pending.withdraw("job-1")
    assert withdrawn is not None

    pending.restore("job-1", withdrawn)

    claimed = await pending.claim("job-1")
    assert claimed is not None
    assert (claimed.job_type, claimed.received_at) == ("default", -5.0)
    pending.close()


async def test_a_job_queued_without_its_frames_time_is_timed_from_when_it_was_queued() -> None:
    recorder = Recorder({})
    pending = PendingJobs(FAST.model_copy(update={"result_recovery_grace": 60.0}), recorder.lookup, recorder.deliver)
    loop = asyncio.get_running_loop()
    before = loop.time()
    pending.queued("job-1", "default")
    after = loop.time()

    claimed = await pending.claim("job-1")

    assert claimed is not None
    assert before <= claimed.received_at <= after
    pending.close()


async def test_a_withdrawn_job_owed_again_takes_progress_afresh() -> None:
    """The progress sent before a cancel that could not be recorded does not hold back the restored job's."""
    recorder = Recorder({})
    pending = PendingJobs(FAST.model_copy(update={"result_recovery_grace": 60.0}), recorder.lookup, recorder.deliver)
    pending.queued("job-1", "default")
    assert await pending.advance("job-1", 50)
    withdrawn = pending.withdraw("job-1")
    assert withdrawn is not None

    pending.restore("job-1", withdrawn)

    assert await pending.advance("job-1", 10)
    pending.close()


# --- a lost outcome, through the socket ------------------------------------------------------------------------


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
