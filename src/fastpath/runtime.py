"""The Python runtime tuned for a process of many long-lived sockets and jobs: fewer, cheaper garbage collections.

Python collects its youngest objects every 700 allocations and scans every live object every
hundred or so of those: with thousands of sockets open, each full scan is a pause that every job
in flight waits out. What start-up made is frozen (never scanned again), and collections run less often.
"""

import gc
from collections.abc import Callable

#: Allocations between young collections (Python's default: 700), then how many of each generation's
#: collections before the next one's (defaults: 10 and 10).
GC_THRESHOLDS = (10_000, 50, 100)


def tune_garbage_collector() -> Callable[[], None]:
    """Freeze what exists now and collect less often; returns what undoes it (at shutdown)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

    def restore() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return restore
