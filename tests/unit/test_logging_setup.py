"""Logging: structlog through the standard library, a handler of our own only where nobody set one, quiet reconnects."""

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError

from src.ops.logging_setup import PUBSUB_LOGGER, QuietReconnects, configure_logging
from src.settings import Settings

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
