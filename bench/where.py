"""``python -m bench.where``: where the time goes, per job, in each process of a configuration's stack.

Starts the stacks of the configurations asked for (``tuned`` and the others of ``bench.stack.CONFIGS``, the floor,
the SAQ peer), all up at once, each on its own private Redis, and loads each in turn with one client (``JobSocket``,
on asyncio's own loop) under two loads: (a) ``--jobs`` jobs one after the other on one socket; (b) a closed loop
of ``--sockets`` sockets sending five times as many jobs in all, each socket waiting for its job's result before
sending the next. Sockets are opened before and closed after each measured window. Per job and per process
(server, worker, Redis, client) it reports:

- CPU, from ``/proc/<pid>/stat`` before and after, less each process's idle rate (the client's excepted), over
  ``CPU_RUNS`` runs per load without a tracer, alternating between the stacks;
- syscalls and loop turns (``epoll_*`` waits), from a further run with ``strace -c`` on the server, the worker and
  the client and a full ``strace`` of Redis, less an idle window's counts; the full trace counts, on each Redis
  connection, the reads that succeeded (request batches: round trips) and the writes to pub/sub connections (pushes),
  each connection attributed to the process owning its socket;
- Redis commands, from ``INFO commandstats`` around the first run of each load;
- WebSocket data frames, as the client counted them;
- where the server's and the worker's CPU goes under (b), from a run with ``py-spy record`` attached.

strace and py-spy are optional: without them (or with ``--no-strace``, ``--no-profile``) their columns and sections
are left out. The tables are printed as Markdown; the figures, measured and per job, are written as JSON to ``--out``
(beside a folder of the raw strace and py-spy output and the stacks' logs). ``docs/where-the-time-goes.md`` has a run
read through.
"""

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench.__main__ import config_names, positive_int
from bench.client import Job, JobSocket, Tracker
from bench.floor import DEFAULT_FLOOR_DIR, FLOOR, FloorStack, find_floor
from bench.peer import DEFAULT_PEER_DIR, PEER, PROJECT_ROOT, PeerStack, PeerUnavailable, find_peer
from bench.scenarios import percentile
from bench.stack import CONFIGS, Stack, cpu_seconds, raise_open_files_limit

logger = logging.getLogger("bench.where")

DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "where"
DEFAULT_CONFIGS = ("tuned", FLOOR, PEER)
DEFAULT_JOBS = 2000
DEFAULT_SOCKETS = 50
#: How the tables name each configuration (any other by its own name).
LABELS = {"tuned": "this app (tuned)", FLOOR: "floor", PEER: "SAQ peer"}
STACK_PROCESSES = ("server", "worker", "redis")
PROCESSES = (*STACK_PROCESSES, "client")
#: The processes py-spy profiles (Python ones; Redis is not).
PROFILED = ("server", "worker")
#: Untraced runs of each load, alternating between the stacks.
CPU_RUNS = 2
#: The closed loop sends this many times ``--jobs`` in all.
CLOSED_LOOP_FACTOR = 5
#: Before any measurement: this many jobs one after the other on one socket, then this many on each closed-loop
#: socket.
WARMUP_JOBS = 300
WARMUP_JOBS_PER_SOCKET = 20
#: Seconds of an idle window (CPU and strace), and of quiet after the warm-up and after a tracer attaches.
IDLE_SECONDS = 4.0
SETTLE_SECONDS = 1.0
#: Seconds a job may go without its result before its socket sends no more (the run then says so).
STALL_TIMEOUT = 30.0
#: Seconds strace or py-spy may take to attach, and to write its output and exit once interrupted.
ATTACH_TIMEOUT = 10.0
DETACH_TIMEOUT = 60.0
PYSPY_RATE = 1000
#: The name the measurement's own Redis connections give themselves, to tell them from the stack's.
CLIENT_NAME = "bench.where"
#: Commands the measurement itself sends (``INFO commandstats``, ``CLIENT LIST``): left out of the stack's.
OWN_COMMANDS = frozenset({"info", "client|list"})
#: The syscalls an event loop waits in: one per turn of the loop.
LOOP_WAITS = frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2"})
#: The syscalls whose first argument is a file descriptor, counted per Redis connection.
FD_IO = frozenset({"read", "readv", "write", "writev"})
WRITES = ("write", "writev")
PUBSUB = " (pub/sub)"
#: A profile table lists this many functions; "top self time" this many.
PROFILE_ROWS = 15
SELF_ROWS = 12
#: A function of the entry chain with less than this share of samples of its own is left out of the profile table.
ENTRY_OWN = 0.005


class ToolFailed(Exception):
    """strace or py-spy did not attach, or did not write its output."""


@dataclass(frozen=True)
class Load:
    """``sockets`` sockets, each sending ``jobs_per_socket`` jobs, each after the previous one's result."""

    key: str
    title: str
    sockets: int
    jobs_per_socket: int

    @property
    def jobs(self) -> int:
        return self.sockets * self.jobs_per_socket


def loads_for(jobs: int, sockets: int) -> tuple[Load, Load]:
    """(a) ``jobs`` in turn on one socket; (b) ``CLOSED_LOOP_FACTOR`` times as many over ``sockets`` sockets."""
    per_socket = max(1, CLOSED_LOOP_FACTOR * jobs // sockets)
    return (
        Load("a", f"(a) {jobs:,} sequential jobs on one socket", 1, jobs),
        Load("b", f"(b) closed loop, {sockets} sockets × {per_socket:,} jobs", sockets, per_socket),
    )


@dataclass
class Run:
    """What one run of a load measured: CPU seconds by process, Redis commands, frames, latencies."""

    jobs: int
    wall: float
    cpu: dict[str, float]
    commands: dict[str, int]
    frames_out: int
    frames_in: dict[str, int]
    outcomes: dict[str, int]
    extensions: list[str]
    p50_ms: float
    p99_ms: float


@dataclass
class Trace:
    """A window with strace attached: syscalls by process and name; reads and writes by Redis connection owner."""

    window: float
    syscalls: dict[str, dict[str, int]]
    connections: dict[str, dict[str, int]]
    #: The load run in the window (None: an idle window).
    run: Run | None = None


@dataclass
class Profile:
    """A py-spy profile: samples in all, and by function on the stack, by function running, by group of code."""

    samples: int
    inclusive: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)
    groups: Counter[str] = field(default_factory=Counter)
    #: The entry chain: the frames that every stack from the most frequent root frame opens with (``<module>``,
    #: ``main``, ... down to the frame running the event loop).
    entry: list[str] = field(default_factory=list)
    #: Samples whose stack starts at that root (py-spy's ``--nonblocking`` reads some stacks without their first
    #: frames).
    rooted: int = 0


@dataclass(frozen=True)
class CodeRoots:
    """Where a stack's code is: the project's ``src/`` and the folder of its own (the floor's, the peer's)."""

    project: Path
    own: Path | None = None


@dataclass
class Target:
    """A running stack under measurement, and what was measured of it."""

    config: str
    ws_url: str
    redis_url: str
    pids: dict[str, int]
    roots: CodeRoots
    idle_rates: list[dict[str, float]] = field(default_factory=list)
    runs: dict[str, list[Run]] = field(default_factory=dict)
    traces: dict[str, Trace] = field(default_factory=dict)
    profile_run: Run | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


@dataclass
class ProcessFigures:
    """One process's figures per job under one load (syscalls and Redis round trips only from an strace run)."""

    cpu_us: list[float]
    syscalls: dict[str, float] | None = None
    round_trips: float | None = None
    pushes: float | None = None


@dataclass
class LoadFigures:
    """A stack's figures under one load: per run (jobs/s, latencies), per process and per job."""

    jobs_per_s: list[float]
    p50_ms: list[float]
    p99_ms: list[float]
    processes: dict[str, ProcessFigures]
    commands: dict[str, float]
    frames_out: float
    frames_in: dict[str, float]
    extensions: list[str]
    traced_jobs_per_s: float | None = None


# ---------------------------------------------------------------------------------------------- readings


def redis_client(url: str) -> redis.Redis:
    """A connection to a stack's Redis that names itself ``CLIENT_NAME``."""
    return redis.Redis.from_url(url, client_name=CLIENT_NAME, socket_timeout=5)


def redis_info(url: str, section: str) -> dict[str, Any]:
    """One section of ``INFO`` from the Redis at ``url``."""
    client = redis_client(url)
    try:
        info = client.info(section)
    finally:
        client.close()
    assert isinstance(info, dict)
    return info


def commandstats(url: str) -> dict[str, int]:
    """Calls so far of each Redis command, by name (``cmdstat_`` left off)."""
    return {
        name.removeprefix("cmdstat_"): int(stats["calls"]) for name, stats in redis_info(url, "commandstats").items()
    }


def commandstats_delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Calls of each command between two readings, but for the measurement's own and those not called."""
    delta = {name: calls - before.get(name, 0) for name, calls in after.items() if name not in OWN_COMMANDS}
    return {name: calls for name, calls in sorted(delta.items(), key=lambda item: -item[1]) if calls}


def cpu_now(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def parse_proc_net_tcp(text: str) -> dict[int, int]:
    """Socket inode -> local port, from ``/proc/net/tcp`` or ``tcp6``."""
    ports: dict[int, int] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9:
            ports[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return ports


def tcp_ports(pid: int) -> set[int]:
    """The local ports of ``pid``'s TCP sockets."""
    by_inode: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        by_inode |= parse_proc_net_tcp(Path(f"/proc/{pid}/net/{table}").read_text())
    ports = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        inode = re.fullmatch(r"socket:\[(\d+)\]", link)
        if inode and int(inode.group(1)) in by_inode:
            ports.add(by_inode[int(inode.group(1))])
    return ports


def connection_owners(redis_url: str, pids: Mapping[str, int]) -> dict[int, str]:
    """Redis's fd of each client connection -> the process owning it (``worker (pub/sub)`` for a subscriber)."""
    owner_of_port = {port: name for name, pid in pids.items() if name != "redis" for port in tcp_ports(pid)}
    client = redis_client(redis_url)
    try:
        connections = client.client_list()
    finally:
        client.close()
    assert isinstance(connections, list)
    owners = {}
    for connection in connections:
        if connection.get("name") == CLIENT_NAME:
            owner = "measurement"
        else:
            owner = owner_of_port.get(int(str(connection["addr"]).rsplit(":", 1)[1]), "other")
            if int(connection.get("sub", 0)) or int(connection.get("psub", 0)):
                owner += PUBSUB
        owners[int(connection["fd"])] = owner
    return owners


# ---------------------------------------------------------------------------------------------- strace, py-spy

_SUMMARY_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(?P<calls>\d+)\s+(?:\d+\s+)?(?P<name>\w+)\s*$")
_CALL = re.compile(r"^(?:\d+\s+)?(?P<name>\w+)\((?P<rest>.*)$")
_RESUMED = re.compile(r"^(?:\d+\s+)?<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")
_PID = re.compile(r"^(\d+)\s")
_RETURNED = re.compile(r"\)\s+=\s+(-?\d+)")
_UNFINISHED = "<unfinished ...>"


def parse_strace_summary(text: str) -> dict[str, int]:
    """Calls by syscall, from the table ``strace -c`` writes (its ``total`` row left out)."""
    calls = {}
    for line in text.splitlines():
        row = _SUMMARY_ROW.match(line)
        if row and row["name"] != "total":
            calls[row["name"]] = int(row["calls"])
    return calls


def parse_strace_trace(text: str, owners: Mapping[int, str]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Calls by syscall, from a full ``strace -f`` trace; and for each owner of an fd in ``owners``, the reads and
    writes on its fds that moved bytes (``read``, ``write``...) and those that did not (``read failed``...)."""
    calls: Counter[str] = Counter()
    by_owner: dict[str, Counter[str]] = {}
    pending: dict[str, tuple[str, str]] = {}  # thread -> (syscall, arguments so far), while unfinished

    def account(name: str, arguments: str, returned: str) -> None:
        fd = re.match(r"\d+", arguments)
        if name in FD_IO and fd and int(fd.group()) in owners:
            result = _RETURNED.findall(returned)
            moved = bool(result) and int(result[-1]) > 0
            by_owner.setdefault(owners[int(fd.group())], Counter())[name if moved else f"{name} failed"] += 1

    for line in text.splitlines():
        thread = _PID.match(line)
        key = thread.group(1) if thread else ""
        resumed = _RESUMED.match(line)
        if resumed:
            name, arguments = pending.pop(key, (resumed["name"], ""))
            account(name, arguments, resumed["rest"])
            continue
        call = _CALL.match(line)
        if not call:
            continue  # signals, exits
        calls[call["name"]] += 1
        if call["rest"].rstrip().endswith(_UNFINISHED):
            pending[key] = (call["name"], call["rest"])
        else:
            account(call["name"], call["rest"], call["rest"])
    return dict(calls), {owner: dict(counts) for owner, counts in by_owner.items()}


_FRAME_FILE = re.compile(r"\((?P<path>[^()]+):\d+\)$")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<rest>(?!site-packages/).+)$")
_SITE = re.compile(r"/site-packages/(?P<rest>.+)$")


def frame_groups(frame: str, roots: CodeRoots) -> list[str]:
    """The groups a py-spy frame's code belongs to: ``src/`` and ``src/<part>/``, the stack's own folder, an
    installed package (by its name) or a module of the standard library."""
    found = _FRAME_FILE.search(frame)
    if not found:
        return []
    path = found["path"]
    if roots.own is not None and path.startswith(f"{roots.own}/"):
        return [f"{roots.own.name}/ (its own files)"]
    src = f"{roots.project}/src/"
    if path.startswith(src):
        parts = path.removeprefix(src).split("/")
        return ["src/"] + ([f"src/{parts[0]}/"] if len(parts) > 1 else [])
    site = _SITE.search(path)
    if site:
        return [site["rest"].split("/")[0].removesuffix(".py")]
    stdlib = _STDLIB.search(path)
    if stdlib:
        return [stdlib["rest"].split("/")[0].removesuffix(".py") + " (stdlib)"]
    return []


def short_frame(frame: str, roots: CodeRoots) -> str:
    """A py-spy frame with its file named from its package, the project, or the stack's folder's parent."""
    found = _FRAME_FILE.search(frame)
    if not found:
        return frame
    path = found["path"]
    for prefix in [f"{roots.own.parent}/"] if roots.own is not None else []:
        path = path.removeprefix(prefix)
    path = path.removeprefix(f"{roots.project}/")
    for pattern in (_SITE, _STDLIB):
        inside = pattern.search(path)
        if inside:
            path = inside["rest"]
            break
    return frame[: found.start("path")] + path + frame[found.end("path") :]


def parse_pyspy_raw(text: str, roots: CodeRoots) -> Profile:
    """A profile from py-spy's ``raw`` output: one line per distinct stack, ``frame;frame;... count``."""
    profile = Profile(samples=0)
    by_root: Counter[str] = Counter()
    shared: dict[str, list[str]] = {}  # root frame -> the frames every stack from it opens with
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        profile.samples += samples
        by_root[frames[0]] += samples
        common = shared.setdefault(frames[0], frames)
        shared[frames[0]] = common[: opening(common, frames)]
        profile.own[frames[-1]] += samples
        for frame in set(frames):
            profile.inclusive[frame] += samples
        for group in {group for frame in frames for group in frame_groups(frame, roots)}:
            profile.groups[group] += samples
    if by_root:
        root, profile.rooted = by_root.most_common(1)[0]
        profile.entry = shared[root]
    return profile


def opening(first: Sequence[str], second: Sequence[str]) -> int:
    """How many frames two stacks share from their roots."""
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    return shared


@dataclass
class Attached:
    """strace or py-spy attached to one process: its output file and the log of its messages."""

    tool: str
    process_name: str
    popen: "subprocess.Popen[bytes]"
    output: Path
    log: Path


def attach(process_name: str, command: list[str], output: Path) -> Attached:
    """Start ``command`` (a tracer or profiler writing to ``output``), its messages to ``output``'s ``.log``."""
    log = output.with_suffix(".log")
    with log.open("wb") as messages:
        popen = subprocess.Popen(command, stdout=messages, stderr=subprocess.STDOUT)
    return Attached(Path(command[0]).name, process_name, popen, output, log)


async def wait_attached(tools: Sequence[Attached], says: str) -> None:
    """Wait until each tool's log ``says`` it is attached; raise ``ToolFailed`` if one exits or is too slow."""
    deadline = time.monotonic() + ATTACH_TIMEOUT
    waiting = list(tools)
    while waiting:
        for tool in list(waiting):
            messages = tool.log.read_text(errors="replace")
            if says in messages:
                waiting.remove(tool)
            elif tool.popen.poll() is not None or time.monotonic() > deadline:
                tail = " | ".join(messages.strip().splitlines()[-3:])
                raise ToolFailed(f"{tool.tool} on the {tool.process_name}: {tail}")
        await asyncio.sleep(0.05)


def detach(tools: Sequence[Attached]) -> None:
    """Interrupt each tool (strace and py-spy write their output then) and wait for it to exit."""
    for tool in tools:
        if tool.popen.poll() is None:
            tool.popen.send_signal(signal.SIGINT)
    for tool in tools:
        try:
            tool.popen.wait(timeout=DETACH_TIMEOUT)
        except subprocess.TimeoutExpired:
            tool.popen.kill()
            tool.popen.wait()


# ---------------------------------------------------------------------------------------------- the client


class CountingSocket(JobSocket):
    """A ``JobSocket`` that also counts the ``job_status`` frames it receives, by status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.frames: Counter[str] = Counter()  # before the reader starts
        super().__init__(*args, **kwargs)

    def _on_status(self, payload: dict[str, Any], now: float) -> None:
        if payload["status"] != "connected":
            self.frames[payload["status"]] += 1
        super()._on_status(payload, now)


async def open_sockets(url: str, count: int, tracker: Tracker) -> list[CountingSocket]:
    """``count`` sockets, opened one after the other, each past its ``connected`` frame."""
    sockets = []
    for _ in range(count):
        sock = await CountingSocket.open(url, tracker)
        assert isinstance(sock, CountingSocket)
        sockets.append(sock)
    return sockets


async def jobs_in_turn(sock: JobSocket, count: int) -> list[Job]:
    """Send ``count`` jobs on ``sock``, each after the previous one's outcome (none more after a stall)."""
    jobs = []
    for _ in range(count):
        job = await sock.send_job()
        jobs.append(job)
        try:
            async with asyncio.timeout(STALL_TIMEOUT):
                await job.done
        except TimeoutError:
            logger.warning("a job got no outcome within %.0f s: its socket sends no more", STALL_TIMEOUT)
            break
    return jobs


async def run_load(target: Target, load: Load) -> Run:
    """Open the load's sockets, run its jobs between two readings of CPU and Redis commands, close the sockets."""
    tracker = Tracker()
    sockets = await open_sockets(target.ws_url, load.sockets, tracker)
    try:
        before = commandstats(target.redis_url)
        cpu_before, started = cpu_now(target.pids), time.perf_counter()
        sent = await asyncio.gather(*(jobs_in_turn(sock, load.jobs_per_socket) for sock in sockets))
        ended, cpu_after = time.perf_counter(), cpu_now(target.pids)
        after = commandstats(target.redis_url)
    finally:
        await asyncio.gather(*(sock.close() for sock in sockets))
    jobs = [job for socket_jobs in sent for job in socket_jobs]
    latencies = sorted(job.latency for job in jobs if job.latency is not None)
    outcomes = Counter(str(job.status) for job in jobs)
    if set(outcomes) != {"result"}:
        logger.warning("[%s] %s: outcomes %s", target.config, load.key, dict(outcomes))
    frames: Counter[str] = sum((sock.frames for sock in sockets), Counter())
    return Run(
        jobs=len(jobs),
        wall=ended - started,
        cpu={name: cpu_after[name] - cpu_before[name] for name in cpu_before},
        commands=commandstats_delta(before, after),
        frames_out=len(jobs),
        frames_in=dict(frames + Counter({"invalid": outcomes["invalid"]})),
        outcomes=dict(outcomes),
        extensions=sockets[0].extensions,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
    )


# ---------------------------------------------------------------------------------------------- measurements


def target_of(stack: Stack) -> Target:
    """What ``bench.where`` measures of a started stack: its URLs, its processes' pids, where its code is."""
    redis_url = stack.redis_url
    redis_pid = int(redis_info(redis_url, "server")["process_id"])
    pids = {"server": stack.server_pid, "worker": stack.worker_pid, "redis": redis_pid, "client": os.getpid()}
    own = stack.floor.directory if isinstance(stack, FloorStack) else None
    own = stack.peer.directory if isinstance(stack, PeerStack) else own
    return Target(stack.config, stack.ws_url, redis_url, pids, CodeRoots(PROJECT_ROOT, own))


async def warm_up(target: Target, loads: Sequence[Load]) -> None:
    """A few jobs under each load, none measured."""
    for load, per_socket in zip(loads, (WARMUP_JOBS, WARMUP_JOBS_PER_SOCKET), strict=True):
        await run_load(target, Load(load.key, "warm-up", load.sockets, per_socket))


async def measure_idle(targets: Sequence[Target]) -> None:
    """CPU seconds per second each process of every stack uses with no load (all stacks up)."""
    before, started = {t.config: cpu_now(t.pids) for t in targets}, time.perf_counter()
    await asyncio.sleep(IDLE_SECONDS)
    after, seconds = {t.config: cpu_now(t.pids) for t in targets}, time.perf_counter() - started
    for target in targets:
        used = after[target.config]
        target.idle_rates.append({name: (used[name] - before[target.config][name]) / seconds for name in used})


async def measure_cpu(target: Target, load: Load) -> None:
    """One run of ``load`` with nothing attached."""
    run = await run_load(target, load)
    target.runs.setdefault(load.key, []).append(run)
    logger.info(
        "[%s] %s: %d jobs in %.2f s (p50 %.2f ms), CPU s %s",
        target.config,
        load.key,
        run.jobs,
        run.wall,
        run.p50_ms,
        {name: round(seconds, 3) for name, seconds in run.cpu.items()},
    )


async def measure_syscalls(target: Target, load: Load | None, strace: str, raw_dir: Path) -> None:
    """A run of ``load`` (``None``: an idle window) with strace attached: ``-c`` to the server, the worker and the
    client; a full trace of Redis, whose reads and writes are counted by connection."""
    key = load.key if load else "idle"
    owners = connection_owners(target.redis_url, target.pids)
    tracers = []
    try:
        for name, pid in target.pids.items():
            output = raw_dir / f"strace-{target.config}-{key}-{name}.txt"
            mode = ["-s", "0"] if name == "redis" else ["-c"]
            tracers.append(attach(name, [strace, "-f", *mode, "-p", str(pid), "-o", str(output)], output))
        await wait_attached(tracers, "attached")
        started = time.perf_counter()
        await asyncio.sleep(SETTLE_SECONDS)
        run = await run_load(target, load) if load else None
        if load is None:
            await asyncio.sleep(IDLE_SECONDS)
        window = time.perf_counter() - started
    finally:
        detach(tracers)
    # Connections the run opened are Redis's too: the owners after it as well.
    owners |= connection_owners(target.redis_url, target.pids)
    syscalls: dict[str, dict[str, int]] = {}
    connections: dict[str, dict[str, int]] = {}
    for tracer in tracers:
        text = tracer.output.read_text(errors="replace")
        if tracer.process_name == "redis":
            syscalls["redis"], connections = parse_strace_trace(text, owners)
        else:
            syscalls[tracer.process_name] = parse_strace_summary(text)
    target.traces[key] = Trace(window, syscalls, connections, run)
    logger.info("[%s] strace %s: %.2f s window", target.config, key, window)


async def measure_profile(target: Target, load: Load, pyspy: str, raw_dir: Path) -> None:
    """A run of ``load`` with py-spy recording the server and the worker."""
    profilers = []
    try:
        for name in PROFILED:
            output = raw_dir / f"pyspy-{target.config}-{load.key}-{name}.txt"
            command = [pyspy, "record", "-p", str(target.pids[name]), "-r", str(PYSPY_RATE), "-f", "raw", "-F"]
            command += ["--nonblocking", "--full-filenames", "-o", str(output)]
            profilers.append(attach(name, command, output))
        await wait_attached(profilers, "Sampling process")
        target.profile_run = await run_load(target, load)
    finally:
        detach(profilers)
    for profiler in profilers:
        if not profiler.output.exists():
            raise ToolFailed(f"py-spy wrote no profile of the {profiler.process_name} (see {profiler.log})")
        text = profiler.output.read_text(errors="replace")
        target.profiles[profiler.process_name] = parse_pyspy_raw(text, target.roots)
    logger.info(
        "[%s] py-spy %s: %s samples", target.config, load.key, {k: p.samples for k, p in target.profiles.items()}
    )


@dataclass(frozen=True)
class Tools:
    """The optional tools found (None: not found, or not asked for)."""

    strace: str | None
    pyspy: str | None


def find_tools(strace: bool, profile: bool) -> Tools:
    """strace on the PATH, py-spy there or beside this python (a venv's ``bin``); each missing one logged once."""
    venv_bin = str(Path(sys.executable).parent)
    found = Tools(
        strace=shutil.which("strace") if strace else None,
        pyspy=shutil.which("py-spy") or shutil.which("py-spy", path=venv_bin) if profile else None,
    )
    if strace and found.strace is None:
        logger.warning("strace not found: no syscalls (their columns are left out)")
    if profile and found.pyspy is None:
        logger.warning("py-spy not found: no profiles (their section is left out)")
    return found


async def measure(targets: Sequence[Target], loads: Sequence[Load], tools: Tools, raw_dir: Path) -> None:
    """Every measurement of every stack: warm-up, idle CPU, the untraced runs, the strace runs, the profiles."""
    for target in targets:
        await warm_up(target, loads)
    await asyncio.sleep(SETTLE_SECONDS)
    await measure_idle(targets)
    for _ in range(CPU_RUNS):
        for target in targets:
            for load in loads:
                await measure_cpu(target, load)
    await measure_idle(targets)
    if tools.strace:
        for target in targets:
            try:
                for traced in (None, *loads):
                    await measure_syscalls(target, traced, tools.strace, raw_dir)
            except ToolFailed as exc:
                logger.warning("[%s] no syscalls: %s", target.config, exc)
                target.traces.clear()
    if tools.pyspy:
        for target in targets:
            try:
                await measure_profile(target, loads[-1], tools.pyspy, raw_dir)
            except ToolFailed as exc:
                logger.warning("[%s] no profile: %s", target.config, exc)
                target.profiles.clear()


# ---------------------------------------------------------------------------------------------- per job


def per_job(counts: Mapping[str, float], jobs: int) -> dict[str, float]:
    """Each count divided by ``jobs``, largest first."""
    return {name: count / jobs for name, count in sorted(counts.items(), key=lambda item: -item[1])}


def cpu_us_per_job(used: float, idle_rate: float, wall: float, jobs: int) -> float:
    """CPU µs per job: the seconds a process used in a run, less what it uses idle in as long."""
    return (used - idle_rate * wall) / jobs * 1e6


def mean_idle_rate(rates: Sequence[Mapping[str, float]], process: str) -> float:
    """A process's idle CPU seconds per second, averaged over the idle windows."""
    return sum(rate[process] for rate in rates) / len(rates) if rates else 0.0


def syscalls_per_job(traced: Trace, idle: Trace, process: str, jobs: int) -> dict[str, float]:
    """A process's syscalls per job by name in a traced run, less the idle window's rate in as long (not below 0)."""
    idle_counts = idle.syscalls.get(process, {})
    return per_job(
        {
            name: max(calls - idle_counts.get(name, 0) / idle.window * traced.window, 0.0)
            for name, calls in traced.syscalls.get(process, {}).items()
        },
        jobs,
    )


def loop_turns(syscalls: Mapping[str, float]) -> float:
    """Turns of an event loop: the waits in ``epoll``."""
    return sum(count for name, count in syscalls.items() if name in LOOP_WAITS)


def round_trips_per_job(connections: Mapping[str, Mapping[str, int]], process: str, jobs: int) -> tuple[float, float]:
    """Per job: the reads Redis made on ``process``'s connections that got bytes (request batches: round trips), and
    the writes to its pub/sub connections (pushes)."""
    reads = pushes = 0
    for owner, counts in connections.items():
        if owner.removesuffix(PUBSUB) == process:
            reads += counts.get("read", 0) + counts.get("readv", 0)
            if owner.endswith(PUBSUB):
                pushes += sum(counts.get(name, 0) for name in WRITES)
    return reads / jobs, pushes / jobs


def load_figures(target: Target, load: Load) -> LoadFigures:
    """A stack's figures per job under ``load``: CPU from the untraced runs, commands and frames from the first,
    syscalls and round trips from the strace run."""
    runs = target.runs[load.key]
    first = runs[0]
    processes = {}
    for process in PROCESSES:
        idle_rate = 0.0 if process == "client" else mean_idle_rate(target.idle_rates, process)
        cpu = [cpu_us_per_job(run.cpu[process], idle_rate, run.wall, run.jobs) for run in runs]
        processes[process] = ProcessFigures(cpu)
    traced, idle = target.traces.get(load.key), target.traces.get("idle")
    if traced is not None and idle is not None and traced.run is not None:
        for process, figures in processes.items():
            figures.syscalls = syscalls_per_job(traced, idle, process, traced.run.jobs)
            if process in PROFILED:
                figures.round_trips, figures.pushes = round_trips_per_job(traced.connections, process, traced.run.jobs)
    return LoadFigures(
        jobs_per_s=[run.jobs / run.wall for run in runs],
        p50_ms=[run.p50_ms for run in runs],
        p99_ms=[run.p99_ms for run in runs],
        processes=processes,
        commands=per_job(first.commands, first.jobs),
        frames_out=first.frames_out / first.jobs,
        frames_in=per_job({k: v for k, v in first.frames_in.items() if v}, first.jobs),
        extensions=first.extensions,
        traced_jobs_per_s=traced.run.jobs / traced.run.wall if traced is not None and traced.run is not None else None,
    )


# ---------------------------------------------------------------------------------------------- Markdown


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def slashed(values: Sequence[float], digits: int) -> str:
    """Values of the runs, ``a / b``, with thousands separators."""
    return " / ".join(f"{value:,.{digits}f}" for value in values)


def listed(values: Mapping[str, float], digits: int, floor: float, limit: int | None = None) -> str:
    """``name value, ...`` for the values of at least ``floor`` (the first ``limit``), in their order."""
    kept = [(name, value) for name, value in values.items() if value >= floor][:limit]
    return ", ".join(f"{name} {value:.{digits}f}" for name, value in kept)


def runs_heading(count: int) -> str:
    """``(run 1 / run 2)`` for two runs."""
    return "(" + " / ".join(f"run {number}" for number in range(1, count + 1)) + ")"


def label_of(config: str) -> str:
    return LABELS.get(config, config)


def wall_table(figures: Mapping[str, Mapping[str, LoadFigures]], traced: bool) -> str:
    """Latencies of (a), jobs/s of both loads (untraced and under strace), and the extension settled on."""
    runs = runs_heading(CPU_RUNS)
    header = [
        "stack",
        f"(a) p50 ms {runs}",
        "(a) p99 ms",
        "(a) jobs/s",
        f"(b) jobs/s {runs}",
        *(["(a) under strace, jobs/s", "(b) under strace, jobs/s"] if traced else []),
        "permessage-deflate taken",
    ]
    rows = []
    for config, by_load in figures.items():
        a, b = by_load["a"], by_load["b"]
        under_strace = [f"{fig.traced_jobs_per_s:,.0f}" if fig.traced_jobs_per_s else "" for fig in (a, b)]
        rows.append(
            [
                label_of(config),
                slashed(a.p50_ms, 2),
                slashed(a.p99_ms, 2),
                slashed(a.jobs_per_s, 0),
                slashed(b.jobs_per_s, 0),
                *(under_strace if traced else []),
                "yes" if "permessage-deflate" in a.extensions else "no",
            ]
        )
    return markdown_table(header, rows)


def redis_cell(process: str, figures: LoadFigures) -> str:
    """What a process does with Redis per job: Redis's commands, the server's and the worker's round trips."""
    own = figures.processes[process]
    if process == "redis":
        return f"**{sum(figures.commands.values()):.2f} commands/job**: " + listed(figures.commands, 2, 0.01)
    if own.round_trips is None or own.pushes is None:
        return ""
    cell = f"{own.round_trips:.2f} round trips/job (batches Redis read)"
    return cell + (f"; {own.pushes:.2f} pub/sub pushes/job received" if own.pushes else "")


def frames_cell(figures: LoadFigures) -> str:
    """Data frames per job, each way, those received by status."""
    received = sum(figures.frames_in.values())
    return f"{figures.frames_out:.2f} out, {received:.2f} in ({listed(figures.frames_in, 2, 0.005)})"


def syscall_cells(calls: Mapping[str, float] | None) -> list[str]:
    """Syscalls per job in all, the most frequent, and loop turns (empty without an strace run)."""
    if calls is None:
        return ["", "", ""]
    return [f"{sum(calls.values()):.1f}", listed(calls, 1, 0.05, 5), f"{loop_turns(calls):.2f}"]


def load_table(figures: Mapping[str, LoadFigures], traced: bool) -> str:
    """Per stack and process: CPU, syscalls, loop turns, Redis, frames, per job; and the stack's total."""
    header = ["stack", "process", f"CPU µs/job {runs_heading(CPU_RUNS)}"]
    header += ["syscalls/job", "top syscalls (/job)", "epoll waits/job (loop turns)"] if traced else []
    header += ["Redis", "WebSocket frames/job"]
    rows = []
    for config, load in figures.items():
        for process in PROCESSES:
            own = load.processes[process]
            row = [label_of(config), process, slashed(own.cpu_us, 0)]
            if traced:
                row += syscall_cells(own.syscalls)
            row += [redis_cell(process, load), frames_cell(load) if process == "client" else ""]
            rows.append(row)
        stack = [load.processes[process] for process in STACK_PROCESSES]
        total_cpu = [sum(values) for values in zip(*(own.cpu_us for own in stack), strict=True)]
        total = [label_of(config), "**server+worker+Redis**", f"**{slashed(total_cpu, 0)}**"]
        if traced:
            traced_stack = [own.syscalls for own in stack if own.syscalls is not None]
            all_calls = sum(sum(calls.values()) for calls in traced_stack)
            total += [f"{all_calls:.1f}" if len(traced_stack) == len(stack) else "", "", ""]
        rows.append([*total, "", ""])
    return markdown_table(header, rows)


def short_name(frame: str) -> str:
    """A py-spy frame's function, without its file."""
    return frame.split(" (", 1)[0]


def profile_section(target: Target, process: str, cpu_us: float) -> str:
    """A process's profile: the functions most on its stack (the entry chain left out; only code that is not the
    standard library's), those running most, and the share of samples with each group of code."""
    profile = target.profiles[process]
    total = profile.samples or 1
    entry = set(profile.entry)
    shown = [
        frame
        for frame, _ in profile.inclusive.most_common()
        if any(not group.endswith("(stdlib)") for group in frame_groups(frame, target.roots))
        and not (frame in entry and profile.own[frame] / total < ENTRY_OWN)
    ][:PROFILE_ROWS]
    rows = [
        [
            str(number),
            f"`{short_frame(frame, target.roots)}`",
            f"{profile.inclusive[frame] / total * 100:.1f}",
            f"{profile.inclusive[frame] / total * cpu_us:.0f}",
            f"{profile.own[frame] / total * 100:.1f}",
        ]
        for number, frame in enumerate(shown, start=1)
    ]
    jobs = target.profile_run.jobs if target.profile_run else 0
    chain = f"`{short_name(profile.entry[0])}` … `{short_name(profile.entry[-1])}`" if profile.entry else "none"
    own = ", ".join(
        f"`{short_frame(frame, target.roots)}` {samples / total * 100:.1f}%"
        for frame, samples in profile.own.most_common(SELF_ROWS)
    )
    groups = ", ".join(f"{group} {samples / total * 100:.1f}%" for group, samples in profile.groups.most_common())
    return "\n\n".join(
        [
            f"**{label_of(target.config)}, {process}** ({profile.samples:,} samples at {PYSPY_RATE / 1000:g} kHz over "
            f"{jobs:,} jobs, {1 - profile.rooted / total:.0%} of them read without their root frames; µs/job = share "
            f"× the {cpu_us:.0f} µs/job of the runs without the profiler; the entry chain ({chain}) left out but for "
            "its time of its own)",
            markdown_table(["#", "function (file)", "inclusive %", "≈ µs/job", "self %"], rows),
            f"Top self time: {own}",
            f"Samples with any frame of: {groups}",
        ]
    )


def run_summary(meta: Mapping[str, Any], loads: Sequence[Load], traced: bool) -> str:
    """When, at which commit, under which loads, how; what the CPU readings can tell apart."""
    tick = 1 / os.sysconf("SC_CLK_TCK")
    resolution = ", ".join(f"±{tick / load.jobs * 1e6:.0f} µs/job in {load.key}" for load in loads)
    how = f"CPU from {CPU_RUNS} untraced runs per load, idle subtracted"
    how += "; syscalls from a run under strace" if traced else ""
    return (
        f"{meta['started_at']} to {meta['finished_at']}, commit `{meta['commit']}`; zero-work jobs; "
        f"{'; '.join(load.title for load in loads)}. {how}. CPU is read in clock ticks of {tick * 1000:.0f} ms: "
        f"{resolution} per process and run. Not run: {', '.join(meta['skipped']) or 'none'}."
    )


def format_report(
    targets: Sequence[Target],
    loads: Sequence[Load],
    meta: Mapping[str, Any],
    figures: Mapping[str, Mapping[str, LoadFigures]],
) -> str:
    """Every table, as Markdown."""
    traced = any(target.traces for target in targets)
    parts = [
        "# Where the time goes, per job",
        run_summary(meta, loads, traced),
        "## Wall figures (from the client)",
        wall_table(figures, traced),
    ]
    for load in loads:
        parts += [
            f"## {load.title}",
            load_table({config: by_load[load.key] for config, by_load in figures.items()}, traced),
        ]
    profiled = [target for target in targets if target.profiles]
    if profiled:
        parts.append(f"## Profiles under {loads[-1].title.split(',')[0]} (py-spy, {PYSPY_RATE / 1000:g} kHz)")
        for target in profiled:
            for process in PROFILED:
                cpu = figures[target.config][loads[-1].key].processes[process].cpu_us
                parts.append(profile_section(target, process, sum(cpu) / len(cpu)))
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------- the command


def profile_json(profile: Profile) -> dict[str, Any]:
    """A profile's sample counts, the most frequent functions only (the raw file has them all)."""
    return {
        "samples": profile.samples,
        "inclusive": dict(profile.inclusive.most_common(50)),
        "own": dict(profile.own.most_common(50)),
        "groups": dict(profile.groups.most_common()),
        "entry": profile.entry,
        "rooted": profile.rooted,
    }


def figures_json(targets: Sequence[Target], figures: Mapping[str, Mapping[str, LoadFigures]]) -> dict[str, Any]:
    """What was measured of each stack, and its figures per job."""
    document = {}
    for target in targets:
        measured = asdict(target)
        measured["profiles"] = {name: profile_json(profile) for name, profile in target.profiles.items()}
        measured["roots"] = {key: str(path) for key, path in asdict(target.roots).items()}
        measured["per_job"] = {key: asdict(load) for key, load in figures[target.config].items()}
        document[target.config] = measured
    return document


def make_stack(config: str, log_dir: Path) -> Stack:
    """The (not started) stack of ``config``: the floor's, the peer's, or one of ours."""
    if config == FLOOR:
        return FloorStack(find_floor(DEFAULT_FLOOR_DIR, None), log_dir)
    if config == PEER:
        return PeerStack(find_peer(DEFAULT_PEER_DIR, None), log_dir)
    return Stack(config, CONFIGS[config], log_dir)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.where", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        type=config_names,
        default=list(DEFAULT_CONFIGS),
        help=f"configurations, comma-separated ({','.join(DEFAULT_CONFIGS)})",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=DEFAULT_JOBS,
        help=f"jobs of (a), on one socket; (b) runs {CLOSED_LOOP_FACTOR} times as many ({DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--sockets", type=positive_int, default=DEFAULT_SOCKETS, help=f"sockets of (b) ({DEFAULT_SOCKETS})"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"where the JSON and raw files go ({DEFAULT_OUT})"
    )
    parser.add_argument("--no-strace", action="store_true", help="no syscalls (no strace run)")
    parser.add_argument("--no-profile", action="store_true", help="no profiles (no py-spy run)")
    return parser.parse_args(argv)


def commit() -> str:
    """The checkout's commit, ``+dirty`` when its tracked files differ from it."""
    run = [["git", "-C", str(PROJECT_ROOT), *args] for args in (["rev-parse", "--short", "HEAD"], ["status", "-suno"])]
    try:
        head, changes = (subprocess.run(c, capture_output=True, text=True, check=True).stdout.strip() for c in run)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changes else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("websockets", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    tools = find_tools(not args.no_strace, not args.no_profile)
    loads = loads_for(args.jobs, args.sockets)
    started = datetime.now(UTC)
    name = f"where-{started:%Y%m%dT%H%M%SZ}"
    raw_dir = args.out / name
    raw_dir.mkdir(parents=True, exist_ok=True)
    raise_open_files_limit()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    skipped: list[str] = []
    with ExitStack() as running:
        stacks = []
        for config in args.configs:
            try:
                stacks.append(running.enter_context(make_stack(config, raw_dir / "logs")))
            except PeerUnavailable as exc:
                logger.warning("[%s] skipped: %s", config, exc)
                skipped.append(config)
        if not stacks:
            logger.error("no configuration to measure")
            return 1
        targets = [target_of(stack) for stack in stacks]
        asyncio.run(measure(targets, loads, tools, raw_dir))
        meta = {
            "started_at": f"{started:%Y-%m-%d %H:%M} UTC",
            "finished_at": f"{datetime.now(UTC):%H:%M} UTC",
            "commit": commit(),
            "argv": list(sys.argv[1:] if argv is None else argv),
            "loads": [asdict(load) for load in loads],
            "tools": asdict(tools),
            "skipped": skipped,
            "redis_version": stacks[0].redis_version(),
            "client_websockets": importlib.metadata.version("websockets"),
            "cpus": os.cpu_count(),
            "settings": {stack.config: stack.settings for stack in stacks},
        }
    figures = {target.config: {load.key: load_figures(target, load) for load in loads} for target in targets}
    sys.stdout.write(format_report(targets, loads, meta, figures))
    sys.stdout.flush()
    path = args.out / f"{name}.json"
    document = {"meta": meta, "configs": figures_json(targets, figures)}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    logger.info("wrote %s (strace and py-spy output, and the stacks' logs, in %s)", path, raw_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
