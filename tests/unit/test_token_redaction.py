"""Tokens stay out of uvicorn's log lines: ``RedactTokens``, which ``configure_logging`` puts on uvicorn's loggers,
writes a handshake's ``?token=…`` (and ``access_token=…``) as ``[redacted]``."""

import logging

import pytest

from src.ops.logging_setup import RedactTokens, configure_logging
from src.settings import Settings
from src.web.token_auth import token_from

#: uvicorn's WebSocket lines (``uvicorn.error``), as its websockets protocols log them.
WEBSOCKET_ACCEPTED = '%s - "WebSocket %s" [accepted]'
WEBSOCKET_REFUSED = '%s - "WebSocket %s" 403'
#: uvicorn's access line (``uvicorn.access``).
ACCESS = '%s - "%s %s HTTP/%s" %d'
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def rendered(msg: str, *args: object) -> str:
    """The line a record of ``msg`` % ``args`` reads as, once through the filter."""
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)
    assert RedactTokens().filter(record) is True  # it never drops a line
    return record.getMessage()


def test_a_websocket_line_shows_the_token_query_parameter_redacted() -> None:
    line = rendered(WEBSOCKET_ACCEPTED, "127.0.0.1:1", "/ws/background_jobs?token=abc.def.ghi")

    assert line == '127.0.0.1:1 - "WebSocket /ws/background_jobs?token=[redacted]" [accepted]'
    assert "abc" not in line


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ws/background_jobs?v=2&token=" + TOKEN, "/ws/background_jobs?v=2&token=[redacted]"),
        ("/ws/background_jobs?token=" + TOKEN + "&v=2", "/ws/background_jobs?token=[redacted]&v=2"),
        ("/ws/background_jobs?access_token=" + TOKEN, "/ws/background_jobs?access_token=[redacted]"),
        ("/ws/background_jobs?token=a&token=" + TOKEN, "/ws/background_jobs?token=[redacted]&token=[redacted]"),
        ("/ws/background_jobs?mytoken=kept", "/ws/background_jobs?mytoken=kept"),
        ("/ws/background_jobs", "/ws/background_jobs"),
    ],
)
def test_every_token_parameter_is_redacted_and_nothing_else(path: str, expected: str) -> None:
    assert rendered(WEBSOCKET_REFUSED, "127.0.0.1:1", path) == f'127.0.0.1:1 - "WebSocket {expected}" 403'


def test_a_token_in_the_message_itself_is_redacted_too() -> None:
    assert rendered(f"GET /ws/background_jobs?token={TOKEN}") == "GET /ws/background_jobs?token=[redacted]"


def test_arguments_that_are_not_text_are_left_as_they_are() -> None:
    line = rendered(ACCESS, "127.0.0.1:1", "GET", "/?access_token=" + TOKEN, "1.1", 200)

    assert line == '127.0.0.1:1 - "GET /?access_token=[redacted] HTTP/1.1" 200'


@pytest.mark.parametrize(
    ("name", "msg", "args"),
    [
        ("uvicorn.error", WEBSOCKET_ACCEPTED, ("127.0.0.1:1", f"/ws/background_jobs?token={TOKEN}")),
        ("uvicorn.access", ACCESS, ("127.0.0.1:1", "GET", f"/ws/background_jobs?token={TOKEN}", "1.1", 101)),
    ],
    ids=["uvicorn.error's WebSocket line", "uvicorn.access's request line"],
)
def test_configure_logging_puts_the_filter_on_uvicorns_loggers(
    caplog: pytest.LogCaptureFixture, name: str, msg: str, args: tuple[object, ...]
) -> None:
    configure_logging(Settings())

    with caplog.at_level(logging.INFO, logger=name):
        logging.getLogger(name).info(msg, *args)

    assert TOKEN not in caplog.text
    assert "token=[redacted]" in caplog.text


def test_the_server_reads_a_percent_encoded_parameter_name_decoded() -> None:
    """Why redaction must decode names too: ``?%74oken=`` hands the server a token as ``?token=`` does."""
    assert token_from({"type": "websocket", "headers": [], "query_string": f"%74oken={TOKEN}".encode()}) == TOKEN


@pytest.mark.parametrize("name", ["%74oken", "tok%65n", "access%5Ftoken", "%61ccess_token"])
def test_a_token_parameter_whose_name_is_percent_encoded_is_redacted_too(name: str) -> None:
    line = rendered(WEBSOCKET_ACCEPTED, "127.0.0.1:1", f"/ws/background_jobs?{name}={TOKEN}")

    assert line == f'127.0.0.1:1 - "WebSocket /ws/background_jobs?{name}=[redacted]" [accepted]'
