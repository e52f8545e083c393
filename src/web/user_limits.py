"""Per-user limits across the deployment (with authentication on): ``MAX_SOCKETS_PER_USER`` open sockets and
``MAX_JOBS_PER_USER`` jobs queued or running, counted in Redis, so that another server or a reconnect resets nothing.

**Sockets.** Each user has a sorted set of socket leases, scored by when each lease expires on Redis's clock. Taking
one drops the expired leases, then refuses if the user holds the most, else adds it (one script). A closed socket's
lease is removed; every ``RENEW_EVERY`` seconds each server renews its open sockets' leases (one pipeline), so the
leases of a server that crashed expire by themselves within ``LEASE`` seconds.

**Jobs.** Each user has a sorted set of job ids, scored by when each was reserved. A job is reserved before it is
enqueued (one script); at the limit, the script first drops the jobs that are no longer queued or running. ARQ keeps
a job's record (``arq:job:<id>``) while it is queued or running and deletes it when the job ends, storing its result
in the same transaction; a reservation with neither counts for a grace of ten ``ENQUEUE_TIMEOUT``s, while its enqueue
may be under way. A reservation whose enqueue failed is removed.

Keys are ``<QUEUE_NAME>:user:<sha256 of the user>:sockets`` and ``...:jobs``: a token's ``sub`` may be any text.
"""

import asyncio
import hashlib
import itertools
import uuid

import structlog
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from redis.commands.core import AsyncScript

from src.settings import Settings
from src.web.job_queue import JobQueue, QueueError
from src.web.lookup import bounded

logger = structlog.stdlib.get_logger(__name__)

#: Seconds a socket's lease lasts unless its server renews it, and how often each server renews its sockets' leases.
LEASE = 60.0
RENEW_EVERY = 20.0
#: Leases renewed by one script call (the calls of one renewal go in one pipeline).
RENEWALS_PER_CALL = 500
#: A reservation without a job record counts for this many ``ENQUEUE_TIMEOUT``s: its enqueue may be under way.
GRACE_IN_ENQUEUE_TIMEOUTS = 10

#: The milliseconds of Redis's clock, at the top of each script.
NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

#: KEYS[1]: the user's leases. ARGV: the new lease's id, the most sockets a user may hold, the lease's ms.
#: Returns 1 when the lease is taken, 0 when the user holds the most sockets.
TAKE_LEASE = (
    NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

#: KEYS: users' leases; ARGV: the lease's ms, then the lease in each key. A lease that has expired stays gone.
RENEW_LEASES = (
    NOW
    + """
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
"""
)

#: KEYS[1]: the user's jobs. ARGV: the job's id, the most jobs a user may have, the grace (ms), the key's time to
#: live (ms), ARQ's job record prefix, ARQ's result prefix. Returns 1 when the job is reserved, 0 when the user has
#: the most jobs queued or running.
RESERVE_JOB = (
    NOW
    + """
local limit = tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= limit then
  local reserved_before = now - tonumber(ARGV[3])
  local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #held, 2 do
    local job_id = held[i]
    if redis.call('EXISTS', ARGV[5] .. job_id) == 0
        and (tonumber(held[i + 1]) < reserved_before or redis.call('EXISTS', ARGV[6] .. job_id) == 1) then
      redis.call('ZREM', KEYS[1], job_id)
    end
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then
    return 0
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
)


def user_key(queue_name: str, user: str, kind: str) -> str:
    """The Redis key of ``user``'s ``kind`` (``sockets`` or ``jobs``): the user's text is hashed, whatever it holds."""
    digest = hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{queue_name}:user:{digest}:{kind}"


class UserLimits:
    """One server's part in the per-user limits: its sockets' leases and its jobs' reservations, on the app's pool.

    Every wait on Redis is bounded by ``ENQUEUE_TIMEOUT``; a Redis that does not answer raises ``QueueError``.
    """

    def __init__(self, settings: Settings, jobs: JobQueue, lease: float = LEASE, renew_every: float = RENEW_EVERY):
        self.settings = settings
        self.lease = lease
        self.renew_every = renew_every
        self._jobs = jobs
        self._scripts: dict[str, AsyncScript] = {}
        server = uuid.uuid4().hex[:16]  # a lease's id: this server's, and a number of its own
        self._lease_ids = (f"{server}:{n}" for n in itertools.count())
        #: This server's open sockets' leases: lease id → its user's key.
        self.leases: dict[str, str] = {}

    async def take_socket(self, user: str) -> str | None:
        """A lease on one more socket for ``user`` (its id), or None when the user holds ``MAX_SOCKETS_PER_USER``."""
        key = user_key(self.settings.queue_name, user, "sockets")
        lease_id = next(self._lease_ids)
        args: list[str | int] = [lease_id, self.settings.max_sockets_per_user, int(self.lease * 1000)]
        if not await self._run(TAKE_LEASE, [key], args):
            return None
        self.leases[lease_id] = key
        return lease_id

    async def release_socket(self, lease_id: str) -> None:
        """The socket is closed: remove its lease (if Redis does not answer, the lease expires by itself)."""
        key = self.leases.pop(lease_id)
        try:
            await bounded(self._jobs.pool.zrem(key, lease_id), self.settings.enqueue_timeout)
        except QueueError as exc:
            logger.info("a closed socket's lease is left to expire", error=str(exc))

    async def renew(self) -> None:
        """Renew the lease of every socket this server holds open, in one pipeline."""
        leases = list(self.leases.items())
        if not leases:
            return
        script = self._script(RENEW_LEASES)
        pool = self._jobs.pool
        async with pool.pipeline(transaction=False) as pipe:
            for start in range(0, len(leases), RENEWALS_PER_CALL):
                chunk = leases[start : start + RENEWALS_PER_CALL]
                args: list[str | int] = [int(self.lease * 1000), *(lease_id for lease_id, _ in chunk)]
                await script(keys=[key for _, key in chunk], args=args, client=pipe)
            await bounded(pipe.execute(), self.settings.enqueue_timeout)

    async def keep_renewing(self) -> None:
        """Renew the open sockets' leases every ``renew_every`` seconds, until cancelled (the app's lifespan)."""
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await self.renew()
            except QueueError as exc:
                logger.warning("could not renew the sockets' leases; trying again later", error=str(exc))

    async def reserve_job(self, user: str, job_id: str) -> bool:
        """Count the job among ``user``'s queued or running jobs, unless they are ``MAX_JOBS_PER_USER`` (then False)."""
        grace_ms = int(GRACE_IN_ENQUEUE_TIMEOUTS * self.settings.enqueue_timeout * 1000)
        args: list[str | int] = [job_id, self.settings.max_jobs_per_user, grace_ms, expires_extra_ms]
        args += [job_key_prefix, result_key_prefix]
        return bool(await self._run(RESERVE_JOB, [user_key(self.settings.queue_name, user, "jobs")], args))

    async def release_job(self, user: str, job_id: str) -> None:
        """The job was not queued: its reservation no longer counts (if Redis does not answer, after the grace)."""
        key = user_key(self.settings.queue_name, user, "jobs")
        try:
            await bounded(self._jobs.pool.zrem(key, job_id), self.settings.enqueue_timeout)
        except QueueError as exc:
            logger.info("a job that was not queued keeps its reservation for the grace", job_id=job_id, error=str(exc))

    async def _run(self, source: str, keys: list[str], args: list[str | int]) -> int:
        """Run a script on the app's pool within ``ENQUEUE_TIMEOUT``."""
        run = self._script(source)(keys=keys, args=args, client=self._jobs.pool)
        return int(await bounded(run, self.settings.enqueue_timeout))

    def _script(self, source: str) -> AsyncScript:
        """``source`` registered with redis-py (once; it is sent by its SHA, loaded when Redis does not know it)."""
        if source not in self._scripts:
            self._scripts[source] = self._jobs.pool.register_script(source)
        return self._scripts[source]
