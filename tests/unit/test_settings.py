"""Settings come from the environment, once, as an environment writes them (blank variables leave theirs unset, a JSON
list may follow spaces, a host name holds a star only as a leading ``*.``, tokens are checked with one key), and are
checked as they are read (an allowed origin is normalised as a browser writes its ``Origin``); how they read Redis
addresses (the database a URL names, sentinels, the layer's URLs) and which public keys they take; and the
connection settings each side gets (only the worker rides out a lost Redis, retrying a command whose connection
broke or timed out)."""

import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from src.settings import RECONNECT_ERRORS, Settings, get_settings, normalized_origin, reconnecting_retry
from tests.support.who_may_connect import SECRET, rsa_keys


def test_defaults_match_the_seed_and_the_readme(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "JOB_TIME_SCALE", "MAX_CONTENT_LENGTH"):
        monkeypatch.delenv(name, raising=False)

    settings = get_settings()

    assert (settings.redis_url, settings.job_time_scale, settings.max_content_length) == (
        "redis://localhost:6379",
        1.0,
        10_000,
    )


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("JOB_TIME_SCALE", "0.05")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "500")
    monkeypatch.setenv("TASK_TIMEOUTS", '{"generate": 0.5}')

    settings = get_settings()

    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert settings.job_time_scale == 0.05
    assert settings.max_content_length == 500
    assert (settings.timeout_for("generate"), settings.timeout_for("translate")) == (0.5, 20.0)
    assert (settings.arq_redis.host, settings.arq_redis.port, settings.arq_redis.database) == (
        "cache.internal",
        6380,
        2,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("JOB_TIME_SCALE", "-1"), ("MAX_CONTENT_LENGTH", "0")],
    ids=["JOB_TIME_SCALE=-1", "MAX_CONTENT_LENGTH=0"],
)
def test_out_of_range_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name.lower()):
        get_settings()


def test_the_hardening_defaults_are_the_readmes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALLOWED_ORIGINS", "MAX_JOBS_IN_FLIGHT", "WS_MAX_SIZE"):
        monkeypatch.delenv(name, raising=False)

    settings = get_settings()

    assert (settings.allowed_origins, settings.max_jobs_in_flight, settings.ws_max_size) == ([], 100, 65_536)


# --- as an environment writes them -----------------------------------------------------------------------------

AUTH_VARIABLES = (
    "AUTH_JWT_SECRET",
    "AUTH_JWT_PUBLIC_KEY",
    "AUTH_JWT_AUDIENCE",
    "AUTH_JWT_ISSUER",
    "AUTH_MAX_TOKEN_AGE",
)


@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "spaces"])
def test_blank_token_variables_leave_their_settings_unset_and_authentication_off(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    for name in AUTH_VARIABLES:
        monkeypatch.setenv(name, blank)

    settings = get_settings()

    assert (
        settings.auth_jwt_secret,
        settings.auth_jwt_public_key,
        settings.auth_jwt_audience,
        settings.auth_jwt_issuer,
        settings.auth_max_token_age,
    ) == (None, None, None, None, None)
    assert settings.auth_enabled is False


def test_a_json_list_written_after_spaces_is_read_as_json() -> None:
    settings = Settings(channel_layer_urls='  ["redis://a:1", "redis://b:2"]', redis_sentinels=' ["s1:1", "s2"]')

    assert settings.layer_urls == ["redis://a:1", "redis://b:2"]
    assert settings.sentinel_hosts == [("s1", 1), ("s2", 26379)]


@pytest.mark.parametrize("host", ["w*.example.com", "a*"])
def test_a_star_second_in_a_host_name_fails_validation(host: str) -> None:
    with pytest.raises(ValidationError, match=r"a wildcard host is `\*` or like `\*\.example\.com`"):
        Settings(allowed_hosts=["localhost", host])


def test_a_secret_and_a_public_key_together_are_refused_naming_both_variables() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(auth_jwt_secret=SECRET, auth_jwt_public_key=rsa_keys().public_pem)

    (error,) = refused.value.errors()
    assert error["msg"] == "Value error, set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY, not both"


@pytest.mark.parametrize("age", ["0", "-60", "forever"])
def test_an_auth_max_token_age_that_is_not_a_positive_number_of_seconds_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, age: str
) -> None:
    monkeypatch.setenv("AUTH_MAX_TOKEN_AGE", age)

    with pytest.raises(ValidationError, match="auth_max_token_age"):
        get_settings()


def test_auth_max_token_age_is_read_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_MAX_TOKEN_AGE", "900.5")

    assert get_settings().auth_max_token_age == 900.5


# --- checked as they are read: allowed origins -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("HTTPS://Example.COM", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("  https://example.com  ", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:8080", "http://example.com:8080"),
        ("wss://example.com:443", "wss://example.com"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://[FE80::1]", "http://[fe80::1]"),
        ("HTTPS://EXAMPLE.BOX/", "https://example.box"),
    ],
)
def test_an_origin_is_normalised_as_a_browser_writes_it(written: str, normalised: str) -> None:
    assert normalized_origin(written) == normalised


@pytest.mark.parametrize(
    "not_an_origin",
    [
        "https://user@example.com",
        "https://user:secret@example.com",
        "https://example.com/app",
        "https://example.com?next=1",
        "ftp://example.com",
        "example.com",
        "null",
        "https://",
    ],
)
def test_what_is_not_an_origin_is_refused_naming_it(not_an_origin: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{not_an_origin!r} is not an origin like https://example.com")):
        normalized_origin(not_an_origin)


def test_allowed_origins_given_as_anything_but_text_or_a_list_are_refused() -> None:
    with pytest.raises(ValidationError, match="allowed_origins"):
        Settings(allowed_origins=5)


def test_blank_entries_of_allowed_origins_are_skipped() -> None:
    assert Settings(allowed_origins="https://a.example, ,https://b.example,").allowed_origins == [
        "https://a.example",
        "https://b.example",
    ]


# --- Redis addresses and public keys ---------------------------------------------------------------------------


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


SENTINELS = "10.0.0.1:26379,10.0.0.2:26380,10.0.0.3"


def test_sentinels_and_layer_urls_read_as_lists_from_text_or_json() -> None:
    settings = Settings(redis_sentinels=SENTINELS, channel_layer_urls='["redis://a:1", "redis://b:2"]')

    assert settings.sentinel_hosts == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)]
    assert settings.layer_urls == ["redis://a:1", "redis://b:2"]
    assert Settings(redis_url="redis://q:6379/4").layer_urls == ["redis://q:6379/4"]


# --- each side's Redis connections -----------------------------------------------------------------------------


def test_only_the_worker_rides_out_a_lost_redis_the_web_side_fails_fast() -> None:
    settings = Settings(redis_reconnect_attempts=42)

    assert settings.arq_redis.retry is None
    worker_retry = settings.worker_arq_redis.retry
    assert worker_retry is not None
    assert worker_retry._retries == 42
    assert issubclass(ConnectionRefusedError, worker_retry._supported_errors)


def test_reconnects_back_off_exponentially_from_50_ms_up_to_1_s() -> None:
    """A reconnecting retry waits 50 ms, twice as long each time up to 1 s, for its attempts, on connection errors."""
    retry = reconnecting_retry(3)

    assert [retry._backoff.compute(failures) for failures in range(6)] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert retry._retries == 3
    assert set(retry._supported_errors) == {*RECONNECT_ERRORS, OSError}


def test_the_workers_arq_connection_settings_name_connection_and_timeout_errors_as_retried() -> None:
    """redis-py retries a failed command only for the errors ``retry_on_error`` names, whatever its ``retry`` says."""
    redis_settings = Settings(redis_url="redis://cache.internal:6380/3", redis_reconnect_attempts=4).worker_arq_redis

    assert redis_settings.retry_on_error == [RedisConnectionError, RedisTimeoutError]
    assert (redis_settings.host, redis_settings.port, redis_settings.database) == ("cache.internal", 6380, 3)
