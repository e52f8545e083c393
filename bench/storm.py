"""The reconnect storm: every socket's job outlives a web-server restart, and every page comes back for it.

``sockets`` pages each open a socket (``batch`` handshakes in flight) and queue one ``STORM_JOB_TYPE`` job (all
sent at once), on a stack of their own at ``STORM_TIME_SCALE`` with ``WORKER_MAX_JOBS`` = ``sockets`` (every job
runs at once). Once every job is queued the server is restarted (SIGTERM, its exit, a new one on the same port).
Each page then does what the page (``src/static/app.js``) does: after the 1012 close a delay drawn from
``PAGE_BACKOFF``'s jitter, and after each failed attempt its doubling backoff; once connected again it sends
``job_watch`` for its job (unless it already has its outcome) and waits for the outcome: the watch's answer if the
job is final already, else a push. Every page keeps its socket open until the end, so that a second outcome would
be seen: a job's final frames are counted over its page's old and new connections.
"""

import asyncio
import json
import logging
import math
import random
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.client import CLOSE_TIMEOUT, CONNECT_TIMEOUT, DEFAULT_COMPRESSION, JOB_FRAMES
from bench.scenarios import STORM_TIME_SCALE, JobCounts, percentile, sample
from bench.stack import Restart
from src.apps.background_jobs.job_types import JOB_DURATIONS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """The page's reconnect delays, in seconds: ``src/static/app.js``'s ``RESTART_DELAY_MIN_MS``,
    ``RESTART_DELAY_MAX_MS``, ``BACKOFF_START_MS`` and ``BACKOFF_MAX_MS`` (keep the two alike).

    After a 1012 close (the server restarting): a delay drawn uniformly from [``restart_min``, ``restart_max``).
    After the n-th failed attempt in a row (or a close other than 1012, as the first): ``failure_first`` doubled
    n - 1 times, at most ``failure_max``, drawn uniformly between half of it and all of it. The page starts the
    doubling again once a socket opens.
    """

    restart_min: float = 0.05
    restart_max: float = 0.45
    failure_first: float = 0.5
    failure_max: float = 10.0
    #: ``RESTART_BACKOFF_MAX_MS``: the failure backoff's ceiling after a 1012, until a socket opens.
    restart_failure_max: float = 2.0

    def after_restart(self, rng: random.Random) -> float:
        """The delay before the first attempt after a 1012 close."""
        return self.restart_min + (self.restart_max - self.restart_min) * rng.random()

    def after_failure(self, failures: int, rng: random.Random, restarting: bool = False) -> float:
        """The delay after the ``failures``-th failed attempt in a row (or a close other than 1012: ``failures=1``);
        ``restarting``: since a 1012."""
        ceiling = min(
            self.failure_first * 2.0 ** (failures - 1), self.restart_failure_max if restarting else self.failure_max
        )
        return ceiling * (0.5 + 0.5 * rng.random())


#: The page's delays, as ``src/static/app.js`` has them.
PAGE_BACKOFF = Backoff()
#: The close code of a server going away to restart (uvicorn's on SIGTERM): the page's jittered path.
SERVICE_RESTART = 1012

#: The storm's job: ``generate`` (streams its text in progress frames); its 4 s take 6 s at ``STORM_TIME_SCALE``
#: (1.5, in ``bench/scenarios.py``; ``--storm-time-scale``): more than the restart itself (SIGTERM, exit, start-up).
#: Whether a job is still running when its page comes back depends on how long the pages take: the figures say.
STORM_JOB_TYPE = "generate"
#: Seconds after the SIGTERM by which every outcome must have arrived; a job without one by then is lost.
OUTCOME_BOUND = 60.0
#: Seconds every socket stays open after the last outcome, so that a second outcome would still be seen.
DUPLICATE_SETTLE = 2.0
#: Open files the client needs beside its sockets (Redis, logs, the sampler's /proc reads, a socket being replaced).
FILES_SPARE = 100
#: Seconds between two readings of the processes' CPU during the storm (its timeline).
CPU_SAMPLE = 0.5
#: The states after which a job gets no more frames (``FINAL_STATES`` of the protocol).
FINAL = frozenset({"result", "error", "cancelled", "not_found"})


def storm_settings(sockets: int, time_scale: float = STORM_TIME_SCALE) -> dict[str, str]:
    """The storm stack's settings over its configuration's: long jobs, every one running at once."""
    return {"job_time_scale": f"{time_scale:g}", "worker_max_jobs": str(sockets)}


def work_seconds(time_scale: float = STORM_TIME_SCALE) -> float:
    """Seconds of simulated work of each storm job at ``time_scale``."""
    return JOB_DURATIONS[STORM_JOB_TYPE] * time_scale


@dataclass
class StormResult:
    """The storm's figures; every time in seconds from the SIGTERM."""

    counts: JobCounts
    sockets: int
    job_type: str
    work_seconds: float
    opened: int = 0
    failed_connects: int = 0
    connect_errors: list[str] = field(default_factory=list)
    #: Seconds from the first job sent to the last ``queued`` frame, before the restart.
    queue_seconds: float = math.nan
    #: The old server's exit after the SIGTERM; the new one's answering ``GET /``; its start-up alone.
    server_exit_s: float = math.nan
    server_ready_s: float = math.nan
    server_startup_s: float = math.nan
    #: How the old connections ended: close code (``none`` for no close frame) → sockets.
    close_codes: dict[str, int] = field(default_factory=dict)
    reconnected: int = 0
    first_connected_s: float = math.nan
    connected_p50_s: float = math.nan
    #: The last socket connected again (its ``connected`` frame), the issue's "reconnected".
    all_connected_s: float = math.nan
    #: Sockets connected again per second, from the new server's answering ``GET /`` to the last one connected (the
    #: new server could take none before; the first ones complete late, all handshakes being under way at once).
    handshakes_per_s: float = math.nan
    #: When the pages' successful attempts began (first / median / last), and their HTTP upgrade's share of the
    #: milliseconds they took (the rest: waiting for the ``connected`` frame).
    attempts_began_first_s: float = math.nan
    attempts_began_p50_s: float = math.nan
    attempts_began_last_s: float = math.nan
    upgrade_p50_ms: float = math.nan
    upgrade_p99_ms: float = math.nan
    #: Milliseconds each page's successful attempt to connect again took (p50 / p99 / max).
    handshake_p50_ms: float = math.nan
    handshake_p99_ms: float = math.nan
    handshake_max_ms: float = math.nan
    #: Attempts to connect again, and those that failed (refused while no server listened, or otherwise).
    attempts: int = 0
    failed_attempts: int = 0
    attempt_errors: dict[str, int] = field(default_factory=dict)
    #: Milliseconds from ``job_watch`` sent to its answer.
    watches: int = 0
    watch_p50_ms: float = math.nan
    watch_p99_ms: float = math.nan
    watch_max_ms: float = math.nan
    #: The watch answers by status (``in_progress``, ``queued``, ``result``, ...).
    watch_answers: dict[str, int] = field(default_factory=dict)
    #: Jobs with an outcome, and how each first came: before the restart, in the watch's answer, or pushed.
    outcomes: int = 0
    outcomes_before_restart: int = 0
    outcomes_in_answer: int = 0
    outcomes_pushed: int = 0
    outcome_p50_s: float = math.nan
    #: The last outcome: the issue's "resumed".
    all_outcomes_s: float = math.nan
    #: Pages that saw more than one final frame for their job (old and new connection together).
    duplicated: int = 0
    #: Outcomes later than their job's send + its work, in seconds (p50 / p99 / max): queueing, running and the
    #: restart's delay together.
    late_p50_s: float = math.nan
    late_p99_s: float = math.nan
    late_max_s: float = math.nan
    progress_frames: int = 0
    #: A few frames no page expected, as examples.
    page_errors: list[str] = field(default_factory=list)
    #: CPU seconds from the SIGTERM until every page was done (or the bound), by process ("server": the old one's
    #: shutdown and the new one's), and the old server's alone from its SIGTERM to its exit; the window's seconds.
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    shutdown_cpu_seconds: float = math.nan
    window_seconds: float = math.nan
    #: Each process's CPU in % of one core over each ``CPU_SAMPLE`` from the SIGTERM: ``{"t": end of the sample in s
    #: from the SIGTERM, "client": ..., "server": ..., "worker": ...}``.
    cpu_timeline: list[dict[str, float]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Jobs without an outcome within ``OUTCOME_BOUND`` of the SIGTERM."""
        return self.counts.lost


class StormProgress:
    """How many pages are connected again and how many have their outcome; set once all are both."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.connected = 0
        self.outcomes = 0
        self.done = asyncio.Event()

    def count(self, connected: int = 0, outcomes: int = 0) -> None:
        """Add ``connected`` reconnected pages and ``outcomes`` outcomes."""
        self.connected += connected
        self.outcomes += outcomes
        if self.connected >= self.pages and self.outcomes >= self.pages:
            self.done.set()


class Page:
    """One page of the storm: its job, its socket (again after a close) and every final frame it saw for the job."""

    def __init__(
        self, url: str, compression: str | None, backoff: Backoff, rng: random.Random, progress: StormProgress
    ) -> None:
        self.url = url
        self.compression = compression
        self.backoff = backoff
        self.rng = rng
        self.storm = progress
        self.ws: ClientConnection | None = None
        self.job_id: str | None = None
        self.sent_at: float | None = None
        self.queued = asyncio.Event()
        #: (status, when, how) for each final frame about the job: ``before`` (on the first connection), ``answer``
        #: (the watch's answer) or ``push``.
        self.finals: list[tuple[str, float, str]] = []
        self.close_code: str | None = None
        self.reconnected_at: float | None = None
        #: Milliseconds the first successful attempt to connect again took (TCP, HTTP upgrade, ``connected``).
        self.reconnect_ms: float | None = None
        #: When that attempt began, and when its HTTP upgrade was answered (before the ``connected`` frame).
        self.reconnect_began_at: float | None = None
        self.reconnect_upgraded_at: float | None = None
        self.attempts = 0
        self.failures: Counter[str] = Counter()
        self.watch_sent_at: float | None = None
        self.watch_answer: str | None = None
        self.watch_answered_at: float | None = None
        self.progress_frames = 0
        self.stray_frames = 0
        self.errors: list[str] = []
        self._stop = asyncio.Event()

    @property
    def outcome(self) -> tuple[str, float, str] | None:
        """The first final frame about the job, if any."""
        return self.finals[0] if self.finals else None

    async def open(self) -> None:
        """The first connection (its ``connected`` frame awaited)."""
        self.ws, _ = await self._connect()

    async def send_job(self) -> None:
        """Send the page's job; its ``queuing`` frame names it, ``queued`` sets ``self.queued``."""
        assert self.ws is not None
        self.sent_at = time.perf_counter()
        await self.ws.send(JOB_FRAMES[STORM_JOB_TYPE])

    async def run(self) -> None:
        """Read the first connection; after it closes, connect again, watch the job and read on, until stopped."""
        how = "before"
        while self.ws is not None:
            code = await self._read(self.ws, how)
            if how == "before":
                self.close_code = "none" if code is None else str(code)
            if self._stop.is_set():
                return
            delay = (
                self.backoff.after_restart(self.rng)
                if code == SERVICE_RESTART
                else self.backoff.after_failure(1, self.rng)
            )
            self.ws = await self._reconnect(delay, restarting=code == SERVICE_RESTART)
            if self.ws is None:
                return
            if self._stop.is_set():
                await self.ws.close()
                return
            if self.reconnected_at is None:
                self.reconnected_at = time.perf_counter()
                self.storm.count(connected=1)
            how = "push"
            if self.outcome is None and self.job_id is not None:
                how = "answer"
                self.watch_sent_at = time.perf_counter()
                self.watch_answer = None
                watch = {"action": "job_watch", "payload": {"job_id": self.job_id}}
                try:
                    await self.ws.send(json.dumps(watch))
                except ConnectionClosed:
                    continue

    async def stop(self) -> None:
        """Stop reconnecting and close the socket."""
        self._stop.set()
        if self.ws is not None:
            await self.ws.close()

    async def _connect(self) -> tuple[ClientConnection, float]:
        """Connect as the bench's client does and wait for the ``connected`` frame; the socket, and when the HTTP
        upgrade was answered."""
        ws = await connect(
            self.url,
            ping_interval=None,
            compression=self.compression,
            proxy=None,
            open_timeout=CONNECT_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
        )
        upgraded_at = time.perf_counter()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                while True:
                    frame: dict[str, Any] = json.loads(await ws.recv())
                    payload = frame.get("payload")
                    if isinstance(payload, dict) and payload.get("status") == "connected":
                        return ws, upgraded_at
        except BaseException:
            await ws.close()
            raise

    async def _reconnect(self, delay: float, restarting: bool) -> ClientConnection | None:
        """Wait ``delay``, then attempt until connected (the page's backoff after each failure); None once stopped."""
        failures = 0
        while not await self._sleep(delay):
            self.attempts += 1
            began = time.perf_counter()
            try:
                ws, upgraded_at = await self._connect()
            except Exception as exc:
                failures += 1
                self.failures[type(exc).__name__] += 1
                delay = self.backoff.after_failure(failures, self.rng, restarting)
                continue
            if self.reconnect_ms is None:
                self.reconnect_began_at, self.reconnect_upgraded_at = began, upgraded_at
                self.reconnect_ms = (time.perf_counter() - began) * 1000
            return ws
        return None

    async def _sleep(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; True if stopped meanwhile."""
        try:
            async with asyncio.timeout(delay):
                await self._stop.wait()
        except TimeoutError:
            return False
        return True

    async def _read(self, ws: ClientConnection, how: str) -> int | None:
        """Handle the connection's frames until it closes; return the close code it got (None without a close
        frame)."""
        try:
            async for message in ws:
                self._on_frame(json.loads(message), how, time.perf_counter())
                if how == "answer" and self.watch_answer is not None:
                    how = "push"
        except ConnectionClosed:
            pass
        return ws.close_code

    def _on_frame(self, frame: dict[str, Any], how: str, now: float) -> None:
        payload = frame.get("payload")
        if frame.get("action") != "job_status" or not isinstance(payload, dict):
            sample(self.errors, f"frame: {json.dumps(frame)[:200]}")
            return
        status, job_id = payload.get("status"), payload.get("job_id")
        if status == "queuing" and self.job_id is None:
            self.job_id = job_id
            return
        if job_id is None or job_id != self.job_id:
            self.stray_frames += 1
            return
        if how == "answer" and status != "progress" and self.watch_answer is None:
            self.watch_answer, self.watch_answered_at = status, now
        if status == "queued" and how == "before":
            self.queued.set()
        elif status == "progress":
            self.progress_frames += 1
        elif status in FINAL:
            if how == "before":
                self.queued.set()  # refused or finished on the first connection: nothing more to wait for there
            self.finals.append((status, now, how))
            if len(self.finals) == 1:
                self.storm.count(outcomes=1)


async def _open_pages(pages: Sequence[Page], batch: int) -> list[str]:
    """Open every page's first connection, ``batch`` handshakes in flight; sample errors (failed pages stay closed)."""
    slots = asyncio.Semaphore(batch)
    errors: list[str] = []

    async def open_one(page: Page) -> None:
        async with slots:
            try:
                await page.open()
            except Exception as exc:
                sample(errors, f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(open_one(page) for page in pages))
    return errors


class CpuSampler:
    """Appends each process's CPU (% of one core) over every ``CPU_SAMPLE`` to ``timeline``, from a thread of its own
    (the client's loop is too busy in the storm to keep a timer's time), until stopped."""

    def __init__(self, cpu: Callable[[], dict[str, float]], timeline: list[dict[str, float]]) -> None:
        self._cpu = cpu
        self._timeline = timeline
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storm CPU sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (the sample under way is dropped)."""
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        began = last_at = time.perf_counter()
        last = self._cpu()
        while not self._stopped.wait(CPU_SAMPLE):
            now, reading = time.perf_counter(), self._cpu()
            span = now - last_at
            sample = {name: round((reading[name] - last[name]) / span * 100) for name in reading}
            self._timeline.append({"t": round(now - began, 2), **sample})
            last, last_at = reading, now


def _seconds(values: Sequence[float], q: float) -> float:
    return round(percentile(sorted(values), q), 3)


async def reconnect_storm(
    url: str,
    sockets: int,
    batch: int,
    restart: Callable[[], Coroutine[Any, Any, Restart]],
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
    backoff: Backoff = PAGE_BACKOFF,
    rng: random.Random | None = None,
    cpu: Callable[[], dict[str, float]] | None = None,
    time_scale: float = STORM_TIME_SCALE,
) -> StormResult:
    """``sockets`` pages with one job each through a restart of the server (``restart``); see the module's text.

    ``time_scale`` is the stack's ``JOB_TIME_SCALE`` (``storm_settings``): it gives the jobs' work, in the figures.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if sockets + FILES_SPARE > soft:
        raise ValueError(f"{sockets} sockets need more open files than this process may have ({soft}): fewer sockets")
    rng = rng or random.Random()
    progress = StormProgress(sockets)
    pages = [Page(url, compression, backoff, rng, progress) for _ in range(sockets)]
    result = StormResult(
        counts=JobCounts(jobs=sockets), sockets=sockets, job_type=STORM_JOB_TYPE, work_seconds=work_seconds(time_scale)
    )
    result.connect_errors = await _open_pages(pages, batch)
    opened = [page for page in pages if page.ws is not None]
    result.opened, result.failed_connects = len(opened), sockets - len(opened)
    progress.pages = len(opened)
    readers = [asyncio.create_task(page.run()) for page in opened]
    restarted: Restart | None = None
    try:
        await asyncio.gather(*(page.send_job() for page in opened), return_exceptions=True)
        try:
            async with asyncio.timeout(stall_timeout):
                await asyncio.gather(*(page.queued.wait() for page in opened))
        except TimeoutError:
            logger.warning(
                "reconnect_storm: %d jobs not queued within %.0f s",
                sum(not p.queued.is_set() for p in opened),
                stall_timeout,
            )
        sent = [page.sent_at for page in opened if page.sent_at is not None]
        result.queue_seconds = round(time.perf_counter() - min(sent), 3) if sent else math.nan
        logger.info(
            "reconnect_storm: %d sockets open, %d jobs queued in %.1f s; restarting the server",
            len(opened),
            sum(page.job_id is not None for page in opened),
            result.queue_seconds,
        )
        cpu_before = cpu() if cpu is not None else {}
        sampling = CpuSampler(cpu, result.cpu_timeline) if cpu is not None else None
        restarting = asyncio.create_task(restart())
        waiting = asyncio.create_task(progress.done.wait())
        await asyncio.wait({restarting, waiting}, timeout=OUTCOME_BOUND, return_when=asyncio.FIRST_EXCEPTION)
        if restarting.done() and restarting.exception() is not None:
            waiting.cancel()
            await restarting  # raises: the restart failed
        if not waiting.done():
            waiting.cancel()
            logger.warning(
                "reconnect_storm: %d of %d sockets connected again, %d outcomes, %.0f s after the restart began",
                progress.connected,
                len(opened),
                progress.outcomes,
                OUTCOME_BOUND,
            )
        restarted = await restarting
        if sampling is not None:
            sampling.stop()
        if cpu is not None:
            cpu_after = cpu()
            result.cpu_seconds = {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_after}
        result.window_seconds = round(time.perf_counter() - restarted.sigterm_at, 2)
        await asyncio.sleep(DUPLICATE_SETTLE)
    finally:
        for start in range(0, len(opened), batch):
            await asyncio.gather(*(page.stop() for page in opened[start : start + batch]), return_exceptions=True)
        await asyncio.gather(*readers, return_exceptions=True)
    if restarted is not None:
        _fill(result, opened, restarted)
    return result


def _fill(result: StormResult, pages: Sequence[Page], restart: Restart) -> None:
    """The figures, from what each page saw, relative to the SIGTERM."""
    zero = restart.sigterm_at
    bound = zero + OUTCOME_BOUND
    result.server_exit_s = round(restart.exited_at - zero, 3)
    result.server_ready_s = round(restart.ready_at - zero, 3)
    result.server_startup_s = round(restart.ready_at - restart.started_at, 3)
    result.shutdown_cpu_seconds = round(restart.shutdown_cpu, 2)
    result.close_codes = dict(Counter(page.close_code or "open" for page in pages))
    connected = sorted(page.reconnected_at - zero for page in pages if page.reconnected_at is not None)
    result.reconnected = len(connected)
    if connected:
        result.first_connected_s = round(connected[0], 3)
        result.connected_p50_s = _seconds(connected, 50)
        result.all_connected_s = round(connected[-1], 3)
        span = connected[-1] - (restart.ready_at - zero)
        result.handshakes_per_s = round(len(connected) / span, 1) if span > 0 else math.nan
    began = sorted(page.reconnect_began_at - zero for page in pages if page.reconnect_began_at is not None)
    if began:
        result.attempts_began_first_s, result.attempts_began_p50_s = round(began[0], 3), _seconds(began, 50)
        result.attempts_began_last_s = round(began[-1], 3)
    upgrades = sorted(
        (page.reconnect_upgraded_at - page.reconnect_began_at) * 1000
        for page in pages
        if page.reconnect_upgraded_at is not None and page.reconnect_began_at is not None
    )
    if upgrades:
        result.upgrade_p50_ms, result.upgrade_p99_ms = _seconds(upgrades, 50), _seconds(upgrades, 99)
    handshakes = sorted(page.reconnect_ms for page in pages if page.reconnect_ms is not None)
    if handshakes:
        result.handshake_p50_ms, result.handshake_p99_ms = _seconds(handshakes, 50), _seconds(handshakes, 99)
        result.handshake_max_ms = round(handshakes[-1], 3)
    result.attempts = sum(page.attempts for page in pages)
    failures: Counter[str] = Counter()
    for page in pages:
        failures.update(page.failures)
    result.failed_attempts = sum(failures.values())
    result.attempt_errors = dict(failures)
    watched = [page for page in pages if page.watch_sent_at is not None and page.watch_answered_at is not None]
    result.watches = len(watched)
    waits = sorted(
        (page.watch_answered_at - page.watch_sent_at) * 1000
        for page in watched
        if page.watch_answered_at is not None and page.watch_sent_at is not None
    )
    if waits:
        result.watch_p50_ms, result.watch_p99_ms = _seconds(waits, 50), _seconds(waits, 99)
        result.watch_max_ms = round(waits[-1], 3)
    result.watch_answers = dict(Counter(page.watch_answer for page in watched if page.watch_answer is not None))
    counts = result.counts
    outcome_at: list[float] = []
    late: list[float] = []
    for page in pages:
        finals = [final for final in page.finals if final[1] <= bound]
        counts.unmatched_frames += page.stray_frames
        result.progress_frames += page.progress_frames
        for text in page.errors:
            sample(result.page_errors, text)
        if not finals:
            continue
        status, at, how = finals[0]
        result.outcomes += 1
        outcome_at.append(at - zero)
        if page.sent_at is not None:
            late.append(at - page.sent_at - result.work_seconds)
        if how == "before":
            result.outcomes_before_restart += 1
        elif how == "answer":
            result.outcomes_in_answer += 1
        else:
            result.outcomes_pushed += 1
        if len(page.finals) > 1:
            result.duplicated += 1
        if status == "result":
            counts.results += 1
        else:
            counts.errors += 1
            sample(counts.error_samples, f"{status} ({how})")
    if outcome_at:
        outcome_at.sort()
        result.outcome_p50_s = _seconds(outcome_at, 50)
        result.all_outcomes_s = round(outcome_at[-1], 3)
    if late:
        late.sort()
        result.late_p50_s, result.late_p99_s = _seconds(late, 50), _seconds(late, 99)
        result.late_max_s = round(late[-1], 3)
    logger.info(
        "reconnect_storm: %d/%d connected again %.2f s after the SIGTERM (%.0f handshakes/s), %d outcomes by %.2f s "
        "(%d before the restart, %d in the watch's answer, %d pushed); %d lost, %d duplicated",
        result.reconnected,
        len(pages),
        result.all_connected_s,
        result.handshakes_per_s,
        result.outcomes,
        result.all_outcomes_s,
        result.outcomes_before_restart,
        result.outcomes_in_answer,
        result.outcomes_pushed,
        result.lost,
        result.duplicated,
    )
