"""The start-up warning of a short ``AUTH_JWT_SECRET``: under 32 bytes (as encoded in UTF-8), and only then."""

import logging

import pytest

from src.main import warn_of_a_short_secret
from src.settings import Settings

WARNING = "AUTH_JWT_SECRET is shorter than 32 bytes: tokens signed with it are easier to forge"


def warnings_for(secret: str | None, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages ``warn_of_a_short_secret`` logs for settings with ``secret``."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        warn_of_a_short_secret(Settings(auth_jwt_secret=secret))
    return [record.getMessage() for record in caplog.records if "AUTH_JWT_SECRET" in record.getMessage()]


@pytest.mark.parametrize(
    ("secret", "warned"),
    [
        ("s" * 31, True),
        ("s" * 32, False),
        ("s" * 33, False),
        ("é" * 15 + "s", True),  # 31 bytes in 16 characters
        ("é" * 16, False),  # 32 bytes in 16 characters
        (None, False),
    ],
    ids=["31 bytes", "32 bytes", "33 bytes", "31 bytes of 16 characters", "32 bytes of 16 characters", "no secret"],
)
def test_a_secret_is_warned_of_only_when_it_is_shorter_than_32_bytes(
    secret: str | None, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    messages = warnings_for(secret, caplog)

    assert len(messages) == (1 if warned else 0)
    assert all(message.endswith(WARNING) for message in messages)
