"""No two functions or classes in ``src/`` share a docstring: each says what only it does."""

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"


def docstrings() -> dict[str, list[str]]:
    """Each docstring of a function, method or class in ``src/`` (whitespace folded), with where it stands."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                text = ast.get_docstring(node)
                if text:
                    found[" ".join(text.split())].append(f"{path.relative_to(SRC.parent)}:{node.lineno} {node.name}")
    return found


def test_no_two_functions_or_classes_in_src_share_a_docstring() -> None:
    found = docstrings()
    shared = {text: places for text, places in found.items() if len(places) > 1}

    assert len(found) > 300  # the walk found src/ (a wrong path would find nothing to compare)
    assert shared == {}
