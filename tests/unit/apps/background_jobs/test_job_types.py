"""Job types: unknown types resolve to ``default``, a job id's type is what precedes its first underscore, and each
type's simulated work is the seed's duration times ``JOB_TIME_SCALE``."""

import pytest

from src.apps.background_jobs.job_types import job_type_of, resolve_job_type, work_seconds
from src.settings import Settings
from tests.support.seed import JOB_TYPES, SEED_DURATIONS


def test_unknown_job_types_resolve_to_default_and_known_ones_to_themselves() -> None:
    assert {t: resolve_job_type(t) for t in JOB_TYPES} == {t: t for t in JOB_TYPES}
    assert resolve_job_type("summarize") == "default"
    assert resolve_job_type("") == "default"


def test_a_job_ids_type_is_what_precedes_its_first_underscore_if_that_is_a_type() -> None:
    assert job_type_of("translate_3f2a") == "translate"
    assert job_type_of("translate_not_hex_at_all") == "translate"
    assert job_type_of("summarize_3f2a") == "unknown"
    assert job_type_of("translate") == "translate"
    assert job_type_of("") == "unknown"


@pytest.mark.parametrize("scale", [1.0, 0.05, 0.0], ids=["the seed's durations", "20x faster", "no simulated work"])
def test_simulated_work_is_the_seeds_duration_times_job_time_scale(scale: float) -> None:
    """Simulated work is default 1 s, translate 2 s, analyze 3 s, generate 4 s, times ``JOB_TIME_SCALE``."""
    settings = Settings(job_time_scale=scale)

    assert {t: work_seconds(settings, t) for t in SEED_DURATIONS} == pytest.approx(
        {t: seconds * scale for t, seconds in SEED_DURATIONS.items()}
    )
