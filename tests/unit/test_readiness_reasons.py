"""``/readyz``'s verdicts, each check's reason written out: Redis silent or failing, and its heartbeat unreadable."""

import asyncio

import pytest
from arq import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from src.readiness import readiness
from src.settings import Settings

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


async def test_a_redis_that_refuses_the_ping_is_named_unavailable_with_its_error(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused() -> bool:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(pool, "ping", refused)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.body() == {
        "status": "unavailable",
        "checks": {"redis": "Redis is unavailable: Connection refused", "worker": "unknown: Redis is unavailable"},
    }


async def test_a_heartbeat_read_that_fails_names_its_error_with_redis_ok(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*keys: str) -> int:
        raise ResponseError("LOADING Redis is loading the dataset in memory")

    monkeypatch.setattr(pool, "exists", failing)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.body() == {
        "status": "unavailable",
        "checks": {
            "redis": "ok",
            "worker": "unknown: the heartbeat could not be read (LOADING Redis is loading the dataset in memory)",
        },
    }


async def test_a_heartbeat_read_that_is_not_answered_in_time_says_so_with_redis_ok(
    pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "exists", never_answers)

    verdict = await readiness(pool, SETTINGS)

    assert verdict.body() == {
        "status": "unavailable",
        "checks": {"redis": "ok", "worker": "unknown: the heartbeat could not be read (no answer within 0.05s)"},
    }
