"""``docs/settings.md`` is generated from the ``Settings`` class (``make settings-doc``): it must say what the class
says now, and every setting must say what it means and under which heading it is listed."""

import pytest

from scripts.settings_doc import SETTINGS_DOC, render, shown_default
from src.settings import Settings


def test_the_settings_reference_is_what_its_generator_writes_now() -> None:
    assert SETTINGS_DOC.read_text(encoding="utf-8") == render(), "docs/settings.md is stale: run `make settings-doc`"


def test_every_setting_says_what_it_means() -> None:
    assert [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()] == []


def test_every_setting_names_the_heading_it_is_listed_under() -> None:
    assert [
        name
        for name, field in Settings.model_fields.items()
        if not isinstance(field.json_schema_extra, dict) or not field.json_schema_extra.get("group")
    ] == []


#: Settings whose defaults are each of a kind, and each default as docs/settings.md shows it.
DEFAULTS = [
    ("redis_url", "`redis://localhost:6379`"),
    ("worker_poll_delay", "`0.5`"),
    ("max_connections", "`10000`"),
    ("fast_path", "`true`"),
    ("task_timeouts", "`{}`"),
    ("worker_metrics_port", "*(none)*"),
    ("redis_sentinels", "*(empty)*"),
    ("allowed_hosts", "*(empty: `127.0.0.1`, `localhost`, `[::1]` and `HOST`)*"),
]


@pytest.mark.parametrize(("name", "shown"), DEFAULTS, ids=[name.upper() for name, _ in DEFAULTS])
def test_a_default_is_shown_as_an_environment_writes_it(name: str, shown: str) -> None:
    assert shown_default(name, Settings.model_fields[name]) == shown
