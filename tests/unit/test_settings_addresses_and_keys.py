"""How settings read Redis addresses (the database a URL names, a sentinel's port) and which public keys they take."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError

from src.settings import Settings
from tests.support.who_may_connect import rsa_keys


@pytest.mark.parametrize(
    ("redis_url", "database"),
    [
        ("redis://localhost:6379", 0),
        ("redis://localhost:6379/", 0),
        ("redis://localhost:6379/7", 7),
        ("redis://localhost:6379/12/", 12),
        ("redis://localhost:6379/db3", 0),
        ("redis://localhost:6379/3X", 0),
    ],
)
def test_the_database_is_the_number_redis_urls_path_names_and_0_for_any_other_path(
    redis_url: str, database: int
) -> None:
    assert Settings(redis_url=redis_url).redis_db == database


def test_a_sentinel_written_with_an_ipv6_address_takes_the_port_after_its_last_colon() -> None:
    settings = Settings(redis_sentinels="fe80::1:26380,10.0.0.2")

    assert settings.sentinel_hosts == [("fe80::1", 26380), ("10.0.0.2", 26379)]


def test_a_public_key_that_is_neither_rsa_nor_ec_is_refused_saying_which_keys_are() -> None:
    ed25519_pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    with pytest.raises(ValidationError) as refused:
        Settings(auth_jwt_public_key=ed25519_pem)

    (error,) = refused.value.errors()
    assert error["msg"] == "Value error, AUTH_JWT_PUBLIC_KEY must be an RSA (RS256) or EC (ES256) public key"


def test_a_public_key_with_real_line_breaks_keeps_a_written_backslash_n_and_is_refused() -> None:
    """``\\n`` is read as a line break only in a key written on one line (as env files write it)."""
    lines = rsa_keys().public_pem.strip().split("\n")
    mixed = "\\n".join(lines[:2]) + "\n" + "\n".join(lines[2:])

    with pytest.raises(ValidationError, match="AUTH_JWT_PUBLIC_KEY is not a PEM public key"):
        Settings(auth_jwt_public_key=mixed)
