"""UserLimits on its own, on fakeredis: users' keys, socket leases that expire unless renewed, and job reservations
that count while their job is queued or running (or, for a grace, while it is being enqueued)."""

import asyncio
import logging
import re
from typing import Any

import pytest
from arq import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from fakeredis import FakeServer
from fast_channels.layers import channel_layers
from pydantic import SecretStr

from src.main import create_app
from src.parts import StockParts
from src.settings import Settings
from src.web import user_limits
from src.web.job_queue import JobQueue, QueueError
from src.web.user_limits import UserLimits, user_key
from tests.support.log_lines import log_lines
from tests.support.pubsub import until
from tests.support.who_may_connect import SECRET

SOCKETS = 2
JOBS = 2
#: Seconds a short lease lasts here (the deployment's are a minute).
SHORT_LEASE = 0.2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Authentication on, two sockets and two jobs per user."""
    return settings.model_copy(
        update={"auth_jwt_secret": SecretStr(SECRET), "max_sockets_per_user": SOCKETS, "max_jobs_per_user": JOBS}
    )


def limits_on(settings: Settings, pool: ArqRedis, lease: float = SHORT_LEASE, renew_every: float = 0.05) -> UserLimits:
    """A server's limits (its own ``JobQueue`` on ``pool``), its leases short."""
    return UserLimits(
        settings, JobQueue(settings, StockParts(settings), pool=pool), lease=lease, renew_every=renew_every
    )


async def redis_ms(pool: ArqRedis) -> int:
    """Redis's clock, in ms."""
    seconds, microseconds = await pool.time()
    return int(seconds) * 1000 + int(microseconds) // 1000


async def until_redis_clock_passes(pool: ArqRedis, ms: float) -> None:
    """Wait (2 s at most) until Redis's clock is past ``ms``."""

    async def passed() -> bool:
        return await redis_ms(pool) > ms

    await until(passed)


async def lease_expiries(pool: ArqRedis, key: str) -> dict[str, float]:
    """The leases under ``key`` and when each expires (ms, Redis's clock)."""
    return {member.decode(): score for member, score in await pool.zrange(key, 0, -1, withscores=True)}


# --- keys ------------------------------------------------------------------------------------------------------


def test_a_users_key_is_the_sha256_of_the_name_under_the_queue_name() -> None:
    assert user_key("arq:queue", "alice", "sockets") == (
        "arq:queue:user:2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90:sockets"
    )


@pytest.mark.parametrize(
    "user", ["al\ud800ice", "x" * 1_000_000, "名前", "a:b"], ids=["lone surrogate", "a megabyte", "CJK", "a colon"]
)
def test_any_user_text_makes_a_key_of_fixed_form_of_its_own(user: str) -> None:
    key = user_key("q", user, "jobs")

    assert re.fullmatch(r"q:user:[0-9a-f]{64}:jobs", key)
    assert key != user_key("q", "alice", "jobs")
    assert key != user_key("other-queue", user, "jobs")


# --- socket leases ---------------------------------------------------------------------------------------------


async def test_a_user_takes_leases_up_to_max_sockets_per_user_and_a_released_one_makes_room(
    settings: Settings, pool: ArqRedis
) -> None:
    limits = limits_on(settings, pool)

    leases = [await limits.take_socket("alice") for _ in range(SOCKETS + 1)]

    assert leases[-1] is None
    assert await limits.take_socket("bob") is not None
    first = leases[0]
    assert first is not None
    await limits.release_socket(first)
    assert await limits.take_socket("alice") is not None


async def test_an_open_sockets_lease_is_renewed_past_its_first_expiry(settings: Settings, pool: ArqRedis) -> None:
    limits = limits_on(settings, pool)
    lease = await limits.take_socket("alice")
    assert lease is not None
    key = user_key(settings.queue_name, "alice", "sockets")
    first_expiry = (await lease_expiries(pool, key))[lease]
    renewing = asyncio.create_task(limits.keep_renewing())
    try:
        await until_redis_clock_passes(pool, first_expiry)

        assert (await lease_expiries(pool, key))[lease] > first_expiry
        assert await pool.pttl(key) > 0
    finally:
        renewing.cancel()


async def test_leases_are_renewed_in_several_script_calls_when_there_are_many(
    settings: Settings, pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_limits, "RENEWALS_PER_CALL", 2)
    limits = limits_on(settings.model_copy(update={"max_sockets_per_user": 5}), pool, lease=60.0)
    for user in ("alice", "bob"):
        for _ in range(5):
            await limits.take_socket(user)
    before = {
        user: await lease_expiries(pool, user_key(settings.queue_name, user, "sockets")) for user in ("alice", "bob")
    }
    await until_redis_clock_passes(pool, await redis_ms(pool))

    calls: list[object] = []
    script_of = limits._script

    def counting(source: str) -> Any:
        script = script_of(source)

        async def called(**kwargs: Any) -> Any:
            calls.append(kwargs["keys"])
            return await script(**kwargs)

        return called

    monkeypatch.setattr(limits, "_script", counting)
    await limits.renew()

    after = await redis_ms(pool)

    assert len(calls) == 5  # ten leases, two a call
    for user, expiries in before.items():
        renewed = await lease_expiries(pool, user_key(settings.queue_name, user, "sockets"))
        assert renewed.keys() == expiries.keys()
        assert all(renewed[lease] > expiry for lease, expiry in expiries.items())
        assert all(renewed[lease] <= after + 60_000 for lease in renewed)  # a renewal lasts the lease, 60 s


async def test_a_lease_that_expired_is_not_taken_again_by_a_renewal(settings: Settings, pool: ArqRedis) -> None:
    """A server that could not renew in time finds its socket's lease gone, and leaves it gone."""
    limits = limits_on(settings, pool)
    await limits.take_socket("alice")
    key = user_key(settings.queue_name, "alice", "sockets")

    async def gone() -> bool:
        return not await pool.exists(key)

    await until(gone)  # the key's time to live runs out

    await limits.renew()

    assert await pool.exists(key) == 0


async def test_a_server_that_crashed_leaves_leases_that_expire_by_themselves(
    settings: Settings, pool: ArqRedis
) -> None:
    crashed = limits_on(settings, pool)
    for _ in range(SOCKETS):
        await crashed.take_socket("alice")  # never renewed, never released
    alive = limits_on(settings, pool, lease=60.0)
    assert await alive.take_socket("alice") is None

    async def taken() -> bool:
        return await alive.take_socket("alice") is not None

    await until(taken)  # once Redis's clock passes the crashed server's leases


async def test_renewing_while_redis_is_away_logs_a_warning_and_renews_once_it_is_back(
    settings: Settings, pool: ArqRedis, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    limits = limits_on(settings, pool, lease=60.0, renew_every=0.01)
    lease = await limits.take_socket("alice")
    assert lease is not None
    key = user_key(settings.queue_name, "alice", "sockets")
    expiry = (await lease_expiries(pool, key))[lease]

    async def logged() -> bool:
        return bool(log_lines(caplog, "src.web.user_limits"))

    async def renewed() -> bool:
        return (await lease_expiries(pool, key))[lease] > expiry

    redis_server.connected = False
    renewing = asyncio.create_task(limits.keep_renewing())
    try:
        await until(logged)
        redis_server.connected = True
        await until(renewed)
    finally:
        renewing.cancel()

    assert log_lines(caplog, "src.web.user_limits")[0] == (
        "[warning ] could not renew the sockets' leases; trying again later error='the job queue is unavailable'"
    )


async def test_a_lease_released_while_redis_is_away_is_no_longer_renewed_and_nothing_raises(
    settings: Settings, pool: ArqRedis, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    limits = limits_on(settings, pool)
    lease = await limits.take_socket("alice")
    assert lease is not None
    redis_server.connected = False

    with caplog.at_level(logging.INFO):
        await limits.release_socket(lease)

    assert limits.leases == {}
    assert log_lines(caplog, "src.web.user_limits") == [
        "[info ] a closed socket's lease is left to expire error='the job queue is unavailable'"
    ]


async def test_taking_a_lease_while_redis_is_away_raises_queue_error(
    settings: Settings, pool: ArqRedis, redis_server: FakeServer
) -> None:
    limits = limits_on(settings, pool)
    redis_server.connected = False

    with pytest.raises(QueueError, match="the job queue is unavailable"):
        await limits.take_socket("alice")
    assert limits.leases == {}


# --- job reservations ------------------------------------------------------------------------------------------


async def queue_as_arq_does(pool: ArqRedis, job_id: str) -> None:
    """The record ARQ keeps while a job is queued or running (its content does not matter here)."""
    await pool.set(job_key_prefix + job_id, b"job")


async def finish_as_arq_does(pool: ArqRedis, job_id: str, keep_result: bool = True) -> None:
    """What ARQ's worker does as a job ends: its record deleted, its result stored (unless results are not kept)."""
    await pool.delete(job_key_prefix + job_id)
    if keep_result:
        await pool.set(result_key_prefix + job_id, b"result")


async def test_a_user_reserves_jobs_up_to_max_jobs_per_user_and_another_user_is_not_counted(
    settings: Settings, pool: ArqRedis
) -> None:
    limits = limits_on(settings, pool)

    reserved = [await limits.reserve_job("alice", f"default_{n}") for n in range(JOBS + 1)]

    assert reserved == [True] * JOBS + [False]
    assert await limits.reserve_job("bob", "default_b") is True


async def test_a_queued_jobs_reservation_counts_however_old(settings: Settings, pool: ArqRedis) -> None:
    quick_grace = settings.model_copy(update={"enqueue_timeout": 0.01})  # a grace of 0.1 s
    limits = limits_on(quick_grace, pool)
    for n in range(JOBS):
        assert await limits.reserve_job("alice", f"default_{n}")
        await queue_as_arq_does(pool, f"default_{n}")
    await until_redis_clock_passes(pool, await redis_ms(pool) + 150)

    assert await limits.reserve_job("alice", "default_x") is False


async def test_a_finished_jobs_reservation_no_longer_counts(settings: Settings, pool: ArqRedis) -> None:
    limits = limits_on(settings, pool)
    for n in range(JOBS):
        await limits.reserve_job("alice", f"default_{n}")
        await queue_as_arq_does(pool, f"default_{n}")

    await finish_as_arq_does(pool, "default_0")

    assert await limits.reserve_job("alice", "default_x") is True
    assert await limits.reserve_job("alice", "default_y") is False


async def test_a_reservation_without_a_job_record_counts_for_the_grace_then_no_longer(
    settings: Settings, pool: ArqRedis
) -> None:
    """A reservation whose enqueue may still be under way counts; one older than ten ``ENQUEUE_TIMEOUT``s (or a job
    that ended without its result kept) does not."""
    limits = limits_on(settings.model_copy(update={"enqueue_timeout": 0.02}), pool)  # a grace of 0.2 s
    started = await redis_ms(pool)
    for n in range(JOBS):
        await limits.reserve_job("alice", f"default_{n}")

    assert await limits.reserve_job("alice", "default_x") is False

    async def reserved() -> bool:
        return await limits.reserve_job("alice", "default_x")

    await until(reserved)  # once Redis's clock passes the grace
    assert await redis_ms(pool) >= started + 200


async def test_a_reservation_released_while_redis_is_away_is_logged_and_counts_for_the_grace(
    settings: Settings, pool: ArqRedis, redis_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    limits = limits_on(settings, pool)
    await limits.reserve_job("alice", "default_0")
    redis_server.connected = False

    with caplog.at_level(logging.INFO):
        await limits.release_job("alice", "default_0")

    assert log_lines(caplog, "src.web.user_limits") == [
        "[info ] a job that was not queued keeps its reservation for the grace "
        "error='the job queue is unavailable' job_id=default_0"
    ]


async def test_a_released_reservation_no_longer_counts(settings: Settings, pool: ArqRedis) -> None:
    limits = limits_on(settings, pool)
    for n in range(JOBS):
        await limits.reserve_job("alice", f"default_{n}")

    await limits.release_job("alice", "default_0")

    assert await limits.reserve_job("alice", "default_x") is True


async def test_the_users_jobs_key_lives_as_long_as_arqs_record_of_a_queued_job(
    settings: Settings, pool: ArqRedis
) -> None:
    limits = limits_on(settings, pool)

    await limits.reserve_job("alice", "default_0")

    assert 86_300_000 < await pool.pttl(user_key(settings.queue_name, "alice", "jobs")) <= 86_400_000


async def test_with_authentication_on_the_apps_lifespan_renews_its_open_sockets_leases(
    settings: Settings, pool: ArqRedis
) -> None:
    channel_layers.clear()
    app = create_app(settings, jobs=JobQueue(settings, StockParts(settings), pool=pool))
    limits: UserLimits = app.state.user_limits
    limits.renew_every = 0.01
    lease = await limits.take_socket("alice")  # as a socket's handshake takes it
    assert lease is not None
    key = user_key(settings.queue_name, "alice", "sockets")
    taken = (await lease_expiries(pool, key))[lease]

    async def renewed() -> bool:
        return (await lease_expiries(pool, key))[lease] > taken

    async with app.router.lifespan_context(app):
        await until(renewed)


async def test_a_lease_lasts_a_minute_and_a_server_renews_its_leases_every_20_seconds(
    settings: Settings, pool: ArqRedis
) -> None:
    """The figures "Who may connect" gives: a crashed server's sockets stop counting within a minute."""
    limits = UserLimits(settings, JobQueue(settings, StockParts(settings), pool=pool))
    before = await redis_ms(pool)

    lease = await limits.take_socket("alice")

    assert lease is not None
    expiry = (await lease_expiries(pool, user_key(settings.queue_name, "alice", "sockets")))[lease]
    assert before + 60_000 <= expiry <= await redis_ms(pool) + 60_000
    assert limits.renew_every == 20.0
