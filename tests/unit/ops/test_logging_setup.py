"""Logging: structlog through the standard library, a handler of our own only where nobody set one, quiet reconnects;
and tokens stay out of uvicorn's log lines: ``RedactTokens``, one of which ``configure_logging`` puts on each of
uvicorn's loggers however often it runs, writes a handshake's ``?token=…`` (and ``access_token=…``) as
``[redacted]``."""

import asyncio
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError

from src.ops.logging_setup import PUBSUB_LOGGER, QuietReconnects, RedactTokens, configure_logging
from src.settings import Settings
from src.web.token_auth import token_from

OURS = ("src", "chanx", "fast_channels")
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


@pytest.fixture
def logging_state() -> Iterator[None]:
    """The loggers configure_logging touches, and structlog's configuration, put back after the test."""
    names = (*OURS, PUBSUB_LOGGER)
    saved = {name: logging.getLogger(name) for name in names}
    state = {name: (lg.handlers[:], lg.filters[:], lg.level) for name, lg in saved.items()}
    structlog_config = structlog.get_config()
    for name in (*OURS, PUBSUB_LOGGER):
        saved[name].handlers, saved[name].filters = [], []
    structlog.reset_defaults()  # as in a fresh process: nothing configured yet
    yield
    for name, (handlers, filters, level) in state.items():
        saved[name].handlers, saved[name].filters = handlers, filters
        saved[name].setLevel(level)
    structlog.configure(**structlog_config)


@contextmanager
def root_handlers(*handlers: logging.Handler) -> Iterator[None]:
    """The root logger with only ``handlers`` (none: as the ``arq`` and ``uvicorn`` commands leave it)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = list(handlers)
    try:
        yield
    finally:
        root.handlers = saved


def error_with(exc: BaseException) -> logging.LogRecord:
    """An ERROR record carrying ``exc``, as ``logger.exception`` makes it."""
    try:
        raise exc
    except BaseException:
        return logging.LogRecord(PUBSUB_LOGGER, logging.ERROR, __file__, 1, "listener failed", None, sys.exc_info())


@pytest.mark.usefixtures("logging_state")
def test_under_a_cli_our_loggers_print_time_name_level_and_event_without_colours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with root_handlers():
        configure_logging(Settings(log_level="INFO"))

        structlog.stdlib.get_logger("src.some_module").info("job queued", job_id="translate_1")
        logging.getLogger("chanx.consumer").debug("below LOG_LEVEL")

    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(TIME + r" src\.some_module \[info\s*\] job queued\s+job_id=translate_1", line)


@pytest.mark.usefixtures("logging_state")
def test_under_a_cli_each_of_our_loggers_gets_one_handler_at_log_level_however_often_it_is_configured() -> None:
    with root_handlers():
        configure_logging(Settings(log_level="WARNING"))
        configure_logging(Settings(log_level="WARNING"))

    for name in OURS:
        logger = logging.getLogger(name)
        assert logger.level == logging.WARNING
        (handler,) = logger.handlers
        assert type(handler) is logging.StreamHandler
        assert handler.formatter is not None
        assert handler.formatter._fmt == "%(asctime)s %(name)s %(message)s"


@pytest.mark.usefixtures("logging_state")
def test_where_the_root_logger_has_handlers_ours_add_none_and_propagate_to_them() -> None:
    with root_handlers(logging.NullHandler()):
        configure_logging(Settings(log_level="DEBUG"))

    assert [logging.getLogger(name).handlers for name in OURS] == [[], [], []]
    assert [logging.getLogger(name).level for name in OURS] == [logging.DEBUG] * 3


@pytest.mark.usefixtures("logging_state")
def test_the_pubsub_layers_logger_gets_the_quiet_reconnects_filter_once() -> None:
    configure_logging(Settings())
    configure_logging(Settings())

    (only,) = logging.getLogger(PUBSUB_LOGGER).filters
    assert isinstance(only, QuietReconnects)
    assert logging.getLogger().filters == []


def test_a_lost_redis_connection_is_logged_as_one_warning_line_without_its_traceback() -> None:
    record = error_with(RedisConnectionError("Connection closed by server."))

    assert QuietReconnects().filter(record) is True

    assert (record.levelno, record.levelname) == (logging.WARNING, "WARNING")
    assert record.getMessage() == "lost the Redis connection (Connection closed by server.); reconnecting"
    assert (record.exc_info, record.exc_text, record.args) == (None, None, None)


def test_other_errors_keep_their_level_message_and_traceback() -> None:
    record = error_with(ValueError("boom"))
    plain = logging.LogRecord(PUBSUB_LOGGER, logging.INFO, __file__, 1, "subscribed to %s", ("chat",), None)

    assert QuietReconnects().filter(record) is True
    assert QuietReconnects().filter(plain) is True

    assert (record.levelname, record.getMessage()) == ("ERROR", "listener failed")
    assert record.exc_info is not None
    assert (plain.levelname, plain.getMessage()) == ("INFO", "subscribed to chat")


# --- tokens redacted from uvicorn's lines ----------------------------------------------------------------------

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


#: uvicorn's loggers that name a request's path and query: its WebSocket lines and its access lines.
UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")


@pytest.fixture
def bare_uvicorn_loggers() -> Iterator[None]:
    """uvicorn's loggers without filters, as in a fresh process; their filters and structlog's set-up put back after."""
    loggers = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    saved = [lg.filters[:] for lg in loggers]
    structlog_config = structlog.get_config()
    for lg in loggers:
        lg.filters = []
    yield
    for lg, filters in zip(loggers, saved, strict=True):
        lg.filters = filters
    structlog.configure(**structlog_config)


@pytest.mark.usefixtures("bare_uvicorn_loggers")
def test_each_uvicorn_logger_gets_exactly_one_redact_tokens_filter_however_often_logging_is_configured() -> None:
    configure_logging(Settings())
    configure_logging(Settings())

    for name in UVICORN_LOGGERS:
        (only,) = logging.getLogger(name).filters
        assert isinstance(only, RedactTokens)


@pytest.mark.usefixtures("bare_uvicorn_loggers")
def test_a_filter_of_another_kind_on_a_uvicorn_logger_is_kept_beside_the_redacting_one() -> None:
    theirs = logging.Filter("uvicorn")
    logging.getLogger("uvicorn.access").addFilter(theirs)

    configure_logging(Settings())

    first, second = logging.getLogger("uvicorn.access").filters
    assert first is theirs
    assert isinstance(second, RedactTokens)


@pytest.mark.usefixtures("logging_state")
@pytest.mark.parametrize(("log_level", "chanx_level"), [("INFO", logging.WARNING), ("DEBUG", logging.DEBUG)])
def test_chanx_logs_its_per_socket_info_lines_only_at_debug(log_level: str, chanx_level: int) -> None:
    with root_handlers():
        configure_logging(Settings(log_level=log_level))

    assert logging.getLogger("chanx").level == chanx_level
    assert logging.getLogger("src").level == logging.getLevelNamesMapping()[log_level]


@pytest.mark.usefixtures("logging_state")
async def test_an_async_line_at_a_level_not_logged_is_dropped_without_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """``await logger.ainfo(...)`` where INFO is off hands nothing to the thread pool; where it is on, it logs."""
    with root_handlers():
        configure_logging(Settings(log_level="INFO"))
    handed: list[object] = []
    loop = asyncio.get_running_loop()
    run_in_executor = loop.run_in_executor

    def recorded(executor: object, func: Any, *args: object) -> Any:
        handed.append(func)
        return run_in_executor(None, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", recorded)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logging.getLogger("chanx").addHandler(handler)
    logging.getLogger("src").addHandler(handler)

    await structlog.stdlib.get_logger("chanx.core.websocket").ainfo("Disconnecting websocket")
    dropped = len(handed)
    await structlog.stdlib.get_logger("src.anything").ainfo("kept")

    assert dropped == 0
    assert len(handed) == 1
    assert [record.getMessage() for record in records] == ["[info     ] kept"]
