"""The benchmark's configurations (``python -m bench --config``): the floor beside the peer, each named alone or in a
list (``all`` holds both), each found in its folder or skipped with one warning, each skipping what its protocol
lacks; and the report's ratios of tuned to each (how many times better tuned is than the peer; tuned's figure over
the floor's)."""

import logging
import sys
from pathlib import Path

import pytest

from bench.__main__ import (
    ALL_CONFIGS,
    DEFAULT_SIZES,
    NOT_ON,
    OWN_STACK,
    SCENARIOS,
    config_stack,
    not_run,
    outside_stacks,
    parse_args,
)
from bench.floor import DEFAULT_FLOOR_DIR, FLOOR, FLOOR_FILES, FloorStack
from bench.peer import PEER
from bench.report import ConfigResult, format_table, ratio_row, ratios
from bench.scenarios import JobCounts, LatencyResult, LoadResult, ScalingResult, ThroughputResult
from bench.stack import CONFIGS, Stack


def test_the_floor_is_a_configuration_alone_in_a_list_and_in_all() -> None:
    assert parse_args(["--config", "floor"]).config == ["floor"]
    assert parse_args(["--config", "tuned,peer,floor"]).config == ["tuned", "peer", "floor"]
    assert parse_args(["--config", "floor,tuned,floor"]).config == ["floor", "tuned"]
    assert (
        parse_args(["--config", "all"]).config
        == ["tuned", "arq-cli", "stock", "seed", "peer", "floor"]
        == list(ALL_CONFIGS)
    )
    assert FLOOR not in parse_args(["--config", "both"]).config


def test_an_unknown_configuration_is_refused_naming_the_floor_among_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--config", "tuned,flor"])

    error = capsys.readouterr().err
    assert "unknown configuration 'flor'" in error
    assert "peer, floor" in error


def test_the_floor_has_its_folder_beside_the_peer_and_a_python_of_its_own_only_when_given(tmp_path: Path) -> None:
    defaults = parse_args([])
    given = parse_args(["--floor-dir", str(tmp_path), "--floor-python", sys.executable])

    assert (defaults.floor_dir, defaults.floor_python) == (DEFAULT_FLOOR_DIR, None)
    assert DEFAULT_FLOOR_DIR.parent == defaults.peer_dir.parent
    assert (given.floor_dir, given.floor_python) == (tmp_path, Path(sys.executable))


def test_the_floor_is_sized_as_tuned() -> None:
    assert DEFAULT_SIZES[FLOOR] == DEFAULT_SIZES[PEER] == DEFAULT_SIZES["tuned"]


def test_the_floor_and_the_peer_skip_what_their_protocol_lacks_and_ours_skip_nothing() -> None:
    floor = not_run(FLOOR, SCENARIOS)
    peer = not_run(PEER, SCENARIOS)

    assert set(floor) == set(peer) == {"progress", "reconnect_storm"}
    assert "no progress frames" in floor["progress"]
    assert "no job_watch" in floor["reconnect_storm"]
    assert peer == NOT_ON[PEER]
    assert all(not_run(config, SCENARIOS) == {} for config in CONFIGS)


def test_only_the_selected_scenarios_are_skipped() -> None:
    assert not_run(FLOOR, ["latency", "closed_loop", "handshakes"]) == {}
    assert list(not_run(FLOOR, ["latency", "progress"])) == ["progress"]


def test_every_scenario_of_its_own_stack_is_skipped_by_every_configuration_not_ours() -> None:
    # A scenario on a stack of its own starts one of ours: a configuration not ours never gets there.
    for config in NOT_ON:
        assert set(OWN_STACK) <= set(not_run(config, SCENARIOS))


def test_a_missing_floor_is_skipped_with_one_warning_and_the_others_still_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args = parse_args(["--config", "tuned,floor", "--floor-dir", str(tmp_path / "nowhere")])

    with caplog.at_level(logging.WARNING, logger="bench"):
        makers, skipped = outside_stacks(args.config, args)

    assert makers == {}
    assert list(skipped) == [FLOOR]
    assert skipped[FLOOR] == f"no floor at {tmp_path / 'nowhere'} (missing {', '.join(FLOOR_FILES)})"
    assert [record.getMessage() for record in caplog.records] == [f"floor: skipped: {skipped[FLOOR]}"]


def test_a_floor_python_that_cannot_run_is_skipped(tmp_path: Path) -> None:
    for name in FLOOR_FILES:
        (tmp_path / name).write_text("")
    args = parse_args(["--config", "floor", "--floor-dir", str(tmp_path), "--floor-python", str(tmp_path / "python")])

    makers, skipped = outside_stacks(args.config, args)

    assert makers == {}
    assert skipped == {FLOOR: f"--floor-python {tmp_path / 'python'} is not an executable"}


def test_a_found_floor_gets_a_floor_stack_and_tuned_gets_its_own(tmp_path: Path) -> None:
    for name in FLOOR_FILES:
        (tmp_path / name).write_text("")
    args = parse_args(["--config", "tuned,floor", "--floor-dir", str(tmp_path), "--floor-python", sys.executable])

    makers, skipped = outside_stacks(args.config, args)
    floor = config_stack(FLOOR, tmp_path / "logs", makers)
    tuned = config_stack("tuned", tmp_path / "logs", makers)

    assert (list(makers), skipped) == ([FLOOR], {})
    assert isinstance(floor, FloorStack)
    assert (floor.config, floor.floor.directory, floor.floor.python) == (
        FLOOR,
        tmp_path.resolve(),
        Path(sys.executable),
    )
    assert floor.settings["job_time_scale"] == "0"
    assert "declined" in floor.settings["permessage_deflate"]
    assert type(tuned) is Stack
    assert tuned.config == "tuned"


def measured(name: str, p50_ms: float, jobs_per_s: float, flood_seconds: float) -> ConfigResult:
    """A configuration's result with latency (p95 and p99 at 2x and 3x the p50), closed-loop and flood figures."""
    latency = LatencyResult(JobCounts(jobs=1, results=1), 0, [p50_ms], p50_ms, 2 * p50_ms, 3 * p50_ms, p50_ms, p50_ms)
    closed_loop = ThroughputResult(JobCounts(), 1, 1, 1.0, jobs_per_s, p50_ms, p50_ms)
    flood = LoadResult(JobCounts(refused_is_outcome=True), 1, 1, seconds=flood_seconds)
    result = ConfigResult(name=name, settings={}, sizes=DEFAULT_SIZES["tuned"], scenarios=["latency", "closed_loop"])
    result.latency, result.closed_loop, result.flood = latency, closed_loop, flood
    return result


TUNED = measured("tuned", p50_ms=0.8, jobs_per_s=4000.0, flood_seconds=1.5)
PEER_RESULT = measured(PEER, p50_ms=1.6, jobs_per_s=2000.0, flood_seconds=3.0)
FLOOR_RESULT = measured(FLOOR, p50_ms=0.2, jobs_per_s=12000.0, flood_seconds=0.5)


def test_the_ratios_to_the_peer_are_tuned_over_the_peer_as_the_targets_are_written() -> None:
    row = ratio_row(TUNED, PEER_RESULT)
    figures = ratios(TUNED, PEER_RESULT)

    assert row[:4] == ["tuned vs peer (tuned/peer)", "0.5x", "0.5x", "0.5x"]
    assert row[5] == "2.0x"
    assert (figures["p50_tuned_over_peer"], figures["closed_loop_tuned_over_peer"]) == (0.5, 2.0)
    assert figures["flood_seconds_tuned_over_peer"] == 0.5
    assert not any(key.endswith("peer_over_tuned") for key in figures)


def test_the_ratios_to_the_floor_are_tuned_over_the_floor_for_every_figure() -> None:
    row = ratio_row(TUNED, FLOOR_RESULT)
    figures = ratios(TUNED, FLOOR_RESULT)

    assert row[:4] == ["tuned vs floor (tuned/floor)", "4.0x", "4.0x", "4.0x"]
    assert row[5] == "0.3x"
    assert figures["p50_tuned_over_floor"] == 4.0
    assert figures["closed_loop_tuned_over_floor"] == 0.33
    assert figures["flood_seconds_tuned_over_floor"] == 3.0
    assert not any(key.endswith("floor_over_tuned") for key in figures)


def test_the_table_shows_the_floor_and_its_ratios_under_the_peers() -> None:
    machine = {"cpu": "cpu", "cores": 2, "ram_gib": 1.0, "python": "3", "redis": "7", "kernel": "6", "git": None}

    table = format_table([TUNED, PEER_RESULT, FLOOR_RESULT], machine).splitlines()

    ratio_lines = [line.split() for line in table if line.startswith("tuned vs")]
    assert [line[:3] for line in ratio_lines[:2]] == [["tuned", "vs", "peer"], ["tuned", "vs", "floor"]]
    assert ratio_lines[1][4] == "4.0x"
    assert any(line.startswith("floor ") for line in table)


def test_a_scaling_point_with_its_sockets_opening_counted_runs_from_the_first_handshake() -> None:
    point = ThroughputResult(
        JobCounts(),
        sockets=500,
        jobs_per_socket=10,
        seconds=2.0,
        jobs_per_s=2500.0,
        p50_ms=1.0,
        p99_ms=2.0,
        open_seconds=0.5,
    )

    assert point.jobs_per_s_opening == 2000.0  # 5,000 results over 2.5 s


def test_the_scaling_table_gives_each_point_with_its_opening_counted_as_a_share_of_the_best() -> None:
    def scaled(name: str, *points: tuple[int, float, float]) -> ConfigResult:
        result = ConfigResult(name=name, settings={}, sizes=DEFAULT_SIZES["tuned"], scenarios=["scaling"])
        result.scaling = ScalingResult(
            points=[
                ThroughputResult(JobCounts(), sockets, 10, 1.0, rate, 1.0, 2.0, open_seconds=opening)
                for sockets, rate, opening in points
            ]
        )
        return result

    machine = {"cpu": "cpu", "cores": 2, "ram_gib": 1.0, "python": "3", "redis": "7", "kernel": "6", "git": None}
    tuned = scaled("tuned", (50, 4000.0, 0.0), (500, 4000.0, 0.25))

    table = format_table([tuned], machine).splitlines()

    opening = table[
        table.index("The same with the time to open the sockets counted (first handshake to last result):") :
    ]
    assert opening[3].split() == ["50", "4,000", "100%"]
    assert opening[4].split() == ["500", "3,200", "80%"]
