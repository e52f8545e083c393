"""The log lines a test saw, as a reader would compare them."""

import pytest


def log_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The records of ``logger``, each one line with its spaces collapsed (structlog pads its level tag)."""
    return [" ".join(record.getMessage().split()) for record in caplog.records if record.name == logger]
