"""``docs/spec.md`` is the suite read as a spec (``make spec``): it must say what the tests say now, open with
an index of the promises of the README and ``docs/`` whose every test exists, and list the protocol's layers first."""

import re

import pytest

from tests import spec
from tests.spec import PROJECT_ROOT, SPEC_PATH, CollectedTest, IndexRotted, as_sentence, collect, render
from tests.spec_index import INDEX


@pytest.fixture(scope="module")
def collected() -> list[CollectedTest]:
    """Every test pytest collects (one child ``pytest --collect-only`` for this module's tests)."""
    return collect()


def test_docs_spec_md_lists_the_tests_as_they_are_now(collected: list[CollectedTest]) -> None:
    assert SPEC_PATH.read_text(encoding="utf-8") == render(collected), "docs/spec.md is stale: run `make spec`"


def test_every_test_the_index_names_is_collected(collected: list[CollectedTest]) -> None:
    """The index cannot rot: each node id in ``tests/spec_index.py`` is a test pytest collects now."""
    names = {f"{test.module}::{test.name}" for test in collected}

    assert [
        node_id for promises in INDEX.values() for ids in promises.values() for node_id in ids if node_id not in names
    ] == []


def test_every_section_of_the_index_is_a_heading_of_the_document_it_names() -> None:
    """A section is ``<document>#<heading>``, and the spec links to that heading: it must be there."""
    missing = []
    for section in INDEX:
        document, _, heading = section.partition("#")
        path = PROJECT_ROOT / document
        headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE) if path.is_file() else []
        if heading not in headings:
            missing.append(section)

    assert missing == []


def test_a_test_name_reads_as_a_sentence() -> None:
    assert as_sentence("test_ping_gets_pong") == "ping gets pong"


def test_a_test_name_read_as_a_sentence_gets_its_apostrophes_back() -> None:
    assert as_sentence("test_the_fast_paths_abort_request_is_arqs") == "the fast path's abort request is ARQ's"
    assert as_sentence("test_redis_pys_own_parser_and_redis_py") == "redis-py's own parser and redis-py"
    assert as_sentence("test_the_servers_size_limit_and_two_servers") == "the server's size limit and two servers"


def test_the_spec_lists_a_parametrized_test_once_with_its_ids_and_its_docstring() -> None:
    cases = [
        CollectedTest("unit", "tests/unit/test_main.py", "test_job_runs", "It runs.", param_id)
        for param_id in ("default", "translate")
    ]

    text = render(cases, index={})

    assert "- job runs [default | translate] — It runs.\n" in text
    assert text.count("job runs") == 1


def test_the_spec_lists_the_e2e_layer_first_then_integration_then_unit() -> None:
    tests = [
        CollectedTest("unit", "tests/unit/apps/background_jobs/consumer/test_jobs.py", "test_inside", "", None),
        CollectedTest("integration", "tests/integration/test_whole_path.py", "test_through_redis", "", None),
        CollectedTest("e2e", "tests/e2e/test_typed_client.py", "test_over_a_socket", "", None),
    ]

    text = render(tests, index={})

    assert text.index("\n## e2e\n") < text.index("\n## integration\n") < text.index("\n## unit\n")


def test_a_layers_subfolders_come_after_its_own_modules() -> None:
    tests = [
        CollectedTest("unit", "tests/unit/fastpath/test_install.py", "test_fast", "", None),
        CollectedTest("unit", "tests/unit/test_main.py", "test_plain", "", None),
    ]

    text = render(tests, index={})

    assert text.index("### `tests/unit/test_main.py`") < text.index("### `tests/unit/fastpath/test_install.py`")


def test_the_index_opens_the_spec_listing_each_promises_tests_e2e_first_with_links_to_their_modules() -> None:
    tests = [
        CollectedTest("unit", "tests/unit/apps/background_jobs/consumer/test_jobs.py", "test_ping_gets_pong", "", None),
        CollectedTest("e2e", "tests/e2e/test_typed_client.py", "test_the_client_gets_pong", "", None),
    ]
    index = {
        "README.md#The protocol": {
            "`ping` → `pong`.": [
                "tests/unit/apps/background_jobs/consumer/test_jobs.py::test_ping_gets_pong",
                "tests/e2e/test_typed_client.py::test_the_client_gets_pong",
            ]
        }
    }

    text = render(tests, index=index)

    assert (
        "### [The protocol](../README.md#the-protocol)\n\n"
        "- `ping` → `pong`.\n"
        "  - [`e2e/test_typed_client.py`](#testse2etest_typed_clientpy) :: the client gets pong\n"
        "  - [`unit/apps/background_jobs/consumer/test_jobs.py`]"
        "(#testsunitappsbackground_jobsconsumertest_jobspy) :: ping gets pong\n"
    ) in text
    assert text.index("## Index") < text.index("\n## e2e\n")


def test_an_index_section_in_docs_links_to_its_heading_there() -> None:
    tests = [
        CollectedTest("unit", "tests/unit/apps/background_jobs/consumer/test_jobs.py", "test_ping_gets_pong", "", None)
    ]
    index = {
        "docs/operating.md#Healing without a human": {
            "Heals.": ["tests/unit/apps/background_jobs/consumer/test_jobs.py::test_ping_gets_pong"]
        }
    }

    text = render(tests, index=index)

    assert "### [Healing without a human](operating.md#healing-without-a-human)\n" in text


def test_an_index_naming_a_test_that_is_not_collected_fails_naming_it() -> None:
    tests = [
        CollectedTest("unit", "tests/unit/apps/background_jobs/consumer/test_jobs.py", "test_ping_gets_pong", "", None)
    ]
    index = {"README.md#The protocol": {"`ping` → `pong`.": ["tests/unit/test_a.py::test_ping_gets_pong_renamed"]}}

    with pytest.raises(IndexRotted, match=r"tests/unit/test_a\.py::test_ping_gets_pong_renamed"):
        render(tests, index=index)


def test_an_index_promise_naming_no_test_fails() -> None:
    with pytest.raises(IndexRotted, match="names no test"):
        render([], index={"README.md#The protocol": {"`ping` → `pong`.": []}})


def test_make_spec_fails_loudly_while_the_index_names_a_missing_test(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(spec, "collect", list)
    monkeypatch.setattr(
        spec, "INDEX", {"README.md#The protocol": {"`ping` → `pong`.": ["tests/unit/test_a.py::test_gone"]}}
    )

    assert spec.main(["--check"]) == 2
    assert "tests/unit/test_a.py::test_gone" in capsys.readouterr().err
