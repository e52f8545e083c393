"""``docs/spec.md`` is the suite read as a spec (``make spec``): it must say what the tests say now."""

from tests.spec import SPEC_PATH, CollectedTest, as_sentence, collect, render


def test_docs_spec_md_lists_the_tests_as_they_are_now() -> None:
    assert SPEC_PATH.read_text(encoding="utf-8") == render(collect()), "docs/spec.md is stale: run `make spec`"


def test_a_test_name_reads_as_a_sentence() -> None:
    assert as_sentence("test_ping_gets_pong") == "ping gets pong"


def test_the_spec_lists_a_parametrized_test_once_with_its_ids_and_its_docstring() -> None:
    cases = [
        CollectedTest("unit", "tests/unit/test_app.py", "test_job_runs", "It runs.", param_id)
        for param_id in ("default", "translate")
    ]

    spec = render(cases)

    assert "- job runs [default | translate] — It runs.\n" in spec
    assert spec.count("job runs") == 1
