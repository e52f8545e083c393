"""Root conftest: layer markers by folder, hypothesis profiles, and the layer-wide fixtures."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from chanx.fast_channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, settings

from src.ops.logging_setup import configure_logging
from src.settings import Settings
from tests.support.redis_provider import ProvidedRedis, choose_provider, provide_redis, unexpected_provider

REDIS_PROVIDER = pytest.StashKey[str]()

LAYERS = ("unit", "contract", "integration", "e2e")
TESTS_DIR = Path(__file__).parent / "tests"

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# `tox -e mutation` runs the property tests once per mutant of what they reach: fewer examples each time.
settings.register_profile("mutation", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the layer its folder names, so ``-m e2e`` selects exactly tests/e2e."""
    for item in items:
        relative = item.path.relative_to(TESTS_DIR)
        layer = relative.parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(autouse=True, scope="session")
def structured_logs_through_stdlib() -> None:
    """Route structlog (ours and chanx's) through stdlib logging, so ``caplog`` sees every record."""
    configure_logging(Settings())


def pytest_configure(config: pytest.Config) -> None:
    """Decide once which Redis provider serves the integration and e2e layers; a CI job that names the provider it
    expects (``EXPECT_REDIS_PROVIDER``) stops at once when another one would serve."""
    config.stash[REDIS_PROVIDER] = choose_provider()
    problem = unexpected_provider(config.stash[REDIS_PROVIDER], os.environ.get("EXPECT_REDIS_PROVIDER"))
    if problem:
        raise pytest.UsageError(problem)


def pytest_report_header(config: pytest.Config) -> str:
    """Say in the header which Redis provider serves this run."""
    return f"redis provider: {config.stash[REDIS_PROVIDER]} (TEST_REDIS_URL > testcontainers > redis-server)"


@pytest_asyncio.fixture
async def sockets() -> AsyncIterator[list[WebsocketCommunicator]]:
    """The in-process sockets a test opens (it appends each); each is closed after the test."""
    opened: list[WebsocketCommunicator] = []
    yield opened
    for ws in opened:
        await ws.disconnect()


@pytest.fixture
def redis_url(redis_service: ProvidedRedis) -> str:
    """The session's Redis, emptied before the test (the contract and integration layers' fixture)."""
    client = redis.Redis.from_url(redis_service.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_service.url


@pytest.fixture(scope="session")
def redis_service(pytestconfig: pytest.Config) -> Iterator[ProvidedRedis]:
    """The session's Redis; under CI=true a missing Redis fails the run instead of skipping."""
    provider = pytestconfig.stash[REDIS_PROVIDER]
    if provider == "none":
        reason = "no Redis: set TEST_REDIS_URL, run a Docker engine, or install redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with provide_redis(provider) as service:
        yield service
