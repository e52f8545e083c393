"""``docs/architecture.md`` keeps up with the tree: its layout names every folder and file of ``src/``, and its import
contracts are the ones ``pyproject.toml`` gives import-linter."""

import re
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ARCHITECTURE = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def layout() -> str:
    """The layout's block: the fenced code under "## Layout"."""
    section = ARCHITECTURE.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def test_the_layout_names_every_folder_and_file_of_src() -> None:
    block = layout()
    paths = [path for path in (PROJECT_ROOT / "src").rglob("*") if "__pycache__" not in path.parts]
    folders = [path.relative_to(PROJECT_ROOT / "src").as_posix() + "/" for path in paths if path.is_dir()]
    files = [path.name for path in paths if path.is_file() and path.name != "__init__.py"]

    missing = [name for name in folders + files if not re.search(rf"(?<![\w.]){re.escape(name)}", block)]

    assert missing == []


def test_the_import_contracts_are_those_pyproject_gives_import_linter() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = [contract["name"] for contract in config["tool"]["importlinter"]["contracts"]]
    section = ARCHITECTURE.split("\n## Import contracts\n", 1)[1]

    named = [" ".join(name.split()) for name in re.findall(r"^- \*\*(.+?)\*\*", section, re.MULTILINE | re.DOTALL)]

    assert named == names
