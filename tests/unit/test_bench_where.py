"""Where the time goes, per job (``python -m bench.where``): what it reads from strace, Redis, ``/proc`` and py-spy,
the arithmetic that makes those figures per job, and the Markdown tables it prints."""

import logging
from pathlib import Path

import pytest

from bench.where import (
    PUBSUB,
    CodeRoots,
    ProcessFigures,
    Run,
    Target,
    Tools,
    Trace,
    commandstats_delta,
    cpu_us_per_job,
    find_tools,
    frame_groups,
    load_figures,
    load_table,
    loads_for,
    loop_turns,
    markdown_table,
    parse_proc_net_tcp,
    parse_pyspy_raw,
    parse_strace_summary,
    parse_strace_trace,
    round_trips_per_job,
    short_frame,
    syscalls_per_job,
    wall_table,
)

STRACE_SUMMARY = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 36.15    0.254860           6     42195           getpid
 26.98    0.190176           6     28008           epoll_pwait
 14.64    0.103233          12      8004        12 write
  0.00    0.000000           0         1           accept4
------ ----------- ----------- --------- --------- ----------------
100.00    0.704920           7     78208        12 total
"""

#: A full ``strace -f -s 0`` of Redis: fd 9 the server's, 7 the worker's subscriber, 60 unknown.
STRACE_TRACE = """\
19920 epoll_wait(5,  <unfinished ...>
19924 futex(0x7f8818e16630, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, FUTEX_BITSET_MATCH_ANY <unfinished ...>
19920 <... epoll_wait resumed>[...], 10128, 14) = 1
19920 read(9, ""..., 16384)             = 231
19920 read(9, ""..., 16384)             = -1 EAGAIN (Resource temporarily unavailable)
19920 writev(9, [...], 1)              = 12
19920 write(7, ""..., 54)              = 54
19920 read(60, ""..., 4095)             = 326
19920 read(9,  <unfinished ...>
19924 <... futex resumed>)              = -1 ETIMEDOUT (Connection timed out)
19920 <... read resumed>""..., 16384) = 40
19920 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---
"""

ROOTS = CodeRoots(project=Path("/work/main"), own=Path("/work/shared/peers/floor"))
SITE = "/root/.cache/floor-venv/lib/python3.11/site-packages"
STDLIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"


def test_a_strace_summary_gives_the_calls_of_each_syscall_without_its_total() -> None:
    calls = parse_strace_summary(STRACE_SUMMARY)

    assert calls == {"getpid": 42195, "epoll_pwait": 28008, "write": 8004, "accept4": 1}


def test_a_full_trace_counts_every_call_once_and_the_reads_and_writes_of_each_connection_owner() -> None:
    calls, by_owner = parse_strace_trace(STRACE_TRACE, {9: "server", 7: "worker" + PUBSUB})

    assert calls == {"epoll_wait": 1, "futex": 1, "read": 4, "writev": 1, "write": 1}
    assert by_owner == {
        "server": {"read": 2, "read failed": 1, "writev": 1},
        "worker (pub/sub)": {"write": 1},
    }


def test_redis_commands_between_two_readings_leave_out_those_of_the_measurement_itself_and_those_not_called() -> None:
    before = {"get": 10, "zrem": 4, "info": 7, "set": 3}
    after = {"get": 12, "zrem": 10, "info": 9, "set": 3, "publish": 2, "client|list": 1}

    delta = commandstats_delta(before, after)

    assert delta == {"zrem": 6, "get": 2, "publish": 2}
    assert next(iter(delta)) == "zrem"


def test_cpu_per_job_leaves_out_what_the_process_uses_idle_in_as_long() -> None:
    assert cpu_us_per_job(used=1.5, idle_rate=0.01, wall=10.0, jobs=1000) == pytest.approx(1400.0)
    assert cpu_us_per_job(used=1.5, idle_rate=0.0, wall=10.0, jobs=1000) == pytest.approx(1500.0)


def test_syscalls_per_job_leave_out_the_idle_rate_over_the_traced_window_and_never_go_below_zero() -> None:
    idle = Trace(window=4.0, syscalls={"server": {"epoll_pwait": 40, "getpid": 400}}, connections={})
    traced = Trace(window=2.0, syscalls={"server": {"epoll_pwait": 1020, "write": 400, "getpid": 100}}, connections={})

    per_job = syscalls_per_job(traced, idle, "server", jobs=100)

    assert per_job == {"epoll_pwait": 10.0, "write": 4.0, "getpid": 0.0}
    assert loop_turns({"epoll_wait": 2.0, "epoll_pwait": 10.0, "read": 3.0}) == 12.0


def test_round_trips_are_the_reads_on_the_connections_of_a_process_and_pushes_the_writes_to_its_subscriber() -> None:
    connections = {
        "worker": {"read": 150, "read failed": 9, "write": 150},
        "worker (pub/sub)": {"write": 100, "writev": 20},
        "server": {"read": 100},
        "measurement": {"read": 2},
    }

    assert round_trips_per_job(connections, "worker", jobs=100) == (1.5, 1.2)
    assert round_trips_per_job(connections, "server", jobs=100) == (1.0, 0.0)
    assert round_trips_per_job(connections, "client", jobs=100) == (0.0, 0.0)


def test_the_closed_loop_sends_five_times_the_sequential_jobs_over_its_sockets() -> None:
    sequential, closed_loop = loads_for(jobs=2000, sockets=50)

    assert (sequential.sockets, sequential.jobs) == (1, 2000)
    assert (closed_loop.sockets, closed_loop.jobs_per_socket, closed_loop.jobs) == (50, 200, 10000)
    assert closed_loop.title == "(b) closed loop, 50 sockets × 200 jobs"


def test_the_tcp_table_of_proc_gives_the_local_port_of_each_socket_inode() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n"
        "   1: 0100007F:D431 0100007F:18EB 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n"
    )

    assert parse_proc_net_tcp(table) == {4242: 6379, 4343: 54321}


def test_a_profile_counts_each_function_once_per_sample_the_groups_of_code_and_the_entry_chain() -> None:
    entry = f"<module> (/work/shared/peers/floor/worker.py:1);Runner.run ({STDLIB}/asyncio/runners.py:86)"
    raw = (
        f"{entry};flush (/work/shared/peers/floor/resp.py:72) 3\n"
        f"{entry};send (/work/main/src/base_consumer.py:140);send ({SITE}/redis/client.py:9);"
        f"send (/work/main/src/base_consumer.py:140) 2\n"
        "flush (/work/shared/peers/floor/resp.py:72) 1\n"
        "not a sample line\n"
    )

    profile = parse_pyspy_raw(raw, ROOTS)

    assert (profile.samples, profile.rooted) == (6, 5)
    assert profile.inclusive[f"Runner.run ({STDLIB}/asyncio/runners.py:86)"] == 5
    assert profile.inclusive["send (/work/main/src/base_consumer.py:140)"] == 2
    assert profile.own["flush (/work/shared/peers/floor/resp.py:72)"] == 4
    assert profile.groups == {"floor/ (its own files)": 6, "asyncio (stdlib)": 5, "src/": 2, "redis": 2}
    assert profile.entry == entry.split(";")


def test_a_frame_is_grouped_and_named_by_the_project_its_package_or_the_folder_of_the_stack() -> None:
    fastpath = "poll (/work/main/src/fastpath/batch_claim_worker.py:61)"
    uvicorn = f"send ({SITE}/uvicorn/protocols/websockets/websockets_sansio_impl.py:432)"

    assert frame_groups(fastpath, ROOTS) == ["src/", "src/fastpath/"]
    assert frame_groups(uvicorn, ROOTS) == ["uvicorn"]
    assert frame_groups("<native>", ROOTS) == []
    assert short_frame(fastpath, ROOTS) == "poll (src/fastpath/batch_claim_worker.py:61)"
    assert short_frame(uvicorn, ROOTS) == "send (uvicorn/protocols/websockets/websockets_sansio_impl.py:432)"
    assert short_frame("flush (/work/shared/peers/floor/resp.py:72)", ROOTS) == "flush (floor/resp.py:72)"
    assert short_frame(f"Runner.run ({STDLIB}/asyncio/runners.py:86)", ROOTS) == "Runner.run (asyncio/runners.py:86)"


def test_a_markdown_table_has_a_header_a_rule_and_a_line_per_row() -> None:
    table = markdown_table(["stack", "jobs/s"], [["floor", "4,347"], ["tuned", "595"]])

    assert table.splitlines() == ["| stack | jobs/s |", "|---|---|", "| floor | 4,347 |", "| tuned | 595 |"]


def run(jobs: int, wall: float, server_cpu: float, commands: dict[str, int] | None = None) -> Run:
    """A run in which the server used ``server_cpu`` seconds and the other processes one hundredth of a second."""
    return Run(
        jobs=jobs,
        wall=wall,
        cpu={"server": server_cpu, "worker": 0.01, "redis": 0.01, "client": 0.01},
        commands=commands or {},
        frames_out=jobs,
        frames_in={"queuing": jobs, "queued": jobs, "result": jobs},
        outcomes={"result": jobs},
        extensions=[],
        p50_ms=1.0,
        p99_ms=2.0,
    )


def measured_target(traced: bool) -> Target:
    """A stack measured under (a), 100 jobs a run, with an idle window and (``traced``) an strace run."""
    target = Target("tuned", "ws://x", "redis://x", {}, ROOTS)
    target.idle_rates = [{"server": 0.01, "worker": 0.0, "redis": 0.0}]
    target.runs["a"] = [run(100, 0.5, 0.06, {"zrem": 300, "publish": 200}), run(100, 1.0, 0.07)]
    if traced:
        idle = {name: {"epoll_wait": 0} for name in ("server", "worker", "redis", "client")}
        target.traces["idle"] = Trace(4.0, idle, {})
        calls = {"server": {"getpid": 2000, "write": 400}, "worker": {"epoll_pwait": 1300}}
        calls |= {"redis": {"read": 300}, "client": {"epoll_wait": 600}}
        target.traces["a"] = Trace(2.0, calls, {"server": {"read": 100}, "worker": {"read": 200}}, run(100, 1.5, 0.2))
    return target


def test_the_figures_per_job_of_a_stack_come_from_the_untraced_runs_and_the_strace_run() -> None:
    sequential = loads_for(jobs=100, sockets=10)[0]

    figures = load_figures(measured_target(traced=True), sequential)

    assert figures.processes["server"].cpu_us == pytest.approx([550.0, 600.0])
    assert figures.processes["worker"].cpu_us == pytest.approx([100.0, 100.0])
    assert figures.processes["worker"].syscalls == {"epoll_pwait": 13.0}
    assert (figures.processes["worker"].round_trips, figures.processes["worker"].pushes) == (2.0, 0.0)
    assert figures.processes["client"] == ProcessFigures(cpu_us=[100.0, 100.0], syscalls={"epoll_wait": 6.0})
    assert figures.commands == {"zrem": 3.0, "publish": 2.0}
    assert figures.frames_in == {"queuing": 1.0, "queued": 1.0, "result": 1.0}
    assert figures.jobs_per_s == [200.0, 100.0]
    assert figures.traced_jobs_per_s == pytest.approx(66.7, abs=0.1)


def test_the_load_table_gives_each_process_and_their_total_and_leaves_out_the_strace_columns_without_strace() -> None:
    sequential = loads_for(jobs=100, sockets=10)[0]
    traced = load_table({"tuned": load_figures(measured_target(traced=True), sequential)}, traced=True).splitlines()
    untraced = load_table({"tuned": load_figures(measured_target(traced=False), sequential)}, traced=False)

    assert traced[0].startswith("| stack | process | CPU µs/job (run 1 / run 2) | syscalls/job | top syscalls")
    assert traced[2] == (
        "| this app (tuned) | server | 550 / 600 | 24.0 | getpid 20.0, write 4.0 | 0.00 | "
        "1.00 round trips/job (batches Redis read) |  |"
    )
    assert "| redis | 100 / 100 | 3.0 | read 3.0 | 0.00 | **5.00 commands/job**: zrem 3.00, publish 2.00 |" in traced[4]
    assert traced[5].endswith("| 6.00 |  | 1.00 out, 3.00 in (queuing 1.00, queued 1.00, result 1.00) |")
    assert traced[6] == "| this app (tuned) | **server+worker+Redis** | **750 / 800** | 40.0 |  |  |  |  |"
    assert "syscalls" not in untraced
    assert untraced.splitlines()[6] == "| this app (tuned) | **server+worker+Redis** | **750 / 800** |  |  |"


def test_the_wall_table_gives_latencies_and_rates_of_both_loads() -> None:
    sequential, closed_loop = loads_for(jobs=100, sockets=10)
    target = measured_target(traced=False)
    target.runs["b"] = [run(500, 0.5, 0.1), run(500, 0.25, 0.1)]
    figures = {"tuned": {load.key: load_figures(target, load) for load in (sequential, closed_loop)}}

    table = wall_table(figures, traced=False).splitlines()

    assert table[2] == "| this app (tuned) | 1.00 / 1.00 | 2.00 / 2.00 | 200 / 100 | 1,000 / 2,000 | no |"


def test_a_missing_strace_or_profiler_is_one_logged_line_each_and_no_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("bench.where.shutil.which", lambda name, path=None: None)

    with caplog.at_level(logging.WARNING, logger="bench.where"):
        missing = find_tools(strace=True, profile=True)
        not_asked = find_tools(strace=False, profile=False)

    assert missing == not_asked == Tools(strace=None, pyspy=None)
    assert [record.getMessage() for record in caplog.records] == [
        "strace not found: no syscalls (their columns are left out)",
        "py-spy not found: no profiles (their section is left out)",
    ]
