"""Settings that are checked as they are read: an allowed origin is normalised as a browser writes its ``Origin``."""

import re

import pytest
from pydantic import ValidationError

from src.settings import Settings, normalized_origin


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
