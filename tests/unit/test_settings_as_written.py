"""Settings as an environment writes them: blank variables leave theirs unset, a JSON list may follow spaces, a host
name holds a star only as a leading ``*.``, and tokens are checked with one key."""

import pytest
from pydantic import ValidationError

from src.settings import Settings, get_settings
from tests.support.who_may_connect import SECRET, rsa_keys

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
