"""ARQ's worker, polling in one round trip: claim what is due and the free slots allow, read the aborts.

Beneath ARQ's public API: ``Worker._poll_iteration``, ``_release_sem_dec_counter_on_complete``,
``run_job``'s first transaction, ``finish_job``, and the keys and retry counter ARQ's worker writes
(``tests/contract`` records what ARQ's own worker writes and compares).
"""

from importlib.resources import files
from typing import Any

import structlog
from arq import ArqRedis
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

from src.fastpath.pipelines import ReadAhead, ReadAheadMismatch, publishing, read_ahead_context
from src.fastpath.riding_outcomes import DeferredNotifier, event_publish, redis_pubsub_layer
from src.fastpath.wakeable_pool import WakeableArqRedis
from src.worker_side.notifier import ChannelLayerNotifier

logger = structlog.stdlib.get_logger(__name__)

#: Seconds ARQ's ``run_job`` keeps a job's retry counter (its ``EXPIRE``; arq 0.28 writes it as a literal).
RETRY_COUNTER_SECONDS = 88400


def claim_script_source() -> str:
    """The Lua script of one poll (``claim_due_jobs.lua``, beside this module)."""
    return files(__package__).joinpath("claim_due_jobs.lua").read_text(encoding="utf-8")


class BatchClaimWorker(Worker):
    """ARQ's ``Worker`` whose poll is one script instead of a round trip per step and four per job.

    ARQ's poll reads the queue, claims each job with WATCH, EXISTS, ZSCORE and MULTI/EXEC, then
    reads the abort requests: 2 + 4n round trips. The script makes the same checks, sets the same
    locks and reads the same abort set at once, and also starts each job it claims (``read_ahead``):
    ARQ's ``run_job`` gets its first transaction's replies from it. A poll that drains the queue waits
    for a wake-up (an enqueue, an abort, or a job slot coming free) instead of spinning, and a job's
    outcome is published in the transaction that stores its result (``finish_job``): a lookup never
    misses the result of a job whose frame went out.

    Its pool must be the fast path's ``WakeableArqRedis``, whose pipelines carry both shortcuts.
    """

    def __init__(self, *args: Any, redis_pool: ArqRedis | None = None, **kwargs: Any) -> None:
        if not isinstance(redis_pool, WakeableArqRedis):
            raise TypeError("BatchClaimWorker runs on the fast path's WakeableArqRedis (its redis_pool)")
        super().__init__(*args, redis_pool=redis_pool, **kwargs)
        # No pause between polls: a poll that claims fewer jobs than it wanted waits for a wake-up itself, and one
        # that claimed all it wanted polls again at once. (ARQ's pause, however short, delayed the job whose
        # wake-up came less than a pause after the poll began: a millisecond in the tail of every latency.)
        self.poll_delay_s = 0.0
        self.wakeable = redis_pool
        #: Whether polls start the jobs they claim; off for good once ARQ queues a transaction not read ahead.
        self.read_ahead = True
        self._claim_script: Any = None
        self._deferred: DeferredNotifier | None = None

    async def _poll_iteration(self) -> None:
        """Claim and start jobs, cancel aborted ones, reap finished tasks; then wait if nothing started."""
        await self.wakeable.arm_wakeup()
        wanted = self.claim_limit()
        started = await self.poll_once(wanted)
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()  # as ARQ does: an error in run_job itself propagates
        await self.heart_beat()
        # Fewer claimed than wanted: nothing else was due, so the next job's enqueue will wake us
        # (or, with every slot busy, a job's end will). As many as wanted: more may be due, poll again.
        if started < wanted or wanted == 0:
            await self.wakeable.wait_for_wakeup()

    async def poll_once(self, wanted: int) -> int:
        """One round trip: claim up to ``wanted`` due jobs (and start them, reading ahead); cancel aborted ones.

        Returns how many jobs were claimed.
        """
        if self._claim_script is None:
            self._claim_script = self.pool.register_script(claim_script_source())
        starting = self.read_ahead
        claimed, aborts = await self._claim_script(
            keys=[self.queue_name, in_progress_key_prefix, abort_jobs_ss, job_key_prefix, retry_key_prefix],
            args=[
                timestamp_ms(),
                int(self.in_progress_timeout_s * 1000),
                self._queue_read_offset,
                self.queue_read_limit,
                wanted,
                int(starting),
                RETRY_COUNTER_SECONDS,
            ],
        )
        width = 5 if starting else 2
        for at in range(0, len(claimed), width):
            job_id, score = claimed[at].decode(), int(float(claimed[at + 1]))
            await self.sem.acquire()
            self.job_counter += 1
            run = self.run_job(job_id, score)
            if starting:
                task = self.loop.create_task(run, context=read_ahead_context(self._started(job_id, claimed[at + 2 :])))
            else:
                task = self.loop.create_task(run)
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task
        if aborts:
            await self._cancel_running(aborts)
        return len(claimed) // width

    def _started(self, job_id: str, replies: list[Any]) -> ReadAhead:
        """The replies the script read for ``run_job``'s first transaction: the record, the try, the abort."""
        record, job_try, aborted = replies[:3]
        retry_key = retry_key_prefix + job_id
        commands: list[tuple[Any, ...]] = [
            ("GET", job_key_prefix + job_id),
            ("INCRBY", retry_key, 1),
            ("EXPIRE", retry_key, RETRY_COUNTER_SECONDS),
        ]
        answers: list[Any] = [record, job_try, True]
        if self.allow_abort_jobs:
            commands.append(("ZREM", abort_jobs_ss, job_id))
            answers.append(aborted)
        return ReadAhead(commands, answers)

    def claim_limit(self) -> int:
        """How many jobs this poll may claim: the free slots, and what is left of a burst's ``max_burst_jobs``."""
        if not self.allow_pick_jobs:
            return 0
        limit = self.max_jobs - self.job_counter
        if self.burst and self.max_burst_jobs >= 0:
            limit = min(limit, self.max_burst_jobs - self._jobs_started())
        return max(limit, 0)

    async def _cancel_running(self, abort_job_ids: list[bytes]) -> None:
        """Cancel the running jobs among ``abort_job_ids``, as ARQ does (queued ones are dropped when they start)."""
        aborted = set()
        for job_id in (job_id_b.decode() for job_id_b in abort_job_ids):
            task = self.job_tasks.get(job_id)
            if task is not None:
                aborted.add(job_id)
                task.cancel()
        if aborted:
            self.aborting_tasks.update(aborted)
            await self.pool.zrem(abort_jobs_ss, *aborted)

    def _release_sem_dec_counter_on_complete(self) -> None:
        """A job is done; if every slot was busy, a waiting poll need not wait for a wake-up to use this one."""
        was_full = self.job_counter >= self.max_jobs
        super()._release_sem_dec_counter_on_complete()
        if was_full:
            self.wakeable.wake()

    async def run_job(self, job_id: str, score: int) -> None:
        """ARQ's run, its task's outcome held for ``finish_job``; one still held at the end is sent the usual way."""
        deferred = self._deferring_notifier()
        try:
            await super().run_job(job_id, score)
        except ReadAheadMismatch as mismatch:
            await self._put_back(job_id, mismatch)
        finally:
            if deferred is not None:
                await deferred.release(job_id)

    async def _put_back(self, job_id: str, mismatch: ReadAheadMismatch) -> None:
        """ARQ's first transaction was not the one read ahead: stop reading ahead, and let the job be claimed again.

        The script has counted the job's try and taken its abort request; the try stays counted (the
        job is retried, as a failed job is) and the abort request is put back.
        """
        self.read_ahead = False
        logger.error(
            "ARQ's run_job queued a transaction the fast path did not read ahead; reading ahead is off "
            "from now on and the job goes back on the queue",
            job_id=job_id,
            expected=mismatch.read_ahead.commands,
            queued=mismatch.queued,
        )
        async with self.pool.pipeline(transaction=True) as pipe:
            pipe.delete(in_progress_key_prefix + job_id)
            if self.allow_abort_jobs and mismatch.read_ahead.replies[-1]:
                pipe.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
            await pipe.execute()

    async def finish_job(self, job_id: str, *args: Any) -> None:
        """ARQ's finish (result stored, job off the queue) with the job's held outcome published in it; an outcome
        that cannot be written (a channel name UTF-8 cannot carry, say) is left to run_job's release, and the job
        finished all the same: no job's outcome can stop the worker."""
        deferred = self._deferred
        if deferred is None or (held := deferred.take(job_id)) is None:
            await super().finish_job(job_id, *args)
            return
        try:
            rider = event_publish(deferred.layer, *held)
        except Exception as exc:
            logger.error("a job's outcome cannot be published in its finish", job_id=job_id, error=repr(exc))
            await deferred.notify(*held)  # held again: run_job's release tries the usual way, which logs its failure
            await super().finish_job(job_id, *args)
            return
        try:
            with publishing(*rider):
                await super().finish_job(job_id, *args)
        except BaseException:
            await deferred.notify(*held)  # not published: held again, for run_job's release
            raise

    def _deferring_notifier(self) -> DeferredNotifier | None:
        """The tasks' notifier made to defer (once), if it sends through the Redis pub/sub layer on the queue's
        Redis (with a sharded layer, or one elsewhere, outcomes are published the usual way)."""
        notifier = self.ctx.get("notifier")
        if isinstance(notifier, DeferredNotifier):
            return notifier
        layer = redis_pubsub_layer(self.ctx["settings"].redis_url)
        if not isinstance(notifier, ChannelLayerNotifier) or layer is None:
            return None
        self._deferred = DeferredNotifier(notifier, layer)
        self.ctx["notifier"] = self._deferred
        return self._deferred
