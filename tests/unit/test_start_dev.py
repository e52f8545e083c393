"""start_dev's supervisor in-process, on stand-in children and a fake clock: readiness, restarts, backoff, stopping.

(``tests/integration/test_start_dev.py`` runs the real thing.)
"""

import itertools
import logging
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import fakeredis
import pytest

import src.start_dev as start_dev
from src.settings import Settings
from src.start_dev import (
    PROJECT_ROOT,
    Supervisor,
    base_url,
    health_check_pttl,
    install_signal_handlers,
    port_in_use,
    server_answers,
    server_command,
    wait_until,
    worker_command,
)

HEALTH_KEY = "arq:queue:health-check"


class FakeClock:
    """Stands in for start_dev's ``time``: ``sleep`` moves ``monotonic`` on instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeChild:
    """Stands in for a child process: runs until it is told to exit, answers signals like a real one."""

    pids = itertools.count(4000)

    def __init__(self, args: Sequence[str], *, ignores_sigterm: bool = False) -> None:
        self.args = list(args)
        self.pid = next(self.pids)
        self.returncode: int | None = None
        self.ignores_sigterm = ignores_sigterm
        self.signals: list[str] = []

    def poll(self) -> int | None:
        return self.returncode

    def exit(self, code: int) -> None:
        self.returncode = code

    def terminate(self) -> None:
        self.signals.append("SIGTERM")
        if not self.ignores_sigterm:
            self.returncode = -signal.SIGTERM

    def kill(self) -> None:
        self.signals.append("SIGKILL")
        self.returncode = -signal.SIGKILL

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if timeout is None:
                raise AssertionError(f"waiting for {self.args} without a timeout would block forever")
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode


class ScriptedStop(threading.Event):
    """A stop event whose waits run ``on_wait`` at once (it says whether the event is set) instead of waiting."""

    def __init__(self, on_wait: Callable[[float | None], bool]) -> None:
        super().__init__()
        self.on_wait = on_wait

    def wait(self, timeout: float | None = None) -> bool:
        return self.on_wait(timeout)


class SupervisorOfFakes(Supervisor):
    """The supervisor, spawning stand-ins instead of processes, on fakeredis."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, worker_cmd=["worker"], server_cmd=["server"], **options)
        self.redis = fakeredis.FakeRedis()
        self.spawned: list[FakeChild] = []
        self.ignore_sigterm = False

    def _spawn(self, command: list[str]) -> Any:
        child = FakeChild(command, ignores_sigterm=self.ignore_sigterm)
        self.spawned.append(child)
        return child

    def child(self, which: str) -> FakeChild:
        """The stand-in now serving as the worker or the server."""
        process = self.worker if which == "worker" else self.server
        assert isinstance(process, FakeChild)
        return process

    def worker_checks_in(self, ttl_ms: int = 60_000) -> None:
        """The worker writes its health-check key, as ARQ does every few seconds."""
        self.redis.set(self.health_key, b"ok", px=ttl_ms)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """start_dev's clock, moved on by hand (its ``sleep`` returns at once)."""
    fake = FakeClock()
    monkeypatch.setattr(start_dev, "time", fake)
    return fake


@pytest.fixture
def settings() -> Settings:
    """Settings for a supervisor on port 8123; its Redis is fakeredis."""
    return Settings(redis_url="redis://unit-tests-use-no-redis:1", port=8123, queue_name="arq:queue")


@pytest.fixture
def supervisor(settings: Settings, clock: FakeClock) -> SupervisorOfFakes:
    """A supervisor of stand-ins, its restart backoff 1 s doubling up to 4 s, stable after 30 s."""
    return SupervisorOfFakes(settings, backoff=1.0, max_backoff=4.0, stable_after=30.0)


@pytest.fixture
def http_server() -> Iterator[str]:
    """A local HTTP server answering 200 on ``/`` and 404 elsewhere; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    """What start_dev logged at ``level`` or above."""
    return [r.getMessage() for r in caplog.records if r.name == "src.start_dev" and r.levelno >= level]


def test_a_wildcard_host_is_reached_on_loopback_and_an_ipv6_host_in_brackets() -> None:
    assert base_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert base_url("", 8000) == "http://127.0.0.1:8000"
    assert base_url("::", 8000) == "http://[::1]:8000"
    assert base_url("fe80::1", 81) == "http://[fe80::1]:81"
    assert base_url("example.org", 8080) == "http://example.org:8080"


def test_the_worker_is_python_m_src_worker_and_the_server_uvicorn_on_the_configured_address() -> None:
    assert worker_command() == [sys.executable, "-m", "src.worker"]
    assert server_command(Settings(host="0.0.0.0", port=9001, ws_max_size=4096)) == [
        sys.executable,
        "-m",
        "uvicorn",
        "src.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "9001",
        "--ws-max-size",
        "4096",
        "--ws-per-message-deflate",
        "false",
    ]


def test_start_dev_gives_uvicorn_ws_max_size_as_its_frame_limit() -> None:
    command = server_command(Settings(ws_max_size=4096))

    assert command[command.index("--ws-max-size") + 1] == "4096"


def test_a_supervisor_starts_the_project_root_commands_with_a_1s_backoff_doubling_to_10s() -> None:
    settings = Settings(redis_url="redis://cache.internal:6380", host="0.0.0.0", port=9001, queue_name="q")

    supervisor = Supervisor(settings)

    assert (supervisor.worker_cmd, supervisor.server_cmd) == (worker_command(), server_command(settings))
    assert supervisor.cwd == PROJECT_ROOT == Path(start_dev.__file__).resolve().parent.parent
    assert (supervisor.backoff, supervisor.max_backoff, supervisor.stable_after, supervisor.stop_timeout) == (
        1.0,
        10.0,
        30.0,
        10.0,
    )
    assert (supervisor.url, supervisor.health_key) == ("http://127.0.0.1:9001", "q:health-check")
    connection = supervisor.redis.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["socket_timeout"]) == ("cache.internal", 6380, 1.0)
    assert connection["socket_connect_timeout"] == 1.0
    assert (supervisor.worker, supervisor.server, supervisor.restarts) == (None, None, 0)


def test_wait_until_polls_every_tenth_of_a_second_until_the_condition_holds(clock: FakeClock) -> None:
    answers = iter([False, False, True])

    assert wait_until(lambda: next(answers), timeout=1.0) is True
    assert clock.now == pytest.approx(1000.2)


def test_wait_until_gives_up_at_its_timeout_or_when_told_to(clock: FakeClock) -> None:
    asked = 0

    def never() -> bool:
        nonlocal asked
        asked += 1
        return False

    assert wait_until(never, timeout=0.5, interval=0.25) is False
    assert (clock.now, asked) == (1000.5, 3)  # asked at 0, 0.25 and 0.5 s: the last at the deadline itself
    assert wait_until(lambda: False, timeout=10.0, give_up=lambda: True) is False
    assert clock.now == 1000.5


def test_the_server_answers_only_with_a_200(http_server: str) -> None:
    assert server_answers(http_server + "/") is True
    assert server_answers(http_server + "/missing") is False


def test_asking_the_server_waits_at_most_a_second_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts: list[float | None] = []

    def urlopen(url: str, timeout: float | None = None) -> Any:
        timeouts.append(timeout)
        raise urllib.error.URLError("refused")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    assert server_answers("http://127.0.0.1:1/") is False
    assert server_answers("http://127.0.0.1:1/", timeout=0.25) is False
    assert timeouts == [1.0, 0.25]


def test_a_server_that_is_not_listening_does_not_answer() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert server_answers(f"http://127.0.0.1:{port}/", timeout=0.5) is False


def test_a_port_something_listens_on_is_in_use_and_a_free_one_is_not() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use("127.0.0.1", port) is True
    assert port_in_use("127.0.0.1", port) is False


def test_an_address_that_cannot_be_bound_counts_as_in_use() -> None:
    assert port_in_use("192.0.2.1", 8000) is True  # TEST-NET-1: never an address of this machine


def test_the_health_check_ttl_is_minus_2_when_absent_and_minus_3_when_redis_does_not_answer() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    assert health_check_pttl(client, HEALTH_KEY) == -2
    client.set(HEALTH_KEY, b"ok", px=5000)
    assert 4000 < health_check_pttl(client, HEALTH_KEY) <= 5000

    server.connected = False

    assert health_check_pttl(client, HEALTH_KEY) == -3


def test_start_runs_the_worker_then_the_server_and_logs_their_pids(
    supervisor: SupervisorOfFakes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.start_dev")

    supervisor.start()

    assert [child.args for child in supervisor.spawned] == [["worker"], ["server"]]
    worker, server = supervisor.spawned
    assert messages(caplog) == [
        f"Started ARQ worker (pid {worker.pid})",
        f"Started uvicorn server (pid {server.pid}) on http://127.0.0.1:8123",
    ]


def test_a_health_key_left_by_an_earlier_worker_does_not_make_a_new_one_ready(supervisor: SupervisorOfFakes) -> None:
    supervisor.worker_checks_in(ttl_ms=30_000)  # a worker that ran before
    supervisor.start()

    assert supervisor.worker_ready() is False

    supervisor.worker_checks_in(ttl_ms=60_000)

    assert supervisor.worker_ready() is True


def test_the_server_is_ready_when_it_is_running_and_answers(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def answers(url: str) -> bool:
        asked.append(url)
        return True

    monkeypatch.setattr(start_dev, "server_answers", answers)
    supervisor.start()

    assert supervisor.server_ready() is True
    assert supervisor.app_ready() is True
    assert asked == ["http://127.0.0.1:8123/healthz", "http://127.0.0.1:8123/readyz"]

    supervisor.child("server").exit(1)

    assert supervisor.server_ready() is False
    assert supervisor.app_ready() is False
    assert asked == ["http://127.0.0.1:8123/healthz", "http://127.0.0.1:8123/readyz"]


def test_wait_ready_waits_for_readyz_after_the_server_and_the_worker(
    supervisor: SupervisorOfFakes, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(start_dev, "server_answers", lambda url: not url.endswith("/readyz") or clock.now >= 1003.0)
    supervisor.start()
    supervisor.worker_checks_in(ttl_ms=60_000)

    assert supervisor.wait_ready(timeout=5.0) is True
    assert clock.now >= 1003.0


def test_exited_is_true_only_for_a_started_process_that_has_ended() -> None:
    child = FakeChild(["x"])
    assert Supervisor.exited(None) is False
    assert Supervisor.exited(child) is False  # type: ignore[arg-type]
    child.exit(0)
    assert Supervisor.exited(child) is True  # type: ignore[arg-type]


def test_wait_ready_holds_once_the_server_answers_and_the_worker_checked_in(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setattr(start_dev, "server_answers", lambda url: clock.now >= 1001.0)
    supervisor.start()
    sleep = clock.sleep

    def sleep_while_the_worker_checks_in(seconds: float) -> None:
        sleep(seconds)
        supervisor.worker_checks_in()

    monkeypatch.setattr(clock, "sleep", sleep_while_the_worker_checks_in)

    assert supervisor.wait_ready(timeout=5.0) is True


def test_wait_ready_fails_saying_which_service_did_not_become_ready_in_time(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    monkeypatch.setattr(start_dev, "server_answers", lambda url: clock.now >= 1002.0)  # late
    supervisor.start()

    assert supervisor.wait_ready(timeout=2.5) is False
    assert messages(caplog, logging.ERROR) == ["The ARQ worker did not become ready within 2.5s"]
    assert clock.now == pytest.approx(1002.5, abs=0.15)  # both checks together took the timeout, no more


def test_wait_ready_says_when_the_server_did_not_become_ready_in_time(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    monkeypatch.setattr(start_dev, "server_answers", lambda url: False)
    supervisor.start()
    supervisor.worker_checks_in()

    assert supervisor.wait_ready() is False
    assert messages(caplog, logging.ERROR) == ["The uvicorn server did not become ready within 30s"]
    assert clock.now == pytest.approx(1030.0, abs=0.1)


def test_wait_ready_says_when_the_app_did_not_become_ready_in_time(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """The server answers ``/healthz`` and the worker checked in, but ``/readyz`` never says ready."""
    monkeypatch.setattr(start_dev, "server_answers", lambda url: url.endswith("/healthz"))
    supervisor.start()
    supervisor.worker_checks_in()

    assert supervisor.wait_ready(timeout=2.0) is False
    assert messages(caplog, logging.ERROR) == ["The app did not become ready within 2s"]


def test_a_restarted_worker_that_wait_ready_saw_check_in_is_not_announced_running_again(
    supervisor: SupervisorOfFakes, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.start_dev")
    monkeypatch.setattr(start_dev, "server_answers", lambda url: True)
    supervisor.start()
    supervisor.worker_checks_in(ttl_ms=60_000)
    assert supervisor.wait_ready(timeout=5.0) is True
    supervisor.child("worker").exit(1)
    supervisor.check()
    clock.now += 1.0
    supervisor.check()
    assert supervisor.restarts == 1
    supervisor.worker_checks_in(ttl_ms=120_000)

    assert supervisor.wait_ready(timeout=5.0) is True
    supervisor.check()

    assert not [m for m in messages(caplog) if "running again" in m]


@pytest.mark.parametrize(("which", "name"), [("worker", "ARQ worker"), ("server", "uvicorn server")])
def test_wait_ready_gives_up_at_once_saying_which_child_exited_and_how(
    supervisor: SupervisorOfFakes,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: FakeClock,
    which: str,
    name: str,
) -> None:
    monkeypatch.setattr(start_dev, "server_answers", lambda url: False)
    supervisor.start()
    supervisor.child(which).exit(3)

    assert supervisor.wait_ready(timeout=30.0) is False
    assert messages(caplog, logging.ERROR) == [f"The {name} exited (exit code 3) before it was ready"]
    assert clock.now == 1000.0


def test_wait_ready_gives_up_at_once_and_quietly_when_told_to_stop(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    monkeypatch.setattr(start_dev, "server_answers", lambda url: False)
    supervisor.start()
    stop = threading.Event()
    stop.set()

    assert supervisor.wait_ready(timeout=30.0, stop=stop) is False
    assert messages(caplog, logging.ERROR) == []
    assert clock.now == 1000.0


def test_the_banner_names_the_app_its_page_and_docs_and_the_workers_pid_and_queue(
    supervisor: SupervisorOfFakes,
) -> None:
    assert "running (pid ?, queue arq:queue)" in supervisor.banner()
    supervisor.start()

    assert supervisor.banner() == "\n".join(
        [
            "Development environment is up:",
            "  App:                  http://127.0.0.1:8123",
            "  Background Jobs page: http://127.0.0.1:8123/",
            "  AsyncAPI docs:        http://127.0.0.1:8123/asyncapi",
            f"  ARQ worker:           running (pid {supervisor.child('worker').pid}, queue arq:queue)",
            "Press Ctrl+C to stop both services",
        ]
    )


def test_supervision_ends_when_the_server_exits(
    supervisor: SupervisorOfFakes, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor.start()
    assert supervisor.check() is True

    supervisor.child("server").exit(2)

    assert supervisor.check() is False
    assert messages(caplog, logging.ERROR) == ["The uvicorn server exited unexpectedly (exit code 2)"]


def test_a_worker_that_exits_is_restarted_after_the_backoff_and_reported_running_once_it_checks_in(
    supervisor: SupervisorOfFakes, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead worker is restarted once its 1 s backoff is over, and reported running when it writes its health key."""
    caplog.set_level(logging.INFO, logger="src.start_dev")
    supervisor.start()
    supervisor.worker_checks_in()
    first = supervisor.child("worker")
    first.exit(-9)

    assert supervisor.check() is True
    assert supervisor.restarts == 0
    clock.now += 0.99
    supervisor.check()
    assert supervisor.restarts == 0
    clock.now += 0.01
    supervisor.check()
    assert supervisor.restarts == 1
    second = supervisor.child("worker")
    assert second is not first

    supervisor.check()
    assert "The ARQ worker is running again" not in " ".join(messages(caplog))
    supervisor.redis.set(supervisor.health_key, b"ok", px=120_000)
    supervisor.check()
    supervisor.check()

    assert [m for m in messages(caplog) if "ARQ worker" in m and "Started" not in m] == [
        "The ARQ worker exited unexpectedly (exit code -9); restarting it in 1s",
        f"The ARQ worker is running again (pid {second.pid})",
    ]


def test_a_worker_that_keeps_dying_is_restarted_with_doubling_backoff_up_to_its_cap(
    supervisor: SupervisorOfFakes, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor.start()
    delays = []
    for _ in range(5):
        supervisor.child("worker").exit(1)
        supervisor.check()
        assert supervisor._restart_at is not None
        delays.append(supervisor._restart_at - clock.now)
        clock.now = supervisor._restart_at
        supervisor.check()

    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert supervisor.restarts == 5


def test_a_worker_that_ran_stably_before_it_died_is_restarted_after_the_first_backoff(
    supervisor: SupervisorOfFakes, clock: FakeClock
) -> None:
    supervisor.start()
    for _ in range(3):  # three quick deaths: the backoff is up to 4 s
        supervisor.child("worker").exit(1)
        supervisor.check()
        assert supervisor._restart_at is not None
        clock.now = supervisor._restart_at
        supervisor.check()

    clock.now += 30.0  # the last one ran for stable_after
    supervisor.child("worker").exit(1)
    supervisor.check()

    assert supervisor._restart_at == clock.now + 1.0


def test_stop_terminates_the_server_then_the_worker(supervisor: SupervisorOfFakes) -> None:
    supervisor.start()
    worker, server = supervisor.child("worker"), supervisor.child("server")

    supervisor.stop()

    assert (server.signals, worker.signals) == (["SIGTERM"], ["SIGTERM"])
    assert (server.returncode, worker.returncode) == (-signal.SIGTERM, -signal.SIGTERM)


def test_stop_kills_a_child_that_ignores_sigterm_and_says_so(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = SupervisorOfFakes(settings, stop_timeout=2.5)
    supervisor.ignore_sigterm = True
    supervisor.start()

    supervisor.stop()

    assert supervisor.child("server").signals == ["SIGTERM", "SIGKILL"]
    assert supervisor.child("worker").signals == ["SIGTERM", "SIGKILL"]
    assert messages(caplog, logging.WARNING) == [
        "The uvicorn server did not stop within 2.5s; killing it",
        "The ARQ worker did not stop within 2.5s; killing it",
    ]


def test_stop_leaves_children_that_already_exited_alone_and_cancels_a_pending_restart(
    supervisor: SupervisorOfFakes,
) -> None:
    supervisor.stop()  # nothing started: nothing to do
    supervisor.start()
    supervisor.child("worker").exit(1)
    supervisor.check()

    supervisor.stop()

    assert supervisor.child("worker").signals == []
    assert supervisor._restart_at is None


def test_run_refuses_a_port_in_use_before_starting_anything(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(start_dev, "port_in_use", lambda host, port: (host, port) == ("127.0.0.1", 8123))

    assert supervisor.run(threading.Event()) == 1
    assert supervisor.spawned == []
    assert messages(caplog, logging.ERROR) == [
        "Port 8123 on 127.0.0.1 is already in use: stop what uses it or set PORT"
    ]


@pytest.fixture
def runnable(supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch) -> SupervisorOfFakes:
    """The supervisor on a free port, its server answering and its worker checked in as soon as they start."""
    monkeypatch.setattr(start_dev, "port_in_use", lambda host, port: False)
    monkeypatch.setattr(start_dev, "server_answers", lambda url: True)
    start = supervisor.start_worker

    def start_worker_that_checks_in() -> None:
        start()
        supervisor.worker_checks_in(ttl_ms=60_000 + 1000 * supervisor.restarts)

    monkeypatch.setattr(supervisor, "start_worker", start_worker_that_checks_in)
    return supervisor


def test_run_logs_the_banner_supervises_until_stopped_then_stops_both(
    runnable: SupervisorOfFakes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.start_dev")
    timeouts: list[float | None] = []

    def stop_at_the_fourth_poll(timeout: float | None) -> bool:
        timeouts.append(timeout)
        return len(timeouts) > 3

    stop = ScriptedStop(stop_at_the_fourth_poll)

    assert runnable.run(stop) == 0
    assert messages(caplog)[2:] == [runnable.banner(), "Stopping both services", "Shutdown complete"]
    assert runnable.child("server").signals == runnable.child("worker").signals == ["SIGTERM"]
    assert timeouts == [0.2] * 4


def test_run_exits_1_when_the_server_dies_while_supervised(
    runnable: SupervisorOfFakes, caplog: pytest.LogCaptureFixture
) -> None:
    def the_server_dies(timeout: float | None) -> bool:
        runnable.child("server").exit(1)
        return False

    stop = ScriptedStop(the_server_dies)

    assert runnable.run(stop) == 1
    assert "Shutdown complete" in messages(caplog)


def test_run_exits_1_when_the_services_are_not_ready_within_30s_and_0_when_stopped_meanwhile(
    supervisor: SupervisorOfFakes, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setattr(start_dev, "port_in_use", lambda host, port: False)
    monkeypatch.setattr(start_dev, "server_answers", lambda url: False)

    assert supervisor.run(threading.Event()) == 1
    assert clock.now == pytest.approx(1030.0, abs=0.1)
    stopped = threading.Event()
    stopped.set()
    assert supervisor.run(stopped) == 0
    assert clock.now == pytest.approx(1030.0, abs=0.1)  # gave up at once
    assert all(child.returncode is not None for child in supervisor.spawned)


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    """SIGINT's and SIGTERM's handlers, put back after the test."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("signal_handlers")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_asks_the_supervisor_to_stop(signum: signal.Signals) -> None:
    stop = threading.Event()
    install_signal_handlers(stop)

    signal.raise_signal(signum)

    assert stop.is_set()


@pytest.mark.usefixtures("signal_handlers")
def test_main_supervises_with_the_settings_from_the_environment_and_returns_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "9002")
    ran: list[tuple[Settings, threading.Event]] = []

    class RecordingSupervisor:
        def __init__(self, settings: Settings) -> None:
            self.settings = settings

        def run(self, stop: threading.Event) -> int:
            ran.append((self.settings, stop))
            return 7

    monkeypatch.setattr(start_dev, "Supervisor", RecordingSupervisor)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []  # as in a fresh process: basicConfig gives it a handler
    try:
        assert start_dev.main() == 7
        (handler,) = root.handlers
        assert root.level == logging.DEBUG
        assert handler.formatter is not None
        assert handler.formatter._fmt == "%(asctime)s %(name)s %(message)s"
    finally:
        root.handlers = handlers
        root.setLevel(level)
    ((settings, stop),) = ran
    assert settings.port == 9002
    signal.raise_signal(signal.SIGTERM)
    assert stop.is_set()


def test_a_child_is_started_in_the_supervisors_directory_in_a_process_group_of_its_own(
    settings: Settings, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    supervisor = Supervisor(settings, cwd=tmp_path)
    probe = "import os; print(os.getcwd(), os.getpgid(0) == os.getpid())"

    child = supervisor._spawn([sys.executable, "-c", probe])

    assert child.wait(timeout=30) == 0
    assert capfd.readouterr().out.split() == [str(tmp_path), "True"]
    supervisor.redis.close()
