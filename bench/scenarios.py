"""The scenarios, each against a running stack.

Issue 5's: latency, burst, closed-loop, sockets, idle worker. Under load (issue 12's): flood (many
sockets, one job each, all sent at once), overload (many jobs at once over a few sockets) and scaling
(the closed loop at growing socket counts). Handshakes: sockets opened as fast as a bounded number in flight
allows. (The reconnect storm is in ``bench/storm.py``.) Every scenario's client offers permessage-deflate unless
``compression=None``.
"""

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.client import DEFAULT_COMPRESSION, Job, JobSocket, Tracker
from bench.stack import cpu_seconds, rss_kb

logger = logging.getLogger(__name__)

#: How many connect errors a sockets run keeps as examples.
ERROR_SAMPLES = 5


def sample(samples: list[str], text: str) -> None:
    """Keep ``text`` among ``samples`` if it is new and fewer than ``ERROR_SAMPLES`` are kept."""
    if len(samples) < ERROR_SAMPLES and text not in samples:
        samples.append(text)


#: The reconnect storm's ``JOB_TIME_SCALE`` by default (``bench/storm.py``): ``generate``'s 4 s take 6 s.
STORM_TIME_SCALE = 1.5


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is for one configuration."""

    latency_jobs: int
    warmup_jobs: int
    burst_sockets: int
    jobs_per_socket: int
    sockets: int
    socket_batch: int
    idle_seconds: float
    #: Seconds without any result before the jobs still pending count as lost.
    stall_timeout: float
    #: How the held sockets send their jobs: "waves" of ``socket_batch`` (each wave's results awaited
    #: before the next) or "all" at once (a burst of ``sockets`` jobs).
    sockets_send: str = "waves"
    #: Rounds of the latency (its samples pooled), burst and closed-loop (the median round) scenarios.
    rounds: int = 1
    #: Flood: sockets opened first, then one job each, all sent at once.
    flood_sockets: int = 5000
    #: Overload: sockets, and the jobs each sends at once.
    overload_sockets: int = 100
    overload_jobs_per_socket: int = 100
    #: Scaling: the closed loop at each of these socket counts, each point with at least
    #: ``scaling_jobs`` jobs in all and ``scaling_min_jobs_per_socket`` per socket.
    scaling_sockets: tuple[int, ...] = (1, 10, 50, 200, 500)
    scaling_jobs: int = 2000
    scaling_min_jobs_per_socket: int = 5
    #: Progress: the closed loop of ``PROGRESS_JOB_TYPE`` jobs, on a stack at ``PROGRESS_TIME_SCALE``.
    progress_sockets: int = 50
    progress_jobs_per_socket: int = 10
    #: Handshakes: sockets opened (``socket_batch`` in flight), each until its ``connected`` frame.
    handshake_sockets: int = 5000
    #: Reconnect storm: sockets, one long job each, through a restart of the server (``bench/storm.py``), and the
    #: ``JOB_TIME_SCALE`` of its stack (1.5: ``generate``'s 4 s of work take 6 s).
    storm_sockets: int = 5000
    storm_time_scale: float = STORM_TIME_SCALE

    def scaling_jobs_per_socket(self, sockets: int) -> int:
        """Jobs each socket sends at the scaling point of ``sockets`` sockets."""
        return max(self.scaling_min_jobs_per_socket, math.ceil(self.scaling_jobs / sockets))


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted values, interpolated linearly between closest ranks."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class JobCounts:
    """How the jobs of a scenario ended."""

    jobs: int = 0
    results: int = 0
    #: Outcomes other than a result: ``job_status`` ``error`` frames (``refused``) and chanx's validation errors.
    errors: int = 0
    unmatched_frames: int = 0
    #: A few distinct messages of ``error`` outcomes.
    error_samples: list[str] = field(default_factory=list)
    #: Jobs that got a ``job_status`` ``error`` frame (e.g. ``❌ Error queuing job: ...``): the server answered no.
    refused: int = 0
    #: Whether a refused job is an outcome (the load scenarios: counted, not lost) or a lost result (issue 5's).
    refused_is_outcome: bool = False

    @property
    def lost(self) -> int:
        """Jobs planned without their outcome: no ``result`` frame (nor, where refusals are outcomes, an ``error`` one).

        The jobs of a timeout, a failed connect or send, and (issue 5's scenarios) an ``error`` outcome.
        """
        return self.jobs - self.results - (self.refused if self.refused_is_outcome else 0)

    def count(self, jobs: Sequence[Job]) -> None:
        """Add the outcomes of ``jobs`` (``self.jobs`` counts the jobs planned, set by the scenario)."""
        for job in jobs:
            if job.status == "result":
                self.results += 1
            elif job.status is not None:
                self.errors += 1
                if job.status == "error":
                    self.refused += 1
                sample(self.error_samples, f"{job.status}: {job.error}")


@dataclass
class LatencyResult:
    """Sequential jobs on one socket: send → result latency."""

    counts: JobCounts
    warmup_jobs: int
    samples_ms: list[float]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


@dataclass
class ThroughputResult:
    """Many sockets, many jobs: results per second from the first send to the last result."""

    counts: JobCounts
    sockets: int
    jobs_per_socket: int
    seconds: float
    jobs_per_s: float
    #: Latency percentiles under this load, for context.
    p50_ms: float
    p99_ms: float
    #: ``progress`` frames the sockets got about their jobs (none for zero-work jobs).
    progress_frames: int = 0
    #: Seconds it took to open the sockets before the first send (not in ``seconds``).
    open_seconds: float = math.nan

    @property
    def jobs_per_s_opening(self) -> float:
        """Results per second with the time to open the sockets counted: from the first handshake to the last result."""
        total = self.seconds + self.open_seconds
        return round(self.jobs_per_s * self.seconds / total, 1) if total > 0 else math.nan

    @property
    def frames_per_job(self) -> float:
        """Progress frames per job."""
        return self.progress_frames / self.counts.jobs if self.counts.jobs else math.nan


@dataclass
class SocketsResult:
    """Many concurrent sockets on one server, one job each; the server's memory growth per socket."""

    counts: JobCounts
    sockets: int
    #: "waves" or "all": how the sockets sent their jobs.
    send: str
    opened: int
    failed_connects: int
    connect_errors: list[str] = field(default_factory=list)
    open_seconds: float = math.nan
    results_seconds: float = math.nan
    rss_before_kb: int = 0
    rss_open_kb: int = 0
    rss_after_kb: int = 0
    #: (RSS with every socket open and answered − RSS before) / sockets opened.
    kb_per_socket: float = math.nan
    #: The same, measured once the sockets were open but before any job was sent.
    kb_per_idle_socket: float = math.nan


@dataclass
class LoadResult:
    """Jobs sent all at once (flood, overload): answered, refused or lost, and the time to the last outcome."""

    counts: JobCounts
    sockets: int
    jobs_per_socket: int
    opened: int = 0
    failed_connects: int = 0
    connect_errors: list[str] = field(default_factory=list)
    open_seconds: float = math.nan
    #: Seconds from the first send to the last outcome (a result or an error frame).
    seconds: float = math.nan
    #: Results per second over ``seconds``.
    jobs_per_s: float = math.nan
    #: Send → result latency percentiles (answered jobs only).
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    rss_before_kb: int = 0
    rss_open_kb: int = 0
    rss_after_kb: int = 0
    #: (the server's RSS with every socket open and answered − before) / sockets opened.
    kb_per_socket: float = math.nan


@dataclass
class HandshakeResult:
    """Sockets opened as fast as ``in_flight`` handshakes at a time allow, each until its ``connected`` frame."""

    sockets: int
    in_flight: int
    opened: int = 0
    failed_connects: int = 0
    connect_errors: list[str] = field(default_factory=list)
    #: Seconds from the first connect to the last ``connected`` frame.
    seconds: float = math.nan
    #: Sockets opened per second over ``seconds``.
    handshakes_per_s: float = math.nan
    #: Milliseconds from one socket's connect to its ``connected`` frame (with ``in_flight`` others under way).
    p50_ms: float = math.nan
    p99_ms: float = math.nan


@dataclass
class ScalingResult:
    """The closed loop at growing socket counts: one throughput point per count."""

    points: list[ThroughputResult] = field(default_factory=list)


@dataclass
class IdleResult:
    """CPU used by processes with nothing to do, in % of one core."""

    seconds: float
    worker_cpu_percent: float
    server_cpu_percent: float


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


async def latency(
    url: str, jobs: int, warmup: int, stall_timeout: float, compression: str | None = DEFAULT_COMPRESSION
) -> LatencyResult:
    """``warmup`` uncounted jobs, then ``jobs`` sequential ones on one socket: each sent once the previous ended."""
    tracker = Tracker()
    counts = JobCounts(jobs=jobs)
    sock = await JobSocket.open(url, tracker, compression=compression)
    measured: list[Job] = []
    try:
        for index in range(warmup + jobs):
            job = await sock.send_job()
            try:
                async with asyncio.timeout(stall_timeout):
                    await job.done
            except TimeoutError:
                logger.warning("latency: job %s got no outcome within %.0f s", job.job_id, stall_timeout)
            if index >= warmup:
                measured.append(job)
    finally:
        await sock.close()
        counts.unmatched_frames = sock.unmatched
    counts.count(measured)
    samples = sorted(job.latency for job in measured if job.status == "result" and job.latency is not None)
    return LatencyResult(
        counts=counts,
        warmup_jobs=warmup,
        samples_ms=[_ms(sample) for sample in samples],
        p50_ms=_ms(percentile(samples, 50)),
        p95_ms=_ms(percentile(samples, 95)),
        p99_ms=_ms(percentile(samples, 99)),
        max_ms=_ms(samples[-1]) if samples else math.nan,
        mean_ms=_ms(sum(samples) / len(samples)) if samples else math.nan,
    )


def pooled_latency(rounds: Sequence[LatencyResult]) -> LatencyResult:
    """One latency result over every round's samples (their jobs and outcomes summed)."""
    counts = JobCounts()
    for part in rounds:
        counts.jobs += part.counts.jobs
        counts.results += part.counts.results
        counts.errors += part.counts.errors
        counts.refused += part.counts.refused
        counts.unmatched_frames += part.counts.unmatched_frames
        counts.error_samples += [text for text in part.counts.error_samples if text not in counts.error_samples]
    del counts.error_samples[ERROR_SAMPLES:]
    samples = sorted(sample for part in rounds for sample in part.samples_ms)
    return LatencyResult(
        counts=counts,
        warmup_jobs=sum(part.warmup_jobs for part in rounds),
        samples_ms=samples,
        p50_ms=round(percentile(samples, 50), 3),
        p95_ms=round(percentile(samples, 95), 3),
        p99_ms=round(percentile(samples, 99), 3),
        max_ms=samples[-1] if samples else math.nan,
        mean_ms=round(sum(samples) / len(samples), 3) if samples else math.nan,
    )


async def _open_many(
    url: str, count: int, batch: int, tracker: Tracker, compression: str | None
) -> tuple[list[JobSocket], list[str], int]:
    """Open ``count`` sockets, ``batch`` handshakes at a time; return them, sample errors and the failure count."""
    sockets: list[JobSocket] = []
    errors: list[str] = []
    failed = 0
    for start in range(0, count, batch):
        size = min(batch, count - start)
        opened = await asyncio.gather(
            *(JobSocket.open(url, tracker, compression=compression) for _ in range(size)), return_exceptions=True
        )
        for outcome in opened:
            if isinstance(outcome, JobSocket):
                sockets.append(outcome)
            elif isinstance(outcome, Exception):
                failed += 1
                sample(errors, f"{type(outcome).__name__}: {outcome}")
            else:
                raise outcome
    return sockets, errors, failed


async def _close_many(sockets: Sequence[JobSocket], batch: int) -> None:
    for start in range(0, len(sockets), batch):
        await asyncio.gather(*(sock.close() for sock in sockets[start : start + batch]), return_exceptions=True)


async def _send_at_once(opened: Sequence[JobSocket], per_socket: int) -> list[Job]:
    """Every socket sends ``per_socket`` jobs, all starting in the same instant, without waiting for any outcome."""
    jobs: list[Job] = []
    start = asyncio.Event()

    async def send_all(sock: JobSocket) -> None:
        await start.wait()
        for _ in range(per_socket):
            jobs.append(await sock.send_job())

    senders = [asyncio.create_task(send_all(sock)) for sock in opened]
    await asyncio.sleep(0)  # let every sender reach the start line
    start.set()
    await asyncio.gather(*senders, return_exceptions=True)
    return jobs


def _throughput(
    counts: JobCounts, jobs: Sequence[Job], sockets: int, per_socket: int, opened: Sequence[JobSocket]
) -> ThroughputResult:
    counts.count(jobs)
    counts.unmatched_frames = sum(sock.unmatched for sock in opened)
    delivered = [job for job in jobs if job.status == "result" and job.finished_at is not None]
    if delivered:
        first_send = min(job.sent_at for job in jobs)
        last_result = max(job.finished_at for job in delivered if job.finished_at is not None)
        seconds = last_result - first_send
    else:
        seconds = math.nan
    latencies = sorted(job.latency for job in delivered if job.latency is not None)
    return ThroughputResult(
        counts=counts,
        sockets=sockets,
        jobs_per_socket=per_socket,
        seconds=round(seconds, 4),
        jobs_per_s=round(len(delivered) / seconds, 1) if delivered and seconds > 0 else math.nan,
        p50_ms=_ms(percentile(latencies, 50)),
        p99_ms=_ms(percentile(latencies, 99)),
        progress_frames=sum(sock.progress_frames for sock in opened),
    )


async def burst(
    url: str,
    sockets: int,
    per_socket: int,
    batch: int,
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
) -> ThroughputResult:
    """``sockets`` sockets each send ``per_socket`` jobs at once, as fast as they can; every result must come."""
    tracker = Tracker()
    counts = JobCounts(jobs=sockets * per_socket)
    opened, _, _ = await _open_many(url, sockets, batch, tracker, compression)
    jobs: list[Job] = []
    try:
        jobs = await _send_at_once(opened, per_socket)
        if not await tracker.wait(stall_timeout):
            logger.warning(
                "burst: no result for %.0f s; %d jobs pending", stall_timeout, tracker.expected - tracker.finished
            )
    finally:
        await _close_many(opened, batch)
    return _throughput(counts, jobs, sockets, per_socket, opened)


#: The progress scenario's jobs: ``generate`` streams its text; its 4 s take 0.4 s at ``PROGRESS_TIME_SCALE``.
PROGRESS_JOB_TYPE = "generate"
PROGRESS_TIME_SCALE = "0.1"


async def progress(
    url: str,
    sockets: int,
    per_socket: int,
    batch: int,
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
) -> ThroughputResult:
    """The closed loop with simulated work (a stack at ``PROGRESS_TIME_SCALE``): the progress frames each job
    brings, and (from the scenario's CPU readings) what they cost the server."""
    return await closed_loop(url, sockets, per_socket, batch, stall_timeout, compression, job_type=PROGRESS_JOB_TYPE)


async def closed_loop(
    url: str,
    sockets: int,
    per_socket: int,
    batch: int,
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
    refused_is_outcome: bool = False,
    give_up_on_stall: bool = False,
    job_type: str = "default",
) -> ThroughputResult:
    """``sockets`` sockets each send ``per_socket`` jobs, each only after the previous one's outcome.

    With ``give_up_on_stall``, a socket whose job got no outcome within ``stall_timeout`` sends no more
    (its remaining jobs count as lost): a stuck server costs one timeout, not one per job.
    """
    tracker = Tracker()
    counts = JobCounts(jobs=sockets * per_socket, refused_is_outcome=refused_is_outcome)
    opening = time.perf_counter()
    opened, _, _ = await _open_many(url, sockets, batch, tracker, compression)
    open_seconds = time.perf_counter() - opening
    jobs: list[Job] = []
    start = asyncio.Event()

    async def loop(sock: JobSocket) -> None:
        await start.wait()
        for _ in range(per_socket):
            job = await sock.send_job(job_type)
            jobs.append(job)
            try:
                async with asyncio.timeout(stall_timeout):
                    await job.done
            except TimeoutError:
                logger.warning("closed-loop: job %s got no outcome within %.0f s", job.job_id, stall_timeout)
                if give_up_on_stall:
                    return

    try:
        senders = [asyncio.create_task(loop(sock)) for sock in opened]
        await asyncio.sleep(0)  # let every sender reach the start line
        start.set()
        await asyncio.gather(*senders, return_exceptions=True)
    finally:
        await _close_many(opened, batch)
    result = _throughput(counts, jobs, sockets, per_socket, opened)
    result.open_seconds = round(open_seconds, 4)
    return result


async def many_sockets(
    url: str,
    count: int,
    batch: int,
    server_pid: int,
    stall_timeout: float,
    send: str = "waves",
    compression: str | None = DEFAULT_COMPRESSION,
) -> SocketsResult:
    """Hold ``count`` sockets open on the server, one job each; each must get its own result.

    The sockets are opened ``batch`` at a time; once all are open they send their jobs in waves of
    ``batch`` (``send="waves"``) or all at once (``send="all"``), and stay open until every result is in.
    """
    tracker = Tracker()
    result = SocketsResult(counts=JobCounts(jobs=count), sockets=count, send=send, opened=0, failed_connects=0)
    result.rss_before_kb = rss_kb(server_pid)
    began = time.perf_counter()
    opened, result.connect_errors, result.failed_connects = await _open_many(url, count, batch, tracker, compression)
    result.open_seconds = round(time.perf_counter() - began, 3)
    result.opened = len(opened)
    logger.info("sockets: %d open in %.1f s (%d failed)", len(opened), result.open_seconds, result.failed_connects)
    jobs: list[Job] = []
    try:
        result.rss_open_kb = rss_kb(server_pid)
        began = time.perf_counter()
        wave = len(opened) if send == "all" else batch
        for start in range(0, len(opened), wave):
            sent = await asyncio.gather(
                *(sock.send_job() for sock in opened[start : start + wave]), return_exceptions=True
            )
            jobs += [job for job in sent if isinstance(job, Job)]
            if not await tracker.wait(stall_timeout):
                logger.warning(
                    "sockets: no result for %.0f s; %d jobs pending", stall_timeout, tracker.expected - tracker.finished
                )
        result.results_seconds = round(time.perf_counter() - began, 3)
        result.rss_after_kb = rss_kb(server_pid)
    finally:
        await _close_many(opened, batch)
    result.counts.count(jobs)
    result.counts.unmatched_frames = sum(sock.unmatched for sock in opened)
    if opened:
        result.kb_per_socket = round((result.rss_after_kb - result.rss_before_kb) / len(opened), 2)
        result.kb_per_idle_socket = round((result.rss_open_kb - result.rss_before_kb) / len(opened), 2)
    return result


async def handshakes(
    url: str, sockets: int, in_flight: int, compression: str | None = DEFAULT_COMPRESSION
) -> HandshakeResult:
    """Open ``sockets`` sockets, ``in_flight`` at a time (a new one as soon as one is open), each until its
    ``connected`` frame; then close them all (not timed)."""
    tracker = Tracker()
    result = HandshakeResult(sockets=sockets, in_flight=in_flight)
    slots = asyncio.Semaphore(in_flight)
    opened: list[JobSocket] = []
    took: list[float] = []

    async def open_one() -> None:
        async with slots:
            began = time.perf_counter()
            try:
                sock = await JobSocket.open(url, tracker, compression=compression)
            except Exception as exc:
                result.failed_connects += 1
                sample(result.connect_errors, f"{type(exc).__name__}: {exc}")
                return
            took.append(time.perf_counter() - began)
            opened.append(sock)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(open_one() for _ in range(sockets)))
        seconds = time.perf_counter() - began
    finally:
        await _close_many(opened, in_flight)
    result.opened = len(opened)
    result.seconds = round(seconds, 3)
    result.handshakes_per_s = round(len(opened) / seconds, 1) if seconds > 0 else math.nan
    took.sort()
    result.p50_ms, result.p99_ms = _ms(percentile(took, 50)), _ms(percentile(took, 99))
    logger.info(
        "handshakes: %d sockets open in %.2f s: %.0f/s, p50 %.1f ms, p99 %.1f ms (%d failed)",
        result.opened,
        result.seconds,
        result.handshakes_per_s,
        result.p50_ms,
        result.p99_ms,
        result.failed_connects,
    )
    return result


async def idle(worker_pid: int, server_pid: int, seconds: float) -> IdleResult:
    """CPU the worker (and the server) use over ``seconds`` with no job and no socket, in % of one core."""
    worker_before, server_before = cpu_seconds(worker_pid), cpu_seconds(server_pid)
    began = time.perf_counter()
    await asyncio.sleep(seconds)  # the measurement window itself
    elapsed = time.perf_counter() - began
    return IdleResult(
        seconds=round(elapsed, 3),
        worker_cpu_percent=round((cpu_seconds(worker_pid) - worker_before) / elapsed * 100, 2),
        server_cpu_percent=round((cpu_seconds(server_pid) - server_before) / elapsed * 100, 2),
    )


async def negotiated_extensions(url: str, compression: str | None = DEFAULT_COMPRESSION) -> list[str]:
    """The WebSocket extensions one handshake settles on with this client's offer."""
    sock = await JobSocket.open(url, Tracker(), compression=compression)
    try:
        return sock.extensions
    finally:
        await sock.close()


async def flood(
    url: str,
    sockets: int,
    batch: int,
    server_pid: int,
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
) -> LoadResult:
    """Open ``sockets`` sockets (``batch`` handshakes at a time), then each sends one job, all in the same instant."""
    return await _load("flood", url, sockets, 1, batch, server_pid, stall_timeout, compression)


async def overload(
    url: str,
    sockets: int,
    per_socket: int,
    batch: int,
    server_pid: int,
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
) -> LoadResult:
    """``sockets`` sockets each send ``per_socket`` jobs, all at once: every job answered or refused, none lost."""
    return await _load("overload", url, sockets, per_socket, batch, server_pid, stall_timeout, compression)


async def _load(
    name: str,
    url: str,
    sockets: int,
    per_socket: int,
    batch: int,
    server_pid: int,
    stall_timeout: float,
    compression: str | None,
) -> LoadResult:
    """Open the sockets, send every job at once, wait for every outcome (or a stall); refusals are outcomes."""
    tracker = Tracker()
    result = LoadResult(
        counts=JobCounts(jobs=sockets * per_socket, refused_is_outcome=True),
        sockets=sockets,
        jobs_per_socket=per_socket,
    )
    result.rss_before_kb = rss_kb(server_pid)
    began = time.perf_counter()
    opened, result.connect_errors, result.failed_connects = await _open_many(url, sockets, batch, tracker, compression)
    result.open_seconds = round(time.perf_counter() - began, 3)
    result.opened = len(opened)
    logger.info(
        "%s: %d sockets open in %.1f s (%d failed); sending %d jobs at once",
        name,
        len(opened),
        result.open_seconds,
        result.failed_connects,
        len(opened) * per_socket,
    )
    jobs: list[Job] = []
    try:
        result.rss_open_kb = rss_kb(server_pid)
        jobs = await _send_at_once(opened, per_socket)
        if not await tracker.wait(stall_timeout):
            logger.warning(
                "%s: no outcome for %.0f s; %d jobs pending", name, stall_timeout, tracker.expected - tracker.finished
            )
        result.rss_after_kb = rss_kb(server_pid)
    finally:
        await _close_many(opened, batch)
    result.counts.count(jobs)
    result.counts.unmatched_frames = sum(sock.unmatched for sock in opened)
    _time_outcomes(result, jobs)
    if opened:
        result.kb_per_socket = round((result.rss_after_kb - result.rss_before_kb) / len(opened), 2)
    return result


def _time_outcomes(result: LoadResult, jobs: Sequence[Job]) -> None:
    """Fill in the seconds from the first send to the last outcome, the result rate and the latency percentiles."""
    ended = [job.finished_at for job in jobs if job.finished_at is not None]
    if not ended:
        return
    result.seconds = round(max(ended) - min(job.sent_at for job in jobs), 4)
    if result.seconds > 0:
        result.jobs_per_s = round(result.counts.results / result.seconds, 1)
    latencies = sorted(job.latency for job in jobs if job.status == "result" and job.latency is not None)
    result.p50_ms = _ms(percentile(latencies, 50))
    result.p99_ms = _ms(percentile(latencies, 99))


async def scaling(
    url: str,
    points: Sequence[tuple[int, int]],
    batch: int,
    stall_timeout: float,
    compression: str | None = DEFAULT_COMPRESSION,
) -> ScalingResult:
    """The closed loop at each ``(sockets, jobs per socket)`` point in turn; refusals are outcomes, not losses."""
    result = ScalingResult()
    for sockets, per_socket in points:
        point = await closed_loop(
            url,
            sockets,
            per_socket,
            batch,
            stall_timeout,
            compression=compression,
            refused_is_outcome=True,
            give_up_on_stall=True,
        )
        logger.info(
            "scaling: %d sockets x %d jobs: %.0f jobs/s, p50 %.2f ms, p99 %.2f ms (%d refused, %d lost)",
            sockets,
            per_socket,
            point.jobs_per_s,
            point.p50_ms,
            point.p99_ms,
            point.counts.refused,
            point.counts.lost,
        )
        result.points.append(point)
    return result
