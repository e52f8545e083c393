"""The fast path's integration tests run it whatever ``FAST_PATH`` says: the layer's settings, with it on."""

import pytest

from src.settings import Settings


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings for instant jobs against the real Redis, on the fast path."""
    return Settings(redis_url=redis_url, job_time_scale=0.0, worker_poll_delay=0.01, fast_path=True)
