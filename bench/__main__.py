"""``python -m bench``: the performance benchmark of issues 5 and 12 (and the reconnect storm) on a private stack.

Starts its own Redis, worker and uvicorn server for each configuration (``tuned``: the app's
defaults; ``stock``: the same with ``FAST_PATH=false``; ``seed``: the tutorial's settings; ``peer``:
the same protocol on SAQ, from ``../shared/peers/saq``; ``floor``: the same protocol with nothing but the
architecture, from ``../shared/peers/floor``), runs the scenarios with one client (which
offers permessage-deflate, as browsers do, unless ``--no-compression``), prints a table, writes the
figures as JSON, the latency distribution and the scaling curves as PNG, and stops everything it started.
The reconnect storm (``bench/storm.py``) restarts its stack's server mid-run, on a stack of its own; the peer and the
floor have no ``job_watch``, so they do not run the storm (``NOT_ON``).

Exit status: 0 when every job got its outcome; 1 when a result was lost, a frame reached the wrong
socket, a storm's page saw its job's outcome twice, a handshake failed, or a scenario crashed. A job the
server refused (an ``error`` frame) in the load scenarios is counted, not a failure; time figures never
fail a run: they are benchmarks, not tests. A peer (or floor) that is not there is skipped.
"""

import argparse
import asyncio
import dataclasses
import functools
import importlib.metadata
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, scenarios, storm
from bench.client import DEFAULT_COMPRESSION, compression_name
from bench.floor import DEFAULT_FLOOR_DIR, FLOOR, FloorStack, find_floor
from bench.peer import DEFAULT_PEER_DIR, PEER, PeerStack, PeerUnavailable, find_peer
from bench.report import ConfigResult
from bench.scenarios import HandshakeResult, LatencyResult, Sizes, ThroughputResult
from bench.stack import CONFIGS, SERVER_FLAGS, Stack, raise_open_files_limit

logger = logging.getLogger("bench")

DEFAULT_OUT = Path(__file__).resolve().parent / "results"

#: Every configuration ``--config`` knows, in the order they run; and the names that stand for several.
ALL_CONFIGS = (*CONFIGS, PEER, FLOOR)
CONFIG_GROUPS = {"both": tuple(CONFIGS), "all": ALL_CONFIGS}
#: Makes the (not started) stack of a configuration that is not ours, logging to the folder it is given.
StackMaker = Callable[[Path], Stack]

#: Sizes per configuration. Without the fast path the worker polls every 0.5 s (the stock and seed
#: configurations), so their latency, sockets, flood and scaling runs are smaller. arq-cli, the peer and the floor
#: are sized as ``tuned``.
DEFAULT_SIZES = {
    "tuned": Sizes(
        latency_jobs=400,
        warmup_jobs=20,
        burst_sockets=50,
        jobs_per_socket=40,
        sockets=5000,
        socket_batch=200,
        idle_seconds=10.0,
        stall_timeout=30.0,
        rounds=5,
        # Each scaling point long enough (10 jobs per socket at 500) that the loop's ramp-up and
        # ramp-down do not weigh on its throughput.
        scaling_jobs=4000,
        scaling_min_jobs_per_socket=10,
    ),
    "stock": Sizes(
        latency_jobs=40,
        warmup_jobs=4,
        burst_sockets=50,
        jobs_per_socket=40,
        sockets=500,
        socket_batch=200,
        idle_seconds=10.0,
        stall_timeout=30.0,
        flood_sockets=500,
        scaling_jobs=10,
        storm_sockets=500,
    ),
    "seed": Sizes(
        latency_jobs=40,
        warmup_jobs=4,
        burst_sockets=50,
        jobs_per_socket=40,
        sockets=500,
        socket_batch=200,
        idle_seconds=10.0,
        stall_timeout=30.0,
        flood_sockets=500,
        scaling_jobs=10,
        storm_sockets=500,
    ),
}
DEFAULT_SIZES[PEER] = DEFAULT_SIZES[FLOOR] = DEFAULT_SIZES["arq-cli"] = DEFAULT_SIZES["tuned"]
SMOKE_SIZES = {
    "latency_jobs": 20,
    "warmup_jobs": 3,
    "burst_sockets": 5,
    "jobs_per_socket": 5,
    "sockets": 50,
    "idle_seconds": 2.0,
    "rounds": 1,
    "flood_sockets": 100,
    "overload_sockets": 5,
    "overload_jobs_per_socket": 20,
    "scaling_sockets": (1, 5, 10),
    "scaling_jobs": 10,
    "handshake_sockets": 100,
    "storm_sockets": 50,
}
#: In the order they run: idle last, after a settling pause; progress and the reconnect storm after them all, each on
#: a stack of its own (their jobs have simulated work: ``PROGRESS_TIME_SCALE``, ``Sizes.storm_time_scale``; the storm
#: restarts its server). The peer and the floor have no progress frames to measure and no ``job_watch``: ``NOT_ON``.
SCENARIOS = (
    "latency",
    "burst",
    "closed_loop",
    "sockets",
    "flood",
    "overload",
    "scaling",
    "handshakes",
    "idle",
    "progress",
    "reconnect_storm",
)
#: Scenarios that run on a stack of their own (only the project's configurations), with settings over the
#: configuration's: each scenario's, for given sizes.
OWN_STACK: dict[str, Callable[[Sizes], dict[str, str]]] = {
    "progress": lambda sizes: {"job_time_scale": scenarios.PROGRESS_TIME_SCALE},
    "reconnect_storm": lambda sizes: storm.storm_settings(sizes.storm_sockets, sizes.storm_time_scale),
}
#: Why a configuration that is not ours does not run a scenario (what its protocol lacks; nothing is faked for it).
#: Every configuration of ``CONFIGS`` runs them all.
NOT_ON: dict[str, dict[str, str]] = {
    PEER: {
        "progress": "the peer sends no progress frames",
        "reconnect_storm": "the peer has no job_watch (and its page no reconnect)",
    },
    FLOOR: {
        "progress": "the floor sends no progress frames (its jobs answer queuing, queued, result)",
        "reconnect_storm": "the floor has no job_watch (and no restart of its server here)",
    },
}
#: Scenarios run ``Sizes.rounds`` times (short ones, whose figures a busy machine moves most).
REPEATED = ("latency", "burst", "closed_loop", "handshakes")
#: Scenarios whose rounds alternate between the configurations, every stack up at once, when several run.
INTERLEAVED = ("latency", "handshakes")
#: Seconds of quiet before the idle measurement, so the last scenario's stragglers are done.
IDLE_SETTLE = 2.0


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {value}")
    return value


def socket_counts(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated socket counts, each at least 1 (``1,10,50``)."""
    try:
        return tuple(positive_int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of socket counts: {text!r}") from exc


def config_names(text: str) -> list[str]:
    """An argparse type: configurations, comma-separated (``tuned,peer,floor``); ``both`` and ``all`` stand for
    several."""
    names: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        expanded = CONFIG_GROUPS.get(part, (part,))
        for name in expanded:
            if name not in ALL_CONFIGS:
                choices = ", ".join([*ALL_CONFIGS, *CONFIG_GROUPS])
                raise argparse.ArgumentTypeError(f"unknown configuration {name!r}: choose among {choices}")
            if name not in names:
                names.append(name)
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the app on a private stack (Redis, one worker, one server): latency, "
        "throughput, concurrent sockets, idle CPU.",
    )
    parser.add_argument(
        "--config",
        type=config_names,
        default=["tuned"],
        help="comma-separated configurations: tuned: the app's defaults; arq-cli: the same with the worker started "
        "by `arq src.tasks.WorkerSettings`; stock: the app's defaults with FAST_PATH=false; "
        "seed: the tutorial's settings; peer: the same protocol on SAQ (--peer-dir); floor: the same protocol with "
        "nothing but the architecture (--floor-dir); both: tuned, arq-cli, stock and seed; all: those, the peer and "
        "the floor (default: tuned)",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="the client offers no permessage-deflate (by default it does, as browsers do)",
    )
    parser.add_argument(
        "--peer-dir",
        type=Path,
        default=DEFAULT_PEER_DIR,
        help=f"the peer's folder (default: {DEFAULT_PEER_DIR})",
    )
    parser.add_argument(
        "--peer-python",
        type=Path,
        help="the python that runs the peer (default: a venv made once from its requirements.txt in ~/.cache)",
    )
    parser.add_argument(
        "--floor-dir",
        type=Path,
        default=DEFAULT_FLOOR_DIR,
        help=f"the floor's folder (default: {DEFAULT_FLOOR_DIR})",
    )
    parser.add_argument(
        "--floor-python",
        type=Path,
        help="the python that runs the floor (default: a venv made once from its requirements.txt in ~/.cache)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)})",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the benchmark works")
    parser.add_argument("--latency-jobs", type=positive_int, help="sequential jobs on one socket (tuned 400, seed 40)")
    parser.add_argument(
        "--warmup-jobs", type=non_negative_int, help="uncounted jobs before the latency run (tuned 20, seed 4)"
    )
    parser.add_argument("--burst-sockets", type=positive_int, help="sockets of the burst and closed-loop runs (50)")
    parser.add_argument(
        "--jobs-per-socket", type=positive_int, help="jobs per socket in the burst and closed-loop runs (40)"
    )
    parser.add_argument(
        "--sockets", type=positive_int, help="concurrent sockets held on the server (tuned 5000, seed 500)"
    )
    parser.add_argument(
        "--socket-batch",
        type=positive_int,
        help="handshakes in flight at once, and jobs per wave, for many sockets (200)",
    )
    parser.add_argument(
        "--sockets-send",
        choices=["waves", "all"],
        help="held sockets send their jobs in waves of --socket-batch (default) or all at once",
    )
    parser.add_argument(
        "--flood-sockets",
        type=positive_int,
        help="flood: sockets, one job each (tuned, peer and floor 5000, stock and seed 500)",
    )
    parser.add_argument("--overload-sockets", type=positive_int, help="overload: sockets sending at once (100)")
    parser.add_argument(
        "--overload-jobs-per-socket", type=positive_int, help="overload: jobs each socket sends at once (100)"
    )
    parser.add_argument(
        "--scaling-sockets", type=socket_counts, help="scaling: the closed loop's socket counts (1,10,50,200,500)"
    )
    parser.add_argument(
        "--scaling-jobs",
        type=positive_int,
        help="scaling: at least this many jobs at each point (tuned, peer and floor 4000, stock and seed 10)",
    )
    parser.add_argument(
        "--scaling-min-jobs-per-socket", type=positive_int, help="scaling: at least this many jobs per socket (5)"
    )
    parser.add_argument(
        "--handshake-sockets", type=positive_int, help="handshakes: sockets opened, --socket-batch in flight (5000)"
    )
    parser.add_argument(
        "--storm-sockets",
        type=positive_int,
        help="reconnect storm: sockets, one long job each, through a server restart (tuned 5000, stock and seed 500)",
    )
    parser.add_argument(
        "--storm-time-scale",
        type=positive_float,
        help=f"reconnect storm: JOB_TIME_SCALE of its stack ({scenarios.STORM_TIME_SCALE:g}: each "
        f"{storm.STORM_JOB_TYPE} job works {storm.work_seconds():g} s)",
    )
    parser.add_argument("--idle-seconds", type=positive_float, help="window of the idle-CPU measurement (10)")
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help="rounds of the latency (samples pooled), burst, closed-loop and handshakes (median round) scenarios "
        "(tuned 5, seed 1)",
    )
    parser.add_argument(
        "--stall-timeout", type=positive_float, help="seconds without any result before pending jobs count as lost (30)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write the results ({DEFAULT_OUT})")
    parser.add_argument("--publish", action="store_true", help="also copy the JSON and the PNG to docs/perf/")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def sizes_for(config: str, args: argparse.Namespace) -> Sizes:
    """The configuration's default sizes, then ``--smoke``'s, then each size given on the command line."""
    sizes = DEFAULT_SIZES[config]
    if args.smoke:
        sizes = dataclasses.replace(sizes, **SMOKE_SIZES)  # type: ignore[arg-type]
    given = {name: getattr(args, name) for name in Sizes.__dataclass_fields__ if getattr(args, name, None) is not None}
    return dataclasses.replace(sizes, **given)


def scenario_runs(
    stack: Stack, sizes: Sizes, compression: str | None
) -> dict[str, Callable[[], Coroutine[Any, Any, Any]]]:
    """Each scenario, ready to run against ``stack`` at ``sizes``, in the order of ``SCENARIOS``."""
    url, batch, stall = stack.ws_url, sizes.socket_batch, sizes.stall_timeout
    scaling_points = [(count, sizes.scaling_jobs_per_socket(count)) for count in sizes.scaling_sockets]
    runs: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
        "latency": lambda: scenarios.latency(url, sizes.latency_jobs, sizes.warmup_jobs, stall, compression),
        "burst": lambda: scenarios.burst(url, sizes.burst_sockets, sizes.jobs_per_socket, batch, stall, compression),
        "closed_loop": lambda: scenarios.closed_loop(
            url, sizes.burst_sockets, sizes.jobs_per_socket, batch, stall, compression
        ),
        "sockets": lambda: scenarios.many_sockets(
            url, sizes.sockets, batch, stack.server_pid, stall, sizes.sockets_send, compression
        ),
        "flood": lambda: scenarios.flood(url, sizes.flood_sockets, batch, stack.server_pid, stall, compression),
        "overload": lambda: scenarios.overload(
            url, sizes.overload_sockets, sizes.overload_jobs_per_socket, batch, stack.server_pid, stall, compression
        ),
        "scaling": lambda: scenarios.scaling(url, scaling_points, batch, stall, compression),
        "idle": lambda: scenarios.idle(stack.worker_pid, stack.server_pid, sizes.idle_seconds),
        "progress": lambda: scenarios.progress(
            url, sizes.progress_sockets, sizes.progress_jobs_per_socket, batch, stall, compression
        ),
        "handshakes": lambda: scenarios.handshakes(url, sizes.handshake_sockets, batch, compression),
        "reconnect_storm": lambda: storm.reconnect_storm(
            url,
            sizes.storm_sockets,
            batch,
            lambda: asyncio.to_thread(stack.restart_server),
            stall,
            compression,
            cpu=stack.cpu_seconds,
            time_scale=sizes.storm_time_scale,
        ),
    }
    return {name: runs[name] for name in SCENARIOS}


async def record_extensions(stack: Stack, result: ConfigResult, compression: str | None) -> None:
    """Note which extensions the server settled on with the client's offer (one handshake)."""
    try:
        result.negotiated = await scenarios.negotiated_extensions(stack.ws_url, compression)
    except Exception as exc:  # the scenarios will say more; this is only a note
        logger.warning("[%s] the handshake probe failed: %s: %s", result.name, type(exc).__name__, exc)
        return
    logger.info(
        "[%s] the client offered %s; the server settled on %s",
        result.name,
        compression_name(compression),
        ", ".join(result.negotiated) or "no extension",
    )


async def run_scenarios(stack: Stack, result: ConfigResult, selected: Sequence[str], compression: str | None) -> None:
    """Run each selected scenario in turn; a crash is recorded and the next scenario still runs."""
    sizes = result.sizes
    if any(name != "idle" for name in selected) and result.negotiated is None:
        await record_extensions(stack, result, compression)
    for name, run in scenario_runs(stack, sizes, compression).items():
        if name not in selected:
            continue
        if name == "idle" and any(other not in OWN_STACK for other in selected if other != "idle"):
            await asyncio.sleep(IDLE_SETTLE)  # let the last scenario's closes and bookkeeping finish first
        rounds = sizes.rounds if name in REPEATED else 1
        for round_number in range(1, rounds + 1):
            if not await run_round(
                stack, result, name, run, f" (round {round_number} of {rounds})" if rounds > 1 else ""
            ):
                break
            if rounds > 1:
                result.rounds.setdefault(name, []).append(getattr(result, name))
        if result.rounds.get(name):
            setattr(result, name, pooled_or_median(result.rounds[name]))


async def run_round(
    stack: Stack, result: ConfigResult, name: str, run: Callable[[], Coroutine[Any, Any, Any]], label: str
) -> bool:
    """Run one scenario (or one round of it) into ``result``; False if it crashed or the stack died."""
    logger.info("[%s] %s%s ...", result.name, name, label)
    began, cpu_before = time.perf_counter(), stack.cpu_seconds()
    try:
        setattr(result, name, await run())
    except Exception as exc:
        logger.exception("[%s] %s crashed", result.name, name)
        result.crashes[name] = f"{type(exc).__name__}: {exc}"
        return False
    finally:
        elapsed = time.perf_counter() - began
        cpu_after = stack.cpu_seconds()
        spent = {"wall": elapsed} | {process: cpu_after[process] - cpu_before[process] for process in cpu_after}
        totals = result.timings.setdefault(name, {})
        for key, value in spent.items():  # summed over the rounds
            totals[key] = round(totals.get(key, 0.0) + value, 3)
    logger.info("[%s] %s%s done in %.1f s", result.name, name, label, elapsed)
    dead = [process for process, alive in stack.alive().items() if not alive]
    if dead:
        result.crashes[name] = f"the {' and the '.join(dead)} exited during the scenario"
        logger.error("[%s] %s", result.name, result.crashes[name])
        return False
    return True


def pooled_or_median(rounds: list[Any]) -> Any:
    """Latency over every round's samples; for throughput, the median round by jobs/s (handshakes: by handshakes/s;
    of an even count, the lower middle)."""
    if all(isinstance(run, LatencyResult) for run in rounds):
        return scenarios.pooled_latency(rounds)
    ordered = sorted(rounds, key=lambda run: -round_rate(run))
    return ordered[(len(ordered) - 1) // 2]


def round_rate(run: ThroughputResult | HandshakeResult) -> float:
    """What orders the rounds of a throughput scenario: jobs/s, or handshakes/s."""
    return run.handshakes_per_s if isinstance(run, HandshakeResult) else run.jobs_per_s


def new_runner() -> asyncio.Runner:
    """The client's event loop: uvloop where installed (a leaner client leaves more CPU to the stack)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def client_loop_name() -> str:
    """Which event loop ``new_runner`` gives the client."""
    try:
        return f"uvloop {importlib.metadata.version('uvloop')}"
    except importlib.metadata.PackageNotFoundError:
        return "asyncio"


def not_run(config: str, selected: Sequence[str]) -> dict[str, str]:
    """The selected scenarios that ``config`` does not run, each with why (``NOT_ON``)."""
    reasons = NOT_ON.get(config, {})
    return {scenario: reasons[scenario] for scenario in selected if scenario in reasons}


def outside_stacks(names: Sequence[str], args: argparse.Namespace) -> tuple[dict[str, StackMaker], dict[str, str]]:
    """For the configurations among ``names`` that are not ours (the peer, the floor), each one's stack maker (its
    folder found, its venv made); and those that cannot run here, each with why (skipped, with one warning)."""
    finders: dict[str, Callable[[], StackMaker]] = {
        PEER: lambda: functools.partial(PeerStack, find_peer(args.peer_dir, args.peer_python)),
        FLOOR: lambda: functools.partial(FloorStack, find_floor(args.floor_dir, args.floor_python)),
    }
    makers: dict[str, StackMaker] = {}
    skipped: dict[str, str] = {}
    for name, find in finders.items():
        if name not in names:
            continue
        try:
            makers[name] = find()
        except PeerUnavailable as exc:
            logger.warning("%s: skipped: %s", name, exc)
            skipped[name] = str(exc)
    return makers, skipped


def config_stack(name: str, log_dir: Path, outside: Mapping[str, StackMaker]) -> Stack:
    """A stack (not started) for configuration ``name``: the peer's or the floor's, or ours with its settings."""
    return outside[name](log_dir) if name in outside else Stack(name, CONFIGS[name], log_dir)


def interleaved(
    scenario: str,
    sizes: dict[str, Sizes],
    out_dir: Path,
    compression: str | None,
    outside: Mapping[str, StackMaker],
) -> dict[str, ConfigResult]:
    """``scenario`` on every configuration of ``sizes``, every stack up at once and the rounds alternating between
    them (round 1 of each, then round 2 of each, ...): a machine whose speed drifts weighs on each alike."""
    results = {
        name: ConfigResult(name=name, settings=CONFIGS.get(name, {}), sizes=size, scenarios=[scenario])
        for name, size in sizes.items()
    }
    stacks: dict[str, Stack] = {}
    log_dir = out_dir / "logs" / scenario
    try:
        with ExitStack() as running:
            for name in sizes:
                stacks[name] = running.enter_context(config_stack(name, log_dir, outside))
            with new_runner() as runner:
                for name, stack in stacks.items():
                    results[name].settings = stack.settings
                    runner.run(record_extensions(stack, results[name], compression))
                for round_number in range(1, max(size.rounds for size in sizes.values()) + 1):
                    for name, stack in stacks.items():
                        size, result = sizes[name], results[name]
                        if round_number > size.rounds or scenario in result.crashes:
                            continue
                        run = scenario_runs(stack, size, compression)[scenario]
                        label = f" (round {round_number} of {size.rounds}, interleaved)"
                        if runner.run(run_round(stack, result, scenario, run, label)):
                            result.rounds.setdefault(scenario, []).append(getattr(result, scenario))
    except Exception as exc:
        logger.exception("[%s] the stacks failed", scenario)
        for result in results.values():
            result.crashes.setdefault(scenario, f"{type(exc).__name__}: {exc}")
    for name, result in results.items():
        if result.rounds.get(scenario):
            setattr(result, scenario, pooled_or_median(result.rounds[scenario]))
        if name in stacks:
            result.logs = {f"{process} ({scenario})": log for process, log in stacks[name].logs.items()}
    return results


def merge_interleaved(result: ConfigResult, phase: ConfigResult, scenario: str) -> None:
    """Put the interleaved phase's figures, timings, crashes and logs of ``scenario`` into ``result``."""
    setattr(result, scenario, getattr(phase, scenario))
    if scenario in phase.rounds:
        result.rounds[scenario] = phase.rounds[scenario]
    if scenario in phase.timings:
        result.timings[scenario] = phase.timings[scenario]
    if scenario in phase.crashes:
        result.crashes[scenario] = phase.crashes[scenario]
    result.scenarios = [name for name in SCENARIOS if name in result.scenarios or name == scenario]
    result.negotiated = result.negotiated or phase.negotiated
    result.logs.update(phase.logs)


def run_config(
    name: str,
    sizes: Sizes,
    selected: Sequence[str],
    out_dir: Path,
    compression: str | None,
    outside: Mapping[str, StackMaker],
) -> tuple[ConfigResult, str | None]:
    """Start a fresh stack for configuration ``name``, run every scenario on it, stop it."""
    result = ConfigResult(
        name=name,
        settings=CONFIGS.get(name, {}),
        sizes=sizes,
        scenarios=list(selected),
        compression=compression_name(compression),
    )
    redis_version = None
    began = time.perf_counter()
    log_dir = out_dir / "logs"
    stack = config_stack(name, log_dir, outside)
    for scenario, reason in not_run(name, selected).items():
        result.skipped[scenario] = reason
        logger.info("[%s] %s: skipped: %s", name, scenario, reason)
    runnable = [scenario for scenario in selected if scenario not in result.skipped]
    on_main = [scenario for scenario in runnable if scenario not in OWN_STACK]
    try:
        if on_main:
            with stack:
                result.settings = stack.settings
                redis_version = stack.redis_version()
                with new_runner() as runner:
                    runner.run(run_scenarios(stack, result, on_main, compression))
        for scenario, overrides in OWN_STACK.items():
            if scenario in runnable:
                own = Stack(name, {**CONFIGS[name], **overrides(sizes)}, log_dir / scenario)
                with own:
                    redis_version = redis_version or own.redis_version()
                    with new_runner() as runner:
                        runner.run(run_scenarios(own, result, [scenario], compression))
                stack.logs.update({f"{process} ({scenario})": log for process, log in own.logs.items()})
    except Exception as exc:
        logger.exception("[%s] the stack failed", name)
        result.crashes["stack"] = f"{type(exc).__name__}: {exc}"
    finally:
        result.logs = stack.logs
        result.seconds = round(time.perf_counter() - began, 1)
    for process, log in stack.logs.items():
        if log.tracebacks or log.errors:
            logger.warning(
                "[%s] the %s logged %d errors and %d tracebacks (%s), e.g. %s",
                name,
                process,
                log.errors,
                log.tracebacks,
                log.path,
                log.samples[:2],
            )
    return result, redis_version


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("websockets", "httpx", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    names: list[str] = list(args.config)
    selected = [scenario.strip().replace("-", "_") for scenario in args.scenarios.split(",")]
    unknown = set(selected) - set(SCENARIOS)
    if unknown:
        logger.error("unknown scenarios %s: choose among %s", sorted(unknown), ", ".join(SCENARIOS))
        return 2
    compression = None if args.no_compression else DEFAULT_COMPRESSION
    outside, skipped = outside_stacks(names, args)
    names = [name for name in names if name not in skipped]
    out_dir: Path = args.out
    started = datetime.now(UTC)
    began = time.perf_counter()
    open_files = raise_open_files_limit()
    # SIGTERM (a CI timeout, say) stops the stack as Ctrl+C does, instead of orphaning it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    results: list[ConfigResult] = []
    redis_version: str | None = None
    all_sizes = {name: sizes_for(name, args) for name in names}
    # With several configurations, their latency and handshakes rounds alternate, on stacks of their own, before the
    # rest.
    interleave = [scenario for scenario in INTERLEAVED if scenario in selected] if len(names) > 1 else []
    try:
        phases = {
            scenario: interleaved(
                scenario,
                {name: size for name, size in all_sizes.items() if not not_run(name, [scenario])},
                out_dir,
                compression,
                outside,
            )
            for scenario in interleave
        }
        for name in names:
            logger.info("[%s] sizes: %s", name, all_sizes[name])
            rest = [scenario for scenario in selected if scenario not in interleave]
            result, version = run_config(name, all_sizes[name], rest, out_dir, compression, outside)
            result.skipped.update(not_run(name, interleave))
            for scenario, phase in phases.items():
                if name in phase:
                    merge_interleaved(result, phase[name], scenario)
            redis_version = redis_version or version
            results.append(result)
    except KeyboardInterrupt:
        logger.error("interrupted: every process the benchmark started has been stopped")
        return 130

    machine = report.machine_info(redis_version)
    run = {
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - began, 1),
        "argv": sys.argv[1:] if argv is None else argv,
        "open_files_limit": open_files,
        "client_loop": client_loop_name(),
        "client_websockets": importlib.metadata.version("websockets"),
        "server_flags": " ".join(SERVER_FLAGS),
        "compression": compression_name(compression),
        "skipped": skipped,
    }
    sys.stdout.write(report.format_table(results, machine, run))
    sys.stdout.flush()
    paths = [report.write_json(report.to_json(results, machine, run), out_dir)]
    for plot in (report.plot_latency(results, machine, out_dir), report.plot_scaling(results, machine, out_dir)):
        if plot is not None:
            paths.append(plot)
    logger.info("wrote %s", ", ".join(str(path) for path in paths))
    if args.publish:
        logger.info("published %s", ", ".join(str(path) for path in report.publish(paths)))

    failed = [result for result in results if result.failed]
    for result in failed:
        logger.error(
            "[%s] FAILED: %d results lost, %d frames on the wrong socket, %d outcomes duplicated, %d handshakes "
            "failed, crashes: %s",
            result.name,
            result.lost,
            result.unmatched_frames,
            result.duplicated_outcomes,
            result.failed_handshakes,
            result.crashes or "none",
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
