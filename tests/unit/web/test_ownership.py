"""Job ownership: with authentication on, a job id carries its owner's tag (``<type>_<16 random hex><16 hex tag>``),
an HMAC keyed by 32 random bytes the servers share through Redis, and only its owner owns it; with authentication
off, ids are uuid4s, no key is read, and the id is the capability."""

import asyncio
import hashlib
import hmac
import re
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fakeredis import FakeServer
from fastapi import FastAPI
from pydantic import SecretStr

from src.parts import StockParts
from src.settings import Settings
from src.web import ownership as ownership_module
from src.web.job_queue import JobQueue, QueueError
from src.web.ownership import KEY_REFRESH, JobOwnership
from tests.support.communicator import socket_on
from tests.support.fake_arq import fake_arq_pool
from tests.support.protocol import CONNECTED, job_status
from tests.support.who_may_connect import SECRET, ec_keys

ID_FORM = re.compile(r"translate_[0-9a-f]{32}")
UUID4_HEX = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")
#: Where the unit layer's servers keep the owners' key (``QUEUE_NAME`` is ARQ's default, ``arq:queue``).
KEY_NAME = "arq:queue:ownership-key"


class Clock:
    """A clock the test moves by hand (``JobOwnership``'s ``clock``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def server_on(pool: ArqRedis, clock: Clock | None = None, settings: Settings | None = None) -> JobOwnership:
    """One server's ``JobOwnership``, its job queue on ``pool``."""
    return JobOwnership(
        JobQueue(settings or Settings(), StockParts(settings or Settings()), pool=pool), clock=clock or Clock()
    )


@pytest.fixture
def ownership(pool: ArqRedis, clock: Clock) -> JobOwnership:
    return server_on(pool, clock)


def hmac_tag(key: bytes, user: str, random_part: str) -> str:
    """The tag as docs/who-may-connect.md defines it: HMAC-SHA256 of ``user``, a NUL and the random part; 16 hex
    digits."""
    return hmac.new(key, f"{user}\0{random_part}".encode(), hashlib.sha256).hexdigest()[:16]


def flip(hex_digit: str) -> str:
    """Another hex digit."""
    return "0" if hex_digit != "0" else "1"


@pytest.mark.parametrize("user", ["alice", None], ids=["a user", "no user"])
async def test_job_ids_keep_the_type_then_32_hex_digits_with_or_without_a_user(
    ownership: JobOwnership, user: str | None
) -> None:
    assert ID_FORM.fullmatch(await ownership.new_job_id("translate", user))


async def test_without_a_user_a_job_id_is_a_uuid4(ownership: JobOwnership) -> None:
    digits = (await ownership.new_job_id("translate", None)).removeprefix("translate_")

    assert UUID4_HEX.fullmatch(digits)


async def test_the_owner_owns_their_job(ownership: JobOwnership) -> None:
    assert await ownership.owns("alice", await ownership.new_job_id("translate", "alice"))


@pytest.mark.parametrize(
    "other",
    ["bob", "Alice", "alic", "alice ", "alice\0", ""],
    ids=["another name", "another case", "a prefix", "a trailing space", "a trailing NUL", "empty"],
)
async def test_another_user_does_not_own_the_job(ownership: JobOwnership, other: str) -> None:
    assert not await ownership.owns(other, await ownership.new_job_id("translate", "alice"))


@pytest.mark.parametrize(
    "position",
    [-1, -16, 10, 10 + 15],
    ids=["the tag's last digit", "the tag's first digit", "the random part's first", "the random part's last"],
)
async def test_a_job_id_with_one_digit_changed_is_owned_by_nobody(ownership: JobOwnership, position: int) -> None:
    """Position -1 and -16 are in the tag; 10 and 25 (after ``translate_``) in the random part."""
    job_id = await ownership.new_job_id("translate", "alice")
    tampered = job_id[:position] + flip(job_id[position]) + job_id[position:][1:]

    assert tampered != job_id
    assert not await ownership.owns("alice", tampered)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda job_id: job_id[:-1], id="last digit cut off"),
        pytest.param(lambda job_id: job_id + "0", id="a digit added"),
        pytest.param(lambda job_id: job_id.replace("_", ""), id="no underscore"),
        pytest.param(lambda job_id: job_id.upper(), id="upper-case hex"),
        pytest.param(lambda job_id: job_id.replace("_", "_x_", 1), id="a segment between the type and the digits"),
        pytest.param(lambda job_id: "", id="empty"),
    ],
)
async def test_a_job_id_not_of_the_issued_form_is_owned_by_nobody(ownership: JobOwnership, change: Any) -> None:
    assert not await ownership.owns("alice", change(await ownership.new_job_id("translate", "alice")))


@pytest.mark.parametrize(
    "job_id",
    [
        "translate_" + "é" * 32,
        "translate_" + "\ud800" * 32,
        "translate_" + "0" * 16 + "✓" * 16,
        "translate_" + "\x00" * 32,
        "☃_" + "0" * 32,
    ],
    ids=["accented digits", "lone surrogates", "check marks for the tag", "NUL characters", "a snowman for the type"],
)
async def test_a_job_id_with_characters_outside_ascii_is_owned_by_nobody_without_raising(
    ownership: JobOwnership, job_id: str
) -> None:
    assert await ownership.owns("alice", job_id) is False


async def test_job_ids_do_not_repeat_over_many_draws(ownership: JobOwnership) -> None:
    draws = 20_000

    assert len({await ownership.new_job_id("translate", "alice") for _ in range(draws)}) == draws


@pytest.mark.parametrize(
    "job_id",
    ["translate_" + "0" * 32, "whatever", "", "translate_" + "é" * 32, "analyze_deadbeef"],
    ids=["of the issued form", "not an id", "empty", "accented digits", "too short"],
)
async def test_with_no_user_everyone_owns_every_job(ownership: JobOwnership, job_id: str) -> None:
    assert await ownership.owns(None, job_id)


# --- the key: made in Redis, shared by every server, read again now and then ------------------------------------


async def test_the_owners_tag_is_an_hmac_keyed_by_32_random_bytes_made_in_redis(
    ownership: JobOwnership, pool: ArqRedis
) -> None:
    job_id = await ownership.new_job_id("translate", "alice")
    key = await pool.get(KEY_NAME)
    random_part, tag = job_id[len("translate_") :][:16], job_id[-16:]

    assert isinstance(key, bytes)
    assert len(key) == 32
    assert tag == hmac_tag(key, "alice", random_part)


async def test_the_key_is_made_in_redis_when_first_needed_not_when_the_server_starts(
    ownership: JobOwnership, pool: ArqRedis
) -> None:
    assert await pool.exists(KEY_NAME) == 0

    await ownership.new_job_id("translate", "alice")

    assert await pool.exists(KEY_NAME) == 1


def old_derivation(secret: str) -> bytes:
    """The key job ids were tagged with before it was made in Redis: derived from the token key."""
    return hashlib.sha256(b"job owner\0" + secret.encode()).digest()


@pytest.mark.parametrize(
    "settings",
    [
        Settings(auth_jwt_secret=SecretStr(SECRET), auth_jwt_public_key=None),
        Settings(auth_jwt_secret=None, auth_jwt_public_key=ec_keys().public_pem),
    ],
    ids=["AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY"],
)
async def test_the_owners_tag_cannot_be_made_from_the_token_key_the_server_is_configured_with(
    pool: ArqRedis, settings: Settings
) -> None:
    """Whoever holds the public key (anyone, say) cannot tell whose a job id is, nor forge one for alice."""
    ownership = server_on(pool, settings=settings)
    job_id = await ownership.new_job_id("translate", "alice")
    random_part = job_id[len("translate_") :][:16]
    configured = (
        settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else settings.auth_jwt_public_key
    )
    assert configured is not None
    guesses = {
        hmac_tag(candidate, "alice", random_part) for candidate in (old_derivation(configured), configured.encode())
    }

    assert job_id[-16:] not in guesses
    for guess in guesses:
        assert not await ownership.owns("alice", f"translate_{random_part}{guess}")


async def test_two_servers_on_one_redis_agree_whose_job_is_whose(redis_server: FakeServer) -> None:
    one, other = server_on(fake_arq_pool(redis_server)), server_on(fake_arq_pool(redis_server))

    job_id = await one.new_job_id("translate", "alice")

    assert await other.owns("alice", job_id)
    assert not await other.owns("bob", job_id)


async def test_a_server_on_another_redis_does_not_take_the_id_as_the_owners(ownership: JobOwnership) -> None:
    job_id = await ownership.new_job_id("translate", "alice")

    assert not await server_on(fake_arq_pool(FakeServer())).owns("alice", job_id)


#: An id this project tags for alice (its random part ``0123456789abcdef``) under the key of 32 ``k`` bytes, written
#: down once: ids in Redis outlive a deploy, so every version must derive the owner's tag from the key the same way.
ALICES_ID_UNDER_KKK = "translate_0123456789abcdef69337393df993fb1"


async def test_an_id_tagged_under_the_key_redis_holds_is_its_owners_on_every_version(pool: ArqRedis) -> None:
    await pool.set(KEY_NAME, b"k" * 32)
    ownership = server_on(pool)

    assert await ownership.owns("alice", ALICES_ID_UNDER_KKK)
    assert not await ownership.owns("bob", ALICES_ID_UNDER_KKK)


async def test_a_server_keeps_the_key_it_read_until_the_refresh_without_asking_redis_again(
    ownership: JobOwnership, pool: ArqRedis, clock: Clock
) -> None:
    job_id = await ownership.new_job_id("translate", "alice")
    await pool.delete(KEY_NAME)

    clock.now += KEY_REFRESH - 1
    assert await ownership.owns("alice", job_id)
    assert await pool.exists(KEY_NAME) == 0


async def test_a_key_redis_lost_is_made_again_and_picked_up_by_every_server_after_the_refresh(
    redis_server: FakeServer,
) -> None:
    """Redis loses its data: the first server to read the key again makes a new one, which the others then read."""
    first_clock, second_clock = Clock(), Clock()
    first, second = (
        server_on(fake_arq_pool(redis_server), first_clock),
        server_on(fake_arq_pool(redis_server), second_clock),
    )
    before = await first.new_job_id("translate", "alice")
    assert await second.owns("alice", before)
    await fake_arq_pool(redis_server).flushall()

    first_clock.now += KEY_REFRESH
    after = await first.new_job_id("translate", "alice")
    assert not await second.owns("alice", after)  # still on the key it read before
    second_clock.now += KEY_REFRESH

    assert await second.owns("alice", after)
    assert not await second.owns("alice", before)  # tagged under a key no server holds any more
    assert not await first.owns("alice", before)


async def test_with_authentication_off_nothing_is_read_from_redis() -> None:
    """A job queue never opened: any use of its pool raises, and none happens."""
    ownership = JobOwnership(JobQueue(Settings(), StockParts(Settings())))

    job_id = await ownership.new_job_id("translate", None)

    assert await ownership.owns(None, job_id)
    assert await ownership.owns(None, "translate_" + "0" * 32)


async def test_a_key_redis_cannot_give_is_a_queue_error_and_the_next_call_asks_again(
    ownership: JobOwnership, redis_server: FakeServer
) -> None:
    redis_server.connected = False
    with pytest.raises(QueueError, match=r"^the job queue is unavailable$"):
        await ownership.new_job_id("translate", "alice")
    with pytest.raises(QueueError, match=r"^the job queue is unavailable$"):
        await ownership.owns("alice", "translate_" + "0" * 32)

    redis_server.connected = True

    assert await ownership.owns("alice", await ownership.new_job_id("translate", "alice"))


async def test_calls_that_need_the_key_together_share_one_read_of_it(
    ownership: JobOwnership, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    read_or_make_key = ownership_module.read_or_make_key

    async def counted(pool: ArqRedis, name: str) -> bytes:
        reads.append(name)
        return await read_or_make_key(pool, name)

    monkeypatch.setattr(ownership_module, "read_or_make_key", counted)

    job_ids = await asyncio.gather(*(ownership.new_job_id("translate", "alice") for _ in range(10)))

    assert reads == [KEY_NAME]
    assert len(set(job_ids)) == 10


# --- with authentication off, the id is the capability (the unit layer's default settings) ----------------------


async def queue_translate(ws: WebsocketCommunicator) -> str:
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    return job_id


async def test_with_authentication_off_any_socket_looks_up_any_job_whose_id_it_knows(
    ws: WebsocketCommunicator, app: FastAPI, pool: ArqRedis
) -> None:
    job_id = await queue_translate(ws)
    other = socket_on(app)
    assert (await other.connect())[0]
    assert await other.receive_json_from(timeout=1) == CONNECTED

    await other.send_json_to({"action": "job_lookup", "payload": {"job_id": job_id}})
    assert await other.receive_json_from(timeout=1) == job_status(
        "queued", job_id, "translate", f"📋 Job {job_id} is queued"
    )
    await other.send_json_to({"action": "cancel", "payload": {"job_id": job_id}})
    assert await other.receive_json_from(timeout=1) == job_status(
        "cancelled", job_id, "translate", f"🛑 Job {job_id} cancelled"
    )
    await other.disconnect()
    assert await pool.exists(KEY_NAME) == 0  # no key was made: none was needed
