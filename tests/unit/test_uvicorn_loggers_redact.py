"""``configure_logging`` puts one token-redacting filter on each of uvicorn's loggers, however often it runs."""

import logging
from collections.abc import Iterator

import pytest
import structlog

from src.ops.logging_setup import RedactTokens, configure_logging
from src.settings import Settings

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
