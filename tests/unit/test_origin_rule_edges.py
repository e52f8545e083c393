"""The Origin rule at its edge: a ``Host`` header that names no host refuses a browser, even from that host's origin."""

import pytest

from src.apps.background_jobs.origin_check import origin_allowed


@pytest.mark.parametrize(
    "host",
    [b"app.example/with/a/path", b"user@app.example"],
)
def test_a_handshake_whose_host_header_is_no_host_is_refused_even_for_its_own_origin(host: bytes) -> None:
    scope = {"headers": [(b"host", host), (b"origin", b"https://app.example")]}

    assert origin_allowed(scope, []) is False
