"""A socket ends when its token does: at the token's ``exp`` it is closed with 4401, reason "token expired".

So a revoked user's short-lived token really ends their access. Each authenticated socket gets one timer on the
event loop (``call_later``: no task while it waits), cancelled when the socket goes; at ``exp`` it starts the close.
As defence in depth, a frame that arrives once the token has expired closes the socket the same way instead of
being handled (the timer may not have run yet). With authentication off, a socket has neither.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

from src.web.token_auth import EXPIRES

#: The close code: one of the 4000-4999 that RFC 6455 leaves to applications, read as HTTP's 401.
TOKEN_EXPIRED = 4401
TOKEN_EXPIRED_REASON = "token expired"

Close = Callable[[], Coroutine[Any, Any, None]]

#: Closes under way (the event loop keeps only a weak reference to a task).
_closing: set[asyncio.Task[None]] = set()


def wall_clock() -> float:
    """This process's wall clock, in seconds since the epoch, as a token's ``exp`` counts (the seam tests patch)."""
    return time.time()


def close_at_expiry(scope: MutableMapping[str, Any], close: Close) -> asyncio.TimerHandle | None:
    """A timer that runs ``close`` when the socket's token expires; None for a socket without one (auth off)."""
    expires: float | None = scope.get(EXPIRES)
    if expires is None:
        return None
    return asyncio.get_running_loop().call_later(expires - wall_clock(), _start_closing, close)


def expired(scope: MutableMapping[str, Any]) -> bool:
    """Whether the token of the socket serving ``scope`` has expired (``close_at_expiry`` gave it a timer)."""
    expires: float = scope[EXPIRES]
    return wall_clock() >= expires


def _start_closing(close: Close) -> None:
    """Run ``close`` on a task of its own, held until it is done."""
    task = asyncio.get_running_loop().create_task(close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
