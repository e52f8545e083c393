"""``/healthz`` and ``/readyz`` in-process, on fakeredis: liveness whatever Redis does; readiness while Redis
answers and a worker has checked in, and each check's reason written out otherwise (Redis silent or failing, its
heartbeat unreadable); the reasons name no address, and the log has Redis's error, once each time the verdict
changes."""

import asyncio
import logging

import httpx
import pytest
from arq import ArqRedis
from fakeredis import FakeServer
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from src.ops.readiness import readiness
from src.settings import Settings
from tests.support.log_lines import log_lines
from tests.support.who_may_connect import app_on, http_get

HEARTBEAT = "arq:queue:health-check"  # ARQ's health-check key for the default queue


async def test_healthz_answers_200_whatever_redis_does(http: httpx.AsyncClient, redis_server: FakeServer) -> None:
    redis_server.connected = False

    response = await http.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_200_when_redis_answers_and_a_worker_has_checked_in(
    http: httpx.AsyncClient, pool: ArqRedis
) -> None:
    await pool.set(HEARTBEAT, b"j_complete=0", px=6000)

    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok", "worker": "ok"}}


async def test_readyz_is_503_naming_the_missing_worker_heartbeat(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"redis": "ok", "worker": "no worker has checked in within the last 6s"},
    }


async def test_readyz_is_503_while_redis_is_down_and_200_again_once_it_is_back(
    http: httpx.AsyncClient, pool: ArqRedis, redis_server: FakeServer
) -> None:
    await pool.set(HEARTBEAT, b"j_complete=0")
    redis_server.connected = False

    down = await http.get("/readyz")
    redis_server.connected = True
    back = await http.get("/readyz")

    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["checks"]["redis"] == "Redis is unavailable"
    assert (await http.get("/healthz")).status_code == 200
    assert back.status_code == 200


# --- each check's reason ---------------------------------------------------------------------------------------

#: An enqueue timeout short enough for a test to wait out; it shows in the reason as ``0.05s``.
SETTINGS = Settings(redis_url="redis://unit-tests-use-no-redis:1", enqueue_timeout=0.05)


async def never_answers(*args: object) -> bool:
    """A Redis call that was sent and is never answered."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable: nobody sets the event")


async def test_a_redis_that_does_not_answer_a_ping_in_time_leaves_the_worker_unknown(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "ping", never_answers)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.ready is False
    assert verdict.body() == {
        "status": "unavailable",
        "checks": {"redis": "Redis did not answer within 0.05s", "worker": "unknown: Redis did not answer"},
    }


#: What redis-py raises for a Redis whose port refuses connections: it names the address.
REFUSED = "Error 111 connecting to redis.internal:6379. Connection refused."
#: ``/readyz``'s body while Redis refuses connections.
REDIS_UNAVAILABLE = {
    "status": "unavailable",
    "checks": {"redis": "Redis is unavailable", "worker": "unknown: Redis is unavailable"},
}
READINESS_LOGGER = "src.ops.readiness"


async def refused(*args: object) -> bool:
    """A Redis call on a port that refuses connections."""
    raise RedisConnectionError(REFUSED)


async def test_a_redis_that_refuses_the_ping_is_named_unavailable_without_its_address(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "ping", refused)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.body() == REDIS_UNAVAILABLE
    assert verdict.error == REFUSED  # for the log


async def test_a_heartbeat_read_that_fails_says_so_without_its_error_with_redis_ok(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*keys: str) -> int:
        raise ResponseError("LOADING Redis is loading the dataset in memory")

    monkeypatch.setattr(pool, "exists", failing)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.body() == {
        "status": "unavailable",
        "checks": {"redis": "ok", "worker": "unknown: the heartbeat could not be read"},
    }
    assert verdict.error == "LOADING Redis is loading the dataset in memory"


async def test_a_heartbeat_read_that_is_not_answered_in_time_says_so_with_redis_ok(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "exists", never_answers)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.body() == {
        "status": "unavailable",
        "checks": {"redis": "ok", "worker": "unknown: the heartbeat could not be read within 0.05s"},
    }


# --- through the app: the body a caller reads, and what the log says -------------------------------------------


async def readyz(app: FastAPI, times: int = 1) -> list[tuple[int, bytes]]:
    """``GET /readyz`` ``times`` times, as a probe naming the server's address does: each status and body."""
    answers = [await http_get(app, "/readyz", [(b"host", b"10.0.0.7:8000")]) for _ in range(times)]
    return [(answer.status, answer.body) for answer in answers]


async def test_readyz_tells_a_caller_redis_is_unavailable_without_its_address_while_the_log_has_it(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pool, "ping", refused)
    app = app_on(SETTINGS, pool)

    with caplog.at_level(logging.INFO, logger=READINESS_LOGGER):
        [(status, body)] = await readyz(app)

    assert (status, body) == (
        503,
        b'{"status":"unavailable","checks":{"redis":"Redis is unavailable","worker":"unknown: Redis is unavailable"}}',
    )
    assert b"redis.internal" not in body
    assert log_lines(caplog, READINESS_LOGGER) == [
        "[warning ] not ready checks={'redis': 'Redis is unavailable', 'worker': 'unknown: Redis is unavailable'} "
        f"error='{REFUSED}'"
    ]


async def test_readyz_logs_a_verdict_once_while_it_stays_the_same_and_again_each_time_it_changes(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Down (three probes), then up without a worker (two), then ready (two): three lines, one per change."""
    app = app_on(SETTINGS, pool)

    with caplog.at_level(logging.INFO, logger=READINESS_LOGGER):
        with monkeypatch.context() as down:
            down.setattr(pool, "ping", refused)
            assert [status for status, _ in await readyz(app, times=3)] == [503, 503, 503]
        assert [status for status, _ in await readyz(app, times=2)] == [503, 503]  # no heartbeat yet
        await pool.set(SETTINGS.queue_name + ":health-check", b"a worker's heartbeat")
        assert [status for status, _ in await readyz(app, times=2)] == [200, 200]

    assert [line.split(" checks=")[0] for line in log_lines(caplog, READINESS_LOGGER)] == [
        "[warning ] not ready",
        "[warning ] not ready",
        "[info ] ready: Redis answers and a worker has checked in",
    ]
    assert "no worker has checked in within the last 6s" in log_lines(caplog, READINESS_LOGGER)[1]


async def test_each_app_logs_its_own_readiness_changes(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two apps in one process (tests, say): the second's first verdict is logged though the first's was the same."""
    monkeypatch.setattr(pool, "ping", refused)

    with caplog.at_level(logging.INFO, logger=READINESS_LOGGER):
        await readyz(app_on(SETTINGS, pool))
        await readyz(app_on(SETTINGS, pool))

    assert len(log_lines(caplog, READINESS_LOGGER)) == 2
