"""Logging: structlog (which chanx uses) rendered through the standard library's handlers."""

import logging

import structlog

from src.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Route structlog through stdlib logging at ``LOG_LEVEL``; keep handlers others installed."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # Under the uvicorn and arq CLIs only their own loggers have handlers: give ours one.
    # Where the root logger has handlers (pytest, an embedding app), ours propagate to them.
    needs_handler = not logging.getLogger().handlers
    for name in ("src", "chanx"):
        named = logging.getLogger(name)
        named.setLevel(settings.log_level)
        if needs_handler and not named.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            named.addHandler(handler)
