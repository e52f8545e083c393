"""The README stays short and its links, and those of ``docs/`` and the changelog, lead somewhere: each relative link
names a file of the repository, and a link into a Markdown file's heading names a heading it has."""

import re
from pathlib import Path

import pytest

from tests.spec import slug

PROJECT_ROOT = Path(__file__).resolve().parents[3]
README = PROJECT_ROOT / "README.md"
#: The documents besides the README whose links are checked: every page of docs/ and the changelog.
DOCUMENTS = sorted([*(PROJECT_ROOT / "docs").glob("*.md"), PROJECT_ROOT / "CHANGELOG.md"])
#: A Markdown link or image: ``[text](target)``, ``![alt](target)``; the target up to a space or ``)``.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def prose(markdown: str) -> str:
    """The text outside fenced code blocks, whose brackets are code, not links."""
    return FENCE.sub("", markdown)


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (a repeated one also with ``-1``, ``-2``, ..., as GitHub adds)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", prose(path.read_text(encoding="utf-8")), re.MULTILINE):
        base = slug(heading)
        found.add(f"{base}-{seen[base]}" if base in seen else base)
        seen[base] = seen.get(base, 0) + 1
    return found


def broken_links(document: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Each relative link of ``document`` whose file does not exist (in the repository at ``root``), or whose
    ``#anchor`` is no heading of it."""
    broken = []
    text = CODE_SPAN.sub("code", prose(document.read_text(encoding="utf-8")))
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto: lead elsewhere
        path_part, _, anchor = target.partition("#")
        path = (document.parent / path_part).resolve() if path_part else document
        missing = not path.exists() or not path.is_relative_to(root)
        if missing or (anchor and (path.suffix != ".md" or anchor not in anchors(path))):
            broken.append(target)
    return broken


def read_the_code() -> list[str]:
    """The files the README's "Read the code" names, in its order: the path opening each numbered item."""
    section = README.read_text(encoding="utf-8").split("\n## Read the code\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. `([^`]+)`", section, re.MULTILINE)


def test_the_readme_is_at_most_300_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def test_every_file_the_readme_links_exists() -> None:
    assert broken_links(README) == []


def test_read_the_code_names_at_most_8_files_of_at_most_1000_lines_in_all() -> None:
    files = read_the_code()

    assert 0 < len(files) <= 8
    assert [name for name in files if not (PROJECT_ROOT / name).is_file()] == []
    assert sum(len((PROJECT_ROOT / name).read_text(encoding="utf-8").splitlines()) for name in files) <= 1000


def test_read_the_code_opens_with_the_messages_module() -> None:
    assert read_the_code()[:1] == ["src/apps/background_jobs/messages.py"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda document: document.relative_to(PROJECT_ROOT).as_posix())
def test_every_file_a_page_of_the_docs_links_exists(document: Path) -> None:
    assert broken_links(document) == []


def test_a_link_to_a_missing_file_or_heading_is_found_and_code_is_no_link(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# A page\n\n## Its part\n", encoding="utf-8")
    document = tmp_path / "doc.md"
    document.write_text(
        "# Doc\n\n[ok](page.md#its-part) [gone](gone.md) [no heading](page.md#nothing) [here](#doc)"
        " [away](https://example.com/x) `[not](a-link.md)`\n\n```\n[not](either.md)\n```\n",
        encoding="utf-8",
    )

    assert broken_links(document, root=tmp_path) == ["gone.md", "page.md#nothing"]


def test_a_repeated_heading_gets_a_numbered_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Notes\n\n## Notes\n\n### [`docs/x.md`](x.md)\n", encoding="utf-8")

    assert anchors(page) == {"notes", "notes-1", "docsxmd"}
