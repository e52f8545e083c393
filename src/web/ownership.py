"""Jobs owned by their user (with authentication on): the job id itself carries its owner's tag.

An id is ``<type>_<32 hex>`` as always: 16 random hex digits, then 16 of an HMAC of the user and those digits.
So whether a job is a user's is read from its id, on any server, and no user can make another's job id pass as
theirs. The HMAC's key is 32 random bytes the servers share through Redis: the first server that needs it makes
it there (``SET NX``), the others read it. Nothing public or configured derives it, so holding the token key
(``AUTH_JWT_PUBLIC_KEY``, say) does not tell whose a job id is. Each server re-reads it every ``KEY_REFRESH``
seconds: if Redis loses it, whoever comes first makes a new one, and the servers agree again.

With authentication off, ids are uuid4s, no key is read, and any socket that knows an id may look the job up or
cancel it: the id is the capability.
"""

import asyncio
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable

from arq import ArqRedis

from src.web.job_queue import JobQueue, new_job_id
from src.web.lookup import bounded

#: Hex digits of randomness, then of the owner's tag, in an owned job's id.
RANDOM_DIGITS = TAG_DIGITS = 16
#: Where the key is kept in Redis, after ``QUEUE_NAME``.
KEY_SUFFIX = ":ownership-key"
#: Seconds a server tags and checks ids with the key it read before it reads the key again.
KEY_REFRESH = 60.0


async def read_or_make_key(pool: ArqRedis, name: str) -> bytes:
    """The key Redis holds under ``name``, made there (32 random bytes) if it holds none: ``SET NX`` then ``GET``
    in one transaction, so every server reads the one key that was made first."""
    async with pool.pipeline(transaction=True) as pipe:
        pipe.set(name, secrets.token_bytes(32), nx=True)
        pipe.get(name)
        _, key = await pipe.execute()
    return bytes(key)


class JobOwnership:
    """Makes job ids for a socket's user and tells whether an id is theirs (``user`` None: authentication is off).

    Both ask ``jobs``' pool for the key when they need it; ``QueueError`` when Redis does not give it within
    ``ENQUEUE_TIMEOUT``. ``clock`` (seconds) decides when the key is read again.
    """

    def __init__(self, jobs: JobQueue, clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = jobs
        self.clock = clock
        self._reading: asyncio.Future[bytes] | None = None
        self._read_at = float("-inf")

    async def new_job_id(self, job_type: str, user: str | None) -> str:
        """A fresh ARQ job id, readable like the seed's (``translate_…``): a uuid4, or a user's tagged id."""
        if user is None:
            return new_job_id(job_type)
        key = await self.key()
        random_part = uuid.uuid4().hex[:RANDOM_DIGITS]
        return f"{job_type}_{random_part}{tag(key, user, random_part)}"

    async def owns(self, user: str | None, job_id: str) -> bool:
        """Whether the socket of ``user`` may look the job up or cancel it (anyone may, with authentication off)."""
        if user is None:
            return True
        key = await self.key()  # for every id alike: an id of no user's takes as long as another user's
        digits = job_id.partition("_")[2]
        if len(digits) != RANDOM_DIGITS + TAG_DIGITS:
            return False
        random_part, its_tag = digits[:RANDOM_DIGITS], digits[RANDOM_DIGITS:]
        return hmac.compare_digest(its_tag.encode(errors="surrogatepass"), tag(key, user, random_part).encode())

    async def key(self) -> bytes:
        """The owners' key, read from Redis when first needed and again once ``KEY_REFRESH`` seconds have passed
        (or after a read failed); callers that come while it is being read share that read."""
        reading = self._reading
        if reading is None or self._must_read_again(reading):
            self._read_at = self.clock()
            settings = self.jobs.settings
            read = read_or_make_key(self.jobs.pool, settings.queue_name + KEY_SUFFIX)
            reading = self._reading = asyncio.ensure_future(bounded(read, settings.enqueue_timeout))
        return await asyncio.shield(reading)

    def _must_read_again(self, reading: "asyncio.Future[bytes]") -> bool:
        """Whether the last read is ``KEY_REFRESH`` seconds old, or failed."""
        if self.clock() - self._read_at >= KEY_REFRESH:
            return True
        return reading.done() and (reading.cancelled() or reading.exception() is not None)


def tag(key: bytes, user: str, random_part: str) -> str:
    """The owner's tag: the HMAC-SHA256 of the user and the id's random part, its first ``TAG_DIGITS`` hex digits."""
    message = f"{user}\0{random_part}".encode(errors="surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:TAG_DIGITS]
