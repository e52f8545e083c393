"""The checked-in typed client (``clients/background_jobs_client``) is what chanx's generator makes of the
app's current AsyncAPI spec: a protocol change without ``make client`` fails here."""

from pathlib import Path

from clients.generate import CLIENT_DIR, generate


def files_of(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (bytecode caches aside), by relative path, with its text."""
    return {
        str(path.relative_to(directory)): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_checked_in_typed_client_is_generated_from_the_current_asyncapi_spec(tmp_path: Path) -> None:
    fresh = tmp_path / CLIENT_DIR.name

    generate(fresh)

    checked_in, generated = files_of(CLIENT_DIR), files_of(fresh)
    stale = sorted(name for name in checked_in.keys() | generated.keys() if checked_in.get(name) != generated.get(name))
    assert stale == [], f"the typed client is stale in {stale}: regenerate it with `make client`"
