"""The settings reference, ``docs/settings.md``, generated from the ``Settings`` class: ``make settings-doc``.

``make settings-doc`` runs ``python -m scripts.settings_doc``. Every field of ``Settings`` (``src/settings.py``)
becomes a row: its environment variable, its default as one would write it there, and its ``description``; the
rows are listed under the heading each field names (``json_schema_extra={"group": ...}``), headings in the order
the class first uses them. ``tests/unit/repository/test_settings_doc.py`` fails while the file is not what this
writes now.
"""

import json
import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode

from src.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DOC = PROJECT_ROOT / "docs" / "settings.md"


def variable(model: type[BaseSettings], name: str) -> str:
    """The environment variable a field is read from: the model's prefix and the field's name, upper-cased."""
    return (model.model_config.get("env_prefix", "") + name).upper()


def extra(name: str, field: FieldInfo, key: str) -> str | None:
    """The text a field gives under ``key`` in its ``json_schema_extra`` (None if it gives none)."""
    given = field.json_schema_extra.get(key) if isinstance(field.json_schema_extra, dict) else None
    if given is not None and not isinstance(given, str):
        raise TypeError(f"{name}: json_schema_extra[{key!r}] must be text, not {given!r}")
    return given


def shown_default(name: str, field: FieldInfo) -> str:
    """A field's default as an environment writes it (``true``, ``0.5``); *(none)*, *(empty)* or its fallback."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "*(none)*"
    if value == []:
        fallback = extra(name, field, "fallback")
        return f"*(empty: {fallback})*" if fallback else "*(empty)*"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def cell(text: str) -> str:
    """Text that stays in its table cell (a ``|`` escaped, on one line)."""
    return " ".join(text.split()).replace("|", "\\|")


def grouped_rows(model: type[BaseSettings]) -> dict[str, list[str]]:
    """Each heading's table rows, in the order the class first names the heading, fields in the class's order."""
    groups: dict[str, list[str]] = {}
    for name, field in model.model_fields.items():
        group = extra(name, field, "group")
        if not group:
            raise ValueError(f"{name}: name its heading in docs/settings.md, json_schema_extra={{'group': ...}}")
        if not (field.description or "").strip():
            raise ValueError(f"{name}: say what it means, Field(description=...)")
        row = f"| `{variable(model, name)}` | {shown_default(name, field)} | {cell(field.description or '')} |"
        groups.setdefault(group, []).append(row)
    return groups


def render(model: type[BaseSettings] = Settings) -> str:
    """The reference as markdown: a header saying how settings are read, then a table per heading."""
    lists = [f"`{variable(model, name)}`" for name, field in model.model_fields.items() if NoDecode in field.metadata]
    lines = [
        "# Settings",
        "",
        "<!-- Generated from the `Settings` class (src/settings.py) by `make settings-doc`"
        " (python -m scripts.settings_doc); do not edit by hand. -->",
        "",
        "The app, the worker and `start_dev` are configured by environment variables, read by one `pydantic-settings`",
        "object, `Settings` in `src/settings.py`; nothing else reads the environment. `create_app(settings)` builds",
        "the app from it, and `worker_settings(settings)` the worker's settings (`src/tasks.py`).",
        "",
        "Each variable is its setting's name upper-cased. A boolean is `true` or `false`; a list is written",
        f"comma-separated or as a JSON list: {', '.join(lists)}.",
        "In the tables, *(none)* means unset, and *(empty)* an empty list (with what it then stands for, if anything).",
        "The values are checked as they are read, at start-up: one out of range or of the wrong kind stops the",
        "process there, naming the setting.",
    ]
    for group, rows in grouped_rows(model).items():
        lines += ["", f"## {group}", "", "| variable | default | meaning |", "|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write docs/settings.md and say so."""
    SETTINGS_DOC.parent.mkdir(exist_ok=True)
    SETTINGS_DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {SETTINGS_DOC.relative_to(PROJECT_ROOT)} ({len(Settings.model_fields)} settings)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
