"""Job ownership: with authentication on, a job id carries its owner's tag (``<type>_<16 random hex><16 hex tag>``)
and only its owner owns it; with authentication off, ids are uuid4s and the id is the capability."""

import re
from typing import Any

import pytest
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI

from src.apps.background_jobs.ownership import JobOwnership
from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, job_status
from tests.support.who_may_connect import OTHER_SECRET, SECRET, ec_keys

ID_FORM = re.compile(r"translate_[0-9a-f]{32}")
UUID4_HEX = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


@pytest.fixture
def ownership() -> JobOwnership:
    return JobOwnership(Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=None))


def flip(hex_digit: str) -> str:
    """Another hex digit."""
    return "0" if hex_digit != "0" else "1"


@pytest.mark.parametrize("user", ["alice", None], ids=["a user", "no user"])
def test_job_ids_keep_the_type_then_32_hex_digits_with_or_without_a_user(
    ownership: JobOwnership, user: str | None
) -> None:
    assert ID_FORM.fullmatch(ownership.new_job_id("translate", user))


def test_without_a_user_a_job_id_is_a_uuid4(ownership: JobOwnership) -> None:
    digits = ownership.new_job_id("translate", None).removeprefix("translate_")

    assert UUID4_HEX.fullmatch(digits)


def test_the_owner_owns_their_job(ownership: JobOwnership) -> None:
    assert ownership.owns("alice", ownership.new_job_id("translate", "alice"))


@pytest.mark.parametrize(
    "other",
    ["bob", "Alice", "alic", "alice ", "alice\0", ""],
    ids=["another name", "another case", "a prefix", "a trailing space", "a trailing NUL", "empty"],
)
def test_another_user_does_not_own_the_job(ownership: JobOwnership, other: str) -> None:
    assert not ownership.owns(other, ownership.new_job_id("translate", "alice"))


@pytest.mark.parametrize(
    "position",
    [-1, -16, 10, 10 + 15],
    ids=["the tag's last digit", "the tag's first digit", "the random part's first", "the random part's last"],
)
def test_a_job_id_with_one_digit_changed_is_owned_by_nobody(ownership: JobOwnership, position: int) -> None:
    """Position -1 and -16 are in the tag; 10 and 25 (after ``translate_``) in the random part."""
    job_id = ownership.new_job_id("translate", "alice")
    tampered = job_id[:position] + flip(job_id[position]) + job_id[position:][1:]

    assert tampered != job_id
    assert not ownership.owns("alice", tampered)


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
def test_a_job_id_not_of_the_issued_form_is_owned_by_nobody(ownership: JobOwnership, change: Any) -> None:
    assert not ownership.owns("alice", change(ownership.new_job_id("translate", "alice")))


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
def test_a_job_id_with_characters_outside_ascii_is_owned_by_nobody_without_raising(
    ownership: JobOwnership, job_id: str
) -> None:
    assert ownership.owns("alice", job_id) is False


def test_job_ids_do_not_repeat_over_many_draws(ownership: JobOwnership) -> None:
    draws = 20_000

    assert len({ownership.new_job_id("translate", "alice") for _ in range(draws)}) == draws


@pytest.mark.parametrize(
    "job_id",
    ["translate_" + "0" * 32, "whatever", "", "translate_" + "é" * 32, "analyze_deadbeef"],
    ids=["of the issued form", "not an id", "empty", "accented digits", "too short"],
)
def test_with_no_user_everyone_owns_every_job(ownership: JobOwnership, job_id: str) -> None:
    assert ownership.owns(None, job_id)


def test_another_server_with_the_same_secret_reads_the_owner_from_the_id(ownership: JobOwnership) -> None:
    job_id = ownership.new_job_id("translate", "alice")
    elsewhere = JobOwnership(Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=None))

    assert elsewhere.owns("alice", job_id)
    assert not elsewhere.owns("bob", job_id)


def test_a_server_with_another_secret_does_not_take_the_id_as_the_owners(ownership: JobOwnership) -> None:
    job_id = ownership.new_job_id("translate", "alice")

    assert not JobOwnership(Settings(auth_jwt_secret=OTHER_SECRET, auth_jwt_public_key=None)).owns("alice", job_id)


#: An id this server issued to alice under ``SECRET`` (its random part ``0123456789abcdef``), written down once: ids
#: in Redis outlive a deploy, so the owner's tag must be derived the same way by every version.
ALICES_EARLIER_ID = "translate_0123456789abcdefd854494ec0e71649"


def test_an_id_issued_before_an_upgrade_is_still_its_owners() -> None:
    ownership = JobOwnership(Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=None))

    assert ownership.owns("alice", ALICES_EARLIER_ID)
    assert not ownership.owns("bob", ALICES_EARLIER_ID)


def test_a_server_with_another_public_key_does_not_take_the_id_as_the_owners() -> None:
    job_id = JobOwnership(Settings(auth_jwt_secret=None, auth_jwt_public_key=ec_keys().public_pem)).new_job_id(
        "analyze", "alice"
    )

    other = JobOwnership(Settings(auth_jwt_secret=None, auth_jwt_public_key=ec_keys("other").public_pem))
    assert not other.owns("alice", job_id)


def test_ownership_holds_with_a_public_key_too() -> None:
    ownership = JobOwnership(Settings(auth_jwt_secret=None, auth_jwt_public_key=ec_keys().public_pem))
    job_id = ownership.new_job_id("analyze", "alice")

    assert re.fullmatch(r"analyze_[0-9a-f]{32}", job_id)
    assert ownership.owns("alice", job_id)
    assert not ownership.owns("bob", job_id)


# --- with authentication off, the id is the capability (the unit layer's default settings) ----------------------


async def queue_translate(ws: WebsocketCommunicator) -> str:
    await ws.send_json_to({"action": "job", "payload": {"type": "translate", "content": "hello"}})
    job_id: str = (await ws.receive_json_from(timeout=1))["payload"]["job_id"]
    assert (await ws.receive_json_from(timeout=1))["payload"]["status"] == "queued"
    return job_id


async def test_with_authentication_off_any_socket_looks_up_any_job_whose_id_it_knows(
    ws: WebsocketCommunicator, app: FastAPI
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
