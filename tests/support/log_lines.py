"""The log lines a test saw, as a reader would compare them."""

import re

import pytest

#: Who logs for a socket: its gate (handshakes), the base consumer (frames), the consumer (jobs).
SOCKET_LOGGERS = ("src.web.gate", "src.base_consumer", "src.apps.background_jobs.consumer")


def log_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The records of ``logger``, each one line with its spaces collapsed (structlog pads its level tag)."""
    return [" ".join(record.getMessage().split()) for record in caplog.records if record.name == logger]


def logged(caplog: pytest.LogCaptureFixture, level: str) -> list[str]:
    """The socket's records at ``level``: event and key=value pairs, spaces collapsed, level tag dropped."""
    return [
        re.sub(r"^\[\w+ *\] ", "", " ".join(r.getMessage().split()))
        for r in caplog.records
        if r.name in SOCKET_LOGGERS and r.levelname == level
    ]
