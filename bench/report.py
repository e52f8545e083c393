"""What a run reports: the machine, the table, the JSON figures, the latency plot, and their published copies."""

import dataclasses
import json
import logging
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import IdleResult, LatencyResult, Sizes, SocketsResult, ThroughputResult
from bench.stack import LogSummary

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
JSON_NAME = "latest.json"
PLOT_NAME = "latency.png"
PUBLISH_DIR = PROJECT_ROOT / "docs" / "perf"

#: The issue's targets, drawn on the plot.
TARGET_P50_MS = 2.0
TARGET_P99_MS = 5.0


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
    idle: IdleResult | None = None
    #: Scenario (or "stack") → the exception that stopped it.
    crashes: dict[str, str] = field(default_factory=dict)
    logs: dict[str, LogSummary] = field(default_factory=dict)
    #: Scenario → its wall-clock seconds ("wall") and the CPU seconds each process used meanwhile
    #: ("client": this process, "server", "worker"): where the machine's two cores went.
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = math.nan
    #: Scenario → every round run of it (``latency``, ``burst`` and ``closed_loop``); the scenario's
    #: own field holds the median round.
    rounds: dict[str, list[LatencyResult | ThroughputResult]] = field(default_factory=dict)

    def _counted(self) -> list[LatencyResult | ThroughputResult | SocketsResult]:
        """Every run whose jobs count: each round of a repeated scenario, and each scenario run once."""
        runs: list[LatencyResult | ThroughputResult | SocketsResult] = []
        for name in ("latency", "burst", "closed_loop", "sockets"):
            part = getattr(self, name)
            runs += self.rounds.get(name) or ([part] if part is not None else [])
        return runs

    @property
    def lost(self) -> int:
        """Jobs without a result across every scenario (and round) that ran."""
        return sum(part.counts.lost for part in self._counted())

    @property
    def unmatched_frames(self) -> int:
        """Frames that reached a socket that did not send their job, across every scenario (and round)."""
        return sum(part.counts.unmatched_frames for part in self._counted())

    @property
    def failed(self) -> bool:
        """Whether the benchmark itself failed for this configuration: a lost result, a misrouted frame, a crash."""
        return bool(self.crashes) or self.lost > 0 or self.unmatched_frames > 0


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


def ratio_row(tuned: ConfigResult, seed: ConfigResult) -> list[str]:
    """seed/tuned for latency, tuned/seed for throughput: how many times better the tuned stack is."""

    def lat(result: ConfigResult, name: str) -> float | None:
        return getattr(result.latency, name) if result.latency else None

    def rate(part: ThroughputResult | None) -> float | None:
        return part.jobs_per_s if part else None

    return [
        "tuned vs seed",
        _ratio(lat(seed, "p50_ms"), lat(tuned, "p50_ms")),
        _ratio(lat(seed, "p95_ms"), lat(tuned, "p95_ms")),
        _ratio(lat(seed, "p99_ms"), lat(tuned, "p99_ms")),
        _ratio(rate(tuned.burst), rate(seed.burst)),
        _ratio(rate(tuned.closed_loop), rate(seed.closed_loop)),
        "",
        "",
        "",
    ]


def ratios(tuned: ConfigResult, seed: ConfigResult) -> dict[str, float | None]:
    """The same ratios as numbers, for the JSON."""

    def divide(numerator: float | None, denominator: float | None) -> float | None:
        if numerator is None or denominator is None or math.isnan(numerator) or math.isnan(denominator):
            return None
        return round(numerator / denominator, 2) if denominator else None

    lat_t, lat_s = tuned.latency, seed.latency
    return {
        "p50_seed_over_tuned": divide(lat_s.p50_ms, lat_t.p50_ms) if lat_t and lat_s else None,
        "p95_seed_over_tuned": divide(lat_s.p95_ms, lat_t.p95_ms) if lat_t and lat_s else None,
        "p99_seed_over_tuned": divide(lat_s.p99_ms, lat_t.p99_ms) if lat_t and lat_s else None,
        "burst_tuned_over_seed": divide(tuned.burst.jobs_per_s, seed.burst.jobs_per_s)
        if tuned.burst and seed.burst
        else None,
        "closed_loop_tuned_over_seed": divide(tuned.closed_loop.jobs_per_s, seed.closed_loop.jobs_per_s)
        if tuned.closed_loop and seed.closed_loop
        else None,
    }


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
        "idle": f"{sizes.idle_seconds:g} s idle",
    }
    ran = ", ".join(text for name, text in parts.items() if name in result.scenarios)
    return f"  {result.name}: {ran}; took {result.seconds:.0f} s"


def _rounds_line(result: ConfigResult) -> str | None:
    """The spread over the rounds of the repeated scenarios, whose median rounds the table shows."""
    spreads = []
    for name, label in (("latency", "p50"), ("burst", "burst"), ("closed_loop", "closed-loop")):
        runs = result.rounds.get(name, [])
        if len(runs) < 2:
            continue
        figures = sorted(run.p50_ms if isinstance(run, LatencyResult) else run.jobs_per_s for run in runs)
        unit = "ms" if name == "latency" else "jobs/s"
        digits = 2 if name == "latency" else 0
        spreads.append(f"{label} {_fmt(figures[0], digits)}–{_fmt(figures[-1], digits)} {unit}")
    if not spreads:
        return None
    count = max(len(runs) for runs in result.rounds.values())
    return f"  {result.name}: median of {count} rounds each; over the rounds " + ", ".join(spreads)


def _cpu_line(result: ConfigResult) -> str:
    parts = [
        f"{name} {t['client']:.1f}/{t['server']:.1f}/{t['worker']:.1f} in {t['wall']:.1f} s"
        for name, t in result.timings.items()
    ]
    return f"  {result.name}: " + ", ".join(parts)


def format_table(results: list[ConfigResult], machine: dict[str, Any]) -> str:
    """The run's summary: one row per configuration, the ratio row when both ran, then sizes and machine."""
    rows = [list(COLUMNS)] + [_row(result) for result in results]
    by_name = {result.name: result for result in results}
    if "tuned" in by_name and "seed" in by_name:
        rows.append(ratio_row(by_name["tuned"], by_name["seed"]))
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    out = [line(rows[0]), "  ".join("-" * width for width in widths)]
    out += [line(row) for row in rows[1:]]
    out.append("")
    out.append("Zero-work jobs (JOB_TIME_SCALE=0), one server, one worker, Redis and the client on one machine:")
    out += [_sizes_line(result) for result in results]
    out += [line for line in map(_rounds_line, results) if line is not None]
    for result in results:
        for scenario, error in result.crashes.items():
            out.append(f"  {result.name}: {scenario} CRASHED: {error}")
        for scenario in ("latency", "burst", "closed_loop", "sockets"):
            part: LatencyResult | ThroughputResult | SocketsResult | None = getattr(result, scenario)
            runs: list[LatencyResult | ThroughputResult | SocketsResult] = [*result.rounds.get(scenario, [])] or (
                [part] if part is not None else []
            )
            lost, jobs = sum(run.counts.lost for run in runs), sum(run.counts.jobs for run in runs)
            if lost:
                errors = sum(run.counts.errors for run in runs)
                samples = [text for run in runs for text in run.counts.error_samples]
                out.append(
                    f"  {result.name}: {scenario}: {lost} of {jobs} jobs got no result "
                    f"({errors} error outcomes, e.g. {samples[:1]})"
                )
        if result.sockets and result.sockets.failed_connects:
            out.append(
                f"  {result.name}: {result.sockets.failed_connects} of {result.sockets.sockets} sockets failed to "
                f"connect, e.g. {result.sockets.connect_errors[:1]}"
            )
        for name, log in result.logs.items():
            if log.tracebacks or log.errors:
                out.append(
                    f"  {result.name}: the {name} logged {log.errors} errors and {log.tracebacks} tracebacks "
                    f"({log.path})"
                )
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
        for part in ("latency", "burst", "closed_loop", "sockets"):
            if figures[part] is not None:
                figures[part]["counts"]["lost"] = getattr(result, part).counts.lost
        configs[result.name] = figures
    by_name = {result.name: result for result in results}
    document: dict[str, Any] = {"run": run, "machine": machine, "configs": configs}
    if "tuned" in by_name and "seed" in by_name:
        document["ratios"] = ratios(by_name["tuned"], by_name["seed"])
    return _jsonable(document)  # type: ignore[no-any-return]


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


def publish(paths: list[Path], target: Path = PUBLISH_DIR) -> list[Path]:
    """Copy the JSON and the plot to ``docs/perf/`` (tracked, for the README)."""
    target.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        copy = target / path.name
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies
