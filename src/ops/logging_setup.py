"""Logging: structlog (which chanx uses) rendered through the standard library's handlers."""

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError

from src.settings import Settings


class QuietReconnects(logging.Filter):
    """Turn the pub/sub layer's traceback for a lost Redis connection into one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], RedisConnectionError):
            record.msg = f"lost the Redis connection ({record.exc_info[1]}); reconnecting"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class RedactTokens(logging.Filter):
    """Keep tokens out of uvicorn's lines: a WebSocket's ``?token=…`` is logged as ``?token=[redacted]`` (the
    parameter's name read as a server reads it: percent-decoded)."""

    PARAMETER = re.compile(r"([?&])([^=&\s\"']+)=([^&\s\"']*)")
    SECRET_NAMES = frozenset({"token", "access_token"})

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redacted(arg) for arg in record.args)
        record.msg = self.redacted(record.msg)
        return True

    def redacted(self, value: object) -> object:
        return self.PARAMETER.sub(self._redact, value) if isinstance(value, str) else value

    def _redact(self, parameter: re.Match[str]) -> str:
        separator, name, _ = parameter.groups()
        if unquote_plus(name).lower() in self.SECRET_NAMES:
            return f"{separator}{name}=[redacted]"
        return parameter.group(0)


class LevelFirstLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger, whose ``adebug`` and ``ainfo`` return at once for a level that is not logged.

    The stock async methods hand every call to a thread before the level is looked at; chanx awaits ``ainfo`` for
    each socket it closes, so a server stopping under 5,000 sockets spent seconds in that pool for lines it drops.
    """

    async def adebug(self, event: str, *args: Any, **kw: Any) -> None:
        if self.isEnabledFor(logging.DEBUG):
            await super().adebug(event, *args, **kw)

    async def ainfo(self, event: str, *args: Any, **kw: Any) -> None:
        if self.isEnabledFor(logging.INFO):
            await super().ainfo(event, *args, **kw)


PUBSUB_LOGGER = "fast_channels.layers.redis.pubsub"
#: chanx logs a line per socket it closes, at INFO: noise beside this app's own lines, kept for ``LOG_LEVEL=DEBUG``.
CHANX_LEVEL_AT_LEAST = logging.WARNING
#: uvicorn's loggers: its WebSocket lines (``uvicorn.error``) and its access lines name the path and query.
UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")


def configure_logging(settings: Settings) -> None:
    """Route structlog through stdlib logging at ``LOG_LEVEL``; keep handlers others installed."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=LevelFirstLogger,
        cache_logger_on_first_use=True,
    )
    # Under the uvicorn and arq CLIs only their own loggers have handlers: give ours one.
    # Where the root logger has handlers (pytest, an embedding app), ours propagate to them.
    pubsub_logger = logging.getLogger(PUBSUB_LOGGER)
    if not any(isinstance(f, QuietReconnects) for f in pubsub_logger.filters):
        pubsub_logger.addFilter(QuietReconnects())
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in uvicorn_logger.filters):
            uvicorn_logger.addFilter(RedactTokens())
    needs_handler = not logging.getLogger().handlers
    level = logging.getLevelNamesMapping()[settings.log_level]
    for name in ("src", "chanx", "fast_channels"):
        named = logging.getLogger(name)
        named.setLevel(level if name != "chanx" or level <= logging.DEBUG else max(level, CHANX_LEVEL_AT_LEAST))
        if needs_handler and not named.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            named.addHandler(handler)
