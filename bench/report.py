"""What a run reports: the machine, the tables, the JSON figures, the plots, and their published copies."""

import dataclasses
import json
import logging
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import (
    PROGRESS_JOB_TYPE,
    PROGRESS_TIME_SCALE,
    HandshakeResult,
    IdleResult,
    JobCounts,
    LatencyResult,
    LoadResult,
    ScalingResult,
    Sizes,
    SocketsResult,
    ThroughputResult,
)
from bench.stack import LogSummary
from bench.storm import CPU_SAMPLE, OUTCOME_BOUND, PAGE_BACKOFF, STORM_JOB_TYPE, StormResult

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
JSON_NAME = "latest.json"
PLOT_NAME = "latency.png"
SCALING_PLOT_NAME = "scaling.png"
PUBLISH_DIR = PROJECT_ROOT / "docs" / "perf"

#: The issue's targets, drawn on the plot.
TARGET_P50_MS = 2.0
TARGET_P99_MS = 5.0

#: The configurations ``tuned`` is compared with (ratio rows, the JSON's ratios) when they ran beside it.
COMPARED = ("seed", "peer", "floor")
#: The configurations that are not ours (``bench/peer.py``, ``bench/floor.py``): compared under load and by scaling
#: point too.
OUTSIDE = ("peer", "floor")
#: Configurations whose ratios are tuned's figure over theirs, every figure alike, as the targets are written (tuned's
#: p50 at most 0.75x the peer's and 3x the floor's, its jobs/s at least 2.5x the peer's). The seed's say how many
#: times better tuned is (seed/tuned for a time).
TUNED_OVER = ("peer", "floor")
#: The scenarios whose jobs are counted, each run (or round) with its own ``counts``.
COUNTED = ("latency", "burst", "closed_loop", "sockets", "flood", "overload", "scaling", "progress", "reconnect_storm")
#: The load scenarios: a refused job is an outcome there, counted apart from the lost ones.
LOAD_SCENARIOS = ("flood", "overload", "scaling")

#: A run whose jobs count.
Counted = LatencyResult | ThroughputResult | SocketsResult | LoadResult | StormResult

#: The issue's targets for the reconnect storm: seconds from the SIGTERM until every socket is connected again and
#: every outcome has arrived.
TARGET_STORM_SECONDS = 10.0


@dataclass
class ConfigResult:
    """Everything measured for one configuration."""

    name: str
    settings: dict[str, str]
    sizes: Sizes
    #: The scenarios selected for this run.
    scenarios: list[str] = field(default_factory=list)
    latency: LatencyResult | None = None
    burst: ThroughputResult | None = None
    closed_loop: ThroughputResult | None = None
    sockets: SocketsResult | None = None
    flood: LoadResult | None = None
    overload: LoadResult | None = None
    scaling: ScalingResult | None = None
    #: The closed loop with simulated work, on a stack of its own at ``PROGRESS_TIME_SCALE``.
    progress: ThroughputResult | None = None
    #: Sockets opened as fast as ``socket_batch`` handshakes in flight allow.
    handshakes: HandshakeResult | None = None
    #: Long jobs through a restart of the server, on a stack of its own (``bench/storm.py``).
    reconnect_storm: StormResult | None = None
    idle: IdleResult | None = None
    #: What the client offered: "permessage-deflate" or "none".
    compression: str = "permessage-deflate"
    #: The extensions the server settled on (one handshake, before the scenarios); None if not probed.
    negotiated: list[str] | None = None
    #: Scenario (or "stack") → the exception that stopped it.
    crashes: dict[str, str] = field(default_factory=dict)
    logs: dict[str, LogSummary] = field(default_factory=dict)
    #: Scenario → its wall-clock seconds ("wall") and the CPU seconds each process used meanwhile
    #: ("client": this process, "server", "worker"): where the machine's two cores went.
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = math.nan
    #: Scenario → every round run of it (``latency``, ``burst``, ``closed_loop`` and ``handshakes``); the scenario's
    #: own field holds the median round.
    rounds: dict[str, list[LatencyResult | ThroughputResult | HandshakeResult]] = field(default_factory=dict)
    #: Scenario → why this configuration did not run it (the peer, the floor: no progress frames, no ``job_watch``).
    skipped: dict[str, str] = field(default_factory=dict)

    def runs_of(self, scenario: str) -> list[Counted]:
        """The runs of ``scenario`` whose jobs count: each round, each scaling point, or the one run."""
        part = getattr(self, scenario)
        if isinstance(part, ScalingResult):
            return list(part.points)
        runs = self.rounds.get(scenario) or ([part] if part is not None else [])
        return [run for run in runs if not isinstance(run, HandshakeResult)]

    def handshake_runs(self) -> list[HandshakeResult]:
        """Every round of the handshakes scenario."""
        runs = self.rounds.get("handshakes") or ([self.handshakes] if self.handshakes is not None else [])
        return [run for run in runs if isinstance(run, HandshakeResult)]

    def _counted(self) -> list[Counted]:
        """Every run whose jobs count, across the scenarios."""
        return [run for name in COUNTED for run in self.runs_of(name)]

    @property
    def lost(self) -> int:
        """Jobs without a result across every scenario (and round) that ran."""
        return sum(part.counts.lost for part in self._counted())

    @property
    def unmatched_frames(self) -> int:
        """Frames that reached a socket that did not send their job, across every scenario (and round)."""
        return sum(part.counts.unmatched_frames for part in self._counted())

    @property
    def duplicated_outcomes(self) -> int:
        """Jobs of the reconnect storm whose page saw more than one outcome."""
        return self.reconnect_storm.duplicated if self.reconnect_storm is not None else 0

    @property
    def failed_handshakes(self) -> int:
        """Sockets of the handshakes scenario that did not open, over its rounds."""
        return sum(run.failed_connects for run in self.handshake_runs())

    @property
    def failed(self) -> bool:
        """Whether the benchmark itself failed for this configuration: a lost result, a misrouted or duplicated
        frame, a failed handshake, a crash."""
        return (
            bool(self.crashes)
            or self.lost > 0
            or self.unmatched_frames > 0
            or self.duplicated_outcomes > 0
            or self.failed_handshakes > 0
        )


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info(redis_version: str | None) -> dict[str, Any]:
    """The machine the figures came from."""
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")), 0
    )
    return {
        "cpu": cpu_model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "redis": redis_version,
        "kernel": platform.release(),
        "git": git_revision(),
    }


def git_revision() -> str | None:
    """The commit measured, with ``+dirty`` when the work tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None or math.isnan(numerator) or math.isnan(denominator) or not denominator:
        return "—"
    return f"{numerator / denominator:,.1f}x"


COLUMNS = (
    "config",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "burst jobs/s",
    "closed-loop jobs/s",
    "lost",
    "KB/socket",
    "idle worker %CPU",
)


def _row(result: ConfigResult) -> list[str]:
    def cell(scenario: str, figure: Callable[[Any], float], digits: int) -> str:
        part = getattr(result, scenario)
        if part is None:
            return "crashed" if scenario in result.crashes or "stack" in result.crashes else "—"
        return _fmt(figure(part), digits)

    return [
        result.name + (" (FAILED)" if result.failed else ""),
        cell("latency", lambda part: part.p50_ms, 2),
        cell("latency", lambda part: part.p95_ms, 2),
        cell("latency", lambda part: part.p99_ms, 2),
        cell("burst", lambda part: part.jobs_per_s, 0),
        cell("closed_loop", lambda part: part.jobs_per_s, 0),
        str(result.lost),
        cell("sockets", lambda part: part.kb_per_socket, 1),
        cell("idle", lambda part: part.worker_cpu_percent, 2),
    ]


def _lat(result: ConfigResult, name: str) -> float | None:
    return float(getattr(result.latency, name)) if result.latency else None


def _rate(part: ThroughputResult | None) -> float | None:
    return part.jobs_per_s if part else None


def _handshake_rate(result: ConfigResult) -> float | None:
    return result.handshakes.handshakes_per_s if result.handshakes else None


def _load_seconds(part: LoadResult | None) -> float | None:
    return part.seconds if part else None


def _point(result: ConfigResult, sockets: int) -> ThroughputResult | None:
    """The scaling point of ``result`` at ``sockets`` sockets, if it ran."""
    return next((point for point in _points(result) if point.sockets == sockets), None)


def _time_over(name: str) -> tuple[str, str]:
    """Whose time a ratio of tuned's and ``name``'s divides by whose: ``(name, "tuned")``, how many times faster tuned
    is; beside the floor (``TUNED_OVER``), ``("tuned", name)``."""
    return ("tuned", name) if name in TUNED_OVER else (name, "tuned")


def _times(tuned: float | None, other: float | None, name: str) -> tuple[float | None, float | None]:
    """Tuned's time and ``name``'s (``other``) as numerator and denominator, in ``_time_over``'s order."""
    return (tuned, other) if name in TUNED_OVER else (other, tuned)


def ratio_row(tuned: ConfigResult, other: ConfigResult) -> list[str]:
    """other/tuned for latency, tuned/other for throughput: how many times better the tuned stack is; beside the
    floor, tuned/floor for both."""
    name = other.name
    return [
        f"tuned vs {name}" + (f" (tuned/{name})" if name in TUNED_OVER else ""),
        *(_ratio(*_times(_lat(tuned, pct), _lat(other, pct), name)) for pct in ("p50_ms", "p95_ms", "p99_ms")),
        _ratio(_rate(tuned.burst), _rate(other.burst)),
        _ratio(_rate(tuned.closed_loop), _rate(other.closed_loop)),
        "",
        "",
        "",
    ]


def _divide(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or math.isnan(numerator) or math.isnan(denominator):
        return None
    return round(numerator / denominator, 2) if denominator else None


def ratios(tuned: ConfigResult, other: ConfigResult) -> dict[str, Any]:
    """The same ratios as numbers, for the JSON (``p50_seed_over_tuned``, ``burst_tuned_over_peer``,
    ``p50_tuned_over_floor``, ...).

    Beside the peer and the floor, also the load scenarios' times (other/tuned; tuned/floor) and each scaling point's
    jobs/s (tuned/other).
    """
    name = other.name
    first, second = _time_over(name)
    figures: dict[str, Any] = {
        f"{pct}_{first}_over_{second}": _divide(*_times(_lat(tuned, f"{pct}_ms"), _lat(other, f"{pct}_ms"), name))
        for pct in ("p50", "p95", "p99")
    }
    figures[f"burst_tuned_over_{name}"] = _divide(_rate(tuned.burst), _rate(other.burst))
    figures[f"closed_loop_tuned_over_{name}"] = _divide(_rate(tuned.closed_loop), _rate(other.closed_loop))
    figures[f"handshakes_tuned_over_{name}"] = _divide(_handshake_rate(tuned), _handshake_rate(other))
    if name not in OUTSIDE:
        return figures
    for scenario in ("flood", "overload"):
        seconds = (_load_seconds(getattr(tuned, scenario)), _load_seconds(getattr(other, scenario)))
        figures[f"{scenario}_seconds_{first}_over_{second}"] = _divide(*_times(*seconds, name))
    if tuned.scaling and other.scaling:
        figures[f"scaling_jobs_per_s_tuned_over_{name}"] = {
            str(point.sockets): _divide(point.jobs_per_s, _rate(_point(other, point.sockets)))
            for point in tuned.scaling.points
        }
    return figures


_SEND = {"waves": "in waves of {}", "all": "all at once"}


def _sizes_line(result: ConfigResult) -> str:
    sizes = result.sizes
    parts = {
        "latency": f"latency {sizes.latency_jobs} sequential jobs (after {sizes.warmup_jobs} warm-up)",
        "burst": f"burst {sizes.burst_sockets} sockets x {sizes.jobs_per_socket} jobs",
        "closed_loop": f"closed-loop {sizes.burst_sockets} sockets x {sizes.jobs_per_socket} jobs",
        "sockets": f"{sizes.sockets:,} concurrent sockets (jobs sent "
        + _SEND[sizes.sockets_send].format(sizes.socket_batch)
        + ")",
        "flood": f"flood {sizes.flood_sockets:,} sockets x 1 job at once",
        "overload": f"overload {sizes.overload_sockets} sockets x {sizes.overload_jobs_per_socket} jobs at once",
        "scaling": "scaling closed loop at "
        + "/".join(f"{count}x{sizes.scaling_jobs_per_socket(count)}" for count in sizes.scaling_sockets)
        + " sockets x jobs",
        "handshakes": f"handshakes {sizes.handshake_sockets:,} sockets, {sizes.socket_batch} in flight",
        "idle": f"{sizes.idle_seconds:g} s idle",
        "reconnect_storm": f"reconnect storm {sizes.storm_sockets:,} sockets x 1 {STORM_JOB_TYPE} job "
        f"(JOB_TIME_SCALE={sizes.storm_time_scale:g}) through a server restart",
    }
    ran = ", ".join(text for name, text in parts.items() if name in result.scenarios and name not in result.skipped)
    return f"  {result.name}: {ran}; took {result.seconds:.0f} s"


def _rounds_line(result: ConfigResult) -> str | None:
    """The spread over the rounds of the repeated scenarios, whose median rounds the table shows."""
    spreads = []
    labels = (("latency", "p50"), ("burst", "burst"), ("closed_loop", "closed-loop"), ("handshakes", "handshakes"))
    for name, label in labels:
        runs = result.rounds.get(name, [])
        if len(runs) < 2:
            continue
        figures = sorted(_round_figure(run) for run in runs)
        unit = {"latency": "ms", "handshakes": "handshakes/s"}.get(name, "jobs/s")
        digits = 2 if name == "latency" else 0
        spreads.append(f"{label} {_fmt(figures[0], digits)}–{_fmt(figures[-1], digits)} {unit}")
    if not spreads:
        return None
    count = max(len(runs) for runs in result.rounds.values())
    return (
        f"  {result.name}: {count} rounds each (latency: every round's samples pooled; throughput: the median round); "
        "over the rounds " + ", ".join(spreads)
    )


def _round_figure(run: LatencyResult | ThroughputResult | HandshakeResult) -> float:
    """What a round's spread is given in: p50 ms, jobs/s or handshakes/s."""
    if isinstance(run, LatencyResult):
        return run.p50_ms
    if isinstance(run, HandshakeResult):
        return run.handshakes_per_s
    return run.jobs_per_s


def server_cpu_ms_per_job(result: ConfigResult, scenario: str) -> float | None:
    """The server's CPU milliseconds per job over every round of ``scenario`` (None where it did not run)."""
    spent = result.timings.get(scenario, {}).get("server")
    jobs = sum(run.counts.jobs for run in result.runs_of(scenario))
    return None if spent is None or not jobs else round(spent / jobs * 1000, 3)


def _progress_line(result: ConfigResult) -> str | None:
    part = result.progress
    if part is None:
        return None
    with_work = server_cpu_ms_per_job(result, "progress")
    zero_work = server_cpu_ms_per_job(result, "closed_loop")
    return (
        f"  {result.name}: {part.counts.jobs:,} {PROGRESS_JOB_TYPE} jobs at JOB_TIME_SCALE={PROGRESS_TIME_SCALE} "
        f"({part.sockets} sockets x {part.jobs_per_socket}, closed loop): {part.frames_per_job:.2f} progress frames "
        f"per job; server CPU {_fmt(with_work, 3)} ms per job (zero-work closed loop: {_fmt(zero_work, 3)} ms per job)"
    )


def _cpu_line(result: ConfigResult) -> str:
    parts = [
        f"{name} {t['client']:.1f}/{t['server']:.1f}/{t['worker']:.1f} in {t['wall']:.1f} s"
        for name, t in result.timings.items()
    ]
    return f"  {result.name}: " + ", ".join(parts)


def _render(rows: list[list[str]]) -> list[str]:
    """Rows as aligned lines: the first column to the left, the others to the right, a rule under the header."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    return [line(rows[0]), "  ".join("-" * width for width in widths)] + [line(row) for row in rows[1:]]


def _compared(results: list[ConfigResult]) -> list[tuple[ConfigResult, ConfigResult]]:
    """(tuned, other) for each configuration of ``COMPARED`` that ran beside tuned."""
    by_name = {result.name: result for result in results}
    if "tuned" not in by_name:
        return []
    return [(by_name["tuned"], by_name[name]) for name in COMPARED if name in by_name]


LOAD_COLUMNS = (
    "config",
    "flood answered/refused/lost",
    "flood s",
    "flood KB/socket",
    "overload answered/refused/lost",
    "overload s",
)


def _outcomes(part: LoadResult) -> str:
    counts = part.counts
    return f"{counts.results:,} / {counts.refused:,} / {counts.lost:,}"


def _load_row(result: ConfigResult) -> list[str]:
    def cells(scenario: str, *figures: Callable[[LoadResult], str]) -> list[str]:
        part: LoadResult | None = getattr(result, scenario)
        if part is None:
            failed = scenario in result.crashes or "stack" in result.crashes
            return ["crashed" if failed else "—"] * len(figures)
        return [figure(part) for figure in figures]

    return [
        result.name + (" (FAILED)" if result.failed else ""),
        *cells("flood", _outcomes, lambda part: _fmt(part.seconds, 2), lambda part: _fmt(part.kb_per_socket, 1)),
        *cells("overload", _outcomes, lambda part: _fmt(part.seconds, 2)),
    ]


def load_table(results: list[ConfigResult]) -> list[str]:
    """Flood and overload: each configuration's outcomes and seconds to the last one; beside tuned, other/tuned."""
    ran = [result for result in results if {"flood", "overload"} & set(result.scenarios)]
    if not ran:
        return []
    rows = [list(LOAD_COLUMNS)] + [_load_row(result) for result in ran]
    for tuned, other in _compared(ran):
        name = other.name
        first, second = _time_over(name)
        rows.append(
            [
                f"tuned vs {name} (time {first}/{second})",
                "",
                _ratio(*_times(_load_seconds(tuned.flood), _load_seconds(other.flood), name)),
                "",
                "",
                _ratio(*_times(_load_seconds(tuned.overload), _load_seconds(other.overload), name)),
            ]
        )
    heading = (
        "Under load: jobs answered / refused (an error frame) / lost; seconds from the first send to the last outcome"
    )
    return ["", heading, *_render(rows)]


def scaling_table(results: list[ConfigResult]) -> list[str]:
    """The closed loop by sockets: jobs/s and p50/p99 ms per configuration; beside tuned, tuned/other jobs/s."""
    ran = [result for result in results if result.scaling and result.scaling.points]
    if not ran:
        return []
    counts = sorted(
        {run.sockets for result in ran for run in result.runs_of("scaling") if isinstance(run, ThroughputResult)}
    )
    header = ["sockets"] + [f"{result.name} {figure}" for result in ran for figure in ("jobs/s", "p50 ms", "p99 ms")]
    compared = _compared(ran)
    header += [f"tuned/{other.name} jobs/s" for _, other in compared]
    rows = [header]
    for count in counts:
        row = [f"{count:,}"]
        for result in ran:
            point = _point(result, count)
            row += [_fmt(point.jobs_per_s, 0), _fmt(point.p50_ms, 2), _fmt(point.p99_ms, 2)] if point else ["—"] * 3
        row += [_ratio(_rate(_point(tuned, count)), _rate(_point(other, count))) for tuned, other in compared]
        rows.append(row)
    return [
        "",
        "Scaling: the closed loop (each socket waits for its result) by sockets",
        *_render(rows),
        *_opening_rows(ran, counts),
    ]


def _points(result: ConfigResult) -> list[ThroughputResult]:
    """The scaling points of ``result`` (none if it did not run the scenario)."""
    return result.scaling.points if result.scaling else []


def _opening_rows(ran: list[ConfigResult], counts: list[int]) -> list[str]:
    """The scaling points with the time to open their sockets counted, each as a share of its configuration's best."""
    best = {result.name: max((point.jobs_per_s_opening for point in _points(result)), default=0.0) for result in ran}
    rows = [["sockets"] + [f"{result.name} jobs/s" for result in ran] + [f"{result.name} of best" for result in ran]]
    for count in counts:
        points = [_point(result, count) for result in ran]
        rows.append(
            [f"{count:,}"]
            + [_fmt(point.jobs_per_s_opening, 0) if point else "—" for point in points]
            + [
                f"{point.jobs_per_s_opening / best[result.name]:.0%}" if point and best[result.name] else "—"
                for result, point in zip(ran, points, strict=True)
            ]
        )
    return ["", "The same with the time to open the sockets counted (first handshake to last result):", *_render(rows)]


def handshakes_table(results: list[ConfigResult]) -> list[str]:
    """Handshakes/s and each socket's time to its ``connected`` frame, per configuration; beside tuned, tuned/other."""
    ran = [result for result in results if result.handshakes is not None]
    if not ran:
        return []
    rows = [["config", "handshakes/s", "p50 ms", "p99 ms", "opened", "failed"]]
    for result in ran:
        part = result.handshakes
        assert part is not None
        rows.append(
            [
                result.name,
                _fmt(part.handshakes_per_s, 0),
                _fmt(part.p50_ms, 1),
                _fmt(part.p99_ms, 1),
                f"{part.opened:,}",
                str(result.failed_handshakes),
            ]
        )
    for tuned, other in _compared(ran):
        rows.append(
            [f"tuned vs {other.name} (tuned/{other.name})", _ratio(_handshake_rate(tuned), _handshake_rate(other))]
            + [""] * 4
        )
    sizes = ran[0].handshakes
    assert sizes is not None
    heading = (
        f"Handshakes: {sizes.sockets:,} sockets opened, {sizes.in_flight} in flight, each until its connected frame "
        "(the median round by handshakes/s; failed: over every round)"
    )
    return ["", heading, *_render(rows)]


STORM_COLUMNS = (
    "config",
    "sockets",
    "server exit s",
    "server answers s",
    "all connected s",
    "all outcomes s",
    "outcomes",
    "lost",
    "duplicated",
    "handshakes/s",
)


def storm_table(results: list[ConfigResult]) -> list[str]:
    """The reconnect storm: seconds from the SIGTERM to the restarted server, to every socket connected again, to
    every outcome; outcomes lost and duplicated; then where the time went."""
    ran = [result for result in results if result.reconnect_storm is not None]
    if not ran:
        return []
    rows = [list(STORM_COLUMNS)]
    notes = []
    for result in ran:
        part = result.reconnect_storm
        assert part is not None
        rows.append(
            [
                result.name,
                f"{part.sockets:,}",
                _fmt(part.server_exit_s, 2),
                _fmt(part.server_ready_s, 2),
                _fmt(part.all_connected_s, 2),
                _fmt(part.all_outcomes_s, 2),
                f"{part.outcomes:,}/{part.sockets:,}",
                f"{part.lost:,}",
                f"{part.duplicated:,}",
                _fmt(part.handshakes_per_s, 0),
            ]
        )
        notes += _storm_notes(result.name, part)
    work = ran[0].reconnect_storm.work_seconds if ran[0].reconnect_storm is not None else math.nan
    heading = (
        f"Reconnect storm: one {STORM_JOB_TYPE} job a socket ({work:g} s of work), the server restarted once all were "
        f"queued; seconds from its SIGTERM (target: all connected and all outcomes within {TARGET_STORM_SECONDS:g} s, "
        f"none lost or duplicated; lost: no outcome within {OUTCOME_BOUND:g} s)"
    )
    return ["", heading, *_render(rows), *notes]


def _storm_notes(name: str, part: StormResult) -> list[str]:
    """Where the storm's time went, for one configuration."""
    codes = ", ".join(f"{code} x{count:,}" for code, count in sorted(part.close_codes.items()))
    answers = ", ".join(f"{status} {count:,}" for status, count in sorted(part.watch_answers.items()))
    failures = ", ".join(f"{error} {count:,}" for error, count in sorted(part.attempt_errors.items()))
    backoff = PAGE_BACKOFF
    return [
        f"  {name}: {part.opened:,} sockets opened, jobs queued in {_fmt(part.queue_seconds, 2)} s; the old sockets "
        f"closed with {codes or '—'}; the new server started in {_fmt(part.server_startup_s, 2)} s",
        f"  {name}: connected again from {_fmt(part.first_connected_s, 2)} s (median {_fmt(part.connected_p50_s, 2)} "
        f"s) to {_fmt(part.all_connected_s, 2)} s: {part.reconnected:,} sockets in {part.attempts:,} attempts "
        f"({part.failed_attempts:,} failed: {failures or 'none'}); the successful attempts began from "
        f"{_fmt(part.attempts_began_first_s, 2)} s (median {_fmt(part.attempts_began_p50_s, 2)} s) to "
        f"{_fmt(part.attempts_began_last_s, 2)} s and took {_fmt(part.handshake_p50_ms, 1)} ms median, "
        f"{_fmt(part.handshake_p99_ms, 1)} p99, {_fmt(part.handshake_max_ms, 1)} max (the HTTP upgrade "
        f"{_fmt(part.upgrade_p50_ms, 1)} ms median, {_fmt(part.upgrade_p99_ms, 1)} p99; the rest until the connected "
        f"frame); the page's delays: {backoff.restart_min:g}–{backoff.restart_max:g} s after 1012, then "
        f"{backoff.failure_first:g} s doubling to {backoff.failure_max:g} s "
        f"({backoff.restart_failure_max:g} s until a socket opens after a 1012), half to all of it",
        f"  {name}: {part.watches:,} watches answered ({answers or 'none'}) in {_fmt(part.watch_p50_ms, 1)} ms median, "
        f"{_fmt(part.watch_p99_ms, 1)} p99, {_fmt(part.watch_max_ms, 1)} max; outcomes: "
        f"{part.outcomes_before_restart:,} before the restart, {part.outcomes_in_answer:,} in the watch's answer, "
        f"{part.outcomes_pushed:,} pushed, median at {_fmt(part.outcome_p50_s, 2)} s; past each job's send + work: "
        f"{_fmt(part.late_p50_s, 2)} s median, {_fmt(part.late_p99_s, 2)} p99, {_fmt(part.late_max_s, 2)} max; "
        f"{part.progress_frames:,} progress frames",
        f"  {name}: CPU seconds over the {_fmt(part.window_seconds, 1)} s from the SIGTERM until every page was done: "
        + ", ".join(f"{process} {seconds:.1f}" for process, seconds in part.cpu_seconds.items())
        + f" (the old server's shutdown {_fmt(part.shutdown_cpu_seconds, 1)} of it)",
        *_timeline_lines(name, part),
        *([f"  {name}: e.g. {part.page_errors}"] if part.page_errors else []),
    ]


def _timeline_lines(name: str, part: StormResult) -> list[str]:
    """The processes' %CPU over each sample from the SIGTERM (a sample's end, in s: server/client/worker)."""
    if not part.cpu_timeline:
        return []
    samples = " ".join(
        f"{sample['t']:.1f}:{sample.get('server', 0):.0f}/{sample.get('client', 0):.0f}/{sample.get('worker', 0):.0f}"
        for sample in part.cpu_timeline
    )
    return [
        f"  {name}: %CPU (server/client/worker) over each ~{CPU_SAMPLE:g} s from the SIGTERM, by its end: {samples}"
    ]


def _client_line(results: list[ConfigResult], run: Mapping[str, Any]) -> str:
    """What the client was and offered, and what each server settled on."""
    offered = run.get("compression") or "/".join(sorted({result.compression for result in results})) or "—"
    client = f"websockets {run['client_websockets']} on {run['client_loop']}, " if "client_websockets" in run else ""
    settled = ", ".join(
        f"{result.name} {', '.join(result.negotiated) or 'none'}" for result in results if result.negotiated is not None
    )
    flags = (
        f"; every uvicorn server (ours and the peer's) ran with {run['server_flags']}" if "server_flags" in run else ""
    )
    return f"Client: {client}offering {offered}; extensions the servers settled on: {settled or '—'}{flags}"


def _outcome_lines(result: ConfigResult) -> list[str]:
    """Each scenario's lost jobs and refused ones (the load scenarios'), with a sample message."""
    out = []
    for scenario in COUNTED:
        runs = result.runs_of(scenario)
        counts = JobCounts(
            jobs=sum(run.counts.jobs for run in runs),
            errors=sum(run.counts.errors for run in runs),
            refused=sum(run.counts.refused for run in runs),
            results=sum(run.counts.results for run in runs),
        )
        samples = [text for run in runs for text in run.counts.error_samples]
        lost = sum(run.counts.lost for run in runs)
        if scenario in LOAD_SCENARIOS:
            if counts.refused:
                out.append(
                    f"  {result.name}: {scenario}: {counts.refused:,} of {counts.jobs:,} jobs refused "
                    f"(an error frame; counted, not lost), e.g. {samples[:1]}"
                )
            if lost:
                out.append(f"  {result.name}: {scenario}: {lost:,} of {counts.jobs:,} jobs got no outcome")
        elif lost:
            out.append(
                f"  {result.name}: {scenario}: {lost} of {counts.jobs} jobs got no result "
                f"({counts.errors} error outcomes, e.g. {samples[:1]})"
            )
    for scenario in ("sockets", "flood", "overload", "reconnect_storm", "handshakes"):
        part: SocketsResult | LoadResult | StormResult | HandshakeResult | None = getattr(result, scenario)
        if part is not None and part.failed_connects:
            out.append(
                f"  {result.name}: {scenario}: {part.failed_connects} of {part.sockets} sockets failed to "
                f"connect, e.g. {part.connect_errors[:1]}"
            )
    return out


def format_table(results: list[ConfigResult], machine: dict[str, Any], run: Mapping[str, Any] | None = None) -> str:
    """The run's summary: one row per configuration and the ratio rows, the load and scaling tables, then notes.

    ``run`` (the JSON's) gives the client's compression and the configurations skipped.
    """
    run = run or {}
    rows = [list(COLUMNS)] + [_row(result) for result in results]
    rows += [ratio_row(tuned, other) for tuned, other in _compared(results)]
    out = _render(rows)
    out += load_table(results)
    out += scaling_table(results)
    out += handshakes_table(results)
    out += storm_table(results)
    out.append("")
    out.append("Zero-work jobs (JOB_TIME_SCALE=0), one server, one worker, Redis and the client on one machine:")
    out += [_sizes_line(result) for result in results]
    out += [line for line in map(_rounds_line, results) if line is not None]
    out += [f"  {name}: skipped: {reason}" for name, reason in run.get("skipped", {}).items()]
    for result in results:
        for scenario, reason in result.skipped.items():
            out.append(f"  {result.name}: {scenario} skipped: {reason}")
        for scenario, error in result.crashes.items():
            out.append(f"  {result.name}: {scenario} CRASHED: {error}")
        out += _outcome_lines(result)
        for name, log in result.logs.items():
            if log.tracebacks or log.errors:
                out.append(
                    f"  {result.name}: the {name} logged {log.errors} errors and {log.tracebacks} tracebacks "
                    f"({log.path})"
                )
    progress_lines = [line for line in map(_progress_line, results) if line is not None]
    if progress_lines:
        out.append("Progress frames (issue 13): jobs with simulated work, on a stack of their own:")
        out += progress_lines
    out.append(_client_line(results, run))
    out.append("CPU seconds used during each scenario (client/server/worker) and its wall time:")
    out += [_cpu_line(result) for result in results if result.timings]
    out.append(
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM; "
        f"Python {machine['python']}, Redis {machine['redis']}, Linux {machine['kernel']}; commit {machine['git']}"
    )
    return "\n".join(out) + "\n"


def _jsonable(value: Any) -> Any:
    """NaN (a figure that could not be measured) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def to_json(results: list[ConfigResult], machine: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """Every figure of the run."""
    configs: dict[str, Any] = {}
    for result in results:
        figures = dataclasses.asdict(result)
        figures["lost"] = result.lost
        figures["unmatched_frames"] = result.unmatched_frames
        figures["failed"] = result.failed
        figures["duplicated_outcomes"] = result.duplicated_outcomes
        figures["failed_handshakes"] = result.failed_handshakes
        for part in ("latency", "burst", "closed_loop", "sockets", "flood", "overload", "progress", "reconnect_storm"):
            if figures[part] is not None:
                _add_outcomes(figures[part]["counts"], getattr(result, part).counts)
        if result.progress is not None:
            figures["progress"]["frames_per_job"] = _jsonable(round(result.progress.frames_per_job, 3))
            figures["progress"]["server_cpu_ms_per_job"] = server_cpu_ms_per_job(result, "progress")
            figures["progress"]["zero_work_server_cpu_ms_per_job"] = server_cpu_ms_per_job(result, "closed_loop")
        if result.scaling is not None:
            for point, measured in zip(figures["scaling"]["points"], result.scaling.points, strict=True):
                _add_outcomes(point["counts"], measured.counts)
        configs[result.name] = figures
    document: dict[str, Any] = {"run": run, "machine": machine, "configs": configs}
    compared = _compared(results)
    if compared:
        document["ratios"] = {key: value for tuned, other in compared for key, value in ratios(tuned, other).items()}
    return _jsonable(document)  # type: ignore[no-any-return]


def _add_outcomes(figures: dict[str, Any], counts: JobCounts) -> None:
    """The counts' derived figures, for the JSON: lost, and (the load scenarios') answered."""
    figures["lost"] = counts.lost
    if counts.refused_is_outcome:
        figures["answered"] = counts.results


def write_json(document: dict[str, Any], out_dir: Path) -> Path:
    """Write the figures to ``out_dir/latest.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / JSON_NAME
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def plot_latency(results: list[ConfigResult], machine: dict[str, Any], out_dir: Path) -> Path | None:
    """The latency scenario's distribution (a CDF, log x-axis), one series per configuration, as PNG."""
    # matplotlib comes with the `bench` extra only: where mypy runs without it (tox's type env), it is untyped.
    try:
        import matplotlib
    except ImportError:
        logger.error("matplotlib is not installed (pip install -e '.[bench]'): no latency plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    for result in results:
        if result.latency is None or not result.latency.samples_ms:
            continue
        samples = sorted(result.latency.samples_ms)
        share = [index / len(samples) for index in range(len(samples) + 1)]
        label = (
            f"{result.name}: p50 {result.latency.p50_ms:.2f} ms, p99 {result.latency.p99_ms:.2f} ms "
            f"({len(samples)} jobs)"
        )
        # The curve starts at 0 at the fastest sample.
        axes.step([samples[0], *samples], share, where="post", label=label)
    axes.axvline(TARGET_P50_MS, color="grey", linestyle=":", linewidth=1, label=f"target p50 {TARGET_P50_MS:g} ms")
    axes.axvline(TARGET_P99_MS, color="grey", linestyle="--", linewidth=1, label=f"target p99 {TARGET_P99_MS:g} ms")
    axes.set_xscale("log")
    axes.set_xlabel("send → result latency (ms, log scale)")
    axes.set_ylabel("share of jobs at or below")
    axes.set_ylim(0, 1.02)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(
        "Zero-work jobs, one at a time on one socket\n"
        f"{machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, Redis {machine['redis']}",
        fontsize=9,
    )
    figure.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PLOT_NAME
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_scaling(results: list[ConfigResult], machine: dict[str, Any], out_dir: Path) -> Path | None:
    """The scaling scenario: jobs/s and p99 latency against sockets (log x), one line per configuration, as PNG."""
    ran = [result for result in results if result.scaling and result.scaling.points]
    if not ran:
        return None
    try:
        import matplotlib
    except ImportError:
        logger.error("matplotlib is not installed (pip install -e '.[bench]'): no scaling plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rate_axes, p99_axes) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    for result in ran:
        points = result.scaling.points if result.scaling else []
        sockets = [point.sockets for point in points]
        rate_axes.plot(sockets, [point.jobs_per_s for point in points], marker="o", label=result.name)
        p99_axes.plot(sockets, [point.p99_ms for point in points], marker="o", label=result.name)
    rate_axes.set_ylabel("jobs/s (results per second)")
    rate_axes.set_ylim(bottom=0)
    p99_axes.axhline(TARGET_P99_MS, color="grey", linestyle="--", linewidth=1, label=f"target p99 {TARGET_P99_MS:g} ms")
    p99_axes.set_yscale("log")
    p99_axes.set_ylabel("p99 send → result latency (ms, log scale)")
    counts = sorted(
        {run.sockets for result in ran for run in result.runs_of("scaling") if isinstance(run, ThroughputResult)}
    )
    for axes in (rate_axes, p99_axes):
        axes.set_xscale("log")
        axes.set_xticks(counts, [f"{count:,}" for count in counts])
        axes.minorticks_off()
        axes.set_xlabel("sockets, each waiting for its result before its next job (log scale)")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(
        f"Zero-work jobs, closed loop; client offers {'/'.join(sorted({result.compression for result in ran}))}\n"
        f"{machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, Redis {machine['redis']}",
        fontsize=9,
    )
    figure.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SCALING_PLOT_NAME
    figure.savefig(path)
    plt.close(figure)
    return path


def publish(paths: list[Path], target: Path = PUBLISH_DIR) -> list[Path]:
    """Copy the JSON and the plot to ``docs/perf/`` (tracked, for ``docs/performance.md``)."""
    target.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        copy = target / path.name
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies
