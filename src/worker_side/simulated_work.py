"""The seed's simulated work: it sleeps for the job type's duration and reports the share done as it goes."""

import asyncio
from typing import Any

from src.apps.background_jobs.job_types import work_seconds
from src.settings import Settings
from src.worker_side.progress_reporter import Progress

#: Seconds of simulated work too few to wait for (or to report on): what a float sum of sleeps misses by.
CLOCK_SLACK = 1e-6
#: Seconds the simulated work's reports are spaced by beyond ``PROGRESS_INTERVAL``: a frame's way to its socket
#: varies by milliseconds, and two of a job's frames must never arrive closer together than the interval.
REPORT_MARGIN = 0.05


async def simulate_work(ctx: dict[str, Any], job_type: str, progress: Progress, text: str | None = None) -> None:
    """Sleep for the type's simulated work (not at all when ``JOB_TIME_SCALE`` is 0), reporting the share done
    every ``PROGRESS_INTERVAL`` + ``REPORT_MARGIN``; with ``text``, its part in the same share goes with each report
    (streaming)."""
    settings: Settings = ctx["settings"]
    seconds = work_seconds(settings, job_type)
    if seconds <= 0:
        return
    pace = settings.progress_interval + REPORT_MARGIN
    loop = asyncio.get_running_loop()
    began = loop.time()
    elapsed = 0.0
    while seconds - elapsed > CLOCK_SLACK:
        percent = int(100 * elapsed / seconds)
        await progress(percent, partial=None if text is None else text[: len(text) * percent // 100])
        await asyncio.sleep(min(pace, seconds - elapsed))
        elapsed = loop.time() - began
