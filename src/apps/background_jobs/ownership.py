"""Jobs owned by their user (with authentication on): the job id itself carries its owner's tag.

An id is ``<type>_<32 hex>`` as always: 16 random hex digits, then 16 of an HMAC of the user and those digits.
So whether a job is a user's is read from its id, on any server, without asking Redis, and no user can make
another's job id pass as theirs. With authentication off, ids are uuid4s and any socket that knows an id may
look the job up or cancel it: the id is the capability.
"""

import hashlib
import hmac
import uuid

from src.job_queue import new_job_id
from src.settings import Settings

#: Hex digits of randomness, then of the owner's tag, in an owned job's id.
RANDOM_DIGITS = TAG_DIGITS = 16


class JobOwnership:
    """Makes job ids for a socket's user and tells whether an id is theirs (``user`` None: authentication is off)."""

    def __init__(self, settings: Settings) -> None:
        if settings.auth_jwt_secret is not None:
            secret = settings.auth_jwt_secret.get_secret_value()
        else:
            secret = settings.auth_jwt_public_key or ""
        self._key = hashlib.sha256(b"job owner\0" + secret.encode()).digest()

    def new_job_id(self, job_type: str, user: str | None) -> str:
        """A fresh ARQ job id, readable like the seed's (``translate_…``): a uuid4, or a user's tagged id."""
        if user is None:
            return new_job_id(job_type)
        random_part = uuid.uuid4().hex[:RANDOM_DIGITS]
        return f"{job_type}_{random_part}{self._tag(user, random_part)}"

    def owns(self, user: str | None, job_id: str) -> bool:
        """Whether the socket of ``user`` may look the job up or cancel it (anyone may, with authentication off)."""
        if user is None:
            return True
        digits = job_id.partition("_")[2]
        if len(digits) != RANDOM_DIGITS + TAG_DIGITS:
            return False
        random_part, tag = digits[:RANDOM_DIGITS], digits[RANDOM_DIGITS:]
        return hmac.compare_digest(tag.encode(errors="surrogatepass"), self._tag(user, random_part).encode())

    def _tag(self, user: str, random_part: str) -> str:
        message = f"{user}\0{random_part}".encode(errors="surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:TAG_DIGITS]
