"""The fast path runs only on library versions these contracts passed on: an upgrade turns it off until they pass."""

from src.fastpath import VERIFIED_VERSIONS, installed_versions


def test_the_installed_arq_and_redis_py_are_versions_the_fast_path_was_verified_against() -> None:
    found = installed_versions()

    unverified = {name: found[name] for name, verified in VERIFIED_VERSIONS.items() if found[name] not in verified}
    assert unverified == {}, (
        "the fast path is off on these versions: run tests/contract on them and, once every contract "
        "passes, add them to VERIFIED_VERSIONS in src/fastpath/__init__.py"
    )
