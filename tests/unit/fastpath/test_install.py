"""The fast path installs itself only on the arq, redis-py and fast-channels it was verified against; elsewhere, and
through sentinels or when waiting for replicas, it stays off, says so in one warning, and the system runs the stock
path."""

import importlib.metadata
import logging
import logging.config

import pytest
from arq.worker import Worker

import src.fastpath
import src.layers
from src.fastpath import VERIFIED_VERSIONS, FastPath, install
from src.main import create_app
from src.parts import StockParts, parts_for
from src.settings import Settings
from src.tasks import worker_settings
from src.web.arq_writer import ArqJobWriter


@pytest.fixture
def unverified_arq(monkeypatch: pytest.MonkeyPatch) -> None:
    """arq 0.29.0 is installed, as far as the fast path can tell (redis-py as it is)."""
    installed = importlib.metadata.version
    monkeypatch.setattr(src.fastpath, "version", lambda name: "0.29.0" if name == "arq" else installed(name))


def test_on_the_verified_versions_the_fast_path_is_installed(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings()

    fast = install(settings)

    assert isinstance(fast, FastPath)
    assert fast.settings is settings
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_verified_versions_are_the_ones_the_project_pins() -> None:
    assert VERIFIED_VERSIONS["arq"] == {"0.28.0"}
    assert VERIFIED_VERSIONS["fast-channels"] == {"1.1.0"}
    assert VERIFIED_VERSIONS["hiredis"] == {"3.5.0"}
    assert all(version.startswith("5.") for version in VERIFIED_VERSIONS["redis"])  # ARQ 0.28 needs redis-py < 6


def test_on_another_arq_the_fast_path_stays_off_with_one_warning_naming_the_versions_found(
    unverified_arq: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert install(Settings()) is None

    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.name == "src.fastpath"
    redis_py = importlib.metadata.version("redis")
    assert warning.getMessage() == (
        f"fast path off: found arq 0.29.0, redis {redis_py}, hiredis 3.5.0, fast-channels 1.1.0, verified with "
        f"arq 0.28.0, redis {' or '.join(sorted(VERIFIED_VERSIONS['redis']))}, hiredis 3.5.0, fast-channels 1.1.0; "
        "running ARQ's, redis-py's and fast-channels' own code"
    )


@pytest.mark.parametrize("library", ["fast-channels", "hiredis"])
def test_on_another_fast_channels_or_hiredis_the_fast_path_stays_off(
    library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = importlib.metadata.version
    monkeypatch.setattr(src.fastpath, "version", lambda name: "9.9.0" if name == library else installed(name))

    assert install(Settings()) is None
    assert isinstance(create_app(Settings()).state.parts, StockParts)  # so the consumer runs fast-channels' own loop


async def test_on_another_arq_the_app_enqueues_with_arqs_own_code(unverified_arq: None) -> None:
    app = create_app(Settings())
    jobs = app.state.jobs
    await jobs.open()  # a pool that connects on first use: nothing is connected here

    assert isinstance(jobs.parts, StockParts)
    assert isinstance(jobs.writer, ArqJobWriter)
    await jobs.close()


def test_with_fast_path_off_the_fast_path_is_not_even_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_be_called(settings: Settings) -> FastPath:
        raise AssertionError("asked")

    monkeypatch.setattr(src.fastpath, "install", must_not_be_called)

    assert isinstance(parts_for(Settings(fast_path=False)), StockParts)


def test_on_another_arq_the_worker_is_arqs_own() -> None:
    """``python -m src.worker`` runs the class its parts name (``tests/unit/test_worker.py``)."""
    installed = importlib.metadata.version
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(src.fastpath, "version", lambda name: "0.29.0" if name == "arq" else installed(name))
        parts = worker_settings(Settings()).ctx["parts"]

    assert parts.worker_class is Worker


SENTINELS = "10.0.0.1:26379,10.0.0.2:26380,10.0.0.3"


@pytest.mark.parametrize(
    "settings", [Settings(redis_sentinels=SENTINELS), Settings(redis_min_replicas_ack=1)], ids=["sentinel", "wait"]
)
def test_the_fast_path_stays_off_through_sentinel_or_when_waiting_for_replicas(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert install(settings) is None
    assert "fast path off" in caplog.text
